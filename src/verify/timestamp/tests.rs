//! TSTInfo reading; the token as a whole is tested against `openssl ts` in
//! tests/timestamp_openssl.rs.

use super::*;

/// A TSTInfo with genTime `gen` and the given accuracy bytes (already encoded).
fn tst(time: &[u8], accuracy: &[u8]) -> Vec<u8> {
    let mut body = vec![0x02, 0x01, 0x01]; // version 1
    body.extend([0x06, 0x03, 0x2A, 0x03, 0x04]); // policy 1.2.3.4
    // messageImprint { sha256, 32 bytes }
    let mut mi = vec![0x30, 0x0D, 0x06, 0x09];
    mi.extend([
        0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00,
    ]);
    mi.extend([0x04, 0x20]);
    mi.extend([7u8; 32]);
    body.push(0x30);
    body.push(mi.len() as u8);
    body.extend(mi);
    body.extend([0x02, 0x02, 0x01, 0x00]); // serial 256
    body.push(0x18);
    body.push(time.len() as u8);
    body.extend(time);
    body.extend(accuracy);
    let mut out = vec![0x30, body.len() as u8];
    out.extend(body);
    out
}

#[test]
fn gen_time_with_and_without_a_fraction() {
    // 2024-01-01T00:00:00Z
    let t = TstInfo::from_der(&tst(b"20240101000000Z", &[])).unwrap();
    assert_eq!(t.gen_time, 1_704_067_200);
    assert_eq!(t.policy, "1.2.3.4");
    assert_eq!(t.serial, [1, 0]);
    assert_eq!(t.imprint, [7u8; 32]);
    let t = TstInfo::from_der(&tst(b"20240101000000.999Z", &[])).unwrap();
    assert_eq!(t.gen_time, 1_704_067_200);
    for bad in [
        &b"20240101000000.Z"[..],
        b"20240101000000.9",
        b"2024010100000.5Z",
    ] {
        assert!(TstInfo::from_der(&tst(bad, &[])).is_err(), "{bad:?}");
    }
}

#[test]
fn accuracy_in_milliseconds() {
    // { seconds 1, millis 500, micros 1 }
    let a = [
        0x30, 0x0A, 0x02, 0x01, 0x01, 0x80, 0x02, 0x01, 0xF4, 0x81, 0x01, 0x01,
    ];
    let t = TstInfo::from_der(&tst(b"20240101000000Z", &a)).unwrap();
    assert_eq!(t.accuracy_ms, Some(1501));
}

#[test]
fn truncated_tst_info_is_an_error() {
    let der = tst(b"20240101000000Z", &[]);
    for cut in 0..der.len() {
        assert!(TstInfo::from_der(&der[..cut]).is_err(), "cut at {cut}");
    }
}

#[test]
fn only_a_time_stamping_certificate_is_a_tsa() {
    // A CA certificate (PKITS's anchor) has no id-kp-timeStamping; the TSA of
    // tests/timestamp_openssl.rs has it, critical and alone.
    let anchor = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/pkits/TrustAnchorRootCertificate.crt"),
    )
    .unwrap();
    assert!(!time_stamping(&anchor));
    assert!(!time_stamping(b"not a certificate"));
}
