//! Reading the journal at open. Every record after what the on-disk index covers (all of them
//! when there is none, or it cannot be trusted) is read and checked, and the index brought up
//! to date from them. A tail that does not read as records is what a crash leaves of writes never
//! synced: it is moved aside, never deleted, and cut off. Damage inside data that was synced
//! is refused instead, because cutting there would drop documents that had their receipts.

use super::index::Keyer;
use super::record::{self, HEADER, Header, MetaOp};
use crate::archive::store::StoreError;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Where a value lies in the journal file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extent {
    /// Byte offset.
    pub off: u64,
    /// Length.
    pub len: u32,
}

/// What the index holds for a hashed key: where its value lies, or `None` once removed.
pub type Found = Option<Extent>;

/// Where to start reading and what came before: the whole journal, or only the tail after the
/// offset the on-disk index covers.
pub struct From<'a> {
    /// Byte offset of the first record to read (a record boundary; 0 for the whole journal).
    pub at: u64,
    /// What the index says of a key written before `at` (for removals in the tail).
    pub base: Option<&'a dyn Fn(u128) -> Result<Found, StoreError>>,
    /// The key hasher.
    pub keyer: &'a Keyer,
    /// Where a whole read's index goes once it outgrows memory (none: it stays in memory).
    pub spill: Option<&'a dyn Spill>,
}

/// Runs a read of the whole journal writes its index out to as it goes, so that rebuilding
/// the index needs memory for one flush's worth of keys, not for every key.
pub trait Spill {
    /// Called after each record: moves the index's entries out to a run when there are many.
    fn spill(&self, index: &mut super::index::Memtable) -> Result<(), StoreError>;
    /// Forgets what was spilled: the read starts over (after cutting a torn tail).
    fn restart(&self);
}

/// The journal as recovered.
#[derive(Debug, Default)]
pub struct Recovered {
    /// Every key written in the part read, by hash: live, or (over a base) removed.
    pub index: super::index::Memtable,
    /// Where the next record goes.
    pub end: u64,
    /// The first record's checksum, when the part read began at the journal's start.
    pub first: Option<[u8; 32]>,
    /// The last whole record's offset and checksum.
    pub last: Option<(u64, [u8; 32])>,
    /// How many records were read (the tail replayed at open, for the operator and tests).
    pub records: u64,
    /// Disposed values whose bytes are still there (their hole was never punched).
    pub repunch: Vec<Extent>,
    /// What the operator should know: tails moved aside.
    pub notes: Vec<String>,
    /// Kept values that do not match their digests (for the audit to report).
    pub damaged: Vec<String>,
}

/// Rebuilds the index from `file` (the journal at `path`) from `from.at` on, cutting a torn
/// tail — or, when `read_only`, leaving it in place and reading only up to it (nothing is
/// written).
pub fn recover(
    file: &File,
    path: &Path,
    read_only: bool,
    from: &From<'_>,
) -> Result<Recovered, StoreError> {
    let len = file.metadata().map_err(|e| io(path, e))?.len();
    let mut scan = scan(file, path, from, len, true)?;
    let mut cut = scan.torn;
    if let Some(torn) = scan.torn
        && let Some(mark) = synced_beyond(file, path, torn, len)?
    {
        return Err(StoreError::Damaged(format!(
            "{}: the record at byte {torn} is damaged, yet a later record says the journal \
             was synced up to byte {mark}; refusing to cut documents that had receipts. \
             Restore this file from a backup",
            path.display()
        )));
    }
    // A value that does not match its digest, with no later disposal to explain it: torn if it
    // lies beyond everything known synced, damaged (kept, for the audit to name) otherwise.
    let mut damaged = Vec::new();
    for (record_at, key, _) in scan.bad.values() {
        if *record_at >= scan.durable {
            cut = Some(cut.map_or(*record_at, |c| c.min(*record_at)));
        } else {
            damaged.push(damage(path, key, *record_at));
        }
    }
    let Some(cut) = cut else {
        scan.out.damaged = damaged;
        return Ok(scan.out);
    };
    let done = if read_only {
        "opened read-only, they were left in place and not read".to_owned()
    } else {
        let aside = move_aside(file, path, cut, len)?;
        file.set_len(cut).map_err(|e| io(path, e))?;
        file.sync_all().map_err(|e| io(path, e))?;
        format!("they were moved to {} and cut off", aside.display())
    };
    if scan.torn != Some(cut) || read_only {
        if let Some(spill) = from.spill {
            spill.restart();
        }
        scan = self::scan(file, path, from, cut, true)?;
    }
    scan.out.notes.push(format!(
        "{}: {} bytes after byte {cut} did not read as complete records (writes a crash \
         interrupted before they were synced); {done}",
        path.display(),
        len - cut
    ));
    for (record_at, key, _) in scan.bad.values() {
        scan.out.damaged.push(damage(path, key, *record_at));
    }
    Ok(scan.out)
}

/// The audit's full check of the journal up to `end` (what [`recover`] checks at open, but over
/// records an on-disk index spared the open from reading): records that do not read whole,
/// and kept values that do not match their digests, unless `kept` (asked once the scan is
/// over) says a value is no longer kept: a disposal that landed during the scan, beyond `end`,
/// may have punched it. Memory is bounded by the damage found.
pub fn damage_scan(
    file: &File,
    path: &Path,
    end: u64,
    keyer: &Keyer,
    kept: &dyn Fn(&[u8], Extent) -> bool,
) -> Vec<String> {
    let from = From {
        at: 0,
        base: None,
        keyer,
        spill: None,
    };
    let s = match scan(file, path, &from, end, false) {
        Ok(s) => s,
        Err(e) => return vec![e.to_string()],
    };
    let mut out: Vec<String> = s
        .torn
        .map(|at| {
            format!(
                "{}: the record at byte {at} does not read as a whole record",
                path.display()
            )
        })
        .into_iter()
        .collect();
    out.extend(
        s.bad
            .values()
            .filter(|(_, key, extent)| kept(key, *extent))
            .map(|(at, key, _)| damage(path, key, *at)),
    );
    out
}

struct Scan {
    out: Recovered,
    /// Offset of the first record that does not read whole.
    torn: Option<u64>,
    /// The highest durable mark of any record read (or the offset the index covered, which
    /// was synced before the index said so).
    durable: u64,
    /// Keys whose value does not match its digest: record offset, key and value, by hash.
    bad: HashMap<u128, (u64, Vec<u8>, Extent)>,
}

/// Reads records from `from.at` up to `limit`; with `keep_index`, builds the index of what it
/// read (without, only damage is tracked, in memory bounded by the damage).
fn scan(
    file: &File,
    path: &Path,
    from: &From<'_>,
    limit: u64,
    keep_index: bool,
) -> Result<Scan, StoreError> {
    let mut reader = BufReader::with_capacity(1 << 20, file);
    std::io::Seek::seek(&mut reader, std::io::SeekFrom::Start(from.at)).map_err(|e| io(path, e))?;
    let mut s = Scan {
        out: Recovered::default(),
        torn: None,
        durable: from.at,
        bad: HashMap::new(),
    };
    let mut off = from.at;
    while off < limit {
        let Some(header) = read_header(&mut reader, path, limit - off)? else {
            s.torn = Some(off);
            break;
        };
        let mut meta = vec![0; header.meta_len as usize];
        let whole = header.record_len() <= limit - off;
        if whole {
            reader.read_exact(&mut meta).map_err(|e| io(path, e))?;
        }
        let Some(m) = whole.then(|| record::parse_meta(&header, &meta)).flatten() else {
            s.torn = Some(off);
            break;
        };
        let mut at = off + HEADER as u64 + u64::from(header.meta_len);
        for op in m.ops {
            apply_op(
                &mut s,
                &mut reader,
                path,
                from,
                (off, &mut at),
                op,
                keep_index,
            )?;
        }
        if off == 0 {
            s.out.first = Some(header.sum());
        }
        s.out.last = Some((off, header.sum()));
        s.out.records += 1;
        s.durable = s.durable.max(m.durable);
        off += header.record_len();
        if keep_index && let Some(spill) = from.spill {
            spill.spill(&mut s.out.index)?;
        }
    }
    s.out.end = s.torn.unwrap_or(off);
    Ok(s)
}

/// One operation of a record read whole: its value read and checked, the index updated.
fn apply_op(
    s: &mut Scan,
    reader: &mut impl Read,
    path: &Path,
    from: &From<'_>,
    (record_at, at): (u64, &mut u64),
    op: MetaOp,
    keep_index: bool,
) -> Result<(), StoreError> {
    match op {
        MetaOp::Put { key, len, digest } => {
            let mut value = vec![0; len as usize];
            reader.read_exact(&mut value).map_err(|e| io(path, e))?;
            let extent = Extent { off: *at, len };
            *at += u64::from(len);
            let h = from.keyer.hash(&key);
            if record::value_digest(&value) == digest {
                s.bad.remove(&h);
            } else {
                s.bad.insert(h, (record_at, key, extent));
            }
            if keep_index {
                s.out.index.insert(h, Some(extent));
            }
        }
        MetaOp::Remove { key } => {
            let h = from.keyer.hash(&key);
            // A disposed value reading as zeros was punched; one that still matches its digest
            // was not, and is destroyed now.
            let was_bad = s.bad.remove(&h).is_some();
            if !keep_index {
                return Ok(());
            }
            let before = match (s.out.index.remove(h), from.base) {
                (Some(found), _) => found.map(|e| (e, !was_bad)),
                // Filed before the tail: its digest was not read here, so the bytes tell.
                (None, Some(base)) => base(h)?.map(|e| (e, true)),
                (None, None) => None,
            };
            if from.base.is_some() {
                s.out.index.insert(h, None);
            }
            if let Some((extent, intact)) = before
                && intact
            {
                s.out.repunch.push(extent);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
thread_local! {
    /// Tests: how many times this thread listed a space of a journal (each a read of the
    /// whole journal's metadata).
    pub static KEY_SCANS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Every key of the space with one-byte `prefix` in the journal up to `end`, in byte order:
/// the records' metadata read, their values skipped (for exports and audits).
pub fn keys(file: &File, path: &Path, end: u64, prefix: u8) -> Result<Vec<Vec<u8>>, StoreError> {
    #[cfg(test)]
    KEY_SCANS.with(|n| n.set(n.get() + 1));
    let mut reader = BufReader::with_capacity(1 << 20, file);
    std::io::Seek::seek(&mut reader, std::io::SeekFrom::Start(0)).map_err(|e| io(path, e))?;
    let mut keys = std::collections::BTreeSet::new();
    let mut off = 0u64;
    while off < end {
        let damaged = || {
            StoreError::Damaged(format!(
                "{}: the record at byte {off} no longer reads whole",
                path.display()
            ))
        };
        let header = read_header(&mut reader, path, end - off)?.ok_or_else(damaged)?;
        let mut meta = vec![0; header.meta_len as usize];
        reader.read_exact(&mut meta).map_err(|e| io(path, e))?;
        let m = record::parse_meta(&header, &meta).ok_or_else(damaged)?;
        for op in m.ops {
            match op {
                MetaOp::Put { key, .. } if key.first() == Some(&prefix) => {
                    keys.insert(key.get(1..).unwrap_or_default().to_vec());
                }
                MetaOp::Remove { key } if key.first() == Some(&prefix) => {
                    keys.remove(key.get(1..).unwrap_or_default());
                }
                _ => {}
            }
        }
        let skip = i64::try_from(header.data_len).map_err(|_| damaged())?;
        reader.seek_relative(skip).map_err(|e| io(path, e))?;
        off += header.record_len();
    }
    Ok(keys.into_iter().collect())
}

fn read_header(
    reader: &mut impl Read,
    path: &Path,
    left: u64,
) -> Result<Option<Header>, StoreError> {
    if left < HEADER as u64 {
        return Ok(None);
    }
    let mut raw = [0; HEADER];
    reader.read_exact(&mut raw).map_err(|e| io(path, e))?;
    Ok(Header::parse(raw))
}

/// Looks past a torn record for any record that reads whole; returns its durable mark if that
/// mark lies beyond the torn record (which then was synced, and is damaged, not torn). The tail
/// is searched for the record magic a window at a time, so its size does not matter.
fn synced_beyond(file: &File, path: &Path, torn: u64, len: u64) -> Result<Option<u64>, StoreError> {
    const WINDOW: u64 = 1 << 20;
    let magic = record::MAGIC.len() as u64;
    let mut window = Vec::new();
    let mut from = torn + 1;
    while from + magic <= len {
        // Windows overlap by the magic's length less one, so none is missed at a seam.
        let take = WINDOW.min(len - from);
        window.resize(take as usize, 0);
        file.read_exact_at(&mut window, from)
            .map_err(|e| io(path, e))?;
        for (i, _) in window
            .windows(record::MAGIC.len())
            .enumerate()
            .filter(|(_, w)| *w == record::MAGIC)
        {
            if let Some(mark) = mark_at(file, from + i as u64, len)
                && mark > torn
            {
                return Ok(Some(mark));
            }
        }
        if from + take >= len {
            break;
        }
        from += take - (magic - 1);
    }
    Ok(None)
}

/// The durable mark of a record that reads whole at `at`, if one does.
fn mark_at(file: &File, at: u64, len: u64) -> Option<u64> {
    let mut raw = [0; HEADER];
    if len - at < HEADER as u64 {
        return None;
    }
    file.read_exact_at(&mut raw, at).ok()?;
    let header = Header::parse(raw)?;
    if header.record_len() > len - at {
        return None;
    }
    let mut meta = vec![0; header.meta_len as usize];
    file.read_exact_at(&mut meta, at + HEADER as u64).ok()?;
    record::parse_meta(&header, &meta).map(|m| m.durable)
}

/// Copies bytes `cut..len` to a new file beside the journal, synced, and returns its path.
fn move_aside(file: &File, path: &Path, cut: u64, len: u64) -> Result<PathBuf, StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut n = 0;
    let aside = loop {
        let candidate = dir.join(format!("torn-at-{cut}.{n}"));
        if !candidate.exists() {
            break candidate;
        }
        n += 1;
    };
    let mut out = File::create_new(&aside).map_err(|e| io(&aside, e))?;
    let mut reader = BufReader::new(file);
    std::io::Seek::seek(&mut reader, std::io::SeekFrom::Start(cut)).map_err(|e| io(path, e))?;
    std::io::copy(&mut reader.take(len - cut), &mut out).map_err(|e| io(&aside, e))?;
    out.sync_all().map_err(|e| io(&aside, e))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io(dir, e))?;
    Ok(aside)
}

/// The sentence for a kept value that does not match its digest.
fn damage(path: &Path, key: &[u8], record_at: u64) -> String {
    format!(
        "{}: the value of key {} (record at byte {record_at}) does not match its digest",
        path.display(),
        crate::verify::certificate::hex(key)
    )
}

fn io(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Io {
        what: format!("{}", path.display()),
        source: e,
    }
}
