//! The on-disk index under the review's findings: strays and merges, failed flushes, run ids
//! across rebuilds, I/O errors that are not damage, disposals during the audit, cuts found by
//! a rebuild, and read-only opens without an index.

use super::tests_index::{TINY, assert_all, file, filled, open, runs};
use super::*;

/// Polls `done` until it holds, failing after a generous deadline.
fn wait_for(what: &str, done: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "timed out: {what}");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

#[test]
fn removing_strays_keeps_the_output_of_a_merge_not_yet_installed() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut n = 0;
    while lock(&store.merging).is_none() {
        file(&store, n);
        n += 1;
        assert!(n < 200, "no merge started");
    }
    // The merge's thread has written its run; the manifest does not name it yet.
    wait_for("the merge", || {
        lock(&store.merging)
            .as_ref()
            .is_some_and(|job| job.thread.is_finished())
    });
    store.remove_strays();
    store.settle();
    drop(store);
    let store = open(dir.path());
    assert!(store.notes().is_empty(), "{:?}", store.notes());
    assert!(store.replayed().0 > 0, "the index was not used");
    assert_all(&store, n);
}

#[test]
fn a_rebuilt_index_whose_flush_fails_keeps_its_runs_until_a_later_flush_names_them() {
    let dir = filled(20);
    std::fs::remove_file(dir.path().join(index::FILE)).unwrap();
    // The open's flush of the rebuilt index fails: its manifest cannot be stored.
    let blocker = dir.path().join(format!("{}.tmp", index::FILE));
    std::fs::create_dir(&blocker).unwrap();
    let store = open(dir.path());
    assert!(!dir.path().join(index::FILE).exists());
    let spilled: Vec<u64> = store.tables().runs().iter().map(|r| r.id).collect();
    assert!(!spilled.is_empty(), "nothing was spilled");
    for id in &spilled {
        assert!(
            run::path(dir.path(), *id).exists(),
            "run {id} in force was deleted"
        );
    }
    std::fs::remove_dir(&blocker).unwrap();
    for i in 20..24 {
        file(&store, i);
    }
    assert!(dir.path().join(index::FILE).exists(), "never flushed");
    drop(store);
    let store = open(dir.path());
    assert!(store.notes().is_empty(), "{:?}", store.notes());
    assert!(store.replayed().0 > 0, "the index was not used");
    assert_all(&store, 24);
}

#[test]
fn a_rebuild_at_open_never_reuses_a_run_id_and_fails_if_the_old_manifest_stays() {
    let dir = filled(20);
    let highest = runs(dir.path())
        .iter()
        .map(|n| n.rsplit('.').next().unwrap().parse::<u64>().unwrap())
        .max()
        .unwrap();
    let manifest = dir.path().join(index::FILE);
    let mut raw = std::fs::read(&manifest).unwrap();
    raw[30] ^= 1;
    std::fs::write(&manifest, &raw).unwrap();
    // The manifest cannot be removed: the open fails, and writes no run.
    let before = runs(dir.path());
    index::FAIL_DISCARD.with(|f| f.set(true));
    let failed = JournalStore::open_tuned(dir.path(), TINY);
    assert!(
        matches!(&failed, Err(StoreError::Io { what, .. }) if what.contains("removing")),
        "{:?}",
        failed.map(|_| ())
    );
    assert_eq!(runs(dir.path()), before);
    assert_eq!(std::fs::read(&manifest).unwrap(), raw);
    // Removed: the rebuilt index's runs are numbered above every run there was.
    let store = open(dir.path());
    assert!(
        store.notes().iter().any(|n| n.contains("was rebuilt")),
        "{:?}",
        store.notes()
    );
    let ids: Vec<u64> = store.tables().runs().iter().map(|r| r.id).collect();
    assert!(!ids.is_empty());
    assert!(
        ids.iter().all(|id| *id > highest),
        "{ids:?} reuse ids up to {highest}"
    );
    assert_all(&store, 20);
}

#[test]
fn an_io_error_reading_the_index_is_returned_and_rebuilds_nothing() {
    let dir = filled(20);
    let store = open(dir.path());
    let runs_before: Vec<u64> = store.tables().runs().iter().map(|r| r.id).collect();
    store.write_index().fail_io = Some(std::io::ErrorKind::Other);
    let got = store.get(Space::Log, &3u32.to_be_bytes());
    assert!(matches!(got, Err(StoreError::Io { .. })), "{got:?}");
    let mut b = Batch::default();
    b.put(Space::Log, 99u32.to_be_bytes(), b"x".to_vec());
    let applied = store.apply(&b);
    assert!(matches!(applied, Err(StoreError::Io { .. })), "{applied:?}");
    assert!(store.notes().is_empty(), "{:?}", store.notes());
    store.write_index().fail_io = None;
    let runs_after: Vec<u64> = store.tables().runs().iter().map(|r| r.id).collect();
    assert_eq!(runs_after, runs_before, "the index was rebuilt");
    assert_all(&store, 20);
}

#[test]
fn a_value_disposed_of_while_the_audit_reads_is_not_reported_as_damage() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut b = Batch::default();
    b.put(
        Space::Chunks,
        b"c".to_vec(),
        b"a document an act destroys".to_vec(),
    );
    store.apply(&b).unwrap();
    for i in 0..8 {
        file(&store, i);
    }
    // The audit's read began here; the disposal lands beyond it, and punches the value.
    let end = lock(&store.writer).end;
    let mut b = Batch::default();
    b.dispose(Space::Chunks, b"c".to_vec());
    store.apply(&b).unwrap();
    store.sync().unwrap();
    let damage = store.damage_upto(end);
    assert!(damage.is_empty(), "{damage:?}");
    // Real damage is still found.
    let path = dir.path().join(FILE);
    let mut raw = std::fs::read(&path).unwrap();
    let at = raw.windows(7).position(|w| w == b"entry 1").unwrap();
    raw[at] = b'E';
    std::fs::write(&path, raw).unwrap();
    assert_eq!(store.damage_upto(end).len(), 1);
}

#[test]
fn a_runtime_rebuild_over_a_journal_that_no_longer_reads_whole_keeps_the_old_index() {
    let dir = filled(20);
    let store = open(dir.path());
    let mut b = Batch::default();
    b.put(
        Space::Log,
        20u32.to_be_bytes(),
        b"written, not synced".to_vec(),
    );
    store.apply(&b).unwrap();
    let path = dir.path().join(FILE);
    let mut raw = std::fs::read(&path).unwrap();
    let at = raw.windows(7).position(|w| w == b"written").unwrap();
    raw[at] ^= 1;
    std::fs::write(&path, raw).unwrap();
    for name in runs(dir.path()) {
        let path = dir.path().join(name);
        let mut raw = std::fs::read(&path).unwrap();
        raw[40] ^= 1;
        std::fs::write(&path, raw).unwrap();
    }
    let failed = (0..20u32)
        .filter(|i| store.get(Space::Log, &i.to_be_bytes()).is_err())
        .count();
    assert!(failed > 0, "no read met the damaged index");
    // The rebuild would have cut the last record; it was refused, and the key is still there.
    assert!(
        store
            .get(Space::Log, &20u32.to_be_bytes())
            .unwrap()
            .is_some(),
        "a key written after the cut was lost"
    );
    assert_eq!(
        lock(&store.writer).end,
        std::fs::metadata(&path).unwrap().len()
    );
}

#[test]
fn a_read_only_open_without_an_index_spills_its_keys_outside_the_store_and_memory() {
    let dir = filled(20);
    std::fs::remove_file(dir.path().join(index::FILE)).unwrap();
    for name in runs(dir.path()) {
        std::fs::remove_file(dir.path().join(name)).unwrap();
    }
    let before: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let store = JournalStore::open_read_only_tuned(dir.path(), TINY).unwrap();
    // Sixty keys read; at most a spill's worth (and the last batch's) stay in memory.
    assert!(
        store.tables().mem.len() < 2 * TINY,
        "{}",
        store.tables().mem.len()
    );
    assert!(!store.tables().runs().is_empty());
    assert_all(&store, 20);
    let after: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(after, before, "a read-only open wrote in the store");
}
