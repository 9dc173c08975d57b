//! Opening a sled store without writing to it. sled 0.34 cannot open read-only: it writes its
//! log and snapshots as it opens and closes, and needs its directory writable. So its files
//! are copied to a private temporary directory and the copy is opened; the large chunk files
//! (under `chunks/`, written once and never changed) are not copied but linked, and every
//! write to the copy is refused. The original is read under a shared lock, so no writer opens
//! it while it is copied, and a running writer makes this fail with "in use".
//!
//! The journal needs none of this: it opens read-only natively
//! ([`super::journal::JournalStore::open_read_only`]).

use super::sled::SledStore;
use super::store::{Batch, Space, Store, StoreError};
use std::path::{Path, PathBuf};

/// A sled store opened on a private copy; refuses writes; the copy goes when it is dropped.
#[derive(Debug)]
pub struct SledCopy {
    // Dropped in this order: the store, then its copy, then the lock on the original.
    store: SledStore,
    copy: TempDir,
    _lock: Option<std::fs::File>,
}

/// A temporary directory removed when dropped.
#[derive(Debug)]
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        // Best effort: a leftover copy in the temporary directory harms nothing.
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> StoreError + '_ {
    move |e| StoreError::Io {
        what: format!("{}", path.display()),
        source: e,
    }
}

/// Copies `from` into `to` (a new directory), except the lock file and the chunk files.
fn copy_tree(from: &Path, to: &Path) -> Result<(), StoreError> {
    std::fs::create_dir(to).map_err(io(to))?;
    for entry in std::fs::read_dir(from).map_err(io(from))? {
        let entry = entry.map_err(io(from))?;
        let (src, name) = (entry.path(), entry.file_name());
        if name == "tamga.lock" || name == "chunks" {
            continue;
        }
        let dest = to.join(&name);
        if entry.file_type().map_err(io(&src))?.is_dir() {
            copy_tree(&src, &dest)?;
        } else {
            std::fs::copy(&src, &dest).map_err(io(&src))?;
        }
    }
    Ok(())
}

/// sled's own lock on its log, taken shared while the files are copied: a store just closed
/// (in this process or one that exited) lets go of it only once sled's threads have finished
/// writing, so copying before that could copy a half-written log.
fn sled_lock_shared(dir: &Path) -> Result<Option<std::fs::File>, StoreError> {
    let path = dir.join("db");
    let log = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(&path)(e)),
    };
    super::store::take_lock(dir, || log.try_lock_shared(), io(&path))?;
    Ok(Some(log))
}

impl SledCopy {
    /// Opens a private copy of the sled store in `dir`, writing nothing under `dir`.
    pub fn open(dir: &Path) -> Result<SledCopy, StoreError> {
        let lock = super::store::lock_dir_shared(dir)?;
        let _sled = sled_lock_shared(dir)?;
        let dir = std::path::absolute(dir).map_err(io(dir))?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let copy = TempDir(
            std::env::temp_dir().join(format!("tamga-read-only-{}-{nanos}", std::process::id())),
        );
        copy_tree(&dir, &copy.0)?;
        if dir.join("chunks").is_dir() {
            let link = copy.0.join("chunks");
            std::os::unix::fs::symlink(dir.join("chunks"), &link).map_err(io(&link))?;
        }
        Ok(SledCopy {
            store: SledStore::open_copy(&copy.0)?,
            copy,
            _lock: lock,
        })
    }

    fn refused(&self) -> StoreError {
        StoreError::Unwritable(format!(
            "the store was opened read-only (a copy in {})",
            self.copy.0.display()
        ))
    }
}

impl Store for SledCopy {
    fn apply(&self, _batch: &Batch) -> Result<(), StoreError> {
        Err(self.refused())
    }

    fn sync(&self) -> Result<(), StoreError> {
        Err(self.refused())
    }

    fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.store.get(space, key)
    }

    fn keys(&self, space: Space) -> Result<Vec<Vec<u8>>, StoreError> {
        self.store.keys(space)
    }

    fn damage(&self) -> Vec<String> {
        self.store.damage()
    }

    fn strays(&self) -> Vec<String> {
        self.store.strays()
    }
}
