//! Extraction is untrusted work: a crafted file can make a parser recurse until the stack
//! overflows, allocate without bound or never return, and any of those inside the server would
//! take every user down with it. So the server runs extraction in a child process, its own
//! executable in `extract` mode, under an address-space limit, a CPU-time limit and a
//! wall-clock deadline. Whatever the child does, the worst outcome is that one document fails
//! with a reason. The child gets no environment (no keys) and may not write files.
//!
//! Protocol: the parent writes the name's length (u32, big-endian), the name and the bytes on
//! the child's stdin; the child answers with one JSON `Answer` on stdout and exits 0.

use super::{Extracted, Unreadable};
use crate::features::knowledge::server::settings::KnowledgeSettings;
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::time::Duration;

#[derive(Serialize, Deserialize)]
enum Answer {
    Text(Extracted),
    Unreadable(String),
}

/// Why extraction produced no text.
#[derive(Debug)]
pub enum Failure {
    /// Permanent: the same bytes will fail the same way.
    Unreadable(Unreadable),
    /// The child could not be started (a fault of this machine, not of the file).
    CouldNotStart(String),
}

/// Most stderr kept from a child, for the log.
const STDERR_CAP: usize = 16 * 1024;
/// The stack the child's extraction thread gets: deep but legitimate documents need more than
/// the default 8 MB; anything deeper is refused as a stack overflow, in the child.
const CHILD_STACK_BYTES: usize = 64 * 1024 * 1024;

fn too_demanding(what: &str) -> Unreadable {
    Unreadable(format!("The file could not be read: it needs more {what} than a document is allowed."))
}

/// Extracts `bytes` in a child process under the limits in `settings`.
pub async fn extract(settings: &KnowledgeSettings, name: &str, bytes: &[u8]) -> Result<Extracted, Failure> {
    use tokio::io::AsyncWriteExt;
    let program = if settings.extract_program.is_empty() {
        std::env::current_exe().map_err(|e| Failure::CouldNotStart(format!("own executable: {e}")))?
    } else {
        settings.extract_program.clone().into()
    };
    let mut child = tokio::process::Command::new(&program)
        .arg("extract")
        .arg(settings.extract_memory_mb.to_string())
        .arg(settings.extract_cpu_secs.to_string())
        .arg(settings.max_text_chars.to_string())
        .env_clear()
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| Failure::CouldNotStart(format!("{}: {e}", program.display())))?;
    let (Some(mut stdin), Some(mut stdout), Some(mut stderr)) = (child.stdin.take(), child.stdout.take(), child.stderr.take()) else {
        return Err(Failure::CouldNotStart("the child's pipes were not opened".into()));
    };
    // JSON escapes make text at most ~6x its bytes; a child that sends more is misbehaving.
    let out_cap = settings.max_text_chars.saturating_mul(6).saturating_add(1 << 20);
    let header = [&(name.len() as u32).to_be_bytes()[..], name.as_bytes()].concat();
    let work = async {
        let write = async {
            // A child that stops reading (it died, or refused early) closes the pipe: not an error here.
            let _ = stdin.write_all(&header).await;
            let _ = stdin.write_all(bytes).await;
            drop(stdin);
            Ok(())
        };
        let (_, out, err) = tokio::try_join!(write, read_capped(&mut stdout, out_cap), async { Ok(read_head(&mut stderr, STDERR_CAP).await) })?;
        let status = child.wait().await.map_err(|e| Stop::Io(format!("wait: {e}")))?;
        Ok::<_, Stop>((out, err, status))
    };
    let deadline = Duration::from_secs(settings.extract_timeout_secs.max(1));
    let (out, err, status) = match tokio::time::timeout(deadline, work).await {
        Err(_) => {
            tracing::info!(timeout_secs = deadline.as_secs(), "extraction passed its deadline; the child is stopped");
            return Err(Failure::Unreadable(too_demanding("time")));
        }
        Ok(Err(Stop::Io(why))) => return Err(Failure::CouldNotStart(why)),
        Ok(Err(Stop::TooMuch)) => {
            tracing::info!("extraction child sent more than the text cap; stopped");
            return Err(Failure::Unreadable(Unreadable(format!(
                "The file holds more text than a document may have ({} million characters); split it into smaller files.",
                settings.max_text_chars / 1_000_000
            ))));
        }
        Ok(Ok(done)) => done,
    };
    if status.success() {
        return match serde_json::from_slice::<Answer>(&out) {
            Ok(Answer::Text(extracted)) => Ok(extracted),
            Ok(Answer::Unreadable(reason)) => Err(Failure::Unreadable(Unreadable(reason))),
            Err(error) => {
                tracing::error!(%error, "extraction child answered something unparseable");
                Err(Failure::Unreadable(Unreadable("The file could not be read.".into())))
            }
        };
    }
    let stderr = String::from_utf8_lossy(&err);
    Err(Failure::Unreadable(explain_crash(status, &stderr)))
}

/// Turns a child that did not answer into the reason its owner is shown.
fn explain_crash(status: std::process::ExitStatus, stderr: &str) -> Unreadable {
    use std::os::unix::process::ExitStatusExt;
    let signal = status.signal();
    let reason = if stderr.contains("memory allocation of") || stderr.contains("capacity overflow") {
        too_demanding("memory")
    } else if signal == Some(libc::SIGXCPU) {
        too_demanding("time")
    } else if signal == Some(libc::SIGKILL) {
        // The CPU limit's hard stop, or the kernel out of memory.
        too_demanding("memory or time")
    } else if stderr.contains("overflowed its stack") {
        Unreadable("The file could not be read: its structure is nested too deeply.".into())
    } else {
        Unreadable("The file could not be read: it appears to be damaged (the reader stopped on it).".into())
    };
    let tail: String = stderr.chars().rev().take(600).collect::<Vec<_>>().into_iter().rev().collect();
    tracing::info!(?status, stderr = %tail, reason = %reason, "extraction child failed");
    reason
}

enum Stop {
    TooMuch,
    Io(String),
}

async fn read_capped(reader: &mut (impl tokio::io::AsyncRead + Unpin), cap: usize) -> Result<Vec<u8>, Stop> {
    use tokio::io::AsyncReadExt;
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = reader.read(&mut buf).await.map_err(|e| Stop::Io(format!("read: {e}")))?;
        if n == 0 {
            return Ok(out);
        }
        if out.len() + n > cap {
            return Err(Stop::TooMuch);
        }
        out.extend_from_slice(&buf[..n]);
    }
}

/// The first `cap` bytes; the rest is read and dropped so the child never blocks on the pipe.
async fn read_head(reader: &mut (impl tokio::io::AsyncRead + Unpin), cap: usize) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let mut out = Vec::new();
    let mut buf = vec![0u8; 8 * 1024];
    while let Ok(n) = reader.read(&mut buf).await {
        if n == 0 {
            break;
        }
        let room = cap.saturating_sub(out.len()).min(n);
        out.extend_from_slice(&buf[..room]);
    }
    out
}

/// The child: `chatsphere extract MEMORY_MB CPU_SECS MAX_CHARS`. Returns the exit code.
pub fn child_main(args: &[String]) -> i32 {
    let number = |i: usize| args.get(i).and_then(|a| a.parse::<u64>().ok());
    let (Some(memory_mb), Some(cpu_secs), Some(max_chars)) = (number(0), number(1), number(2)) else {
        eprintln!("usage: chatsphere extract MEMORY_MB CPU_SECS MAX_CHARS < input");
        return 2;
    };
    if let Err(error) = limit_self(memory_mb, cpu_secs) {
        eprintln!("could not set limits: {error}");
        return 3;
    }
    let mut input = Vec::new();
    if std::io::stdin().lock().read_to_end(&mut input).is_err() || input.len() < 4 {
        eprintln!("no input");
        return 2;
    }
    let name_len = u32::from_be_bytes([input[0], input[1], input[2], input[3]]) as usize;
    let Some(name) = input.get(4..4 + name_len).map(|n| String::from_utf8_lossy(n).into_owned()) else {
        eprintln!("truncated input");
        return 2;
    };
    let worker = std::thread::Builder::new().stack_size(CHILD_STACK_BYTES).spawn(move || {
        let bytes = &input[4 + name_len..];
        match super::extract(&name, bytes) {
            Ok(extracted) if extracted.char_count() as u64 > max_chars => Answer::Unreadable(format!(
                "The file holds more text than a document may have ({} million characters); split it into smaller files.",
                max_chars / 1_000_000
            )),
            Ok(extracted) => Answer::Text(extracted),
            Err(reason) => Answer::Unreadable(reason.0),
        }
    });
    let answer = match worker.map(|w| w.join()) {
        Ok(Ok(answer)) => answer,
        // A parser panicked: the file is one it cannot handle.
        Ok(Err(_)) => Answer::Unreadable("The file could not be read: it appears to be damaged (the reader stopped on it).".into()),
        Err(error) => {
            eprintln!("could not start the extraction thread: {error}");
            return 3;
        }
    };
    let mut stdout = std::io::stdout().lock();
    if serde_json::to_writer(&mut stdout, &answer).is_err() || stdout.flush().is_err() {
        return 3;
    }
    0
}

/// Caps this process: address space, CPU time (SIGXCPU at the soft limit, SIGKILL at the hard
/// one), no core dumps and no file writes (pipes are not files).
fn limit_self(memory_mb: u64, cpu_secs: u64) -> std::io::Result<()> {
    let set = |resource, soft: u64, hard: u64| {
        let limit = libc::rlimit { rlim_cur: soft as libc::rlim_t, rlim_max: hard as libc::rlim_t };
        // SAFETY: setrlimit reads the struct we pass and changes only this process's limits.
        if unsafe { libc::setrlimit(resource, &limit) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    };
    let bytes = memory_mb.saturating_mul(1024 * 1024);
    set(libc::RLIMIT_AS, bytes, bytes)?;
    set(libc::RLIMIT_CPU, cpu_secs.max(1), cpu_secs.max(1) + 2)?;
    set(libc::RLIMIT_CORE, 0, 0)?;
    set(libc::RLIMIT_FSIZE, 0, 0)?;
    Ok(())
}
