//! Evidence kept with the document (issue 14 item 5): an accepted document's anchor and CRLs
//! are filed with it, content-addressed and shared between documents, named in its entry and
//! exported; `audit verify --export` re-checks every verdict offline from them, at the time of
//! receipt, and names a document whose verdict does not hold. A disposal releases evidence
//! only with the last document that names it.

mod common;
use common::*;
use std::path::Path;
use tamga::archive::log::{Entry, Event, FileRef};
use tamga::archive::recheck::{Document, Held, LoadError, RecheckError, Rechecker};
use tamga::archive::store::Space;
use tamga::archive::{Archive, keys};
use tamga::ingest::{Ingest, Submission};
use tamga::policy::{ArchivePolicy, parse};
use tamga::retention::acts;
use tamga::verify::{Policy, RevocationPolicy, Status};

const POLICY: &str = r#"
[organization]
name = "ТОО «Тест»"
appeal = { kk = "a", ky = "b", ru = "c", en = "d" }

[[case]]
index = "T-1"
title = "Переписка"
retention = "1y"
access = ["archivist"]

[[case]]
index = "T-3"
title = "Приказы"
retention = "permanent"
access = ["archivist"]
"#;

fn policy(closed: bool) -> ArchivePolicy {
    let text = if closed {
        POLICY.replace("access = [", "closed = 2026\naccess = [")
    } else {
        POLICY.to_owned()
    };
    parse(&text, Path::new("t.toml")).unwrap()
}

/// The pipeline over a fresh archive, revocation required (so the CRLs decide).
fn open(data: &Path) -> Ingest {
    let mut ing = tamga::setup::open(
        &archive_paths(data),
        Policy {
            revocation: RevocationPolicy::Require,
            ..Policy::default()
        },
    )
    .unwrap();
    ing.policy = policy(false);
    ing
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixtures().join("sig").join(name)).unwrap()
}

fn submit(ing: &Ingest, case: &str, sig: &[u8], content: Option<&[u8]>, r: &str) {
    let s = Submission {
        case,
        signature: sig,
        content: content.map(tamga::ingest::Payload::Bytes),
        sender_ref: Some(r),
        received_at: AT,
        submitter: None,
    };
    assert_eq!(ing.submit(&s).unwrap().status, Status::Accepted, "{r}");
}

/// The evidence named by entry `index`.
fn evidence(archive: &Archive, index: u64) -> Vec<FileRef> {
    let entry = Entry::decode(&archive.entry_bytes(index).unwrap().unwrap()).unwrap();
    match entry.event {
        Event::Accepted { evidence, .. } => evidence,
        other => panic!("entry {index} is {other:?}"),
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    tamga::verify::certificate::hex(&sha2::Sha256::digest(bytes))
}

/// How many documents reference the blob named `sha256` (hex), and whether it is kept.
fn refs(archive: &Archive, sha256: &str) -> (u64, bool) {
    let name = tamga::archive::checkpoint::unhex32(sha256).unwrap();
    let count = archive
        .raw_store()
        .get(Space::Index, &keys::blob_refs_key(&name))
        .unwrap()
        .map_or(0, |v| u64::from_be_bytes(v.try_into().unwrap()));
    let kept = archive
        .raw_store()
        .get(Space::Blobs, &name)
        .unwrap()
        .is_some();
    (count, kept)
}

fn roles(ev: &[FileRef]) -> Vec<(&str, String)> {
    ev.iter()
        .map(|f| (f.role.as_str(), f.sha256.clone()))
        .collect()
}

#[test]
fn the_anchor_and_crls_are_filed_shared_exported_and_rechecked_offline() {
    let dir = tempfile::tempdir().unwrap();
    let ing = open(&dir.path().join("data"));
    let doc = fixture("doc.txt");
    submit(&ing, "T-3", &fixture("rsa-attached.der"), None, "a");
    submit(&ing, "T-3", &fixture("rsa-detached.der"), Some(&doc), "b");
    submit(&ing, "T-3", &fixture("p256.der"), None, "c");
    // Entry 0 is the first document (the log has nothing before it).
    let (root, root_crl, int_crl) = (
        sha256_hex(
            &std::fs::read(fixtures().join("pki/root.pem"))
                .map(pem_der)
                .unwrap(),
        ),
        sha256_hex(&std::fs::read(fixtures().join("trust/root.crl")).unwrap()),
        sha256_hex(&std::fs::read(fixtures().join("trust/int.crl")).unwrap()),
    );
    // The settings that decided the verdicts: revocation required, RFC 5280's defaults.
    let settings = tamga::archive::settings::Settings::of(
        ing.verifier.load().policy(),
        tamga::verify::ocsp::Window::default(),
    );
    let settings = sha256_hex(&settings.to_bytes());
    let want = vec![
        ("certificate", root.clone()),
        ("crl", int_crl.clone()),
        ("crl", root_crl.clone()),
        ("settings", settings.clone()),
    ];
    for i in 0..3 {
        assert_eq!(roles(&evidence(&ing.archive, i)), want, "entry {i}");
    }
    // Stored once, referenced by each of the three documents.
    for sha in [&root, &int_crl, &root_crl, &settings] {
        assert_eq!(refs(&ing.archive, sha), (3, true), "{sha}");
    }
    let out = dir.path().join("export");
    tamga::archive::export::write(&ing.archive, &out).unwrap();
    drop(ing);
    // The receipt names only the document's own files, not its evidence.
    receipts_name_only_their_own_files(&out);
    let evidence_files = std::fs::read_dir(out.join("evidence")).unwrap().count();
    assert_eq!(evidence_files, 4, "one file per piece of evidence, shared");
    let report = tamga::archive::export::verify(&out).unwrap();
    assert_eq!(report.rechecked, 3);
    assert_eq!(
        report.documents, 4,
        "signature, signature and content, signature"
    );

    // Offline: the command line with no trust directory and no archive.
    offline_check_names_the_anchor(dir.path(), &out, &root, &report.notes);

    // An auditor with OpenSSL and nothing else, as the README shows.
    for (i, content) in [(0, None), (1, Some("documents/1/content.bin")), (2, None)] {
        assert!(openssl_recheck(&out, i, content), "entry {i}");
    }

    // An exported CRL altered: the check fails, naming the first document that relies on it.
    an_altered_crl_fails_the_check(&out, &int_crl);
}

/// The receipts of the export at `out` name only their documents' own files, not evidence.
fn receipts_name_only_their_own_files(out: &Path) {
    for r in std::fs::read_dir(out.join("receipts")).unwrap() {
        let der = std::fs::read(r.unwrap().path()).unwrap();
        let body = tamga::verify::cms::parse(&der).unwrap().content.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let roles: Vec<&str> = body["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["role"].as_str().unwrap())
            .collect();
        assert!(!roles.is_empty(), "{body}");
        assert!(
            roles.iter().all(|r| ["signature", "content"].contains(r)),
            "{body}"
        );
    }
}

/// The command line checks the export at `out` with no trust directory and no archive (run in
/// `dir`), and names the anchor `root` the verdicts rest on, as the export's `notes` do.
fn offline_check_names_the_anchor(dir: &Path, out: &Path, root: &str, notes: &[String]) {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_tamga"))
        .current_dir(dir)
        .args(["audit", "verify", "--export"])
        .arg(out)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{said}");
    assert!(said.contains("3 accepted documents re-checked"), "{said}");
    // The anchor the verdicts rest on is named, for comparison with the official CA list.
    assert!(said.contains(&format!("SHA-256 {root}")), "{said}");
    assert!(notes.iter().any(|n| n.contains(root)), "{notes:?}");
}

/// The exported CRL `int_crl` altered: the check fails, naming the first document that relies
/// on it, and OpenSSL refuses it too.
fn an_altered_crl_fails_the_check(out: &Path, int_crl: &str) {
    let crl = out.join(format!("evidence/{int_crl}.crl"));
    let mut bytes = std::fs::read(&crl).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&crl, bytes).unwrap();
    let err = tamga::archive::export::verify(out).unwrap_err();
    assert_eq!(err.registration.as_deref(), Some("T-3/1"), "{err}");
    assert!(err.to_string().contains(int_crl), "{err}");
    assert!(
        !openssl_recheck(out, 0, None),
        "OpenSSL took the altered CRL"
    );
}

/// `openssl cms -verify` of entry `index`'s document with its evidence as the only trust and
/// revocation data (`-crl_check_all`), at its time of receipt: the README's recipe.
fn openssl_recheck(package: &Path, index: u64, content: Option<&str>) -> bool {
    let line = std::fs::read_to_string(package.join("entries.jsonl"))
        .unwrap()
        .lines()
        .nth(index as usize)
        .unwrap()
        .to_owned();
    let entry: serde_json::Value = serde_json::from_str(&line).unwrap();
    let mut trust = String::new();
    for f in entry["evidence"].as_array().unwrap() {
        let (role, sha) = (f["role"].as_str().unwrap(), f["sha256"].as_str().unwrap());
        if role == "settings" {
            // Tamga's settings (JSON): OpenSSL's defaults stand in for them.
            continue;
        }
        let (kind, ext) = if role == "certificate" {
            ("x509", "cer")
        } else {
            ("crl", "crl")
        };
        let o = std::process::Command::new("openssl")
            .current_dir(package)
            .args([
                kind,
                "-inform",
                "DER",
                "-in",
                &format!("evidence/{sha}.{ext}"),
            ])
            .output()
            .unwrap();
        assert!(o.status.success());
        trust.push_str(&String::from_utf8(o.stdout).unwrap());
    }
    std::fs::write(package.join("trust.pem"), trust).unwrap();
    let at = tamga::archive::log::parse_time(entry["at"].as_str().unwrap()).unwrap();
    let mut cmd = std::process::Command::new("openssl");
    cmd.current_dir(package)
        .args(["cms", "-verify", "-binary", "-inform", "DER"]);
    cmd.args(["-in", &format!("documents/{index}/signature.p7s")]);
    cmd.args(["-CAfile", "trust.pem", "-crl_check_all"]);
    cmd.args(["-attime", &at.to_string(), "-out", "/dev/null"]);
    if let Some(c) = content {
        cmd.args(["-content", c]);
    }
    let o = cmd.output().unwrap();
    std::fs::remove_file(package.join("trust.pem")).unwrap();
    o.status.success()
}

/// A PEM certificate's DER.
fn pem_der(pem: Vec<u8>) -> Vec<u8> {
    tamga::trustdir::pem_or_der(&pem, "CERTIFICATE")
        .unwrap()
        .remove(0)
}

/// A CRL of the fixture intermediate CA, validly signed, that revokes `serial` (hex) as of
/// 2026-02-01: what an altered archive would need to turn a verdict.
fn revoking_crl(dir: &Path, serial: &str) -> Vec<u8> {
    let pki = fixtures().join("pki");
    std::fs::write(
        dir.join("ca.cnf"),
        "[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\ncrlnumber = crlnumber\n\
         default_md = sha256\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("index.txt"),
        format!("R\t300101000000Z\t260201000000Z\t{serial}\tunknown\t/CN=x\n"),
    )
    .unwrap();
    std::fs::write(dir.join("crlnumber"), "77\n").unwrap();
    let (cert, key) = (pki.join("int.pem"), pki.join("int.key"));
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    common::pki::openssl(
        dir,
        &[
            "ca",
            "-batch",
            "-config",
            "ca.cnf",
            "-gencrl",
            "-cert",
            cert,
            "-keyfile",
            key,
            "-crl_lastupdate",
            "20260101000000Z",
            "-crl_nextupdate",
            "20360101000000Z",
            "-out",
            "new.crl.pem",
        ],
    );
    common::pki::openssl(
        dir,
        &[
            "crl",
            "-in",
            "new.crl.pem",
            "-outform",
            "DER",
            "-out",
            "new.crl",
        ],
    );
    std::fs::read(dir.join("new.crl")).unwrap()
}

#[test]
fn the_recheck_runs_the_verifier_on_the_evidence_and_says_why_a_verdict_fails() {
    let dir = tempfile::tempdir().unwrap();
    let ing = open(&dir.path().join("data"));
    let sig = fixture("rsa-attached.der");
    submit(&ing, "T-3", &sig, None, "a");
    let ev = evidence(&ing.archive, 0);
    let entry = Entry::decode(&ing.archive.entry_bytes(0).unwrap().unwrap()).unwrap();
    let Event::Accepted { signers, .. } = entry.event else {
        panic!()
    };
    let load_from = |replace: Option<(String, Vec<u8>)>| {
        let archive = &ing.archive;
        move |f: &FileRef| -> Result<Vec<u8>, LoadError> {
            if let Some((sha, bytes)) = &replace
                && *sha == f.sha256
            {
                return Ok(bytes.clone());
            }
            let name = tamga::archive::checkpoint::unhex32(&f.sha256).unwrap();
            let mut out = Vec::new();
            tamga::archive::blobs::read(archive.raw_store(), &name, &mut out).unwrap();
            Ok(out)
        }
    };
    let doc = Document {
        signature: &sig,
        content: None,
        evidence: &ev,
        at: AT,
        signers: &signers,
        revocation_unchecked: false,
    };
    assert!(matches!(
        Rechecker::default().check(&doc, &mut load_from(None)),
        Ok(Held::Fully)
    ));
    // The same document judged with a CRL (validly signed) that revokes its signer.
    let serial = {
        let c = tamga::verify::certificate::Certificate::from_der(&pem_der(
            std::fs::read(fixtures().join("pki/rsa.pem")).unwrap(),
        ))
        .unwrap();
        c.serial_hex().to_uppercase()
    };
    let int_crl = ev.iter().find(|f| f.role == "crl").unwrap().sha256.clone();
    let bad = revoking_crl(dir.path(), &serial);
    let got = Rechecker::default().check(&doc, &mut load_from(Some((int_crl, bad))));
    match got {
        Err(RecheckError::Verdict { signer: 0, why }) => {
            assert!(why.contains("certificate-revoked"), "{why}")
        }
        other => panic!("{other:?}"),
    }
    // And at a time after the signer's certificate expired, it does not hold either.
    let later = Document {
        at: at("2031-01-01T00:00:00Z"),
        ..doc
    };
    assert!(matches!(
        Rechecker::default().check(&later, &mut load_from(None)),
        Err(RecheckError::Verdict { .. })
    ));
}

/// Closes case T-1 and destroys its documents under an act (two approvals), in 2028.
fn dispose_of_case_t1(ing: &Ingest) {
    let closed = policy(true);
    let when = at("2028-02-01T00:00:00Z");
    let a = &ing.archive;
    let act = acts::draft(a, &closed, &["T-1".into()], "Иванова", when).unwrap();
    acts::approve(a, &act.act, "Ахметов", when).unwrap();
    acts::approve(a, &act.act, "Серикова", when).unwrap();
    acts::execute(a, &closed, &act.act, when).unwrap();
}

#[test]
fn disposing_of_one_document_keeps_the_evidence_another_names() {
    let dir = tempfile::tempdir().unwrap();
    let ing = open(&dir.path().join("data"));
    submit(&ing, "T-1", &fixture("rsa-attached.der"), None, "gone");
    submit(&ing, "T-3", &fixture("p256.der"), None, "kept");
    let shared = evidence(&ing.archive, 0);
    assert_eq!(roles(&shared), roles(&evidence(&ing.archive, 1)));
    dispose_of_case_t1(&ing);
    let a = &ing.archive;
    for f in &shared {
        assert_eq!(refs(a, &f.sha256), (1, true), "{}", f.role);
    }
    let report = tamga::archive::audit::verify(a, true, &mut |_, _| {}).unwrap();
    assert_eq!(report.documents, 1);
    let out = dir.path().join("export");
    tamga::archive::export::write(a, &out).unwrap();
    assert_eq!(tamga::archive::export::verify(&out).unwrap().rechecked, 1);
}

#[test]
fn disposing_of_the_last_document_releases_its_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let ing = open(&dir.path().join("data"));
    submit(&ing, "T-1", &fixture("rsa-attached.der"), None, "one");
    submit(&ing, "T-1", &fixture("p256.der"), None, "two");
    let ev = evidence(&ing.archive, 0);
    dispose_of_case_t1(&ing);
    let a = &ing.archive;
    for f in &ev {
        assert_eq!(refs(a, &f.sha256), (0, false), "{}", f.role);
    }
    tamga::archive::audit::verify(a, true, &mut |_, _| {}).unwrap();
}

/// An accepted entry as the log writes it, naming `evidence`.
fn accepted(index: u64, registration: &str, evidence: Vec<FileRef>) -> Vec<u8> {
    Entry {
        index,
        prev: "00".repeat(32),
        at: "2026-06-01T00:00:00Z".into(),
        filed: None,
        backfilled: false,
        event: Event::Accepted {
            receipt_id: format!("r{index}"),
            case: "T-1".into(),
            registration: registration.into(),
            registration_date: "2026-06-01".into(),
            files: vec![],
            signers: vec![],
            sender_ref: None,
            evidence,
        },
    }
    .encode()
}

#[test]
fn a_kept_entry_without_evidence_after_one_with_it_fails_the_recheck() {
    let dir = tempfile::tempdir().unwrap();
    let anchor = FileRef {
        role: "certificate".into(),
        sha256: "ab".repeat(32),
        size: 1,
    };
    let disposed = Entry {
        index: 1,
        prev: "00".repeat(32),
        at: "2026-06-02T00:00:00Z".into(),
        filed: None,
        backfilled: false,
        event: Event::Disposed {
            act: "1".into(),
            act_date: "2026-06-02".into(),
            registration: "T-1/1".into(),
            case: "T-1".into(),
            approvers: vec![],
        },
    }
    .encode();
    let check = |entries: &[Vec<u8>]| {
        let mut report = tamga::archive::audit::AuditReport::default();
        tamga::archive::recheck::package(dir.path(), entries, &mut report).map(|()| report)
    };
    // Before any entry carried evidence: filed before evidence was kept, only noted.
    let before = check(&[accepted(0, "T-1/0", vec![])]).unwrap();
    assert!(
        before.notes[0].contains("before evidence was kept"),
        "{before:?}"
    );
    // The first document (with evidence) destroyed; the next names none: evidence stopped
    // being recorded, and the re-check names it.
    let entries = [
        accepted(0, "T-1/1", vec![anchor]),
        disposed,
        accepted(2, "T-1/2", vec![]),
    ];
    let err = check(&entries).unwrap_err();
    assert_eq!(err.registration.as_deref(), Some("T-1/2"), "{err}");
    assert!(err.to_string().contains("no evidence"), "{err}");
    // An entry that does not decode is an error, not skipped.
    let err = check(&[b"{not an entry".to_vec()]).unwrap_err();
    assert_eq!(err.index, Some(0), "{err}");
}

#[test]
fn an_entry_without_evidence_keeps_its_encoding() {
    let old = r#"{"index":0,"prev":"00","at":"2026-06-01T00:00:00Z","event":"accepted","receipt_id":"r","case":"T-1","registration":"T-1/1","registration_date":"2026-06-01","files":[],"signers":[],"sender_ref":null}"#;
    let e = Entry::decode(old.as_bytes()).unwrap();
    assert_eq!(e.encode(), old.as_bytes());
    assert!(e.event.kept_blobs().next().is_none());
}

/// Cost of the evidence, measured: `cargo test --release --test evidence -- --ignored
/// --nocapture`. Files N documents sharing one signer (so one anchor and two CRLs), then
/// exports and checks the package, re-checking every verdict.
#[test]
#[ignore]
fn measure_filing_and_rechecking() {
    const N: usize = 2000;
    let dir = tempfile::tempdir().unwrap();
    let ing = open(&dir.path().join("data"));
    let sig = fixture("rsa-attached.der");
    let t = std::time::Instant::now();
    for i in 0..N {
        submit(&ing, "T-3", &sig, None, &format!("m{i}"));
    }
    let filing = t.elapsed();
    let out = dir.path().join("export");
    tamga::archive::export::write(&ing.archive, &out).unwrap();
    let t = std::time::Instant::now();
    let report = tamga::archive::export::verify(&out).unwrap();
    let check = t.elapsed();
    eprintln!(
        "{N} documents: filed in {filing:?} ({:?} each, evidence included); export check \
         with re-checks {check:?} ({:?} each)",
        filing / N as u32,
        check / N as u32
    );
    assert_eq!(report.rechecked, N as u64);
}
