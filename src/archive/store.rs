//! The narrow storage interface. Everything above it speaks in spaces, keys and batches; a
//! PostgreSQL backend implements these four methods and nothing else changes.

use std::fmt;

/// The key spaces of the archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Space {
    /// Log entries by big-endian index. Append-only.
    Log,
    /// zstd-compressed chunks by the SHA-256 of their raw bytes. Append-only.
    Chunks,
    /// Blob manifests (chunk list) by the SHA-256 of the whole blob. Append-only.
    Blobs,
    /// Receipts by receipt id (DER, or compressed against a dictionary kept here too under
    /// `dictionary/<sha256>`: see `archive::receipts`). Append-only.
    Receipts,
    /// Checkpoints (signed notes) by big-endian tree size. Append-only.
    Checkpoints,
    /// The access log's records by big-endian index. Append-only.
    Access,
    /// Executed disposal acts (signed DER) by act number. Append-only.
    Acts,
    /// Merkle tree tiles (C2SP tlog-tiles) by level, index and width: each width of a growing
    /// tile is its own key, so that nothing here is ever rewritten (see `archive::tiles`).
    /// Append-only.
    Tiles,
    /// Look-up tables (registration numbers, case counters, the log head). Overwritable.
    Index,
}

impl Space {
    /// Every space, for whoever walks the whole store (benches, fuzzing, exports).
    pub const ALL: [Space; 9] = [
        Space::Log,
        Space::Chunks,
        Space::Blobs,
        Space::Receipts,
        Space::Checkpoints,
        Space::Access,
        Space::Acts,
        Space::Tiles,
        Space::Index,
    ];

    /// Whether a key, once written, may never take another value.
    pub fn append_only(self) -> bool {
        !matches!(self, Space::Index)
    }

    /// A one-byte prefix, for backends that keep every space in one keyspace.
    pub fn prefix(self) -> u8 {
        match self {
            Space::Log => b'L',
            Space::Chunks => b'C',
            Space::Blobs => b'B',
            Space::Receipts => b'R',
            Space::Checkpoints => b'K',
            Space::Access => b'A',
            Space::Acts => b'T',
            Space::Tiles => b'H',
            Space::Index => b'I',
        }
    }

    /// `key` under this space's prefix, for backends that keep every space in one keyspace.
    pub fn key(self, key: &[u8]) -> Vec<u8> {
        let mut v = Vec::with_capacity(key.len() + 1);
        v.push(self.prefix());
        v.extend_from_slice(key);
        v
    }
}

/// Writes that must land together or not at all.
#[derive(Debug, Default, Clone)]
pub struct Batch {
    /// (space, key, value)
    pub puts: Vec<(Space, Vec<u8>, Vec<u8>)>,
    /// Documents' bytes destroyed by an executed disposal act: only [`Space::Chunks`] and
    /// [`Space::Blobs`] keys; stores refuse any other space.
    pub disposals: Vec<(Space, Vec<u8>)>,
}

impl Batch {
    /// Adds a write.
    pub fn put(&mut self, space: Space, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.puts.push((space, key.into(), value.into()));
    }

    /// Destroys a document's bytes (disposal under an executed act; nothing else calls this).
    pub fn dispose(&mut self, space: Space, key: impl Into<Vec<u8>>) {
        self.disposals.push((space, key.into()));
    }

    /// The value this batch writes under (space, key), if any (later writes win).
    pub fn pending(&self, space: Space, key: &[u8]) -> Option<&[u8]> {
        self.puts
            .iter()
            .rev()
            .find(|(s, k, _)| *s == space && k == key)
            .map(|(_, _, v)| v.as_slice())
    }
}

/// Why the store failed. Nothing of the batch was applied when `commit` fails.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An operating-system call failed (disk full, read-only, an I/O error): what was being
    /// done, and the OS error.
    #[error("{what}: {source}")]
    Io {
        /// What was being done, and to which file.
        what: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// sled itself failed.
    #[error("sled: {0}")]
    Sled(#[from] sled::Error),
    /// PostgreSQL refused or could not be reached (down, read-only, disk full, connection lost).
    #[error("PostgreSQL: {0}")]
    Postgres(#[source] postgres::Error),
    /// A chunk could not be compressed or decompressed.
    #[error("zstd: {0}")]
    Compression(#[source] std::io::Error),
    /// Another tamga process holds the store.
    #[error(
        "{} is in use by another tamga process (a running `tamga serve`: stop it, or use its \
         HTTP API, /v1/retention/… for retention)",
        .0.display()
    )]
    InUse(std::path::PathBuf),
    /// The directory holds no archive.
    #[error("{} holds no archive", .0.display())]
    NoArchive(std::path::PathBuf),
    /// The store refuses writes until it is reopened or has room again (a failed sync, a full
    /// disk, a read-only opening): why, in a sentence.
    #[error("{0}")]
    Unwritable(String),
    /// What is stored is not what was written, and the store will not guess (recovery refused).
    #[error("{0}")]
    Damaged(String),
    /// A write the store's rules refuse (a batch beyond its limits, content that changed after
    /// it was verified, a chunk disposed of meanwhile): nothing applied.
    #[error("{0}")]
    Refused(String),
    /// A disposal outside the documents' spaces: refused, nothing applied.
    #[error("refused to dispose of {space:?}: only documents' bytes are ever destroyed")]
    NotDisposable {
        /// The space.
        space: Space,
    },
    /// A write would have changed a value in an append-only space: refused, nothing applied.
    #[error("refused to overwrite kept data in {space:?} at key {key}")]
    Overwrite {
        /// The space.
        space: Space,
        /// The key, hex.
        key: String,
    },
}

/// A durable, transactional key-value store.
pub trait Store: Send + Sync + fmt::Debug {
    /// Applies the batch atomically. It is visible to `get` on return, but durable only after
    /// [`Store::sync`].
    fn apply(&self, batch: &Batch) -> Result<(), StoreError>;
    /// Makes everything applied so far survive a crash or power loss.
    fn sync(&self) -> Result<(), StoreError>;
    /// Reads one value.
    fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Every key of a space, in byte order (for exports and audits; not on hot paths).
    fn keys(&self, space: Space) -> Result<Vec<Vec<u8>>, StoreError>;
    /// Whether [`Store::keys`] costs about what it returns (an ordered index over the keys:
    /// sled, PostgreSQL). The journal's index is hashed, so listing a space reads the whole
    /// journal's metadata: callers that can name the keys they look for (checkpoints are
    /// named by tree sizes) ask for them one by one there instead.
    fn lists_cheaply(&self) -> bool {
        true
    }
    /// Kept values the backend itself found damaged, each in a sentence, for the audit. A
    /// backend without checksums of its own cannot tell, and the audit's checks remain.
    fn damage(&self) -> Vec<String> {
        Vec::new()
    }
    /// Files in the store's directory that hold no kept value (left by a write that failed
    /// or was cut short), each in a sentence, for the audit: not damage, but worth knowing.
    fn strays(&self) -> Vec<String> {
        Vec::new()
    }
    /// Takes this process's turn to write, for a store several processes write at once
    /// (PostgreSQL with several frontends): blocks until no other writer holds the turn, and
    /// returns whether another writer wrote since this store's last turn — then what the
    /// archive above keeps in memory (its head, the tree's edge, the access log's head) is
    /// stale and must be read again before a batch is built. The turn lasts until
    /// [`Store::end_turn`]: every batch applied in it was built on what the store held when it
    /// began, so no other writer may write in between. A store one process writes has no
    /// turns: it never changes behind the archive's back.
    fn begin_turn(&self) -> Result<bool, StoreError> {
        Ok(false)
    }
    /// Ends the turn [`Store::begin_turn`] took (also after a failed build, with nothing
    /// applied): once the batches applied in it are committed, another writer may take its
    /// turn. Every `begin_turn` that returned `Ok` is paired with one `end_turn`.
    fn end_turn(&self) {}
    /// Whether batches must be applied in the turn they were built in: a store several
    /// processes write, or one that hands batches to a writer of its own (PostgreSQL). A store
    /// that does not lets filings be built ahead of their receipts (`pipeline.rs`).
    fn writes_in_turns(&self) -> bool {
        false
    }
    /// How many times batches this store took in were then lost with their turn (its lease
    /// ran out, its connection went) and failed, since it opened. A sync after such a loss
    /// answers for what is stored, which no longer holds them — and the loss can be reported
    /// to another of this process's threads (whose next turn reads the head again) before
    /// the archive's memory shows it. So the archive compares this count around a batch's
    /// durability instead of trusting the sync's `Ok` (see `upto.rs`). Never decreases; a
    /// store one process writes loses nothing this way.
    fn losses(&self) -> u64 {
        0
    }
    /// Waits for the store's background work (the journal's index merges) to finish. Nothing
    /// depends on it for correctness; the scale bench calls it between filling an archive and
    /// measuring it, as years pass between a real archive's growth and any one moment.
    fn settle(&self) {}
}

/// Creates `dir` and takes the store's lock file in it for as long as the returned file is
/// held. A second process gets an error naming the directory, not a hang: after
/// [`LOCK_PATIENCE`], in case the holder is only passing (see [`take_lock`]).
pub fn lock_dir(dir: &std::path::Path) -> Result<std::fs::File, StoreError> {
    let fail = |source: std::io::Error| StoreError::Io {
        what: format!("locking {}", dir.display()),
        source,
    };
    std::fs::create_dir_all(dir).map_err(fail)?;
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("tamga.lock"))
        .map_err(fail)?;
    take_lock(dir, || lock.try_lock(), fail)?;
    Ok(lock)
}

/// How long an opener waits for a store's lock before it says the store is in use.
pub const LOCK_PATIENCE: std::time::Duration = std::time::Duration::from_secs(2);

/// Tries `attempt` until it takes the lock or [`LOCK_PATIENCE`] runs out. A lock is held by
/// an open file description, so it outlives its owner's `close` while a copy exists
/// elsewhere: a process that is exiting, or a child forked by another thread in the moment
/// before it execs (a test harness spawning a tool; flock locks are inherited across fork).
/// Neither holds it for long, and neither should make a restart fail.
pub fn take_lock(
    dir: &std::path::Path,
    attempt: impl Fn() -> Result<(), std::fs::TryLockError>,
    fail: impl Fn(std::io::Error) -> StoreError,
) -> Result<(), StoreError> {
    let started = std::time::Instant::now();
    loop {
        match attempt() {
            Ok(()) => return Ok(()),
            Err(std::fs::TryLockError::Error(e)) => return Err(fail(e)),
            Err(std::fs::TryLockError::WouldBlock) if started.elapsed() >= LOCK_PATIENCE => {
                return Err(in_use(dir));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
    }
}

/// The error for a store directory another process holds.
pub fn in_use(dir: &std::path::Path) -> StoreError {
    StoreError::InUse(dir.to_path_buf())
}

/// For a reader that must not write (an audit of a snapshot or of read-only media): takes a
/// shared lock on the store's existing lock file, so that no writer opens the store while it
/// is read, and fails with [`in_use`] while a writer holds it. A directory without a lock file
/// has never had a writer, so there is nothing to lock; nothing is ever created.
pub fn lock_dir_shared(dir: &std::path::Path) -> Result<Option<std::fs::File>, StoreError> {
    let fail = |source: std::io::Error| StoreError::Io {
        what: format!("locking {}", dir.display()),
        source,
    };
    if !dir.is_dir() {
        return Err(StoreError::NoArchive(dir.to_path_buf()));
    }
    let lock = match std::fs::File::open(dir.join("tamga.lock")) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(fail(e)),
    };
    take_lock(dir, || lock.try_lock_shared(), fail)?;
    Ok(Some(lock))
}
