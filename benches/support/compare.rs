//! `cargo bench --bench scale -- compare STORE N [FLIPS] [SECONDS]`: the two embedded stores
//! side by side at `N` documents (issue #15 item 5), on what the scale rows do not show:
//!
//! - **space reclaimed after disposal**: 90 % of the documents are filed into a permanent case
//!   (01-05, small), 10 % into one long due (99-01, 4 KiB of random bytes each); an act over 99-01 is drafted, approved twice and
//!   executed (the real `retention::acts` path), and the blocks the store's directory occupies
//!   (`st_blocks`, as `du` counts them) are compared before and after, and after a reopen;
//! - **open time and resident memory** of a fresh process (the scale bench's child mode);
//! - **corruption detection**: up to `FLIPS` (default 200) random bit flips, each at a byte
//!   chosen uniformly over the store's files, each followed by `tamga audit verify --full`.
//!   A flip is *reported* (the audit exits 1 or 2 with a sentence), *harmless* (the audit
//!   passes and an export is byte-identical to the pristine one), or *undetected* (the audit
//!   passes but the export differs). At large `N` an export per flip is too slow, so above
//!   [`EXPORT_UP_TO`] documents (or when the pristine export is refused) a passed audit is
//!   counted as *passed* without the comparison.
//!   Flips stop after `SECONDS` (default 360). The flip is made in place and undone after the
//!   audit: neither the audit nor the export writes to the data directory (sled's is opened
//!   on a private copy, the journal read-only).
#![allow(dead_code)]

use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Above this many documents a passed audit is not followed by an export comparison.
pub const EXPORT_UP_TO: u64 = 20_000;

/// When the act is drafted and executed: 2040-01-01, long after 99-01 (closed 2024, 3 years)
/// is due.
const DISPOSE_AT: i64 = 2_208_988_800;

/// What one flip did.
#[derive(Default, Debug)]
pub struct Flips {
    /// The audit exited 1 or 2 with a sentence.
    pub reported: u64,
    /// The audit passed and the export was byte-identical.
    pub harmless: u64,
    /// The audit passed and the export differed.
    pub undetected: u64,
    /// The audit passed; no export was compared (large archives).
    pub passed: u64,
}

/// Size of each document of the case disposed of: incompressible, about a real filing's chunks
/// (5.4 KB, README "Scale"), so that what disposal returns is not lost in block rounding.
pub const DISPOSED_SIZE: usize = 4096;

/// Files synthetic documents `from..to` of [`DISPOSED_SIZE`] random bytes into `case`
/// (registered in order from 1).
pub fn fill_case(a: &tamga::archive::Archive, case: &str, from: u64, to: u64) {
    use sha2::Digest;
    let mut i = from;
    while i < to {
        let k = 64.min(to - i);
        a.append(|txn| {
            for j in i..i + k {
                let doc = super::support::noise(j, DISPOSED_SIZE, false);
                let blob = tamga::archive::blobs::prepare(&doc).unwrap();
                txn.put_blob(blob)?;
                let n = txn.next_registration(case)?;
                let registration = format!("{case}/{n}");
                txn.register(&registration);
                let mut event = super::fill::accepted(j);
                if let tamga::archive::log::Event::Accepted {
                    case: c,
                    registration: r,
                    files,
                    ..
                } = &mut event
                {
                    *c = case.into();
                    *r = registration;
                    for f in files {
                        f.sha256 = tamga::verify::certificate::hex(&sha2::Sha256::digest(&doc));
                        f.size = doc.len() as u64;
                    }
                }
                txn.push(event, super::fill::AT);
            }
            Ok(())
        })
        .unwrap();
        i += k;
    }
}

/// Bytes of disk blocks used under `dir` (st_blocks × 512, as `du` counts them).
pub fn blocks(dir: &Path) -> u64 {
    let mut total = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let m = std::fs::symlink_metadata(&p).unwrap();
        total += if m.is_dir() {
            blocks(&p)
        } else {
            m.blocks() * 512
        };
    }
    total
}

/// Drafts, approves (twice) and executes an act over case 99-01; returns the documents it
/// disposed of.
pub fn dispose(ingest: &tamga::ingest::Ingest) -> usize {
    use tamga::retention::acts;
    let (a, p) = (&ingest.archive, &ingest.policy);
    let act = acts::draft(a, p, &["99-01".into()], "Иванова", DISPOSE_AT).unwrap();
    acts::approve(a, &act.act, "Ахметов", DISPOSE_AT).unwrap();
    acts::approve(a, &act.act, "Серикова", DISPOSE_AT).unwrap();
    let done = acts::execute(a, p, &act.act, DISPOSE_AT).unwrap();
    done.documents.len()
}

/// The store's files (not sled's 1 MiB reserve of zeros no reader reads), with their lengths.
pub fn files(dir: &Path, out: &mut Vec<(PathBuf, u64)>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else {
            let len = std::fs::metadata(&p).unwrap().len();
            if len > 0 && !p.ends_with("tamga.reserve") {
                out.push((p, len));
            }
        }
    }
}

/// The `tamga` binary over `data` with the bench's trust store and policy.
fn tamga_cmd(data: &Path) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_tamga"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("--data")
        .arg(data)
        .arg("--trust")
        .arg(super::support::fixtures().join("trust"))
        .arg("--keys")
        .arg(data.join("none"));
    c
}

/// Entries and documents of an export of `data` into `out` (removed after), for comparison.
fn export(data: &Path, out: &Path) -> Option<Vec<(PathBuf, Vec<u8>)>> {
    let ok = tamga_cmd(data)
        .arg("export")
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    if !ok.status.success() {
        return None;
    }
    let mut all = Vec::new();
    files(out, &mut all);
    all.sort();
    let got = all
        .into_iter()
        .map(|(p, _)| {
            let bytes = std::fs::read(&p).unwrap();
            (p.strip_prefix(out).unwrap().to_path_buf(), bytes)
        })
        .collect();
    std::fs::remove_dir_all(out).unwrap();
    Some(got)
}

/// A random number from the OS-seeded hasher.
fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0);
    h.finish()
}

/// Up to `max` flips in `store_dir` (inside `data`), each audited, within `seconds`.
pub fn flips(data: &Path, store_dir: &Path, size: u64, max: u64, seconds: f64) -> (Flips, u64) {
    let mut targets = Vec::new();
    files(store_dir, &mut targets);
    let total: u64 = targets.iter().map(|(_, n)| n).sum();
    let scratch = data.with_extension("export");
    // The synthetic filings carry no receipt, so an export of them may be refused: then a
    // passed audit is counted as passed, not compared.
    let want = (size <= EXPORT_UP_TO)
        .then(|| export(data, &scratch))
        .flatten();
    let mut out = Flips::default();
    if max == 0 {
        return (out, 0);
    }
    // A flip is only "reported" if the pristine archive passes the same audit.
    let pristine = tamga_cmd(data)
        .args(["audit", "verify", "--full"])
        .output()
        .unwrap();
    assert!(
        pristine.status.success(),
        "the pristine archive fails the audit: {}{}",
        String::from_utf8_lossy(&pristine.stdout),
        String::from_utf8_lossy(&pristine.stderr)
    );
    let start = Instant::now();
    let mut done = 0;
    while done < max && start.elapsed().as_secs_f64() < seconds {
        let mut at = random_u64() % total;
        let Some((file, offset)) = targets.iter().find_map(|(p, n)| {
            if at < *n {
                Some((p, at))
            } else {
                at -= n;
                None
            }
        }) else {
            break;
        };
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(file)
            .unwrap();
        let mut byte = [0u8];
        f.read_exact_at(&mut byte, offset).unwrap();
        let original = byte[0];
        byte[0] ^= 1 << (random_u64() % 8);
        f.write_all_at(&byte, offset).unwrap();
        let audit = tamga_cmd(data)
            .args(["audit", "verify", "--full"])
            .output()
            .unwrap();
        match audit.status.code() {
            Some(1) | Some(2) => out.reported += 1,
            Some(0) => match &want {
                None => out.passed += 1,
                Some(w) if export(data, &scratch).as_ref() == Some(w) => out.harmless += 1,
                Some(_) => {
                    eprintln!("undetected: {} at {offset}", file.display());
                    out.undetected += 1;
                }
            },
            other => panic!(
                "flip in {} at {offset}: audit ended with {other:?}: {}",
                file.display(),
                String::from_utf8_lossy(&audit.stderr)
            ),
        }
        f.write_all_at(&[original], offset).unwrap();
        let _ = std::fs::remove_dir_all(&scratch);
        done += 1;
    }
    (out, done)
}
