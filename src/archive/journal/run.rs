//! One sorted run of the on-disk index: an immutable file of fixed-size entries sorted by key
//! hash, in 4 KiB blocks with a checksum each, and a footer holding the first hash of every
//! block (the fences, read into memory at open: 16 bytes per 127 keys). A look-up is a binary
//! search over the fences, one `pread` of a block, and a binary search inside it.
//!
//! Layout, integers big-endian:
//!
//! ```text
//! block   entries (127 × 32 bytes) | count u32 | CRC-32 of (run id ‖ block number ‖ block)
//!         entry: hash u128 | offset u64 | length u32 | kind u32 (1 live, 2 removed)
//! footer  fences (16 bytes per block) | Bloom filter (u64 words; none in older oldest runs)
//!         | blocks u64 | entries u64 | filter words u64 | run id u64 | CRC-32 | "TIR1"
//! ```
//!
//! The run id and block number are inside each block's checksum, so a block copied from another
//! place or another run does not verify. Runs are written whole and synced before the manifest
//! names them, and never changed after: a crash leaves at worst a file no manifest names.

use super::bloom::Bloom;
use super::recover::Extent;
use super::stats;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Block size.
pub const BLOCK: usize = 4096;
const ENTRY: usize = 32;
/// Entries per block.
pub const PER_BLOCK: usize = (BLOCK - 8) / ENTRY;
const TAIL: usize = 8 + 8 + 8 + 8 + 4 + 4;
const MAGIC: [u8; 4] = *b"TIR1";
const LIVE: u32 = 1;
const REMOVED: u32 = 2;

/// What a run says of a key: its value's extent, or that it was removed (a tombstone).
pub type Found = Option<Extent>;

/// Why a run could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The file could not be read or written.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The run's file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A block or the footer does not match its checksum, or the layout does not add up.
    #[error("{}: {what}", .path.display())]
    Damaged {
        /// The run's file.
        path: PathBuf,
        /// What did not verify.
        what: String,
    },
}

/// An open run.
#[derive(Debug)]
pub struct Run {
    /// The run's number (its file is `tamga.index.<id>`).
    pub id: u64,
    /// Entries, tombstones included.
    pub entries: u64,
    /// This open's number in the process, never reused: the block cache's key (`cache.rs`).
    serial: u64,
    file: File,
    path: PathBuf,
    fences: Vec<u128>,
    bloom: Bloom,
}

/// The file of run `id` in `dir`.
pub fn path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{}.{id}", super::index::FILE))
}

fn block_sum(id: u64, n: u64, body: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&id.to_be_bytes());
    h.update(&n.to_be_bytes());
    h.update(body);
    h.finalize()
}

fn be_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn be_u128(b: &[u8], at: usize) -> Option<u128> {
    Some(u128::from_be_bytes(b.get(at..at + 16)?.try_into().ok()?))
}

/// Decodes a block's entry `i`.
fn entry(block: &[u8], i: usize) -> Option<(u128, Found)> {
    let at = i * ENTRY;
    let h = be_u128(block, at)?;
    let off = be_u64(block, at + 16)?;
    let len = be_u32(block, at + 24)?;
    match be_u32(block, at + 28)? {
        LIVE => Some((h, Some(Extent { off, len }))),
        REMOVED => Some((h, None)),
        _ => None,
    }
}

impl Run {
    /// Opens run `id` in `dir`, checking its footer (the blocks are checked as they are read).
    pub fn open(dir: &Path, id: u64) -> Result<Run, RunError> {
        let path = path(dir, id);
        let io = |source| RunError::Io {
            path: path.clone(),
            source,
        };
        let file = File::open(&path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        let bad = |what: &str| RunError::Damaged {
            path: path.clone(),
            what: what.into(),
        };
        let mut tail = [0; TAIL];
        let tail_at = len
            .checked_sub(TAIL as u64)
            .ok_or_else(|| bad("too short"))?;
        file.read_exact_at(&mut tail, tail_at).map_err(io)?;
        let blocks = be_u64(&tail, 0).unwrap_or(u64::MAX);
        let entries = be_u64(&tail, 8).unwrap_or(u64::MAX);
        let words = be_u64(&tail, 16).unwrap_or(u64::MAX);
        let fences_len = blocks.checked_mul((BLOCK + 16) as u64);
        let bloom_len = words.checked_mul(8);
        if tail.get(36..) != Some(&MAGIC[..])
            || be_u64(&tail, 24) != Some(id)
            || fences_len
                .zip(bloom_len)
                .and_then(|(f, b)| f.checked_add(b))
                != Some(tail_at)
            || entries > blocks * PER_BLOCK as u64
        {
            return Err(bad("the footer does not describe this file"));
        }
        let mut raw = vec![0; (tail_at - blocks * BLOCK as u64) as usize];
        file.read_exact_at(&mut raw, blocks * BLOCK as u64)
            .map_err(io)?;
        let mut h = crc32fast::Hasher::new();
        h.update(&raw);
        h.update(tail.get(..32).unwrap_or_default());
        if Some(h.finalize()) != be_u32(&tail, 32) {
            return Err(bad("the footer does not match its checksum"));
        }
        let (fences_raw, bloom_raw) = raw.split_at(blocks as usize * 16);
        let fences = fences_raw
            .chunks_exact(16)
            .filter_map(|c| be_u128(c, 0))
            .collect();
        static SERIALS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        Ok(Run {
            id,
            entries,
            serial: SERIALS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            file,
            path,
            fences,
            bloom: Bloom::from_bytes(bloom_raw),
        })
    }

    /// Reads and checks block `n`; returns its entry count and body.
    fn block(&self, n: u64, buf: &mut [u8; BLOCK]) -> Result<usize, RunError> {
        stats::bump(&stats::BLOCK_READS);
        self.file
            .read_exact_at(buf, n * BLOCK as u64)
            .map_err(|source| RunError::Io {
                path: self.path.clone(),
                source,
            })?;
        let (body, sum) = buf.split_at(BLOCK - 4);
        let count = be_u32(body, BLOCK - 8).unwrap_or(u32::MAX) as usize;
        if be_u32(sum, 0) != Some(block_sum(self.id, n, body)) || count > PER_BLOCK {
            return Err(RunError::Damaged {
                path: self.path.clone(),
                what: format!("block {n} does not match its checksum"),
            });
        }
        Ok(count)
    }

    /// Block `n` from the process's block cache, or read, checked and then cached. Merges read
    /// through [`Run::block`] instead: a whole run passing through would evict every hot block.
    fn cached_block(&self, n: u64, buf: &mut [u8; BLOCK]) -> Result<usize, RunError> {
        let cache = super::cache::shared();
        if let Some(count) = cache.get((self.serial, n), buf) {
            stats::bump(&stats::CACHE_HITS);
            return Ok(count);
        }
        let count = self.block(n, buf)?;
        cache.insert((self.serial, n), buf, count);
        Ok(count)
    }

    /// Whether this run has a Bloom filter (runs written before every run had one may not).
    #[cfg(test)]
    pub fn filtered(&self) -> bool {
        self.bloom.words() > 0
    }

    /// What this run says of hash `h`: `None` when it holds nothing for it.
    pub fn get(&self, h: u128) -> Result<Option<Found>, RunError> {
        stats::bump(&stats::RUN_PROBES);
        if !self.bloom.may_contain(h) {
            stats::bump(&stats::BLOOM_SKIPS);
            return Ok(None);
        }
        let Some(n) = self.fences.partition_point(|f| *f <= h).checked_sub(1) else {
            return Ok(None);
        };
        let mut buf = [0; BLOCK];
        let count = self.cached_block(n as u64, &mut buf)?;
        let (mut lo, mut hi) = (0, count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let Some((mh, found)) = entry(&buf, mid) else {
                return Err(self.damaged(n));
            };
            match mh.cmp(&h) {
                std::cmp::Ordering::Equal => return Ok(Some(found)),
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
            }
        }
        Ok(None)
    }

    fn damaged(&self, n: usize) -> RunError {
        RunError::Damaged {
            path: self.path.clone(),
            what: format!("block {n} holds an entry of no known kind"),
        }
    }

    /// Every entry in hash order, block by block (for merging).
    pub fn scan(&self) -> Scan<'_> {
        Scan {
            run: self,
            block: Box::new([0; BLOCK]),
            next_block: 0,
            count: 0,
            at: 0,
        }
    }
}

/// A run read in order.
pub struct Scan<'a> {
    run: &'a Run,
    block: Box<[u8; BLOCK]>,
    next_block: u64,
    count: usize,
    at: usize,
}

impl Iterator for Scan<'_> {
    type Item = Result<(u128, Found), RunError>;

    fn next(&mut self) -> Option<Self::Item> {
        while self.at >= self.count {
            if self.next_block >= self.run.fences.len() as u64 {
                return None;
            }
            match self.run.block(self.next_block, &mut self.block) {
                Ok(count) => self.count = count,
                Err(e) => {
                    self.next_block = u64::MAX;
                    return Some(Err(e));
                }
            }
            self.next_block += 1;
            self.at = 0;
        }
        let e = entry(&self.block[..], self.at);
        self.at += 1;
        Some(e.ok_or_else(|| self.run.damaged(self.next_block as usize - 1)))
    }
}

/// Writes a run from entries in strictly increasing hash order, with a Bloom filter sized for
/// `filter` keys (none for 0); syncs it before returning.
pub fn write(
    dir: &Path,
    id: u64,
    entries: impl Iterator<Item = Result<(u128, Found), RunError>>,
    filter: u64,
) -> Result<Run, RunError> {
    let mut bloom = Bloom::with_capacity(filter);
    let path = path(dir, id);
    let io = |source| RunError::Io {
        path: path.clone(),
        source,
    };
    let file = File::create(&path).map_err(io)?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut block: Vec<u8> = Vec::with_capacity(BLOCK);
    let (mut blocks, mut total) = (0u64, 0u64);
    let mut fences: Vec<u8> = Vec::new();
    // Pads the block's entries, then its count and checksum, and writes it out.
    let mut emit = |block: &mut Vec<u8>, blocks: &mut u64| -> std::io::Result<()> {
        let fill = (block.len() / ENTRY) as u32;
        block.resize(BLOCK - 8, 0);
        block.extend_from_slice(&fill.to_be_bytes());
        let sum = block_sum(id, *blocks, block);
        block.extend_from_slice(&sum.to_be_bytes());
        out.write_all(block)?;
        block.clear();
        *blocks += 1;
        Ok(())
    };
    for e in entries {
        let (h, found) = e?;
        bloom.insert(h);
        if block.is_empty() {
            fences.extend_from_slice(&h.to_be_bytes());
        }
        let (off, len, kind) = found.map_or((0, 0, REMOVED), |x| (x.off, x.len, LIVE));
        block.extend_from_slice(&h.to_be_bytes());
        block.extend_from_slice(&off.to_be_bytes());
        block.extend_from_slice(&len.to_be_bytes());
        block.extend_from_slice(&kind.to_be_bytes());
        total += 1;
        if block.len() == PER_BLOCK * ENTRY {
            emit(&mut block, &mut blocks).map_err(io)?;
        }
    }
    if !block.is_empty() {
        emit(&mut block, &mut blocks).map_err(io)?;
    }
    let mut tail = Vec::with_capacity(TAIL);
    tail.extend_from_slice(&blocks.to_be_bytes());
    tail.extend_from_slice(&total.to_be_bytes());
    tail.extend_from_slice(&bloom.words().to_be_bytes());
    tail.extend_from_slice(&id.to_be_bytes());
    let bloom = bloom.to_bytes();
    let mut h = crc32fast::Hasher::new();
    h.update(&fences);
    h.update(&bloom);
    h.update(&tail);
    tail.extend_from_slice(&h.finalize().to_be_bytes());
    tail.extend_from_slice(&MAGIC);
    out.write_all(&fences).map_err(io)?;
    out.write_all(&bloom).map_err(io)?;
    out.write_all(&tail).map_err(io)?;
    let file = out.into_inner().map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)?;
    drop(file);
    Run::open(dir, id)
}

/// Merges runs given newest first into one stream in hash order: for a hash in several, the
/// newest says. Tombstones are dropped when `bottom` (nothing older remains for them to hide).
pub fn merge<'a>(
    runs: &'a [std::sync::Arc<Run>],
    bottom: bool,
) -> impl Iterator<Item = Result<(u128, Found), RunError>> + 'a {
    let mut scans: Vec<_> = runs.iter().map(|r| r.scan().peekable()).collect();
    std::iter::from_fn(move || {
        loop {
            // The smallest head; among equals, the newest (lowest index) wins.
            let mut best: Option<(usize, u128)> = None;
            for (i, s) in scans.iter_mut().enumerate() {
                match s.peek() {
                    Some(Err(_)) => return s.next(),
                    Some(Ok((h, _))) if best.is_none_or(|(_, b)| *h < b) => best = Some((i, *h)),
                    _ => {}
                }
            }
            let (i, h) = best?;
            for s in scans.iter_mut().skip(i + 1) {
                if matches!(s.peek(), Some(Ok((o, _))) if *o == h) {
                    s.next();
                }
            }
            let item = scans.get_mut(i)?.next()?;
            if bottom && matches!(item, Ok((_, None))) {
                continue;
            }
            return Some(item);
        }
    })
}
