//! GOST key and signature decoding and verification on arbitrary bytes.
//!
//! The first byte picks the mode. Even: everything comes from the input — the key algorithm
//! (one of the five GOST key OIDs), its parameters, the key bits, the signature and the
//! message — so the decoders see garbage of every shape. Odd: a real point on CryptoPro-A or
//! TC26 512-A (Nettle's test keys) with an input signature and message, so the curve
//! arithmetic runs on arbitrary (r, s) and digests instead of stopping at the key checks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tamga::verify::algorithms::{HashAlg, Scheme, gost::Family};
use tamga::verify::certificate::PublicKey;
use tamga::verify::cms::AlgorithmId;

const KEY_OIDS: [&str; 5] = [
    "1.2.643.2.2.19",
    "1.2.643.7.1.1.1.1",
    "1.2.643.7.1.1.1.2",
    "1.2.398.3.10.1.1.1.1",
    "1.2.398.3.10.1.1.2.2",
];
const HASHES: [HashAlg; 4] = [
    HashAlg::Streebog256,
    HashAlg::Streebog512,
    HashAlg::Gost94CryptoPro,
    HashAlg::Gost94Test,
];

/// Splits off a chunk whose length is the next byte.
fn chunk<'a>(data: &mut &'a [u8]) -> &'a [u8] {
    let Some((&len, rest)) = data.split_first() else {
        return &[];
    };
    let len = usize::from(len).min(rest.len());
    let (head, tail) = rest.split_at(len);
    *data = tail;
    head
}

/// DER of `SEQUENCE { OID }` for a parameter-set OID given as its encoded body.
fn params(oid_body: &[u8]) -> Vec<u8> {
    let mut v = vec![0x30, (oid_body.len() + 2) as u8, 0x06, oid_body.len() as u8];
    v.extend_from_slice(oid_body);
    v
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .filter_map(|i| s.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()))
        .collect()
}

/// A real key: OCTET STRING of X ‖ Y little-endian.
fn real_key(big: bool) -> PublicKey {
    let (oid, set, x, y) = if big {
        (
            "1.2.643.7.1.1.1.2",
            // 1.2.643.7.1.2.1.2.1
            &[0x2a, 0x85, 0x03, 0x07, 0x01, 0x02, 0x01, 0x02, 0x01][..],
            "03A36340A95BB5F93D131961B5B1C1B3213DF7FF3B5A30376407E2A65C441BC6\
             D1B34662317083243F007B15A8512B526606D3B172B606DCE86DBD6F82DA3D40",
            "DEAD76318012FED79507809C89CC44848743640EAC9A3C847DA9082E050760A1\
             0679F4B707ABC1872640AD20D7441F66C7A8B3BFF1B8E11B4A076F0A86749F73",
        )
    } else {
        (
            "1.2.643.7.1.1.1.1",
            // 1.2.643.2.2.35.1
            &[0x2a, 0x85, 0x03, 0x02, 0x02, 0x23, 0x01][..],
            "971566CEDA436EE7678F7E07E84EBB7217406C0B4747AA8FD2AB1453C3D0DFBA",
            "AD58736965949F8E59830F8DE20FC6C0D177F6AB599874F1E2E24FF71F9CE643",
        )
    };
    let mut point: Vec<u8> = hex(x).into_iter().rev().collect();
    point.extend(hex(y).into_iter().rev());
    let mut bits = vec![0x04, 0x81, point.len() as u8];
    if point.len() < 128 {
        bits = vec![0x04, point.len() as u8];
    }
    bits.extend(point);
    PublicKey {
        algorithm: AlgorithmId {
            oid: oid.into(),
            params: Some(params(set).into()),
        },
        bits,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, mut rest)) = data.split_first() else {
        return;
    };
    let family = if mode & 2 == 0 { Family::Tc26 } else { Family::Kz };
    let hash = HASHES[usize::from(mode >> 2) % HASHES.len()];
    let scheme = Scheme::Gost { hash, family };
    let key = if mode & 1 == 0 {
        let oid = KEY_OIDS[usize::from(mode >> 4) % KEY_OIDS.len()];
        let raw_params = chunk(&mut rest);
        PublicKey {
            algorithm: AlgorithmId {
                oid: oid.into(),
                params: (!raw_params.is_empty()).then(|| raw_params.to_vec().into()),
            },
            bits: chunk(&mut rest).to_vec(),
        }
    } else {
        real_key(mode & 0x10 != 0)
    };
    let signature = chunk(&mut rest);
    let _ = scheme.verify(&key, rest, signature);
});
