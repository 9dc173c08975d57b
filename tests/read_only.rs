//! Auditing a read-only copy: `audit verify --full` and `export` write nothing under the data
//! directory, and pass on a read-only mount of it, for both stores.

mod common;
use common::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Every file under `dir` with its bytes (lock files aside: their content never changes).
fn tree(dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            tree(&p, out);
        } else {
            out.insert(p.clone(), std::fs::read(&p).unwrap());
        }
    }
}

fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    tree(dir, &mut out);
    out
}

fn filed(data: &Path, store: &str) {
    let ing = ingest_on(data, store);
    for (i, f) in ["rsa-attached.der", "p256.der", "ed25519.der"]
        .iter()
        .enumerate()
    {
        let sig = std::fs::read(fixtures().join("sig").join(f)).unwrap();
        ing.submit(&tamga::ingest::Submission {
            case: "01-05",
            signature: &sig,
            content: None,
            sender_ref: Some(&i.to_string()),
            received_at: AT,
            submitter: None,
        })
        .unwrap();
    }
}

fn said(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn auditing_writes_nothing_and_passes_on_a_read_only_mount_in_sled() {
    audit_read_only("sled");
}

#[test]
fn auditing_writes_nothing_and_passes_on_a_read_only_mount_in_the_journal() {
    audit_read_only("journal");
}

fn audit_read_only(store: &str) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    filed(&data, store);
    if store == "sled" {
        // A temporary a killed write left behind: the audit names it, and removes nothing.
        let leftover = data.join("archive/chunks/ab");
        std::fs::create_dir_all(&leftover).unwrap();
        std::fs::write(leftover.join(format!("{}.1.tmp", "ab".repeat(32))), b"half").unwrap();
    }
    let before = snapshot(&data);
    let audit = tamga_cmd(&data)
        .args(["audit", "verify", "--full"])
        .output()
        .unwrap();
    assert_eq!(audit.status.code(), Some(0), "{}", said(&audit));
    if store == "sled" {
        assert!(said(&audit).contains("stray"), "{}", said(&audit));
    }
    // An auditor's proof from a read-only open: what the medium holds is all there is, and
    // its latest checkpoint is the one proved against.
    let proof = tamga_cmd(&data)
        .args(["audit", "proof", "inclusion", "--index", "0"])
        .output()
        .unwrap();
    assert_eq!(proof.status.code(), Some(0), "{}", said(&proof));
    let json: serde_json::Value = serde_json::from_slice(&proof.stdout).unwrap();
    assert!(json["size"].as_u64().is_some_and(|n| n >= 1), "{json}");
    let out = dir.path().join("export");
    let export = tamga_cmd(&data)
        .arg("export")
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(export.status.code(), Some(0), "{}", said(&export));
    assert!(
        snapshot(&data) == before,
        "auditing or exporting changed the data directory"
    );

    // The same data directory behind a read-only bind mount (in a user and mount namespace of
    // its own, so no privilege is needed where user namespaces are allowed).
    let mnt = dir.path().join("ro");
    std::fs::create_dir(&mnt).unwrap();
    let script = r#"mount --bind "$1" "$2" && mount -o remount,ro,bind "$2" || exit 97
        touch "$2/probe" 2>/dev/null && exit 98
        shift 2; exec "$@""#;
    let o = std::process::Command::new("unshare")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["-rm", "sh", "-c", script, "sh"])
        .arg(&data)
        .arg(&mnt)
        .arg(env!("CARGO_BIN_EXE_tamga"))
        .arg("--data")
        .arg(&mnt)
        .arg("--trust")
        .arg(fixtures().join("trust"))
        .arg("--keys")
        .arg(mnt.join("no-installed-keys"))
        .args(["audit", "verify", "--full"])
        .output()
        .unwrap();
    match o.status.code() {
        Some(97) => eprintln!(
            "no read-only mount can be made here; only the writes-nothing check ran: {}",
            said(&o)
        ),
        code => assert_eq!(code, Some(0), "on a read-only mount: {}", said(&o)),
    }
}
