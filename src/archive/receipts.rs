//! How a receipt is kept in [`Space::Receipts`]: compressed against a dictionary of the fixed
//! parts every receipt of its service repeats (`receipt::template`), so that a filing stores
//! only what is its own. The receipt's bytes as the sender got them never change: reading one
//! back gives the exact DER that was signed and sent.
//!
//! A stored value is self-describing:
//! - a value that does not start with [`COMPRESSED`] is the receipt's DER as it is (every
//!   receipt stored before dictionaries, whose first byte is a DER SEQUENCE's `0x30`, and any
//!   receipt the writer chose not to compress);
//! - `COMPRESSED`, the SHA-256 of the dictionary (32 bytes), then one zstd frame (RFC 8878)
//!   that declares its content size and carries its checksum.
//!
//! Dictionaries live in the same space, under `dictionary/<sha256 hex>` (receipt ids are 32
//! hex digits, so no id is such a key). The space is append-only and never disposed of, so a
//! dictionary can never change or vanish under the receipts that name it, and whatever copies
//! the receipts' space copies their dictionaries with them. A dictionary is written in the
//! batch of the first receipt that uses it; a new service certificate (a key rotation) or
//! organisation name makes a new one, and older receipts keep naming theirs.
//!
//! [`decode`] is the one way back, for every reader (the archive's typed reads, the audit, the
//! export, backups, the HTTP service through them). It is bounded: at most
//! [`MAX_RECEIPT`] bytes come out of a frame, which must declare its size up front, and a
//! dictionary larger than [`MAX_DICTIONARY`] or not matching its name is damage.

use super::store::{Batch, Space, StoreError};
use super::warm::Pool;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use zstd::bulk::{Compressor, Decompressor};

/// The first byte of a compressed receipt (a DER receipt starts with `0x30`).
pub const COMPRESSED: u8 = 0x01;

/// The largest receipt kept compressed, and so the most a stored frame may declare.
pub const MAX_RECEIPT: usize = 4 << 20;

/// The largest dictionary read back (tamga's are about 15 KB).
pub const MAX_DICTIONARY: usize = 256 << 10;

/// zstd level: -1, zstd's fastest kind of match search, with literals left uncoded. Every
/// filing compresses its receipt, so every microsecond here is one per filing. Receipts made
/// like the service's (hashes and signature random) against their dictionary, with the CPU
/// caches as a busy service leaves them (8 MiB of other memory touched between receipts, the
/// shared 2-core machine): level -1 keeps 556 B in 4.9–5.8 µs, level 1 523 B in 10.9–13.2 µs,
/// level 3 515 B in 12.4–15.3 µs (levels 9 to 22 save 15 B more for 25 µs to 0.9 ms). Real
/// receipts (`cargo bench --bench scale -- bytes`) store 621 B at level -1 against 556 B at
/// level 3: 65 B, 0.8 % of what a filing stores (README: "Where a real filing's bytes go").
/// Reading one back, which every encode does once, is cheaper too (no Huffman table).
const LEVEL: i32 = -1;

const DICTIONARY_PREFIX: &[u8] = b"dictionary/";

/// The dictionaries a pass of reads has already checked (by SHA-256), or an archive knows its
/// store holds (by key); at most this many.
const CACHED: usize = 16;

/// Why a stored receipt could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum StoredReceiptError {
    /// The store failed while reading the dictionary.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The value is shorter than its header.
    #[error("its stored form is truncated")]
    Truncated,
    /// The dictionary it names is not kept.
    #[error("its dictionary {0} is missing")]
    DictionaryMissing(String),
    /// The dictionary it names is too large or does not hash to its name.
    #[error("its dictionary {0} is damaged")]
    DictionaryDamaged(String),
    /// The frame declares no size, or more than [`MAX_RECEIPT`].
    #[error("its compressed frame declares no usable size")]
    Size,
    /// The frame does not decompress to what it declares (its checksum or its data is
    /// damaged).
    #[error("its compressed frame is damaged: {0}")]
    Frame(std::io::Error),
}

/// A dictionary, and the compressors and decompressors loaded with it, reused from receipt to
/// receipt (making a zstd context costs more than compressing a receipt with it) and kept
/// warm (`warm.rs`): filings sign their receipts on both cores at once.
struct Prepared {
    digest: [u8; 32],
    /// Shared, so that a receipt names its dictionary without copying its ≈ 15 KB.
    bytes: Arc<[u8]>,
    compressors: Pool<Compressor<'static>>,
    decompressors: Pool<Decompressor<'static>>,
}

/// Contexts kept per dictionary: one or two are busy at a time on two cores; a few more
/// cover a filer preempted mid-receipt.
const KEPT_CONTEXTS: usize = 8;

impl Prepared {
    /// A compressor loaded with the dictionary, which writes the frame's checksum (RFC 8878
    /// §3.1.1: it catches damage that would still decode).
    fn compressor(&self) -> std::io::Result<Compressor<'static>> {
        let mut compressor = Compressor::with_dictionary(LEVEL, &self.bytes)?;
        compressor.set_parameter(zstd::zstd_safe::CParameter::ChecksumFlag(true))?;
        Ok(compressor)
    }
}

/// The key of the dictionary whose SHA-256 is `digest`.
pub fn dictionary_key(digest: &[u8; 32]) -> Vec<u8> {
    [
        DICTIONARY_PREFIX,
        crate::verify::certificate::hex(digest).as_bytes(),
    ]
    .concat()
}

/// Whether `key` in [`super::store::Space::Receipts`] names a dictionary, not a receipt.
pub fn is_dictionary_key(key: &[u8]) -> bool {
    key.starts_with(DICTIONARY_PREFIX)
}

/// A receipt as the store is to keep it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// The stored value.
    pub value: Vec<u8>,
    /// The dictionary it needs, `(key, bytes)`, when compressed: to be written with it
    /// unless the store already has it.
    pub dictionary: Option<(Vec<u8>, Arc<[u8]>)>,
}

/// The stored form of receipt `der`. Compressed when it is a receipt this module can read
/// (a CMS with the service certificate and a JSON body naming the organisation) and the
/// result reads back to the same bytes and is shorter; as it is otherwise.
pub fn encode(der: &[u8]) -> Encoded {
    let raw = || Encoded {
        value: der.to_vec(),
        dictionary: None,
    };
    if der.len() > MAX_RECEIPT {
        return raw();
    }
    let Some(prepared) = dictionary_of(der) else {
        return raw();
    };
    match compress(der, &prepared) {
        Some(value) if value.len() < der.len() => Encoded {
            value,
            dictionary: Some((dictionary_key(&prepared.digest), prepared.bytes.clone())),
        },
        _ => raw(),
    }
}

/// `COMPRESSED`, the dictionary's name and the frame, if it reads back to `der`.
fn compress(der: &[u8], prepared: &Prepared) -> Option<Vec<u8>> {
    let frame = prepared
        .compressors
        .with(|| prepared.compressor(), |c| c.compress(der))
        .ok()?
        .ok()?;
    let back = prepared
        .decompressors
        .with(
            || Decompressor::with_dictionary(&prepared.bytes),
            |d| inflate(&frame, d),
        )
        .ok()?
        .ok()?;
    if back != der {
        return None;
    }
    Some([&[COMPRESSED], prepared.digest.as_slice(), &frame].concat())
}

/// The prepared dictionary for the service and organisation that `der` was issued by.
fn dictionary_of(der: &[u8]) -> Option<Arc<Prepared>> {
    #[derive(serde::Deserialize)]
    struct Named {
        organization: String,
    }
    let sd = crate::verify::cms::parse(der).ok()?;
    let cert = *sd.certificates.first()?;
    let named: Named = serde_json::from_slice(sd.content.as_deref()?).ok()?;
    prepared(cert, &named.organization)
}

/// The last dictionary made, by the certificate's SHA-256 and the organisation: a service
/// signs with one certificate at a time, so one is enough.
type Current = Option<([u8; 32], String, Arc<Prepared>)>;

static CURRENT: Mutex<Current> = Mutex::new(None);

/// The dictionaries one archive's store is known to hold, by key: a filing that finds its
/// dictionary here writes the receipt alone, without reading the ≈ 15 KB dictionary back
/// under the writer lock (over PostgreSQL a server round trip per filing, as its read cache
/// keeps only small values). Per archive, not per process: another store in the same process
/// may not have it. A key is added once the store has it in this archive's view — read from
/// the store, or written by a batch the store applied — with the tree size from which that
/// view holds for good: `at` = the size before the batch that wrote or read it, plus one. With
/// several processes writing one store (`turn.rs`), an applied batch can still be lost with its
/// turn (and a read can have seen such a batch); the archive then reads its head again, and
/// [`Stored::reloaded`] forgets every key not yet covered by a size this archive made durable
/// — else the next receipt would name a dictionary the store never got, unreadable for every
/// reader. The receipts' space is append-only, so a key covered stays true. At most [`CACHED`]
/// keys (forgetting costs a read).
#[derive(Default)]
pub struct Stored(Mutex<HashMap<Vec<u8>, u64>>);

impl std::fmt::Debug for Stored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stored").finish_non_exhaustive()
    }
}

impl Stored {
    /// Whether the store is known to hold the dictionary `key`.
    pub fn holds(&self, key: &[u8]) -> bool {
        lock(&self.0).contains_key(key)
    }

    /// Remembers that the store holds the dictionary `key`, learnt by a batch built on a tree
    /// of `at - 1` entries (it was just read there, or that batch wrote it).
    pub fn insert(&self, key: Vec<u8>, at: u64) {
        let mut known = lock(&self.0);
        if known.len() >= CACHED && !known.contains_key(&key) {
            known.clear();
        }
        let at = known.get(&key).map_or(at, |was| at.min(*was));
        known.insert(key, at);
    }

    /// Remembers the dictionaries `batch` wrote, once the store has applied it (a batch that
    /// failed or was dropped wrote nothing, and its dictionary is still to be written); `at`
    /// as for [`Stored::insert`].
    pub fn applied(&self, batch: &Batch, at: u64) {
        for (space, key, _) in &batch.puts {
            if *space == Space::Receipts && is_dictionary_key(key) {
                self.insert(key.clone(), at);
            }
        }
    }

    /// The archive read its head again after another process wrote, and has made the log
    /// durable up to `durable` entries: keys learnt from batches not covered by that may have
    /// been lost with their turn, and are read again when next needed.
    pub fn reloaded(&self, durable: u64) {
        lock(&self.0).retain(|_, at| *at <= durable);
    }
}

/// The prepared dictionary of (`cert`, `organization`), made once per process and rotation.
fn prepared(cert: &[u8], organization: &str) -> Option<Arc<Prepared>> {
    let cert_sha: [u8; 32] = Sha256::digest(cert).into();
    let mut current = lock(&CURRENT);
    if let Some((c, o, p)) = current.as_ref()
        && *c == cert_sha
        && o == organization
    {
        return Some(p.clone());
    }
    let bytes = crate::receipt::template::dictionary(cert, organization)?;
    // Every reader refuses a larger one as damage (a very long organisation name or a large
    // certificate): such receipts are stored as they are.
    if bytes.len() > MAX_DICTIONARY {
        return None;
    }
    let prepared = Arc::new(Prepared {
        digest: Sha256::digest(&bytes).into(),
        bytes: bytes.into(),
        compressors: Pool::new(KEPT_CONTEXTS),
        decompressors: Pool::new(KEPT_CONTEXTS),
    });
    // One of each made here, so that a dictionary zstd will not load is found once, before
    // any receipt names it (such receipts are stored as they are).
    prepared
        .compressors
        .with(|| prepared.compressor(), |_| ())
        .ok()?;
    prepared
        .decompressors
        .with(|| Decompressor::with_dictionary(&prepared.bytes), |_| ())
        .ok()?;
    *current = Some((cert_sha, organization.to_owned(), prepared.clone()));
    Some(prepared)
}

/// The dictionaries checked so far by one reader (an audit, an export, a backup), each
/// loaded into its decompressor, so that a pass over many receipts reads and hashes each
/// dictionary once. A fresh one per pass: a dictionary damaged on disk after it was read is
/// then still found by the next pass.
#[derive(Default)]
pub struct Dictionaries(Mutex<HashMap<[u8; 32], Decompressor<'static>>>);

impl std::fmt::Debug for Dictionaries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dictionaries").finish_non_exhaustive()
    }
}

/// Reads a key of the receipts' space (a dictionary), for [`decode`].
pub type Lookup<'a> = &'a dyn Fn(&[u8]) -> Result<Option<Vec<u8>>, StoreError>;

impl Dictionaries {
    /// Decompresses `frame` with the dictionary named `digest`, read with `lookup` and
    /// checked against its name the first time it is needed.
    fn inflate(
        &self,
        digest: &[u8; 32],
        frame: &[u8],
        lookup: Lookup<'_>,
    ) -> Result<Vec<u8>, StoredReceiptError> {
        let mut known = lock(&self.0);
        if let Some(d) = known.get_mut(digest) {
            return inflate(frame, d);
        }
        let name = || crate::verify::certificate::hex(digest);
        let bytes = lookup(&dictionary_key(digest))?
            .ok_or_else(|| StoredReceiptError::DictionaryMissing(name()))?;
        if bytes.len() > MAX_DICTIONARY || <[u8; 32]>::from(Sha256::digest(&bytes)) != *digest {
            return Err(StoredReceiptError::DictionaryDamaged(name()));
        }
        let mut d = Decompressor::with_dictionary(&bytes)
            .map_err(|_| StoredReceiptError::DictionaryDamaged(name()))?;
        let out = inflate(frame, &mut d);
        if known.len() >= CACHED {
            known.clear();
        }
        known.insert(*digest, d);
        out
    }
}

/// The receipt's DER from its stored `value`, reading its dictionary (if it names one) with
/// `lookup` from the receipts' space. The one decoder every reader uses.
pub fn decode(
    value: Vec<u8>,
    dictionaries: &Dictionaries,
    lookup: Lookup<'_>,
) -> Result<Vec<u8>, StoredReceiptError> {
    let Some(rest) = value.strip_prefix(&[COMPRESSED]) else {
        return Ok(value);
    };
    let (digest, frame) = rest
        .split_first_chunk::<32>()
        .ok_or(StoredReceiptError::Truncated)?;
    dictionaries.inflate(digest, frame, lookup)
}

/// Decompresses one frame that declares at most [`MAX_RECEIPT`] bytes. (A context is reset
/// at the start of every frame, so one that failed on damage serves the next.)
fn inflate(frame: &[u8], d: &mut Decompressor<'_>) -> Result<Vec<u8>, StoredReceiptError> {
    let declared = zstd::zstd_safe::get_frame_content_size(frame)
        .ok()
        .flatten()
        .and_then(|n| usize::try_from(n).ok())
        .filter(|n| *n <= MAX_RECEIPT)
        .ok_or(StoredReceiptError::Size)?;
    let out = d
        .decompress(frame, declared)
        .map_err(StoredReceiptError::Frame)?;
    if out.len() != declared {
        return Err(StoredReceiptError::Size);
    }
    Ok(out)
}

/// A lock whose holder cannot leave its value half-changed (see [`inflate`]).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
#[path = "receipts_tests.rs"]
pub(super) mod tests;
