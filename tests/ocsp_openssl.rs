//! OCSP responses made by an independent implementation, `openssl ocsp` acting as responder
//! for a CA made here: good, revoked, unknown, on hold, signed by the CA itself or by a
//! delegated responder, by a responder the CA never authorised, by one without
//! id-kp-OCSPSigning, with and without a nonce. tamga's reading of each must be what the
//! responder meant, and a response it should not believe must not be believed.

mod common;
use common::pki::{now, openssl};
use std::path::{Path, PathBuf};
use tamga::verify::cache::Cache;
use tamga::verify::certificate::Certificate;
use tamga::verify::ocsp::{Expect, OcspError, Response, Signer, Status, Window};

/// A CA (`name`.pem/.key) made in `dir`: self-signed, or issued by `issuer`.
fn cert(dir: &Path, name: &str, issuer: Option<&str>, ext: &str) {
    let key = format!("{name}.key");
    let pem = format!("{name}.pem");
    let subj = format!("/CN=tamga OCSP test {name}");
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &key,
            "-subj",
            &subj,
            "-out",
            &format!("{name}.csr"),
        ],
    );
    let extfile = format!("{name}.ext");
    std::fs::write(dir.join(&extfile), ext).unwrap();
    let mut args = vec![
        "x509",
        "-req",
        "-in",
        &format!("{name}.csr"),
        "-days",
        "30",
        "-sha256",
        "-extfile",
        &extfile,
        "-out",
        &pem,
        "-set_serial",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect::<Vec<String>>();
    args.push(format!(
        "{}",
        0x1000 + name.len() * 7 + name.as_bytes()[0] as usize
    ));
    match issuer {
        Some(i) => args.extend([
            "-CA".into(),
            format!("{i}.pem"),
            "-CAkey".into(),
            format!("{i}.key"),
        ]),
        None => args.extend(["-key".into(), key.clone()]),
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    openssl(dir, &args);
}

const CA_EXT: &str = "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n";
const LEAF_EXT: &str =
    "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,nonRepudiation\n";
const RESPONDER_EXT: &str = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=OCSPSigning\nnoCheck=ignored\n";

fn der_cert(dir: &Path, name: &str) -> Certificate {
    let pem = std::fs::read(dir.join(format!("{name}.pem"))).unwrap();
    let ders = tamga::trustdir::pem_or_der(&pem, "CERTIFICATE").unwrap();
    Certificate::from_der(&ders[0]).unwrap()
}

struct Pki {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

/// The CA, its leaves (good, revoked keyCompromise, on hold, and one the index does not know),
/// a delegated responder, one without OCSPSigning, and a stranger CA with its own responder.
fn pki() -> Pki {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    cert(&dir, "ca", None, CA_EXT);
    for leaf in ["good", "revoked", "hold", "stranger"] {
        cert(&dir, leaf, Some("ca"), LEAF_EXT);
    }
    cert(&dir, "responder", Some("ca"), RESPONDER_EXT);
    cert(&dir, "noeku", Some("ca"), LEAF_EXT);
    cert(&dir, "otherca", None, CA_EXT);
    cert(&dir, "otherresponder", Some("otherca"), RESPONDER_EXT);
    let line = |state: &str, revoked: &str, name: &str| {
        let c = der_cert(&dir, name);
        let serial: String = c.serial.iter().map(|b| format!("{b:02X}")).collect();
        format!(
            "{state}\t301231000000Z\t{revoked}\t{serial}\tunknown\t/CN=tamga OCSP test {name}\n"
        )
    };
    let index = [
        line("V", "", "good"),
        line("R", "240101000000Z,keyCompromise", "revoked"),
        line("R", "240101000000Z,certificateHold", "hold"),
    ]
    .concat();
    std::fs::write(dir.join("index.txt"), index).unwrap();
    Pki { _tmp: tmp, dir }
}

/// `openssl ocsp` answering for `leaf`, signed by `signer` (with `-resp_key_id` when
/// `by_key`), with or without a nonce.
fn respond(pki: &Pki, leaf: &str, signer: &str, by_key: bool, nonce: bool) -> Response {
    let dir = &pki.dir;
    let req = format!("{leaf}-{signer}.req");
    let resp = format!("{leaf}-{signer}-{by_key}-{nonce}.resp");
    // Both CertID hashes: SHA-1 (openssl's default, and most responders') and SHA-256.
    let hash = if by_key { "-sha1" } else { "-sha256" };
    let leaf_pem = format!("{leaf}.pem");
    let mut args = vec!["ocsp", "-issuer", "ca.pem", hash, "-cert", &leaf_pem];
    args.extend(["-reqout", req.as_str()]);
    if !nonce {
        args.push("-no_nonce");
    }
    openssl(dir, &args);
    let rsigner = format!("{signer}.pem");
    let rkey = format!("{signer}.key");
    let mut args = vec![
        "ocsp",
        "-index",
        "index.txt",
        "-CA",
        "ca.pem",
        "-rsigner",
        &rsigner,
        "-rkey",
        &rkey,
        "-reqin",
        &req,
        "-respout",
        &resp,
        "-ndays",
        "1",
    ];
    if by_key {
        args.push("-resp_key_id");
    }
    openssl(dir, &args);
    Response::from_der(&std::fs::read(dir.join(&resp)).unwrap()).unwrap()
}

fn ask(pki: &Pki, resp: &Response, leaf: &str) -> Result<tamga::verify::ocsp::Answer, OcspError> {
    let ca = der_cert(&pki.dir, "ca");
    let serial = der_cert(&pki.dir, leaf).serial;
    resp.answer_for(
        &ca,
        &serial,
        now(),
        Window::default(),
        Expect::default(),
        &Cache::default(),
    )
}

#[test]
fn openssl_responses_read_as_the_responder_meant() {
    let pki = pki();
    let jan_2024 = 1_704_067_200;
    let cases: [(&str, Status); 4] = [
        ("good", Status::Good),
        (
            "revoked",
            Status::Revoked {
                time: jan_2024,
                reason: Some(1),
            },
        ),
        (
            "hold",
            Status::Revoked {
                time: jan_2024,
                reason: Some(6),
            },
        ),
        ("stranger", Status::Unknown),
    ];
    for (leaf, status) in cases {
        for (signer, by_key) in [("ca", false), ("responder", false), ("responder", true)] {
            let resp = respond(&pki, leaf, signer, by_key, true);
            let a = ask(&pki, &resp, leaf).unwrap_or_else(|e| panic!("{leaf} by {signer}: {e}"));
            assert_eq!(a.status, status, "{leaf} by {signer}");
            assert!(a.next_update.is_some());
            match (signer, a.signer) {
                ("ca", Signer::Issuer) => {}
                ("responder", Signer::Delegated { nocheck, .. }) => assert!(nocheck),
                (s, other) => panic!("{leaf} by {s}: signer {other:?}"),
            }
        }
    }
}

#[test]
fn responses_from_responders_the_ca_did_not_authorise_are_not_believed() {
    let pki = pki();
    // Issued by the CA, but not for OCSP signing.
    let resp = respond(&pki, "good", "noeku", false, true);
    assert_eq!(
        ask(&pki, &resp, "good").unwrap_err(),
        OcspError::Unauthorised
    );
    // A responder of another CA, and that CA itself.
    for signer in ["otherresponder", "otherca"] {
        let resp = respond(&pki, "good", signer, false, true);
        assert_eq!(
            ask(&pki, &resp, "good").unwrap_err(),
            OcspError::Unauthorised,
            "{signer}"
        );
    }
}

#[test]
fn a_response_without_the_nonce_is_refused_when_one_is_required() {
    let pki = pki();
    let resp = respond(&pki, "good", "responder", false, false);
    assert!(resp.nonce.is_none());
    let ca = der_cert(&pki.dir, "ca");
    let serial = der_cert(&pki.dir, "good").serial;
    let expect = |required| Expect {
        nonce: Some(b"sent".as_slice()),
        nonce_required: required,
    };
    let c = Cache::default();
    let w = Window::default();
    assert_eq!(
        resp.answer_for(&ca, &serial, now(), w, expect(true), &c)
            .unwrap_err(),
        OcspError::Nonce
    );
    // Responders that ignore nonces are a configuration choice (RFC 8954 allows them).
    assert!(
        resp.answer_for(&ca, &serial, now(), w, expect(false), &c)
            .is_ok()
    );
}

#[test]
fn a_response_for_another_time_is_refused() {
    let pki = pki();
    // Signed by the CA: the delegated responder's certificate is only valid from now.
    let resp = respond(&pki, "good", "ca", false, true);
    let ca = der_cert(&pki.dir, "ca");
    let serial = der_cert(&pki.dir, "good").serial;
    let (c, w) = (Cache::default(), Window::default());
    let e = Expect::default();
    let stale = now() + 2 * 86_400;
    assert_eq!(
        resp.answer_for(&ca, &serial, stale, w, e, &c).unwrap_err(),
        OcspError::Stale
    );
    let early = now() - 86_400;
    assert_eq!(
        resp.answer_for(&ca, &serial, early, w, e, &c).unwrap_err(),
        OcspError::NotYetValid
    );
}
