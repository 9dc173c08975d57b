//! Receipts are stored compressed against a dictionary of their service's fixed parts
//! (`archive::receipts`), and every reader gets back exactly the bytes the sender got: on
//! sled, the journal and PostgreSQL, through the HTTP service, a retry, an export and a
//! restore; old receipts kept as plain DER still read; a damaged one is named by the audit.

mod common;
use common::server::{client, raw_submit, start_on};
use common::*;
use std::path::Path;
use tamga::archive::receipts::{self, COMPRESSED};
use tamga::archive::store::{Batch, Space};
use tamga::ingest::{Ingest, Outcome, Submission};

const GATEWAY: &str = "demo-gateway-token";
const DER: &str = "application/pkcs7-mime";

fn submit(ing: &Ingest, case: &str, name: &str, sender_ref: &str) -> Outcome {
    let sig = std::fs::read(fixtures().join("sig").join(name)).unwrap();
    ing.submit(&Submission {
        case,
        signature: &sig,
        content: None,
        sender_ref: Some(sender_ref),
        received_at: AT,
        submitter: None,
    })
    .unwrap()
}

/// An accepted and a rejected filing (whose receipt carries the reasons' texts).
fn file_two(ing: &Ingest) -> Vec<Outcome> {
    let accepted = submit(ing, "01-05", "rsa-attached.der", "a");
    let rejected = submit(ing, "99-99", "rsa-attached.der", "b");
    assert_eq!(
        (accepted.status, rejected.status),
        (
            tamga::verify::Status::Accepted,
            tamga::verify::Status::Rejected
        )
    );
    vec![accepted, rejected]
}

/// The dictionaries' keys in the receipts' space.
fn dictionaries(ing: &Ingest) -> Vec<Vec<u8>> {
    let keys = ing.archive.raw_store().keys(Space::Receipts).unwrap();
    keys.into_iter()
        .filter(|k| receipts::is_dictionary_key(k))
        .collect()
}

/// Each receipt reads back as sent, is stored compressed to well under half, and a retry
/// gets the same bytes without filing anything.
fn assert_kept_as_sent(ing: &Ingest, sent: &[Outcome]) {
    for o in sent {
        assert_eq!(
            ing.archive.receipt(&o.receipt_id).unwrap().unwrap(),
            o.receipt
        );
        // As a batch sees it (a retry racing the first filing is answered from there).
        let (in_batch, _) = ing
            .archive
            .append(|txn| txn.receipt(&o.receipt_id))
            .unwrap();
        assert_eq!(in_batch.as_ref(), Some(&o.receipt));
        let stored = ing
            .archive
            .raw_store()
            .get(Space::Receipts, o.receipt_id.as_bytes())
            .unwrap()
            .unwrap();
        assert_eq!(stored.first(), Some(&COMPRESSED));
        assert!(
            stored.len() * 2 < o.receipt.len(),
            "{} B stored for a {} B receipt",
            stored.len(),
            o.receipt.len()
        );
    }
    let size = ing.archive.size();
    let again = submit(ing, "01-05", "rsa-attached.der", "a");
    assert!(again.replay);
    assert_eq!(again.receipt, sent[0].receipt);
    assert_eq!(ing.archive.size(), size);
}

#[test]
fn receipts_read_back_as_sent_on_sled_and_the_journal_and_after_reopening() {
    for store in ["sled", "journal"] {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let ing = ingest_on(&data, store);
        let sent = file_two(&ing);
        assert_kept_as_sent(&ing, &sent);
        // One dictionary serves both (accepted and rejected), written with the first; it is
        // no receipt to whoever asks for one by its key.
        let names = dictionaries(&ing);
        assert_eq!(names.len(), 1, "{store}");
        let name = std::str::from_utf8(&names[0]).unwrap();
        assert_eq!(ing.archive.receipt(name).unwrap(), None);
        let (in_batch, _) = ing.archive.append(|txn| txn.receipt(name)).unwrap();
        assert_eq!(in_batch, None);
        drop(ing);
        let ing = ingest(&data);
        assert_kept_as_sent(&ing, &sent);
        let report = tamga::archive::audit::verify(&ing.archive, true, &mut |_, _| {});
        assert!(report.is_ok(), "{store}: {report:?}");
        // The export writes each receipt's exact DER, and checks offline.
        let out = dir.path().join("export");
        tamga::archive::export::write(&ing.archive, &out).unwrap();
        for o in &sent {
            let file = out.join("receipts").join(format!("{}.p7s", o.receipt_id));
            assert_eq!(std::fs::read(file).unwrap(), o.receipt, "{store}");
        }
        tamga::archive::export::verify(&out).unwrap();
    }
}

#[test]
fn receipts_read_back_as_sent_on_postgres() {
    let c = common::pg::Cluster::start()
        .unwrap_or_else(|why| panic!("no PostgreSQL for the test: {why}"));
    let dir = tempfile::tempdir().unwrap();
    let mut paths = archive_paths(&dir.path().join("data"));
    paths.store = Some(tamga::setup::Backend::Postgres);
    paths.database = Some(tamga::archive::postgres::Location {
        url: c.url(),
        schema: "tamga".into(),
        shared: false,
    });
    let ing = tamga::setup::open(&paths, tamga::verify::Policy::default()).unwrap();
    let sent = file_two(&ing);
    assert_kept_as_sent(&ing, &sent);
    assert_eq!(dictionaries(&ing).len(), 1);
    drop(ing);
    let ing = tamga::setup::open(&paths, tamga::verify::Policy::default()).unwrap();
    assert_kept_as_sent(&ing, &sent);
    let report = tamga::archive::audit::verify(&ing.archive, true, &mut |_, _| {});
    assert!(report.is_ok(), "{report:?}");
}

#[test]
fn the_http_service_answers_a_get_and_a_retry_with_the_receipt_as_sent() {
    let s = start_on("journal");
    let sig = std::fs::read(fixtures().join("sig/p256.der")).unwrap();
    let post = || {
        client()
            .post(format!("{}/v1/submissions", s.base))
            .query(&[("case", "01-05"), ("sender_ref", "h")])
            .header("Content-Type", DER)
            .header("Accept", DER)
            .bearer_auth(GATEWAY)
            .body(sig.clone())
            .send()
            .unwrap()
    };
    let first = post();
    assert_eq!(first.status().as_u16(), 201);
    let der = first.bytes().unwrap().to_vec();
    let id = s
        .state
        .ingest
        .archive
        .raw_store()
        .keys(Space::Receipts)
        .unwrap()
        .into_iter()
        .find(|k| !receipts::is_dictionary_key(k))
        .map(|k| String::from_utf8(k).unwrap())
        .unwrap();
    let got = client()
        .get(format!("{}/v1/receipts/{id}", s.base))
        .header("Accept", DER)
        .bearer_auth(GATEWAY)
        .send()
        .unwrap();
    assert_eq!(got.status().as_u16(), 200);
    assert_eq!(got.bytes().unwrap().to_vec(), der);
    assert_eq!(post().bytes().unwrap().to_vec(), der);
    // The JSON answer is the signed body, as before.
    let json = raw_submit(&s, Some(GATEWAY), "01-05", "h", sig.clone());
    assert_eq!(json.json::<serde_json::Value>().unwrap()["receipt_id"], id);
}

/// What a copy makes of a stored value (of the source archive, its space and key).
type Change<'a> = dyn Fn(&Ingest, Space, &[u8], Vec<u8>) -> Option<Vec<u8>> + 'a;

/// A copy of the archive in `from` (its keys and every stored value, `change`d: `None` leaves
/// a value out) as a sled archive in `to`.
fn copy_archive(from: &Path, to: &Path, change: &Change<'_>) {
    copy_dir(&from.join("keys"), &to.join("keys"));
    let source = ingest(from);
    let target = ingest_on(to, "sled");
    let mut batch = Batch::default();
    for space in Space::ALL {
        let store = source.archive.raw_store();
        for key in store.keys(space).unwrap() {
            let value = store.get(space, &key).unwrap().unwrap();
            if let Some(v) = change(&source, space, &key, value) {
                batch.put(space, key, v);
            }
        }
    }
    target.archive.raw_store().apply(&batch).unwrap();
    target.archive.raw_store().sync().unwrap();
}

/// `tamga audit verify --full` over `data`: (exit code, output).
fn audit(data: &Path) -> (Option<i32>, String) {
    let out = tamga_cmd(data)
        .args(["audit", "verify", "--full"])
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code(), text)
}

#[test]
fn receipts_kept_as_plain_der_still_read_and_audit_beside_compressed_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (new, old) = (dir.path().join("new"), dir.path().join("old"));
    let sent = file_two(&ingest(&new));
    // An archive as it was before dictionaries: every receipt its DER, no dictionary.
    copy_archive(&new, &old, &|ing, space, key, value| {
        if space != Space::Receipts {
            return Some(value);
        }
        let id = std::str::from_utf8(key).unwrap();
        (!receipts::is_dictionary_key(key)).then(|| ing.archive.receipt(id).unwrap().unwrap())
    });
    let ing = ingest(&old);
    assert!(dictionaries(&ing).is_empty());
    for o in &sent {
        let stored = ing
            .archive
            .raw_store()
            .get(Space::Receipts, o.receipt_id.as_bytes())
            .unwrap();
        assert_eq!(stored.as_ref(), Some(&o.receipt));
        assert_eq!(
            ing.archive.receipt(&o.receipt_id).unwrap().unwrap(),
            o.receipt
        );
    }
    // New filings beside them are compressed; both kinds audit.
    let third = submit(&ing, "01-05", "p256.der", "c");
    assert_eq!(dictionaries(&ing).len(), 1);
    assert_eq!(
        ing.archive.receipt(&third.receipt_id).unwrap().unwrap(),
        third.receipt
    );
    drop(ing);
    let (code, out) = audit(&old);
    assert_eq!(code, Some(0), "{out}");
}

#[test]
fn a_damaged_compressed_receipt_or_dictionary_is_named_by_the_audit() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let sent = file_two(&ingest(&data));
    let (code, out) = audit(&data);
    assert_eq!(code, Some(0), "{out}");
    let victim = sent[1].receipt_id.clone();
    // Its frame's checksum flipped: the receipt no longer reads back.
    let flipped = dir.path().join("flipped");
    copy_archive(&data, &flipped, &|_, space, key, mut value| {
        if space == Space::Receipts && key == victim.as_bytes() {
            *value.last_mut().unwrap() ^= 1;
        }
        Some(value)
    });
    let (code, out) = audit(&flipped);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains(&format!("receipt {victim}")), "{out}");
    assert!(out.contains("damaged"), "{out}");
    // Its dictionary changed: the first receipt naming it is named.
    let first = sent[0].receipt_id.clone();
    let dictionary = dir.path().join("dictionary");
    copy_archive(&data, &dictionary, &|_, space, key, mut value| {
        if space == Space::Receipts && receipts::is_dictionary_key(key) {
            value[200] ^= 1;
        }
        Some(value)
    });
    let (code, out) = audit(&dictionary);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(&format!("receipt {first}")) && out.contains("dictionary"),
        "{out}"
    );
}

#[test]
fn a_new_service_key_makes_a_second_dictionary_and_both_generations_read() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let ing = ingest(&data);
    let before = submit(&ing, "01-05", "rsa-attached.der", "a");
    drop(ing);
    // Key rotation: the old pair is put away, a new one is made on the next start.
    std::fs::rename(data.join("keys"), dir.path().join("old-keys")).unwrap();
    let ing = ingest(&data);
    let after = submit(&ing, "01-05", "p256.der", "b");
    assert_eq!(dictionaries(&ing).len(), 2);
    for o in [&before, &after] {
        assert_eq!(
            ing.archive.receipt(&o.receipt_id).unwrap().unwrap(),
            o.receipt
        );
    }
    let certs: Vec<_> = [&before, &after]
        .iter()
        .map(|o| tamga::verify::cms::parse(&o.receipt).unwrap().certificates[0].to_vec())
        .collect();
    assert_ne!(certs[0], certs[1]);
}

#[test]
fn a_restored_archive_keeps_its_receipts_compressed_and_as_sent() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let ing = ingest(&data);
    let sent = file_two(&ing);
    let bk = dir.path().join("bk");
    tamga::archive::backup::write(&ing.archive, &bk).unwrap();
    drop(ing);
    tamga::archive::backup::check::verify(&bk, None).unwrap();
    let restored = dir.path().join("restored");
    let out = tamga_cmd(&restored)
        .args(["restore", "--from"])
        .arg(&bk)
        .arg("--keys-from")
        .arg(data.join("keys"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (code, out) = audit(&restored);
    assert_eq!(code, Some(0), "{out}");
    let ing = ingest(&restored);
    assert_eq!(dictionaries(&ing).len(), 1);
    assert_kept_as_sent(&ing, &sent);
}

/// An archive over `data`'s store that counts the reads of dictionaries in `gets`, in an
/// ingest (whose own store, in `spare`, is put away).
fn counting_ingest(
    data: &Path,
    spare: &Path,
    gets: &std::sync::Arc<std::sync::atomic::AtomicUsize>,
) -> Ingest {
    use common::hooked::{Hooked, open_over};
    drop(ingest(data));
    let g = gets.clone();
    let archive = open_over(data, move |inner| {
        Box::new(Hooked::reads(
            inner,
            Box::new(move |space, key| {
                if space == Space::Receipts && receipts::is_dictionary_key(key) {
                    g.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
                Ok(())
            }),
        ))
    });
    let mut ing = ingest(spare);
    ing.archive = archive;
    ing
}

#[test]
fn filings_read_the_dictionary_at_most_once_and_a_backup_once() {
    use std::sync::atomic::Ordering::SeqCst;
    let dir = tempfile::tempdir().unwrap();
    let gets = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let ing = counting_ingest(&dir.path().join("data"), &dir.path().join("spare"), &gets);
    let sent: Vec<Outcome> = (0..6)
        .map(|n| submit(&ing, "01-05", "rsa-attached.der", &format!("n{n}")))
        .collect();
    // The first filing asks the store (it has none) and writes it; the rest know it is there.
    assert!(gets.load(SeqCst) <= 1, "{} reads", gets.load(SeqCst));
    assert_eq!(dictionaries(&ing).len(), 1);
    // A backup reads it once for all its receipts.
    gets.store(0, SeqCst);
    tamga::archive::backup::write(&ing.archive, &dir.path().join("bk")).unwrap();
    assert_eq!(gets.load(SeqCst), 1);
    for o in &sent {
        assert_eq!(
            ing.archive.receipt(&o.receipt_id).unwrap().unwrap(),
            o.receipt
        );
    }
}

#[test]
fn a_dictionary_written_by_a_batch_that_failed_is_written_again() {
    let dir = tempfile::tempdir().unwrap();
    let ing = ingest(&dir.path().join("data"));
    let body = br#"{"receipt_id":"x","organization":"Org"}"#;
    let der = ing.archive.signer().sign(body, AT).unwrap();
    let failed = ing.archive.append(|txn| {
        txn.put_receipt("0123", der.clone());
        Err::<(), _>(tamga::archive::ArchiveError::Refused("dropped".into()))
    });
    assert!(failed.is_err());
    assert!(dictionaries(&ing).is_empty());
    ing.archive
        .append(|txn| {
            txn.put_receipt("4567", der.clone());
            Ok(())
        })
        .unwrap();
    assert_eq!(dictionaries(&ing).len(), 1);
    assert_eq!(ing.archive.receipt("4567").unwrap(), Some(der));
}
