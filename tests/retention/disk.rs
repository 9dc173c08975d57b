//! Retention on disk: a destroyed document's bytes are gone and disk usage drops (sled, the
//! journal); a SIGKILL during an act's execution leaves all of it done or none.

use super::*;

#[test]
fn destroyed_bytes_are_gone_and_disk_usage_drops_in_sled() {
    destroyed_bytes_are_gone_and_disk_usage_drops("sled");
}

#[test]
fn destroyed_bytes_are_gone_and_disk_usage_drops_in_the_journal() {
    destroyed_bytes_are_gone_and_disk_usage_drops("journal");
}

fn destroyed_bytes_are_gone_and_disk_usage_drops(store: &str) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let open = policy(None);
    let mut ing = ingest_on(&data, store);
    ing.policy = open;
    // Large, distinct, incompressible content in T-1 only.
    let regnos = file_big_documents(&ing, dir.path(), 4, 2 << 20, 1);
    // A piece of each document's content, to look for on disk afterwards.
    let samples: Vec<Vec<u8>> = (0..4)
        .map(|i| {
            let c = std::fs::read(dir.path().join(format!("c1-{i}.bin"))).unwrap();
            c[(1 << 20)..(1 << 20) + 64].to_vec()
        })
        .collect();
    assert!(
        samples.iter().all(|s| on_disk(&data, s)),
        "the sample is not how bytes are kept"
    );
    let p = policy(Some(2026));
    let when = t("2028-02-01T00:00:00Z");
    let a = &ing.archive;
    let act = acts::draft(a, &p, &["T-1".into()], "Иванова", when).unwrap();
    acts::approve(a, &act.act, "Ахметов", when).unwrap();
    acts::approve(a, &act.act, "Серикова", when).unwrap();
    let before = dir_size(&data);
    acts::execute(a, &p, &act.act, when).unwrap();
    drop(ing);
    // Reopen (sled reclaims on its own schedule; a restart settles it) and measure.
    let ing = ingest(&data);
    let after = dir_size(&data);
    assert!(a_store_has_no_documents(&ing), "documents' bytes remain");
    for s in &samples {
        assert!(
            !on_disk(&data, s),
            "{store}: a destroyed document's bytes are still on disk"
        );
    }
    eprintln!("{store} disk usage: {before} bytes before, {after} after");
    assert!(
        after + 4 * 1024 * 1024 < before,
        "disk usage did not drop: {before} → {after}"
    );
    // Fetching answers which act destroyed it.
    drop(ing);
    let policy_file = dir.path().join("closed.toml");
    std::fs::write(&policy_file, closed_policy_text()).unwrap();
    let o = tamga_cmd(&data)
        .arg("--policy")
        .arg(&policy_file)
        .args(["get", &regnos[0]])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("destroyed under act 1 of 2028-02-01"), "{err}");
}

fn a_store_has_no_documents(ing: &tamga::ingest::Ingest) -> bool {
    ing.archive
        .raw_store()
        .keys(Space::Blobs)
        .unwrap()
        .is_empty()
        && ing
            .archive
            .raw_store()
            .keys(Space::Chunks)
            .unwrap()
            .is_empty()
}

#[test]
fn sigkill_during_execution_leaves_all_or_nothing_in_sled() {
    sigkill_during_execution_leaves_all_or_nothing("sled");
}

#[test]
fn sigkill_during_execution_leaves_all_or_nothing_in_the_journal() {
    sigkill_during_execution_leaves_all_or_nothing("journal");
}

fn sigkill_during_execution_leaves_all_or_nothing(store: &str) {
    let dir = tempfile::tempdir().unwrap();
    let pristine = dir.path().join("pristine");
    let policy_file = dir.path().join("closed.toml");
    std::fs::write(&policy_file, closed_policy_text()).unwrap();
    let documents = approved_act(&pristine, dir.path(), store);
    let execute = |work: &Path| execute_act(work, &policy_file);
    // Kill moments come from how long an execution takes here, so a fast machine still
    // sees kills mid-way: up to 1.5 times the shortest of three uninterrupted runs (the
    // shortest, so that one run slowed by a busy machine cannot push most kills past the end).
    let mut shortest = u64::MAX;
    for i in 0..3 {
        let calibration = dir.path().join(format!("calibration{i}"));
        copy_dir(&pristine, &calibration);
        let started = std::time::Instant::now();
        assert!(execute(&calibration).status().unwrap().success());
        shortest = shortest.min(started.elapsed().as_micros() as u64);
        std::fs::remove_dir_all(&calibration).unwrap();
    }
    let span = (shortest * 3 / 2).max(1);
    let (mut none, mut all, mut mid_way) = (0, 0, 0);
    for round in 0..20 {
        let work = dir.path().join(format!("work{round}"));
        copy_dir(&pristine, &work);
        let mut child = execute(&work).spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_micros(random_u64() % span));
        if child.try_wait().unwrap().is_none() {
            mid_way += 1;
        }
        child.kill().ok();
        child.wait().unwrap();
        if all_or_nothing(&work, &policy_file, round, documents) {
            all += 1;
        } else {
            none += 1;
        }
        std::fs::remove_dir_all(&work).unwrap();
    }
    eprintln!(
        "execute crash test ({store}): {mid_way} of 20 killed mid-way; afterwards {none} × nothing, {all} × all"
    );
    assert!(mid_way >= 3, "the kills did not land mid-way");
}

/// Files six big documents into T-1 of a new archive of `store` at `pristine` (their content
/// under `dir`) and drafts and approves act 1 destroying them; returns how many it names.
fn approved_act(pristine: &Path, dir: &Path, store: &str) -> usize {
    let open = policy(None);
    let mut ing = ingest_on(pristine, store);
    ing.policy = open;
    file_big_documents(&ing, dir, 6, (1 << 20) + 99, 7);
    let p = policy(Some(2026));
    let when = t("2028-02-01T00:00:00Z");
    let act = acts::draft(&ing.archive, &p, &["T-1".into()], "Иванова", when).unwrap();
    acts::approve(&ing.archive, &act.act, "Ахметов", when).unwrap();
    acts::approve(&ing.archive, &act.act, "Серикова", when).unwrap();
    act.documents.len()
}

/// `tamga retention act execute 1` on the archive at `work`, quiet.
fn execute_act(work: &Path, policy_file: &Path) -> std::process::Command {
    let mut cmd = tamga_cmd(work);
    cmd.arg("--policy")
        .arg(policy_file)
        .args([
            "retention",
            "act",
            "execute",
            "1",
            "--at",
            "2028-02-01T00:00:00Z",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    cmd
}

/// After a kill in `round`: a full audit of `work` passes, and either none of the act's
/// `documents` were destroyed and it was not filed (false), or all of them, their bytes
/// gone, and it was filed (true).
fn all_or_nothing(work: &Path, policy_file: &Path, round: usize, documents: usize) -> bool {
    let mut tamga = tamga_cmd(work);
    tamga.arg("--policy").arg(policy_file);
    assert_full_audit_passes(tamga, round);
    let p = policy(Some(2026));
    let ing = ingest(work);
    let size = ing.archive.size();
    let disposed = tamga::archive::audit::disposed_registrations(&ing.archive, size)
        .unwrap()
        .len();
    let act_filed = ing
        .archive
        .raw_store()
        .get(Space::Acts, b"1")
        .unwrap()
        .is_some();
    let plan = retention::plan(&ing.archive, &p, t("2028-02-01T00:00:00Z")).unwrap();
    let kept = plan.iter().find(|c| c.index == "T-1").unwrap().documents as usize;
    match (disposed, act_filed) {
        (0, false) => {
            assert_eq!(
                kept, documents,
                "round {round}: nothing happened, all must be kept"
            );
            false
        }
        (n, true) if n == documents => {
            assert_eq!(kept, 0, "round {round}");
            assert!(
                ing.archive
                    .raw_store()
                    .keys(Space::Chunks)
                    .unwrap()
                    .is_empty(),
                "round {round}: bytes left"
            );
            true
        }
        other => panic!("round {round}: half an act: {other:?}"),
    }
}
