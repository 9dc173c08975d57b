//! The per-case and reference indexes (`archive::tally`): an archive from before them gets
//! them built when it is opened, and `audit verify` recomputes them from the entries, so an
//! edited index is named.

mod common;
use common::*;
use std::path::Path;
use tamga::archive::Archive;
use tamga::archive::store::{Batch, Space};

fn tally_key(key: &[u8]) -> bool {
    [
        &b"casetally/"[..],
        b"blobrefs/",
        b"chunkrefs/",
        b"tally-version",
    ]
    .iter()
    .any(|p| key.starts_with(p))
}

/// The archive in `data` over a store that drops every write of the indexes, as a tamga from
/// before them wrote.
fn untallied(data: &Path) -> Archive {
    hooked::open_over(data, |inner| {
        Box::new(hooked::Hooked {
            inner,
            on_get: Box::new(|_, _| Ok(())),
            on_apply: |b| {
                b.puts
                    .retain(|(s, k, _)| !(*s == Space::Index && tally_key(k)));
            },
        })
    })
}

/// Files the RSA, P-256 and Ed25519 fixtures into 01-05, the RSA one twice (another sender
/// reference: a second document with the same bytes).
fn file_four(ing: &tamga::ingest::Ingest) {
    for (f, r) in [
        ("rsa-attached.der", "a"),
        ("p256.der", "b"),
        ("ed25519.der", "c"),
        ("rsa-attached.der", "d"),
    ] {
        let status = hooked::submit_fixture(ing, "01-05", f, r);
        assert_eq!(status, tamga::verify::Status::Accepted);
    }
}

/// The first chunk of the RSA fixture (one chunk: it is small).
fn rsa_chunk() -> [u8; 32] {
    use sha2::Digest;
    let sig = std::fs::read(fixtures().join("sig").join("rsa-attached.der")).unwrap();
    sha2::Sha256::digest(&sig).into()
}

fn audit(a: &Archive) -> Result<tamga::archive::audit::AuditReport, String> {
    tamga::archive::audit::verify(a, false, &mut |_, _| {}).map_err(|e| e.to_string())
}

#[test]
fn an_archive_from_before_the_indexes_gets_them_built_when_opened() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("old");
    {
        // Filed by a pipeline whose archive never keeps the indexes.
        let old = untallied(&data);
        let mut ing = ingest(&dir.path().join("spare"));
        drop(std::mem::replace(&mut ing.archive, old));
        file_four(&ing);
        let a = &ing.archive;
        assert_eq!(a.case_tally("01-05").unwrap(), None, "no index kept");
        assert!(!a.chunk_referenced(&rsa_chunk()).unwrap());
        let report = audit(a).unwrap();
        assert!(
            report.notes.iter().any(|n| n.contains("no per-case")),
            "{report:?}"
        );
    }
    let a = hooked::open_over(&data, |s| s);
    let t = a.case_tally("01-05").unwrap().expect("built on open");
    assert_eq!((t.filed, t.kept), (4, 4), "{t:?}");
    assert_eq!(t.first.as_deref(), Some("2026-06-01"));
    assert!(a.chunk_referenced(&rsa_chunk()).unwrap());
    assert_eq!(
        a.index_number(&tamga::archive::keys::chunk_refs_key(&rsa_chunk()))
            .unwrap(),
        1,
        "one blob, named by two documents"
    );
    let report = audit(&a).unwrap();
    assert!(
        !report.notes.iter().any(|n| n.contains("no per-case")),
        "{report:?}"
    );
}

#[test]
fn the_indexes_move_with_the_filings_and_match_a_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let ing = ingest(dir.path());
    file_four(&ing);
    let a = &ing.archive;
    let t = a.case_tally("01-05").unwrap().unwrap();
    assert_eq!((t.filed, t.kept), (4, 4));
    let docs = a
        .read(|txn| tamga::retention::documents(txn, a, "01-05"))
        .unwrap();
    assert_eq!(t.bytes, docs.iter().map(|d| d.bytes).sum::<u64>());
    assert_eq!(a.case_tally("01-12").unwrap().unwrap().filed, 0);
    audit(a).unwrap();
}

/// Overwrites one index value, as an intruder with the store's files could.
fn forge(a: &Archive, key: Vec<u8>, value: Vec<u8>) {
    let mut b = Batch::default();
    b.put(Space::Index, key, value);
    a.raw_store().apply(&b).unwrap();
}

#[test]
fn a_forged_index_is_named_by_the_audit() {
    let forgeries: [(&str, Vec<u8>, Vec<u8>); 3] = [
        (
            "the tally of case 01-05",
            tamga::archive::keys::case_tally_key("01-05"),
            br#"{"filed":4,"kept":3,"bytes":1,"first":null,"last":null}"#.to_vec(),
        ),
        (
            "reference count of chunk",
            tamga::archive::keys::chunk_refs_key(&rsa_chunk()),
            5u64.to_be_bytes().to_vec(),
        ),
        (
            // A count for a chunk no document has: it would never be destroyed.
            "reference count of chunk 0101",
            tamga::archive::keys::chunk_refs_key(&[1; 32]),
            1u64.to_be_bytes().to_vec(),
        ),
    ];
    for (named, key, value) in forgeries {
        let dir = tempfile::tempdir().unwrap();
        let ing = ingest(dir.path());
        file_four(&ing);
        let a = &ing.archive;
        audit(a).unwrap();
        forge(a, key, value);
        let err = audit(a).unwrap_err();
        assert!(err.contains(named), "{named}: {err}");
    }
}

#[test]
fn a_count_that_does_not_decode_is_damage_not_zero() {
    let dir = tempfile::tempdir().unwrap();
    let ing = ingest(dir.path());
    file_four(&ing);
    // Read as zero, the next filing of the same bytes would count them once and a disposal
    // would then release bytes that two kept documents name. (The RSA fixture is one chunk:
    // its blob is named by the same SHA-256.)
    forge(
        &ing.archive,
        tamga::archive::keys::blob_refs_key(&rsa_chunk()),
        vec![0, 2],
    );
    let sig = std::fs::read(fixtures().join("sig").join("rsa-attached.der")).unwrap();
    let again = tamga::ingest::Submission {
        case: "01-05",
        signature: &sig,
        content: None,
        sender_ref: Some("e"),
        received_at: AT,
        submitter: None,
    };
    let err = ing.submit(&again).unwrap_err().to_string();
    assert!(err.contains("does not decode as a count"), "{err}");
    assert_eq!(ing.archive.size(), 4, "nothing filed on a damaged count");
}
