//! The on-disk index with a tiny flush threshold: what flushes, crashes around them, damage to
//! the index and disposals must leave true.

use super::*;

/// Keys in the memtable at which these tests' stores flush.
pub(super) const TINY: usize = 4;

pub(super) fn open(dir: &Path) -> JournalStore {
    JournalStore::open_tuned(dir, TINY).unwrap()
}

/// Files batch `i`: a log entry, a receipt and the head (three keys), synced.
pub(super) fn file(store: &JournalStore, i: u32) {
    let mut b = Batch::default();
    b.put(
        Space::Log,
        i.to_be_bytes(),
        format!("entry {i}").into_bytes(),
    );
    b.put(
        Space::Receipts,
        i.to_be_bytes(),
        format!("receipt {i}").into_bytes(),
    );
    b.put(Space::Index, b"head".to_vec(), i.to_be_bytes());
    store.apply(&b).unwrap();
    store.sync().unwrap();
}

pub(super) fn assert_all(store: &JournalStore, n: u32) {
    for i in 0..n {
        assert_eq!(
            store.get(Space::Log, &i.to_be_bytes()).unwrap(),
            Some(format!("entry {i}").into_bytes()),
            "entry {i}"
        );
        assert_eq!(
            store.get(Space::Receipts, &i.to_be_bytes()).unwrap(),
            Some(format!("receipt {i}").into_bytes())
        );
    }
    assert_eq!(
        store.get(Space::Index, b"head").unwrap(),
        n.checked_sub(1).map(|l| l.to_be_bytes().to_vec())
    );
    let expected: Vec<Vec<u8>> = (0..n).map(|i| i.to_be_bytes().to_vec()).collect();
    assert_eq!(store.keys(Space::Log).unwrap(), expected);
}

/// A closed store of `n` filings.
pub(super) fn filled(n: u32) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    for i in 0..n {
        file(&store, i);
    }
    drop(store);
    dir
}

pub(super) fn runs(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("tamga.index."))
        .collect();
    names.sort();
    names
}

fn copy_dir(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_name() != "tamga.lock" {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn meets_the_store_contract_with_flushes_on_every_sync() {
    crate::archive::contract::check(&|dir| Box::new(JournalStore::open_tuned(dir, 1).unwrap()));
}

#[test]
fn after_flushes_a_reopen_reads_everything_and_replays_only_the_tail() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    for i in 0..40 {
        file(&store, i);
    }
    assert!(!store.tables().runs().is_empty(), "nothing was flushed");
    store.settle_merges();
    // Merged two by two: far fewer runs than flushes.
    assert!(
        store.tables().runs().len() <= 6,
        "{}",
        store.tables().runs().len()
    );
    assert_all(&store, 40);
    file(&store, 40); // in memory only: the tail after the last flush
    drop(store);
    let store = open(dir.path());
    let (from, records) = store.replayed();
    assert!(from > 0, "the whole journal was read again");
    // What came after the last flush: at most a flush's worth of batches and their marks.
    assert!(records <= 4, "{records} records replayed");
    assert!(store.notes().is_empty(), "{:?}", store.notes());
    assert_all(&store, 41);
    // Without the index the whole journal is read, and the same answers come out.
    drop(store);
    std::fs::remove_file(dir.path().join(index::FILE)).unwrap();
    let store = open(dir.path());
    assert_eq!(store.replayed().0, 0);
    assert_all(&store, 41);
}

#[test]
fn a_crash_between_the_runs_and_the_manifest_leaves_the_old_index_which_still_answers() {
    let dir = tempfile::tempdir().unwrap();
    let before = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    for i in 0..8 {
        file(&store, i);
    }
    // The state after one flush: its manifest and runs.
    copy_dir(dir.path(), before.path());
    for i in 8..30 {
        file(&store, i);
    }
    drop(store);
    // The crash: new runs written and synced, the manifest not yet replaced, old runs not yet
    // deleted — the later journal with the earlier manifest, and every run file.
    let crashed = tempfile::tempdir().unwrap();
    copy_dir(dir.path(), crashed.path());
    copy_dir(before.path(), crashed.path());
    std::fs::copy(dir.path().join(FILE), crashed.path().join(FILE)).unwrap();
    let store = open(crashed.path());
    assert!(store.replayed().0 > 0, "the old index was not used");
    assert!(store.notes().is_empty(), "{:?}", store.notes());
    assert_all(&store, 30);
    // The runs the old manifest does not name were strays, and are gone. The open's flush may
    // have started a merge whose output (named by no manifest until it is installed) is being
    // written on its own thread: installed first, so that every run file left must be named.
    store.settle_merges();
    let named = lock(&store.flusher).runs.clone();
    for name in runs(crashed.path()) {
        let id: u64 = name.rsplit('.').next().unwrap().parse().unwrap();
        assert!(named.contains(&id), "stray {name} kept");
    }
}

#[test]
fn a_flipped_byte_in_the_index_is_never_trusted_the_index_is_rebuilt_and_nothing_is_lost() {
    let dir = filled(20);
    // In the manifest: found at open.
    let copy = tempfile::tempdir().unwrap();
    copy_dir(dir.path(), copy.path());
    let manifest = copy.path().join(index::FILE);
    let mut raw = std::fs::read(&manifest).unwrap();
    raw[30] ^= 1;
    std::fs::write(&manifest, raw).unwrap();
    let store = open(copy.path());
    assert_eq!(store.replayed().0, 0);
    assert!(
        store.notes().iter().any(|n| n.contains("was rebuilt")),
        "{:?}",
        store.notes()
    );
    assert_all(&store, 20);
    drop(store);
    // In a run's block: found when read, and rebuilt then.
    let copy = tempfile::tempdir().unwrap();
    copy_dir(dir.path(), copy.path());
    for name in runs(copy.path()) {
        let path = copy.path().join(name);
        let mut raw = std::fs::read(&path).unwrap();
        raw[40] ^= 1;
        std::fs::write(&path, raw).unwrap();
    }
    let store = open(copy.path());
    assert!(store.replayed().0 > 0, "a run's blocks are checked as read");
    assert_all(&store, 20);
    assert!(
        store
            .notes()
            .iter()
            .any(|n| n.contains("no longer verified")),
        "{:?}",
        store.notes()
    );
    drop(store);
    let store = open(copy.path());
    assert!(store.notes().is_empty(), "{:?}", store.notes());
    assert_all(&store, 20);
}

#[test]
fn an_index_of_another_journal_is_not_used() {
    let one = tempfile::tempdir().unwrap();
    let other = tempfile::tempdir().unwrap();
    for (dir, n) in [(one.path(), 20), (other.path(), 12)] {
        let store = open(dir);
        put_one(&store, dir == other.path());
        for i in 0..n {
            file(&store, i);
        }
    }
    std::fs::copy(one.path().join(FILE), other.path().join(FILE)).unwrap();
    let store = open(other.path());
    assert!(
        store.notes().iter().any(|n| n.contains("another journal")),
        "{:?}",
        store.notes()
    );
    assert_all(&store, 20);
}

/// A first batch telling two journals apart.
fn put_one(store: &JournalStore, other: bool) {
    let mut b = Batch::default();
    b.put(Space::Acts, b"first".to_vec(), vec![u8::from(other)]);
    store.apply(&b).unwrap();
}

#[test]
fn a_torn_tail_after_a_flush_is_moved_aside_and_the_flushed_keys_stay() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    for i in 0..12 {
        file(&store, i);
    }
    let covered = lock(&store.flusher).covered;
    assert!(covered > 0);
    let mut b = Batch::default();
    b.put(Space::Log, 12u32.to_be_bytes(), b"never synced".to_vec());
    store.apply(&b).unwrap();
    let mut torn = std::fs::read(dir.path().join(FILE)).unwrap();
    torn.truncate(torn.len() - 3);
    std::mem::forget(store); // a crash: nothing closes the store
    let copy = tempfile::tempdir().unwrap();
    copy_dir(dir.path(), copy.path());
    std::fs::write(copy.path().join(FILE), &torn).unwrap();
    let store = open(copy.path());
    assert_eq!(store.replayed().0, covered);
    assert!(
        store.notes().iter().any(|n| n.contains("moved to")),
        "{:?}",
        store.notes()
    );
    assert_all(&store, 12);
    assert_eq!(store.get(Space::Log, &12u32.to_be_bytes()).unwrap(), None);
}

#[test]
fn a_disposal_after_a_flush_stays_disposed_after_reopening_and_more_flushes() {
    let dir = tempfile::tempdir().unwrap();
    let secret = b"a document an approved act destroys".repeat(30);
    let store = open(dir.path());
    let mut b = Batch::default();
    b.put(Space::Chunks, b"c".to_vec(), secret.clone());
    store.apply(&b).unwrap();
    for i in 0..8 {
        file(&store, i);
    }
    assert!(store.tables().mem.get(store.keyer.hash(b"Cc")).is_none());
    let mut b = Batch::default();
    b.dispose(Space::Chunks, b"c".to_vec());
    store.apply(&b).unwrap();
    store.sync().unwrap();
    let journal = || std::fs::read(dir.path().join(FILE)).unwrap();
    assert!(!journal().windows(secret.len()).any(|w| w == secret));
    assert_eq!(store.get(Space::Chunks, b"c").unwrap(), None);
    drop(store);
    let store = open(dir.path());
    assert_eq!(store.get(Space::Chunks, b"c").unwrap(), None);
    assert!(store.keys(Space::Chunks).unwrap().is_empty());
    // The tombstone flushed and merged down: still disposed.
    for i in 8..40 {
        file(&store, i);
    }
    drop(store);
    let store = open(dir.path());
    assert_eq!(store.get(Space::Chunks, b"c").unwrap(), None);
    assert!(store.damage().is_empty(), "{:?}", store.damage());
    assert!(store.notes().is_empty(), "{:?}", store.notes());
    assert_all(&store, 40);
}

#[test]
fn damage_the_open_did_not_read_is_found_by_the_audit_read() {
    let dir = filled(12);
    let path = dir.path().join(FILE);
    let mut raw = std::fs::read(&path).unwrap();
    let at = raw.windows(7).position(|w| w == b"entry 1").unwrap();
    raw[at] = b'E';
    std::fs::write(&path, raw).unwrap();
    let store = open(dir.path());
    assert!(store.replayed().0 > at as u64);
    assert!(store.found_damage().is_empty());
    let damage = store.damage();
    assert!(
        damage.len() == 1 && damage[0].contains("does not match its digest"),
        "{damage:?}"
    );
}

#[test]
fn a_rebuild_spills_its_index_into_runs_as_it_reads_and_keeps_disposals() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut b = Batch::default();
    b.put(Space::Chunks, b"gone".to_vec(), b"disposed early".to_vec());
    store.apply(&b).unwrap();
    for i in 0..10 {
        file(&store, i);
    }
    let mut b = Batch::default();
    b.dispose(Space::Chunks, b"gone".to_vec());
    store.apply(&b).unwrap();
    for i in 10..20 {
        file(&store, i);
    }
    drop(store);
    std::fs::remove_file(dir.path().join(index::FILE)).unwrap();
    let store = open(dir.path());
    assert_eq!(store.replayed().0, 0);
    // Read with at most a flush's worth of keys in memory: a run every few keys (their ids
    // count them), named at once.
    assert!(
        lock(&store.flusher).next_id > 10,
        "{:?}",
        lock(&store.flusher)
    );
    assert!(!store.tables().runs().is_empty());
    assert!(dir.path().join(index::FILE).exists());
    assert_eq!(store.get(Space::Chunks, b"gone").unwrap(), None);
    assert_all(&store, 20);
    drop(store);
    let store = open(dir.path());
    assert!(store.replayed().0 > 0, "the rebuilt index was not used");
    assert_eq!(store.get(Space::Chunks, b"gone").unwrap(), None);
    assert_all(&store, 20);
}

/// A batch of `n` keys in the log, from `from` on, not synced.
fn put_many(store: &JournalStore, from: u32, n: u32) {
    let mut b = Batch::default();
    for i in from..from + n {
        b.put(
            Space::Log,
            i.to_be_bytes(),
            format!("entry {i}").into_bytes(),
        );
    }
    store.apply(&b).unwrap();
}

#[test]
fn a_failed_fdatasync_in_a_flush_or_a_destroy_stops_the_writes_until_reopened() {
    // In a flush: a bulk batch flushes without a sync, and its fdatasync fails.
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    *lock(&store.fail_sync) = true;
    put_many(&store, 0, 2 * TINY as u32);
    *lock(&store.fail_sync) = false;
    assert!(
        matches!(store.sync(), Err(StoreError::Unwritable(_))),
        "a sync after a failed fdatasync succeeded over records it may have lost"
    );
    drop(store);
    // In the destroy of a disposed value, after the sync's own fdatasync succeeded.
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut b = Batch::default();
    b.put(Space::Chunks, b"c".to_vec(), b"doomed".to_vec());
    store.apply(&b).unwrap();
    store.sync().unwrap();
    let mut b = Batch::default();
    b.dispose(Space::Chunks, b"c".to_vec());
    store.apply(&b).unwrap();
    store.sync().unwrap();
    assert!(lock(&store.writer).failed.is_none());
    // The disposal's punch is due at the next sync; its fdatasync fails.
    let mut b = Batch::default();
    b.put(Space::Chunks, b"d".to_vec(), b"more".to_vec());
    store.apply(&b).unwrap();
    b = Batch::default();
    b.dispose(Space::Chunks, b"d".to_vec());
    store.apply(&b).unwrap();
    let end = lock(&store.writer).end;
    lock(&store.writer).punches.retain(|(at, _)| *at <= end);
    let extent = lock(&store.writer)
        .punches
        .first()
        .map(|(_, e)| *e)
        .unwrap();
    *lock(&store.fail_sync) = true;
    assert!(store.destroy(extent).is_err());
    *lock(&store.fail_sync) = false;
    assert!(
        matches!(store.sync(), Err(StoreError::Unwritable(_))),
        "a failed fdatasync after a punch was swallowed"
    );
}

#[test]
fn a_failed_flush_leaves_the_manifest_as_it_was_and_a_later_merge_then_a_crash_loses_no_key() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    for i in 0..20 {
        file(&store, i);
    }
    store.settle_merges();
    let before = lock(&store.flusher).clone();
    // The manifest cannot be replaced: its temporary file's name is taken by a directory.
    let blocker = dir.path().join(format!("{}.tmp", index::FILE));
    std::fs::create_dir(&blocker).unwrap();
    file(&store, 20);
    file(&store, 21);
    assert!(
        store
            .notes()
            .iter()
            .any(|n| n.contains("could not be written")),
        "{:?}",
        store.notes()
    );
    let after = lock(&store.flusher).clone();
    assert_eq!(
        (after.covered, &after.runs),
        (before.covered, &before.runs),
        "the manifest moved ahead of a flush that failed"
    );
    // A merge is installed (the manifest stored again), then a crash.
    std::fs::remove_dir(&blocker).unwrap();
    store.settle_merges();
    {
        let mut m = lock(&store.flusher);
        let runs = store.tables().runs().clone();
        index::commit(dir.path(), &mut m, &runs, &[]).unwrap();
    }
    std::mem::forget(store); // a crash: nothing closes the store
    let copy = tempfile::tempdir().unwrap();
    copy_dir(dir.path(), copy.path());
    let store = open(copy.path());
    assert_all(&store, 22);
}

#[test]
fn every_run_the_oldest_too_has_a_bloom_filter() {
    // New keys are absent from every run: the oldest must answer that without a block read.
    let dir = filled(40);
    let store = open(dir.path());
    let runs = store.tables().runs().clone();
    assert!(runs.len() >= 2, "{} runs", runs.len());
    assert!(runs.iter().all(|r| r.filtered()));
    drop(store);
    // A rebuild's runs (spilled as the journal is read) too.
    std::fs::remove_file(dir.path().join(index::FILE)).unwrap();
    let spiller = index::Spiller::new(dir.path(), TINY, 1000);
    let mut keys: index::Memtable = (0..10u128).map(|h| (h, None)).collect();
    recover::Spill::spill(&spiller, &mut keys).unwrap();
    let (spilled, _) = spiller.into_runs();
    assert!(!spilled.is_empty() && spilled.iter().all(|r| r.filtered()));
}

#[test]
fn what_the_runs_said_is_forgotten_when_they_change() {
    // The runs' memo (`memo.rs`) answers a second look-up without them: it must not outlive
    // them, or a key flushed after it was asked for would read as absent, and a disposed one
    // as still there.
    let dir = filled(4);
    let store = open(dir.path());
    assert!(!store.tables().runs().is_empty(), "nothing was flushed");
    let (blob, chunk) = (b"blob".to_vec(), b"chunk".to_vec());
    // Asked twice: the second answer is the memo's.
    for _ in 0..2 {
        assert_eq!(store.get(Space::Blobs, &blob).unwrap(), None);
    }
    let mut b = Batch::default();
    b.put(Space::Blobs, blob.clone(), b"manifest".to_vec());
    b.put(Space::Chunks, chunk.clone(), b"bytes".to_vec());
    store.apply(&b).unwrap();
    for i in 4..8 {
        file(&store, i); // the blob and the chunk flushed into a run
    }
    let h = store.keyer.hash(&Space::Blobs.key(&blob));
    assert_eq!(store.tables().mem.get(h), None, "still in the memtable");
    assert_eq!(
        store.get(Space::Blobs, &blob).unwrap(),
        Some(b"manifest".to_vec())
    );
    // Now memoised as there; disposed of, and the removal flushed too.
    assert_eq!(
        store.get(Space::Chunks, &chunk).unwrap(),
        Some(b"bytes".to_vec())
    );
    let mut b = Batch::default();
    b.dispose(Space::Chunks, chunk.clone());
    store.apply(&b).unwrap();
    for i in 8..12 {
        file(&store, i);
    }
    assert_eq!(store.get(Space::Chunks, &chunk).unwrap(), None);
    // An append-only key's overwrite check, the blob asked again first, refuses other bytes.
    assert!(store.get(Space::Blobs, &blob).unwrap().is_some());
    let mut b = Batch::default();
    b.put(Space::Blobs, blob.clone(), b"other".to_vec());
    assert!(matches!(store.apply(&b), Err(StoreError::Overwrite { .. })));
    assert_all(&store, 12);
}
