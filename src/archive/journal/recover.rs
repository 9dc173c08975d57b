//! Reading the journal at open. Every record is read and checked, and the index is rebuilt
//! from them. A tail that does not read as records is what a crash leaves of writes never
//! synced: it is moved aside, never deleted, and cut off. Damage inside data that was synced
//! is refused instead, because cutting there would drop documents that had their receipts.

use super::record::{self, HEADER, Header, MetaOp};
use crate::archive::store::{Space, StoreError};
use std::collections::{BTreeMap, HashMap};
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

/// What the index holds for a key.
#[derive(Debug, Clone)]
pub enum Slot {
    /// Look-up tables are small and read on every filing: kept in memory.
    Inline(Vec<u8>),
    /// Everything else is read from the file.
    At(Extent),
}

/// The index space's values are kept inline.
pub fn slot(key: &[u8], value: &[u8], at: Extent) -> Slot {
    if key.first() == Some(&Space::Index.prefix()) {
        Slot::Inline(value.to_vec())
    } else {
        Slot::At(at)
    }
}

/// The journal as recovered.
#[derive(Debug, Default)]
pub struct Recovered {
    /// Every live key.
    pub index: BTreeMap<Vec<u8>, Slot>,
    /// Where the next record goes.
    pub end: u64,
    /// Disposed values whose bytes are still there (their hole was never punched).
    pub repunch: Vec<Extent>,
    /// What the operator should know: tails moved aside.
    pub notes: Vec<String>,
    /// Kept values that do not match their digests (for the audit to report).
    pub damaged: Vec<String>,
}

/// Rebuilds the index from `file` (the journal at `path`), cutting a torn tail — or, when
/// `read_only`, leaving it in place and reading only up to it (nothing is written).
pub fn recover(file: &File, path: &Path, read_only: bool) -> Result<Recovered, StoreError> {
    let len = file.metadata().map_err(|e| io(path, e))?.len();
    let mut scan = scan(file, path, len)?;
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
    for (key, (record_at, _)) in &scan.bad {
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
        scan = self::scan(file, path, cut)?;
    }
    scan.out.notes.push(format!(
        "{}: {} bytes after byte {cut} did not read as complete records (writes a crash \
         interrupted before they were synced); {done}",
        path.display(),
        len - cut
    ));
    for (key, (record_at, _)) in &scan.bad {
        scan.out.damaged.push(damage(path, key, *record_at));
    }
    Ok(scan.out)
}

struct Scan {
    out: Recovered,
    /// Offset of the first record that does not read whole.
    torn: Option<u64>,
    /// The highest durable mark of any record read.
    durable: u64,
    /// Live keys whose value does not match its digest: (record offset, extent).
    bad: HashMap<Vec<u8>, (u64, Extent)>,
}

fn scan(file: &File, path: &Path, limit: u64) -> Result<Scan, StoreError> {
    let mut reader = BufReader::with_capacity(1 << 20, file);
    std::io::Seek::seek(&mut reader, std::io::SeekFrom::Start(0)).map_err(|e| io(path, e))?;
    let mut s = Scan {
        out: Recovered::default(),
        torn: None,
        durable: 0,
        bad: HashMap::new(),
    };
    let mut off = 0u64;
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
            match op {
                MetaOp::Put { key, len, digest } => {
                    let mut value = vec![0; len as usize];
                    reader.read_exact(&mut value).map_err(|e| io(path, e))?;
                    let extent = Extent { off: at, len };
                    at += u64::from(len);
                    if record::value_digest(&value) == digest {
                        s.bad.remove(&key);
                    } else {
                        s.bad.insert(key.clone(), (off, extent));
                    }
                    s.out.index.insert(key.clone(), slot(&key, &value, extent));
                }
                MetaOp::Remove { key } => {
                    if let Some(Slot::At(extent)) = s.out.index.remove(&key) {
                        // A disposed value reading as zeros was punched; one that still
                        // matches its digest was not, and is destroyed now.
                        if s.bad.remove(&key).is_none() {
                            s.out.repunch.push(extent);
                        }
                    }
                }
            }
        }
        s.durable = s.durable.max(m.durable);
        off += header.record_len();
    }
    s.out.end = s.torn.unwrap_or(off);
    Ok(s)
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
