//! SIGKILL at random moments while importing: afterwards the archive opens, a full audit
//! passes, and every document whose receipt was issued is there, byte-identical.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn receipt_regno(path: &Path) -> Option<String> {
    let der = std::fs::read(path).ok()?;
    let sd = tamga::verify::cms::parse(&der).ok()?;
    let body: serde_json::Value = serde_json::from_slice(sd.content.as_deref()?).ok()?;
    body["registration"]["number"].as_str().map(str::to_owned)
}

#[test]
fn sigkill_never_loses_a_receipted_document_nor_breaks_a_sled_archive() {
    sigkill_rounds("sled");
}

#[test]
fn sigkill_never_loses_a_receipted_document_nor_breaks_a_journal_archive() {
    sigkill_rounds("journal");
}

/// Imports into a fresh archive of `store`, killed at random moments.
fn sigkill_rounds(store: &str) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // Documents of several sizes, one spanning several chunks.
    let big = dir.path().join("big.bin");
    let mut x = random_u64() | 1;
    let bytes = xorshift_bytes(&mut x, 3 * 1024 * 1024 + 17);
    std::fs::write(&big, &bytes).unwrap();
    let big_sig = dir.path().join("big.p7s");
    openssl_sign_detached(&big, &big_sig);
    let docs: Vec<(PathBuf, Option<PathBuf>)> = vec![
        (fixtures().join("sig/rsa-attached.der"), None),
        (fixtures().join("sig/p256.der"), None),
        (big_sig.clone(), Some(big.clone())),
        (
            fixtures().join("sig/rsa-detached.der"),
            Some(fixtures().join("sig/doc.txt")),
        ),
    ];
    // Kill moments are drawn from how long each import takes on this machine, not from a
    // fixed window: a fast CI runner finishes a small import before a fixed delay expires.
    let calibration = dir.path().join("calibration");
    let spans: Vec<u64> = docs
        .iter()
        .map(|(sig, content)| {
            let started = std::time::Instant::now();
            let mut cmd = import_cmd(&calibration, store, sig, content.as_deref(), "calibrate");
            assert!(cmd.status().unwrap().success(), "calibration import failed");
            (started.elapsed().as_micros() as u64).max(1)
        })
        .collect();
    let mut receipted: Vec<(String, PathBuf, Option<PathBuf>)> = Vec::new();
    let mut kills = 0;
    for round in 0..ROUNDS {
        let (sig, content) = &docs[round % docs.len()];
        let out = dir.path().join(format!("receipt-{round}.p7s"));
        let mut cmd = import_cmd(&data, store, sig, content.as_deref(), &format!("r{round}"));
        cmd.arg("--receipt-out").arg(&out);
        let mut child = cmd.spawn().unwrap();
        // Up to 1.5 times the calibrated span: most imports die mid-way, some finish.
        let span = spans[round % spans.len()] * 3 / 2;
        std::thread::sleep(Duration::from_micros(random_u64() % span));
        if child.try_wait().unwrap().is_none() {
            kills += 1;
        }
        child.kill().ok();
        child.wait().unwrap();
        if let Some(regno) = receipt_regno(&out) {
            receipted.push((regno, sig.clone(), content.clone()));
        }
        audit_and_check(&data, store, round, &receipted);
    }
    eprintln!(
        "crash test ({store}): {kills} of {ROUNDS} imports killed mid-way, {} receipted documents checked after every kill",
        receipted.len()
    );
    assert!(
        kills >= 5,
        "only {kills} imports were killed mid-way; the test did not test"
    );
    // And the archive still takes documents after all those kills.
    let (sig, content) = &docs[0];
    let out = dir.path().join("receipt-final.p7s");
    let mut cmd = import_cmd(&data, store, sig, content.as_deref(), "final");
    assert!(
        cmd.arg("--receipt-out")
            .arg(&out)
            .status()
            .unwrap()
            .success()
    );
    let regno = receipt_regno(&out).expect("a receipt after an uninterrupted import");
    receipted.push((regno, sig.clone(), content.clone()));
    audit_and_check(&data, store, ROUNDS, &receipted);
}

const ROUNDS: usize = 30;

fn import_cmd(
    data: &Path,
    store: &str,
    sig: &Path,
    content: Option<&Path>,
    sender_ref: &str,
) -> std::process::Command {
    let mut cmd = store_cmd(data, store);
    cmd.args([
        "import",
        "--case",
        "02-03",
        "--at",
        "2026-06-01T00:00:00Z",
        "--sender-ref",
        sender_ref,
    ])
    .arg(sig)
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null());
    if let Some(c) = content {
        cmd.arg("--content").arg(c);
    }
    cmd
}

/// `tamga` naming the store: a kill before the first import created its store would otherwise
/// leave the audit after it to create the default one.
fn store_cmd(data: &Path, store: &str) -> std::process::Command {
    let mut cmd = tamga_cmd(data);
    cmd.args(["--store", store]);
    cmd
}

/// After a kill: the archive opens, a full audit passes and every receipted document is intact.
fn audit_and_check(
    data: &Path,
    store: &str,
    round: usize,
    receipted: &[(String, PathBuf, Option<PathBuf>)],
) {
    if receipted.is_empty() {
        // Nothing acknowledged yet: the first import was killed before its receipt, maybe
        // before the store was whole (a directory without its journal) or before the first
        // checkpoint (entries no checkpoint signs, which the read-only audit reports as
        // altered). The next writer makes that tail durable and checkpoints it; the
        // uninterrupted import and audit at the end check that it does.
        return;
    }
    assert_full_audit_passes(store_cmd(data, store), round);
    for (regno, sig, content) in receipted {
        let got = store_cmd(data, store)
            .args(["get", regno])
            .output()
            .unwrap();
        assert_eq!(
            got.stdout,
            std::fs::read(sig).unwrap(),
            "round {round}: {regno} lost"
        );
        if let Some(c) = content {
            let got = store_cmd(data, store)
                .args(["get", "--content", regno])
                .output()
                .unwrap();
            assert_eq!(
                got.stdout,
                std::fs::read(c).unwrap(),
                "round {round}: {regno} content lost"
            );
        }
    }
}
