//! The service and the disk: access records reaching the store, a store that refuses to
//! commit, and large detached content spooled to disk instead of memory.

mod common;
use common::failing::{Faults, serve_failing, serve_failing_with, set};
use common::server::{Server, client, raw_submit, start};
use common::tmpfs::Tmpfs;
use common::*;
use reqwest::StatusCode;
use reqwest::blocking::multipart;
use tamga::http::Limits;

const GATEWAY: &str = "demo-gateway-token";
const AUDITOR: &str = "demo-auditor-token";
const ARCHIVIST: &str = "demo-archivist-token";

fn call(s: &Server, path: &str, token: &str) -> reqwest::blocking::Response {
    client()
        .get(format!("{}{path}", s.base))
        .bearer_auth(token)
        .send()
        .unwrap()
}

#[test]
fn access_records_are_written_within_a_second_and_at_shutdown() {
    let mut s = start("", Limits::default(), None);
    let stored = |s: &Server| {
        s.state
            .ingest
            .archive
            .raw_store()
            .keys(tamga::archive::store::Space::Access)
            .unwrap()
            .len()
    };
    let get = |s: &Server| assert_eq!(call(s, "/v1/reasons", AUDITOR).status(), StatusCode::OK);
    for _ in 0..3 {
        get(&s);
    }
    // No submission, so no commit group: the once-a-second flush writes them.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(stored(&s), 3);
    get(&s);
    get(&s);
    // A graceful stop writes (and syncs) what is still pending.
    s.stop();
    assert_eq!(stored(&s), 5);
    assert_eq!(s.state.ingest.archive.access_head().0, 5);
}

/// The sentence of a 503 answer.
fn unavailable(r: reqwest::blocking::Response) -> String {
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let err: serde_json::Value = r.json().unwrap();
    err["error"].as_str().unwrap().to_owned()
}

#[test]
fn when_the_archive_cannot_commit_the_answer_is_503_and_nothing_is_half_filed() {
    let faults = Faults::default();
    set(&faults.apply, true);
    let s = serve_failing("sled", &faults);
    let sig = std::fs::read(fixtures().join("sig/rsa-attached.der")).unwrap();
    let size = || s.state.ingest.archive.size();

    // The batch cannot be written: 503 with a sentence, and nothing of it is in the archive.
    let err = unavailable(raw_submit(&s, Some(GATEWAY), "01-05", "doc-1", sig.clone()));
    // The store's own words (a file system's error) go to the log, not to the caller.
    assert!(!err.contains("no space left"), "{err}");
    assert!(err.contains("nothing was filed"), "{err}");
    assert_eq!(size(), 0);
    let receipts = s
        .state
        .ingest
        .archive
        .raw_store()
        .keys(tamga::archive::store::Space::Receipts)
        .unwrap();
    assert!(receipts.is_empty());

    // Written but not durable: still no receipt for the sender (503), who retries; and the
    // sender is not told that nothing was filed, since a later sync may keep it.
    set(&faults.apply, false);
    set(&faults.sync, true);
    let err = unavailable(raw_submit(&s, Some(GATEWAY), "01-05", "doc-1", sig.clone()));
    assert!(!err.contains("nothing was filed"), "{err}");
    assert!(err.contains("unknown"), "{err}");

    // Once the volume is back, the retry gets the receipt of the one filing: nothing twice.
    set(&faults.sync, false);
    let r = raw_submit(&s, Some(GATEWAY), "01-05", "doc-1", sig.clone());
    assert_eq!(r.status(), StatusCode::CREATED);
    let body: serde_json::Value = r.json().unwrap();
    assert_eq!(body["registration"]["number"], "01-05/1");
    assert_eq!(size(), 1);
    let audit = tamga::archive::audit::verify(&s.state.ingest.archive, true, &mut |_, _| {});
    assert!(audit.is_ok(), "{audit:?}");
}

/// Issue 12, item 12: the disk fills between a filing and the checkpoint that would cover it.
/// The filing is applied and a later sync keeps it, so the sender must not hear "nothing was
/// filed"; the retry returns the receipt of that filing.
#[test]
fn a_filing_whose_checkpoint_fails_is_never_reported_as_not_filed() {
    for kind in ["journal", "sled"] {
        let faults = Faults::default();
        let s = serve_failing(kind, &faults);
        let sig = std::fs::read(fixtures().join("sig/rsa-attached.der")).unwrap();
        set(&faults.checkpoint, true);
        let err = unavailable(raw_submit(&s, Some(GATEWAY), "01-05", "doc-1", sig.clone()));
        assert!(!err.contains("nothing was filed"), "{kind}: {err}");
        assert!(err.contains("unknown"), "{kind}: {err}");
        // The filing is there (applied), and the next commit makes it durable.
        assert_eq!(s.state.ingest.archive.size(), 1, "{kind}");
        set(&faults.checkpoint, false);
        let r = raw_submit(&s, Some(GATEWAY), "01-05", "doc-2", sig.clone());
        assert_eq!(r.status(), StatusCode::CREATED, "{kind}");
        // The sender of doc-1 retries and gets the receipt of the one filing.
        let r = raw_submit(&s, Some(GATEWAY), "01-05", "doc-1", sig.clone());
        assert!(r.status().is_success(), "{kind}: {}", r.status());
        let body: serde_json::Value = r.json().unwrap();
        assert_eq!(body["registration"]["number"], "01-05/1", "{kind}");
        assert_eq!(s.state.ingest.archive.size(), 2, "{kind}");
        let audit = tamga::archive::audit::verify(&s.state.ingest.archive, true, &mut |_, _| {});
        assert!(audit.is_ok(), "{kind}: {audit:?}");
    }
}

/// Issue 16: a filing applied but not yet durable (its sync failed: a crash now would take it
/// back) is shown to no reader — not its metadata, not its bytes, not in its case's listing —
/// until a sync keeps it; then it is, and the sender's retry gets its one receipt.
#[test]
fn a_document_is_shown_only_once_its_filing_is_durable() {
    for kind in ["journal", "sled"] {
        let faults = Faults::default();
        let s = serve_failing(kind, &faults);
        let sig = std::fs::read(fixtures().join("sig/rsa-attached.der")).unwrap();
        set(&faults.sync, true);
        let err = unavailable(raw_submit(&s, Some(GATEWAY), "01-05", "doc-1", sig.clone()));
        assert!(err.contains("unknown"), "{kind}: {err}");
        // Applied: the archive's memory and the store's reads have it.
        assert_eq!(s.state.ingest.archive.size(), 1, "{kind}");
        let reads = [
            "/v1/documents/01-05%2F1",
            "/v1/documents/01-05%2F1/signature",
            "/v1/cases/01-05/documents",
        ];
        for path in reads {
            let r = call(&s, path, ARCHIVIST);
            assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE, "{kind} {path}");
        }
        // The volume is back: the read itself makes the filing durable and shows it.
        set(&faults.sync, false);
        for path in reads {
            let r = call(&s, path, ARCHIVIST);
            assert_eq!(r.status(), StatusCode::OK, "{kind} {path}");
        }
        let doc: serde_json::Value = call(&s, reads[0], ARCHIVIST).json().unwrap();
        assert_eq!(doc["registration"]["number"], "01-05/1", "{kind}");
        let r = raw_submit(&s, Some(GATEWAY), "01-05", "doc-1", sig);
        assert!(r.status().is_success(), "{kind}: {}", r.status());
        let body: serde_json::Value = r.json().unwrap();
        assert_eq!(body["receipt_id"], doc["receipt_id"], "{kind}");
    }
}

/// The console's list of a clerk's own submissions, and its date search, show only durable
/// filings, as the document routes do: one applied but not synced (a crash would take it
/// back) is left out until a sync keeps it — then the page view itself makes it durable.
#[test]
fn a_clerks_own_submissions_are_listed_only_once_durable() {
    for kind in ["journal", "sled"] {
        let faults = Faults::default();
        let s = serve_failing(kind, &faults);
        let sig = std::fs::read(fixtures().join("sig/rsa-attached.der")).unwrap();
        let r = raw_submit(&s, Some(GATEWAY), "01-05", "doc-1", sig.clone());
        assert_eq!(r.status(), StatusCode::CREATED, "{kind}");
        let first: serde_json::Value = r.json().unwrap();
        let first = first["receipt_id"].as_str().unwrap().to_owned();
        set(&faults.sync, true);
        let err = unavailable(raw_submit(&s, Some(GATEWAY), "01-05", "doc-2", sig.clone()));
        assert!(err.contains("unknown"), "{kind}: {err}");
        assert_eq!(s.state.ingest.archive.size(), 2, "{kind}");
        let pages = [
            "/registry",
            "/registry?from=2000-01-01",
            "/registry?status=accepted&from=2000-01-01&to=2999-12-31",
        ];
        let listed = |path: &str| {
            let r = call(&s, path, GATEWAY);
            assert_eq!(r.status(), StatusCode::OK, "{kind} {path}");
            common::registry_receipts(&r.text().unwrap())
        };
        for path in pages {
            assert_eq!(listed(path), std::slice::from_ref(&first), "{kind} {path}");
        }
        set(&faults.sync, false);
        for path in pages {
            let all = listed(path);
            assert_eq!(all.len(), 2, "{kind} {path}: {all:?}");
            assert_eq!(all[1], first, "{kind} {path}: newest first");
        }
    }
}

/// A refusal on the document routes comes before the wait for durability: a clerk asking for
/// another clerk's fresh filing, or a role its case does not grant the content, is refused at
/// once while syncs fail — never answered 503 "try later", which would tell a pending filing
/// from none. The owner, who may see it, waits (503 while syncs fail).
#[test]
fn a_refusal_comes_before_the_wait_for_durability() {
    let token_hash = tamga::verify::certificate::hex(&sha2::Digest::finalize(
        <sha2::Sha256 as sha2::Digest>::new_with_prefix(b"other-clerk-token"),
    ));
    let other = format!(
        "[[principal]]\nname = \"other-clerk\"\nrole = \"chancellery\"\ntoken_sha256 = \"{token_hash}\"\n"
    );
    for kind in ["journal", "sled"] {
        let faults = Faults::default();
        let s = serve_failing_with(kind, &faults, &other);
        let sig = std::fs::read(fixtures().join("sig/rsa-attached.der")).unwrap();
        set(&faults.sync, true);
        for case in ["01-05", "03-07"] {
            let err = unavailable(raw_submit(&s, Some(GATEWAY), case, "doc", sig.clone()));
            assert!(err.contains("unknown"), "{kind}: {err}");
        }
        assert_eq!(s.state.ingest.archive.size(), 2, "{kind}");
        let answer = |path: &str, token: &str| {
            let r = call(&s, path, token);
            (r.status(), r.text().unwrap())
        };
        for tail in ["", "/signature", "/content"] {
            let pending = answer(
                &format!("/v1/documents/01-05%2F1{tail}"),
                "other-clerk-token",
            );
            let none = answer(
                &format!("/v1/documents/01-05%2F999{tail}"),
                "other-clerk-token",
            );
            assert_eq!(
                pending.0,
                StatusCode::FORBIDDEN,
                "{kind} {tail}: {}",
                pending.1
            );
            assert_eq!(pending, none, "{kind} {tail}");
        }
        // 03-07 grants only archivists its content.
        let (status, text) = answer("/v1/documents/03-07%2F1/content", AUDITOR);
        assert_eq!(status, StatusCode::FORBIDDEN, "{kind}: {text}");
        let (status, text) = answer("/v1/documents/01-05%2F1", GATEWAY);
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{kind}: {text}");
        set(&faults.sync, false);
    }
}

fn submit_detached(s: &Server, sender_ref: &str, sig: &[u8], content: &[u8]) -> serde_json::Value {
    let form = multipart::Form::new()
        .text("case", "01-05")
        .text("sender_ref", sender_ref.to_owned())
        .part("signature", multipart::Part::bytes(sig.to_vec()))
        .part("content", multipart::Part::bytes(content.to_vec()));
    let r = client()
        .post(format!("{}/v1/submissions", s.base))
        .bearer_auth(GATEWAY)
        .multipart(form)
        .send()
        .unwrap();
    let status = r.status().as_u16();
    let mut body: serde_json::Value = r.json().unwrap();
    body["http_status"] = status.into();
    body
}

fn incoming_is_empty(s: &Server) -> bool {
    std::fs::read_dir(&s.state.ingest.incoming)
        .map(|d| d.count() == 0)
        .unwrap_or(true)
}

#[test]
fn large_detached_content_is_spooled_verified_filed_and_returned_byte_identical_in_sled() {
    large_detached_content_round_trip("sled");
}

#[test]
fn large_detached_content_is_spooled_verified_filed_and_returned_byte_identical_in_the_journal() {
    large_detached_content_round_trip("journal");
}

fn large_detached_content_round_trip(store: &str) {
    let s = common::server::start_on(store);
    let big = s.dir.path().join("big.txt");
    // Several chunks and a short tail, well past the in-memory limit.
    let bytes: Vec<u8> = (0..3 * tamga::archive::blobs::CHUNK + 12_345)
        .map(|i| b"abcdefgh ijklmnop\n"[(i * 7 + i / 13) % 18])
        .collect();
    std::fs::write(&big, &bytes).unwrap();
    let sig_path = s.dir.path().join("big.p7s");
    openssl_sign_detached(&big, &sig_path);
    let sig = std::fs::read(&sig_path).unwrap();

    let first = submit_detached(&s, "big-1", &sig, &bytes);
    assert_eq!(first["http_status"], 201, "{first}");
    let sha = tamga::verify::certificate::hex(&<sha2::Sha256 as sha2::Digest>::digest(&bytes));
    assert_eq!(first["files"][1]["sha256"], sha.as_str());
    assert_eq!(first["files"][1]["size"], bytes.len());
    assert!(
        incoming_is_empty(&s),
        "a spool file outlived its submission"
    );
    let regno = first["registration"]["number"]
        .as_str()
        .unwrap()
        .replace('/', "%2F");
    let back = call(&s, &format!("/v1/documents/{regno}/content"), GATEWAY);
    assert_eq!(back.status(), StatusCode::OK);
    assert!(back.bytes().unwrap().as_ref() == bytes.as_slice());

    // A retry gets the same receipt; nothing is filed twice.
    let again = submit_detached(&s, "big-1", &sig, &bytes);
    assert_eq!(again["receipt_id"], first["receipt_id"]);
    assert_eq!(s.state.ingest.archive.size(), 1);

    // One byte changed anywhere (here in the last chunk): content-mismatch, nothing filed.
    let mut changed = bytes.clone();
    let last = changed.len() - 100;
    changed[last] ^= 1;
    let rejected = submit_detached(&s, "big-2", &sig, &changed);
    assert_eq!(rejected["http_status"], 422, "{rejected}");
    assert_eq!(rejected["reasons"][0]["code"], "content-mismatch");
    assert!(incoming_is_empty(&s));

    // The same verdicts as the pipeline reaches with the content in memory.
    let verifier = verifier(&fixtures().join("trust"), tamga::verify::Policy::default());
    let now = tamga::clock::now();
    assert_eq!(
        verifier.verify(&sig, Some(&bytes), now).status,
        tamga::verify::Status::Accepted
    );
    assert_eq!(
        codes(&verifier.verify(&sig, Some(&changed), now)),
        vec!["content-mismatch"]
    );
}

#[test]
fn large_content_signed_without_signed_attributes_is_refused_with_a_listed_reason() {
    let s = start("", Limits::default(), None);
    let big = s.dir.path().join("big.txt");
    let bytes = vec![b'x'; 2 * tamga::archive::blobs::CHUNK];
    std::fs::write(&big, &bytes).unwrap();
    let sig_path = s.dir.path().join("big.p7s");
    openssl_sign_detached_with(&big, &sig_path, &["-noattr"]);
    let sig = std::fs::read(&sig_path).unwrap();
    // In memory the same signature verifies (a signature straight over the content)…
    let verifier = verifier(&fixtures().join("trust"), tamga::verify::Policy::default());
    assert_eq!(
        verifier
            .verify(&sig, Some(&bytes), tamga::clock::now())
            .status,
        tamga::verify::Status::Accepted
    );
    // …but spooled content cannot stand behind it without being read whole.
    let r = submit_detached(&s, "noattr", &sig, &bytes);
    assert_eq!(r["http_status"], 422, "{r}");
    assert_eq!(r["reasons"][0]["code"], "policy-violation");
    assert!(
        r["reasons"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("signed attributes"),
        "{r}"
    );
    assert_eq!(s.state.ingest.archive.size(), 1, "the rejection is logged");
}

/// Issue 12, item 13: a full disk costs 503s while it lasts, and nothing after. Once space
/// returns the same process files again (no restart), the access records of the requests
/// answered meanwhile reach the store, and a graceful stop succeeds.
#[test]
fn the_service_files_again_once_a_full_disk_has_room_and_keeps_the_access_records() {
    for kind in ["sled", "journal"] {
        let dir = tempfile::tempdir().unwrap();
        let Some(fs) = Tmpfs::mount(&dir.path().join("m"), "8m") else {
            eprintln!("skipped: cannot mount a tmpfs here");
            return;
        };
        let mut paths = archive_paths(&fs.0.join("data"));
        paths.store = Some(kind.parse().unwrap());
        let ingest = tamga::setup::open(&paths, tamga::verify::Policy::default()).unwrap();
        let mut s = common::server::serve(dir, ingest, Limits::default(), None);
        let sig = std::fs::read(fixtures().join("sig/rsa-attached.der")).unwrap();
        let submit =
            |n: u32| raw_submit(&s, Some(GATEWAY), "01-05", &format!("doc-{n}"), sig.clone());
        assert_eq!(submit(0).status(), StatusCode::CREATED, "{kind}");

        fs.fill();
        let mut n = 1;
        let refused = loop {
            let r = submit(n);
            if r.status() == StatusCode::SERVICE_UNAVAILABLE {
                break n;
            }
            assert_eq!(r.status(), StatusCode::CREATED, "{kind}");
            n += 1;
            assert!(n < 500, "{kind}: the disk never filled");
        };
        // Senders told "nothing was filed" while the disk is full (item 12 on a real disk):
        // none of them may be in the archive afterwards.
        let mut told_not_filed = Vec::new();
        for m in 1000..1006 {
            let r = submit(m);
            if r.status() == StatusCode::SERVICE_UNAVAILABLE
                && unavailable(r).contains("nothing was filed")
            {
                told_not_filed.push(format!("doc-{m}"));
            }
        }
        // Reads still answer meanwhile, and each leaves an access record.
        for _ in 0..5 {
            assert_eq!(
                call(&s, "/v1/reasons", AUDITOR).status(),
                StatusCode::OK,
                "{kind}"
            );
        }

        fs.free();
        let started = std::time::Instant::now();
        let mut tries = 0;
        let answer = loop {
            tries += 1;
            let r = submit(refused);
            if r.status().is_success() || tries == 20 {
                break r;
            }
            std::thread::sleep(std::time::Duration::from_millis(250));
        };
        assert!(
            answer.status().is_success(),
            "{kind}: {:?} after {tries} tries",
            answer.text()
        );
        eprintln!(
            "{kind}: filing again {:?} after space returned ({tries} tries)",
            started.elapsed()
        );
        assert!(submit(refused + 1).status().is_success(), "{kind}");

        s.stop();
        after_the_full_disk(&s.state.ingest.archive, kind, &told_not_filed);
        drop(s);
        drop(fs);
    }
}

/// After the full disk, stopped: every access record chained is stored, none of the senders
/// `told_not_filed` has its document filed, and a full audit of `archive` passes.
fn after_the_full_disk(archive: &tamga::archive::Archive, kind: &str, told_not_filed: &[String]) {
    archive.sync_now().unwrap();
    let chained = archive.access_head().0;
    let stored = archive
        .raw_store()
        .keys(tamga::archive::store::Space::Access)
        .unwrap();
    assert_eq!(stored.len() as u64, chained, "{kind}: access records lost");
    for i in 0..archive.size() {
        if let Some(tamga::archive::log::Event::Accepted {
            sender_ref: Some(r),
            ..
        }) = archive.entry(i).unwrap().map(|e| e.event)
        {
            assert!(!told_not_filed.contains(&r), "{kind}: {r} was filed");
        }
    }
    eprintln!(
        "{kind}: {} senders told nothing was filed",
        told_not_filed.len()
    );
    let audit = tamga::archive::audit::verify(archive, true, &mut |_, _| {});
    assert!(audit.is_ok(), "{kind}: {audit:?}");
}

/// Issue 12, item 13: files a failed write left in a sled store's directory are listed by the
/// audit (which still passes: they hold nothing kept).
#[test]
fn the_audit_lists_chunk_files_that_nothing_refers_to() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // sled's chunk files (`archive/chunks/`): named since the journal became the default.
    let ingest = ingest_on(&data, "sled");
    let report = tamga::archive::audit::verify(&ingest.archive, true, &mut |_, _| {}).unwrap();
    assert!(report.strays.is_empty(), "{:?}", report.strays);
    let stray = data.join("archive/chunks/ab").join("ab".repeat(32));
    std::fs::create_dir_all(stray.parent().unwrap()).unwrap();
    std::fs::write(&stray, b"left by a refused submission").unwrap();
    let report = tamga::archive::audit::verify(&ingest.archive, true, &mut |_, _| {}).unwrap();
    assert_eq!(report.strays.len(), 1, "{:?}", report.strays);
    assert!(
        report.strays[0].contains(&"ab".repeat(32)),
        "{:?}",
        report.strays
    );
}

/// The tree size a signed note names (its second line).
fn note_size(r: reqwest::blocking::Response) -> u64 {
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().unwrap();
    text.lines().nth(1).unwrap().parse().unwrap()
}

/// A filing applied but not durable (its sync failed) has a signed checkpoint in the store
/// already; a crash now would take it back, and after the restart another checkpoint of the
/// same size, other entries at its positions, could be signed: to an auditor holding both,
/// a forked log. So neither checkpoint endpoint, nor a tile or a proof, shows that size until
/// a sync covers it: the last durable checkpoint is served meanwhile.
#[test]
fn a_checkpoint_is_shown_only_once_a_sync_covers_it() {
    for kind in ["journal", "sled"] {
        let faults = Faults::default();
        let s = serve_failing(kind, &faults);
        let sig = std::fs::read(fixtures().join("sig/rsa-attached.der")).unwrap();
        let r = raw_submit(&s, Some(GATEWAY), "01-05", "doc-1", sig.clone());
        assert_eq!(r.status(), StatusCode::CREATED, "{kind}");
        set(&faults.sync, true);
        let err = unavailable(raw_submit(&s, Some(GATEWAY), "01-05", "doc-2", sig.clone()));
        assert!(err.contains("unknown"), "{kind}: {err}");
        // Applied and checkpointed in the store, not durable.
        let archive = &s.state.ingest.archive;
        assert_eq!(archive.size(), 2, "{kind}");
        assert_eq!(archive.checkpoint_size().unwrap(), Some(2), "{kind}");
        for path in ["/v1/checkpoint", "/checkpoint"] {
            assert_eq!(note_size(call(&s, path, AUDITOR)), 1, "{kind} {path}");
        }
        let not_shown = [
            "/tile/entries/000.p/2",
            "/tile/0/000.p/2",
            "/v1/proofs/inclusion?index=1",
            "/v1/proofs/inclusion?index=0&size=2",
            "/v1/proofs/consistency?from=1&to=2",
        ];
        for path in not_shown {
            let r = call(&s, path, AUDITOR);
            assert!(
                r.status().is_client_error(),
                "{kind} {path}: {}",
                r.status()
            );
        }
        // What the served checkpoint names is provable and tiled.
        let r = call(&s, "/v1/proofs/inclusion?index=0", AUDITOR);
        assert_eq!(r.status(), StatusCode::OK, "{kind}");
        let proof: serde_json::Value = r.json().unwrap();
        assert_eq!(proof["size"], 1, "{kind}");
        let r = call(&s, "/tile/entries/000.p/1", AUDITOR);
        assert_eq!(r.status(), StatusCode::OK, "{kind}");
        // The volume is back: the read itself makes the checkpoint durable and shows it.
        set(&faults.sync, false);
        for path in ["/v1/checkpoint", "/checkpoint"] {
            assert_eq!(note_size(call(&s, path, AUDITOR)), 2, "{kind} {path}");
        }
        for path in not_shown {
            let r = call(&s, path, AUDITOR);
            assert_eq!(r.status(), StatusCode::OK, "{kind} {path}");
        }
    }
}
