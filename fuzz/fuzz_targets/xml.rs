//! Parse + verify arbitrary bytes as signed XML: bounded parsing, canonicalization of every
//! reference and SignedInfo, signature checks, all under the fixture trust store. Seed with
//! the files of tests/xml/ and tests/corpus/nca-kz-test/xml/ (`cp tests/xml/*.xml
//! tests/corpus/nca-kz-test/xml/*.xml fuzz/corpus/xml/`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use tamga::verify::{Policy, TrustStore, Verifier};

fn verifier() -> &'static Verifier {
    static V: OnceLock<Verifier> = OnceLock::new();
    V.get_or_init(|| {
        let root = include_bytes!("../../tests/fixtures/trust/root.pem");
        let ders = tamga::trustdir::pem_or_der(root, "CERTIFICATE").unwrap_or_default();
        let no_crls: &[&[u8]] = &[];
        let trust = TrustStore::from_der(&ders, no_crls).unwrap_or_default();
        Verifier::new(trust, Policy::default())
    })
}

fuzz_target!(|data: &[u8]| {
    let _ = verifier().verify_xml(data, 1_780_272_000);
});
