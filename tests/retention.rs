//! Retention with simulated time: due dates, plan, ЭПК review, drafting, approvals (the
//! drafter's own and repeated ones do not count), holds, execution; bytes destroyed, entries,
//! receipts and the chain intact; a SIGKILL during execution leaves all or nothing.

mod common;
use common::*;
use std::path::Path;
use tamga::archive::store::Space;
use tamga::policy::{ArchivePolicy, parse};
use tamga::retention::{self, CaseStatus, RetentionError, acts, holds};

const BASE: &str = r#"
[organization]
name = "ТОО «Тест»"
appeal = { kk = "a", ky = "b", ru = "c", en = "d" }
"#;

fn closed_policy_text() -> String {
    policy_text(Some(2026))
}

fn policy(closed: Option<i32>) -> ArchivePolicy {
    parse(&policy_text(closed), Path::new("t.toml")).unwrap()
}

fn policy_text(closed: Option<i32>) -> String {
    let closed = closed.map_or(String::new(), |y| format!("closed = {y}"));
    format!(
        "{BASE}
[[case]]
index = \"T-1\"
title = \"Переписка\"
retention = \"1y\"
{closed}
access = [\"archivist\"]

[[case]]
index = \"T-2\"
title = \"Заявления (ЭПК)\"
retention = \"1y\"
epk = true
{closed}
access = [\"archivist\"]

[[case]]
index = \"T-3\"
title = \"Приказы\"
retention = \"permanent\"
{closed}
access = [\"archivist\"]
"
    )
}

fn t(s: &str) -> i64 {
    at(s)
}

fn st(plan: &[retention::CasePlan], case: &str) -> CaseStatus {
    plan.iter().find(|p| p.index == case).unwrap().status
}

fn refused<T: std::fmt::Debug>(r: Result<T, RetentionError>, needle: &str) {
    match r {
        Err(RetentionError::Refused(why)) => assert!(why.contains(needle), "{why}"),
        other => panic!("expected a refusal containing {needle:?}, got {other:?}"),
    }
}

/// Files `n` distinct documents into each of T-1, T-2, T-3 (open), then closes them in 2026.
fn setup(data: &Path) -> (tamga::ingest::Ingest, ArchivePolicy) {
    let open = policy(None);
    let mut ingest = ingest(data);
    ingest.policy = open;
    for (i, f) in ["rsa-attached.der", "p256.der", "ed25519.der"]
        .iter()
        .enumerate()
    {
        let sig = std::fs::read(fixtures().join("sig").join(f)).unwrap();
        for case in ["T-1", "T-2", "T-3"] {
            let r = format!("{case}-{i}");
            let s = tamga::ingest::Submission {
                case,
                signature: &sig,
                content: None,
                sender_ref: Some(&r),
                received_at: AT,
                submitter: None,
            };
            assert_eq!(
                ingest.submit(&s).unwrap().status,
                tamga::verify::Status::Accepted
            );
        }
    }
    (ingest, policy(Some(2026)))
}

#[test]
fn due_dates_and_statuses() {
    let p = policy(Some(2026));
    let c = p.case("T-1").unwrap();
    assert_eq!(
        retention::due(c, t("2027-12-31T23:59:59Z")),
        Some(("2028-01-01".into(), false))
    );
    assert_eq!(
        retention::due(c, t("2028-01-01T00:00:00Z")),
        Some(("2028-01-01".into(), true))
    );
    let table = [
        (
            "T-1",
            "2027-06-01T00:00:00Z",
            3,
            None,
            false,
            CaseStatus::NotDue,
        ),
        (
            "T-1",
            "2028-01-01T00:00:00Z",
            3,
            None,
            false,
            CaseStatus::Destroyable,
        ),
        (
            "T-1",
            "2028-01-01T00:00:00Z",
            3,
            None,
            true,
            CaseStatus::OnHold,
        ),
        (
            "T-1",
            "2028-01-01T00:00:00Z",
            0,
            None,
            false,
            CaseStatus::Disposed,
        ),
        (
            "T-2",
            "2030-01-01T00:00:00Z",
            3,
            None,
            false,
            CaseStatus::NeedsEpkReview,
        ),
        (
            "T-2",
            "2030-01-01T00:00:00Z",
            3,
            Some("keep"),
            false,
            CaseStatus::NeedsEpkReview,
        ),
        (
            "T-2",
            "2030-01-01T00:00:00Z",
            3,
            Some("destroy"),
            false,
            CaseStatus::Destroyable,
        ),
        (
            "T-3",
            "2999-01-01T00:00:00Z",
            3,
            None,
            false,
            CaseStatus::Permanent,
        ),
    ];
    for (case, when, docs, review, held, want) in table {
        // Every case of the table once held three documents.
        assert_eq!(
            retention::status(p.case(case).unwrap(), t(when), 3, docs, review, held),
            want,
            "{case} {when}"
        );
    }
    let open = policy(None);
    assert_eq!(
        retention::status(
            open.case("T-1").unwrap(),
            t("2999-01-01T00:00:00Z"),
            3,
            3,
            None,
            false
        ),
        CaseStatus::Open
    );
}

#[test]
fn the_full_flow() {
    let dir = tempfile::tempdir().unwrap();
    let (ingest, p) = setup(&dir.path().join("data"));
    let a = &ingest.archive;
    let plan = retention::plan(a, &p, t("2027-06-01T00:00:00Z")).unwrap();
    assert_eq!(st(&plan, "T-1"), CaseStatus::NotDue);
    let when = t("2028-02-01T00:00:00Z");
    let plan = retention::plan(a, &p, when).unwrap();
    assert_eq!(
        (st(&plan, "T-1"), st(&plan, "T-2"), st(&plan, "T-3")),
        (
            CaseStatus::Destroyable,
            CaseStatus::NeedsEpkReview,
            CaseStatus::Permanent
        )
    );
    assert_eq!(plan[0].documents, 3);

    refused(acts::draft(a, &p, &["T-2".into()], "Иванова", when), "ЭПК");
    refused(
        acts::draft(a, &p, &["T-3".into()], "Иванова", when),
        "permanently",
    );
    refused(
        acts::draft(a, &p, &["T-1".into()], "Иванова", t("2027-12-31T00:00:00Z")),
        "not due",
    );
    retention::record_review(a, &p, "T-2", "destroy", "ЭПК: Петров", when).unwrap();
    let hold = holds::hold(
        a,
        &p,
        None,
        Some("T-1/2"),
        "запрос прокуратуры",
        "Сидоров",
        when,
    )
    .unwrap();
    refused(acts::draft(a, &p, &["T-1".into()], "Иванова", when), "held");
    holds::release(a, &hold, "Сидоров", when).unwrap();

    let act = acts::draft(a, &p, &["T-1".into(), "T-2".into()], "Иванова", when).unwrap();
    assert_eq!(act.documents.len(), 6);
    refused(acts::execute(a, &p, &act.act, when), "0 of 2 approvals");
    refused(acts::approve(a, &act.act, "Иванова", when), "drafter");
    acts::approve(a, &act.act, "Ахметов", when).unwrap();
    refused(
        acts::approve(a, &act.act, "Ахметов", when),
        "already approved",
    );
    refused(acts::execute(a, &p, &act.act, when), "1 of 2 approvals");
    acts::approve(a, &act.act, "Серикова", when).unwrap();
    let h = holds::hold(a, &p, Some("T-2"), None, "проверка", "Сидоров", when).unwrap();
    refused(acts::execute(a, &p, &act.act, when), "held");
    holds::release(a, &h, "Сидоров", when).unwrap();

    let chunks_before = a.raw_store().keys(Space::Chunks).unwrap().len();
    let done = acts::execute(a, &p, &act.act, when).unwrap();
    assert_eq!(done.executed.as_deref(), Some("2028-02-01"));
    refused(acts::execute(a, &p, &act.act, when), "already executed");
    // The same three signature files were also filed into the permanent T-3: shared content
    // stays. Here every document of T-1/T-2 is a byte-identical copy of one in T-3, so no
    // chunk may go; the blobs of the destroyed documents are the same blobs, and they stay.
    assert_eq!(
        a.raw_store().keys(Space::Chunks).unwrap().len(),
        chunks_before
    );

    // Entries, receipts and the chain stay; a full audit passes; fetching answers clearly.
    let report = tamga::archive::audit::verify(a, true, &mut |_, _| {}).unwrap();
    assert_eq!(report.documents, 3, "only T-3's documents are still kept");
    let text = retention::render::text(&done, "kz");
    assert!(
        text.contains("АКТ № 1") && text.contains("жоюға бөлу туралы") && text.contains("1 год"),
        "{text}"
    );
    let signed = a.raw_store().get(Space::Acts, b"1").unwrap().unwrap();
    let path = dir.path().join("act.p7s");
    let ca = dir.path().join("data/keys/receipt.pem");
    let at = ["-attime", &when.to_string()];
    openssl_verified(&path, &signed, &ca, &at, "act 1");
    let out = dir.path().join("export");
    tamga::archive::export::write(a, &out).unwrap();
    assert_eq!(tamga::archive::export::verify(&out).unwrap().documents, 3);
}

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
    let documents;
    {
        let open = policy(None);
        let mut ing = ingest_on(&pristine, store);
        ing.policy = open;
        file_big_documents(&ing, dir.path(), 6, (1 << 20) + 99, 7);
        let p = policy(Some(2026));
        let when = t("2028-02-01T00:00:00Z");
        let act = acts::draft(&ing.archive, &p, &["T-1".into()], "Иванова", when).unwrap();
        acts::approve(&ing.archive, &act.act, "Ахметов", when).unwrap();
        acts::approve(&ing.archive, &act.act, "Серикова", when).unwrap();
        documents = act.documents.len();
    }
    let execute = |work: &Path| {
        let mut cmd = tamga_cmd(work);
        cmd.arg("--policy")
            .arg(&policy_file)
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
    };
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
        let mut tamga = tamga_cmd(&work);
        tamga.arg("--policy").arg(&policy_file);
        assert_full_audit_passes(tamga, round);
        let p = policy(Some(2026));
        let ing = ingest(&work);
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
                none += 1;
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
                all += 1;
            }
            other => panic!("round {round}: half an act: {other:?}"),
        }
        std::fs::remove_dir_all(&work).unwrap();
    }
    eprintln!(
        "execute crash test ({store}): {mid_way} of 20 killed mid-way; afterwards {none} × nothing, {all} × all"
    );
    assert!(mid_way >= 3, "the kills did not land mid-way");
}

#[test]
fn over_http_archivists_run_retention_and_destroyed_documents_answer_410() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    {
        let (ing, p) = setup(&data);
        let when = t("2028-02-01T00:00:00Z");
        let act = acts::draft(&ing.archive, &p, &["T-1".into()], "Иванова", when).unwrap();
        acts::approve(&ing.archive, &act.act, "Ахметов", when).unwrap();
        acts::approve(&ing.archive, &act.act, "Серикова", when).unwrap();
        acts::execute(&ing.archive, &p, &act.act, when).unwrap();
    }
    let demo =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("archive-policy.toml"))
            .unwrap();
    let principals = &demo[demo.find("[[principal]]").unwrap()..];
    let s = common::server::start_with(
        dir,
        &format!("{}\n{principals}", closed_policy_text()),
        tamga::http::Limits::default(),
        None,
    );
    let _ = rustls::crypto::ring::default_provider().install_default();
    let c = reqwest::blocking::Client::new();
    let get = |path: &str, token: &str| {
        c.get(format!("{}{path}", s.base))
            .bearer_auth(token)
            .send()
            .unwrap()
    };
    let r = get("/v1/documents/T-1%2F1/signature", "demo-archivist-token");
    assert_eq!(r.status(), reqwest::StatusCode::GONE);
    assert!(
        r.text()
            .unwrap()
            .contains("destroyed under act 1 of 2028-02-01")
    );
    let plan: serde_json::Value = get(
        "/v1/retention/plan?at=2028-02-01T00:00:00Z",
        "demo-archivist-token",
    )
    .json()
    .unwrap();
    let t1 = plan["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["index"] == "T-1")
        .unwrap()
        .clone();
    assert_eq!(t1["status"], "disposed");
    assert_eq!(
        get("/v1/retention/plan", "demo-auditor-token").status(),
        reqwest::StatusCode::FORBIDDEN
    );
    let act: serde_json::Value = get("/v1/retention/acts/1", "demo-archivist-token")
        .json()
        .unwrap();
    assert!(act["text"].as_str().unwrap().contains("АКТ № 1"));
    // The server's clock says 2026: nothing is due yet, and the refusal says so.
    let r = c
        .post(format!("{}/v1/retention/acts", s.base))
        .bearer_auth("demo-archivist-token")
        .json(&serde_json::json!({"cases": ["T-2"]}))
        .send()
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().unwrap().contains("Refused: case T-2"));
    let r = c
        .post(format!("{}/v1/retention/holds", s.base))
        .bearer_auth("demo-archivist-token")
        .json(&serde_json::json!({"case": "T-3", "reason": "суд"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    let id = r.json::<serde_json::Value>().unwrap()["hold"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = c
        .post(format!("{}/v1/retention/holds/{id}/release", s.base))
        .bearer_auth("demo-archivist-token")
        .send()
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    let audit: serde_json::Value = c
        .post(format!("{}/v1/audit?full=true", s.base))
        .bearer_auth("demo-auditor-token")
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(audit["status"], "intact", "{audit}");
}

/// Files `n` distinct incompressible documents of `size` bytes (detached content) into T-1;
/// returns their registration numbers.
fn file_big_documents(
    ing: &tamga::ingest::Ingest,
    dir: &Path,
    n: u64,
    size: usize,
    seed: u64,
) -> Vec<String> {
    let mut regnos = Vec::new();
    for i in 0..n {
        let content = dir.join(format!("c{seed}-{i}.bin"));
        let mut x = (i + seed).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let bytes = xorshift_bytes(&mut x, size);
        std::fs::write(&content, &bytes).unwrap();
        let sig = dir.join(format!("c{seed}-{i}.p7s"));
        openssl_sign_detached(&content, &sig);
        let s = std::fs::read(&sig).unwrap();
        let r = i.to_string();
        let sub = tamga::ingest::Submission {
            case: "T-1",
            signature: &s,
            content: Some(tamga::ingest::Payload::Bytes(&bytes)),
            sender_ref: Some(&r),
            received_at: AT,
            submitter: None,
        };
        let out = ing.submit(&sub).unwrap();
        assert_eq!(out.status, tamga::verify::Status::Accepted);
        regnos.push(format!("T-1/{}", i + 1));
    }
    regnos
}
