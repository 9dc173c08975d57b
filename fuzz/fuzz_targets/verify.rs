//! Parse + verify arbitrary bytes against the fixture trust store. The first byte chooses
//! whether the rest is split into a signature and detached content, so both paths are reached.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use tamga::verify::{Policy, TrustStore, Verifier};

fn verifier() -> &'static Verifier {
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

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let at = 1_780_272_000;
    if mode & 1 == 1 && rest.len() > 2 {
        let cut = usize::from(mode) % rest.len();
        let (sig, content) = rest.split_at(cut);
        let _ = verifier().verify(sig, Some(content), at);
    } else {
        let _ = verifier().verify(rest, None, at);
    }
});
