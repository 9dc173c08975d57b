//! Large chunks as files of their own under `chunks/xx/<sha256>`, beside sled.
//!
//! A chunk file is written under a temporary name unique to the write (two submissions of the
//! same content may write it at once), fsynced, and renamed; a write that fails removes its
//! temporary file at once, and opening removes any a killed process left. A finished file that
//! no kept chunk refers to (its batch was refused after the file was written) is harmless —
//! content-addressed, it serves the same bytes when they come again — and the audit lists it.
//!
//! Beside them, a reserve: sled 0.34 zeroes the rest of its last log segment (up to 512 KiB)
//! when it opens, so on a full disk it cannot start at all. The store keeps a file of
//! [`RESERVE_BYTES`] and gives it up when sled cannot open for want of space, so that the
//! archive still starts (and answers reads) on a full disk; it is written again once there is
//! room.

use super::fsync;
use crate::archive::store::StoreError;
use crate::verify::certificate::hex;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The directory of chunk files inside the store directory.
pub(super) const DIR: &str = "chunks";
/// How a temporary chunk file's name ends.
const TMP: &str = "tmp";

/// The reserve's name in the store directory.
const RESERVE: &str = "tamga.reserve";
/// The reserve's size: sled's segment, with room to spare.
pub(super) const RESERVE_BYTES: u64 = 1 << 20;

/// Bytes free for unprivileged writers on the file system of `dir`, where it can tell.
pub(super) fn free_bytes(dir: &Path) -> Option<u64> {
    rustix::fs::statvfs(dir)
        .ok()
        .map(|s| s.f_bavail.saturating_mul(s.f_frsize))
}

/// Gives the reserve up; returns whether there was one.
pub(super) fn release_reserve(dir: &Path) -> bool {
    std::fs::remove_file(dir.join(RESERVE)).is_ok()
}

/// Writes the reserve unless it is there or the disk has too little room to spare it (twice
/// its size); returns whether it is there now. A failure leaves no partial reserve.
pub(super) fn keep_reserve(dir: &Path) -> bool {
    let path = dir.join(RESERVE);
    if path.exists() {
        return true;
    }
    if free_bytes(dir).is_some_and(|free| free < 2 * RESERVE_BYTES) {
        return false;
    }
    // Zeros written, not a hole: the point is that the space is really taken.
    let written = write_tmp(&path, &vec![0; RESERVE_BYTES as usize]);
    if written.is_err() {
        let _ = std::fs::remove_file(&path);
    }
    written.is_ok()
}

/// Distinguishes the temporary files of concurrent writes in this process.
static WRITES: AtomicU64 = AtomicU64::new(0);

/// Where the chunk `key` is kept.
pub(super) fn chunk_path(dir: &Path, key: &[u8]) -> PathBuf {
    let name = hex(key);
    dir.join(DIR).join(name.get(..2).unwrap_or("00")).join(name)
}

/// Writes a chunk file durably (temporary name, fsync, rename, fsync of the directories).
/// On failure no temporary file is left behind.
pub(super) fn write(dir: &Path, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
    let path = chunk_path(dir, key);
    if path.exists() {
        return Ok(()); // content-addressed: the same bytes are already there
    }
    let parent = path.parent().unwrap_or(dir).to_path_buf();
    let io = |e: std::io::Error| StoreError::Io {
        what: format!("chunk file {}", path.display()),
        source: e,
    };
    std::fs::create_dir_all(&parent).map_err(io)?;
    let tmp = path.with_extension(format!(
        "{}-{}.{TMP}",
        std::process::id(),
        WRITES.fetch_add(1, Ordering::Relaxed)
    ));
    let written = write_tmp(&tmp, value).and_then(|()| std::fs::rename(&tmp, &path));
    if let Err(e) = written {
        // A full disk is the usual cause; the partial file would only take more of it.
        let _ = std::fs::remove_file(&tmp);
        return Err(io(e));
    }
    fsync(&parent)?;
    fsync(parent.parent().unwrap_or(dir))
}

fn write_tmp(tmp: &Path, value: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::File::create(tmp)?;
    f.write_all(value)?;
    f.sync_all()
}

/// Every file under `chunks/xx/`, with whether it is a temporary one.
pub(super) fn walk(dir: &Path) -> Vec<(PathBuf, bool)> {
    let Ok(subdirs) = std::fs::read_dir(dir.join(DIR)) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for sub in subdirs.flatten() {
        let Ok(files) = std::fs::read_dir(sub.path()) else {
            continue;
        };
        for file in files.flatten() {
            let path = file.path();
            let tmp = path.extension().is_some_and(|e| e == TMP);
            found.push((path, tmp));
        }
    }
    found
}

/// Removes the temporary files of writes that never finished (the caller holds the store's
/// lock, so no write of a live process is under way); returns how many.
pub(super) fn sweep(dir: &Path) -> Result<usize, StoreError> {
    let mut removed = 0;
    for (path, _) in walk(dir).into_iter().filter(|(_, tmp)| *tmp) {
        std::fs::remove_file(&path).map_err(|e| StoreError::Io {
            what: format!("removing {}", path.display()),
            source: e,
        })?;
        removed += 1;
    }
    Ok(removed)
}

/// Files under `chunks/` that no kept chunk refers to, each in a sentence; `marker(key)` says
/// whether sled holds the file marker for the chunk `key`.
pub(super) fn strays(
    dir: &Path,
    marker: &dyn Fn(&[u8]) -> Result<bool, StoreError>,
) -> Vec<String> {
    let mut found = Vec::new();
    for (path, tmp) in walk(dir) {
        let key = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(unhex)
            .filter(|k| k.len() == 32);
        let sentence = match key {
            _ if tmp => "a temporary chunk file (a write under way, or one that failed)",
            Some(key) => match marker(&key) {
                Ok(true) => continue,
                Ok(false) => "a chunk file that no kept chunk refers to",
                Err(_) => "a chunk file whose chunk cannot be read",
            },
            None => "a file that is not a chunk",
        };
        found.push(format!("{}: {sentence}", path.display()));
    }
    found.sort();
    found
}

/// The bytes a lowercase hex name spells, if it is one.
fn unhex(name: &str) -> Option<Vec<u8>> {
    if name.bytes().any(|c| c.is_ascii_uppercase()) {
        return None;
    }
    crate::verify::certificate::unhex(name)
}
