//! Backups that restore (issue 19): taken while 32 clients submit, then restored and audited;
//! three incremental generations with a disposal between two; SIGKILL of the backup at random
//! moments; a flipped byte refused; restore into sled, the journal and PostgreSQL, with filing
//! continuing (next numbers, a consistency proof from the backed-up checkpoint).

mod common;
#[path = "backup/full_disk.rs"]
mod full_disk;
#[path = "backup/online.rs"]
mod online;
#[path = "backup/race.rs"]
mod race;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use tamga::archive::backup::{self, check, files};
use tamga::archive::checkpoint::unhex32;
use tamga::archive::{Archive, audit, merkle, proofs};

/// Runs `tamga` and returns (exit code, stdout + stderr).
fn run(mut c: Command) -> (i32, String) {
    let o = c.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.code().unwrap_or(-1), text)
}

/// `tamga restore` of `bk` into `new` (with the key of the archive in `orig`), on `store`.
fn restore_cmd(bk: &Path, orig: &Path, new: &Path, extra: &[&str]) -> Command {
    let mut c = tamga_cmd(new);
    c.args(extra)
        .arg("restore")
        .arg("--from")
        .arg(bk)
        .arg("--keys-from")
        .arg(orig.join("keys"));
    c
}

fn restore(bk: &Path, orig: &Path, new: &Path, extra: &[&str]) {
    let (code, out) = run(restore_cmd(bk, orig, new, extra));
    assert_eq!(code, 0, "restore: {out}");
    let mut audit = tamga_cmd(new);
    audit.args(extra);
    assert_full_audit_passes(audit, 0);
}

/// Files `n` submissions of a fixture signature under distinct sender references (each its
/// own entry and registration number; the bytes are kept once).
fn file_many(ing: &tamga::ingest::Ingest, case: &str, tag: &str, n: usize) {
    let sig = std::fs::read(fixtures().join("sig/p256.der")).unwrap();
    for i in 0..n {
        let r = format!("{tag}-{i}");
        let out = ing
            .submit(&tamga::ingest::Submission {
                case,
                signature: &sig,
                content: None,
                sender_ref: Some(&r),
                received_at: AT,
                submitter: None,
            })
            .unwrap();
        assert_eq!(out.status, tamga::verify::Status::Accepted);
    }
}

/// Files a distinct, incompressible document of `size` bytes (detached, signed with OpenSSL)
/// into `case`; returns its content.
fn file_big(
    ing: &tamga::ingest::Ingest,
    dir: &Path,
    case: &str,
    seed: u64,
    size: usize,
) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let bytes = xorshift_bytes(&mut x, size);
    let content = dir.join(format!("big-{seed}.bin"));
    let sig_path = dir.join(format!("big-{seed}.p7s"));
    std::fs::write(&content, &bytes).unwrap();
    openssl_sign_detached(&content, &sig_path);
    let sig = std::fs::read(&sig_path).unwrap();
    let r = format!("big-{seed}");
    let out = ing
        .submit(&tamga::ingest::Submission {
            case,
            signature: &sig,
            content: Some(tamga::ingest::Payload::Bytes(&bytes)),
            sender_ref: Some(&r),
            received_at: AT,
            submitter: None,
        })
        .unwrap();
    assert_eq!(out.status, tamga::verify::Status::Accepted);
    bytes
}

/// Checks that filing continues in the restored archive at `paths`: the next registration
/// number of `case` follows `registered`, and a consistency proof links the backed-up
/// checkpoint to the new one.
fn filing_continues(
    paths: &tamga::setup::Paths,
    case: &str,
    registered: u64,
    backed_up: (u64, [u8; 32]),
) {
    let ing = tamga::setup::open(paths, tamga::verify::Policy::default()).unwrap();
    assert_eq!(ing.archive.registered(case).unwrap(), registered);
    file_many(&ing, case, "after-restore", 1);
    assert_eq!(ing.archive.registered(case).unwrap(), registered + 1);
    let a: &Archive = &ing.archive;
    let cp = a.latest_checkpoint().unwrap().unwrap();
    assert_eq!(
        cp.size,
        backed_up.0 + 1,
        "the chain is extended by one entry"
    );
    // Every tree extends the empty one; RFC 9162 §2.1.4 proofs start from a non-empty tree.
    if backed_up.0 > 0 {
        let p = proofs::consistency(a, backed_up.0, Some(cp.size)).unwrap();
        let proof: Vec<[u8; 32]> = p.proof.iter().map(|h| unhex32(h).unwrap()).collect();
        assert!(merkle::verify_consistency(
            backed_up.0,
            cp.size,
            &backed_up.1,
            &cp.root,
            &proof
        ));
    }
    assert!(audit::verify(a, true, &mut |_, _| {}).is_ok());
}

fn sha(b: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(b).into()
}

const RETENTION_POLICY: &str = r#"
[organization]
name = "ТОО «Тест»"
appeal = { kk = "a", ky = "b", ru = "c", en = "d" }

[[case]]
index = "T-1"
title = "Переписка"
retention = "1y"
closed = 2026
access = ["archivist"]

[[case]]
index = "T-3"
title = "Приказы"
retention = "permanent"
access = ["archivist"]
"#;

#[test]
fn three_incremental_generations_with_a_disposal_between_two() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let policy = tamga::policy::parse(RETENTION_POLICY, Path::new("t.toml")).unwrap();
    let mut ing = ingest_on(&data, "journal");
    ing.policy = policy.clone();
    let doomed = file_big(&ing, dir.path(), "T-1", 1, 1_500_000);
    file_many(&ing, "T-3", "a", 3);
    let bk = dir.path().join("bk");
    let g1 = backup::write(&ing.archive, &bk).unwrap();
    file_many(&ing, "T-3", "b", 3);
    let g2 = backup::write(&ing.archive, &bk).unwrap();
    assert_eq!((g1.generation, g2.generation, g2.previous), (1, 2, Some(1)));
    assert_eq!((g2.entries, g2.chunks), (3, 0), "only what is new");
    assert!(g2.bytes * 20 < g1.bytes, "{} vs {}", g2.bytes, g1.bytes);
    let when = at("2028-02-01T00:00:00Z");
    let a = &ing.archive;
    use tamga::retention::acts;
    let act = acts::draft(a, &policy, &["T-1".into()], "Иванова", when).unwrap();
    acts::approve(a, &act.act, "Ахметов", when).unwrap();
    acts::approve(a, &act.act, "Серикова", when).unwrap();
    acts::execute(a, &policy, &act.act, when).unwrap();
    let g3 = backup::write(a, &bk).unwrap();
    assert_eq!(g3.disposed, 1);
    for g in 1..=3 {
        check::verify(&bk, Some(g)).unwrap_or_else(|e| panic!("generation {g}: {e}"));
    }
    // The newest generation names none of the destroyed document's chunks; the oldest still
    // does (older generations are the operator's to expire).
    let m3 = check::manifest(&bk, Some(3)).unwrap();
    let m1 = check::manifest(&bk, Some(1)).unwrap();
    assert_eq!(m3.disposed, vec!["T-1/1".to_owned()]);
    assert!(m3.live.iter().all(|(r, _)| r != "T-1/1"));
    assert!(m1.live.iter().any(|(r, _)| r == "T-1/1"));
    assert!(m3.chunks.len() < m1.chunks.len());
    let sample = &doomed[700_000..700_064];
    drop(ing);
    let new = dir.path().join("restored");
    restore(&bk, &data, &new, &[]);
    assert!(!on_disk(&new, sample), "a destroyed document was restored");
    let restored = ingest(&new);
    assert!(restored.archive.disposal("T-1/1").unwrap().is_some());
    let old = dir.path().join("restored-gen1");
    let (code, out) = run({
        let mut c = restore_cmd(&bk, &data, &old, &[]);
        c.args(["--generation", "1"]);
        c
    });
    assert_eq!(code, 0, "{out}");
    assert!(ingest(&old).archive.disposal("T-1/1").unwrap().is_none());
}

/// An archive with some bulk: a first generation of it in `bk`, then more documents.
fn archive_with_backup(dir: &Path) -> (PathBuf, PathBuf) {
    let data = dir.join("data");
    let ing = ingest(&data);
    file_many(&ing, "01-05", "a", 2);
    let bk = dir.join("bk");
    backup::write(&ing.archive, &bk).unwrap();
    for seed in 0..6 {
        file_big(&ing, dir, "01-05", seed + 10, 1_200_000);
    }
    file_many(&ing, "01-05", "b", 20);
    (data, bk)
}

#[test]
fn sigkill_at_random_moments_leaves_the_previous_generation_restorable() {
    let dir = tempfile::tempdir().unwrap();
    let (data, bk) = archive_with_backup(dir.path());
    let backup_into = |out: &Path| {
        let mut c = tamga_cmd(&data);
        c.arg("backup").arg("--out").arg(out);
        c
    };
    // How long one whole incremental backup takes, to kill within it: the shortest of three
    // runs, so that one run slowed by a busy machine cannot push most kills past the end.
    let mut span = u64::MAX;
    for i in 0..3 {
        let calibration = dir.path().join(format!("calibration{i}"));
        copy_dir(&bk, &calibration);
        let started = std::time::Instant::now();
        assert_eq!(run(backup_into(&calibration)).0, 0);
        span = span.min(started.elapsed().as_micros() as u64);
        std::fs::remove_dir_all(&calibration).unwrap();
    }
    let (mut mid_way, mut finished) = (0, 0);
    for trial in 0..20 {
        let out = dir.path().join(format!("trial-{trial}"));
        copy_dir(&bk, &out);
        let mut child = backup_into(&out)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let guard = Kill(child.id());
        std::thread::sleep(std::time::Duration::from_micros(random_u64() % (span + 1)));
        let _ = child.kill();
        let status = child.wait().unwrap();
        // Reaped: its id is no longer its own to kill.
        std::mem::forget(guard);
        let newest = backup::newest(&out).unwrap().unwrap().0;
        if newest == 2 {
            finished += 1;
        } else {
            assert_eq!(newest, 1, "trial {trial}");
            assert!(!status.success());
            mid_way += 1;
        }
        // Whatever was left, the newest complete generation verifies and is never the
        // unfinished one.
        check::verify(&out, None).unwrap_or_else(|e| panic!("trial {trial}: {e}"));
        // Chunk files the killed attempt renamed into place are all on its list.
        backup::fresh::unnamed_chunks(&out).unwrap_or_else(|e| panic!("trial {trial}: {e}"));
        if trial == 0 || (newest == 1 && mid_way == 1) {
            restore(&out, &data, &dir.path().join(format!("r{trial}")), &[]);
        }
        // The next backup cleans up and completes.
        assert_eq!(run(backup_into(&out)).0, 0, "trial {trial}");
        let names: Vec<String> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(names.iter().all(|n| !n.starts_with(".tmp-")), "{names:?}");
        check::verify(&out, None).unwrap();
        backup::fresh::unnamed_chunks(&out).expect("an orphan chunk after the next backup");
        std::fs::remove_dir_all(&out).unwrap();
    }
    eprintln!("backup kill test: {mid_way} of 20 killed mid-way, {finished} finished first");
    assert!(mid_way >= 5, "only {mid_way} of 20 kills landed mid-way");
}

/// Kills a child process when dropped (a failing assertion must not leave it running).
struct Kill(u32);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-9", &self.0.to_string()])
            .status();
    }
}

#[test]
fn a_flipped_byte_is_refused_by_verify_and_restore_and_so_is_a_non_empty_target() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let ing = ingest(&data);
    file_big(&ing, dir.path(), "01-05", 3, 300_000);
    file_many(&ing, "01-05", "a", 3);
    let bk = dir.path().join("bk");
    let s = backup::write(&ing.archive, &bk).unwrap();
    drop(ing);
    let m = check::manifest(&bk, Some(s.generation)).unwrap();
    let chunk = files::chunk_path(&m.chunks[0]);
    for victim in [
        chunk.as_str(),
        "gen-000001/log.kv",
        "gen-000001/receipts.kv",
        "gen-000001/index.kv",
    ] {
        let copy = dir.path().join("flipped");
        copy_dir(&bk, &copy);
        let path = copy.join(victim);
        let mut bytes = std::fs::read(&path).unwrap();
        let at = bytes.len() / 2;
        bytes[at] ^= 0x01;
        std::fs::write(&path, bytes).unwrap();
        let mut c = Command::new(env!("CARGO_BIN_EXE_tamga"));
        c.args(["backup", "verify"]).arg(&copy);
        let (code, out) = run(c);
        assert_eq!(code, 1, "{victim}: {out}");
        let name = victim.rsplit('/').next().unwrap();
        assert!(out.contains(name), "{victim} not named: {out}");
        let new = dir.path().join("new");
        let (code, out) = run(restore_cmd(&copy, &data, &new, &[]));
        assert_eq!(code, 1, "{victim}: {out}");
        assert!(out.contains(name), "{victim} not named: {out}");
        assert!(!new.exists(), "restore wrote into the target");
        std::fs::remove_dir_all(&copy).unwrap();
    }
    // The intact backup restores, but never into a directory that holds something.
    let full = dir.path().join("full");
    std::fs::create_dir_all(&full).unwrap();
    std::fs::write(full.join("x"), b"x").unwrap();
    let (code, out) = run(restore_cmd(&bk, &data, &full, &[]));
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("not empty"), "{out}");
}

fn restore_into(store: &str, extra: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let ing = ingest(&data);
    let doc = file_big(&ing, dir.path(), "01-05", 7, 200_000);
    file_many(&ing, "01-05", "a", 4);
    let bk = dir.path().join("bk");
    let s = backup::write(&ing.archive, &bk).unwrap();
    let root = ing.archive.latest_checkpoint().unwrap().unwrap().root;
    drop(ing);
    let new = dir.path().join("new");
    let mut args = vec!["--store", store];
    args.extend_from_slice(extra);
    restore(&bk, &data, &new, &args);
    let mut get = tamga_cmd(&new);
    get.args(&args).args(["get", "--content", "01-05/1"]);
    let o = get.output().unwrap();
    assert_eq!(o.stdout, doc, "{store}: the document is not byte-identical");
    let mut paths = archive_paths(&new);
    if store == "postgres" {
        paths.database = Some(tamga::archive::postgres::Location {
            url: extra[1].to_owned(),
            schema: extra[3].to_owned(),
            shared: false,
        });
    }
    filing_continues(&paths, "01-05", 5, (s.size, root));
}

#[test]
fn restore_into_sled_journal_and_postgres() {
    restore_into("sled", &[]);
    restore_into("journal", &[]);
    let pg = common::pg::Cluster::start()
        .unwrap_or_else(|why| panic!("no PostgreSQL for the test: {why}"));
    let url = pg.url();
    restore_into(
        "postgres",
        &["--database-url", &url, "--database-schema", "restored"],
    );
}

#[test]
fn a_backup_of_an_empty_archive_verifies_and_restores_to_an_empty_archive() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let bk = dir.path().join("bk");
    // A fresh archive: no entries, no checkpoint yet; backed up by the command line.
    drop(ingest(&data));
    let (code, out) = run({
        let mut c = tamga_cmd(&data);
        c.arg("backup").arg("--out").arg(&bk);
        c
    });
    assert_eq!(code, 0, "{out}");
    let (code, out) = run({
        let mut c = Command::new(env!("CARGO_BIN_EXE_tamga"));
        c.args(["backup", "verify"]).arg(&bk);
        c
    });
    assert_eq!(code, 0, "backup verify of an empty archive's backup: {out}");
    let new = dir.path().join("restored");
    restore(&bk, &data, &new, &[]);
    let root = {
        let ing = ingest(&new);
        let cp = ing.archive.latest_checkpoint().unwrap().unwrap();
        assert_eq!(cp.size, 0);
        cp.root
    };
    // The next generation of the (still empty, then filing) archive is incremental from it.
    let ing = ingest(&data);
    assert_eq!(backup::write(&ing.archive, &bk).unwrap().previous, Some(1));
    check::verify(&bk, None).unwrap();
    file_many(&ing, "01-05", "a", 1);
    let g3 = backup::write(&ing.archive, &bk).unwrap();
    assert_eq!((g3.generation, g3.entries), (3, 1));
    check::verify(&bk, None).unwrap();
    drop(ing);
    filing_continues(&archive_paths(&new), "01-05", 0, (0, root));
}

/// The index is copied whole, whatever its keys: one another module adds (a search index, say)
/// comes back from a restore without the backup knowing of it.
#[test]
fn index_keys_the_backup_does_not_know_of_are_restored() {
    use tamga::archive::store::{Batch, Space};
    let dir = tempfile::tempdir().unwrap();
    let ing = ingest(&dir.path().join("data"));
    file_many(&ing, "01-05", "a", 2);
    let mut b = Batch::default();
    b.put(Space::Index, b"some-new-index/x".to_vec(), b"42".to_vec());
    ing.archive.raw_store().apply(&b).unwrap();
    let bk = dir.path().join("bk");
    backup::write(&ing.archive, &bk).unwrap();
    let m = check::manifest(&bk, None).unwrap();
    let loaded = check::load(&bk, &m).unwrap();
    let new = dir.path().join("new");
    let store = tamga::setup::open_store(&archive_paths(&new)).unwrap();
    backup::restore::load(&bk, &m, &loaded, store.as_ref()).unwrap();
    assert_eq!(
        store.get(Space::Index, b"some-new-index/x").unwrap(),
        Some(b"42".to_vec())
    );
}
