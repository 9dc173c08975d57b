//! Detached content too large to hold in memory: written to a file in the data directory's
//! `incoming/` as it arrives, then read back in pieces — once to digest it for verification and
//! the receipt id, once more to file it chunk by chunk. Memory per submission stays at a few
//! pieces whatever the content's size.
//!
//! A spool file belongs to one submission and is removed when it is dropped (answered or
//! abandoned); one a killed process leaves behind is removed when the next one starts.

use crate::verify::algorithms::HashAlg;
use crate::verify::content::ContentDigests;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Content up to this size stays in memory; beyond it, it is spooled.
pub const IN_MEMORY: usize = 1 << 20;
/// Bytes read at a time: the archive's chunk size.
const PIECE: usize = crate::archive::blobs::CHUNK;

static NEXT: AtomicU64 = AtomicU64::new(0);

/// A spool file being written.
#[derive(Debug)]
pub struct SpoolWriter {
    file: Option<std::fs::File>,
    path: PathBuf,
    len: u64,
}

impl SpoolWriter {
    /// A new, empty spool file in `dir` (created if needed).
    pub fn create(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let name = format!(
            "{}-{}.part",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let path = dir.join(name);
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        Ok(SpoolWriter {
            file: Some(file),
            path,
            len: 0,
        })
    }

    /// Appends `bytes`.
    pub fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| std::io::Error::other("spool file already finished"))?;
        file.write_all(bytes)?;
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The finished spool file. (No fsync: it is an intermediate; filing copies its bytes
    /// into the archive, which makes them durable.)
    pub fn finish(mut self) -> std::io::Result<Spooled> {
        if let Some(mut file) = self.file.take() {
            file.flush()?;
        }
        Ok(Spooled {
            path: std::mem::take(&mut self.path),
            len: self.len,
            owned: true,
        })
    }
}

impl Drop for SpoolWriter {
    fn drop(&mut self) {
        // Abandoned half-way (a broken request): the bytes are of no use to anyone.
        if self.file.is_some() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Content kept in a file.
#[derive(Debug)]
pub struct Spooled {
    path: PathBuf,
    len: u64,
    /// Whether the file is ours to remove (a spool file) or the caller's (`import --content`).
    owned: bool,
}

impl Spooled {
    /// Content in an existing file of the caller's, which is read but never removed.
    pub fn existing(path: &Path) -> std::io::Result<Self> {
        let len = std::fs::metadata(path)?.len();
        Ok(Spooled {
            path: path.to_path_buf(),
            len,
            owned: false,
        })
    }

    /// Size in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the content is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Calls `each` with the content in pieces of [`crate::archive::blobs::CHUNK`] bytes (the
    /// last one shorter), in order; stops at the first error of `each`, and fails (through
    /// `read_error`) if the file cannot be read or no longer has the length it had when spooled.
    pub fn for_each_piece<E>(
        &self,
        read_error: impl Fn(std::io::Error) -> E,
        mut each: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut file = std::fs::File::open(&self.path).map_err(&read_error)?;
        let mut buf = vec![0u8; PIECE];
        let mut seen = 0u64;
        loop {
            // Whole pieces (the last one shorter): filing cuts chunks at the same offsets as
            // it does for content in memory, so identical content makes identical chunks.
            let mut n = 0;
            while n < buf.len() {
                let got = file
                    .read(buf.get_mut(n..).unwrap_or_default())
                    .map_err(&read_error)?;
                if got == 0 {
                    break;
                }
                n += got;
            }
            if n == 0 {
                break;
            }
            seen += n as u64;
            each(buf.get(..n).unwrap_or_default())?;
            if n < buf.len() {
                break;
            }
        }
        if seen != self.len {
            return Err(read_error(std::io::Error::other(format!(
                "{} changed while spooled: {seen} bytes, not {}",
                self.path.display(),
                self.len
            ))));
        }
        Ok(())
    }

    /// The content's digests under `algs` (SHA-256 always included), in one pass.
    pub fn digests(&self, algs: &[HashAlg]) -> std::io::Result<ContentDigests> {
        let mut algs = algs.to_vec();
        if !algs.contains(&HashAlg::Sha256) {
            algs.push(HashAlg::Sha256);
        }
        let mut hashers: Vec<_> = algs.iter().map(|a| (*a, a.hasher())).collect();
        self.for_each_piece(
            |e| e,
            |piece| {
                for (_, h) in hashers.iter_mut() {
                    h.update(piece);
                }
                Ok(())
            },
        )?;
        Ok(ContentDigests {
            len: self.len,
            digests: hashers
                .into_iter()
                .map(|(a, h)| (a, h.finalize().to_vec()))
                .collect(),
        })
    }
}

impl Drop for Spooled {
    fn drop(&mut self) {
        if self.owned {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Removes spool files a killed process left in `dir` (called at start, before any new one).
pub fn clear(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().ends_with(".part") {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spooled(dir: &Path, bytes: &[u8]) -> Spooled {
        let mut w = SpoolWriter::create(dir).unwrap();
        // Written in odd sizes, read back in whole chunks.
        for part in bytes.chunks(7919) {
            w.write(part).unwrap();
        }
        w.finish().unwrap()
    }

    #[test]
    fn pieces_are_whole_chunks_and_digests_match_the_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let bytes: Vec<u8> = (0..2 * PIECE + 5).map(|i| (i * 31 % 251) as u8).collect();
        let s = spooled(dir.path(), &bytes);
        let mut sizes = Vec::new();
        s.for_each_piece(
            |e| e,
            |p| {
                sizes.push(p.len());
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(sizes, vec![PIECE, PIECE, 5]);
        let algs = [HashAlg::Sha512, HashAlg::Streebog256, HashAlg::Gost94Test];
        let d = s.digests(&algs).unwrap();
        assert_eq!(d.len, bytes.len() as u64);
        for alg in algs.iter().chain([&HashAlg::Sha256]) {
            assert_eq!(d.get(*alg), Some(alg.digest(&bytes).as_slice()), "{alg:?}");
        }
    }

    #[test]
    fn a_file_that_changed_length_is_an_error_and_spool_files_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let s = spooled(dir.path(), b"hello");
        let path = s.path.clone();
        std::fs::write(&path, b"hello, world").unwrap();
        assert!(s.digests(&[]).is_err());
        drop(s);
        assert!(!path.exists());
        // An abandoned writer leaves nothing either; a caller's own file is never removed.
        let mut w = SpoolWriter::create(dir.path()).unwrap();
        w.write(b"half").unwrap();
        drop(w);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        let own = dir.path().join("own.bin");
        std::fs::write(&own, b"mine").unwrap();
        drop(Spooled::existing(&own).unwrap());
        assert!(own.exists());
    }
}
