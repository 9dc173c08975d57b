//! The archive through the library pipeline: every fixture filed, receipts checked by OpenSSL,
//! documents back byte-identical, retries idempotent, numbering gapless under concurrency,
//! exports checkable offline.

mod common;
use common::*;
use std::process::Command;
use tamga::archive::blobs;
use tamga::archive::store::Space;
use tamga::ingest::Submission;
use tamga::verify::{Policy, Status};

fn sub<'a>(
    case: &'a str,
    sig: &'a [u8],
    content: Option<&'a [u8]>,
    sender_ref: Option<&'a str>,
) -> Submission<'a> {
    Submission {
        case,
        signature: sig,
        content: content.map(tamga::ingest::Payload::Bytes),
        sender_ref,
        received_at: AT,
        submitter: None,
    }
}

fn body(outcome: &tamga::ingest::Outcome) -> serde_json::Value {
    serde_json::from_slice(&outcome.body()).unwrap()
}

#[test]
fn every_fixture_is_filed_with_its_verdict_and_a_receipt_openssl_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let ingest = ingest(dir.path());
    let verifier = verifier(&fixtures().join("trust"), Policy::default());
    let sig_dir = fixtures().join("sig");
    let mut names: Vec<String> = std::fs::read_dir(&sig_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let cert = dir.path().join("keys/receipt.pem");
    let mut accepted = 0;
    for name in names
        .iter()
        .filter(|n| n.ends_with(".der") || n.ends_with(".pem"))
    {
        let sig = std::fs::read(sig_dir.join(name)).unwrap();
        let content =
            (name == "rsa-detached.der").then(|| std::fs::read(sig_dir.join("doc.txt")).unwrap());
        let expected = verifier.verify(&sig, content.as_deref(), AT);
        let out = ingest
            .submit(&sub("01-05", &sig, content.as_deref(), Some(name)))
            .unwrap();
        assert_eq!(out.status, expected.status, "{name}");
        let b = body(&out);
        let got: Vec<String> = b["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["code"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            got.iter().collect::<std::collections::BTreeSet<_>>(),
            codes(&expected).iter().collect(),
            "{name}"
        );
        // Stable API fields.
        assert_stable_fields(&b, name, &sig);
        assert_kept_if_accepted(&ingest, &out, &b, name, &sig, &mut accepted);
        let path = dir.path().join("receipt.p7s");
        let at = ["-attime", &AT.to_string()];
        let printed = openssl_verified(&path, &out.receipt, &cert, &at, name);
        assert_eq!(printed, out.body(), "{name}");
    }
    assert!(accepted >= 15, "{accepted}");
    let report = tamga::archive::audit::verify(&ingest.archive, true, &mut |_, _| {}).unwrap();
    assert_eq!(
        report.entries,
        names
            .iter()
            .filter(|n| n.ends_with(".der") || n.ends_with(".pem"))
            .count() as u64
    );
}

/// The answer `b` for the signature file `name` has every stable API field, the case and the
/// signature's digest.
fn assert_stable_fields(b: &serde_json::Value, name: &str, sig: &[u8]) {
    for key in [
        "receipt_id",
        "status",
        "reasons",
        "case",
        "received_at",
        "files",
        "signers",
        "archive",
    ] {
        assert!(!b[key].is_null(), "{name}: {key}");
    }
    assert_eq!(b["case"]["index"], "01-05");
    assert_eq!(
        b["files"][0]["sha256"],
        tamga::verify::certificate::hex(&sha256(sig))
    );
}

/// An accepted `out` has the next registration number (`accepted` counts them) and its bytes
/// back byte-identical; a rejected one an appeal text, and its bytes are not kept.
fn assert_kept_if_accepted(
    ingest: &tamga::ingest::Ingest,
    out: &tamga::ingest::Outcome,
    b: &serde_json::Value,
    name: &str,
    sig: &[u8],
    accepted: &mut u32,
) {
    if out.status == Status::Accepted {
        *accepted += 1;
        assert_eq!(
            b["registration"]["number"],
            format!("01-05/{accepted}"),
            "{name}"
        );
        assert!(b["appeal"].is_null());
        // Back byte-identical.
        let mut back = Vec::new();
        blobs::read(ingest.archive.raw_store(), &sha256(sig), &mut back).unwrap();
        assert_eq!(back, sig, "{name}");
    } else {
        assert!(b["registration"].is_null());
        assert!(
            b["appeal"]["kk"].is_string(),
            "{name}: rejection without appeal text"
        );
        // Rejected bytes are not kept (unless the same bytes were accepted elsewhere).
        assert!(
            ingest
                .archive
                .raw_store()
                .get(Space::Blobs, &sha256(sig))
                .unwrap()
                .is_none(),
            "{name}"
        );
    }
}

fn sha256(b: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(b).into()
}

#[test]
fn a_retry_gets_the_same_receipt_byte_for_byte_and_files_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let ingest = ingest(dir.path());
    let sig = std::fs::read(fixtures().join("sig/rsa-detached.der")).unwrap();
    let doc = std::fs::read(fixtures().join("sig/doc.txt")).unwrap();
    let first = ingest
        .submit(&sub("01-05", &sig, Some(&doc), Some("№ 1")))
        .unwrap();
    let size = ingest.archive.size();
    let mut later = sub("01-05", &sig, Some(&doc), Some("№ 1"));
    later.received_at += 3600;
    let again = ingest.submit(&later).unwrap();
    assert!(again.replay && !first.replay);
    assert_eq!(again.receipt, first.receipt);
    assert_eq!(ingest.archive.size(), size);
    // A different sender reference is a different submission.
    let other = ingest
        .submit(&sub("01-05", &sig, Some(&doc), Some("№ 2")))
        .unwrap();
    assert_ne!(other.receipt_id, first.receipt_id);
    assert_eq!(body(&other)["registration"]["number"], "01-05/2");
    // The same bytes are stored once.
    let chunks = ingest
        .archive
        .raw_store()
        .keys(Space::Chunks)
        .unwrap()
        .len();
    assert_eq!(
        chunks, 6,
        "signature and content, once each, and the evidence (root, two CRLs, settings) once"
    );
    // Rejections are idempotent too.
    let bad = std::fs::read(fixtures().join("sig/expired.der")).unwrap();
    let r1 = ingest.submit(&sub("01-05", &bad, None, None)).unwrap();
    let r2 = ingest.submit(&sub("01-05", &bad, None, None)).unwrap();
    assert_eq!(r1.receipt, r2.receipt);
    assert_eq!(r1.status, Status::Rejected);
}

#[test]
fn unknown_and_closed_cases_are_policy_violations() {
    let dir = tempfile::tempdir().unwrap();
    let ingest = ingest(dir.path());
    let sig = std::fs::read(fixtures().join("sig/p256.der")).unwrap();
    for case in ["77-77", "99-01"] {
        let out = ingest.submit(&sub(case, &sig, None, None)).unwrap();
        assert_eq!(out.status, Status::Rejected);
        assert_eq!(
            body(&out)["reasons"][0]["code"],
            "policy-violation",
            "{case}"
        );
    }
}

#[test]
fn concurrent_submissions_get_gapless_numbers_and_share_commits() {
    let dir = tempfile::tempdir().unwrap();
    let ingest = std::sync::Arc::new(ingest(dir.path()));
    let sig = std::sync::Arc::new(std::fs::read(fixtures().join("sig/p256.der")).unwrap());
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let (ingest, sig) = (ingest.clone(), sig.clone());
            std::thread::spawn(move || {
                (0..10)
                    .map(|i| {
                        let r = format!("{t}-{i}");
                        let out = ingest.submit(&sub("02-03", &sig, None, Some(&r))).unwrap();
                        body(&out)["registration"]["number"]
                            .as_str()
                            .unwrap()
                            .to_owned()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut numbers: Vec<u64> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .map(|n| n.strip_prefix("02-03/").unwrap().parse().unwrap())
        .collect();
    numbers.sort();
    assert_eq!(numbers, (1..=80).collect::<Vec<_>>());
    let report = tamga::archive::audit::verify(&ingest.archive, true, &mut |_, _| {}).unwrap();
    assert_eq!(report.entries, 80);
    // Group commit: fewer checkpoints than commits would have made one each.
    let checkpoints = ingest
        .archive
        .raw_store()
        .keys(Space::Checkpoints)
        .unwrap()
        .len();
    assert!(checkpoints <= 80, "{checkpoints}");
}

#[test]
fn export_is_checkable_offline_and_tampering_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let ingest = ingest(dir.path());
    for (i, f) in ["rsa-attached.der", "p256.der", "expired.der", "ed25519.der"]
        .iter()
        .enumerate()
    {
        let sig = std::fs::read(fixtures().join("sig").join(f)).unwrap();
        ingest
            .submit(&sub("01-12", &sig, None, Some(&i.to_string())))
            .unwrap();
    }
    let out = dir.path().join("export");
    tamga::archive::export::write(&ingest.archive, &out).unwrap();
    let report = tamga::archive::export::verify(&out).unwrap();
    assert_eq!((report.entries, report.documents), (4, 3));
    // sha256sum agrees with the package's own list.
    let o = Command::new("sha256sum")
        .arg("-c")
        .arg("SHA256SUMS")
        .current_dir(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));

    let doc = out.join("documents/1/signature.p7s");
    let mut bytes = std::fs::read(&doc).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&doc, &bytes).unwrap();
    let err = tamga::archive::export::verify(&out).unwrap_err();
    assert_eq!(err.index, Some(1));
    assert!(err.what.contains("differs"), "{}", err.what);
    bytes[100] ^= 1;
    std::fs::write(&doc, &bytes).unwrap();

    let entries = out.join("entries.jsonl");
    let text = std::fs::read_to_string(&entries)
        .unwrap()
        .replacen("01-12/2", "01-12/9", 1);
    std::fs::write(&entries, text).unwrap();
    let err = tamga::archive::export::verify(&out).unwrap_err();
    assert!(err.to_string().contains("entry"), "{err}");
}

#[test]
fn a_second_process_gets_a_clear_error_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let held = ingest(dir.path());
    let o = tamga_cmd(dir.path())
        .args(["import", "--case", "01-05", "tests/fixtures/sig/p256.der"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("in use by another tamga process"), "{err}");
    drop(held);
    let o = tamga_cmd(dir.path())
        .args([
            "import",
            "--case",
            "01-05",
            "tests/fixtures/sig/p256.der",
            "--at",
            "2026-06-01T00:00:00Z",
        ])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn access(n: u64) -> tamga::archive::access::Access {
    tamga::archive::access::Access {
        principal: Some("auditor".into()),
        action: "GET /v1/checkpoint".into(),
        target: format!("/v1/checkpoint?n={n}"),
        decision: "allowed",
        status: 200,
    }
}

#[test]
fn access_records_reach_the_store_with_the_checkpoint_that_covers_them() {
    let dir = tempfile::tempdir().unwrap();
    let sig = std::fs::read(fixtures().join("sig/rsa-attached.der")).unwrap();
    {
        let ingest = ingest(dir.path());
        let a = &ingest.archive;
        for n in 0..5 {
            a.record_access(access(n), AT).unwrap();
        }
        // Kept in memory only (chained when written): the store has none of them yet.
        assert_eq!((a.access_pending(), a.access_head().0), (5, 0));
        assert!(a.raw_store().keys(Space::Access).unwrap().is_empty());
        // A commit group writes them in the batch of the checkpoint that names their head.
        ingest.submit(&sub("01-05", &sig, None, Some("a"))).unwrap();
        assert_eq!(a.raw_store().keys(Space::Access).unwrap().len(), 5);
        let cp = a.latest_checkpoint().unwrap().unwrap();
        assert_eq!(cp.access, a.access_head());
        // Records after the checkpoint: written when the archive is dropped.
        for n in 5..8 {
            a.record_access(access(n), AT).unwrap();
        }
    }
    {
        let ingest = ingest(dir.path());
        let a = &ingest.archive;
        assert_eq!(a.access_head().0, 8);
        let records = a.access_records(0, 100).unwrap();
        let targets: Vec<&str> = records.iter().map(|r| r.target.as_str()).collect();
        assert_eq!(targets.len(), 8);
        assert_eq!(targets[7], "/v1/checkpoint?n=7");
    }
    assert_full_audit_passes(tamga_cmd(dir.path()), 0);
}

#[test]
fn a_burst_of_requests_writes_its_access_records_without_a_commit() {
    let dir = tempfile::tempdir().unwrap();
    let ingest = ingest(dir.path());
    let a = &ingest.archive;
    let max = tamga::archive::access::MAX_PENDING as u64;
    for n in 0..max + 3 {
        a.record_access(access(n), AT).unwrap();
    }
    // The MAX_PENDING-th record wrote all waiting ones; three wait again.
    assert_eq!(a.raw_store().keys(Space::Access).unwrap().len() as u64, max);
    a.flush_access().unwrap();
    assert_eq!(
        a.raw_store().keys(Space::Access).unwrap().len() as u64,
        max + 3
    );
}

#[test]
fn a_staged_blob_whose_chunk_was_disposed_meanwhile_is_not_filed() {
    let dir = tempfile::tempdir().unwrap();
    let ingest = ingest(dir.path());
    let store = ingest.archive.raw_store();
    let file = dir.path().join("two-chunks.bin");
    let bytes: Vec<u8> = (0..blobs::CHUNK + 10).map(|i| (i % 253) as u8).collect();
    std::fs::write(&file, &bytes).unwrap();
    let spooled = tamga::spool::Spooled::existing(&file).unwrap();
    let staged = ingest
        .archive
        .stage_spooled(&spooled, &sha256(&bytes))
        .unwrap();
    assert_eq!(staged.name, sha256(&bytes));
    // Both chunks are in the store before any batch refers to them…
    assert_eq!(store.keys(Space::Chunks).unwrap().len(), 2);
    // …so a disposal (another document with the same first chunk) may take one away first.
    let mut gone = tamga::archive::store::Batch::default();
    gone.dispose(Space::Chunks, sha256(&bytes[..blobs::CHUNK]).to_vec());
    store.apply(&gone).unwrap();
    let mut batch = tamga::archive::store::Batch::default();
    let err = blobs::put(&mut batch, store, staged)
        .unwrap_err()
        .to_string();
    assert!(err.contains("disposed of meanwhile"), "{err}");
    assert!(batch.puts.is_empty(), "no manifest naming a missing chunk");
}

#[test]
fn content_that_changed_after_verification_is_not_filed() {
    let dir = tempfile::tempdir().unwrap();
    let ingest = ingest(dir.path());
    let file = dir.path().join("doc.bin");
    std::fs::write(&file, vec![7u8; blobs::CHUNK + 1]).unwrap();
    let spooled = tamga::spool::Spooled::existing(&file).unwrap();
    let verified = sha256(&std::fs::read(&file).unwrap());
    // Same length, one byte different: what an editor saving over the file would do.
    let mut changed = vec![7u8; blobs::CHUNK + 1];
    changed[5] = 8;
    std::fs::write(&file, &changed).unwrap();
    let err = ingest
        .archive
        .stage_spooled(&spooled, &verified)
        .unwrap_err()
        .to_string();
    assert!(err.contains("changed after it was verified"), "{err}");
}

/// The archive owns its key schema: no module outside `src/archive/` names an index key, a
/// look-up table or the raw store.
#[test]
fn no_key_of_the_archive_is_built_outside_it() {
    let forbidden = [
        "Space::Index",
        "raw_store(",
        "\"disposed/",
        "\"submitter/",
        "\"act/",
        "\"review/",
        "b\"checkpoint\"",
        "b\"head\"",
        "b\"holds\"",
        "regno_key",
        "counter_key",
    ];
    let mut stack = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
    let mut offences = Vec::new();
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.ends_with("archive") {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            for f in forbidden {
                if text.contains(f) {
                    offences.push(format!("{}: {f}", path.display()));
                }
            }
        }
    }
    assert!(offences.is_empty(), "{offences:#?}");
}
