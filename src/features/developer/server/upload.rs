//! A file sent to the API as `multipart/form-data`: exactly one field `file`, read under the
//! upload cap as it arrives (a file over it is refused without being kept).

use crate::features::knowledge::server::store::display_name;
use crate::server::api_error::ApiError;
use axum::body::Body;
use http::StatusCode;

fn too_large(name: &str, cap: usize) -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, format!("{name} is larger than the {} MB limit.", cap / (1024 * 1024))).code("file_too_large")
}

/// (name, media type, bytes) of the one file in the form.
pub async fn one_file(content_type: &str, body: Body, cap: usize) -> Result<(String, String, Vec<u8>), ApiError> {
    let boundary = multer::parse_boundary(content_type).map_err(|_| ApiError::invalid("file", "The multipart body has no boundary in its Content-Type."))?;
    let mut form = multer::Multipart::new(body.into_data_stream(), boundary);
    // The body is cut off at the route's limit while it streams: that is a file too large.
    let unreadable = |e: multer::Error, name: &str| {
        if e.to_string().contains("length limit") {
            too_large(name, cap)
        } else {
            ApiError::invalid("file", "The multipart body could not be read.")
        }
    };
    let mut found = None;
    while let Some(mut field) = form.next_field().await.map_err(|e| unreadable(e, "The file"))? {
        if field.name() != Some("file") {
            continue;
        }
        if found.is_some() {
            return Err(ApiError::invalid("file", "Send one file per request."));
        }
        let name = Some(display_name(field.file_name().unwrap_or_default())).filter(|n| !n.is_empty()).unwrap_or_else(|| "untitled".into());
        let mime = field.content_type().map(|m| m.to_string()).unwrap_or_else(|| "application/octet-stream".into());
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(|e| unreadable(e, &name))? {
            if bytes.len() + chunk.len() > cap {
                return Err(too_large(&name, cap));
            }
            bytes.extend_from_slice(&chunk);
        }
        found = Some((name, mime, bytes));
    }
    found.ok_or_else(|| ApiError::invalid("file", "No file: send it in the form field `file`."))
}
