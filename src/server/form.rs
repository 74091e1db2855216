//! Multipart form fields that are not files (ids, names) are small; each is read under a cap
//! as it streams, so a multi-gigabyte "id" is refused without being held in memory.

/// Longest value a non-file field may have.
pub const SHORT_FIELD_MAX_BYTES: usize = 1024;

/// The field's text, or None when it is longer than `SHORT_FIELD_MAX_BYTES`, not UTF-8, or the
/// body broke off.
pub async fn short_field(field: &mut multer::Field<'_>) -> Option<String> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.ok()? {
        if bytes.len() + chunk.len() > SHORT_FIELD_MAX_BYTES {
            return None;
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes).ok()
}
