//! The journal file's reads and writes: a value at its extent, a record, `fdatasync`, and
//! destroying a disposed value's bytes.

use super::recover::Extent;
use super::{JournalStore, io, lock};
use crate::archive::store::StoreError;
use std::os::unix::fs::FileExt;

impl JournalStore {
    /// Destroys a disposed value's bytes: a hole where the file system can punch one (the space
    /// goes back), zeros otherwise.
    pub(super) fn destroy(&self, extent: Extent) -> Result<(), StoreError> {
        use rustix::fs::{FallocateFlags, fallocate};
        let len = u64::from(extent.len);
        if len == 0 {
            return Ok(());
        }
        let punched = fallocate(
            &self.file,
            FallocateFlags::PUNCH_HOLE | FallocateFlags::KEEP_SIZE,
            extent.off,
            len,
        );
        let fail = |e: std::io::Error| StoreError::Io {
            what: format!("{}", self.path.display()),
            source: e,
        };
        if punched.is_err() {
            self.file
                .write_all_at(&vec![0; extent.len as usize], extent.off)
                .map_err(fail)?;
        }
        self.fdatasync().map_err(fail)
    }

    /// `fdatasync` of the journal; a failure stops all writes until the store is reopened,
    /// whoever saw it (a sync, a flush, a destroy): after a failed fdatasync Linux may have
    /// dropped the dirty pages and marked them clean, so a later one could "succeed" over lost
    /// records, and only a reopen's recovery reads what actually reached the disk.
    pub(super) fn fdatasync(&self) -> std::io::Result<()> {
        #[cfg(test)]
        let synced = match *lock(&self.fail_sync) {
            true => Err(std::io::Error::other("injected fdatasync failure")),
            false => self.file.sync_data(),
        };
        #[cfg(not(test))]
        let synced = self.file.sync_data();
        synced.inspect_err(|e| {
            lock(&self.writer).failed.get_or_insert_with(|| {
                format!(
                    "fdatasync {}: {e}; the store takes no more writes until it is reopened",
                    self.path.display()
                )
            });
        })
    }

    /// The bytes at `e`: kept in memory if small and read lately (`values.rs`), else read.
    pub(super) fn value(&self, e: Extent) -> Result<Vec<u8>, StoreError> {
        if let Some(v) = self.values.get(e) {
            return Ok(v);
        }
        let mut v = vec![0; e.len as usize];
        self.file
            .read_exact_at(&mut v, e.off)
            .map_err(|err| io(&self.path, "", err))?;
        self.values.keep(e, &v);
        Ok(v)
    }

    /// Writes a record at `at`. A failure may leave part of it written.
    pub(super) fn write_record(&self, rec: &[u8], at: u64) -> std::io::Result<()> {
        #[cfg(test)]
        if let Some(room) = *lock(&self.room)
            && at + rec.len() as u64 > room
        {
            let fits = rec
                .get(..room.saturating_sub(at) as usize)
                .unwrap_or_default();
            self.file.write_all_at(fits, at)?;
            return Err(std::io::ErrorKind::StorageFull.into());
        }
        self.file.write_all_at(rec, at)
    }
}
