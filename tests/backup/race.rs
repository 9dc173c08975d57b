//! The races of a backup with disposals (issue 19): a document destroyed while a generation
//! is written is neither in it nor left in the shared chunk files; a disposal cannot land
//! between the final check and the rename that makes a generation count; what happens after
//! that rename cannot fail the backup.

use super::*;
use tamga::archive::backup::fresh;

#[test]
fn a_document_destroyed_after_its_chunks_were_copied_is_not_in_the_generation() {
    let dir = tempfile::tempdir().unwrap();
    let policy = tamga::policy::parse(RETENTION_POLICY, Path::new("t.toml")).unwrap();
    let mut ing = ingest_on(&dir.path().join("data"), "journal");
    ing.policy = policy.clone();
    // Under 1 MiB: one chunk, named by the SHA-256 of the whole document.
    let doomed = file_big(&ing, dir.path(), "T-1", 1, 200_000);
    file_many(&ing, "T-3", "a", 2);
    let when = at("2028-02-01T00:00:00Z");
    let a = &ing.archive;
    use tamga::retention::acts;
    let act = acts::draft(a, &policy, &["T-1".into()], "Иванова", when).unwrap();
    acts::approve(a, &act.act, "Ахметов", when).unwrap();
    acts::approve(a, &act.act, "Серикова", when).unwrap();
    let bk = dir.path().join("bk");
    let chunk = bk.join(files::chunk_path(&sha(&doomed)));
    let mut executed = false;
    let s = backup::write_with(a, &bk, &backup::Options::default(), &mut |m| {
        if m == backup::Moment::ChunksCopied && !executed {
            assert!(chunk.is_file(), "the attempt copied the document's chunk");
            executed = true;
            acts::execute(a, &policy, &act.act, when).unwrap();
        }
    })
    .unwrap();
    assert!(executed);
    let m = check::manifest(&bk, Some(s.generation)).unwrap();
    assert!(m.live.iter().all(|(r, _)| r != "T-1/1"), "{:?}", m.live);
    assert!(check::verify(&bk, None).is_ok());
    // Nor are its bytes left readable in the backup directory.
    assert!(
        !chunk.exists(),
        "the destroyed document's chunk file is left"
    );
    fresh::unnamed_chunks(&bk).unwrap();
}

/// `backup verify` names a chunk file no generation names (a destroyed document's bytes, or
/// space never given back), and is content again once it is gone.
#[test]
fn backup_verify_reports_a_chunk_no_generation_names() {
    let dir = tempfile::tempdir().unwrap();
    let ing = ingest(&dir.path().join("data"));
    file_many(&ing, "01-05", "a", 2);
    let bk = dir.path().join("bk");
    backup::write(&ing.archive, &bk).unwrap();
    drop(ing);
    let stray = bk.join(files::chunk_path(&[0xab; 32]));
    std::fs::create_dir_all(stray.parent().unwrap()).unwrap();
    std::fs::write(&stray, b"left by an older tamga").unwrap();
    let verify = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_tamga"));
        c.args(["backup", "verify"]).arg(&bk);
        run(c)
    };
    let (code, out) = verify();
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&stray.display().to_string()), "{out}");
    assert!(out.contains("no generation names"), "{out}");
    std::fs::remove_file(&stray).unwrap();
    let (code, out) = verify();
    assert_eq!(code, 0, "{out}");
}

/// Issue 19 review, item 3: once the generation is renamed into place it counts, so nothing
/// after that (here the directory's sync, failing since the directory was moved) makes the
/// backup report that it was not written.
#[test]
fn a_generation_that_counts_is_reported_written_even_if_the_sync_after_fails() {
    let dir = tempfile::tempdir().unwrap();
    let ing = ingest(&dir.path().join("data"));
    file_many(&ing, "01-05", "a", 2);
    let (bk, moved) = (dir.path().join("bk"), dir.path().join("moved"));
    let s = backup::write_with(&ing.archive, &bk, &backup::Options::default(), &mut |m| {
        if m == backup::Moment::Completed {
            std::fs::rename(&bk, &moved).unwrap();
        }
    })
    .expect("the generation counts: the backup was written");
    assert_eq!(s.generation, 1);
    assert_eq!(check::verify(&moved, None).unwrap().generation, 1);
}

/// Item 1 of issue 19, the race closed: a disposal executed while a generation is being
/// renamed into place waits for it (the rename holds the writer lock), so the generation is
/// complete before the document is destroyed and the next one records the disposal; it never
/// counts while holding a document already destroyed.
#[test]
fn a_disposal_cannot_land_between_the_final_check_and_the_generation_counting() {
    let dir = tempfile::tempdir().unwrap();
    let policy = tamga::policy::parse(RETENTION_POLICY, Path::new("t.toml")).unwrap();
    let mut ing = ingest_on(&dir.path().join("data"), "journal");
    ing.policy = policy.clone();
    file_big(&ing, dir.path(), "T-1", 1, 200_000);
    file_many(&ing, "T-3", "a", 2);
    let when = at("2028-02-01T00:00:00Z");
    let a = &ing.archive;
    use tamga::retention::acts;
    let act = acts::draft(a, &policy, &["T-1".into()], "Иванова", when).unwrap();
    acts::approve(a, &act.act, "Ахметов", when).unwrap();
    acts::approve(a, &act.act, "Серикова", when).unwrap();
    let bk = dir.path().join("bk");
    let mut finished_before = None;
    let g1 = std::thread::scope(|scope| {
        let mut execution = None;
        let g1 = backup::write_with(a, &bk, &backup::Options::default(), &mut |m| {
            if m != backup::Moment::Completing || execution.is_some() {
                return;
            }
            let t = scope.spawn(|| acts::execute(a, &policy, &act.act, when).unwrap());
            // Proving a negative: give the disposal ample time to get through if it can.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
            while !t.is_finished() && std::time::Instant::now() < deadline {
                std::thread::yield_now();
            }
            finished_before = Some(t.is_finished());
            execution = Some(t);
        })
        .unwrap();
        execution.expect("no completion").join().unwrap();
        g1
    });
    let m1 = check::manifest(&bk, Some(g1.generation)).unwrap();
    let kept = m1.live.iter().any(|(r, _)| r == "T-1/1");
    assert!(
        finished_before == Some(false) || !kept,
        "a generation counted with a document destroyed before it did"
    );
    assert_eq!(finished_before, Some(false), "the disposal did not wait");
    let g2 = backup::write(a, &bk).unwrap();
    assert_eq!(g2.disposed, 1);
    check::verify(&bk, None).unwrap();
}
