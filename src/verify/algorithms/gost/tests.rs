//! Published examples: GOST R 34.10-2012 Appendix A (its own test curves) and the
//! per-curve vectors of Nettle's test suite (an independent implementation).

use super::curve::{Curve, Params};
use super::field::{self, Limbs};
use super::params::*;
use super::{AnyCurve, Family, GostKey, curve_for, verify_digest};

/// GOST R 34.10-2012 Appendix A.1: the 256-bit example curve.
static EXAMPLE_256: Params = Params {
    name: "example-256",
    p: "8000000000000000000000000000000000000000000000000000000000000431",
    a: "7",
    b: "5FBFF498AA938CE739B8E022FBAFEF40563F6E6A3472FC2A514C0CE9DAE23B7E",
    q: "8000000000000000000000000000000150FE8A1892976154C59CFC193ACCF5B3",
    x: "2",
    y: "08E2A8A0E65147D4BD6316030E16D19C85C97F0A9CA267122B96ABBCEA7E8FC8",
};

/// GOST R 34.10-2012 Appendix A.2: the 512-bit example curve.
static EXAMPLE_512: Params = Params {
    name: "example-512",
    p: "4531ACD1FE0023C7550D267B6B2FEE80922B14B2FFB90F04D4EB7C09B5D2D15D\
        F1D852741AF4704A0458047E80E4546D35B8336FAC224DD81664BBF528BE6373",
    a: "7",
    b: "1CFF0806A31116DA29D8CFA54E57EB748BC5F377E49400FDD788B649ECA1AC43\
        61834013B2AD7322480A89CA58E0CF74BC9E540C2ADD6897FAD0A3084F302ADC",
    q: "4531ACD1FE0023C7550D267B6B2FEE80922B14B2FFB90F04D4EB7C09B5D2D15D\
        A82F2D7ECB1DBAC719905C5EECC423F1D86E25EDBE23C595D644AAF187E6E6DF",
    x: "24D19CC64572EE30F396BF6EBBFD7A6C5213B3B3D7057CC825F91093A68CD762\
        FD60611262CD838DC6B60AA7EEE804E28BC849977FAC33B4B530F1B120248A9A",
    y: "2BB312A43BD2CE6E0D020613C857ACDDCFBF061E91E5F2C3F32447C259F39B2C\
        83AB156D77F1496BF7EB3351E1EE4E43DC1A18B91B24640B6DBB92CB1ADD371E",
};

fn h<const N: usize>(s: &str) -> Limbs<N> {
    field::from_hex(s).unwrap()
}

/// Checks the example verifies, and that changing any of e, r, s or the key breaks it.
fn example<const N: usize>(curve: &Curve<N>, qx: &str, qy: &str, e: &str, r: &str, s: &str) {
    let (qx, qy, e, r, s) = (h(qx), h(qy), h(e), h(r), h(s));
    assert!(curve.verify(&qx, &qy, &e, &r, &s), "{}", curve.params.name);
    let mut bad = e;
    bad[0] ^= 1;
    assert!(!curve.verify(&qx, &qy, &bad, &r, &s));
    let mut bad = r;
    bad[1] ^= 1 << 7;
    assert!(!curve.verify(&qx, &qy, &e, &bad, &s));
    let mut bad = s;
    bad[N - 1] ^= 1;
    assert!(!curve.verify(&qx, &qy, &e, &r, &bad));
    // A key off the curve is refused before any arithmetic.
    let mut bad = qy;
    bad[0] ^= 2;
    assert!(!curve.verify(&qx, &bad, &e, &r, &s));
    // r and s must lie in [1, q-1].
    assert!(!curve.verify(&qx, &qy, &e, &[0; N], &s));
    assert!(!curve.verify(&qx, &qy, &e, &r, &h(curve.params.q)));
}

#[test]
fn standard_appendix_a1_256() {
    let curve = Curve::<4>::new(&EXAMPLE_256).unwrap();
    example(
        &curve,
        "7F2B49E270DB6D90D8595BEC458B50C58585BA1D4E9B788F6689DBD8E56FD80B",
        "26F1B489D6701DD185C8413A977B3CBBAF64D1C593D26627DFFB101A87FF77DA",
        "2DFBC1B372D89A1188C09C52E0EEC61FCE52032AB1022E8E67ECE6672B043EE5",
        "41AA28D2F1AB148280CD9ED56FEDA41974053554A42767B83AD043FD39DC0493",
        "01456C64BA4642A1653C235A98A60249BCD6D3F746B631DF928014F6C5BF9C40",
    );
}

#[test]
fn standard_appendix_a2_512() {
    let curve = Curve::<8>::new(&EXAMPLE_512).unwrap();
    example(
        &curve,
        "115DC5BC96760C7B48598D8AB9E740D4C4A85A65BE33C1815B5C320C854621DD\
         5A515856D13314AF69BC5B924C8B4DDFF75C45415C1D9DD9DD33612CD530EFE1",
        "37C7C90CD40B0F5621DC3AC1B751CFA0E2634FA0503B3D52639F5D7FB72AFD61\
         EA199441D943FFE7F0C70A2759A3CDB84C114E1F9339FDF27F35ECA93677BEEC",
        "3754F3CFACC9E0615C4F4A7C4D8DAB531B09B6F9C170C533A71D147035B0C591\
         7184EE536593F4414339976C647C5D5A407ADEDB1D560C4FC6777D2972075B8C",
        "2F86FA60A081091A23DD795E1E3C689EE512A3C82EE0DCC2643C78EEA8FCACD3\
         5492558486B20F1C9EC197C90699850260C93BCBCD9C5C3317E19344E173AE36",
        "1081B394696FFE8E6585E7A9362D26B6325F56778AADBC081C0BFBE933D52FF5\
         823CE288E8C4F362526080DF7F70CE406A6EEB1F56919CB92A9853BDE73E5B4A",
    );
}

#[test]
fn every_named_curve_builds_and_its_base_point_is_on_it() {
    for oid in [
        "1.2.643.2.2.35.1",
        "1.2.643.2.2.35.2",
        "1.2.643.2.2.35.3",
        "1.2.643.2.2.36.0",
        "1.2.643.2.2.36.1",
        "1.2.643.7.1.2.1.1.1",
        "1.2.643.7.1.2.1.1.2",
        "1.2.643.7.1.2.1.1.3",
        "1.2.643.7.1.2.1.1.4",
        "1.2.643.7.1.2.1.2.1",
        "1.2.643.7.1.2.1.2.2",
        "1.2.643.7.1.2.1.2.3",
        "1.2.398.3.10.1.1.2.2.1",
    ] {
        assert!(curve_for(oid).is_some(), "{oid}");
    }
    assert!(
        curve_for("1.2.643.2.2.35.0").is_none(),
        "test curves are not for use"
    );
}

/// Nettle's `gostdsa-verify-test.c` vectors: big-endian coordinates and (r, s); the digest
/// bytes are read little-endian, as in CMS.
fn nettle<const N: usize>(curve: &Curve<N>, x: &str, y: &str, digest: &str, r: &str, s: &str) {
    let digest: Vec<u8> = (0..digest.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digest[i..i + 2], 16).unwrap())
        .collect();
    let e: Limbs<N> = field::from_le_bytes(&digest).unwrap();
    let (x, y, r, s) = (h(x), h(y), h(r), h(s));
    assert!(curve.verify(&x, &y, &e, &r, &s), "{}", curve.params.name);
    let mut bad = e;
    bad[N / 2] ^= 0x40;
    assert!(!curve.verify(&x, &y, &bad, &r, &s));
}

const NETTLE_H256: &str = "1C067E20EA6CB183F22EFB0F3C6FD2A4E6A02821CB7A1B17FACD5E1F7AA76F70";
const NETTLE_H512: &str = "EDC257BED45FDDE4F1457B7F5B19017A8F204184366689D938532CDBAA5CB29A\
                           1D369DA57F8B983BE272219BD2C9A4FC57ECF7A77F34EE2E8AA553976A4766C0";

#[test]
fn nettle_vectors_for_the_named_curves() {
    let c = |p: &'static Params| Curve::<4>::new(p).unwrap();
    nettle(
        &c(&CRYPTOPRO_A),
        "971566CEDA436EE7678F7E07E84EBB7217406C0B4747AA8FD2AB1453C3D0DFBA",
        "AD58736965949F8E59830F8DE20FC6C0D177F6AB599874F1E2E24FF71F9CE643",
        NETTLE_H256,
        "E9323A5E88DD87FB7C724383BFFE7CECD4B9FFA2AC33BEEF73A5A1F743404F6B",
        "5E5B9B805B01147A8492C4A162643AC615DC777B9174108F3DC276A41F987AF3",
    );
    nettle(
        &c(&CRYPTOPRO_B),
        "347E354F60B8DA8DE659B432600418C7D0E70F01622477579FAB36A066B9B8FD",
        "1DD2E31CF7840A5109DFAB561E15D42BC3CE2E64995FB70F3B86679655A1BAA1",
        NETTLE_H256,
        "4E8F9973B31A134CE0942421573B0529B07EC96B835A07856C16CE8070C62547",
        "10CE0EFA72741D5EB24837563AAB9369781D6F487ACF88BBEE3E49EC239F6A90",
    );
    nettle(
        &c(&CRYPTOPRO_C),
        "1F737CC71E43E3FB35B886383714CA5E1226ECDF21F6063E6EA2E40DD04C44EC",
        "7DD94CE1044CCEAD21E4E985E281034058A5B11F37B5F96F31DDCF7D513D164E",
        NETTLE_H256,
        "7A03B527F916AF43DB655362A54AA9EBAF1A02B5776B5EBD8F00484EE8FD4AC6",
        "7D21C2C0D9AD2D03B5D0EF47AE85AB8861067C1FF5394A755BD4A30B5591F8C4",
    );
    let c = |p: &'static Params| Curve::<8>::new(p).unwrap();
    nettle(
        &c(&TC26_512_A),
        "03A36340A95BB5F93D131961B5B1C1B3213DF7FF3B5A30376407E2A65C441BC6\
         D1B34662317083243F007B15A8512B526606D3B172B606DCE86DBD6F82DA3D40",
        "DEAD76318012FED79507809C89CC44848743640EAC9A3C847DA9082E050760A1\
         0679F4B707ABC1872640AD20D7441F66C7A8B3BFF1B8E11B4A076F0A86749F73",
        NETTLE_H512,
        "891AA75C2A6F3B4DE27E3903F61CBB0F3F85A4E3C62F39A6E4E84A7477679C6E\
         45008DC2774CA2FF64C12C0606FF918CAE3A50115440E9BF2971B627A882A1E8",
        "31065479996DDBDEE180AFE22CA3CDC44B45CE4C6C83909D1D3B702922A32441\
         A9E11DCFBEA3D847C06B1A8A38EB1671D6C82FA21B79C99BE2EA809B10DAA5DF",
    );
    nettle(
        &c(&TC26_512_B),
        "07134627CE7FC6770953ABA4714B38AF8DE764B8870A502C2F4CC2D05541459A\
         18DA3B9D4EBC09BC06CB2EA1856A03747561CF04C34382111539230A550F1913",
        "7E08A434CB2FA300F8974E3FF69A4BCDF36B6308E1D7A56144693A35E11CBD14\
         D502916E680E35FE1E6ABBA85BD4DAE7065308B16B1CCABFE3D91CE0655B0FFD",
        NETTLE_H512,
        "5DBF2F4C2D6A7705880FB1458CC58335065BEA5621FC9FBC176C4ACA5BC1E672\
         25459A8EA3779434590DC872704029365A83A53B5EB3C06936B5D287E0A983E7",
        "4E6D2EE8A693D35F31F2551D43B4F6BC6F9EE7B9D27323873386C7DE5F91C39E\
         D3AAE39B7D07FA92B3C742E9E1B16E11D9F7308E485B715987668346AEF1723D",
    );
}

#[test]
fn byte_orders_of_the_two_families() {
    // The Appendix A 256 signature re-encoded both ways must verify through the byte-level
    // entry point with the matching family only. Build a key on CryptoPro-A from the Nettle
    // vector instead (a named curve), since the example curve has no OID.
    let Some(AnyCurve::C256(curve)) = curve_for("1.2.643.2.2.35.1") else {
        panic!("CryptoPro-A");
    };
    let be = |s: &str| -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    };
    let le = |s: &str| -> Vec<u8> { be(s).into_iter().rev().collect() };
    let x = "971566CEDA436EE7678F7E07E84EBB7217406C0B4747AA8FD2AB1453C3D0DFBA";
    let y = "AD58736965949F8E59830F8DE20FC6C0D177F6AB599874F1E2E24FF71F9CE643";
    let r = "E9323A5E88DD87FB7C724383BFFE7CECD4B9FFA2AC33BEEF73A5A1F743404F6B";
    let s = "5E5B9B805B01147A8492C4A162643AC615DC777B9174108F3DC276A41F987AF3";
    let point = [le(x), le(y)].concat();
    let key = GostKey {
        curve: AnyCurve::C256(curve),
        point: &point,
    };
    let digest = be(NETTLE_H256);
    let tc26 = [be(s), be(r)].concat();
    let kz = [le(r), le(s)].concat();
    assert!(verify_digest(&key, &digest, &tc26, Family::Tc26));
    assert!(verify_digest(&key, &digest, &kz, Family::Kz));
    assert!(!verify_digest(&key, &digest, &tc26, Family::Kz));
    assert!(!verify_digest(&key, &digest, &kz, Family::Tc26));
    let reversed: Vec<u8> = kz.iter().rev().copied().collect();
    assert_eq!(
        reversed, tc26,
        "the Kazakh encoding is the Russian one reversed"
    );
    assert!(!verify_digest(&key, &digest[1..], &tc26, Family::Tc26));
    assert!(!verify_digest(&key, &digest, &tc26[1..], Family::Tc26));
}

/// GOST 34.310-2004, settled on the national PKI's own certificate: `ceo_valid_sign_2004_gost.cer`
/// is signed by `nca_gost_test.crt` with curve CryptoPro-A (key parameters
/// 1.2.398.3.10.1.1.1.1.1), GOST 34.311-95 with the *test* S-box of GOST 28147-89, the digest
/// read little-endian and `r ‖ s` little-endian. The other S-boxes and encodings do not verify.
#[test]
fn kazakh_gost_2004_certificate_signature() {
    use crate::verify::algorithms::{HashAlg, Scheme};
    use crate::verify::certificate::Certificate;
    let load = |p: &str| {
        let bytes = std::fs::read(format!("../shared/corpus/nca-kz-test/{p}")).unwrap();
        let der = crate::trustdir::pem_or_der(&bytes, "CERTIFICATE")
            .unwrap()
            .remove(0);
        Certificate::from_der(&der).unwrap()
    };
    let ca = load("ca/nca_gost_test.crt");
    let leaf = load("certs/ceo_valid_sign_2004_gost.cer");
    let scheme = Scheme::for_object(&leaf.signed.algorithm).unwrap();
    assert_eq!(
        scheme,
        Scheme::Gost {
            hash: HashAlg::Gost94Test,
            family: Family::Kz
        }
    );
    let sig = &leaf.signed.signature;
    assert_eq!(scheme.verify(&ca.public_key, leaf.tbs(), sig), Ok(()));
    assert!(matches!(
        super::decode_key(&ca.public_key).unwrap().curve,
        AnyCurve::C256(c) if c.params.name == "cryptopro-A"
    ));

    let wrong_sbox = Scheme::Gost {
        hash: HashAlg::Gost94CryptoPro,
        family: Family::Kz,
    };
    assert!(wrong_sbox.verify(&ca.public_key, leaf.tbs(), sig).is_err());
    let wrong_order = Scheme::Gost {
        hash: HashAlg::Gost94Test,
        family: Family::Tc26,
    };
    assert!(wrong_order.verify(&ca.public_key, leaf.tbs(), sig).is_err());
    for i in [0, 31, 32, 63] {
        let mut bad = sig.clone();
        bad[i] ^= 0x01;
        assert!(
            scheme.verify(&ca.public_key, leaf.tbs(), &bad).is_err(),
            "byte {i}"
        );
    }
    let mut tbs = leaf.tbs().to_vec();
    let mid = tbs.len() / 2;
    tbs[mid] ^= 0x80;
    assert!(scheme.verify(&ca.public_key, &tbs, sig).is_err());
}
