//! A mail sink that speaks enough SMTP for a real client (lettre, any MTA) to deliver to it:
//! greeting, EHLO/HELO, MAIL, RCPT, DATA with dot-unstuffing, RSET, NOOP, QUIT. Messages are
//! kept in memory for tests to read; no TLS and no login (it listens on 127.0.0.1 only). It
//! can be told to refuse for a while with a transient (4xx) reply, as a busy server does, or to
//! reject with a permanent (5xx) one, as for an unknown mailbox.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[derive(Clone, Debug)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    /// Headers and body as sent, CRLF line ends.
    pub data: String,
}

impl Mail {
    /// The body with quoted-printable soft breaks and escapes undone (clients use it for long
    /// lines, such as a link).
    pub fn text(&self) -> String {
        let (headers, body) = self.data.split_once("\r\n\r\n").unwrap_or(("", &self.data));
        if !headers.to_ascii_lowercase().contains("content-transfer-encoding: quoted-printable") {
            return body.to_owned();
        }
        let joined = body.replace("=\r\n", "");
        let bytes = joined.as_bytes();
        let (mut out, mut i) = (Vec::with_capacity(bytes.len()), 0);
        while i < bytes.len() {
            let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok()).and_then(|h| u8::from_str_radix(h, 16).ok());
            match (bytes[i], hex) {
                (b'=', Some(byte)) => {
                    out.push(byte);
                    i += 3;
                }
                (b, _) => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

#[derive(Default)]
pub struct SinkState {
    pub inbox: Mutex<Vec<Mail>>,
    /// Messages still to refuse with `451` (try later) before accepting again.
    pub refuse_next: AtomicU32,
    /// Messages still to reject with `550` (never: no such mailbox) before accepting again.
    pub reject_next: AtomicU32,
    /// Messages offered (DATA sent), whatever the answer.
    pub offered: AtomicU32,
}

pub struct FakeSmtp {
    pub port: u16,
    pub state: Arc<SinkState>,
}

impl FakeSmtp {
    pub async fn start(port: u16) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let port = listener.local_addr()?.port();
        let state = Arc::new(SinkState::default());
        let shared = state.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let state = shared.clone();
                tokio::spawn(async move {
                    let _ = session(socket, &state).await;
                });
            }
        });
        Ok(Self { port, state })
    }

    /// The `mail.smtp_url` that delivers here.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn inbox(&self) -> Vec<Mail> {
        self.state.inbox.lock().unwrap().clone()
    }

    /// The first message to `to`, waiting for it up to `patience` (mail is sent on its own
    /// task, after the request that caused it has been answered).
    pub async fn wait_for(&self, to: &str, patience: Duration) -> Option<Mail> {
        let until = tokio::time::Instant::now() + patience;
        loop {
            if let Some(mail) = self.inbox().into_iter().find(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(to))) {
                return Some(mail);
            }
            if tokio::time::Instant::now() >= until {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// `GET /inbox`: every message received, as `[{to, subject, text}]`, for journeys that follow a
/// mailed link in the browser.
pub fn inbox_router(state: Arc<SinkState>) -> axum::Router {
    axum::Router::new().route(
        "/inbox",
        axum::routing::get(move || {
            let state = state.clone();
            async move {
                let inbox = state.inbox.lock().unwrap().clone();
                let listed: Vec<_> = inbox
                    .iter()
                    .map(|m| {
                        let subject = m.data.lines().find_map(|l| l.strip_prefix("Subject: ")).unwrap_or_default();
                        serde_json::json!({ "to": m.to, "subject": subject, "text": m.text() })
                    })
                    .collect();
                axum::Json(listed)
            }
        }),
    )
}

/// The address inside `MAIL FROM:<a@b>` / `RCPT TO:<a@b> SIZE=…`.
fn angle_address(arg: &str) -> String {
    let start = arg.find('<').map_or(0, |i| i + 1);
    let end = arg[start..].find('>').map_or(arg.len(), |i| start + i);
    arg[start..end].trim().to_owned()
}

async fn session(socket: tokio::net::TcpStream, state: &SinkState) -> std::io::Result<()> {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 fake-smtp ESMTP ready\r\n").await?;
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end();
        let verb = command.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-fake-smtp\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n",
            "HELO" | "NOOP" => b"250 OK\r\n",
            "RSET" => {
                (from, to) = (String::new(), Vec::new());
                b"250 OK\r\n"
            }
            "MAIL" => {
                from = angle_address(&command[4..]);
                to.clear();
                b"250 OK\r\n"
            }
            "RCPT" => {
                to.push(angle_address(&command[4..]));
                b"250 OK\r\n"
            }
            "DATA" => {
                write.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n").await?;
                let mut data = String::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" || line == ".\n" {
                        break;
                    }
                    data.push_str(line.strip_prefix('.').unwrap_or(&line));
                }
                state.offered.fetch_add(1, Ordering::SeqCst);
                let take = |n: &AtomicU32| n.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
                if take(&state.reject_next) {
                    b"550 5.1.1 No such mailbox here\r\n"
                } else if take(&state.refuse_next) {
                    b"451 4.3.0 Try again later\r\n"
                } else {
                    state.inbox.lock().unwrap().push(Mail { from: from.clone(), to: to.clone(), data });
                    b"250 OK queued\r\n"
                }
            }
            "QUIT" => {
                write.write_all(b"221 Bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 Command not implemented\r\n",
        };
        write.write_all(reply).await?;
    }
}
