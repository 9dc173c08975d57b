//! Backups taken by the running service over HTTP (issue 19): one under 32 submitting
//! clients, restored and filing on; only under the configured root, naming no server path; one
//! at a time, as a job polled until it ends.

use super::*;
use common::server::{client, start};
use tamga::http::Limits;

const GATEWAY: &str = "demo-gateway-token";
const ADMIN: &str = "demo-admin-token";
#[test]
fn a_backup_under_32_submitting_clients_restores_and_filing_continues() {
    let root = tempfile::tempdir().unwrap();
    let s = start(&backup_root(root.path()), Limits::default(), None);
    let bk = root.path().canonicalize().unwrap().join("backups");
    let sig = std::fs::read(fixtures().join("sig/p256.der")).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients = submitting_clients(32, &s.base, &sig, &stop);
    // Wait until filing is under way, then back up twice while it goes on.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while s.state.ingest.archive.size() < 64 {
        assert!(std::time::Instant::now() < deadline, "no filing");
        std::thread::yield_now();
    }
    let take = || -> serde_json::Value {
        let (code, job) = post_backup(&s.base, "backups");
        assert_eq!(
            (code, &job["state"]),
            (202, &serde_json::json!("done")),
            "{job}"
        );
        job["summary"].clone()
    };
    let first = take();
    let second = take();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let filed: usize = clients.into_iter().map(|c| c.join().unwrap()).sum();
    assert_eq!(second["previous"], 1, "{second}");
    let size = second["size"].as_u64().unwrap();
    assert!(size > first["size"].as_u64().unwrap() && (size as usize) < filed + 1);
    // Only the chancellery may submit, only an admin back up.
    let r = client()
        .post(format!("{}/v1/backup", s.base))
        .bearer_auth(GATEWAY)
        .json(&serde_json::json!({ "out": "backups" }))
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(check::verify(&bk, Some(1)).is_ok());
    let v = check::verify(&bk, None).unwrap();
    assert_eq!((v.generation, v.size), (2, size));
    // Restored, the archive is the backed-up one, byte for byte, and files on.
    let new = s.dir.path().join("restored");
    restore(&bk, &s.dir.path().join("data"), &new, &[]);
    let root = {
        let ing = ingest(&new);
        let cp = ing.archive.latest_checkpoint().unwrap().unwrap();
        assert_eq!(cp.size, size);
        let orig = s.state.ingest.archive.entry_bytes(size - 1).unwrap();
        assert_eq!(ing.archive.entry_bytes(size - 1).unwrap(), orig);
        let mut a = Vec::new();
        let mut b = Vec::new();
        let name = unhex32(&tamga::verify::certificate::hex(&sha(&sig))).unwrap();
        ing.archive.read_blob(&name, &mut a).unwrap();
        s.state.ingest.archive.read_blob(&name, &mut b).unwrap();
        assert_eq!(a, sig);
        assert_eq!(b, sig);
        cp.root
    };
    // Registration numbers in 01-05 are 1..=size (one entry each).
    filing_continues(&archive_paths(&new), "01-05", size, (size, root));
}

/// `count` clients submitting `sig` to the service at `base` until `stop` (at least three
/// each, every one accepted); each returns how many it filed.
fn submitting_clients(
    count: usize,
    base: &str,
    sig: &[u8],
    stop: &std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Vec<std::thread::JoinHandle<usize>> {
    (0..count)
        .map(|c| {
            let (base, sig, stop) = (base.to_owned(), sig.to_vec(), stop.clone());
            std::thread::spawn(move || {
                let http = client();
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) || n < 3 {
                    let r = http
                        .post(format!("{base}/v1/submissions"))
                        .query(&[("case", "01-05"), ("sender_ref", &format!("c{c}-{n}"))])
                        .header("Content-Type", "application/pkcs7-mime")
                        .bearer_auth(GATEWAY)
                        .body(sig.clone())
                        .send()
                        .unwrap();
                    assert!(r.status().is_success(), "{}", r.status());
                    n += 1;
                }
                n
            })
        })
        .collect()
}

/// The policy section that lets the service back up under `root`.
fn backup_root(root: &Path) -> String {
    format!("[backup]\nroot = '{}'\n", root.display())
}

/// Posts a backup request for `out`: (the answer's status, the error if refused); started
/// (202), waits for its job to end and answers (202, the job: its state and summary or error).
fn post_backup(base: &str, out: &str) -> (u16, serde_json::Value) {
    let r = client()
        .post(format!("{base}/v1/backup"))
        .bearer_auth(ADMIN)
        .json(&serde_json::json!({ "out": out }))
        .send()
        .unwrap();
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned());
    let body: serde_json::Value = r.json().unwrap();
    if status != 202 {
        return (status, body);
    }
    let poll = body["poll"].as_str().unwrap().to_owned();
    assert_eq!(location.as_deref(), Some(poll.as_str()));
    (status, wait_for_job(base, &poll))
}

/// Polls a backup job at `poll` until it is no longer running (a deadline, not a sleep).
fn wait_for_job(base: &str, poll: &str) -> serde_json::Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let job: serde_json::Value = client()
            .get(format!("{base}{poll}"))
            .bearer_auth(ADMIN)
            .send()
            .unwrap()
            .json()
            .unwrap();
        if job["state"] != "running" {
            return job;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the backup never ended"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// The sentence of a refusal or of a failed job.
fn sentence(answer: &serde_json::Value) -> String {
    answer["error"].as_str().unwrap_or("").to_owned()
}

#[test]
fn backups_over_http_go_only_under_the_configured_root_and_name_no_server_path() {
    // Without a root, none at all.
    let s = start("", Limits::default(), None);
    let (code, answer) = post_backup(&s.base, "/tmp/anywhere");
    let why = sentence(&answer);
    assert_eq!(code, 403, "{why}");
    assert!(why.contains("backup root"), "{why}");
    drop(s);
    let root = tempfile::tempdir().unwrap();
    let s = start(&backup_root(root.path()), Limits::default(), None);
    let outside = tempfile::tempdir().unwrap();
    let abs = outside.path().join("x");
    for bad in [abs.to_str().unwrap(), "../x", "a/../../x", ""] {
        let (code, answer) = post_backup(&s.base, bad);
        assert_eq!(code, 400, "{bad:?}: {answer}");
    }
    assert!(!abs.exists(), "wrote outside the root");
    // A directory holding something else is refused and left as it was.
    let mine = root.path().join("mine");
    std::fs::create_dir_all(mine.join(".tmp-precious")).unwrap();
    let (code, job) = post_backup(&s.base, "mine");
    let why = sentence(&job);
    assert_eq!(
        (code, &job["state"]),
        (202, &serde_json::json!("failed")),
        "{job}"
    );
    assert!(why.contains("not empty"), "{why}");
    assert!(
        mine.join(".tmp-precious").is_dir(),
        "removed a file it did not make"
    );
    assert!(!mine.join("backup.lock").exists());
    // A failure names no server path or OS error: a generation without its manifest.
    std::fs::create_dir_all(root.path().join("broken/gen-000001")).unwrap();
    let (code, job) = post_backup(&s.base, "broken");
    let why = sentence(&job);
    assert_eq!(
        (code, &job["state"]),
        (202, &serde_json::json!("failed")),
        "{job}"
    );
    assert!(!why.is_empty(), "{job}");
    let root_name = root.path().file_name().unwrap().to_str().unwrap();
    assert!(
        !why.contains(root_name) && !why.contains("MANIFEST"),
        "{why}"
    );
    // And a good one works.
    assert_eq!(post_backup(&s.base, "good/tamga").1["state"], "done");
    check::verify(&root.path().join("good/tamga"), None).unwrap();
}

#[test]
fn one_backup_over_http_at_a_time_and_its_job_tells_how_it_ended() {
    let root = tempfile::tempdir().unwrap();
    // 1 MB/s: two megabytes of document keep the first backup running for a while.
    let policy = format!("{}max-rate = 1\n", backup_root(root.path()));
    let s = start(&policy, Limits::default(), None);
    file_big(&s.state.ingest, s.dir.path(), "01-05", 7, 2_000_000);
    let started = client()
        .post(format!("{}/v1/backup", s.base))
        .bearer_auth(ADMIN)
        .json(&serde_json::json!({ "out": "tamga" }))
        .send()
        .unwrap();
    assert_eq!(started.status(), 202);
    let poll = started.json::<serde_json::Value>().unwrap()["poll"]
        .as_str()
        .unwrap()
        .to_owned();
    let (code, busy) = post_backup(&s.base, "other");
    assert_eq!(code, 409, "{busy}");
    assert!(sentence(&busy).contains(&poll), "{busy}");
    let unknown = client()
        .get(format!("{}/v1/backup/jobs/99", s.base))
        .bearer_auth(ADMIN)
        .send()
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let forbidden = client()
        .get(format!("{}{poll}", s.base))
        .bearer_auth(GATEWAY)
        .send()
        .unwrap();
    assert_eq!(forbidden.status(), 403);
    let job = wait_for_job(&s.base, &poll);
    assert_eq!(job["state"], "done", "{job}");
    assert_eq!(job["summary"]["generation"], 1, "{job}");
    // Once it has ended, the next one may start: incremental, after the first.
    let (code, next) = post_backup(&s.base, "tamga");
    assert_eq!(
        (code, &next["summary"]["previous"]),
        (202, &serde_json::json!(1))
    );
}
