//! Two archives over one store that gives turns, as two `tamga serve` processes over one
//! PostgreSQL archive would be: every write must happen in a turn, on what the store holds.
//! The store is here; what a lost turn may leave behind is tested in `turn_lost_tests.rs`.

use super::access::Access;
use super::store::{Batch, Space, Store, StoreError};
use super::*;
use sha2::Digest;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, mpsc};

/// (space prefix, key) → value.
type Map = BTreeMap<(u8, Vec<u8>), Vec<u8>>;

/// What the "processes" share: the keys and values, who holds the turn, how many batches were
/// applied (the write generation), the checkpoint sizes in the order they were named latest.
#[derive(Debug, Default)]
struct Shared {
    map: Mutex<Map>,
    holder: Mutex<Option<usize>>,
    freed: Condvar,
    generation: AtomicU64,
    syncs: AtomicU64,
    latest: Mutex<Vec<u64>>,
    /// The process whose next batch (other than chunks) is lost: its apply returns Ok but
    /// nothing is kept, as a PostgreSQL turn whose lease ran out before it committed.
    lose: Mutex<Option<usize>>,
    /// Whether a loss is counted ([`Store::losses`]) when the batch is dropped, rather than
    /// when the next turn that finds another's writes reports it (as PostgreSQL's `begin`
    /// settles the lost turn and opens the next one in one call).
    count_at_drop: AtomicBool,
    /// Pauses in a process's sync, before it answers, and in its turn's beginning, before
    /// the archive reads the head again: a thread's interleavings, made deterministic.
    sync_gate: Mutex<Option<Gate>>,
    begin_gate: Mutex<Option<Gate>>,
    /// The process whose next read fails, once (`turn_fault_tests.rs`).
    fail_read: Mutex<Option<usize>>,
    /// Whether every sync fails, as on a disk gone read-only.
    fail_syncs: AtomicBool,
}

/// A pause in one process's store call: it says it arrived, and waits to be let go.
#[derive(Debug)]
struct Gate {
    id: usize,
    arrived: mpsc::Sender<()>,
    go: mpsc::Receiver<()>,
}

impl Gate {
    /// Sets a gate for process `id` in `slot`: returns (arrived, go).
    fn set(slot: &Mutex<Option<Gate>>, id: usize) -> (mpsc::Receiver<()>, mpsc::Sender<()>) {
        let (arrived, arrivals) = mpsc::channel();
        let (go_tx, go) = mpsc::channel();
        *slot.lock().unwrap() = Some(Gate { id, arrived, go });
        (arrivals, go_tx)
    }

    /// Pauses process `id` at the gate in `slot`, if one is set for it (once).
    fn pass(slot: &Mutex<Option<Gate>>, id: usize) {
        let gate = {
            let mut slot = slot.lock().unwrap();
            match &*slot {
                Some(g) if g.id == id => slot.take(),
                _ => None,
            }
        };
        if let Some(g) = gate {
            g.arrived.send(()).unwrap();
            g.go.recv().unwrap();
        }
    }
}

/// One process's handle on the shared store.
#[derive(Debug)]
struct Handle {
    shared: Arc<Shared>,
    id: usize,
    /// The generation at the end of this handle's last turn (none yet: `u64::MAX`).
    seen: AtomicU64,
    /// What its lost batches wrote: still answered to this handle until its next turn, as the
    /// PostgreSQL store answers from batches handed over until it finds their turn lost.
    ghost: Mutex<Map>,
    /// Its turn was lost: its writes are dropped and its syncs fail until a turn of its
    /// finds another's writes (which reports the loss, as PostgreSQL's `open_turn` does).
    lost: AtomicBool,
    losses: AtomicU64,
}

impl Handle {
    fn new(shared: &Arc<Shared>, id: usize) -> Handle {
        Handle {
            shared: shared.clone(),
            id,
            seen: AtomicU64::new(u64::MAX),
            ghost: Mutex::default(),
            lost: AtomicBool::new(false),
            losses: AtomicU64::new(0),
        }
    }

    fn holds_turn(&self) -> bool {
        *self.shared.holder.lock().unwrap() == Some(self.id)
    }
}

impl Store for Handle {
    fn apply(&self, batch: &Batch) -> Result<(), StoreError> {
        // Content-addressed chunks staged before the turn are the one write allowed outside
        // it: the same key always takes the same value, whoever writes it.
        let chunks_only =
            batch.disposals.is_empty() && batch.puts.iter().all(|(s, _, _)| *s == Space::Chunks);
        if !chunks_only && !self.holds_turn() {
            return Err(StoreError::Refused(format!(
                "process {} wrote outside its turn",
                self.id
            )));
        }
        if !chunks_only {
            let mut lose = self.shared.lose.lock().unwrap();
            if *lose == Some(self.id) {
                *lose = None;
                self.lost.store(true, Ordering::SeqCst);
                if self.shared.count_at_drop.load(Ordering::SeqCst) {
                    self.losses.fetch_add(1, Ordering::SeqCst);
                }
            }
            if self.lost.load(Ordering::SeqCst) {
                let mut ghost = self.ghost.lock().unwrap();
                for (space, k, v) in &batch.puts {
                    ghost.insert((space.prefix(), k.clone()), v.clone());
                }
                return Ok(());
            }
        }
        let mut map = self.shared.map.lock().unwrap();
        for (space, k, v) in &batch.puts {
            let key = (space.prefix(), k.clone());
            if space.append_only() && map.get(&key).is_some_and(|old| old != v) {
                return Err(StoreError::Overwrite {
                    space: *space,
                    key: crate::verify::certificate::hex(k),
                });
            }
        }
        for (space, k, v) in &batch.puts {
            if *space == Space::Index && k == LATEST_CHECKPOINT {
                let size = index_u64(Some(v.clone())).unwrap_or(0);
                self.shared.latest.lock().unwrap().push(size);
            }
            map.insert((space.prefix(), k.clone()), v.clone());
        }
        for (space, k) in &batch.disposals {
            map.remove(&(space.prefix(), k.clone()));
        }
        for (space, k) in &batch.disposals {
            map.remove(&(space.prefix(), k.clone()));
        }
        self.shared.generation.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    fn sync(&self) -> Result<(), StoreError> {
        Gate::pass(&self.shared.sync_gate, self.id);
        if self.shared.fail_syncs.load(Ordering::SeqCst) {
            return Err(StoreError::Unwritable("syncs fail".into()));
        }
        if self.lost.load(Ordering::SeqCst) {
            return Err(StoreError::Unwritable("the turn was lost".into()));
        }
        self.shared.syncs.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let mut fail = self.shared.fail_read.lock().unwrap();
        if *fail == Some(self.id) {
            *fail = None;
            return Err(StoreError::Unwritable("a read failed".into()));
        }
        drop(fail);
        let id = (space.prefix(), key.to_vec());
        if let Some(v) = self.ghost.lock().unwrap().get(&id) {
            return Ok(Some(v.clone()));
        }
        let map = self.shared.map.lock().unwrap();
        Ok(map.get(&(space.prefix(), key.to_vec())).cloned())
    }
    fn keys(&self, space: Space) -> Result<Vec<Vec<u8>>, StoreError> {
        let map = self.shared.map.lock().unwrap();
        Ok(map
            .keys()
            .filter(|(s, _)| *s == space.prefix())
            .map(|(_, k)| k.clone())
            .collect())
    }
    fn writes_in_turns(&self) -> bool {
        true
    }

    fn begin_turn(&self) -> Result<bool, StoreError> {
        let mut holder = self.shared.holder.lock().unwrap();
        while holder.is_some() {
            holder = self.shared.freed.wait(holder).unwrap();
        }
        *holder = Some(self.id);
        drop(holder);
        self.ghost.lock().unwrap().clear();
        let now = self.shared.generation.load(Ordering::SeqCst);
        let stale = self.seen.load(Ordering::SeqCst) != now;
        if stale
            && self.lost.swap(false, Ordering::SeqCst)
            && !self.shared.count_at_drop.load(Ordering::SeqCst)
        {
            self.losses.fetch_add(1, Ordering::SeqCst);
        }
        Gate::pass(&self.shared.begin_gate, self.id);
        Ok(stale)
    }
    fn losses(&self) -> u64 {
        self.losses.load(Ordering::SeqCst)
    }
    fn end_turn(&self) {
        let mut holder = self.shared.holder.lock().unwrap();
        assert_eq!(*holder, Some(self.id), "a turn ended that was not taken");
        self.seen.store(
            self.shared.generation.load(Ordering::SeqCst),
            Ordering::SeqCst,
        );
        *holder = None;
        self.shared.freed.notify_all();
    }
}

fn open(shared: &Arc<Shared>, id: usize, signer: &Arc<crate::receipt::ReceiptSigner>) -> Archive {
    Archive::open(
        Box::new(Handle::new(shared, id)),
        "tamga.test/turns".into(),
        signer.clone(),
    )
    .unwrap()
}

fn access(n: usize) -> Access {
    Access {
        principal: Some(format!("p{n}")),
        action: "GET /v1/checkpoint".into(),
        target: format!("/v1/checkpoint?n={n}"),
        decision: "allowed",
        status: 200,
    }
}

/// Files one "document" in `case` through `a`: the case's next number, in an entry.
fn file(a: &Archive, case: &str, at: i64) -> u64 {
    let (n, upto) = append(a, case, at, 1);
    a.make_durable(upto).unwrap();
    n
}

/// Appends `count` entries in `case` in one batch, not yet durable: the case's last number,
/// and what to make durable.
fn append(a: &Archive, case: &str, at: i64, count: usize) -> (u64, Upto) {
    a.append(|txn| {
        let mut n = 0;
        for _ in 0..count {
            n = txn.next_number(&counter_key(case))?;
            txn.push(
                log::Event::Review {
                    case: case.into(),
                    decision: "keep".into(),
                    by: format!("{case}/{n}"),
                },
                at,
            );
        }
        Ok(n)
    })
    .unwrap()
}

/// Files `each` documents from each of `threads` threads, alternately through each archive
/// and into two cases, each after an access record: the (case, number) of every filing.
fn file_from_threads(archives: &[Archive; 2], threads: usize, each: usize) -> Vec<(String, u64)> {
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let mut got = Vec::new();
                    for i in 0..each {
                        // Alternately through each "process", into two cases.
                        let a = &archives[(t + i) % 2];
                        let case = ["01-05", "02-01"][i % 2];
                        a.record_access(access(t * each + i), 1_700_000_000)
                            .unwrap();
                        got.push((case.to_owned(), file(a, case, 1_700_000_000)));
                        if i % 7 == 0 {
                            a.flush_access().unwrap();
                        }
                    }
                    got
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    })
}

/// Numbers 1..N per case, none given twice, none skipped.
fn assert_gapless(numbers: &[(String, u64)]) {
    for case in ["01-05", "02-01"] {
        let mut got: Vec<u64> = numbers
            .iter()
            .filter(|(c, _)| c == case)
            .map(|(_, n)| *n)
            .collect();
        got.sort_unstable();
        let n = u64::try_from(got.len()).unwrap();
        assert_eq!(got, (1..=n).collect::<Vec<_>>(), "{case}");
    }
}

#[test]
fn two_archives_over_one_store_keep_one_chain_one_numbering_and_one_access_log() {
    let shared = Arc::new(Shared::default());
    let signer = Arc::new(crate::receipt::ReceiptSigner::ephemeral("t").unwrap());
    let archives = [open(&shared, 0, &signer), open(&shared, 1, &signer)];
    let (threads, each) = (4, 40);
    let numbers = file_from_threads(&archives, threads, each);
    for a in &archives {
        a.sync_now().unwrap();
    }
    assert_gapless(&numbers);
    // A third process reads one chain of every filing and one access log, and audits it.
    let reader = open(&shared, 2, &signer);
    let total = u64::try_from(threads * each).unwrap();
    assert_eq!(reader.size(), total);
    let (size, head) = reader.access_head();
    assert_eq!(size, total);
    assert_eq!(access::chain_head(&reader, size).unwrap(), head);
    audit::verify(&reader, true, &mut |_, _| {}).unwrap();
    // The latest checkpoint never moved back, and the last one covers everything.
    let latest = shared.latest.lock().unwrap().clone();
    assert!(latest.windows(2).all(|w| w[0] <= w[1]), "{latest:?}");
    assert_eq!(latest.last(), Some(&total));
    assert_eq!(reader.latest_checkpoint().unwrap().unwrap().access.0, total);
    // Each writer's proofs are of the tree its last turn read, the other's entries included.
    let root = crate::verify::certificate::hex(&reader.head().1);
    for a in &archives {
        let p = proofs::inclusion(a, total - 1, None).unwrap();
        assert_eq!((p.size, &p.root), (total, &root));
    }
    // One more filing through the first: the second, which has not written since, proves it
    // and serves its entry bundle from the stored head (a client went to another frontend).
    file(&archives[0], "01-05", 1_700_000_000);
    let p = proofs::inclusion(&archives[1], total, None).unwrap();
    assert_eq!(p.size, total + 1);
    let (n, w) = (
        total >> tiles::HEIGHT,
        (total + 1) & ((1 << tiles::HEIGHT) - 1),
    );
    let bundle = crate::archive::tilepath::TileRef {
        level: None,
        n,
        partial: Some(w),
    };
    assert!(archives[1].tile(bundle).unwrap().is_some());
    // An audit run by the one behind (`POST /v1/audit` on that frontend) checks what is stored.
    archives[1].record_access(access(0), 1_700_000_000).unwrap();
    archives[0].sync_now().unwrap();
    audit::verify(&archives[1], true, &mut |_, _| {}).unwrap();
}

#[test]
fn a_retry_answered_from_another_process_filing_is_made_durable_first() {
    let shared = Arc::new(Shared::default());
    let signer = Arc::new(crate::receipt::ReceiptSigner::ephemeral("t").unwrap());
    let (a, b) = (open(&shared, 0, &signer), open(&shared, 1, &signer));
    // `a` files and dies before its sync: its filing is applied, not durable.
    a.append(|txn| {
        txn.push(
            log::Event::Review {
                case: "01-05".into(),
                decision: "keep".into(),
                by: "x".into(),
            },
            1_700_000_000,
        );
        Ok(())
    })
    .unwrap();
    drop(a);
    let before = shared.syncs.load(Ordering::SeqCst);
    // `b` has not written since it opened, so its memory says the log is empty; what the store
    // holds is what a retry's receipt stands on.
    b.make_durable(Upto::size(b.stored_head().unwrap().0))
        .unwrap();
    assert_eq!(shared.syncs.load(Ordering::SeqCst), before + 1);
    assert_eq!(b.latest_checkpoint().unwrap().unwrap().size, 1);
}

#[test]
fn a_failed_build_ends_its_turn() {
    let shared = Arc::new(Shared::default());
    let signer = Arc::new(crate::receipt::ReceiptSigner::ephemeral("t").unwrap());
    let (a, b) = (open(&shared, 0, &signer), open(&shared, 1, &signer));
    let refused =
        a.append(|_| -> Result<(), ArchiveError> { Err(ArchiveError::Refused("no".into())) });
    assert!(refused.is_err());
    // Were the turn still held, this would wait for ever.
    assert_eq!(file(&b, "01-05", 1_700_000_000), 1);
    assert_eq!(file(&a, "01-05", 1_700_000_000), 2);
}

#[test]
fn a_turn_taken_aside_that_finds_another_process_writes_makes_the_next_one_read_again() {
    let shared = Arc::new(Shared::default());
    let signer = Arc::new(crate::receipt::ReceiptSigner::ephemeral("t").unwrap());
    let (a, b) = (open(&shared, 0, &signer), open(&shared, 1, &signer));
    assert_eq!(file(&a, "01-05", 1_700_000_000), 1);
    assert_eq!(file(&b, "01-05", 1_700_000_000), 2);
    // `a` stages a large document's chunks in a turn of its own: that turn learns of `b`'s
    // filing, and `a`'s next filing must still build on it.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("large.bin");
    let bytes = vec![5u8; blobs::CHUNK + 1];
    std::fs::write(&path, &bytes).unwrap();
    let spooled = crate::spool::Spooled::existing(&path).unwrap();
    let sha: [u8; 32] = sha2::Sha256::digest(&bytes).into();
    a.stage_spooled(&spooled, &sha).unwrap();
    assert_eq!(file(&a, "01-05", 1_700_000_000), 3);
}

/// Two "processes" P and Q over one shared store.
fn two() -> (Arc<Shared>, Archive, Archive) {
    let shared = Arc::new(Shared::default());
    let signer = Arc::new(crate::receipt::ReceiptSigner::ephemeral("t").unwrap());
    let (p, q) = (open(&shared, 0, &signer), open(&shared, 1, &signer));
    (shared, p, q)
}

#[test]
fn reading_the_head_again_checks_the_indexes_again_without_building_them() {
    let (shared, p, q) = two();
    assert_eq!(file(&p, "01-05", 1_700_000_000), 1);
    assert_eq!(file(&q, "01-05", 1_700_000_000), 2);
    // P's next turn reads the head again: the next append checks the tallies and lists again
    // (their build may have been lost with a turn), the tiles not.
    let mut state = lock(&p.state);
    let before = p.epoch.load(Ordering::SeqCst);
    drop(p.turn(&mut state).unwrap());
    drop(state);
    assert_eq!(p.epoch.load(Ordering::SeqCst), before + 1);
    assert!(p.tiles_ready.load(Ordering::SeqCst));
    assert!(!p.tally_ready.load(Ordering::SeqCst));
    assert!(!p.lists_ready.load(Ordering::SeqCst));
    // They are built: the append writes its own batch only.
    let batches = shared.generation.load(Ordering::SeqCst);
    append(&p, "01-05", 1_700_000_000, 1);
    assert_eq!(shared.generation.load(Ordering::SeqCst), batches + 1);
    assert!(p.tally_ready.load(Ordering::SeqCst));
    assert!(p.lists_ready.load(Ordering::SeqCst));
}

/// P stages an evidence blob the store keeps; Q disposes of it before P's filing takes the
/// writer lock. P's turn reads the head again, which moves `blobs_moved`, so the filing looks
/// the blob up again and puts it back: the entry never names a blob that is gone.
#[test]
fn a_blob_another_process_disposed_of_after_staging_is_filed_again() {
    use std::borrow::Cow;
    let (_shared, p, q) = two();
    let der = b"an anchor certificate".to_vec();
    let item = evidence::Item {
        role: evidence::CERTIFICATE,
        name: sha2::Sha256::digest(&der).into(),
        der: Cow::Owned(der),
    };
    let items = std::slice::from_ref(&item);
    let kept = || q.store().get(Space::Blobs, &item.name).unwrap().is_some();
    let first = p.stage_evidence(items).unwrap();
    p.append(|txn| evidence::file(txn, items, first)).unwrap();
    let staged = p.stage_evidence(items).unwrap();
    assert!(staged.prepared.is_empty(), "staged while kept");
    q.append(|txn| {
        txn.dispose(Space::Blobs, item.name.to_vec());
        Ok(())
    })
    .unwrap();
    assert!(!kept());
    p.append(|txn| evidence::file(txn, items, staged)).unwrap();
    assert!(kept(), "P's filing must put the blob back");
}

/// The tests of a lost turn, on this file's store.
#[path = "turn_lost_tests.rs"]
mod lost;

/// The tests of a store's reads and syncs failing, on this file's store.
#[path = "turn_fault_tests.rs"]
mod fault;
