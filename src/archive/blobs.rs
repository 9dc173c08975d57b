//! Documents as content-addressed, zstd-compressed chunks.
//!
//! A blob is named by the SHA-256 of its bytes and stored as 1 MiB chunks, each named by its
//! own SHA-256; identical content (or identical chunks) is stored once. Reading streams chunk
//! by chunk and checks every hash on the way, so memory does not grow with document size and
//! a damaged chunk is reported, never returned.

use super::store::{Batch, Space, Store, StoreError};
use sha2::{Digest, Sha256};
use std::io::Write;

/// Raw bytes per chunk.
pub const CHUNK: usize = 1 << 20;
/// zstd level: the fastest that still codes literals (negative levels leave them as they
/// are, which doubles a text); on documents it compresses about as well as level 3 (a 4 KiB
/// text: 2,980 bytes against 3,035) at a third of the time (7 µs against 23).
const LEVEL: i32 = 1;

/// Why a blob could not be read back intact.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The blob is not (or no longer) kept.
    #[error("blob {0} is not in the archive")]
    Missing(String),
    /// Stored bytes do not hash to their name.
    #[error("blob {blob}: {what}")]
    Damaged {
        /// The blob's SHA-256, hex.
        blob: String,
        /// What differs.
        what: String,
    },
    /// Writing the output failed.
    #[error("writing: {0}")]
    Output(#[from] std::io::Error),
}

/// A blob hashed and compressed ahead of time, so that the writer lock is held only to file it.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// SHA-256 of the whole.
    pub name: [u8; 32],
    manifest: Vec<u8>,
    chunks: Vec<([u8; 32], Vec<u8>)>,
    /// The chunks were filed ahead ([`stage_spooled`]); only the manifest remains to add.
    staged: bool,
}

/// Hashes and compresses `data` (no store access).
pub fn prepare(data: &[u8]) -> Result<Prepared, StoreError> {
    prepare_hashed(data, Sha256::digest(data).into())
}

/// Compresses `data`, whose SHA-256 the caller has computed already (`ingest` hashes every
/// submission once), to be filed under that name (no store access). The audit hashes every
/// stored blob again against its name.
pub fn prepare_hashed(data: &[u8], name: [u8; 32]) -> Result<Prepared, StoreError> {
    let mut manifest = Vec::with_capacity(8 + 32 * (data.len() / CHUNK + 1));
    manifest.extend_from_slice(&(data.len() as u64).to_be_bytes());
    let mut chunks = Vec::with_capacity(data.len() / CHUNK + 1);
    for chunk in data.chunks(CHUNK) {
        // A document of one chunk (most are) is that chunk: its name is the chunk's.
        let h: [u8; 32] = if chunk.len() == data.len() {
            name
        } else {
            Sha256::digest(chunk).into()
        };
        manifest.extend_from_slice(&h);
        let packed = compress(chunk)?;
        chunks.push((h, packed));
    }
    Ok(Prepared {
        name,
        manifest,
        chunks,
        staged: false,
    })
}

/// Files spooled content chunk by chunk, each chunk in a batch of its own, so that memory
/// holds one chunk at a time; returns the blob for [`put`], which then adds only its manifest.
/// Refuses content whose SHA-256 is no longer `verified_sha256`.
/// A chunk filed here and never referenced (the submission failed after this) is harmless:
/// content-addressed, it is simply there when the same bytes come again.
pub fn stage_spooled(
    store: &dyn Store,
    apply: &dyn Fn(&Batch) -> Result<(), StoreError>,
    content: &crate::spool::Spooled,
    verified_sha256: &[u8],
) -> Result<Prepared, StoreError> {
    let mut whole = Sha256::new();
    let mut manifest = Vec::with_capacity(8 + 32 * (content.len() as usize / CHUNK + 1));
    manifest.extend_from_slice(&content.len().to_be_bytes());
    content.for_each_piece(
        |source| StoreError::Io {
            what: "reading spooled content".into(),
            source,
        },
        |chunk| {
            whole.update(chunk);
            let h: [u8; 32] = Sha256::digest(chunk).into();
            manifest.extend_from_slice(&h);
            file_chunk(store, apply, h, chunk)
        },
    )?;
    let name: [u8; 32] = whole.finalize().into();
    // The file is read twice (verified, then filed); a file that changed in between — the
    // caller's own, for `import --content` — must not be filed under the verified receipt.
    if name.as_slice() != verified_sha256 {
        return Err(StoreError::Refused(
            "the content changed after it was verified; not filed".into(),
        ));
    }
    Ok(Prepared {
        name,
        manifest,
        chunks: Vec::new(),
        staged: true,
    })
}

/// One chunk in a batch of its own (applied by `apply`: in a turn of its own, for a store
/// several processes write), unless the store has it already.
fn file_chunk(
    store: &dyn Store,
    apply: &dyn Fn(&Batch) -> Result<(), StoreError>,
    h: [u8; 32],
    chunk: &[u8],
) -> Result<(), StoreError> {
    if store.get(Space::Chunks, &h)?.is_none() {
        let mut b = Batch::default();
        b.put(Space::Chunks, h, compress(chunk)?);
        apply(&b)?;
    }
    Ok(())
}

/// The zstd contexts chunks are compressed with, kept warm (`warm.rs`): making one per chunk
/// (allocating and clearing its tables) cost more than compressing a small document, and one
/// per thread left each one's tables cold.
static COMPRESSORS: super::warm::Pool<zstd::bulk::Compressor<'static>> = super::warm::Pool::new(4);

fn compress(chunk: &[u8]) -> Result<Vec<u8>, StoreError> {
    COMPRESSORS
        .with(
            || zstd::bulk::Compressor::new(LEVEL),
            |compressor| compressor.compress(chunk),
        )
        .and_then(|compressed| compressed)
        .map_err(StoreError::Compression)
}

/// Adds a prepared blob to `batch` unless the store or the batch already holds it (identical
/// content is kept once, and so is an identical chunk).
pub fn put(batch: &mut Batch, store: &dyn Store, blob: Prepared) -> Result<[u8; 32], StoreError> {
    let name = blob.name;
    if batch.pending(Space::Blobs, &name).is_some() || store.get(Space::Blobs, &name)?.is_some() {
        return Ok(name);
    }
    if blob.staged {
        // Filed ahead, outside the writer lock: a disposal may have removed a shared chunk
        // since. Checked here, under the lock, so a manifest never names a missing chunk.
        for h in blob.manifest.get(8..).unwrap_or_default().chunks_exact(32) {
            if store.get(Space::Chunks, h)?.is_none() {
                return Err(StoreError::Refused(
                    "a chunk of the spooled content was disposed of meanwhile; retry".into(),
                ));
            }
        }
    }
    for (h, packed) in blob.chunks {
        if batch.pending(Space::Chunks, &h).is_none() && store.get(Space::Chunks, &h)?.is_none() {
            batch.put(Space::Chunks, h, packed);
        }
    }
    batch.put(Space::Blobs, name, blob.manifest);
    Ok(name)
}

/// The chunk hashes and total size of a stored blob.
pub fn manifest(store: &dyn Store, name: &[u8; 32]) -> Result<(u64, Vec<[u8; 32]>), BlobError> {
    let raw = store
        .get(Space::Blobs, name)?
        .ok_or_else(|| BlobError::Missing(crate::verify::certificate::hex(name)))?;
    decode_manifest(name, &raw)
}

/// Decodes a stored manifest (of the blob `name`): its size and chunk hashes.
pub fn decode_manifest(name: &[u8; 32], raw: &[u8]) -> Result<(u64, Vec<[u8; 32]>), BlobError> {
    // The name is spelled out only for an error: a filing decodes the manifests it counts.
    let damaged = |what: &str| BlobError::Damaged {
        blob: crate::verify::certificate::hex(name),
        what: what.into(),
    };
    let (size, rest) = raw
        .split_at_checked(8)
        .ok_or_else(|| damaged("manifest truncated"))?;
    let size = u64::from_be_bytes(size.try_into().map_err(|_| damaged("manifest size"))?);
    if rest.len() % 32 != 0 {
        return Err(damaged("manifest length"));
    }
    let chunks = rest
        .chunks_exact(32)
        .map(|c| <[u8; 32]>::try_from(c).map_err(|_| damaged("manifest entry")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((size, chunks))
}

/// Streams a blob into `out`; every chunk is checked against its hash *before* it is written,
/// and the whole against the blob's name. Returns the size.
pub fn read(store: &dyn Store, name: &[u8; 32], out: &mut dyn Write) -> Result<u64, BlobError> {
    walk(store, name, Some(out))
}

/// Checks a blob against its name with one SHA-256 pass (as fast as `sha256sum`), for audits;
/// when it differs, hashes the chunks one by one to name the damaged one. Returns the size.
pub fn check(store: &dyn Store, name: &[u8; 32]) -> Result<u64, BlobError> {
    match walk(store, name, None) {
        Err(BlobError::Damaged { .. }) => walk(store, name, Some(&mut std::io::sink())),
        other => other,
    }
}

/// Reads every chunk and hashes the whole; with `out`, also checks each chunk before writing it.
fn walk(
    store: &dyn Store,
    name: &[u8; 32],
    mut out: Option<&mut dyn Write>,
) -> Result<u64, BlobError> {
    let hexname = crate::verify::certificate::hex(name);
    let (size, chunks) = manifest(store, name)?;
    let damaged = |what: String| BlobError::Damaged {
        blob: hexname.clone(),
        what,
    };
    let mut whole = Sha256::new();
    let mut total = 0u64;
    for (i, h) in chunks.iter().enumerate() {
        let packed = store
            .get(Space::Chunks, h)?
            .ok_or_else(|| damaged(format!("chunk {i} missing")))?;
        let raw = zstd::bulk::decompress(&packed, CHUNK)
            .map_err(|e| damaged(format!("chunk {i} does not decompress: {e}")))?;
        if let Some(out) = out.as_mut() {
            if <[u8; 32]>::from(Sha256::digest(&raw)) != *h {
                return Err(damaged(format!("chunk {i} does not match its hash")));
            }
            out.write_all(&raw)?;
        }
        whole.update(&raw);
        total += raw.len() as u64;
    }
    if total != size || <[u8; 32]>::from(whole.finalize()) != *name {
        return Err(damaged(format!(
            "content ({total} of {size} bytes) does not match its SHA-256"
        )));
    }
    Ok(total)
}
