//! Retention with simulated time: due dates, plan, ЭПК review, drafting, approvals (the
//! drafter's own and repeated ones do not count), holds, execution; bytes destroyed, entries,
//! receipts and the chain intact; a SIGKILL during execution leaves all or nothing
//! (`retention/disk.rs`, with the bytes destroyed); over HTTP (`retention/http.rs`).

mod common;
#[path = "retention/disk.rs"]
mod disk;
#[path = "retention/http.rs"]
mod http;
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
    let table = status_table();
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

/// (case, at, documents it still has, ЭПК review, held, the status): every case of the table
/// once held three documents.
type StatusRow = (
    &'static str,
    &'static str,
    usize,
    Option<&'static str>,
    bool,
    CaseStatus,
);

/// The rows `due_dates_and_statuses` checks.
fn status_table() -> [StatusRow; 8] {
    [
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
    ]
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
    kept_after_execution(a, dir.path(), &done, when);
}

/// After act 1 (`done`, executed at `when`) destroyed T-1 and T-2 of the archive `a` in `dir`:
/// only T-3's documents are kept and audited, the act renders and verifies with OpenSSL, and
/// an export checks.
fn kept_after_execution(a: &tamga::archive::Archive, dir: &Path, done: &acts::Act, when: i64) {
    let report = tamga::archive::audit::verify(a, true, &mut |_, _| {}).unwrap();
    assert_eq!(report.documents, 3, "only T-3's documents are still kept");
    let text = retention::render::text(done, "kz");
    assert!(
        text.contains("АКТ № 1") && text.contains("жоюға бөлу туралы") && text.contains("1 год"),
        "{text}"
    );
    let signed = a.raw_store().get(Space::Acts, b"1").unwrap().unwrap();
    let path = dir.join("act.p7s");
    let ca = dir.join("data/keys/receipt.pem");
    let at = ["-attime", &when.to_string()];
    openssl_verified(&path, &signed, &ca, &at, "act 1");
    let out = dir.join("export");
    tamga::archive::export::write(a, &out).unwrap();
    assert_eq!(tamga::archive::export::verify(&out).unwrap().documents, 3);
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
