//! The sled store: its contract, its files, and a full disk.

use super::*;

#[test]
fn meets_the_store_contract() {
    crate::archive::contract::check(&|dir| Box::new(SledStore::open(dir).unwrap()));
}

#[test]
fn a_snapshot_left_unfinished_by_a_kill_does_not_stop_the_store_opening() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SledStore::open(dir.path()).unwrap();
        let mut batch = Batch::default();
        batch.put(Space::Index, b"k".to_vec(), b"v".to_vec());
        store.apply(&batch).unwrap();
        store.sync().unwrap();
    }
    // What a process killed inside sled's snapshot writer leaves: a torn file that sorts
    // after every finished snapshot.
    std::fs::write(dir.path().join("snap.FFFFFFFFFFFFFFFF.generating"), b"torn").unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    assert_eq!(
        store.get(Space::Index, b"k").unwrap().as_deref(),
        Some(&b"v"[..])
    );
}

#[test]
fn a_second_opener_is_told_the_store_is_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let _first = SledStore::open(dir.path()).unwrap();
    let second = SledStore::open(dir.path()).unwrap_err().to_string();
    assert!(
        second.contains("in use by another tamga process"),
        "{second}"
    );
}

/// A small tmpfs, unmounted when dropped; `None` where mounting is not permitted (the tests
/// that need one then skip, saying so).
pub(crate) struct Tmpfs {
    /// The mount point.
    pub path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (as `mount -o size=` takes it) in a temporary directory.
    pub(crate) fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().ok()?;
        let path = dir.path().join("m");
        std::fs::create_dir(&path).ok()?;
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&path)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("skipped: cannot mount a tmpfs here");
            return None;
        }
        Some(Tmpfs { path, _dir: dir })
    }

    /// Fills the file system with `filler` until a write fails.
    pub(crate) fn fill(&self) {
        use std::io::Write;
        let mut f = std::fs::File::create(self.path.join("filler")).unwrap();
        let piece = vec![0x5a; 16 * 1024];
        while f.write_all(&piece).and_then(|()| f.sync_all()).is_ok() {}
    }

    /// Frees what [`Tmpfs::fill`] took.
    pub(crate) fn free(&self) {
        std::fs::remove_file(self.path.join("filler")).unwrap();
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.path)
            .status();
    }
}

fn put(store: &SledStore, i: u32, len: usize) -> Result<(), StoreError> {
    let mut batch = Batch::default();
    batch.put(Space::Log, i.to_be_bytes(), vec![i as u8; len]);
    batch.put(Space::Index, b"head".to_vec(), i.to_be_bytes());
    store.apply(&batch)
}

#[test]
fn a_full_disk_stops_writes_only_until_space_returns_and_loses_nothing_applied() {
    let Some(fs) = Tmpfs::mount("4m") else {
        return;
    };
    let dir = fs.path.join("store");
    let store = SledStore::open(&dir).unwrap();
    let mut applied = Vec::new();
    for i in 0..8 {
        put(&store, i, 1000).unwrap();
        applied.push(i);
    }
    store.sync().unwrap();
    fs.fill();
    // Writes go on until sled meets the full disk, in `apply` or in `sync`.
    let mut i = 8;
    let refused = loop {
        let step = put(&store, i, 4000).and_then(|()| {
            applied.push(i);
            store.sync()
        });
        if let Err(e) = step {
            break e;
        }
        i += 1;
        assert!(i < 10_000, "the disk never filled");
    };
    assert!(
        refused.to_string().contains("No space") || refused.to_string().contains("space"),
        "{refused}"
    );
    assert!(
        put(&store, 100_000, 10).is_err(),
        "a full disk takes writes"
    );

    fs.free();
    std::thread::sleep(REOPEN_EVERY);
    // Space is back: the same store takes writes again, without a restart.
    put(&store, 100_001, 10).unwrap();
    store.sync().unwrap();
    for &i in &applied {
        assert!(
            store.get(Space::Log, &i.to_be_bytes()).unwrap().is_some(),
            "{i} lost"
        );
    }
    drop(store);
    // And all of it is on disk.
    let store = SledStore::open(&dir).unwrap();
    for i in applied.iter().copied().chain([100_001]) {
        assert!(
            store.get(Space::Log, &i.to_be_bytes()).unwrap().is_some(),
            "{i} not durable"
        );
    }
    assert_eq!(
        store.get(Space::Index, b"head").unwrap().as_deref(),
        Some(&100_001u32.to_be_bytes()[..])
    );
}

fn big_chunk(seed: u8) -> ([u8; 32], Vec<u8>) {
    // Incompressible enough to stay over the file threshold as it is stored.
    let mut state = u64::from(seed) + 1;
    let bytes: Vec<u8> = (0..FILE_THRESHOLD + 4096)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let key: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(&bytes).into();
    (key, bytes)
}

fn files_under(dir: &Path, ending: &str) -> Vec<PathBuf> {
    files::walk(dir)
        .into_iter()
        .map(|(p, _)| p)
        .filter(|p| p.to_string_lossy().ends_with(ending))
        .collect()
}

#[test]
fn a_chunk_file_refused_by_a_full_disk_leaves_no_temporary_file() {
    let Some(fs) = Tmpfs::mount("2m") else {
        return;
    };
    let dir = fs.path.join("store");
    let store = SledStore::open(&dir).unwrap();
    fs.fill();
    for seed in 0..4 {
        let (key, bytes) = big_chunk(seed);
        let mut batch = Batch::default();
        batch.put(Space::Chunks, key, bytes);
        assert!(store.apply(&batch).is_err());
    }
    assert_eq!(files_under(&dir, ".tmp"), Vec::<PathBuf>::new());
}

#[test]
fn temporary_chunk_files_are_removed_at_open_and_strays_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (kept, kept_bytes) = big_chunk(1);
    let (stray, _) = big_chunk(2);
    {
        let store = SledStore::open(dir.path()).unwrap();
        let mut batch = Batch::default();
        batch.put(Space::Chunks, kept, kept_bytes.clone());
        store.apply(&batch).unwrap();
        store.sync().unwrap();
        assert_eq!(store.strays(), Vec::<String>::new());
    }
    // What a process killed mid-write leaves, and a finished file whose batch never landed.
    let tmp = files::chunk_path(dir.path(), &stray).with_extension("77-0.tmp");
    std::fs::create_dir_all(tmp.parent().unwrap()).unwrap();
    std::fs::write(&tmp, b"partial").unwrap();
    let orphan = files::chunk_path(dir.path(), &stray);
    std::fs::write(&orphan, b"whole but unreferenced").unwrap();

    let store = SledStore::open(dir.path()).unwrap();
    assert!(!tmp.exists(), "a temporary file survived the open");
    let strays = store.strays();
    assert_eq!(strays.len(), 1, "{strays:?}");
    assert!(
        strays[0].contains(&crate::verify::certificate::hex(&stray)),
        "{strays:?}"
    );
    assert!(strays[0].contains("no kept chunk refers to"), "{strays:?}");
    assert_eq!(store.get(Space::Chunks, &kept).unwrap(), Some(kept_bytes));
}

#[test]
fn the_store_opens_on_a_full_disk_and_takes_writes_once_space_returns() {
    let Some(fs) = Tmpfs::mount("8m") else {
        return;
    };
    let dir = fs.path.join("store");
    {
        let store = SledStore::open(&dir).unwrap();
        for i in 0..200 {
            put(&store, i, 2000).unwrap();
        }
        store.sync().unwrap();
    }
    fs.fill();
    let store = SledStore::open(&dir).unwrap();
    assert!(
        store
            .get(Space::Log, &7u32.to_be_bytes())
            .unwrap()
            .is_some()
    );
    fs.free();
    std::thread::sleep(REOPEN_EVERY);
    put(&store, 1000, 10).unwrap();
    store.sync().unwrap();
    assert!(
        dir.join("tamga.reserve").exists(),
        "the reserve is not back"
    );
}

#[test]
fn what_a_failed_apply_left_in_memory_never_reads_as_kept() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    put(&store, 1, 10).unwrap();
    store
        .seal_fails
        .store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(put(&store, 2, 10).is_err());
    // sled holds the batch in memory, but its log would not recover it: unknown, not kept.
    assert!(store.get(Space::Log, &2u32.to_be_bytes()).is_err());
    assert!(store.get(Space::Index, b"head").is_err());
    assert_eq!(
        store.keys(Space::Log).unwrap(),
        vec![1u32.to_be_bytes().to_vec()]
    );
    assert!(
        store
            .get(Space::Log, &1u32.to_be_bytes())
            .unwrap()
            .is_some()
    );
    // A reopen drops sled's memory; what it reads then is what its log holds.
    std::thread::sleep(REOPEN_EVERY);
    put(&store, 3, 10).unwrap();
    assert!(store.get(Space::Log, &2u32.to_be_bytes()).is_ok());
    assert!(
        store
            .get(Space::Log, &3u32.to_be_bytes())
            .unwrap()
            .is_some()
    );
}

#[test]
fn content_filed_again_before_its_disposal_is_synced_keeps_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    let key = [7u8; 32];
    let value = vec![0xA5; FILE_THRESHOLD + 1];
    let put = || {
        let mut b = Batch::default();
        b.put(Space::Chunks, key.to_vec(), value.clone());
        store.apply(&b).unwrap();
    };
    put();
    store.sync().unwrap();
    // Disposed of, and — before a sync made the removal durable — the same content filed
    // again for another document: the file now belongs to that document.
    let mut gone = Batch::default();
    gone.dispose(Space::Chunks, key.to_vec());
    store.apply(&gone).unwrap();
    put();
    store.sync().unwrap();
    assert_eq!(
        store.get(Space::Chunks, &key).unwrap().as_deref(),
        Some(value.as_slice())
    );
}
