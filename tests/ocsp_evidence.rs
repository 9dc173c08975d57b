//! OCSP in the pure verifier: responses handed in beside the signature, or carried inside it
//! (RFC 5652 `other` RevocationInfoChoice, id-ri-ocsp-response), decide a certificate's
//! status when they verify and are current — good without any CRL, revoked (certificateHold
//! included) as a final verdict — and are not used otherwise, leaving the status unknown
//! (under `require`, "try later"), with the certificate named for a fetcher to ask about.

mod common;
use common::der::{self, Node};
use common::ocsp::OcspPki;
use common::pki::now;
use std::sync::Arc;
use tamga::reasons::Reason;
use tamga::verify::ocsp::{Response, Window};
use tamga::verify::{Evidence, Policy, Report, RevocationPolicy, Status, Verifier};

fn verifier(pki: &OcspPki) -> Verifier {
    let trust = tamga::trustdir::load(&[pki.trust()]).unwrap();
    Verifier::new(
        trust,
        Policy {
            revocation: RevocationPolicy::Require,
            ..Policy::default()
        },
    )
}

fn verify(pki: &OcspPki, sig: &[u8], responses: &[Vec<u8>], at: i64) -> Report {
    let ocsp: Vec<Arc<Response>> = responses
        .iter()
        .map(|d| Arc::new(Response::from_der(d).unwrap()))
        .collect();
    let evidence = Evidence {
        ocsp: &ocsp,
        ocsp_window: Window::default(),
    };
    verifier(pki).verify_with(sig, None, at, evidence)
}

#[test]
fn without_revocation_data_the_leaf_is_unresolved_and_named() {
    let pki = OcspPki::new(None);
    let sig = pki.sign("good");
    let r = verify(&pki, &sig, &[], now());
    assert!(r.indeterminate(), "{r:?}");
    let unresolved = r.unresolved();
    assert_eq!(unresolved.len(), 1);
    assert_eq!(unresolved[0].certificate.der, pki.der("good"));
    assert_eq!(unresolved[0].issuer.der, pki.der("ca"));
}

#[test]
fn a_good_answer_decides_without_a_crl() {
    let pki = OcspPki::new(None);
    let sig = pki.sign("good");
    for signer in ["ca", "responder"] {
        let r = verify(&pki, &sig, &[pki.respond("good", signer, 1)], now());
        assert_eq!(r.status, Status::Accepted, "{signer}: {r:?}");
        assert!(r.unresolved().is_empty());
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    }
}

#[test]
fn revoked_and_on_hold_are_final_revocations() {
    let pki = OcspPki::new(None);
    for leaf in ["revoked", "hold"] {
        let sig = pki.sign(leaf);
        let r = verify(&pki, &sig, &[pki.respond(leaf, "responder", 1)], now());
        assert_eq!(r.codes(), vec![Reason::CertificateRevoked], "{leaf}: {r:?}");
        assert!(!r.indeterminate());
    }
}

#[test]
fn answers_that_cannot_be_believed_are_not_used() {
    let pki = OcspPki::new(None);
    let sig = pki.sign("good");
    let cases = [
        // RFC 6960 §2.2: "unknown" is no status.
        (
            "stranger-answer",
            pki.respond("stranger", "responder", 1),
            now(),
        ),
        // Signed by a key the CA never authorised.
        ("wrong key", pki.respond("good", "wrong", 1), now()),
        // Past its nextUpdate at the validation time.
        (
            "stale",
            pki.respond("good", "responder", 1),
            now() + 3 * 86_400,
        ),
        // A delegated responder without id-pkix-ocsp-nocheck, and no CRL to check it by
        // (§4.2.2.2.1).
        (
            "unchecked responder",
            pki.respond("good", "checked", 1),
            now(),
        ),
    ];
    for (what, resp, at) in cases {
        let r = verify(&pki, &sig, &[resp], at);
        assert!(r.indeterminate(), "{what}: {r:?}");
        assert_eq!(r.unresolved().len(), 1, "{what}");
    }
    // The stranger's own answer is "unknown": not good, not revoked.
    let sig = pki.sign("stranger");
    let r = verify(
        &pki,
        &sig,
        &[pki.respond("stranger", "responder", 1)],
        now(),
    );
    assert!(r.indeterminate(), "{r:?}");
    assert!(r.reasons[0].detail.contains("unknown"), "{r:?}");
    // Why the unchecked responder's answer was not used is said.
    let sig = pki.sign("good");
    let r = verify(&pki, &sig, &[pki.respond("good", "checked", 1)], now());
    assert!(
        r.reasons[0]
            .detail
            .contains("responder's certificate has no revocation status"),
        "{r:?}"
    );
}

/// The SignedData with `resp` carried as `other [1] { id-ri-ocsp-response, OCSPResponse }`.
fn carry(sig: &[u8], resp: &[u8]) -> Vec<u8> {
    let mut ci = der::parse(sig);
    let sd = ci.child(1).child(0);
    let other = Node::Cons(
        0xA1,
        vec![
            Node::Prim(0x06, vec![0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x10, 0x02]),
            der::parse(resp),
        ],
    );
    let kids = sd.children();
    let at = kids.len() - 1;
    kids.insert(at, Node::Cons(0xA1, vec![other]));
    der::encode(&ci)
}

#[test]
fn a_response_carried_in_the_cms_is_used() {
    let pki = OcspPki::new(None);
    let good = carry(&pki.sign("good"), &pki.respond("good", "responder", 1));
    let r = verify(&pki, &good, &[], now());
    assert_eq!(r.status, Status::Accepted, "{r:?}");
    let revoked = carry(&pki.sign("revoked"), &pki.respond("revoked", "ca", 1));
    let r = verify(&pki, &revoked, &[], now());
    assert_eq!(r.codes(), vec![Reason::CertificateRevoked], "{r:?}");
    // One for another certificate decides nothing.
    let other = carry(&pki.sign("good"), &pki.respond("revoked", "ca", 1));
    assert!(verify(&pki, &other, &[], now()).indeterminate());
}

#[test]
fn a_responder_without_nocheck_is_believed_only_when_the_crl_clears_it() {
    // §4.2.2.2.1: its own status is checked like a CRL signer's, by the issuer's CRL. The CRL
    // here does not list the leaf, so only a believed OCSP answer can say "revoked".
    let pki = OcspPki::new(None);
    let sig = pki.sign("revoked");
    let resp = pki.respond("revoked", "checked", 1);
    pki.crl(&[]);
    let r = verify(&pki, &sig, std::slice::from_ref(&resp), now());
    assert_eq!(r.codes(), vec![Reason::CertificateRevoked], "{r:?}");
    // The CRL lists the responder: its answer is not believed; the CRL alone decides.
    pki.crl(&["checked"]);
    let r = verify(&pki, &sig, &[resp], now());
    assert_eq!(r.status, Status::Accepted, "{r:?}");
}

#[test]
fn a_good_answer_never_hides_a_crl_that_lists_the_certificate() {
    // A "good" answer obtained before the revocation (stapled by the sender, still inside its
    // window) against a current CRL that lists the certificate: the revocation wins.
    let pki = OcspPki::new(None);
    let sig = pki.sign("good");
    let good = pki.respond("good", "responder", 1);
    pki.crl(&["good"]);
    let r = verify(&pki, &sig, &[good], now());
    assert_eq!(r.codes(), vec![Reason::CertificateRevoked], "{r:?}");
}
