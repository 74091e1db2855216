//! The compiled front end (`/pkg`: WASM, JS, CSS), served by the server itself the way a CDN
//! would, so `./run.sh` and a deployment without a reverse proxy get it too:
//! - brotli or gzip chosen by `Accept-Encoding`, from files compressed ahead of time next to
//!   the originals (`chatsphere precompress`, run by the build scripts; the server fills in any
//!   that are missing at start-up, in the background);
//! - a file whose name carries a content hash (cargo-leptos `hash-files`) is cached for a year as
//!   immutable; anything else is revalidated on each use (`Last-Modified`).
//! Pages themselves are never cached (`security_headers`).

use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use http::{header, HeaderValue, StatusCode};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;
use tower_http::services::ServeDir;

pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
pub const REVALIDATE: &str = "no-cache";

/// Kinds worth compressing (images and fonts are compressed already).
const COMPRESSIBLE: &[&str] = &["js", "mjs", "wasm", "css", "html", "svg", "json", "txt", "map"];

/// Serves the folder `dir` (mounted at `/pkg`).
pub fn service(dir: PathBuf) -> Router {
    Router::new().fallback_service(ServeDir::new(dir).precompressed_br().precompressed_gzip()).layer(middleware::from_fn(cache_headers))
}

async fn cache_headers(request: Request, next: Next) -> Response {
    let hashed = has_content_hash(request.uri().path());
    let mut response = next.run(request).await;
    if response.status() == StatusCode::OK || response.status() == StatusCode::NOT_MODIFIED {
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(if hashed { IMMUTABLE } else { REVALIDATE }));
        // Caches in between must keep the brotli, gzip and plain answers apart.
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    response
}

/// `chatsphere.Ab3…xyz.wasm`: cargo-leptos puts a base64url hash (22 characters) before the
/// extension. Anything shorter is a name a person chose and may reuse for new content.
pub fn has_content_hash(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    let mut parts = name.rsplit('.');
    let (Some(_ext), Some(hash), Some(_stem)) = (parts.next(), parts.next(), parts.next()) else { return false };
    hash.len() >= 16 && hash.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// What one pass of `precompress` did.
#[derive(Debug, Default, PartialEq)]
pub struct Precompressed {
    pub written: usize,
    pub up_to_date: usize,
    pub bytes_in: u64,
    pub bytes_br: u64,
    pub bytes_gz: u64,
}

/// Writes `name.br` (brotli, best) and `name.gz` (gzip, best) beside every compressible file in
/// `dir` that has none or an older one. Each is written to a temporary name and renamed, so
/// a server reading the folder (or another process doing the same) never sees half a file.
pub fn precompress(dir: &Path) -> std::io::Result<Precompressed> {
    let mut done = Precompressed::default();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let compressible = path.extension().and_then(|e| e.to_str()).is_some_and(|e| COMPRESSIBLE.contains(&e));
        if !path.is_file() || !compressible {
            continue;
        }
        let modified = std::fs::metadata(&path)?.modified()?;
        let sibling = |ext: &str| PathBuf::from(format!("{}.{ext}", path.display()));
        let fresh = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).is_ok_and(|t| t >= modified);
        if fresh(&sibling("br")) && fresh(&sibling("gz")) {
            done.up_to_date += 1;
            continue;
        }
        let original = std::fs::read(&path)?;
        let mut br = Vec::with_capacity(original.len() / 3);
        {
            let params = brotli::enc::BrotliEncoderParams { quality: 11, lgwin: 24, ..Default::default() };
            brotli::BrotliCompress(&mut original.as_slice(), &mut br, &params)?;
        }
        let mut gz = flate2::write::GzEncoder::new(Vec::with_capacity(original.len() / 3), flate2::Compression::best());
        gz.write_all(&original)?;
        let gz = gz.finish()?;
        for (ext, bytes) in [("br", &br), ("gz", &gz)] {
            let tmp = sibling(&format!("{ext}.{}.tmp", std::process::id()));
            std::fs::write(&tmp, bytes)?;
            std::fs::rename(&tmp, sibling(ext))?;
        }
        done.written += 1;
        done.bytes_in += original.len() as u64;
        done.bytes_br += br.len() as u64;
        done.bytes_gz += gz.len() as u64;
    }
    Ok(done)
}

/// `chatsphere precompress [folder]` (default: the configured `/pkg` folder). Exit status 0 on
/// success, 1 with the reason otherwise.
pub fn precompress_command(args: &[String]) -> i32 {
    let dir = match args.first() {
        Some(dir) => PathBuf::from(dir),
        None => match super::settings::Settings::load() {
            Ok(settings) => settings.pkg_dir(),
            Err(error) => {
                eprintln!("chatsphere precompress: {error}");
                return 1;
            }
        },
    };
    let started = Instant::now();
    match precompress(&dir) {
        Ok(p) => {
            println!(
                "{}: {} file(s) compressed ({} bytes → brotli {} / gzip {}), {} already up to date, {:.1} s",
                dir.display(),
                p.written,
                p.bytes_in,
                p.bytes_br,
                p.bytes_gz,
                p.up_to_date,
                started.elapsed().as_secs_f64()
            );
            0
        }
        Err(error) => {
            eprintln!("chatsphere precompress {}: {error}", dir.display());
            1
        }
    }
}

/// At start-up: compresses whatever the build did not, on a blocking thread, and says so.
pub fn fill_in_background(dir: PathBuf) {
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        match precompress(&dir) {
            Ok(p) if p.written > 0 => tracing::info!(
                files = p.written,
                bytes = p.bytes_in,
                brotli = p.bytes_br,
                gzip = p.bytes_gz,
                secs = started.elapsed().as_secs_f64(),
                "front-end files compressed (run `chatsphere precompress` after building to do it at build time)"
            ),
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, dir = %dir.display(), "front-end files could not be compressed; they are served as they are"),
        }
    });
}

#[cfg(test)]
mod tests {
    use super::has_content_hash;

    #[test]
    fn only_names_with_a_content_hash_are_immutable() {
        assert!(has_content_hash("/pkg/chatsphere.qk3YwZ8HcF0AbCdEfGhIjK.wasm"));
        assert!(has_content_hash("chatsphere.qk3YwZ8HcF0AbCdEfGhI-_.css"));
        assert!(!has_content_hash("/pkg/chatsphere.wasm"));
        assert!(!has_content_hash("/pkg/chatsphere_bg.wasm"));
        assert!(!has_content_hash("/pkg/app.v2.js"));
        assert!(!has_content_hash("/pkg/qk3YwZ8HcF0AbCdEfGhIjK.wasm"));
    }
}
