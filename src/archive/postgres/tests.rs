#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use super::*;

#[path = "../../../tests/common/pg.rs"]
pub(super) mod pg_cluster;
use pg_cluster::{Cluster, schema_for};

pub(super) fn cluster() -> Cluster {
    Cluster::start().unwrap_or_else(|why| panic!("no PostgreSQL for the test: {why}"))
}

pub(super) fn at(c: &Cluster, schema: &str) -> Location {
    Location {
        url: c.url(),
        schema: schema.into(),
        shared: false,
    }
}

pub(super) fn put(store: &dyn Store, space: Space, k: &[u8], v: &[u8]) {
    let mut b = Batch::default();
    b.put(space, k.to_vec(), v.to_vec());
    store.apply(&b).unwrap();
}

#[test]
fn meets_the_store_contract() {
    let c = cluster();
    crate::archive::contract::check(&|dir| {
        Box::new(PgStore::open(at(&c, &schema_for(dir))).unwrap())
    });
}

/// Opens `schema` for writing: alone (the one writer), or as one of several (in turns).
fn open(c: &Cluster, schema: &str, alone: bool) -> PgStore {
    let at = Location {
        shared: !alone,
        ..at(c, schema)
    };
    PgStore::open(at).unwrap()
}

#[test]
fn a_second_writer_is_told_the_archive_is_in_use_and_a_reader_sees_one_snapshot() {
    let c = cluster();
    // Frontends share the archive; one writing alone (a restore, a frontend not told it is
    // shared) is refused beside them, and excludes them.
    let frontend = open(&c, "archive", false);
    let another = open(&c, "archive", false);
    let alone = PgStore::open(at(&c, "archive")).unwrap_err().to_string();
    assert!(alone.contains("in use by another tamga process"), "{alone}");
    let restore = PgStore::open_alone(at(&c, "archive")).unwrap_err();
    assert!(matches!(restore, StoreError::InUse(_)), "{restore}");
    drop((frontend, another));
    // A dropped store's connection closes on its own thread, and the server lets go of the
    // session's lock once that backend has exited: until then the archive is still in use.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let first = loop {
        match PgStore::open(at(&c, "archive")) {
            Err(StoreError::InUse(_)) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => break other.unwrap(),
        }
    };
    put(&first, Space::Log, &[0], b"zero");
    first.sync().unwrap();
    let shared = Location {
        shared: true,
        ..at(&c, "archive")
    };
    for second in [PgStore::open(shared), PgStore::open(at(&c, "archive"))] {
        let second = second.unwrap_err().to_string();
        assert!(
            second.contains("in use by another tamga process"),
            "{second}"
        );
        assert!(!second.contains("password"), "{second}");
    }

    let reader = PgStore::open_read_only(at(&c, "archive")).unwrap();
    put(&first, Space::Log, &[1], b"one");
    first.sync().unwrap();
    // The reader's snapshot was taken when it opened: an audit reads one consistent state.
    assert_eq!(reader.keys(Space::Log).unwrap(), vec![vec![0u8]]);
    assert!(matches!(
        reader.apply(&Batch::default()),
        Err(StoreError::Unwritable(_))
    ));
    // Once the writer is gone, the lock is free again.
    drop(first);
    let again = PgStore::open(at(&c, "archive")).unwrap();
    assert_eq!(
        again.get(Space::Log, &[1]).unwrap().as_deref(),
        Some(&b"one"[..])
    );
    let none = PgStore::open_read_only(at(&c, "nothing_here")).unwrap_err();
    assert!(matches!(none, StoreError::NoArchive(_)), "{none}");
}

#[test]
fn a_newer_schema_is_refused_and_bad_schema_names_never_reach_sql() {
    let c = cluster();
    drop(PgStore::open(at(&c, "archive")).unwrap());
    let mut client = postgres::Client::connect(&c.url(), postgres::NoTls).unwrap();
    client
        .batch_execute("UPDATE archive.tamga_schema SET version = 99")
        .unwrap();
    let err = PgStore::open(at(&c, "archive")).unwrap_err().to_string();
    assert!(
        err.contains("schema version 99, newer than this tamga knows"),
        "{err}"
    );
    for bad in ["", "Archive", "a;drop table x", "a b", &"x".repeat(64)] {
        assert!(matches!(
            PgStore::open(at(&c, bad)),
            Err(StoreError::Refused(_))
        ));
    }
}

#[test]
fn batches_are_whole_or_not_at_all() {
    let c = cluster();
    let store = PgStore::open(at(&c, "archive")).unwrap();
    put(&store, Space::Receipts, b"r", b"first");
    let mut b = Batch::default();
    b.put(Space::Index, b"head".to_vec(), b"2".to_vec());
    b.put(Space::Log, vec![2], b"two".to_vec());
    b.put(Space::Receipts, b"r".to_vec(), b"second".to_vec());
    assert!(matches!(
        store.apply(&b),
        Err(StoreError::Overwrite {
            space: Space::Receipts,
            ..
        })
    ));
    assert_eq!(store.get(Space::Index, b"head").unwrap(), None);
    assert_eq!(store.get(Space::Log, &[2]).unwrap(), None);
    // Two values for one append-only key inside one batch are refused too.
    let mut b = Batch::default();
    b.put(Space::Log, vec![3], b"a".to_vec());
    b.put(Space::Log, vec![3], b"b".to_vec());
    assert!(matches!(store.apply(&b), Err(StoreError::Overwrite { .. })));
    // An overwritable key written twice in a batch keeps the last value.
    let mut b = Batch::default();
    b.put(Space::Index, b"head".to_vec(), b"1".to_vec());
    b.put(Space::Index, b"head".to_vec(), b"2".to_vec());
    store.apply(&b).unwrap();
    assert_eq!(
        store.get(Space::Index, b"head").unwrap().as_deref(),
        Some(&b"2"[..])
    );
}

#[test]
fn a_server_crash_before_the_sync_loses_nothing_the_archive_was_told_was_applied() {
    for alone in [true, false] {
        a_server_crash_before_the_sync_loses_nothing(alone);
    }
}

fn a_server_crash_before_the_sync_loses_nothing(alone: bool) {
    let c = cluster();
    let store = open(&c, "archive", alone);
    put(&store, Space::Log, &[0], b"durable");
    store.sync().unwrap();
    // In turns, the batches go in one turn, not committed before the crash.
    let turn = !alone && store.begin_turn().unwrap();
    assert!(!turn, "no other writer wrote");
    for i in 1..50u8 {
        put(&store, Space::Log, &[i], b"applied, not yet synced");
    }
    // An immediate stop is a crash: WAL not yet flushed is lost with it.
    c.crash();
    store.end_turn();
    assert!(
        store.sync().is_err(),
        "a sync with the server down must fail"
    );
    c.restart();
    store.sync().unwrap();
    let keys = store.keys(Space::Log).unwrap();
    assert_eq!(keys.len(), 50, "{keys:?}\n{}", c.log());
    // And writing goes on.
    put(&store, Space::Log, &[50], b"after");
    store.sync().unwrap();
}

#[test]
fn a_backend_crash_the_postmaster_survives_loses_nothing_either() {
    // One backend killed: the postmaster resets shared memory and recovers from the WAL,
    // without restarting, so only the count of batches can tell what the recovery lost.
    let c = cluster();
    let store = PgStore::open(at(&c, "archive")).unwrap();
    put(&store, Space::Log, &[0], b"durable");
    store.sync().unwrap();
    for i in 1..50u8 {
        put(&store, Space::Log, &[i], b"applied, not yet synced");
    }
    let mut other = postgres::Client::connect(&c.url(), postgres::NoTls).unwrap();
    let pid: i32 = other
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    let killed = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while let Err(e) = store.sync() {
        assert!(std::time::Instant::now() < deadline, "{e}\n{}", c.log());
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // The reset may close the readers' connections after the sync went through: a read
    // refused then is "try later", like a write.
    let keys = loop {
        match store.keys(Space::Log) {
            Ok(keys) => break keys,
            Err(e) => assert!(std::time::Instant::now() < deadline, "{e}\n{}", c.log()),
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(keys.len(), 50, "{}", c.log());
    // The postmaster's reset may still be under way, closing the writer's new connection:
    // a refused write is the sender's "try later", and the retry must go through.
    // The batch is taken in at once; its commit, or the sync, is what may be refused.
    let mut b = Batch::default();
    b.put(Space::Log, vec![50], b"after".to_vec());
    while let Err(e) = store.apply(&b).and_then(|()| store.sync()) {
        assert!(std::time::Instant::now() < deadline, "{e}\n{}", c.log());
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn a_server_that_lost_acknowledged_filings_stops_writes() {
    // What an asynchronous standby promoted, or an older backup restored, looks like to the
    // writer: fewer batches than were synced. No replay can bring them back, so the archive
    // in memory (next numbers, the tree) is not what is stored: writes must stop.
    let c = cluster();
    let store = PgStore::open(at(&c, "archive")).unwrap();
    for i in 0..3u8 {
        put(&store, Space::Log, &[i], b"acknowledged");
    }
    store.sync().unwrap();
    let mut admin = postgres::Client::connect(&c.url(), postgres::NoTls).unwrap();
    admin
        .batch_execute(
            "DELETE FROM archive.tamga_kv WHERE key <> '\\x00'::bytea;
             UPDATE archive.tamga_sync SET applied = applied - 2;
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity
              WHERE pid <> pg_backend_pid() AND datname = current_database();",
        )
        .unwrap();
    let mut b = Batch::default();
    b.put(Space::Log, vec![3], b"next".to_vec());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    // The batch may be taken in (handed to the writer thread), but no sync covers it, and
    // writes stop.
    let refused = loop {
        match store.apply(&b).and_then(|()| store.sync()) {
            Err(StoreError::Unwritable(why)) => break why,
            Err(_) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(50))
            }
            other => panic!("written onto a server that lost acknowledged filings: {other:?}"),
        }
    };
    assert!(matches!(store.apply(&b), Err(StoreError::Unwritable(_))));
    assert!(refused.contains("lost filings"), "{refused}");
}

/// The number of groups the server has committed (`tamga_sync.applied`).
fn groups(admin: &mut postgres::Client) -> i64 {
    admin
        .query_one("SELECT applied FROM archive.tamga_sync", &[])
        .unwrap()
        .get(0)
}

#[test]
fn batches_handed_over_while_the_server_is_busy_are_committed_in_one_transaction() {
    let c = cluster();
    let store = Arc::new(PgStore::open(at(&c, "archive")).unwrap());
    put(&*store, Space::Log, &[0], b"first");
    store.sync().unwrap();
    let mut admin = postgres::Client::connect(&c.url(), postgres::NoTls).unwrap();
    let before = groups(&mut admin);
    // The server cannot commit a group while this lock is held: the batches wait in tamga.
    let mut hold = admin.transaction().unwrap();
    hold.batch_execute("LOCK TABLE archive.tamga_sync IN EXCLUSIVE MODE")
        .unwrap();
    let (done, handed) = std::sync::mpsc::channel();
    let writer = Arc::clone(&store);
    std::thread::spawn(move || {
        for i in 1..=50u8 {
            put(&*writer, Space::Log, &[i], b"filed");
        }
        let _ = done.send(());
    });
    // Applying does not wait for the server, and what was applied reads back at once.
    handed
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("apply waited for the server's commit");
    assert_eq!(
        store.get(Space::Log, &[50]).unwrap(),
        Some(b"filed".to_vec())
    );
    hold.commit().unwrap();
    store.sync().unwrap();
    let committed = groups(&mut admin) - before;
    assert!(
        (1..=2).contains(&committed),
        "50 batches in {committed} transactions"
    );
    assert_eq!(store.keys(Space::Log).unwrap().len(), 51);
}

#[test]
fn a_batch_the_server_refuses_after_it_was_taken_in_stops_writes_and_every_sync() {
    for alone in [true, false] {
        a_batch_the_server_refuses_stops_writes(alone);
    }
}

fn a_batch_the_server_refuses_stops_writes(alone: bool) {
    let c = cluster();
    drop(open(&c, "archive", alone));
    let mut admin = postgres::Client::connect(&c.url(), postgres::NoTls).unwrap();
    let theirs = |admin: &mut postgres::Client, key: u8| {
        admin
            .execute(
                "INSERT INTO archive.tamga_kv VALUES ($1, $2, 'theirs')",
                &[&code(Space::Log), &vec![key]],
            )
            .unwrap();
    };
    // A row written behind tamga's back before it opened: the store knows nothing of the
    // key but that it may be there, asks, and refuses at once.
    theirs(&mut admin, 5);
    let store = open(&c, "archive", alone);
    let mut b = Batch::default();
    b.put(Space::Log, vec![5], b"ours".to_vec());
    assert!(matches!(store.apply(&b), Err(StoreError::Overwrite { .. })));
    put(&store, Space::Log, &[6], b"ours");
    store.sync().unwrap();
    // One written after it opened, beyond every key it knows: only the server can tell,
    // after the batch was taken in. Nothing of it may count as durable, and writes stop.
    theirs(&mut admin, 9);
    let mut b = Batch::default();
    b.put(Space::Log, vec![9], b"ours".to_vec());
    b.put(Space::Index, b"head".to_vec(), b"9".to_vec());
    // (One of several writers trusts what it knows of the keys only inside its turn.)
    assert!(alone || !store.begin_turn().unwrap());
    store.apply(&b).unwrap();
    store.end_turn();
    let refused = store.sync().unwrap_err().to_string();
    assert!(refused.contains("open the archive again"), "{refused}");
    let mut next = Batch::default();
    next.put(Space::Log, vec![10], b"ours".to_vec());
    assert!(matches!(store.apply(&next), Err(StoreError::Unwritable(_))));
    assert!(store.sync().is_err());
    // Reads answer what is stored: their row, and no part of the refused batch.
    assert_eq!(
        store.get(Space::Log, &[9]).unwrap(),
        Some(b"theirs".to_vec())
    );
    assert_eq!(store.get(Space::Index, b"head").unwrap(), None);
    drop(store);
    let again = open(&c, "archive", alone);
    assert_eq!(again.get(Space::Log, &[6]).unwrap(), Some(b"ours".to_vec()));
    assert_eq!(again.get(Space::Index, b"head").unwrap(), None);
}

#[test]
fn an_archive_at_schema_2_is_migrated_and_its_rows_are_learnt_by_frontends() {
    let c = cluster();
    let mut admin = postgres::Client::connect(&c.url(), postgres::NoTls).unwrap();
    // The schema as a tamga of version 2 left it, with a row filed through its function.
    admin
        .batch_execute("CREATE SCHEMA old; SET search_path TO old;")
        .unwrap();
    for sql in &migrations::MIGRATIONS[..2] {
        admin.batch_execute(sql).unwrap();
    }
    admin
        .batch_execute(
            "CREATE TABLE tamga_schema (version int4 NOT NULL);
             INSERT INTO tamga_schema VALUES (2);",
        )
        .unwrap();
    admin
        .execute(
            "SELECT tamga_apply($1, $2, $3, '{}', '{}', '{}', '{}', '{}')",
            &[
                &vec![code(Space::Receipts)],
                &vec![b"r".to_vec()],
                &vec![b"old".to_vec()],
            ],
        )
        .unwrap();
    let shared = Location {
        shared: true,
        ..at(&c, "old")
    };
    let (a, b) = (
        PgStore::open(shared.clone()).unwrap(),
        PgStore::open(shared).unwrap(),
    );
    let version: i32 = admin
        .query_one("SELECT version FROM old.tamga_schema", &[])
        .unwrap()
        .get(0);
    assert_eq!(version, SCHEMA_VERSION);
    assert_eq!(a.get(Space::Receipts, b"r").unwrap(), Some(b"old".to_vec()));
    assert!(!a.begin_turn().unwrap());
    put(&a, Space::Receipts, b"new", b"a's");
    a.end_turn();
    a.sync().unwrap();
    // Rows carry the group that wrote them; the old one is group 0.
    let groups: Vec<i64> = admin
        .query("SELECT grp FROM old.tamga_kv ORDER BY grp", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0], 0);
    assert!(groups[1] > 0);
    assert!(b.begin_turn().unwrap(), "a wrote");
    assert_eq!(
        b.shared().get(Space::Receipts, b"new"),
        Some(Some(b"a's".to_vec()))
    );
    b.end_turn();
}
