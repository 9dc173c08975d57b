//! The filing queue (`pipeline.rs`): a batch that cannot be applied, or whose receipt cannot
//! be signed, takes with it the batches built on it and nothing else; the same submission
//! sent again while its receipt is signed gets that receipt; the head a reader is shown is
//! the one the store holds.

use super::journal::JournalStore;
use super::store::{Batch, Space, Store, StoreError};
use super::*;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A journal that refuses any batch keeping the receipt named in `refuse`.
#[derive(Debug)]
struct Faulty {
    inner: JournalStore,
    refuse: Mutex<Option<Vec<u8>>>,
    /// Batches handed to the store.
    applies: std::sync::atomic::AtomicUsize,
}

#[derive(Debug, Clone)]
struct Handle(Arc<Faulty>);

impl Store for Handle {
    fn apply(&self, batch: &Batch) -> Result<(), StoreError> {
        self.0
            .applies
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let refused = lock(&self.0.refuse).clone();
        let hit = |(s, k, _): &(Space, Vec<u8>, Vec<u8>)| {
            *s == Space::Receipts && Some(k) == refused.as_ref()
        };
        if batch.puts.iter().any(hit) {
            return Err(StoreError::Unwritable("refused (test)".into()));
        }
        self.0.inner.apply(batch)
    }
    fn sync(&self) -> Result<(), StoreError> {
        self.0.inner.sync()
    }
    fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.0.inner.get(space, key)
    }
    fn keys(&self, space: Space) -> Result<Vec<Vec<u8>>, StoreError> {
        self.0.inner.keys(space)
    }
}

fn archive(dir: &std::path::Path) -> (Archive, Handle) {
    let signer = Arc::new(crate::receipt::ReceiptSigner::ephemeral("t").unwrap());
    let store = Handle(Arc::new(Faulty {
        inner: JournalStore::open(&dir.join("store")).unwrap(),
        refuse: Mutex::new(None),
        applies: Default::default(),
    }));
    let a = Archive::open(Box::new(store.clone()), "tamga.test/queue".into(), signer).unwrap();
    (a, store)
}

type Filed = Result<((Vec<u8>, bool), Upto), ArchiveError>;

/// Files one entry whose "receipt" under `id` is what `sign` returns.
fn file(a: &Archive, id: &str, sign: impl FnOnce(()) -> Result<Vec<u8>, ArchiveError>) -> Filed {
    a.append_receipted(
        |txn| {
            if let Some(r) = txn.receipt(id)? {
                return Ok(Built::Found(r));
            }
            let event = log::Event::Review {
                case: "01-05".into(),
                decision: "keep".into(),
                by: id.into(),
            };
            txn.push(event, 1_700_000_000);
            Ok(Built::ToSign {
                id: id.into(),
                body: (),
            })
        },
        sign,
    )
}

fn signed(id: &str) -> impl FnOnce(()) -> Result<Vec<u8>, ArchiveError> {
    let r = format!("receipt of {id}").into_bytes();
    move |()| Ok(r)
}

fn wait_until(what: &str, done: impl Fn() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < Duration::from_secs(20), "never: {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Entry `index`'s maker (`by`) and whether it chains to the entry before it.
fn maker(a: &Archive, index: u64) -> (String, bool) {
    let entry = a.entry(index).unwrap().unwrap();
    let prev = a.entry_bytes(index - 1).unwrap().unwrap();
    let chained = entry.prev == crate::verify::certificate::hex(&log::entry_hash(&prev));
    match entry.event {
        log::Event::Review { by, .. } => (by, chained),
        other => panic!("{other:?}"),
    }
}

/// `b`'s batch is queued, its receipt being signed until `release`; `c` is built on it and
/// queued behind; then `b`'s fate is decided by `then` and `release` lets it go on.
fn b_then_c(
    a: &Archive,
    b_sign: impl FnOnce(()) -> Result<Vec<u8>, ArchiveError> + Send,
    then: impl FnOnce(),
) -> (Filed, Filed) {
    std::thread::scope(|s| {
        // Made inside the scope: should a step below panic, `release` is dropped as the
        // panic leaves this closure, before the scope waits for `b`, which then fails instead
        // of waiting for ever.
        let (release, wait) = mpsc::channel::<()>();
        let b = s.spawn(|| {
            file(a, "b", move |body| {
                wait.recv().unwrap();
                b_sign(body)
            })
        });
        wait_until("b queued", || a.pipeline.in_flight(b"b"));
        let c = s.spawn(|| file(a, "c", signed("c")));
        wait_until("c queued", || a.pipeline.in_flight(b"c"));
        then();
        release.send(()).unwrap();
        (b.join().unwrap(), c.join().unwrap())
    })
}

/// After `b` and `c` failed: nothing of theirs is kept, and `d` takes `b`'s place.
fn only_a_and_d(a: &Archive) {
    let ((_, found), upto) = file(a, "d", signed("d")).unwrap();
    assert!(!found);
    assert_eq!(
        upto.size, 2,
        "d was built on batches that were never applied"
    );
    a.make_durable(upto).unwrap();
    assert_eq!(a.size(), 2);
    assert_eq!(maker(a, 1), ("d".to_owned(), true));
    assert_eq!(a.receipt("b").unwrap(), None);
    assert_eq!(a.receipt("c").unwrap(), None);
    assert_eq!(a.receipt("d").unwrap(), Some(b"receipt of d".to_vec()));
    audit::verify(a, false, &mut |_, _| {}).unwrap();
}

#[test]
fn a_batch_the_store_refuses_fails_those_built_on_it_and_the_next_builds_on_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let (a, store) = archive(dir.path());
    file(&a, "a", signed("a")).unwrap();
    let (b, c) = b_then_c(&a, signed("b"), || {
        *lock(&store.0.refuse) = Some(b"b".to_vec());
    });
    assert!(b.is_err(), "{b:?}");
    assert!(
        c.is_err(),
        "c was built on b, which the store refused: {c:?}"
    );
    *lock(&store.0.refuse) = None;
    only_a_and_d(&a);
}

#[test]
fn a_receipt_that_cannot_be_signed_fails_its_batch_and_those_built_on_it() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _store) = archive(dir.path());
    file(&a, "a", signed("a")).unwrap();
    let refuse = |()| Err(ArchiveError::Signing);
    let (b, c) = b_then_c(&a, refuse, || {});
    assert!(matches!(b, Err(ArchiveError::Signing)), "{b:?}");
    assert!(c.is_err(), "c was built on b, which has no receipt: {c:?}");
    only_a_and_d(&a);
}

/// Files `b`, whose receipt is signed only once `during` calls the release it is handed:
/// `during` runs while `b`'s batch is queued; `b` must then be filed.
fn while_b_is_signed(a: &Archive, during: impl FnOnce(&dyn Fn())) {
    std::thread::scope(|s| {
        // Inside the scope, as in `b_then_c`: a panic in `during` drops it and `b` fails.
        let (release, wait) = mpsc::channel::<()>();
        let b = s.spawn(|| {
            file(a, "b", move |()| {
                wait.recv().unwrap();
                Ok(b"receipt of b".to_vec())
            })
        });
        wait_until("b queued", || a.pipeline.in_flight(b"b"));
        during(&|| release.send(()).unwrap());
        b.join().unwrap().unwrap();
    });
}

/// Runs `read` in a thread while `b` is signed, lets `b` go on 50 ms later, and returns what
/// `read` returned.
fn read_while_b_is_signed<T: Send>(a: &Archive, read: impl FnOnce() -> T + Send) -> T {
    let mut out = None;
    while_b_is_signed(a, |release| {
        std::thread::scope(|s| {
            let reader = s.spawn(read);
            std::thread::sleep(Duration::from_millis(50));
            release();
            out = Some(reader.join().unwrap());
        });
    });
    out.unwrap()
}

#[test]
fn a_submission_sent_again_while_its_receipt_is_signed_gets_that_receipt() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _store) = archive(dir.path());
    file(&a, "a", signed("a")).unwrap();
    while_b_is_signed(&a, |release| {
        let again = file(&a, "b", signed("b again"));
        assert!(matches!(again, Err(ArchiveError::InFlight)), "{again:?}");
        std::thread::scope(|s| {
            let reader = s.spawn(|| a.receipt_once_filed("b").unwrap());
            release();
            assert_eq!(reader.join().unwrap(), Some(b"receipt of b".to_vec()));
        });
    });
    assert_eq!(a.size(), 2, "filed once");
}

#[test]
fn a_reader_is_shown_the_head_the_store_holds_not_one_still_being_signed() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _store) = archive(dir.path());
    file(&a, "a", signed("a")).unwrap();
    let (shown, stored) = read_while_b_is_signed(&a, || {
        let shown = a.size();
        (shown, stored_head(a.raw_store()).unwrap().size)
    });
    assert_eq!(
        shown, stored,
        "a size was shown that the store did not hold"
    );
}

#[test]
fn a_signer_that_panics_fails_its_batch_and_the_queue_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _store) = archive(dir.path());
    file(&a, "a", signed("a")).unwrap();
    std::thread::scope(|s| {
        let b = s.spawn(|| file(&a, "b", |()| panic!("the signer failed (test)")));
        assert!(b.join().is_err());
        let d = s.spawn(|| file(&a, "d", signed("d")));
        wait_until("d filed", || d.is_finished());
        d.join().unwrap().unwrap();
    });
    assert_eq!(maker(&a, 1), ("d".to_owned(), true));
}

#[test]
fn a_checkpoint_is_signed_only_for_a_head_the_store_holds() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _store) = archive(dir.path());
    file(&a, "a", signed("a")).unwrap();
    let (signed, stored) = read_while_b_is_signed(&a, || {
        // A filing's wait for durability: the sync's leader signs the checkpoint.
        a.make_durable(Upto::size(1)).unwrap();
        let signed = a.checkpoint_size().unwrap().unwrap();
        (signed, stored_head(a.raw_store()).unwrap().size)
    });
    assert!(
        signed <= stored,
        "checkpoint for {signed} entries, {stored} stored"
    );
}

#[test]
fn batches_ready_together_go_to_the_store_as_one_and_file_as_one_by_one_would() {
    let dir = tempfile::tempdir().unwrap();
    let (a, store) = archive(dir.path());
    file(&a, "a", signed("a")).unwrap();
    let applies = || store.0.applies.load(std::sync::atomic::Ordering::SeqCst);
    let before = applies();
    while_b_is_signed(&a, |release| {
        std::thread::scope(|s| {
            let later: Vec<_> = ["c", "d", "e"]
                .into_iter()
                .map(|id| s.spawn(|| file(&a, id, signed(id))))
                .collect();
            wait_until("c, d and e signed", || a.pipeline.signed() == 3);
            release();
            for filer in later {
                filer.join().unwrap().unwrap();
            }
        });
    });
    assert_eq!(applies() - before, 1, "b, c, d and e were ready together");
    a.make_durable(Upto::size(5)).unwrap();
    let mut makers: Vec<String> = (1..5)
        .map(|i| {
            let (by, chained) = maker(&a, i);
            assert!(chained, "entry {i}");
            by
        })
        .collect();
    assert_eq!(makers.remove(0), "b");
    makers.sort();
    assert_eq!(makers, ["c", "d", "e"]);
    for id in ["a", "b", "c", "d", "e"] {
        let receipt = format!("receipt of {id}").into_bytes();
        assert_eq!(a.receipt(id).unwrap(), Some(receipt));
    }
    // The head, the tiles and the per-case indexes are what one batch at a time leaves.
    audit::verify(&a, false, &mut |_, _| {}).unwrap();
    drop((a, store));
    let (a, _) = archive(dir.path());
    assert_eq!(a.size(), 5, "reopened");
    assert!(maker(&a, 4).1, "still chained");
}

#[test]
fn a_batch_too_large_to_join_goes_alone_and_those_behind_it_follow_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let (a, store) = archive(dir.path());
    file(&a, "a", signed("a")).unwrap();
    let applies = || store.0.applies.load(std::sync::atomic::Ordering::SeqCst);
    let before = applies();
    // A receipt no batch can join (raw bytes: the store keeps them as they are).
    let big = vec![b'r'; joined::MAX_BYTES + 1];
    while_b_is_signed(&a, |release| {
        std::thread::scope(|s| {
            let c = s.spawn(|| {
                let big = big.clone();
                file(&a, "c", move |()| Ok(big))
            });
            wait_until("c signed", || a.pipeline.signed() == 1);
            let later: Vec<_> = ["d", "e"]
                .into_iter()
                .map(|id| s.spawn(|| file(&a, id, signed(id))))
                .collect();
            wait_until("d and e signed", || a.pipeline.signed() == 3);
            release();
            for filer in later.into_iter().chain([c]) {
                filer.join().unwrap().unwrap();
            }
        });
    });
    // b, c, d and e were ready together; the join stopped at c, whose receipt was placed
    // in its batch then and applied in the next round, alone; d and e were joined after it.
    assert_eq!(applies() - before, 3, "b, then c, then d and e");
    a.make_durable(Upto::size(5)).unwrap();
    assert_eq!(maker(&a, 1), ("b".to_owned(), true));
    assert_eq!(maker(&a, 2), ("c".to_owned(), true));
    let mut last: Vec<String> = (3..5).map(|i| maker(&a, i).0).collect();
    last.sort();
    assert_eq!(last, ["d", "e"]);
    assert_eq!(a.receipt("c").unwrap(), Some(big));
    for id in ["a", "b", "d", "e"] {
        let receipt = format!("receipt of {id}").into_bytes();
        assert_eq!(a.receipt(id).unwrap(), Some(receipt));
    }
    audit::verify(&a, false, &mut |_, _| {}).unwrap();
}
