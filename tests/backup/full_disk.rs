//! The backup's disk fills up (issue 19, item 4).

use super::*;
use common::tmpfs::Tmpfs;
use tamga::archive::backup::fresh;

/// Issue 19, item 4: the backup's disk fills up. The first generation fits, the second does
/// not: a clear sentence and exit code, nothing of the unfinished generation left counting
/// (or taking space), the first one verifying and restoring; with room again, the next
/// backup completes. Needs a tmpfs mount (root, as CI runs the tests);
/// `TAMGA_SKIP_TMPFS=1` skips it where mounting is not permitted.
#[test]
fn a_full_backup_disk_leaves_the_previous_generation_intact() {
    let dir = tempfile::tempdir().unwrap();
    let Some(fs) = Tmpfs::mount(&dir.path().join("m"), "2m") else {
        if std::env::var("TAMGA_SKIP_TMPFS").as_deref() == Ok("1") {
            eprintln!("NOTICE: TAMGA_SKIP_TMPFS=1: the full-disk backup test is skipped");
            return;
        }
        panic!("cannot mount a tmpfs (the tests run as root in CI; TAMGA_SKIP_TMPFS=1 skips)");
    };
    let data = dir.path().join("data");
    let ing = ingest(&data);
    file_big(&ing, dir.path(), "01-05", 1, 300_000);
    file_many(&ing, "01-05", "a", 3);
    drop(ing);
    let bk = fs.0.join("bk");
    let backup_into = || {
        let mut c = tamga_cmd(&data);
        c.arg("backup").arg("--out").arg(&bk);
        run(c)
    };
    let (code, out) = backup_into();
    assert_eq!(code, 0, "the first generation fits: {out}");
    let ing = ingest(&data);
    for seed in 2..5 {
        file_big(&ing, dir.path(), "01-05", seed, 700_000);
    }
    drop(ing);
    let (code, out) = backup_into();
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("no space left for the backup"), "{out}");
    assert!(out.contains("the previous one is intact"), "{out}");
    assert_eq!(backup::newest(&bk).unwrap().unwrap().0, 1);
    let names: Vec<String> = std::fs::read_dir(&bk)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(names.iter().all(|n| !n.starts_with(".tmp-")), "{names:?}");
    // The chunks the unfinished generation copied before the disk filled are given back.
    fresh::unnamed_chunks(&bk).expect("chunk files of the unfinished generation are left");
    let (code, out) = run({
        let mut c = Command::new(env!("CARGO_BIN_EXE_tamga"));
        c.args(["backup", "verify"]).arg(&bk);
        c
    });
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("generation 1"), "{out}");
    restore(&bk, &data, &dir.path().join("restored"), &[]);
    fs.resize("16m");
    let (code, out) = backup_into();
    assert_eq!(code, 0, "with room again: {out}");
    assert_eq!(check::verify(&bk, None).unwrap().generation, 2);
}
