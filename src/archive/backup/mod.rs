//! Backups that restore: a copy of everything a working archive needs, as of one signed
//! checkpoint, taken while the archive keeps filing; incremental from the previous copy.
//!
//! ```text
//! DIR/chunks/xx/<sha256>         documents' chunks as the store keeps them (zstd), named by
//!                                the SHA-256 of their raw bytes; shared by all generations
//! DIR/gen-000001/MANIFEST        the checkpoint's size, every file with its SHA-256, the
//!                                chunks and documents kept, what was destroyed since before
//!               checkpoint.note  the signed checkpoint covered
//!               service.der      the certificate that signs receipts and checkpoints
//!               log.kv …         entries, receipts, access records, checkpoints, blob
//!                                manifests (new since the previous generation); the index
//!                                and the executed acts (whole)
//! ```
//! How it stays consistent while `serve` files: the archive pauses filing just long enough to
//! sign a checkpoint at its head and read the overwritable index and the acts
//! ([`Archive::at_checkpoint`]); everything else is append-only up to that size and is read
//! afterwards without any lock. A document destroyed meanwhile makes the attempt start over
//! at a newer checkpoint; the last check for that and the rename that makes the generation
//! count hold the writer lock, which a disposal needs too, so none lands between them.
//!
//! How it stays whole: a generation is written under a temporary name and renamed into place
//! only once every byte is synced; a chunk file appears under its name only complete. So a
//! backup killed at any moment leaves the previous generation as it was, and the next one
//! never counts the unfinished one (whose leftovers it removes; one that fails, a full disk
//! above all, removes them itself). Beside a filing service, a backup copies at a capped rate
//! ([`Options::online`], [`throttle`]): filing waits on the disk it writes to. Older generations are the
//! operator's to expire: a generation names files of those before it, so remove a directory
//! only whole, after a full backup into a new one.

pub mod check;
mod error;
pub mod files;
pub mod fresh;
mod generation;
pub mod restore;
pub mod target;
pub mod throttle;

use super::Archive;
pub use error::{BackupError, Fault, ManifestError, Refusal};
use files::Manifest;
pub use generation::APPENDED;
use std::path::Path;

/// What a backup wrote.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Summary {
    /// The generation's number.
    pub generation: u64,
    /// The generation it extends, if incremental.
    pub previous: Option<u64>,
    /// The checkpoint's tree size.
    pub size: u64,
    /// Entries copied in this generation.
    pub entries: u64,
    /// Chunk files written in this generation.
    pub chunks: u64,
    /// Bytes written in this generation.
    pub bytes: u64,
    /// Documents destroyed since the previous generation, left out of this one.
    pub disposed: u64,
    /// How long filing waited for the backup (signing and syncing the checkpoint, reading the
    /// index), in microseconds.
    pub paused_us: u64,
}

/// The newest complete generation in `dir` and its manifest, if any. Directories that are not
/// `gen-NNNNNN` (an unfinished one's temporary name) never count.
pub fn newest(dir: &Path) -> Result<Option<(u64, Manifest)>, BackupError> {
    let mut best = None;
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(files::io(dir)(e)),
    };
    for e in rd {
        let name = e.map_err(files::io(dir))?.file_name();
        let n = name
            .to_str()
            .and_then(|s| s.strip_prefix("gen-"))
            .and_then(|s| s.parse::<u64>().ok());
        if let Some(n) = n.filter(|n| best.is_none_or(|b| *n > b)) {
            best = Some(n);
        }
    }
    match best {
        None => Ok(None),
        Some(n) => {
            let m = files::read_manifest(&dir.join(files::generation_dir(n)))?;
            Ok(Some((n, m)))
        }
    }
}

/// How a backup is taken.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// The most bytes per second it copies; `None`: as fast as it can (the command line's
    /// backup of an archive no service is filing into).
    pub max_rate: Option<u64>,
}

/// The bandwidth cap, in MB/s, of a backup taken beside a filing service when the policy's
/// `[backup] max-rate` sets none: little enough to leave the disk to filing's commits
/// (`cargo bench --bench backup`), enough to copy a gigabyte in about a minute.
pub const ONLINE_MAX_RATE_MB: u64 = 16;

impl Options {
    /// The options of a backup taken beside a filing service (`POST /v1/backup`): capped at
    /// `max_rate_mb` MB/s (`None`: [`ONLINE_MAX_RATE_MB`]; 0: no cap).
    pub fn online(max_rate_mb: Option<u64>) -> Options {
        let mb = max_rate_mb.unwrap_or(ONLINE_MAX_RATE_MB);
        Options {
            max_rate: (mb > 0).then(|| mb.saturating_mul(1_000_000)),
        }
    }
}

/// Takes a backup of `archive` into `dir` (created if needed), as fast as it can: a full one
/// into an empty directory, an incremental one after the newest complete generation there. A
/// directory holding anything but tamga backups is refused (see [`target::claim`]).
pub fn write(archive: &Archive, dir: &Path) -> Result<Summary, BackupError> {
    write_with(archive, dir, &Options::default(), &mut |_| {})
}

/// A moment in the writing of a generation, for tests to act at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moment {
    /// The documents' chunks of an attempt are copied.
    ChunksCopied,
    /// The generation is about to be renamed into place (the writer lock held).
    Completing,
    /// The generation was renamed into place; its directory is not synced yet.
    Completed,
}

/// [`write`] with `options`, running `moment` at each [`Moment`] of an attempt (for tests, to
/// destroy a document then).
pub fn write_with(
    archive: &Archive,
    dir: &Path,
    options: &Options,
    moment: &mut dyn FnMut(Moment),
) -> Result<Summary, BackupError> {
    target::claim(dir)?;
    let lock_path = dir.join("backup.lock");
    let lock_file = std::fs::File::create(&lock_path).map_err(files::io(&lock_path))?;
    lock_file
        .try_lock()
        .map_err(|_| BackupError::Refused(Refusal::Busy))?;
    remove_unfinished(dir)?;
    let previous = newest(dir)?;
    if let Some((_, m)) = &previous {
        let own = dir
            .join(files::generation_dir(m.generation))
            .join("service.der");
        let cert = files::read_bounded(&own, 1 << 20)?;
        if cert != archive.signer().certificate() {
            return Err(Refusal::OtherArchive.into());
        }
    }
    let mut attempt = 0;
    loop {
        attempt += 1;
        let prev = previous.as_ref().map(|p| &p.1);
        match generation::write_generation(archive, dir, prev, options, moment) {
            Err(BackupError::Raced) if attempt < 5 => remove_unfinished(dir)?,
            Err(e) => {
                // Gives the space back now (a full disk, above all); what cannot be removed
                // the next backup removes.
                let _ = remove_unfinished(dir);
                return Err(e);
            }
            done => return done,
        }
    }
}

/// Removes what a killed or failed backup left: the chunk files it created (see [`fresh`])
/// and temporary generation directories.
fn remove_unfinished(dir: &Path) -> Result<(), BackupError> {
    fresh::roll_back(dir)?;
    for e in std::fs::read_dir(dir).map_err(files::io(dir))? {
        let path = e.map_err(files::io(dir))?.path();
        let tmp = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(".tmp-"));
        if tmp {
            std::fs::remove_dir_all(&path).map_err(files::io(&path))?;
        }
    }
    Ok(())
}

/// Lowers the calling thread's scheduling priority (nice 10), so that a backup running beside
/// the service takes the CPU filing leaves: run the backup in a thread of its own, since a
/// thread's priority cannot be raised back without privilege. Best effort.
pub fn lower_priority() {
    let _ = rustix::process::setpriority_process(Some(rustix::thread::gettid()), 10);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_online_backup_is_capped_by_default_and_the_policy_may_lift_the_cap() {
        assert_eq!(Options::online(None).max_rate, Some(16_000_000));
        assert_eq!(Options::online(Some(40)).max_rate, Some(40_000_000));
        assert_eq!(Options::online(Some(0)).max_rate, None);
        assert_eq!(
            Options::default().max_rate,
            None,
            "the command line's: no cap"
        );
    }
}
