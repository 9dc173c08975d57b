//! Random bytes of the data directory flipped: every flip is either reported (audit exits 1,
//! or the archive refuses to open with a sentence) or provably harmless — every entry and
//! every document still byte-identical to the pristine export.

mod common;
use common::*;
use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<(PathBuf, u64)>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else {
            let len = std::fs::metadata(&p).unwrap().len();
            // The sled store's reserve holds zeros that no reader reads: flips there prove
            // nothing, and at 1 MiB it would take most of them.
            if len > 0 && !p.ends_with("tamga.reserve") {
                out.push((p, len));
            }
        }
    }
}

/// Entries and documents of an export, for comparison.
fn snapshot(export: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = vec![(
        "entries".to_owned(),
        std::fs::read(export.join("entries.jsonl")).unwrap(),
    )];
    let mut docs = Vec::new();
    files(&export.join("documents"), &mut docs);
    docs.sort();
    for (p, _) in docs {
        out.push((
            p.strip_prefix(export).unwrap().display().to_string(),
            std::fs::read(&p).unwrap(),
        ));
    }
    out
}

#[test]
fn every_flip_in_sled_is_reported_or_harmless() {
    every_flip_is_reported_or_harmless("sled", "archive");
}

#[test]
fn every_flip_in_the_journal_is_reported_or_harmless() {
    every_flip_is_reported_or_harmless("journal", "journal");
}

/// Flips bits in the files of `store`, kept under `<data>/<subdir>`.
fn every_flip_is_reported_or_harmless(store: &str, subdir: &str) {
    let dir = tempfile::tempdir().unwrap();
    let pristine = dir.path().join("pristine");
    file_fixtures(&pristine, store);
    let reference = dir.path().join("reference");
    assert!(
        tamga_cmd(&pristine)
            .arg("export")
            .arg("--out")
            .arg(&reference)
            .status()
            .unwrap()
            .success()
    );
    let want = snapshot(&reference);

    let mut targets = Vec::new();
    files(&pristine.join(subdir), &mut targets);
    let total: u64 = targets.iter().map(|(_, n)| n).sum();
    let (mut reported, mut harmless) = (0, 0);
    for round in 0..200 {
        let work = dir.path().join(format!("work{round}"));
        copy_dir(&pristine, &work);
        let (file, offset) = flip_a_bit(&pristine, &work, &targets, total);
        if judge(&work, round, &want, file, offset) {
            reported += 1;
        } else {
            harmless += 1;
        }
        std::fs::remove_dir_all(&work).unwrap();
    }
    eprintln!("tamper test ({store}): {reported} flips reported, {harmless} provably harmless");
    assert_eq!(reported + harmless, 200);
}

/// Files five fixtures into a new archive of `store` at `pristine`, then reopens it once.
fn file_fixtures(pristine: &Path, store: &str) {
    {
        let ingest = ingest_on(pristine, store);
        for (i, f) in [
            "rsa-attached.der",
            "p256.der",
            "ed25519.der",
            "expired.der",
            "ber-stream.der",
        ]
        .iter()
        .enumerate()
        {
            let sig = std::fs::read(fixtures().join("sig").join(f)).unwrap();
            let s = tamga::ingest::Submission {
                case: "01-05",
                signature: &sig,
                content: None,
                sender_ref: Some(&i.to_string()),
                received_at: AT,
                submitter: None,
            };
            ingest.submit(&s).unwrap();
        }
    }
    // Reopened once by a writer, as a service restart does: sled writes a snapshot as it
    // opens. (Audits and exports no longer write, so they no longer do this on the way.)
    // sled drops, without a word, a damaged record after its last snapshot: a flip there would
    // lose the last batch and still read as intact, a weakness of sled the audit cannot see.
    drop(ingest(pristine));
}

/// Flips one bit of `work`'s copy of `targets` (files under `pristine`, `total` bytes in
/// all), at a byte chosen uniformly over all of them; returns the pristine file and offset.
fn flip_a_bit<'a>(
    pristine: &Path,
    work: &Path,
    targets: &'a [(PathBuf, u64)],
    total: u64,
) -> (&'a Path, u64) {
    let mut at = random_u64() % total;
    let (file, offset) = targets
        .iter()
        .find_map(|(p, n)| {
            if at < *n {
                Some((p, at))
            } else {
                at -= n;
                None
            }
        })
        .unwrap();
    let target = work.join(file.strip_prefix(pristine).unwrap());
    let mut bytes = std::fs::read(&target).unwrap();
    bytes[offset as usize] ^= 1 << (random_u64() % 8);
    std::fs::write(&target, &bytes).unwrap();
    (file, offset)
}

/// Audits `work` after the flip in `file` at `offset`: true if the audit reported it (with a
/// sentence, no panic); false if it passed and the export is byte-identical to `want`.
fn judge(work: &Path, round: u32, want: &[(String, Vec<u8>)], file: &Path, offset: u64) -> bool {
    let audit = tamga_cmd(work)
        .args(["audit", "verify", "--full"])
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&audit.stdout),
        String::from_utf8_lossy(&audit.stderr)
    );
    match audit.status.code() {
        Some(1) | Some(2) => {
            assert!(
                !said.trim().is_empty() && !said.contains("panicked"),
                "round {round}: {said}"
            );
            true
        }
        Some(0) => {
            let export = work.join("export");
            let ok = tamga_cmd(work)
                .arg("export")
                .arg("--out")
                .arg(&export)
                .output()
                .unwrap();
            assert!(
                ok.status.success(),
                "round {round}: audit passed but export failed: {}",
                String::from_utf8_lossy(&ok.stderr)
            );
            assert!(
                snapshot(&export) == want,
                "round {round}: flip in {} at {offset} passed audit but changed kept data",
                file.display()
            );
            false
        }
        other => panic!(
            "round {round}: flip in {} at {offset}: audit ended with {other:?}: {said}",
            file.display()
        ),
    }
}
