use super::*;

/// One batch: an entry and the head that counts it.
fn append(store: &JournalStore, i: u8, entry: &[u8]) {
    let mut b = Batch::default();
    b.put(Space::Log, vec![i], entry.to_vec());
    b.put(Space::Index, b"head".to_vec(), vec![i]);
    store.apply(&b).unwrap();
}

fn put(store: &JournalStore, space: Space, k: &[u8], v: &[u8]) {
    let mut b = Batch::default();
    b.put(space, k.to_vec(), v.to_vec());
    store.apply(&b).unwrap();
}

fn journal(dir: &Path) -> Vec<u8> {
    std::fs::read(dir.join(FILE)).unwrap()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Three synced batches, then one more written after the last sync; returns the journal's
/// length before that last one and the journal as a crash right after it would leave it.
fn three_synced_and_one_more() -> (u64, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let store = JournalStore::open(dir).unwrap();
    for i in 0u8..3 {
        append(&store, i, &[b'a' + i; 40]);
        store.sync().unwrap();
    }
    let before = journal(dir).len() as u64;
    append(&store, 3, b"the last, unsynced write");
    // Read before the store is dropped: dropping syncs, and this write must stay unsynced.
    (before, journal(dir))
}

/// A store directory holding `bytes` as its journal.
fn with_journal(bytes: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(FILE), bytes).unwrap();
    dir
}

#[test]
fn meets_the_store_contract() {
    crate::archive::contract::check(&|dir| Box::new(JournalStore::open(dir).unwrap()));
}

#[test]
fn the_same_bytes_again_write_nothing_and_a_refused_batch_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = JournalStore::open(dir.path()).unwrap();
    put(&store, Space::Receipts, b"r", b"first");
    let before = journal(dir.path());
    put(&store, Space::Receipts, b"r", b"first");
    let mut b = Batch::default();
    b.put(Space::Index, b"x".to_vec(), b"y".to_vec());
    b.put(Space::Receipts, b"r".to_vec(), b"second".to_vec());
    assert!(store.apply(&b).is_err());
    assert_eq!(journal(dir.path()), before);
}

#[test]
fn a_crash_at_any_byte_of_an_unsynced_record_loses_only_that_record_and_moves_it_aside() {
    let (synced, whole) = three_synced_and_one_more();
    for cut in synced..whole.len() as u64 {
        let mut torn = whole[..cut as usize].to_vec();
        // What a file system may show after power loss: the file's new length, but zeros.
        torn.resize(whole.len(), 0);
        if cut % 2 == 0 {
            torn.truncate(cut as usize);
        }
        let copy = with_journal(&torn);
        let store = JournalStore::open(copy.path()).unwrap();
        // The last record is gone only if it is torn; head and log agree either way.
        let head = store.get(Space::Index, b"head").unwrap().unwrap();
        let last = store.get(Space::Log, &[3]).unwrap();
        match head.as_slice() {
            [3] => assert_eq!(last.as_deref(), Some(&b"the last, unsynced write"[..])),
            [2] => assert_eq!(last, None, "cut {cut}"),
            other => panic!("cut {cut}: head {other:?}"),
        }
        for i in 0u8..3 {
            assert_eq!(
                store.get(Space::Log, &[i]).unwrap(),
                Some(vec![b'a' + i; 40])
            );
        }
        if torn.len() as u64 > synced && journal(copy.path()).len() < torn.len() {
            let kept = journal(copy.path()).len();
            let aside = std::fs::read(copy.path().join(format!("torn-at-{kept}.0"))).unwrap();
            assert_eq!(
                aside,
                torn[kept..],
                "cut {cut}: the tail was not kept aside"
            );
            assert!(store.notes().iter().any(|n| n.contains("moved to")));
        }
        // And writing goes on after the cut.
        put(&store, Space::Log, &[9], b"after");
        store.sync().unwrap();
        drop(store);
        let store = JournalStore::open(copy.path()).unwrap();
        assert_eq!(
            store.get(Space::Log, &[9]).unwrap().as_deref(),
            Some(&b"after"[..])
        );
    }
}

#[test]
fn damage_inside_synced_records_is_refused_not_cut() {
    let (_, whole) = three_synced_and_one_more();
    // A byte of the first record's metadata: later records say it was synced.
    let mut bad = whole.clone();
    bad[record::HEADER + 3] ^= 1;
    let dir = with_journal(&bad);
    let err = JournalStore::open(dir.path()).unwrap_err().to_string();
    assert!(err.contains("refusing to cut"), "{err}");
    assert_eq!(
        journal(dir.path()),
        bad,
        "a refused open changed the journal"
    );
}

#[test]
fn damage_to_the_last_synced_record_is_refused_even_when_no_batch_followed_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = JournalStore::open(dir.path()).unwrap();
    append(&store, 0, &[b'a'; 40]);
    store.sync().unwrap();
    let last = journal(dir.path()).len();
    append(&store, 1, &[b'b'; 40]);
    store.sync().unwrap();
    // A crash now: no batch follows the last one and the store was never closed.
    let mut bad = journal(dir.path());
    drop(store);
    bad[last + record::HEADER + 3] ^= 1;
    let copy = with_journal(&bad);
    let err = JournalStore::open(copy.path()).unwrap_err().to_string();
    assert!(err.contains("refusing to cut"), "{err}");
}

#[test]
fn a_damaged_value_inside_synced_data_is_kept_and_named_for_the_audit() {
    let (_, mut bad) = three_synced_and_one_more();
    let at = bad.windows(40).position(|w| w == [b'a'; 40]).unwrap();
    bad[at] = b'z';
    let dir = with_journal(&bad);
    let store = JournalStore::open(dir.path()).unwrap();
    assert!(
        store
            .damage()
            .iter()
            .any(|n| n.contains("does not match its digest")),
        "{:?}",
        store.damage()
    );
    assert_eq!(
        store.get(Space::Log, &[3]).unwrap().as_deref(),
        Some(&b"the last, unsynced write"[..])
    );
}

#[test]
fn disposal_destroys_the_bytes_once_durable_and_a_reopen_finishes_an_interrupted_one() {
    let dir = tempfile::tempdir().unwrap();
    let secret = b"a document's bytes that an approved act destroys".repeat(100);
    let store = JournalStore::open(dir.path()).unwrap();
    put(&store, Space::Chunks, b"c", &secret);
    put(&store, Space::Log, &[0], b"kept");
    store.sync().unwrap();
    let mut b = Batch::default();
    b.dispose(Space::Chunks, b"c".to_vec());
    store.apply(&b).unwrap();
    assert_eq!(store.get(Space::Chunks, b"c").unwrap(), None);
    assert!(
        contains(&journal(dir.path()), &secret),
        "destroyed before the removal was durable"
    );
    store.sync().unwrap();
    let after = journal(dir.path());
    assert!(
        !contains(&after, &secret),
        "still in the journal after disposal"
    );
    drop(store);
    let store = JournalStore::open(dir.path()).unwrap();
    assert!(store.notes().is_empty(), "{:?}", store.notes());
    assert!(store.damage().is_empty(), "{:?}", store.damage());
    assert_eq!(store.get(Space::Chunks, b"c").unwrap(), None);
    assert_eq!(
        store.get(Space::Log, &[0]).unwrap().as_deref(),
        Some(&b"kept"[..])
    );
    // The same content filed again later is a new value under the same key.
    put(&store, Space::Chunks, b"c", &secret);
    drop(store);
    let store = JournalStore::open(dir.path()).unwrap();
    assert_eq!(
        store.get(Space::Chunks, b"c").unwrap(),
        Some(secret.clone())
    );
    drop(store);

    // A crash between the durable removal and the hole: the next open destroys the bytes.
    let dir = tempfile::tempdir().unwrap();
    let store = JournalStore::open(dir.path()).unwrap();
    put(&store, Space::Chunks, b"c", &secret);
    store.sync().unwrap();
    let filed = journal(dir.path());
    let at = filed
        .windows(secret.len())
        .position(|w| w == secret)
        .unwrap();
    let mut b = Batch::default();
    b.dispose(Space::Chunks, b"c".to_vec());
    store.apply(&b).unwrap();
    store.sync().unwrap();
    drop(store);
    let mut interrupted = journal(dir.path());
    interrupted[at..at + secret.len()].copy_from_slice(&secret);
    std::fs::write(dir.path().join(FILE), &interrupted).unwrap();
    let store = JournalStore::open(dir.path()).unwrap();
    assert!(!contains(&journal(dir.path()), &secret));
    assert_eq!(store.get(Space::Chunks, b"c").unwrap(), None);
    assert!(store.notes().is_empty(), "{:?}", store.notes());
    assert!(store.damage().is_empty(), "{:?}", store.damage());
}

#[test]
fn concurrent_writers_and_readers_see_whole_batches() {
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(JournalStore::open(dir.path()).unwrap());
    let threads: Vec<_> = (0u8..4)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in 0u8..100 {
                    let mut b = Batch::default();
                    b.put(Space::Log, vec![t, i], vec![t; 100 + usize::from(i)]);
                    b.put(Space::Receipts, vec![t, i], vec![i; 10]);
                    store.apply(&b).unwrap();
                    if i % 10 == 0 {
                        store.sync().unwrap();
                    }
                    assert_eq!(
                        store.get(Space::Receipts, &[t, i]).unwrap(),
                        Some(vec![i; 10])
                    );
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    drop(store);
    let store = JournalStore::open(dir.path()).unwrap();
    assert_eq!(store.keys(Space::Log).unwrap().len(), 400);
    for t in 0u8..4 {
        for i in 0u8..100 {
            assert_eq!(
                store.get(Space::Log, &[t, i]).unwrap(),
                Some(vec![t; 100 + usize::from(i)])
            );
        }
    }
}

#[test]
fn a_second_opener_is_told_the_store_is_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let _first = JournalStore::open(dir.path()).unwrap();
    let second = JournalStore::open(dir.path()).unwrap_err().to_string();
    assert!(
        second.contains("in use by another tamga process"),
        "{second}"
    );
}

#[test]
fn a_lock_held_for_a_moment_is_waited_for() {
    // What a child forked by another thread holds until it execs: the same lock, briefly.
    let dir = tempfile::tempdir().unwrap();
    drop(JournalStore::open(dir.path()).unwrap());
    let passing = std::fs::File::open(dir.path().join("tamga.lock")).unwrap();
    passing.try_lock().unwrap();
    let release = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(300));
        drop(passing);
    });
    JournalStore::open(dir.path()).unwrap();
    release.join().unwrap();
}

#[test]
fn damage_is_refused_even_when_the_record_that_proves_it_synced_lies_megabytes_later() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = JournalStore::open(dir.path()).unwrap();
        put(&store, Space::Log, &[0], b"first");
        // Written before any sync: its mark proves nothing about the first record.
        put(&store, Space::Chunks, b"big", &vec![b'v'; 3 << 20]);
        store.sync().unwrap();
        put(&store, Space::Log, &[1], b"after the sync");
        store.sync().unwrap();
        std::mem::forget(store); // never closed: what proves the sync is what the syncs left
    }
    let mut bad = journal(dir.path());
    bad[record::HEADER + 3] ^= 1;
    let copy = with_journal(&bad);
    let err = JournalStore::open(copy.path()).unwrap_err().to_string();
    assert!(err.contains("refusing to cut"), "{err}");
}

#[test]
fn a_full_disk_refuses_the_batch_and_leaves_the_journal_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let store = JournalStore::open(dir.path()).unwrap();
    append(&store, 0, b"kept before the disk filled");
    store.sync().unwrap();
    let before = journal(dir.path());
    *lock(&store.room) = Some(before.len() as u64 + 10);
    let mut b = Batch::default();
    b.put(Space::Log, vec![1], b"does not fit".to_vec());
    let err = store.apply(&b).unwrap_err().to_string();
    assert!(err.contains("no storage space"), "{err}");
    assert_eq!(
        journal(dir.path()),
        before,
        "the partial record was not taken back"
    );
    assert_eq!(store.get(Space::Log, &[1]).unwrap(), None);
    // Space freed: writing goes on where it stopped, and everything reads back after a reopen.
    *lock(&store.room) = None;
    append(&store, 1, b"after space was freed");
    store.sync().unwrap();
    drop(store);
    let store = JournalStore::open(dir.path()).unwrap();
    assert!(store.notes().is_empty(), "{:?}", store.notes());
    assert!(store.damage().is_empty(), "{:?}", store.damage());
    assert_eq!(
        store.get(Space::Log, &[0]).unwrap().as_deref(),
        Some(&b"kept before the disk filled"[..])
    );
    assert_eq!(
        store.get(Space::Log, &[1]).unwrap().as_deref(),
        Some(&b"after space was freed"[..])
    );
}
