//! Name constraints: each form's matching rule, the accumulation along a path, the
//! exemptions, and hostile extension bytes.

use super::*;
use crate::verify::certificate::Certificate;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, CidrSubnet, DistinguishedName, DnType,
    IsCa, KeyPair, NameConstraints, SanType,
};

#[test]
fn dns_names() {
    use general::dns_within as w;
    assert_eq!(w("example.kz", "example.kz"), Within::Yes);
    assert_eq!(w("www.Example.KZ", "example.kz"), Within::Yes);
    assert_eq!(w("badexample.kz", "example.kz"), Within::No);
    assert_eq!(w("example.kz", ".example.kz"), Within::No);
    assert_eq!(w("a.example.kz", ".example.kz"), Within::Yes);
    assert_eq!(w("anything.org", ""), Within::Yes);
    assert_eq!(w("example.kz.", "example.kz"), Within::Yes);
}

#[test]
fn mailboxes_hosts_and_domains() {
    use general::rfc822_within as w;
    // A mailbox: that one only (host case ignored, local part exact).
    assert_eq!(w("clerk@gov.kz", "clerk@GOV.kz"), Within::Yes);
    assert_eq!(w("Clerk@gov.kz", "clerk@gov.kz"), Within::No);
    // A host: every mailbox there, none below.
    assert_eq!(w("anyone@gov.kz", "gov.kz"), Within::Yes);
    assert_eq!(w("anyone@mail.gov.kz", "gov.kz"), Within::No);
    // A domain: every host below, not the domain itself.
    assert_eq!(w("anyone@mail.gov.kz", ".gov.kz"), Within::Yes);
    assert_eq!(w("anyone@gov.kz", ".gov.kz"), Within::No);
    assert_eq!(w("anyone@notgov.kz", ".gov.kz"), Within::No);
    // Not a mailbox: cannot be decided.
    assert_eq!(w("gov.kz", "gov.kz"), Within::Unknown);
}

#[test]
fn uri_hosts() {
    use general::uri_within as w;
    assert_eq!(w("https://gov.kz/path", "gov.kz"), Within::Yes);
    assert_eq!(w("ftp://user@GOV.kz:21/x?y#z", "gov.kz"), Within::Yes);
    assert_eq!(w("https://www.gov.kz/", "gov.kz"), Within::No);
    assert_eq!(w("https://www.gov.kz/", ".gov.kz"), Within::Yes);
    assert_eq!(w("https://gov.kz/", ".gov.kz"), Within::No);
    // No authority, or a host given as an address: cannot be decided (§4.2.1.10).
    assert_eq!(w("urn:oid:1.2.3", "gov.kz"), Within::Unknown);
    assert_eq!(w("http://10.0.0.1/", "gov.kz"), Within::Unknown);
    assert_eq!(w("http://[::1]/", "gov.kz"), Within::Unknown);
    // The same host spelt another way: a trailing dot is the same host; a percent-escape
    // cannot be judged (so an excluded host cannot slip out by it).
    assert_eq!(
        w("http://bad.example.com./", "bad.example.com"),
        Within::Yes
    );
    assert_eq!(
        w("http://x.bad.example.com./", ".bad.example.com"),
        Within::Yes
    );
    assert_eq!(
        w("http://bad%2Eexample.com/", "bad.example.com"),
        Within::Unknown
    );
}

#[test]
fn mailbox_hosts_spelt_another_way() {
    use general::rfc822_within as w;
    assert_eq!(w("u@bad.example.com.", "bad.example.com"), Within::Yes);
    assert_eq!(w("u@bad.example.com.", "u@bad.example.com"), Within::Yes);
    assert_eq!(w("u@x.bad.example.com.", ".bad.example.com"), Within::Yes);
    assert_eq!(w("u@bad%2Eexample.com", "bad.example.com"), Within::Unknown);
}

#[test]
fn ip_addresses() {
    use general::ip_within as w;
    let v4 = [192, 168, 0, 0, 255, 255, 0, 0];
    assert_eq!(w(&[192, 168, 7, 1], &v4), Within::Yes);
    assert_eq!(w(&[192, 169, 7, 1], &v4), Within::No);
    let mut v6 = [0u8; 32];
    v6[..2].copy_from_slice(&[0x20, 0x01]);
    v6[16..18].copy_from_slice(&[0xFF, 0xFF]);
    let mut addr = [0u8; 16];
    addr[..2].copy_from_slice(&[0x20, 0x01]);
    addr[15] = 1;
    assert_eq!(w(&addr, &v6), Within::Yes);
    // The other family is never inside; malformed lengths cannot be decided.
    assert_eq!(w(&[192, 168, 7, 1], &v6), Within::No);
    assert_eq!(w(&addr, &v4), Within::No);
    assert_eq!(w(&[1, 2, 3], &v4), Within::Unknown);
    assert_eq!(w(&[1, 2, 3, 4], &[1, 2, 3]), Within::Unknown);
}

/// A CA with `nc`, signed by `parent` (or self-signed), and its certificate parsed.
fn ca(
    cn: &str,
    nc: Option<NameConstraints>,
    parent: Option<&CertifiedIssuer<'static, KeyPair>>,
) -> (CertifiedIssuer<'static, KeyPair>, Arc<Certificate>) {
    let mut p = CertificateParams::default();
    p.distinguished_name = dn(&[(DnType::OrganizationName, "Test"), (DnType::CommonName, cn)]);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.name_constraints = nc;
    let key = KeyPair::generate().unwrap();
    let issuer = match parent {
        Some(parent) => CertifiedIssuer::signed_by(p, key, parent).unwrap(),
        None => CertifiedIssuer::self_signed(p, key).unwrap(),
    };
    let cert = Arc::new(Certificate::from_der(issuer.der()).unwrap());
    (issuer, cert)
}

fn dn(parts: &[(DnType, &str)]) -> DistinguishedName {
    let mut d = DistinguishedName::new();
    for (t, v) in parts {
        d.push(t.clone(), *v);
    }
    d
}

/// An end-entity certificate with `subject` and `sans`, signed by `issuer`.
fn leaf(
    subject: DistinguishedName,
    sans: Vec<SanType>,
    issuer: &CertifiedIssuer<'static, KeyPair>,
) -> Arc<Certificate> {
    let mut p = CertificateParams::default();
    p.distinguished_name = subject;
    p.subject_alt_names = sans;
    let key = KeyPair::generate().unwrap();
    let c = p.signed_by(&key, issuer).unwrap();
    Arc::new(Certificate::from_der(c.der()).unwrap())
}

fn verdict(path: &[Arc<Certificate>]) -> Option<Finding> {
    let mut out = Vec::new();
    check_constraints(path, &mut out);
    assert!(out.len() <= 1);
    out.pop()
}

fn permit(p: Vec<rcgen::GeneralSubtree>, x: Vec<rcgen::GeneralSubtree>) -> Option<NameConstraints> {
    Some(NameConstraints {
        permitted_subtrees: p,
        excluded_subtrees: x,
    })
}

fn dns(s: &str) -> SanType {
    SanType::DnsName(s.try_into().unwrap())
}

#[test]
fn dns_constraints_on_a_path() {
    use rcgen::GeneralSubtree::DnsName;
    let (root, root_c) = ca("Root", None, None);
    let nc = permit(
        vec![DnsName("gov.kz".into())],
        vec![DnsName("bad.gov.kz".into())],
    );
    let (sub, sub_c) = ca("Sub", nc, Some(&root));
    let subject = dn(&[(DnType::CommonName, "Clerk")]);
    let good = leaf(subject.clone(), vec![dns("docs.gov.kz")], &sub);
    assert_eq!(
        verdict(&[good, Arc::clone(&sub_c), Arc::clone(&root_c)]),
        None
    );
    for name in ["docs.gov.ru", "x.bad.gov.kz"] {
        let bad = leaf(subject.clone(), vec![dns(name)], &sub);
        let f = verdict(&[bad, Arc::clone(&sub_c), Arc::clone(&root_c)]).unwrap();
        assert_eq!(f.reason, Reason::NameConstraints);
        assert!(f.detail.contains(name), "{}", f.detail);
    }
    // Constraints on one form leave the others alone: the DN and an e-mail pass.
    let other = leaf(
        subject,
        vec![SanType::Rfc822Name("a@b.ru".try_into().unwrap())],
        &sub,
    );
    assert_eq!(verdict(&[other, sub_c, root_c]), None);
}

#[test]
fn permitted_subtrees_intersect_and_excluded_add_up() {
    use rcgen::GeneralSubtree::{DnsName, IpAddress};
    let (root, root_c) = ca("Root", permit(vec![DnsName("kz".into())], vec![]), None);
    let nc = permit(
        vec![DnsName("gov.kz".into()), DnsName("edu.ru".into())],
        vec![IpAddress(CidrSubnet::V4([10, 0, 0, 0], [255, 0, 0, 0]))],
    );
    let (sub, sub_c) = ca("Sub", nc, Some(&root));
    let path = |sans| {
        vec![
            leaf(DistinguishedName::new(), sans, &sub),
            sub_c.clone(),
            root_c.clone(),
        ]
    };
    assert_eq!(verdict(&path(vec![dns("a.gov.kz")])), None);
    // Permitted by Sub, but not by the root above it.
    assert!(verdict(&path(vec![dns("a.edu.ru")])).is_some());
    // Permitted by the root, but not by Sub.
    assert!(verdict(&path(vec![dns("a.edu.kz")])).is_some());
    // Excluded by Sub.
    let ip = SanType::IpAddress("10.1.2.3".parse().unwrap());
    assert!(verdict(&path(vec![dns("a.gov.kz"), ip])).is_some());
    let ip = SanType::IpAddress("11.1.2.3".parse().unwrap());
    assert_eq!(verdict(&path(vec![dns("a.gov.kz"), ip])), None);
}

#[test]
fn directory_names_and_subject_email() {
    use rcgen::GeneralSubtree::{DirectoryName, Rfc822Name};
    let base = dn(&[
        (DnType::OrganizationName, "Test"),
        (DnType::OrganizationalUnitName, "Good"),
    ]);
    let nc = permit(
        vec![DirectoryName(base), Rfc822Name(".gov.kz".into())],
        vec![],
    );
    let (root, root_c) = ca("Root", nc, None);
    let under = |ou: &str, cn: &str| {
        dn(&[
            (DnType::OrganizationName, "TEST"),
            (DnType::OrganizationalUnitName, ou),
            (DnType::CommonName, cn),
        ])
    };
    let good = leaf(under(" good ", "Clerk"), vec![], &root);
    assert_eq!(verdict(&[good, root_c.clone()]), None);
    let bad = leaf(under("Evil", "Clerk"), vec![], &root);
    assert!(verdict(&[bad, root_c.clone()]).is_some());
    // An emailAddress in the subject is an rfc822Name (§4.2.1.10).
    let email = DnType::CustomDnType(vec![1, 2, 840, 113549, 1, 9, 1]);
    let mut subject = under("Good", "Clerk");
    subject.push(
        email.clone(),
        rcgen::DnValue::Ia5String("clerk@mail.gov.kz".try_into().unwrap()),
    );
    assert_eq!(
        verdict(&[leaf(subject, vec![], &root), root_c.clone()]),
        None
    );
    let mut subject = under("Good", "Clerk");
    subject.push(
        email,
        rcgen::DnValue::Ia5String("clerk@mail.gov.ru".try_into().unwrap()),
    );
    assert!(verdict(&[leaf(subject, vec![], &root), root_c]).is_some());
}

#[test]
fn self_issued_intermediates_are_exempt_but_not_the_leaf() {
    use rcgen::GeneralSubtree::DirectoryName;
    let good = || {
        dn(&[
            (DnType::OrganizationName, "Test"),
            (DnType::OrganizationalUnitName, "Good"),
        ])
    };
    let (root, root_c) = ca("Root", None, None);
    // A CA that permits only names under OU=Good, its own name not among them (PKITS 4.13.19).
    let (x, x_c) = ca(
        "X",
        permit(vec![DirectoryName(good())], vec![]),
        Some(&root),
    );
    // Its self-issued roll-over certificate, and a leaf below that.
    let (rollover, rollover_c) = ca("X", None, Some(&x));
    assert!(rollover_c.self_issued());
    let mut subject = good();
    subject.push(DnType::CommonName, "Clerk");
    let ee = leaf(subject, vec![], &rollover);
    assert_eq!(
        verdict(&[ee, rollover_c.clone(), x_c.clone(), root_c.clone()]),
        None
    );
    // A self-issued leaf is checked: §6.1.3 (b) exempts only intermediates (PKITS 4.13.20).
    let f = verdict(&[rollover_c, x_c, root_c]).unwrap();
    assert_eq!(f.reason, Reason::NameConstraints);
}

#[test]
fn path_validation_applies_them() {
    use crate::verify::cache::Cache;
    use crate::verify::{RevocationPolicy, TrustStore, path};
    use rcgen::GeneralSubtree::DnsName;
    let (root, root_c) = ca("Root", permit(vec![DnsName("gov.kz".into())], vec![]), None);
    let trust = TrustStore::new(vec![(*root_c).clone()], Vec::new());
    let check = |name: &str| {
        let ee = leaf(dn(&[(DnType::CommonName, "Clerk")]), vec![dns(name)], &root);
        let out = path::validate(
            &ee,
            &[],
            &trust,
            &[],
            1_800_000_000,
            RevocationPolicy::Off,
            &Cache::default(),
            &crate::verify::policy::PathSettings::DEFAULT,
        );
        out.findings.iter().map(|f| f.reason).collect::<Vec<_>>()
    };
    assert_eq!(check("docs.gov.kz"), vec![]);
    assert_eq!(check("docs.gov.ru"), vec![Reason::NameConstraints]);
}

#[test]
fn unconstrained_paths_and_forms_we_cannot_check() {
    let (root, root_c) = ca("Root", None, None);
    let ee = leaf(
        dn(&[(DnType::CommonName, "x")]),
        vec![dns("anything")],
        &root,
    );
    assert_eq!(verdict(&[ee, root_c]), None);
    // A constraint of a form we do not match fails every name of that form.
    let constraints = parse(&hex_nc_registered_id()).unwrap();
    let mut state = State::default();
    state.add(constraints);
    assert_eq!(
        state.check(&Name::Other(8)),
        Err(Violation::Undecidable("a name of form [8]".into()))
    );
    assert_eq!(state.check(&Name::Dns("a".into())), Ok(()));
}

/// `NameConstraints { excludedSubtrees [1] { { registeredID 1.2.3 } } }`
fn hex_nc_registered_id() -> Vec<u8> {
    vec![
        0x30, 0x09, 0xA1, 0x07, 0x30, 0x05, 0x88, 0x03, 0x2A, 0x03, 0x04,
    ]
}

#[test]
fn extensions_we_cannot_honour_are_refused() {
    // minimum other than 0, maximum present, an empty subtree list, an unknown tag.
    let dns_base = [0x82, 0x02, b'k', b'z'];
    let sub = |extra: &[u8]| {
        let inner = [&dns_base[..], extra].concat();
        let st = [&[0x30, inner.len() as u8][..], &inner].concat();
        let p = [&[0xA0, st.len() as u8][..], &st].concat();
        [&[0x30, p.len() as u8][..], &p].concat()
    };
    assert!(parse(&sub(&[])).is_ok());
    assert!(parse(&sub(&[0x80, 0x01, 0x00])).is_ok());
    assert!(parse(&sub(&[0x80, 0x01, 0x01])).is_err());
    assert!(parse(&sub(&[0x81, 0x01, 0x05])).is_err());
    assert!(parse(&[0x30, 0x02, 0xA0, 0x00]).is_err());
    assert!(parse(&[0x30, 0x06, 0xA0, 0x04, 0x30, 0x02, 0x89, 0x00]).is_err());
    assert_eq!(parse(&[0x30, 0x00]), Ok(Constraints::default()));
}

#[test]
fn hostile_bytes_never_panic() {
    // A tiny deterministic generator (xorshift): random bytes, and every truncation and
    // one-byte corruption of real extensions, through every parser of this module.
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let (root, _) = ca("Root", None, None);
    let real = leaf(
        dn(&[(DnType::CommonName, "x")]),
        vec![dns("a.kz"), SanType::IpAddress("10.0.0.1".parse().unwrap())],
        &root,
    );
    let seeds = [
        real.names.alt_names.clone().unwrap(),
        real.subject_raw.clone(),
        sub_with_everything(),
    ];
    let try_all = |b: &[u8]| {
        let _ = parse(b);
        let _ = dn::canonical(b);
        let _ = dn::email_addresses(b);
        let mut r = Reader::new(b);
        if let Ok(Some(t)) = r.next() {
            let _ = general::read(&t, 0);
        }
    };
    for s in &seeds {
        for cut in 0..s.len() {
            try_all(&s[..cut]);
            let mut c = s.clone();
            let i = next() as usize % c.len();
            c[i] ^= (next() as u8) | 1;
            try_all(&c);
        }
    }
    for _ in 0..20_000 {
        let len = next() as usize % 64;
        let b: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        try_all(&b);
    }
}

/// A nameConstraints value with a subtree of every form.
fn sub_with_everything() -> Vec<u8> {
    use rcgen::GeneralSubtree::*;
    let (_, c) = ca(
        "All",
        permit(
            vec![
                DnsName("kz".into()),
                Rfc822Name("gov.kz".into()),
                DirectoryName(dn(&[(DnType::CommonName, "x")])),
            ],
            vec![IpAddress(CidrSubnet::V4([10, 0, 0, 0], [255, 0, 0, 0]))],
        ),
        None,
    );
    let v = c.names.constraints.clone().unwrap();
    assert!(parse(&v).is_ok());
    v
}

#[test]
fn a_second_subject_alt_name_cannot_hide_from_the_constraints() {
    // The first subjectAltName is what rcgen writes; a second one is added by hand. A
    // certificate with an extension twice is refused outright (RFC 5280 §4.2), so neither can
    // escape the checks the other gets.
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = CertificateParams::new(vec!["allowed.gov.kz".to_string()]).unwrap();
    // SEQUENCE { [2] "forbidden.example" }
    let mut san = vec![0x30, 19, 0x82, 17];
    san.extend_from_slice(b"forbidden.example");
    params.custom_extensions = vec![rcgen::CustomExtension::from_oid_content(
        &[2, 5, 29, 17],
        san,
    )];
    let der = params.self_signed(&key).unwrap().der().to_vec();
    let err = Certificate::from_der(&der).unwrap_err();
    assert!(err.0.contains("2.5.29.17"), "{err}");
}
