//! Several writers on one archive (`turn.rs`): two stores on one schema stand for two
//! `tamga serve` processes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use super::tests::{at, cluster, pg_cluster::Cluster, put};
use super::*;
use std::time::{Duration, Instant};

fn two(c: &Cluster) -> (PgStore, PgStore) {
    let shared = || Location {
        shared: true,
        ..at(c, "archive")
    };
    (
        PgStore::open(shared()).unwrap(),
        PgStore::open(shared()).unwrap(),
    )
}

fn admin(c: &Cluster) -> postgres::Client {
    postgres::Client::connect(&c.url(), postgres::NoTls).unwrap()
}

/// Polls `f` until it answers, for at most `limit`.
fn within<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "not within {limit:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs `f` on a thread of its own and returns what it returns, failing the test (instead of
/// hanging it) when `f` has not returned within `limit`; the thread is then left behind.
fn returns_within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, answer) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(f());
    });
    answer
        .recv_timeout(limit)
        .unwrap_or_else(|_| panic!("still waiting after {limit:?}"))
}

/// The backend holding the turn with a group written in it (its transaction updated the
/// count of groups).
fn holder_with_a_group(admin: &mut postgres::Client) -> Option<i32> {
    admin
        .query_opt(
            "SELECT t.pid FROM pg_locks t JOIN pg_locks r ON r.pid = t.pid
               JOIN pg_class k ON k.oid = r.relation
              WHERE t.locktype = 'advisory' AND t.mode = 'ExclusiveLock' AND t.granted
                AND k.relname = 'tamga_sync' AND r.mode = 'RowExclusiveLock'",
            &[],
        )
        .unwrap()
        .map(|r| r.get(0))
}

/// `a` begins a turn and writes log entry 0 in it; returns its backend once the group is
/// written in the turn's transaction.
fn a_writes_in_its_turn(a: &PgStore, admin: &mut postgres::Client) -> i32 {
    assert!(!a.begin_turn().unwrap());
    put(a, Space::Log, &[0], b"a's");
    within(Duration::from_secs(10), || holder_with_a_group(admin))
}

/// `a` writes in its turn, and its backend is killed before the turn commits.
fn a_killed_in_its_turn(c: &Cluster, a: &PgStore) {
    let mut admin = admin(c);
    let pid = a_writes_in_its_turn(a, &mut admin);
    admin
        .execute("SELECT pg_terminate_backend($1)", &[&pid])
        .unwrap();
}

#[test]
fn turns_alternate_and_each_writer_sees_what_the_other_wrote() {
    let c = cluster();
    let (a, b) = two(&c);
    // b asks for a receipt not there yet (a filing's idempotency check): absent, remembered.
    assert_eq!(b.get(Space::Receipts, b"r").unwrap(), None);
    assert!(!b.begin_turn().unwrap(), "no one wrote");
    assert_eq!(b.get(Space::Receipts, b"r").unwrap(), None);
    b.end_turn();
    b.sync().unwrap();
    assert!(!a.begin_turn().unwrap(), "b wrote nothing");
    put(&a, Space::Receipts, b"r", b"a's receipt");
    put(&a, Space::Receipts, b"r2", b"a's other receipt");
    put(&a, Space::Log, &[0], b"a's entry");
    a.end_turn();
    a.sync().unwrap();
    // Outside a turn, b answers what is stored, not its remembered absence.
    assert_eq!(
        b.get(Space::Receipts, b"r").unwrap().as_deref(),
        Some(&b"a's receipt"[..])
    );
    assert!(b.begin_turn().unwrap(), "a wrote");
    // Inside its turn: neither the cache nor the filter of keys (read at open, before a's
    // receipts) may answer "absent", or a retried filing would be filed twice.
    assert_eq!(
        b.get(Space::Receipts, b"r2").unwrap().as_deref(),
        Some(&b"a's other receipt"[..])
    );
    let mut again = Batch::default();
    again.put(Space::Log, vec![0], b"b's entry".to_vec());
    assert!(matches!(b.apply(&again), Err(StoreError::Overwrite { .. })));
    put(&b, Space::Log, &[1], b"b's entry");
    b.end_turn();
    b.sync().unwrap();
    assert!(a.begin_turn().unwrap(), "b wrote");
    a.end_turn();
    a.sync().unwrap();
    assert!(!a.begin_turn().unwrap(), "no one wrote since a's last turn");
    a.end_turn();
    assert!(!b.begin_turn().unwrap(), "a's turns wrote nothing");
    b.end_turn();
    assert_eq!(b.keys(Space::Log).unwrap(), vec![vec![0u8], vec![1]]);
}

#[test]
fn a_holder_whose_connection_is_killed_loses_the_turn_and_its_batches_fail() {
    let c = cluster();
    let (a, b) = two(&c);
    a_killed_in_its_turn(&c, &a);
    let t = Instant::now();
    assert!(!b.begin_turn().unwrap(), "a's turn never committed");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    put(&b, Space::Log, &[0], b"b's");
    b.end_turn();
    b.sync().unwrap();
    a.end_turn();
    let failed = a.sync().unwrap_err().to_string();
    assert!(failed.contains("lost its turn"), "{failed}");
    assert_eq!(a.get(Space::Log, &[0]).unwrap(), Some(b"b's".to_vec()));
    // a's next turns tell the archive above to read again until one writes, and a files on.
    assert!(a.begin_turn().unwrap());
    a.end_turn();
    assert!(a.begin_turn().unwrap(), "said until a turn wrote");
    put(&a, Space::Log, &[1], b"a's again");
    a.end_turn();
    a.sync().unwrap();
    assert!(!a.begin_turn().unwrap());
    a.end_turn();
    assert_eq!(
        b.get(Space::Log, &[1]).unwrap(),
        Some(b"a's again".to_vec())
    );
}

/// The guard in `Connection::client` (and its use in `finish`). `a`'s backend is killed in
/// its turn, and a read in the turn on the writer's connection (`keys`) is the first to meet
/// it: the read fails, the client now knows its connection closed, and the turn is still
/// open. Nothing more of the turn may run on a new session: a write there lands outside the
/// turn's lock (and commits at once), and the COMMIT, with no transaction open, commits
/// nothing and answers success — the sync would then call the turn's first group durable,
/// though the server rolled it back with the killed backend. `again`: the turn writes once
/// more before it commits (else the COMMIT is the first to need the connection).
fn a_turn_whose_connection_closed_is_taken_again(again: bool) {
    let c = cluster();
    let (a, b) = two(&c);
    let mut admin = admin(&c);
    let pid = a_writes_in_its_turn(&a, &mut admin);
    admin
        .execute("SELECT pg_terminate_backend($1)", &[&pid])
        .unwrap();
    // Gone: its FATAL message and the end of the stream wait on a's socket.
    within(Duration::from_secs(10), || {
        let row = admin
            .query_opt("SELECT 1 FROM pg_stat_activity WHERE pid = $1", &[&pid])
            .unwrap();
        row.is_none().then_some(())
    });
    // The first to meet the closed connection is this read — or, on a loaded machine where
    // the wait above outlasted the turn's span (`turn::SPAN`), the idle writer settling the
    // turn (seen once in a full parallel run); then this read is answered on a new session.
    // Either way the guard ran with the turn open, and what follows must hold.
    let _ = a.keys(Space::Log);
    if again {
        put(&a, Space::Log, &[1], b"a's second");
    }
    a.end_turn();
    a.sync().unwrap();
    // No one wrote since a's turn began: taken again, it wrote the turn's groups again.
    assert_eq!(b.get(Space::Log, &[0]).unwrap(), Some(b"a's".to_vec()));
    let second = again.then(|| b"a's second".to_vec());
    assert_eq!(b.get(Space::Log, &[1]).unwrap(), second);
}

#[test]
fn a_turn_whose_connection_closed_writes_again_only_in_a_new_turn() {
    a_turn_whose_connection_closed_is_taken_again(true);
}

#[test]
fn a_turn_whose_connection_closed_commits_only_in_a_new_turn() {
    a_turn_whose_connection_closed_is_taken_again(false);
}

#[test]
fn a_lost_turn_reported_by_the_next_begin_is_counted_though_a_sync_then_succeeds() {
    let c = cluster();
    let (a, b) = two(&c);
    a_killed_in_its_turn(&c, &a);
    assert!(!b.begin_turn().unwrap());
    put(&b, Space::Log, &[0], b"b's");
    b.end_turn();
    b.sync().unwrap();
    a.end_turn();
    assert_eq!(a.losses(), 0);
    // Past the span in which a new turn joins the open one (`turn::SPAN`, 20 ms), the idle
    // writer (or the next begin) settles it: its batch fails. Another of a's threads then
    // begins a turn before the first syncs; it reports b's writes, which lets syncs succeed
    // again, and the sync the first thread waits in says nothing of the loss
    // (`sync_turns`). The count does, and the archive compares it (`archive/upto.rs`).
    std::thread::sleep(Duration::from_millis(50));
    assert!(a.begin_turn().unwrap());
    assert_eq!(a.losses(), 1);
    a.end_turn();
    a.sync().unwrap();
    assert_eq!(a.get(Space::Log, &[0]).unwrap(), Some(b"b's".to_vec()));
    assert_eq!(b.losses(), 0);
}

#[test]
fn a_hung_holder_loses_the_turn_once_its_lease_runs_out() {
    let c = cluster();
    let (a, b) = two(&c);
    let mut admin = admin(&c);
    // A holder that stops: it began a turn, wrote, and does nothing more.
    a_writes_in_its_turn(&a, &mut admin);
    let t = Instant::now();
    // Were the lease never to run out, the begin would wait for ever: fail instead. A turn
    // belongs to the thread that began it, so that thread writes in it and ends it.
    let b = Arc::new(b);
    let taker = Arc::clone(&b);
    let limit = turn::LEASE + Duration::from_secs(10);
    let (foreign, waited) = returns_within(limit, move || {
        let foreign = taker.begin_turn().unwrap();
        let waited = t.elapsed();
        put(&*taker, Space::Log, &[0], b"b's");
        taker.end_turn();
        (foreign, waited)
    });
    assert!(!foreign);
    assert!(
        waited + Duration::from_millis(500) >= turn::LEASE
            && waited < turn::LEASE + Duration::from_secs(5),
        "{waited:?}"
    );
    b.sync().unwrap();
    // It wakes up: its turn is gone, its batch fails, nothing of it was committed.
    a.end_turn();
    assert!(a.sync().is_err());
    assert_eq!(b.get(Space::Log, &[0]).unwrap(), Some(b"b's".to_vec()));
    assert!(a.begin_turn().unwrap());
    a.end_turn();
}

#[test]
fn turns_of_one_process_nest_and_a_sync_waits_for_the_last_end() {
    let c = cluster();
    let (a, b) = two(&c);
    let a = Arc::new(a);
    assert!(!a.begin_turn().unwrap());
    put(&*a, Space::Log, &[0], b"first");
    // A sync inside the turn would wait for itself.
    assert!(matches!(a.sync(), Err(StoreError::Refused(_))));
    let other = Arc::clone(&a);
    let joined = std::thread::spawn(move || {
        let foreign = other.begin_turn().unwrap();
        put(&*other, Space::Log, &[1], b"second");
        other.end_turn();
        // Waits until the first thread ends its turn too.
        other.sync().unwrap();
        foreign
    });
    // The turn is still this process's: b cannot write in between.
    std::thread::sleep(Duration::from_millis(200));
    assert!(!joined.is_finished(), "a sync returned inside a turn");
    a.end_turn();
    assert!(!joined.join().unwrap());
    a.sync().unwrap();
    assert!(b.begin_turn().unwrap());
    assert_eq!(b.keys(Space::Log).unwrap().len(), 2);
    b.end_turn();
}

#[test]
fn a_batch_applied_outside_any_turn_fails_if_another_writer_wrote_and_so_does_the_next() {
    let c = cluster();
    let (a, b) = two(&c);
    assert!(!b.begin_turn().unwrap());
    put(&b, Space::Log, &[0], b"b's");
    b.end_turn();
    b.sync().unwrap();
    // a built this without a turn, on what it knew before b wrote: never written over b's.
    put(&a, Space::Log, &[1], b"a's, built on a stale head");
    assert!(a.sync().is_err());
    assert_eq!(a.get(Space::Log, &[1]).unwrap(), None);
    // The lost turn stored the count it found: a second batch, built on the same stale
    // memory (the archive above has not read again in a turn), must not go through either.
    put(&a, Space::Log, &[2], b"a's second, on the same stale head");
    assert!(a.sync().is_err());
    assert_eq!(a.get(Space::Log, &[2]).unwrap(), None);
    assert!(a.begin_turn().unwrap(), "a's memory was stale");
    put(&a, Space::Log, &[1], b"a's, after reading again");
    a.end_turn();
    a.sync().unwrap();
    assert_eq!(b.keys(Space::Log).unwrap(), vec![vec![0u8], vec![1]]);
}

#[test]
fn a_turn_that_waited_behind_another_reports_its_writes() {
    let c = cluster();
    let (a, b) = two(&c);
    let mut admin = admin(&c);
    a_writes_in_its_turn(&a, &mut admin);
    let b = Arc::new(b);
    let waiter = Arc::clone(&b);
    let waited = std::thread::spawn(move || {
        let foreign = waiter.begin_turn().unwrap();
        waiter.end_turn();
        foreign
    });
    // b waits in PostgreSQL's queue for the turn a holds.
    within(Duration::from_secs(10), || {
        let waiting = "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted";
        admin.query_opt(waiting, &[]).unwrap().map(|_| ())
    });
    a.end_turn();
    a.sync().unwrap();
    // The count b reads once the turn is its own includes a's group (read after the wait,
    // not in the snapshot of the statement that waited).
    assert!(
        waited.join().unwrap(),
        "b must read its head again after a's turn"
    );
}

#[test]
fn a_commit_whose_answer_was_lost_is_found_landed_after_another_writer_wrote() {
    let c = cluster();
    let (a, b) = two(&c);
    assert!(!a.begin_turn().unwrap());
    put(&a, Space::Log, &[0], b"a's entry");
    put(&a, Space::Index, b"head", b"a's head");
    a.writer.call(Connection::commit_unanswered).unwrap();
    // The commit released the turn: b files, rewriting the index key as every filing does.
    assert!(b.begin_turn().unwrap(), "a's turn landed");
    put(&b, Space::Log, &[1], b"b's entry");
    put(&b, Space::Index, b"head", b"b's head");
    b.end_turn();
    b.sync().unwrap();
    // a's next turn finds its append-only writes stored: its turn landed, not lost.
    a.end_turn();
    a.sync().unwrap();
    assert_eq!(
        a.get(Space::Log, &[0]).unwrap(),
        Some(b"a's entry".to_vec())
    );
    assert!(a.begin_turn().unwrap(), "b wrote");
    a.end_turn();
}

#[test]
fn a_turn_open_too_long_commits_for_the_other_writer_while_turns_overlap() {
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
    let c = cluster();
    let (a, b) = two(&c);
    let a = Arc::new(a);
    let stop = Arc::new(AtomicBool::new(false));
    let next = Arc::new(AtomicU32::new(0));
    // Three threads each in a turn 15 ms of every ~15, 5 ms apart: a turn of a's is always
    // held, so joining regardless of the span would never let the turn commit.
    let churn: Vec<_> = (0..3u64)
        .map(|i| {
            let (a, stop, next) = (Arc::clone(&a), Arc::clone(&stop), Arc::clone(&next));
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(5 * i));
                while !stop.load(Ordering::Relaxed) {
                    a.begin_turn().unwrap();
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    put(&*a, Space::Log, &n.to_be_bytes(), b"churn");
                    std::thread::sleep(Duration::from_millis(15));
                    a.end_turn();
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    let syncing = {
        let a = Arc::clone(&a);
        std::thread::spawn(move || a.sync().is_ok())
    };
    let b = Arc::new(b);
    let turn = {
        let b = Arc::clone(&b);
        std::thread::spawn(move || {
            b.begin_turn().unwrap();
            b.end_turn();
        })
    };
    // Well within the lease (which would pass the turn on by itself): the span does.
    let limit = Duration::from_secs(2);
    within(limit, || turn.is_finished().then_some(()));
    within(limit, || syncing.is_finished().then_some(()));
    stop.store(true, Ordering::Relaxed);
    for t in churn {
        t.join().unwrap();
    }
    assert!(syncing.join().unwrap());
    turn.join().unwrap();
    a.sync().unwrap();
}

/// `store`'s answer from memory alone, as inside its turn (`None`: only the server can tell).
fn remembered(store: &PgStore, space: Space, key: &[u8]) -> Option<Option<Vec<u8>>> {
    store.shared().get(space, key)
}

#[test]
fn a_turn_learns_what_the_other_writer_wrote_and_keeps_its_filter_of_keys() {
    let c = cluster();
    let (a, b) = two(&c);
    assert!(!b.begin_turn().unwrap());
    put(&b, Space::Index, b"head", b"b's head");
    put(&b, Space::Index, b"list", b"b's short list");
    // A receipt not there yet: absent, and remembered so.
    assert_eq!(b.get(Space::Receipts, b"r").unwrap(), None);
    b.end_turn();
    b.sync().unwrap();
    assert!(a.begin_turn().unwrap(), "b wrote");
    put(&a, Space::Receipts, b"r", b"a's receipt");
    put(&a, Space::Index, b"head", b"a's head");
    // Too large to be taken into b's cache: b must forget what it knew of it.
    put(&a, Space::Index, b"list", &[7; 5000]);
    a.end_turn();
    a.sync().unwrap();
    assert!(b.begin_turn().unwrap(), "a wrote");
    // Learnt in the turn's one read of a's rows: answered from memory, and right.
    assert_eq!(
        remembered(&b, Space::Receipts, b"r"),
        Some(Some(b"a's receipt".to_vec()))
    );
    assert_eq!(
        remembered(&b, Space::Index, b"head"),
        Some(Some(b"a's head".to_vec()))
    );
    // Keys no one wrote are still known absent: the filter was kept, not dropped.
    assert_eq!(remembered(&b, Space::Receipts, b"new"), Some(None));
    assert_eq!(remembered(&b, Space::Chunks, b"other"), Some(None));
    // The large value is the server's to tell, never the one b remembered.
    assert_eq!(remembered(&b, Space::Index, b"list"), None);
    assert_eq!(b.get(Space::Index, b"list").unwrap(), Some(vec![7; 5000]));
    let mut again = Batch::default();
    again.put(Space::Receipts, b"r".to_vec(), b"b's receipt".to_vec());
    assert!(matches!(b.apply(&again), Err(StoreError::Overwrite { .. })));
    b.end_turn();
}

#[test]
fn a_disposal_by_the_other_writer_is_never_answered_from_memory() {
    let c = cluster();
    let (a, b) = two(&c);
    assert!(!b.begin_turn().unwrap());
    put(&b, Space::Chunks, b"c", b"the chunk");
    put(&b, Space::Blobs, b"m", b"its manifest");
    b.end_turn();
    b.sync().unwrap();
    assert_eq!(
        b.get(Space::Chunks, b"c").unwrap(),
        Some(b"the chunk".to_vec())
    );
    assert!(a.begin_turn().unwrap(), "b wrote");
    let mut act = Batch::default();
    act.dispose(Space::Chunks, b"c".to_vec());
    act.dispose(Space::Blobs, b"m".to_vec());
    a.apply(&act).unwrap();
    a.end_turn();
    a.sync().unwrap();
    assert!(b.begin_turn().unwrap(), "a wrote");
    // A deletion leaves no row to learn from: what b remembered of it is gone.
    assert_eq!(b.get(Space::Chunks, b"c").unwrap(), None);
    assert_eq!(b.get(Space::Blobs, b"m").unwrap(), None);
    // The same content filed again is a new chunk, not an overwrite.
    put(&b, Space::Chunks, b"c", b"the chunk");
    b.end_turn();
    b.sync().unwrap();
    assert_eq!(
        a.get(Space::Chunks, b"c").unwrap(),
        Some(b"the chunk".to_vec())
    );
}

#[test]
fn a_frontend_far_behind_forgets_instead_of_learning_inside_its_turn() {
    let c = cluster();
    let (a, b) = two(&c);
    assert!(!b.begin_turn().unwrap());
    assert_eq!(b.get(Space::Receipts, b"r").unwrap(), None);
    b.end_turn();
    b.sync().unwrap();
    // a files more rows than a turn may learn while b is idle.
    a.begin_turn().unwrap();
    let mut many = Batch::default();
    for i in 0..=super::learn::MAX_LEARNT {
        many.put(Space::Log, i.to_be_bytes().to_vec(), b"entry".to_vec());
    }
    a.apply(&many).unwrap();
    put(&a, Space::Receipts, b"r", b"a's receipt");
    a.end_turn();
    a.sync().unwrap();
    // b's turn does not read them all: it forgets, and asks the server, which is right.
    assert!(b.begin_turn().unwrap(), "a wrote");
    assert_eq!(remembered(&b, Space::Receipts, b"r"), None);
    assert_eq!(remembered(&b, Space::Receipts, b"new"), None);
    assert_eq!(
        b.get(Space::Receipts, b"r").unwrap(),
        Some(b"a's receipt".to_vec())
    );
    b.end_turn();
}
