//! The console's look-up lists (`archive::lists`), without a browser: a principal's own
//! submissions and a case's documents by reference, IIN/BIN and signer's name, written with
//! the filing; and built once for an archive from before them.

use super::common;
use common::fixtures;
use tamga::archive::Archive;
use tamga::archive::lists::{List, Outcome};
use tamga::archive::store::{Batch, Space};
use tamga::verify::Status;

/// Submits fixture `file` into 01-05 as `who` with reference `r`; its verdict.
fn submit(ing: &tamga::ingest::Ingest, file: &str, r: &str, who: Option<&str>) -> Status {
    let sig = std::fs::read(fixtures().join("sig").join(file)).unwrap();
    let s = tamga::ingest::Submission {
        case: "01-05",
        signature: &sig,
        content: None,
        sender_ref: Some(r),
        received_at: common::AT,
        submitter: who,
    };
    ing.submit(&s).unwrap().status
}

/// A list's values, oldest first; `None` when the archive keeps no lists.
fn values(a: &Archive, l: &List<'_>) -> Option<Vec<u64>> {
    let r = a.list(l).unwrap()?;
    Some((1..=r.len).map(|n| r.get(n).unwrap()).collect())
}

/// Files: alice's accepted P-256 (ref "ИСХ 1"), alice's rejected expired one, bob's
/// accepted RSA (ref "исх  1"), alice's accepted Ed25519, and one without a submitter.
fn file_five(ing: &tamga::ingest::Ingest) {
    assert_eq!(
        submit(ing, "p256.der", "ИСХ 1", Some("alice")),
        Status::Accepted
    );
    assert_eq!(
        submit(ing, "expired.der", "x", Some("alice")),
        Status::Rejected
    );
    let bob = submit(ing, "rsa-attached.der", " исх  1 ", Some("bob"));
    assert_eq!(bob, Status::Accepted);
    assert_eq!(
        submit(ing, "ed25519.der", "b", Some("alice")),
        Status::Accepted
    );
    assert_eq!(submit(ing, "p256.der", "c", None), Status::Accepted);
}

/// What [`file_five`] leaves in the lists.
fn assert_five(a: &Archive) {
    let mine = |p, o| values(a, &List::Mine(p, o)).expect("lists built");
    assert_eq!(mine("alice", Outcome::All), [0, 1, 3]);
    assert_eq!(mine("alice", Outcome::Accepted), [0, 3]);
    assert_eq!(mine("alice", Outcome::Rejected), [1]);
    assert_eq!(mine("bob", Outcome::All), [2]);
    assert_eq!(mine("carol", Outcome::All), Vec::<u64>::new());
    let case = |l: List<'_>| values(a, &l).unwrap();
    // Registration numbers in 01-05: 1 = P-256, 2 = RSA, 3 = Ed25519, 4 = P-256 again.
    assert_eq!(
        case(List::Ref("01-05", "исх 1")),
        [1, 2],
        "case and spaces ignored"
    );
    assert_eq!(case(List::Ref("01-05", "b")), [3]);
    assert_eq!(case(List::Ref("01-05", "x")), Vec::<u64>::new(), "rejected");
    assert_eq!(case(List::Id("01-05", "123456789011")), [2], "IIN");
    assert_eq!(case(List::Id("01-05", "123456789021")), [2], "BIN");
    assert_eq!(case(List::Word("01-05", "ТЕСТОВ")), [2]);
    assert_eq!(case(List::Word("01-05", "signer")), [1, 3, 4]);
    assert_eq!(case(List::Word("01-05", "Ed25519")), [3]);
    assert_eq!(case(List::Word("01-05", "p")), [1, 4]);
    assert_eq!(
        case(List::Word("01-05", "kz")),
        Vec::<u64>::new(),
        "C= is no name"
    );
    assert_eq!(case(List::Word("01-06", "signer")), Vec::<u64>::new());
}

#[test]
fn lists_are_written_with_the_filing() {
    let dir = tempfile::tempdir().unwrap();
    let ing = common::ingest(dir.path());
    file_five(&ing);
    assert_five(&ing.archive);
    // A retry files nothing, so lists nothing twice.
    assert_eq!(
        submit(&ing, "p256.der", "ИСХ 1", Some("alice")),
        Status::Accepted
    );
    assert_eq!(
        values(&ing.archive, &List::Mine("alice", Outcome::All))
            .unwrap()
            .len(),
        3
    );
}

#[test]
fn an_archive_from_before_the_lists_gets_them_on_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let ing = common::ingest(dir.path());
        file_five(&ing);
        // As a tamga from before the lists left it: no version, every list empty.
        let store = ing.archive.raw_store();
        let mut b = Batch::default();
        for k in store.keys(Space::Index).unwrap() {
            if k.starts_with(b"list/") && k.ends_with(b"#") || k == b"lists-version" {
                b.put(Space::Index, k, 0u64.to_be_bytes());
            }
        }
        store.apply(&b).unwrap();
        assert_eq!(
            values(&ing.archive, &List::Mine("alice", Outcome::All)),
            None
        );
    }
    let ing = common::ingest(dir.path());
    assert_five(&ing.archive);
    // And filing goes on from there.
    assert_eq!(
        submit(&ing, "ed25519.der", "d", Some("bob")),
        Status::Accepted
    );
    assert_eq!(
        values(&ing.archive, &List::Mine("bob", Outcome::All)).unwrap(),
        [2, 5]
    );
}
