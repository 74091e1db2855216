//! The front end's files as the server sends them: the brotli or gzip copy made ahead of time,
//! chosen by `Accept-Encoding`; a year of caching for names with a content hash, revalidation
//! otherwise; a missing file is a 404, not a page; pages are never cached.

mod common;

use axum::body::Body;
use chatsphere::server::assets::{self, Precompressed, IMMUTABLE, REVALIDATE};
use http::{header, Request, StatusCode};
use sqlx::PgPool;
use std::io::Read;
use tower::ServiceExt;

const HASHED: &str = "chatsphere.qk3YwZ8HcF0AbCdEfGhIjK.js";

struct Sent {
    status: StatusCode,
    encoding: Option<String>,
    cache: Option<String>,
    vary: Option<String>,
    body: Vec<u8>,
}

async fn fetch(app: &axum::Router, path: &str, accept: Option<&str>) -> Sent {
    let mut request = Request::get(path);
    if let Some(accept) = accept {
        request = request.header(header::ACCEPT_ENCODING, accept);
    }
    let response = app.clone().oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
    let header = |name: header::HeaderName| response.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
    let (status, encoding, cache, vary) = (response.status(), header(header::CONTENT_ENCODING), header(header::CACHE_CONTROL), header(header::VARY));
    let body = axum::body::to_bytes(response.into_body(), 1 << 26).await.unwrap().to_vec();
    Sent { status, encoding, cache, vary, body }
}

#[sqlx::test(migrator = "chatsphere::server::db::MIGRATOR")]
async fn front_end_files_go_out_compressed_and_cached_by_their_names(db: PgPool) {
    let site = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("assets-{}", uuid::Uuid::new_v4()));
    let pkg = site.join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    let script: String = (0..4000).map(|i| format!("export function f{i}() {{ return {i} * 2; }}\n")).collect();
    std::fs::write(pkg.join(HASHED), &script).unwrap();
    std::fs::write(pkg.join("plain.css"), "body { color: black; }\n".repeat(200)).unwrap();
    std::fs::write(pkg.join("logo.png"), [0x89, b'P', b'N', b'G']).unwrap();

    let first = assets::precompress(&pkg).unwrap();
    assert_eq!(first.written, 2, "the script and the style sheet, not the image: {first:?}");
    assert!(first.bytes_br < first.bytes_in / 5 && first.bytes_gz < first.bytes_in / 4, "{first:?}");
    assert_eq!(assets::precompress(&pkg).unwrap(), Precompressed { up_to_date: 2, ..Default::default() }, "nothing is redone");
    assert!(!pkg.join("logo.png.br").exists());

    let mut settings = common::settings();
    settings.server.site_root = site.display().to_string();
    let app = common::app_with(db.clone(), settings, common::providers(&db));
    let path = format!("/pkg/{HASHED}");

    let br = fetch(&app, &path, Some("gzip, deflate, br")).await;
    assert_eq!((br.status, br.encoding.as_deref(), br.cache.as_deref()), (StatusCode::OK, Some("br"), Some(IMMUTABLE)));
    assert_eq!(br.vary.as_deref(), Some("accept-encoding"));
    let mut unpacked = String::new();
    brotli::Decompressor::new(br.body.as_slice(), 4096).read_to_string(&mut unpacked).unwrap();
    assert_eq!(unpacked, script);
    assert_eq!(br.body.len() as u64, first.bytes_br - std::fs::metadata(pkg.join("plain.css.br")).unwrap().len());

    let gz = fetch(&app, &path, Some("gzip")).await;
    assert_eq!((gz.status, gz.encoding.as_deref(), gz.cache.as_deref()), (StatusCode::OK, Some("gzip"), Some(IMMUTABLE)));
    let mut unpacked = String::new();
    flate2::read::GzDecoder::new(gz.body.as_slice()).read_to_string(&mut unpacked).unwrap();
    assert_eq!(unpacked, script);

    let plain = fetch(&app, &path, None).await;
    assert_eq!((plain.status, plain.encoding.as_deref()), (StatusCode::OK, None));
    assert_eq!(plain.body, script.as_bytes());

    let unhashed = fetch(&app, "/pkg/plain.css", Some("br")).await;
    assert_eq!((unhashed.status, unhashed.encoding.as_deref(), unhashed.cache.as_deref()), (StatusCode::OK, Some("br"), Some(REVALIDATE)));

    let missing = fetch(&app, "/pkg/chatsphere.AAAAAAAAAAAAAAAAAAAAAA.wasm", Some("br")).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "an old or wrong name is a 404, not the app");
    assert!(missing.cache.as_deref() != Some(IMMUTABLE), "a 404 is not kept for a year");

    let page = common::get(&app, "/signin", None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.headers.get(header::CACHE_CONTROL).unwrap(), "no-store", "pages are never cached");
}
