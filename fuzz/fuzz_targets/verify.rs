//! Parse + verify arbitrary bytes. The first byte chooses the trust store (bit 1: the NIST
//! PKITS anchor with revocation required, so that seeds from the PKITS messages reach name
//! constraints, policies, distribution points and delta CRLs; otherwise the fixture store) and
//! whether the rest is split into a signature and detached content (bit 0), so both paths are
//! reached. Seed the PKITS half with `python3 fuzz/seed_pkits.py`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use tamga::verify::certificate::Certificate;
use tamga::verify::{Policy, RevocationPolicy, TrustStore, Verifier};

fn fixtures() -> &'static Verifier {
    static V: OnceLock<Verifier> = OnceLock::new();
    V.get_or_init(|| {
        let root = include_bytes!("../../tests/fixtures/trust/root.pem");
        let ders = tamga::trustdir::pem_or_der(root, "CERTIFICATE").unwrap_or_default();
        let crls: [&[u8]; 2] = [
            include_bytes!("../../tests/fixtures/trust/root.crl"),
            include_bytes!("../../tests/fixtures/trust/int.crl"),
        ];
        let trust = TrustStore::from_der(&ders, &crls).unwrap_or_default();
        Verifier::new(trust, Policy::default())
    })
}

fn pkits() -> &'static Verifier {
    static V: OnceLock<Verifier> = OnceLock::new();
    V.get_or_init(|| {
        let anchor = include_bytes!("../../tests/pkits/TrustAnchorRootCertificate.crt");
        let anchors = Certificate::from_der(anchor).into_iter().collect();
        let policy = Policy {
            revocation: RevocationPolicy::Require,
            ..Policy::default()
        };
        Verifier::new(TrustStore::new(anchors, Vec::new()), policy)
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let (verifier, at) = if mode & 2 == 2 {
        (pkits(), 1_704_067_200)
    } else {
        (fixtures(), 1_780_272_000)
    };
    if mode & 1 == 1 && rest.len() > 2 {
        let cut = usize::from(mode) % rest.len();
        let (sig, content) = rest.split_at(cut);
        let _ = verifier.verify(sig, Some(content), at);
    } else {
        let _ = verifier.verify(rest, None, at);
    }
});
