//! Zip bombs: office files are zip archives, and a small one can unpack to gigabytes. Before a
//! parser that reads whole parts on its own (calamine) gets an archive, every entry is
//! decompressed into nothing with a running cap, so the declared sizes cannot lie their way in.

use super::{unreadable, Unreadable};
use std::io::Read;

/// Largest total unpacked size accepted (a real 500-page document is a few MB).
pub const MAX_UNPACKED_BYTES: u64 = 64 * 1024 * 1024;

pub fn check_unpacked_size(bytes: &[u8]) -> Result<(), Unreadable> {
    let damaged = || unreadable("The file is a damaged zip archive and could not be read.");
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|_| damaged())?;
    let mut left = MAX_UNPACKED_BYTES;
    for i in 0..archive.len() {
        let entry = archive.by_index(i).map_err(|_| damaged())?;
        let read = std::io::copy(&mut entry.take(left + 1), &mut std::io::sink()).map_err(|_| damaged())?;
        if read > left {
            return Err(too_big());
        }
        left -= read;
    }
    Ok(())
}

pub fn too_big() -> Unreadable {
    unreadable("The document expands to more than 64 MB of data when unpacked; it was refused as unsafe.")
}
