//! The parsers of revocation and time evidence, which read bytes from the network or from a
//! sender: OCSP responses (RFC 6960), time-stamp TSTInfo (RFC 3161), CRLs and their
//! distribution-point extensions (RFC 5280 §4.2.1.13, §5.2.5), and the HTTP/1.1 answers the
//! fetcher reads CRLs and OCSP responses from. The first byte picks the parser; the rest is
//! its input. Each must refuse or accept within its bounds, never panic, and an OCSP response
//! that parses must be looked up without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tamga::verify::ocsp::Response;
use tamga::verify::revocation::{Crl, scope};
use tamga::verify::timestamp::TstInfo;

fuzz_target!(|data: &[u8]| {
    let Some((&which, input)) = data.split_first() else {
        return;
    };
    match which % 6 {
        0 => {
            if let Ok(r) = Response::from_der(input) {
                let _ = format!("{r:?}");
            }
        }
        1 => {
            let _ = TstInfo::from_der(input);
        }
        2 => {
            if let Ok(crl) = Crl::from_der(input) {
                let serial = input.get(..20).unwrap_or(input);
                let _ = crl.lookup(&crl.issuer_raw, serial);
            }
        }
        3 => {
            let _ = scope::parse_points(input);
        }
        4 => {
            let _ = scope::parse_idp(input);
        }
        _ => {
            let _ = tamga::fetch::http::read_response(input, "http://fuzz.invalid/", 1 << 20);
        }
    }
});
