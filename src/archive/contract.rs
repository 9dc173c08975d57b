//! What every [`Store`] must do, checked the same way for each backend. A new backend (say,
//! PostgreSQL) runs [`check`] from a test of its own.

use super::store::{Batch, Space, Store, StoreError};
use std::path::Path;

/// Opens (creating) a backend's store in a directory.
pub type Open<'a> = &'a dyn Fn(&Path) -> Box<dyn Store>;

/// Runs every clause of the contract, each on a fresh directory.
pub fn check(open: Open<'_>) {
    reads_back_after_reopening(open);
    refuses_overwrites_and_foreign_disposals(open);
    disposal_removes_and_the_same_content_may_come_again(open);
}

fn put(store: &dyn Store, space: Space, k: &[u8], v: &[u8]) {
    let mut b = Batch::default();
    b.put(space, k.to_vec(), v.to_vec());
    store.apply(&b).unwrap();
}

fn reads_back_after_reopening(open: Open<'_>) {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        put(&*store, Space::Receipts, b"r1", b"receipt one");
        put(&*store, Space::Log, &2u64.to_be_bytes(), b"entry two");
        put(&*store, Space::Log, &1u64.to_be_bytes(), b"entry one");
        put(&*store, Space::Index, b"counter", b"1");
        put(&*store, Space::Index, b"counter", b"2");
        store.sync().unwrap();
    }
    let store = open(dir.path());
    assert!(store.damage().is_empty(), "{:?}", store.damage());
    assert_eq!(
        store.get(Space::Receipts, b"r1").unwrap().as_deref(),
        Some(&b"receipt one"[..])
    );
    // Overwritable look-ups keep the last value; keys come in byte order; spaces are apart.
    assert_eq!(
        store.get(Space::Index, b"counter").unwrap().as_deref(),
        Some(&b"2"[..])
    );
    assert_eq!(
        store.keys(Space::Log).unwrap(),
        vec![1u64.to_be_bytes().to_vec(), 2u64.to_be_bytes().to_vec()]
    );
    assert_eq!(store.get(Space::Acts, b"r1").unwrap(), None);
    assert!(store.keys(Space::Chunks).unwrap().is_empty());
}

fn refuses_overwrites_and_foreign_disposals(open: Open<'_>) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    put(&*store, Space::Receipts, b"r", b"first");
    put(&*store, Space::Receipts, b"r", b"first"); // the same bytes again: fine
    let mut b = Batch::default();
    b.put(Space::Index, b"x".to_vec(), b"y".to_vec());
    b.put(Space::Receipts, b"r".to_vec(), b"second".to_vec());
    let err = store.apply(&b).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Overwrite {
                space: Space::Receipts,
                ..
            }
        ),
        "{err}"
    );
    let mut b = Batch::default();
    b.put(Space::Index, b"x".to_vec(), b"y".to_vec());
    b.dispose(Space::Log, b"r".to_vec());
    assert!(matches!(
        store.apply(&b).unwrap_err(),
        StoreError::NotDisposable { space: Space::Log }
    ));
    // Tiles are kept like entries: a tile's bytes never change, nor are they disposed of.
    put(&*store, Space::Tiles, b"t", &[1; 8192]);
    let mut b = Batch::default();
    b.put(Space::Tiles, b"t".to_vec(), vec![2; 8192]);
    assert!(matches!(
        store.apply(&b).unwrap_err(),
        StoreError::Overwrite {
            space: Space::Tiles,
            ..
        }
    ));
    let mut b = Batch::default();
    b.dispose(Space::Tiles, b"t".to_vec());
    assert!(matches!(
        store.apply(&b).unwrap_err(),
        StoreError::NotDisposable {
            space: Space::Tiles
        }
    ));
    assert_eq!(store.get(Space::Tiles, b"t").unwrap(), Some(vec![1; 8192]));
    // Refused batches leave nothing behind, not even their allowed parts.
    assert_eq!(store.get(Space::Index, b"x").unwrap(), None);
    assert_eq!(
        store.get(Space::Receipts, b"r").unwrap().as_deref(),
        Some(&b"first"[..])
    );
}

fn disposal_removes_and_the_same_content_may_come_again(open: Open<'_>) {
    let dir = tempfile::tempdir().unwrap();
    let big = vec![7u8; 200 * 1024]; // beyond sled's threshold for chunk files
    {
        let store = open(dir.path());
        put(&*store, Space::Chunks, b"small", b"chunk");
        put(&*store, Space::Chunks, b"big", &big);
        put(&*store, Space::Blobs, b"m", b"manifest");
        store.sync().unwrap();
        let mut b = Batch::default();
        for (space, k) in [
            (Space::Chunks, &b"small"[..]),
            (Space::Chunks, b"big"),
            (Space::Blobs, b"m"),
        ] {
            b.dispose(space, k.to_vec());
        }
        store.apply(&b).unwrap();
        store.sync().unwrap();
        assert_eq!(store.get(Space::Chunks, b"big").unwrap(), None);
    }
    let store = open(dir.path());
    assert!(store.keys(Space::Chunks).unwrap().is_empty());
    assert!(store.keys(Space::Blobs).unwrap().is_empty());
    assert!(store.damage().is_empty(), "{:?}", store.damage());
    put(&*store, Space::Chunks, b"big", &big);
    assert_eq!(store.get(Space::Chunks, b"big").unwrap(), Some(big));
}
