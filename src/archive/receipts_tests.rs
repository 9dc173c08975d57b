use super::*;
use crate::receipt::ReceiptSigner;
use std::collections::HashMap;

/// A receipt as the service signs one: a JSON body naming the organisation.
pub(in crate::archive) fn receipt(signer: &ReceiptSigner, organization: &str, n: u64) -> Vec<u8> {
    let body = serde_json::json!({
        "receipt_id": format!("{n:032x}"),
        "status": "accepted",
        "reasons": [],
        "appeal": null,
        "organization": organization,
        "case": {"index": "01-05", "title": "Входящие"},
        "registration": {"number": format!("01-05/{n}"), "date": "2026-03-01"},
        "received_at": "2026-03-01T10:00:00Z",
        "files": [{"role": "signature", "sha256": format!("{n:064x}"), "size": 6600}],
        "signers": [],
        "sender_ref": null,
        "archive": {"index": n, "entry_hash": format!("{:064x}", n + 7), "tree_size": n + 1},
        "service_certificate_sha256": crate::verify::certificate::hex(&signer.certificate_sha256()),
    });
    signer
        .sign(&serde_json::to_vec(&body).unwrap(), 1_772_359_200)
        .unwrap()
}

/// The receipts' space as a map, with `encoded` written as `put_receipt` writes it.
fn space(encoded: &Encoded) -> HashMap<Vec<u8>, Vec<u8>> {
    let dictionary = encoded.dictionary.clone();
    dictionary
        .into_iter()
        .map(|(k, d)| (k, d.to_vec()))
        .collect()
}

fn read(value: Vec<u8>, space: &HashMap<Vec<u8>, Vec<u8>>) -> Result<Vec<u8>, StoredReceiptError> {
    decode(value, &Dictionaries::default(), &|k| {
        Ok(space.get(k).cloned())
    })
}

#[test]
fn a_receipt_reads_back_byte_identical_and_smaller() {
    let signer = ReceiptSigner::ephemeral("Org").unwrap();
    let der = receipt(&signer, "Org", 17);
    let encoded = encode(&der);
    assert_eq!(encoded.value.first(), Some(&COMPRESSED));
    assert!(
        encoded.value.len() * 2 < der.len(),
        "{} of {}",
        encoded.value.len(),
        der.len()
    );
    let (key, dict) = encoded.dictionary.clone().unwrap();
    assert!(is_dictionary_key(&key));
    assert_eq!(key, dictionary_key(&Sha256::digest(&dict).into()));
    assert_eq!(read(encoded.value.clone(), &space(&encoded)).unwrap(), der);
    // The same receipt always gets the same stored bytes (a retry's put is the same put).
    assert_eq!(encode(&der), encoded);
}

#[test]
fn old_and_foreign_values_read_as_they_are() {
    let signer = ReceiptSigner::ephemeral("Org").unwrap();
    let der = receipt(&signer, "Org", 1);
    let none = HashMap::new();
    assert_eq!(read(der.clone(), &none).unwrap(), der);
    for odd in [b"first".to_vec(), Vec::new(), vec![0x30, 0x00]] {
        let e = encode(&odd);
        assert_eq!((e.value.clone(), e.dictionary), (odd.clone(), None));
        assert_eq!(read(odd.clone(), &none).unwrap(), odd);
    }
}

#[test]
fn damage_is_an_error_never_a_panic() {
    let signer = ReceiptSigner::ephemeral("Org").unwrap();
    let encoded = encode(&receipt(&signer, "Org", 3));
    let kept = space(&encoded);
    assert!(matches!(
        read(encoded.value.clone(), &HashMap::new()),
        Err(StoredReceiptError::DictionaryMissing(_))
    ));
    let mut bad_dict = kept.clone();
    for v in bad_dict.values_mut() {
        v[100] ^= 1;
    }
    assert!(matches!(
        read(encoded.value.clone(), &bad_dict),
        Err(StoredReceiptError::DictionaryDamaged(_))
    ));
    assert!(matches!(
        read(encoded.value[..20].to_vec(), &kept),
        Err(StoredReceiptError::Truncated)
    ));
    // Every flip past the header is refused or (a bit the decoder never uses) harmless, and
    // every truncation is refused: nothing but the signed bytes ever comes back.
    let der = read(encoded.value.clone(), &kept).unwrap();
    for i in 33..encoded.value.len() {
        let mut v = encoded.value.clone();
        v[i] ^= 0x20;
        if let Ok(back) = read(v, &kept) {
            assert_eq!(back, der, "flip at {i} changed the receipt");
        }
        assert!(
            read(encoded.value[..i].to_vec(), &kept).is_err(),
            "cut at {i}"
        );
    }
}

#[test]
fn a_frame_declaring_too_much_or_nothing_is_refused() {
    let signer = ReceiptSigner::ephemeral("Org").unwrap();
    let encoded = encode(&receipt(&signer, "Org", 4));
    let (_, dict) = encoded.dictionary.clone().unwrap();
    let digest: [u8; 32] = Sha256::digest(&dict).into();
    let kept = space(&encoded);
    let frame = |data: &[u8], size: bool| {
        let mut c = zstd::bulk::Compressor::with_dictionary(3, &dict).unwrap();
        c.set_parameter(zstd::zstd_safe::CParameter::ContentSizeFlag(size))
            .unwrap();
        [&[COMPRESSED], digest.as_slice(), &c.compress(data).unwrap()].concat()
    };
    let big = vec![0x30; MAX_RECEIPT + 1];
    assert!(matches!(
        read(frame(&big, true), &kept),
        Err(StoredReceiptError::Size)
    ));
    assert!(matches!(
        read(frame(b"0", false), &kept),
        Err(StoredReceiptError::Size)
    ));
    assert_eq!(read(frame(b"0", true), &kept).unwrap(), b"0");
}

#[test]
fn a_new_certificate_or_organisation_makes_a_new_dictionary_and_both_read() {
    let old = ReceiptSigner::ephemeral("Org").unwrap();
    let new = ReceiptSigner::ephemeral("Org").unwrap();
    let (a, b, c) = (
        receipt(&old, "Org", 1),
        receipt(&new, "Org", 2),
        receipt(&new, "Other org", 3),
    );
    let (ea, eb, ec) = (encode(&a), encode(&b), encode(&c));
    let keys: std::collections::HashSet<_> = [&ea, &eb, &ec]
        .iter()
        .map(|e| e.dictionary.clone().unwrap().0)
        .collect();
    assert_eq!(keys.len(), 3);
    let mut all = space(&ea);
    all.extend(space(&eb));
    all.extend(space(&ec));
    let dicts = Dictionaries::default();
    for (e, der) in [(ea, a), (eb, b), (ec, c)] {
        assert_eq!(
            decode(e.value, &dicts, &|k| Ok(all.get(k).cloned())).unwrap(),
            der
        );
    }
}

#[test]
fn a_dictionary_too_large_to_read_back_is_never_written() {
    // The organisation's name is in the dictionary thrice: this makes it over the limit.
    let organization = "О".repeat(MAX_DICTIONARY / 4);
    let signer = ReceiptSigner::ephemeral("Org").unwrap();
    let der = receipt(&signer, &organization, 5);
    let encoded = encode(&der);
    assert_eq!(read(encoded.value.clone(), &space(&encoded)).unwrap(), der);
    assert_eq!(encoded.dictionary, None);
}
