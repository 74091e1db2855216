//! A real `chatsphere` server process, for tests and benchmarks that need whole processes
//! (kill -9, SIGTERM, several processes on one database). Included by `tests/common` and by
//! `benches/soak.rs` (through `#[path]`).
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Only a server that is broken takes this long to become ready.
const READY_WITHIN: Duration = Duration::from_secs(180);

/// The origin every process of a deployment is reached at (its load balancer's).
pub const PUBLIC_ORIGIN: &str = "http://127.0.0.1:3000";

pub struct Server {
    pub child: tokio::process::Child,
    pub url: String,
    log: PathBuf,
}

impl Server {
    /// Starts the binary on `database_url` with `env` on top of the defaults below, and waits
    /// until `/readyz` says it is ready.
    pub async fn start_on(database_url: &str, name: &str, env: &[(&str, String)]) -> Server {
        // The port is free when chosen but may be taken before the server binds it (a client's
        // outgoing connection gets ports from the same range): then another one is tried.
        for _ in 0..5 {
            if let Some(server) = Self::try_start_on(database_url, name, env).await {
                return server;
            }
        }
        panic!("server {name}: five ports in a row were taken before it could bind them");
    }

    async fn try_start_on(database_url: &str, name: &str, env: &[(&str, String)]) -> Option<Server> {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let url = format!("http://127.0.0.1:{port}");
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("processes");
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join(format!("{name}-{port}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_chatsphere"));
        command
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("DATABASE_URL", database_url)
            .env("CHATSPHERE_SERVER_SITE_ADDR", format!("127.0.0.1:{port}"))
            .env("CHATSPHERE_SERVER_PUBLIC_URL", PUBLIC_ORIGIN)
            .env("CHATSPHERE_KNOWLEDGE_EXTRACT_PROGRAM", env!("CARGO_BIN_EXE_chatsphere"))
            .env("CHATSPHERE_KNOWLEDGE_POLL_MILLIS", "100")
            .env("CHATSPHERE_AUTH_MAX_SIGNUPS_PER_IP", "100000")
            .env("RUST_LOG", "info")
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("the chatsphere binary starts");
        let client = reqwest::Client::new();
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            if let Ok(r) = client.get(format!("{url}/readyz")).send().await {
                if r.status().is_success() {
                    break;
                }
            }
            if let Some(status) = child.try_wait().unwrap() {
                let printed = std::fs::read_to_string(&log).unwrap_or_default();
                if printed.contains("Address already in use") {
                    return None;
                }
                panic!("server {name} exited with {status} before it was ready:\n{printed}");
            }
            assert!(Instant::now() < deadline, "server {name} never became ready:\n{}", std::fs::read_to_string(&log).unwrap_or_default());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Some(Server { child, url, log })
    }

    /// SIGKILL: no chance to clean anything up.
    pub async fn kill9(&mut self) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
    }

    pub fn sigterm(&self) {
        let pid = self.child.id().expect("running") as i32;
        // SAFETY: sending a signal to our own child process.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Resident memory of the process, in KiB (from /proc).
    pub fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()?)).ok()?;
        status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// Calls a server function as the browser does (form-encoded, from the public origin).
    pub async fn call(&self, cookie: Option<&str>, endpoint: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let mut request = reqwest::Client::new()
            .post(format!("{}/api/{endpoint}", self.url))
            .header("Origin", PUBLIC_ORIGIN)
            .header("Accept", "application/json")
            .form(form);
        if let Some(cookie) = cookie {
            request = request.header("Cookie", cookie);
        }
        request.send().await.unwrap()
    }
}

/// The session cookie (`name=value`) a sign-up or sign-in set.
pub fn session_cookie(reply: &reqwest::Response) -> Option<String> {
    reply
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("chatsphere_session=") && !c.starts_with("chatsphere_session=;"))
        .map(|c| c.split(';').next().unwrap().to_owned())
}
