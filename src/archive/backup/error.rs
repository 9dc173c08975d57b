//! Why a backup, its check or a restore failed: each a one-sentence message, and a type a
//! caller can tell apart (the command line's exit code, the HTTP answer).

use crate::archive::ArchiveError;
use crate::archive::audit::AuditFailure;
use crate::archive::checkpoint::NoteError;
use crate::verify::certificate::CertError;
use std::path::PathBuf;

/// Why a backup, its check or a restore failed.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The archive failed.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The backup's file system has no room left: the generation being written was given up
    /// (never counted), the previous one is untouched.
    #[error(
        "no space left for the backup ({}): this generation was not written, the previous one \
         is intact; free space there or back up elsewhere",
        path.display()
    )]
    Full {
        /// The file being written when the space ran out.
        path: PathBuf,
    },
    /// A file of the backup does not verify: the first one found.
    #[error("{}: {fault}", file.display())]
    Bad {
        /// The file.
        file: PathBuf,
        /// What is wrong with it.
        fault: Fault,
    },
    /// The operation is refused as asked.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// A document was destroyed while the backup read it: retried at a newer checkpoint.
    #[error("a document was destroyed while it was being copied")]
    Raced,
}

/// Why a backup or a restore is refused as asked (nothing was written).
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The backup directory holds something else than tamga backups.
    #[error("the directory is not empty and holds no tamga backup: back up into an empty one")]
    NotEmpty,
    /// Another backup holds the directory's lock.
    #[error("another backup is being written into the directory")]
    Busy,
    /// The directory's generations were taken of another archive.
    #[error("the directory holds backups of another archive (another service certificate)")]
    OtherArchive,
    /// The directory holds no complete generation.
    #[error("{} holds no complete backup", .0.display())]
    NoBackup(PathBuf),
    /// A restore's target store holds something.
    #[error("the target store is not empty: a restore writes only into an empty one")]
    StoreNotEmpty,
    /// The generation's checkpoints lack the one it covers.
    #[error("the backup's checkpoints do not include the one it covers")]
    CheckpointMissing,
}

/// What is wrong with a file of a backup.
#[derive(Debug, thiserror::Error)]
pub enum Fault {
    /// The manifest names it, but it is not there.
    #[error("missing")]
    Missing,
    /// It is larger than any such file can be.
    #[error("larger than {0} bytes")]
    TooLarge(u64),
    /// It should be text.
    #[error("not UTF-8 text")]
    NotText,
    /// A manifest that does not parse.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// Its bytes are not those the manifest's SHA-256 names.
    #[error("differs from its SHA-256 in the manifest")]
    Differs,
    /// A record file that does not split into records.
    #[error("malformed")]
    Malformed,
    /// The manifest names a file no backup has.
    #[error("is not a file a backup has")]
    Unexpected,
    /// The service certificate does not parse.
    #[error(transparent)]
    Certificate(CertError),
    /// A checkpoint that does not verify.
    #[error(transparent)]
    Checkpoint(NoteError),
    /// The checkpoint covered is not the manifest's size.
    #[error("covers another size than the manifest's")]
    OtherSize,
    /// The replay of the log (chain, tree, receipts, documents) failed.
    #[error("{0}")]
    Log(AuditFailure),
    /// The entries stop short of the checkpoint, or differ from it.
    #[error("the entries do not reach the signed checkpoint")]
    Short,
    /// The index's log head or latest checkpoint is not the checkpoint covered.
    #[error("its log head is not the signed checkpoint's")]
    Head,
    /// An access record does not chain.
    #[error(transparent)]
    AccessRecord(crate::archive::access::ChainError),
    /// The access log's head is not the one the checkpoint signs.
    #[error("the access log does not match the signed checkpoint ({records} records, head {head})")]
    AccessHead {
        /// Records the checkpoint covers.
        records: u64,
        /// Their head, hex.
        head: String,
    },
    /// A chunk file that does not decompress.
    #[error("does not decompress: {0}")]
    Decompress(std::io::Error),
    /// A chunk file whose content is not what its name is the SHA-256 of.
    #[error("does not match its name")]
    NotItsName,
    /// A chunk file no complete generation names and no unfinished backup explains: it may
    /// hold a destroyed document's bytes.
    #[error("is a chunk no generation names (it may hold a destroyed document's bytes): remove it")]
    Unnamed,
}

/// Why a manifest does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// The first line is not the format's.
    #[error("does not start with {:?}", super::files::MAGIC)]
    Magic,
    /// A line that is not one a manifest has.
    #[error("line {number}: {text:?}")]
    Line {
        /// Its number (1 is the first).
        number: usize,
        /// The line.
        text: String,
    },
    /// No `generation` line.
    #[error("names no generation")]
    NoGeneration,
}

impl BackupError {
    /// `Bad` for `file`.
    pub fn bad(file: impl Into<PathBuf>, fault: impl Into<Fault>) -> BackupError {
        BackupError::Bad {
            file: file.into(),
            fault: fault.into(),
        }
    }
}
