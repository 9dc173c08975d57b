//! RFC 3161 time-stamps inside CMS (id-aa-signatureTimeStampToken), end to end with the
//! OpenSSL command line: `openssl cms -sign` signs, `openssl ts -reply` is the TSA stamping
//! the signature value, the token goes in as an unsigned attribute, and `openssl ca -gencrl`
//! writes a CRL whose entries carry the revocation dates and reasons each case needs.
//!
//! Every case validates two days from now, when the one-day signer certificates have expired:
//! only a valid token from a trusted TSA lets such a signature stand. The PKI is
//! `common::tsa`.

mod common;
use common::der;
use common::pki::now;
use common::tsa::*;
use tamga::verify::{Report, RevocationPolicy, Status};

fn codes(r: &Report) -> Vec<&'static str> {
    r.codes().iter().map(|c| c.code()).collect()
}

fn warnings(r: &Report) -> Vec<&'static str> {
    r.warnings.iter().map(|w| w.code).collect()
}

#[test]
fn a_signer_certificate_that_expired_after_the_time_stamp_is_accepted() {
    let pki = Pki::new();
    let v = pki.verifier();
    let before = now();
    let report = v.verify(&stamped(&pki, EXPIRES, Some("tsa")), None, pki.later());
    assert_eq!(report.status, Status::Accepted, "{report:?}");
    let ts = report.signers[0]
        .timestamp
        .as_ref()
        .expect("the token counted");
    assert_eq!(ts.tsa, "CN=tamga tsa");
    assert_eq!(ts.policy, "1.2.398.3.3.4.1");
    assert_eq!(ts.serial, "02");
    // Its CRL's silence two days on says less than it would before the expiry.
    assert_eq!(warnings(&report), ["revocation-unchecked"]);
    assert!(report.warnings[0].detail.contains("RFC 5280 §3.3"));
    let time = common::at(&ts.time);
    assert!(time >= before - 1 && time <= now(), "{}", ts.time);
    // Without the token the same signature is judged two days from now: expired.
    let report = v.verify(&stamped(&pki, EXPIRES, None), None, pki.later());
    assert_eq!(codes(&report), ["certificate-expired"]);
    assert!(report.signers[0].timestamp.is_none());
}

#[test]
fn revoked_for_key_compromise_before_the_time_stamp_is_rejected() {
    let pki = Pki::new();
    let report = pki
        .verifier()
        .verify(&stamped(&pki, COMPROMISED, Some("tsa")), None, pki.later());
    assert_eq!(codes(&report), ["certificate-revoked"], "{report:?}");
}

#[test]
fn revoked_after_the_time_stamp_counts_only_for_a_compromise() {
    let pki = Pki::new();
    let v = pki.verifier();
    // Superseded half an hour after the token: the signature stands.
    let report = v.verify(&stamped(&pki, SUPERSEDED, Some("tsa")), None, pki.later());
    assert_eq!(report.status, Status::Accepted, "{report:?}");
    // Without the token, nothing proves it was made before the revocation.
    let report = v.verify(&stamped(&pki, SUPERSEDED, None), None, pki.later());
    assert!(
        codes(&report).contains(&"certificate-revoked"),
        "{report:?}"
    );
    // keyCompromise half an hour after the token: the key may have been out before that.
    let report = v.verify(
        &stamped(&pki, COMPROMISED_LATER, Some("tsa")),
        None,
        pki.later(),
    );
    assert_eq!(codes(&report), ["certificate-revoked"], "{report:?}");
}

#[test]
fn a_tampered_token_or_one_for_other_data_is_timestamp_invalid() {
    let pki = Pki::new();
    let v = pki.verifier();
    let cms = pki.sign(EXPIRES.name);
    let token = pki.token("tsa", &signature_value(&cms));
    // The policy OID's last arc, inside the signed TSTInfo: 1.2.398.3.3.4.1 -> .2.
    let policy = [0x06, 0x07, 0x2A, 0x83, 0x0E, 0x03, 0x03, 0x04, 0x01];
    let mut changed = token.clone();
    let at = changed
        .windows(policy.len())
        .position(|w| w == policy)
        .unwrap();
    changed[at + policy.len() - 1] = 0x02;
    let report = v.verify(&with_tokens(&cms, &[changed]), None, pki.later());
    assert_eq!(report.status, Status::Rejected);
    assert!(codes(&report).contains(&"timestamp-invalid"), "{report:?}");
    assert!(report.signers[0].timestamp.is_none());
    // A token over something else than this signature value.
    let other = pki.token("tsa", b"another signature value");
    let report = v.verify(&with_tokens(&cms, &[other]), None, pki.soon());
    assert_eq!(codes(&report), ["timestamp-invalid"], "{report:?}");
    // A valid token beside a changed one does not cover for it.
    let mut garbled = token.clone();
    let last = garbled.len() - 3;
    garbled[last] ^= 1; // inside the TSA's signature value
    let report = v.verify(&with_tokens(&cms, &[token, garbled]), None, pki.soon());
    assert_eq!(codes(&report), ["timestamp-invalid"], "{report:?}");
}

#[test]
fn a_token_from_a_revoked_tsa_is_timestamp_invalid() {
    let pki = Pki::new();
    let report = pki.verifier().verify(
        &stamped(&pki, EXPIRES, Some(REVOKED_TSA.name)),
        None,
        pki.soon(),
    );
    assert_eq!(codes(&report), ["timestamp-invalid"], "{report:?}");
    assert!(
        report.reasons[0].detail.contains("certificate-revoked"),
        "{report:?}"
    );
}

#[test]
fn an_untrusted_tsa_is_ignored_with_a_warning_and_the_signer_judged_now() {
    let pki = Pki::new();
    let v = pki.verifier();
    let report = v.verify(
        &stamped(&pki, EXPIRES, Some("rogue-tsa")),
        None,
        pki.later(),
    );
    assert_eq!(codes(&report), ["certificate-expired"], "{report:?}");
    assert_eq!(warnings(&report), ["timestamp-untrusted"]);
    assert!(report.signers[0].timestamp.is_none());
    // Beside a trusted TSA's token, the trusted one counts and the other is still named.
    let cms = pki.sign(EXPIRES.name);
    let value = signature_value(&cms);
    let tokens = [pki.token("rogue-tsa", &value), pki.token("tsa", &value)];
    let report = v.verify(&with_tokens(&cms, &tokens), None, pki.later());
    assert_eq!(report.status, Status::Accepted, "{report:?}");
    assert!(warnings(&report).contains(&"timestamp-untrusted"));
    assert_eq!(
        report.signers[0].timestamp.as_ref().map(|t| t.tsa.as_str()),
        Some("CN=tamga tsa")
    );
}

#[test]
fn tamga_verify_shows_the_time_stamp_and_exits_0() {
    let pki = Pki::new();
    std::fs::write(pki.file("stamped.der"), stamped(&pki, EXPIRES, Some("tsa"))).unwrap();
    let later = tamga::verify::fmt_time(pki.later());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tamga"))
        .arg("verify")
        .arg(pki.file("stamped.der"))
        .arg("--trust")
        .arg(pki.file("trust"))
        .args(["--at", &later, "--revocation", "require", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "accepted");
    let ts = &v["signers"][0]["timestamp"];
    assert_eq!(ts["tsa"], "CN=tamga tsa");
    assert_eq!(ts["policy"], "1.2.398.3.3.4.1");
    assert_eq!(ts["serial"], "02");
    assert!(
        ts["time"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{ts}"
    );
    // The same signature without its token: rejected, exit code 1.
    std::fs::write(pki.file("bare.der"), pki.sign(EXPIRES.name)).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tamga"))
        .arg("verify")
        .arg(pki.file("bare.der"))
        .arg("--trust")
        .arg(pki.file("trust"))
        .args(["--at", &later, "--revocation", "require", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["reasons"][0]["code"], "certificate-expired");
    assert!(v["signers"][0].get("timestamp").is_none());
}

#[test]
fn tokens_are_bounded_and_a_token_s_own_tokens_are_not_followed() {
    let pki = Pki::new();
    let v = pki.verifier();
    let cms = pki.sign(EXPIRES.name);
    let token = pki.token("tsa", &signature_value(&cms));
    // Five tokens on one signer: more than a signer has any use for, each a CMS to verify.
    let report = v.verify(
        &with_tokens(&cms, &vec![token.clone(); 5]),
        None,
        pki.soon(),
    );
    assert_eq!(codes(&report), ["malformed"], "{report:?}");
    let report = v.verify(
        &with_tokens(&cms, &vec![token.clone(); 4]),
        None,
        pki.later(),
    );
    assert_eq!(report.status, Status::Accepted, "{report:?}");
    // Across signers too: five signers with four tokens each are refused, four are read.
    let four = der::parse(&with_tokens(&cms, &vec![token.clone(); 4]));
    let signers = |n: usize| {
        let mut ci = four.clone();
        let si = der::signer_info(&mut ci, 0).clone();
        let sd = ci.child(1).child(0);
        let infos = sd.children().last_mut().unwrap().children();
        infos.extend(std::iter::repeat_n(si, n - 1));
        der::encode(&ci)
    };
    let report = v.verify(&signers(5), None, pki.later());
    assert_eq!(codes(&report), ["malformed"], "{report:?}");
    let report = v.verify(&signers(4), None, pki.later());
    assert_eq!(report.status, Status::Accepted, "{report:?}");
    // The token's own SignerInfo carrying a token (unsigned, so its signature still holds):
    // not followed, the outer token still counts.
    let nested = with_tokens(&token, std::slice::from_ref(&token));
    let report = v.verify(&with_tokens(&cms, &[nested]), None, pki.later());
    assert_eq!(report.status, Status::Accepted, "{report:?}");
}

#[test]
fn a_tsa_whose_revocation_is_unknown_makes_the_answer_try_later_not_a_rejection() {
    let pki = Pki::new();
    let sig = stamped(&pki, EXPIRES, Some("lonely-tsa"));
    // Under `require`: nothing final (the signer's expiry is what the token would cure), so
    // the service answers "try later"; no timestamp is shown, none counted.
    let report = pki.verifier().verify(&sig, None, pki.later());
    assert_eq!(codes(&report), ["revocation-unavailable"], "{report:?}");
    assert!(report.indeterminate());
    assert!(
        report.reasons[0]
            .detail
            .contains("time-stamp token 0's authority")
    );
    assert!(report.signers[0].timestamp.is_none());
    // A final fault stays final: revoked for keyCompromise before the token.
    let report = pki.verifier().verify(
        &stamped(&pki, COMPROMISED, Some("lonely-tsa")),
        None,
        pki.later(),
    );
    assert!(!report.indeterminate(), "{report:?}");
    assert!(codes(&report).contains(&"certificate-revoked"));
    // Under `prefer`: the token counts, with the TSA's warning.
    let report = pki
        .verifier_with(RevocationPolicy::Prefer)
        .verify(&sig, None, pki.later());
    assert_eq!(report.status, Status::Accepted, "{report:?}");
    assert!(report.signers[0].timestamp.is_some());
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.code == "revocation-unchecked" && w.detail.contains("time-stamp token 0")),
        "{report:?}"
    );
}

#[test]
fn the_time_stamp_authority_s_anchor_is_kept_so_the_verdict_rechecks_offline() {
    // Issue 14 item 5: a document that stands only by its token is re-checked at its time of
    // receipt, when its signer had expired: the TSA's anchor must be in its evidence.
    let pki = Pki::new();
    let tmp = tempfile::tempdir().unwrap();
    let paths = tamga::setup::Paths {
        data: tmp.path().join("data"),
        policy: std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("archive-policy.toml"),
        trust: vec![pki.file("trust")],
        installed_keys: tmp.path().join("no-installed-keys"),
        store: None,
        database: None,
    };
    let ing = tamga::setup::open(&paths, tamga::verify::Policy::default()).unwrap();
    // Stamped by the TSA of the second CA (the signer's CA is the first).
    let sig = stamped(&pki, EXPIRES, Some("lonely-tsa"));
    let out = ing
        .submit(&tamga::ingest::Submission {
            case: "01-05",
            signature: &sig,
            content: None,
            sender_ref: None,
            received_at: pki.later(),
            submitter: None,
        })
        .unwrap();
    assert_eq!(out.status, Status::Accepted, "{:?}", out.reasons);
    let Some(tamga::archive::log::Event::Accepted { evidence, .. }) =
        ing.archive.entry(0).unwrap().map(|e| e.event)
    else {
        panic!("entry 0 is no accepted document")
    };
    let pem = std::fs::read(pki.file("trust/tsaca.pem")).unwrap();
    let tsa_ca = {
        use sha2::Digest;
        let der = tamga::trustdir::pem_or_der(&pem, "CERTIFICATE").unwrap();
        tamga::verify::certificate::hex(&sha2::Sha256::digest(&der[0]))
    };
    assert!(evidence.iter().any(|f| f.sha256 == tsa_ca), "{evidence:?}");
    let export = tmp.path().join("export");
    tamga::archive::export::write(&ing.archive, &export).unwrap();
    let report = tamga::archive::export::verify(&export).unwrap();
    assert_eq!(report.rechecked, 1);
}
