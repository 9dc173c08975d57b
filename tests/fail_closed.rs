//! Retention fails closed: a holds index that does not read (or hides a hold) stops execution;
//! any failed read while deciding what to destroy aborts before anything is destroyed; a case
//! that never had documents is not called "disposed"; whole-archive reads (a plan, drafting,
//! the first look of an execution) do not take the writer lock: a filing completes meanwhile.

mod common;
use common::*;
use std::path::Path;
use std::sync::Mutex;
use tamga::archive::Archive;
use tamga::archive::store::{Batch, Space, StoreError};
use tamga::policy::{ArchivePolicy, parse};
use tamga::retention::{self, CaseStatus, RetentionError, acts, holds};

fn policy(closed: Option<i32>) -> ArchivePolicy {
    let closed = closed.map_or(String::new(), |y| format!("closed = {y}"));
    let text = format!(
        r#"
[organization]
name = "ТОО «Тест»"
appeal = {{ kk = "a", ky = "b", ru = "c", en = "d" }}

[[case]]
index = "T-1"
title = "Переписка"
retention = "1y"
{closed}
access = ["archivist"]

[[case]]
index = "T-3"
title = "Приказы"
retention = "permanent"
{closed}
access = ["archivist"]

[[case]]
index = "T-4"
title = "Пустое дело"
retention = "1y"
{closed}
access = ["archivist"]
"#
    );
    parse(&text, Path::new("t.toml")).unwrap()
}

const WHEN: &str = "2028-02-01T00:00:00Z";

/// Files the three fixture signatures into T-1 (under a policy where it is still open).
fn file_three(data: &Path) -> tamga::ingest::Ingest {
    let mut ing = ingest(data);
    ing.policy = policy(None);
    for f in ["rsa-attached.der", "p256.der", "ed25519.der"] {
        let status = hooked::submit_fixture(&ing, "T-1", f, f);
        assert_eq!(status, tamga::verify::Status::Accepted);
    }
    ing
}

/// Drafts an act over T-1 and has it approved twice; returns its number.
fn approved_act(a: &Archive, p: &ArchivePolicy) -> String {
    let when = at(WHEN);
    let act = acts::draft(a, p, &["T-1".into()], "Иванова", when).unwrap();
    acts::approve(a, &act.act, "Ахметов", when).unwrap();
    acts::approve(a, &act.act, "Серикова", when).unwrap();
    act.act
}

fn kept_in_t1(a: &Archive) -> usize {
    a.read(|txn| retention::documents(txn, a, "T-1"))
        .unwrap()
        .len()
}

fn set_holds_index(a: &Archive, value: &[u8]) {
    let mut b = Batch::default();
    b.put(Space::Index, b"holds".to_vec(), value.to_vec());
    a.raw_store().apply(&b).unwrap();
}

#[test]
fn a_hold_survives_a_holds_index_that_does_not_decode_or_hides_it() {
    for index in [&b"{not json"[..], b"[]"] {
        let dir = tempfile::tempdir().unwrap();
        let ing = file_three(&dir.path().join("data"));
        let (a, p) = (&ing.archive, policy(Some(2026)));
        let act = approved_act(a, &p);
        holds::hold(a, &p, None, Some("T-1/2"), "иск", "Сидоров", at(WHEN)).unwrap();
        set_holds_index(a, index);
        let r = acts::execute(a, &p, &act, at(WHEN));
        assert!(
            matches!(&r, Err(RetentionError::Archive(_))),
            "index {:?}: {r:?}",
            String::from_utf8_lossy(index)
        );
        assert_eq!(kept_in_t1(a), 3, "nothing may be destroyed");
        if index != b"[]" {
            assert!(retention::plan(a, &p, at(WHEN)).is_err());
        }
    }
}

/// The archive in `data` over a store that fails to read `fail`, as a disk with a bad
/// sector would.
fn open_failing(data: &Path, fail: (Space, Vec<u8>)) -> Archive {
    hooked::open_over(data, |inner| {
        Box::new(hooked::Hooked::reads(
            inner,
            Box::new(move |space, key| {
                if space == fail.0 && key == fail.1 {
                    return Err(StoreError::Io {
                        what: "injected read failure".into(),
                        source: std::io::Error::from_raw_os_error(5),
                    });
                }
                Ok(())
            }),
        ))
    })
}

/// Files `content` (detached, signed by OpenSSL) into `case`; returns its blob name.
fn file_content(ing: &tamga::ingest::Ingest, dir: &Path, case: &str, content: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    let path = dir.join(format!("{case}.bin"));
    std::fs::write(&path, content).unwrap();
    let sig = dir.join(format!("{case}.p7s"));
    openssl_sign_detached(&path, &sig);
    let s = std::fs::read(&sig).unwrap();
    let sub = tamga::ingest::Submission {
        case,
        signature: &s,
        content: Some(tamga::ingest::Payload::Bytes(content)),
        sender_ref: Some(case),
        received_at: AT,
        submitter: None,
    };
    assert_eq!(
        ing.submit(&sub).unwrap().status,
        tamga::verify::Status::Accepted
    );
    sha2::Sha256::digest(content).into()
}

#[test]
fn a_failed_manifest_read_aborts_execution_before_anything_is_destroyed() {
    // Two documents share their first 1 MiB chunk: A in T-1 (to be destroyed), B in the
    // permanent T-3. A failed read of the chunk's reference count must not let the chunk go;
    // a failed read of A's manifest must not leave A's bytes behind an act that says
    // "executed".
    let shared: Vec<u8> = (0..tamga::archive::blobs::CHUNK)
        .map(|i| (i * 7 % 251) as u8)
        .collect();
    for fail_kept in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let (act, a_blob, b_blob) = {
            let mut ing = ingest(&data);
            ing.policy = policy(None);
            let a_blob = file_content(&ing, dir.path(), "T-1", &[&shared[..], b"A"].concat());
            let b_blob = file_content(&ing, dir.path(), "T-3", &[&shared[..], b"B"].concat());
            (
                approved_act(&ing.archive, &policy(Some(2026))),
                a_blob,
                b_blob,
            )
        };
        // Kept: the shared chunk's reference count (which alone keeps it for B now that no
        // kept manifest is read); destroyed: A's manifest.
        let shared_chunk: [u8; 32] = {
            use sha2::Digest;
            sha2::Sha256::digest(&shared).into()
        };
        let fail = if fail_kept {
            (
                Space::Index,
                tamga::archive::keys::chunk_refs_key(&shared_chunk),
            )
        } else {
            (Space::Blobs, a_blob.to_vec())
        };
        {
            let a = open_failing(&data, fail);
            let r = acts::execute(&a, &policy(Some(2026)), &act, at(WHEN));
            assert!(r.is_err(), "fail_kept={fail_kept}: {r:?}");
        }
        let ing = ingest(&data);
        let a = &ing.archive;
        for blob in [a_blob, b_blob] {
            tamga::archive::blobs::check(a.raw_store(), &blob).unwrap();
        }
        assert_eq!(kept_in_t1(a), 1);
        let shown = acts::get(a, &act).unwrap();
        assert_eq!(shown.executed, None, "fail_kept={fail_kept}");
    }
}

#[test]
fn a_case_that_never_had_documents_is_empty_not_disposed() {
    let dir = tempfile::tempdir().unwrap();
    let ing = file_three(&dir.path().join("data"));
    let (a, p) = (&ing.archive, policy(Some(2026)));
    let status = |case: &str| {
        retention::plan(a, &p, at(WHEN))
            .unwrap()
            .into_iter()
            .find(|c| c.index == case)
            .unwrap()
            .status
    };
    assert_eq!(status("T-4"), CaseStatus::Empty);
    match acts::draft(a, &p, &["T-4".into()], "Иванова", at(WHEN)) {
        Err(RetentionError::Refused(why)) => assert!(why.contains("ever filed"), "{why}"),
        other => panic!("{other:?}"),
    }
    let act = approved_act(a, &p);
    acts::execute(a, &p, &act, at(WHEN)).unwrap();
    assert_eq!(status("T-1"), CaseStatus::Disposed);
    assert_eq!(status("T-4"), CaseStatus::Empty);
}

#[test]
fn a_plan_and_showing_an_act_do_not_wait_for_the_writer_lock() {
    let dir = tempfile::tempdir().unwrap();
    let ing = file_three(&dir.path().join("data"));
    let (a, p) = (&ing.archive, policy(Some(2026)));
    let act = approved_act(a, &p);
    let (started_tx, started) = std::sync::mpsc::channel();
    let (done_tx, done) = std::sync::mpsc::channel::<()>();
    let read_meanwhile = std::thread::scope(|s| {
        // A writer holds the lock until the reads are done, or gives up after 5 s.
        let writer = s.spawn(move || {
            a.append(|_| {
                started_tx.send(()).unwrap();
                Ok(done.recv_timeout(std::time::Duration::from_secs(5)).is_ok())
            })
            .unwrap()
            .0
        });
        started.recv().unwrap();
        let plan = retention::plan(a, &p, at(WHEN)).unwrap();
        assert_eq!(plan.len(), 3);
        assert_eq!(acts::get(a, &act).unwrap().approvals.len(), 2);
        let _ = done_tx.send(());
        writer.join().unwrap()
    });
    assert!(
        read_meanwhile,
        "the plan waited for the writer lock instead of reading beside it"
    );
}

/// The gate's ends as the store holds them: (entered, go).
type GateEnds = (std::sync::mpsc::Sender<()>, std::sync::mpsc::Receiver<()>);

/// Files the three fixtures into T-1 (in `data`), then reopens that archive over a gate at
/// `at` inside a pipeline (whose own archive lives in `spare`); returns the pipeline and
/// the gate's two ends: (entered, go).
fn gated(
    data: &Path,
    spare: &Path,
    at: (Space, Vec<u8>),
) -> (
    tamga::ingest::Ingest,
    std::sync::mpsc::Receiver<()>,
    std::sync::mpsc::Sender<()>,
) {
    drop(file_three(data));
    let (entered_tx, entered) = std::sync::mpsc::channel();
    let (go, go_rx) = std::sync::mpsc::channel();
    let armed: std::sync::Arc<Mutex<Option<GateEnds>>> = std::sync::Arc::default();
    let gate = armed.clone();
    // Parks the first read of `at` until told to go on (or 10 s pass): a long read caught
    // in the middle.
    let archive = hooked::open_over(data, |inner| {
        Box::new(hooked::Hooked::reads(
            inner,
            Box::new(move |space, key| {
                if space == at.0 && key == at.1 {
                    let ends = gate.lock().unwrap().take();
                    if let Some((entered, go)) = ends {
                        entered.send(()).unwrap();
                        let _ = go.recv_timeout(std::time::Duration::from_secs(10));
                    }
                }
                Ok(())
            }),
        ))
    });
    // Armed once open (which reads the last entries itself).
    *armed.lock().unwrap() = Some((entered_tx, go_rx));
    let mut ing = ingest(spare);
    ing.policy = policy(None);
    drop(std::mem::replace(&mut ing.archive, archive));
    (ing, entered, go)
}

/// Files one more copy of the RSA fixture into T-1 (a new document: another sender reference).
fn file_fourth(ing: &tamga::ingest::Ingest) -> tamga::verify::Status {
    hooked::submit_fixture(ing, "T-1", "rsa-attached.der", "fourth")
}

/// Runs `long` (parked by the gate) beside one filing; returns what `long` returned and
/// whether the filing completed while `long` was parked.
fn beside_a_filing<T: Send>(
    ing: &tamga::ingest::Ingest,
    entered: std::sync::mpsc::Receiver<()>,
    go: std::sync::mpsc::Sender<()>,
    long: impl FnOnce() -> T + Send,
) -> (T, bool) {
    std::thread::scope(|s| {
        let long = s.spawn(long);
        entered
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("the long read never reached the gate");
        let (done_tx, done) = std::sync::mpsc::channel();
        let filing = s.spawn(move || done_tx.send(file_fourth(ing)).unwrap());
        let filed = done.recv_timeout(std::time::Duration::from_secs(5));
        let _ = go.send(());
        filing.join().unwrap();
        let filed = filed.is_ok_and(|s| s == tamga::verify::Status::Accepted);
        (long.join().unwrap(), filed)
    })
}

#[test]
fn a_submission_completes_while_a_plan_is_in_progress() {
    let dir = tempfile::tempdir().unwrap();
    let key = tamga::archive::keys::case_tally_key("T-1");
    let (ing, entered, go) = gated(
        &dir.path().join("d"),
        &dir.path().join("s"),
        (Space::Index, key),
    );
    let p = policy(Some(2026));
    let (plan, filed) = beside_a_filing(&ing, entered, go, || {
        retention::plan(&ing.archive, &p, at(WHEN)).unwrap()
    });
    assert!(filed, "the filing waited for the plan");
    let t1 = plan.iter().find(|c| c.index == "T-1").unwrap();
    assert!(matches!(t1.documents, 3 | 4), "{t1:?}");
    assert_eq!(t1.status, CaseStatus::Destroyable);
}

#[test]
fn a_submission_completes_while_an_act_is_drafted_and_the_act_counts_it() {
    let dir = tempfile::tempdir().unwrap();
    // Drafting reads every document of T-1: parked at the first one's entry.
    let (ing, entered, go) = gated(
        &dir.path().join("d"),
        &dir.path().join("s"),
        (Space::Log, 0u64.to_be_bytes().to_vec()),
    );
    let p = policy(Some(2026));
    let (act, filed) = beside_a_filing(&ing, entered, go, || {
        acts::draft(&ing.archive, &p, &["T-1".into()], "Иванова", at(WHEN)).unwrap()
    });
    assert!(filed, "the filing waited for the draft");
    // The document filed meanwhile changed the case: judged again under the lock.
    assert_eq!(act.documents.len(), 4, "{act:?}");
    assert_eq!(act.cases[0].documents, 4);
}

#[test]
fn a_submission_completes_while_an_act_is_executed_and_stays_kept() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let act = {
        let ing = file_three(&data);
        approved_act(&ing.archive, &policy(Some(2026)))
    };
    // Execution replays the holds from the whole log first: parked at entry 0.
    let (ing, entered, go) = gated(
        &data,
        &dir.path().join("s"),
        (Space::Log, 0u64.to_be_bytes().to_vec()),
    );
    let p = policy(Some(2026));
    let (done, filed) = beside_a_filing(&ing, entered, go, || {
        acts::execute(&ing.archive, &p, &act, at(WHEN))
    });
    assert!(filed, "the filing waited for the execution");
    assert_eq!(done.unwrap().documents.len(), 3);
    let a = &ing.archive;
    // The fourth document shares its bytes with the first, destroyed: they stay.
    let docs = a.read(|txn| retention::documents(txn, a, "T-1")).unwrap();
    assert_eq!(docs.len(), 1, "{docs:?}");
    let name = tamga::archive::checkpoint::unhex32(&docs[0].files[0]).unwrap();
    tamga::archive::blobs::check(a.raw_store(), &name).unwrap();
    let tally = a.case_tally("T-1").unwrap().unwrap();
    assert_eq!((tally.filed, tally.kept), (4, 1), "{tally:?}");
    assert_eq!(tally.bytes, docs[0].bytes);
    assert_eq!(tally.first.as_deref(), Some(docs[0].date.as_str()));
}
