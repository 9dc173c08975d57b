//! The journal store's recovery on arbitrary files. Whatever the file holds, opening either
//! refuses with an error or yields a store whose every key reads back; and a store that opened
//! takes a write, syncs, and opens again with that write in it (recovery never leaves a file
//! that the next recovery refuses).
//!
//! The first byte picks the mode: 0 uses the input as the whole journal; otherwise the input is
//! spliced after the first records of a valid journal, so recovery meets damage deep inside.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;
use tamga::archive::journal::{FILE, JournalStore};
use tamga::archive::store::{Batch, Space, Store};

/// A scratch directory in memory where there is one: every run writes and syncs a file.
fn scratch() -> PathBuf {
    let base = if std::path::Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    base.join(format!("tamga-fuzz-journal-{}", std::process::id()))
}

/// A valid journal: records with puts, an index overwrite and a disposal; and where each
/// record ends.
fn valid() -> &'static (Vec<u8>, Vec<usize>) {
    static VALID: OnceLock<(Vec<u8>, Vec<usize>)> = OnceLock::new();
    VALID.get_or_init(|| {
        let dir = scratch().with_extension("seed");
        let _ = std::fs::remove_dir_all(&dir);
        let store = JournalStore::open(&dir).unwrap();
        let mut ends = Vec::new();
        for i in 0u8..6 {
            let mut b = Batch::default();
            b.put(Space::Log, vec![i], vec![i; 30]);
            b.put(Space::Chunks, vec![b'c', i], vec![b'x'; 50 + usize::from(i)]);
            b.put(Space::Index, b"head".to_vec(), vec![i]);
            if i == 4 {
                b.dispose(Space::Chunks, vec![b'c', 1]);
            }
            store.apply(&b).unwrap();
            if i % 2 == 0 {
                store.sync().unwrap();
            }
            ends.push(std::fs::metadata(dir.join(FILE)).unwrap().len() as usize);
        }
        drop(store);
        let bytes = std::fs::read(dir.join(FILE)).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        (bytes, ends)
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let file = if mode == 0 {
        rest.to_vec()
    } else {
        let (bytes, ends) = valid();
        let keep = ends[usize::from(mode) % ends.len()];
        let mut f = bytes[..keep].to_vec();
        f.extend_from_slice(rest);
        f
    };
    let dir = scratch();
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(FILE), &file).unwrap();
    let Ok(store) = JournalStore::open(&dir) else {
        return;
    };
    for space in Space::ALL {
        for key in store.keys(space).unwrap() {
            store.get(space, &key).unwrap().expect("a listed key reads back");
        }
    }
    let mut b = Batch::default();
    b.put(Space::Receipts, b"fuzz-probe".to_vec(), b"written after recovery".to_vec());
    let wrote = store.apply(&b).is_ok() && store.sync().is_ok();
    drop(store);
    let again = JournalStore::open(&dir).expect("a recovered journal opens again");
    if wrote {
        assert_eq!(
            again.get(Space::Receipts, b"fuzz-probe").unwrap().as_deref(),
            Some(&b"written after recovery"[..])
        );
    }
});
