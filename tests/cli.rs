//! `tamga verify` as a user runs it: exit codes, one-sentence errors, the JSON shape.

mod common;
use common::*;
use std::process::{Command, Output};

fn tamga(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tamga"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .unwrap()
}

const TRUST: &str = "tests/fixtures/trust";
const AT_TEXT: &str = "2026-06-01T00:00:00Z";

#[test]
fn accepted_is_exit_0_with_the_documented_json() {
    let out = tamga(&[
        "verify",
        "tests/fixtures/sig/rsa-detached.der",
        "--content",
        "tests/fixtures/sig/doc.txt",
        "--trust",
        TRUST,
        "--at",
        AT_TEXT,
        "--json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "accepted");
    assert_eq!(v["reasons"], serde_json::json!([]));
    let s = &v["signers"][0];
    for key in [
        "status",
        "algorithm",
        "digest",
        "subject",
        "issuer",
        "serial",
        "certificate_sha256",
        "signing_time",
        "iin",
        "bin",
        "reasons",
    ] {
        assert!(s.get(key).is_some(), "signer lacks {key}");
    }
    assert_eq!(s["iin"], "123456789011");
    assert!(v["warnings"].is_array());
}

#[test]
fn rejected_is_exit_1_with_reasons_in_four_languages() {
    let out = tamga(&[
        "verify",
        "tests/fixtures/sig/expired.der",
        "--trust",
        TRUST,
        "--at",
        AT_TEXT,
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "rejected");
    let r = &v["reasons"][0];
    assert_eq!(r["code"], "certificate-expired");
    assert_eq!(r["signer"], 0);
    for lang in ["kk", "ky", "ru", "en"] {
        assert!(
            r["message"][lang].as_str().is_some_and(|s| !s.is_empty()),
            "no {lang} text"
        );
    }
}

#[test]
fn human_summary_names_the_reason() {
    let out = tamga(&[
        "verify",
        "tests/fixtures/sig/revoked.der",
        "--trust",
        TRUST,
        "--at",
        AT_TEXT,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("rejected\n"), "{text}");
    assert!(text.contains("certificate-revoked"), "{text}");
}

#[test]
fn could_not_run_is_exit_2_with_one_sentence() {
    for args in [
        vec!["verify", "no/such/file.p7s", "--trust", TRUST],
        vec![
            "verify",
            "tests/fixtures/sig/p256.der",
            "--trust",
            TRUST,
            "--at",
            "yesterday",
        ],
        vec![
            "verify",
            "tests/fixtures/sig/p256.der",
            "--trust",
            "no/such/dir",
        ],
        vec!["verify"],
    ] {
        let out = tamga(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(!err.trim().is_empty(), "{args:?}: silent");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn default_trust_store_verifies_the_demo_document() {
    let out = tamga(&["verify", "certs/demo/hello.p7s", "--at", AT_TEXT]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn reasons_command_lists_the_closed_list() {
    let out = tamga(&["reasons"]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), tamga::Reason::ALL.len());
    let _ = fixtures();
}

#[test]
fn a_data_directory_keeps_the_store_it_was_created_with_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let import = tamga_cmd(&data)
        .args([
            "--store", "journal", "import", "--case", "01-05", "--at", AT_TEXT,
        ])
        .arg(fixtures().join("sig/rsa-attached.der"))
        .output()
        .unwrap();
    assert!(
        import.status.success(),
        "{}",
        String::from_utf8_lossy(&import.stderr)
    );
    // Without --store the directory's own store is found…
    assert_full_audit_passes(tamga_cmd(&data), 0);
    let got = tamga_cmd(&data).args(["get", "01-05/1"]).output().unwrap();
    assert_eq!(
        got.stdout,
        std::fs::read(fixtures().join("sig/rsa-attached.der")).unwrap()
    );
    // …and asking for the other one is refused with a sentence, creating nothing.
    let other = tamga_cmd(&data)
        .args(["--store", "sled", "audit", "verify"])
        .output()
        .unwrap();
    assert_ne!(other.status.code(), Some(0));
    let err = String::from_utf8_lossy(&other.stderr);
    assert!(
        err.contains("holds a journal archive, not a sled one"),
        "{err}"
    );
    assert!(!data.join("archive").exists());
    let bogus = tamga_cmd(&data)
        .args(["--store", "lmdb", "audit", "verify"])
        .output()
        .unwrap();
    assert_eq!(bogus.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bogus.stderr).contains("sled, journal or postgres"));
    // Two stores in one directory: neither is guessed at.
    std::fs::create_dir(data.join("archive")).unwrap();
    let both = tamga_cmd(&data).args(["audit", "verify"]).output().unwrap();
    assert_ne!(both.status.code(), Some(0));
    let err = String::from_utf8_lossy(&both.stderr);
    assert!(
        err.contains("holds archives of more than one store"),
        "{err}"
    );
}

/// The certificate-policy flags reach the verifier: the fixture PKI asserts no policy, so
/// accepting only a named one, or requiring one, rejects it; a bad OID is a usage error.
#[test]
fn certificate_policy_flags() {
    let base = [
        "verify",
        "tests/fixtures/sig/rsa-detached.der",
        "--content",
        "tests/fixtures/sig/doc.txt",
        "--trust",
        TRUST,
        "--at",
        AT_TEXT,
        "--json",
    ];
    let out = tamga(&base);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["signers"][0]["policies"], serde_json::json!([]));
    for extra in [
        &["--certificate-policy", "1.2.398.3.3.2.1"][..],
        &["--require-explicit-policy"][..],
    ] {
        let out = tamga(&[&base[..], extra].concat());
        assert_eq!(out.status.code(), Some(1), "{extra:?}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["reasons"][0]["code"], "certificate-policy", "{extra:?}");
    }
    let out = tamga(&[&base[..], &["--certificate-policy", "kz.signing"]].concat());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an object identifier"));
}

/// Issue #15 item 5: a new data directory gets the journal; one that holds sled stays sled
/// when no `--store` is named (the default changed, existing archives did not).
#[test]
fn a_fresh_directory_gets_the_journal_and_an_old_sled_one_stays_sled() {
    let dir = tempfile::tempdir().unwrap();
    let import = |data: &std::path::Path, store: &[&str]| {
        let out = tamga_cmd(data)
            .args(store)
            .args(["import", "--case", "01-05", "--at", AT_TEXT])
            .arg(fixtures().join("sig/rsa-attached.der"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let fresh = dir.path().join("fresh");
    import(&fresh, &[]);
    assert!(fresh.join("journal").is_dir());
    assert!(!fresh.join("archive").exists());

    let old = dir.path().join("old");
    import(&old, &["--store", "sled"]);
    // Reopened with no --store, as an upgraded service starts: still sled, nothing else made.
    import(&old, &[]);
    assert!(old.join("archive").is_dir());
    assert!(!old.join("journal").exists());
    assert_full_audit_passes(tamga_cmd(&old), 0);
    let got = tamga_cmd(&old).args(["get", "01-05/1"]).output().unwrap();
    assert!(
        got.status.success(),
        "{}",
        String::from_utf8_lossy(&got.stderr)
    );
}
