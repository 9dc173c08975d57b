//! The OCSPRequest (RFC 6960 §4.1.1), unsigned: one Request for one certificate, its CertID
//! computed with the configured hash, and optionally a nonce (RFC 8954).

use crate::receipt::der::{oid, seq, tlv};
use crate::verify::certificate::Certificate;
use crate::verify::ocsp::CertIdHash;

/// id-pkix-ocsp-nonce.
const NONCE: &str = "1.3.6.1.5.5.7.48.1.2";
/// RFC 8954 §2.1: a nonce is 1 to 32 octets; 32 is what it recommends.
pub const NONCE_LEN: usize = 32;

/// The DER of an OCSPRequest asking about the certificate `serial` (INTEGER content bytes)
/// issued by `issuer`, with `nonce` as a requestExtension when given.
pub fn build(
    issuer: &Certificate,
    serial: &[u8],
    hash: CertIdHash,
    nonce: Option<&[u8]>,
) -> Vec<u8> {
    // CertID (§4.1.1): the hash of the issuer's DN as encoded in the certificate, and of the
    // issuer key's subjectPublicKey bits (tag, length and unused-bits octet excluded).
    let alg = seq(&[&oid(hash.oid()), &[0x05, 0x00]]);
    let cert_id = seq(&[
        &alg,
        &tlv(0x04, &hash.digest(&issuer.subject_raw)),
        &tlv(0x04, &hash.digest(&issuer.public_key.bits)),
        &tlv(0x02, serial),
    ]);
    let request = seq(&[&cert_id]);
    let list = seq(&[&request]);
    let tbs = match nonce {
        Some(n) => {
            // The extnValue holds an OCTET STRING of the nonce (RFC 8954 §2.1).
            let ext = seq(&[&oid(NONCE), &tlv(0x04, &tlv(0x04, n))]);
            seq(&[&list, &tlv(0xA2, &seq(&[&ext]))])
        }
        None => seq(&[&list]),
    };
    seq(&[&tbs])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer() -> Certificate {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        p.distinguished_name
            .push(rcgen::DnType::CommonName, "tamga request test CA");
        let c = p.self_signed(&key).unwrap();
        Certificate::from_der(c.der()).unwrap()
    }

    /// Read back with OpenSSL's request parser, the independent reading that matters.
    #[test]
    fn openssl_reads_the_request_as_meant() {
        let ca = issuer();
        let dir = tempfile::tempdir().unwrap();
        for (hash, name, nonce) in [
            (CertIdHash::Sha1, "sha1", None),
            (CertIdHash::Sha256, "sha256", Some([7u8; NONCE_LEN])),
        ] {
            let der = build(&ca, &[0x01, 0x02], hash, nonce.as_ref().map(|n| &n[..]));
            let path = dir.path().join("req.der");
            std::fs::write(&path, &der).unwrap();
            let out = std::process::Command::new("openssl")
                .args(["ocsp", "-reqin"])
                .arg(&path)
                .args(["-req_text", "-noverify"])
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(text.contains(&format!("Hash Algorithm: {name}")), "{text}");
            assert!(text.contains("Serial Number: 0102"), "{text}");
            assert_eq!(text.contains("OCSP Nonce"), nonce.is_some(), "{text}");
            let key_hash = crate::verify::certificate::hex(&hash.digest(&ca.public_key.bits));
            assert!(text.to_lowercase().contains(&key_hash), "{text}");
        }
    }
}
