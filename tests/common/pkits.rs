//! NIST PKITS: the S/MIME messages of the suite, read into (content, CMS), and verifiers set up
//! as the suite expects (its one trust anchor; CRLs carried in each message, optionally all of
//! them in the trust store too).

use std::path::{Path, PathBuf};
use tamga::verify::certificate::Certificate;
use tamga::verify::{Policy, Report, RevocationPolicy, TrustStore, Verifier};

/// The validation time: 2024-01-01T00:00:00Z, inside every PKITS certificate meant to be valid
/// (2010-01-01 to 2030-12-31).
pub const AT: i64 = 1_704_067_200;

/// The PKITS directory in the repository.
pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pkits")
}

/// One test's signed message: the signed MIME entity and the CMS signature over it.
pub struct Message {
    /// The first MIME part, as signed: headers, blank line, body, CRLF line endings.
    pub content: Vec<u8>,
    /// The `application/pkcs7-signature` part, decoded.
    pub cms: Vec<u8>,
}

/// Reads `Signed<name>.eml`.
pub fn message(name: &str) -> Message {
    let path = dir().join("smime").join(format!("Signed{name}.eml"));
    let raw = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let text = String::from_utf8(raw).expect("PKITS messages are ASCII");
    let text = text.replace("\r\n", "\n");
    let boundary = text
        .split("boundary=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("multipart/signed with a boundary");
    let delimiter = format!("\n--{boundary}");
    let mut parts = text.split(delimiter.as_str()).skip(1);
    let first = parts.next().expect("a signed part");
    let second = parts.next().expect("a signature part");
    // The part starts after the delimiter line's own line break and ends before the line break
    // that precedes the next delimiter (RFC 2046 §5.1.1): that line break is not content.
    let content = first.strip_prefix('\n').unwrap_or(first);
    let content = content.replace('\n', "\r\n");
    let body = second
        .split_once("\n\n")
        .map(|(_, b)| b)
        .expect("signature part body");
    let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    use base64::Engine;
    let cms = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("base64 signature");
    Message {
        content: content.into_bytes(),
        cms,
    }
}

/// The names of all tests (`Signed<name>.eml`), sorted.
pub fn names() -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir().join("smime"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter_map(|f| {
            f.strip_prefix("Signed")
                .and_then(|f| f.strip_suffix(".eml"))
                .map(str::to_owned)
        })
        .collect();
    out.sort();
    out
}

/// The suite's trust store: its anchor, and (with `all_crls`) every CRL of the suite, loaded as
/// `serve` loads a trust directory (files it cannot use are skipped and listed).
pub fn trust(all_crls: bool) -> TrustStore {
    let anchor = dir().join("TrustAnchorRootCertificate.crt");
    if !all_crls {
        let anchor = Certificate::from_der(&std::fs::read(anchor).unwrap());
        return TrustStore::new(vec![anchor.expect("the PKITS anchor parses")], Vec::new());
    }
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(&anchor, tmp.path().join("anchor.crt")).unwrap();
    for e in std::fs::read_dir(dir().join("crls")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), tmp.path().join(e.file_name())).unwrap();
    }
    // A file in the directory that is no CRL at all: skipped, the rest used.
    std::fs::write(tmp.path().join("NotACRL.crl"), b"not a CRL").unwrap();
    tamga::trustdir::load(&[tmp.path().to_path_buf()]).expect("a trust directory loads")
}

/// The PKITS default settings, with revocation required: initial policy set {anyPolicy}, no
/// explicit policy required, mapping and anyPolicy not inhibited.
pub fn default_policy() -> Policy {
    Policy {
        revocation: RevocationPolicy::Require,
        ..Policy::default()
    }
}

/// A verifier over the suite's trust store under `policy`.
pub fn verifier(policy: Policy, all_crls: bool) -> Verifier {
    Verifier::new(trust(all_crls), policy)
}

/// Runs test `name` through `verifier` at [`AT`].
pub fn run(verifier: &Verifier, name: &str) -> Report {
    let m = message(name);
    verifier.verify(&m.cms, Some(&m.content), AT)
}

/// What a report says, as the tables write it: `[]` when accepted, else its reason codes,
/// sorted and without repeats.
pub fn codes(report: &Report) -> Vec<String> {
    if report.status == tamga::verify::Status::Accepted {
        return Vec::new();
    }
    let mut c: Vec<String> = report.reasons.iter().map(|r| r.code.to_string()).collect();
    c.sort();
    c.dedup();
    c
}

/// Whether `got` (from [`codes`]) meets `expected`: accepted when `expected` is empty, else
/// rejected with every code among `expected` (several are listed where PKITS allows either).
pub fn agrees(got: &[String], expected: &[&str]) -> bool {
    if expected.is_empty() {
        return got.is_empty();
    }
    !got.is_empty() && got.iter().all(|g| expected.contains(&g.as_str()))
}
