//! The tree rules one at a time, on paths whose certificates carry hand-set policy extensions
//! (one real certificate, renamed and re-labelled, stands for every CA), plus the extension
//! reader on certificates made by rcgen.

use super::*;
use crate::verify::certificate::Certificate;
use std::sync::{Arc, OnceLock};

const P1: &str = "2.16.840.1.101.3.2.1.48.1";
const P2: &str = "2.16.840.1.101.3.2.1.48.2";
const P3: &str = "2.16.840.1.101.3.2.1.48.3";
const ANY: &str = "2.5.29.32.0";

fn id(s: &str) -> PolicyId {
    s.parse().unwrap()
}

fn base() -> Certificate {
    static BASE: OnceLock<Certificate> = OnceLock::new();
    BASE.get_or_init(|| {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec![])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        Certificate::from_der(cert.der()).unwrap()
    })
    .clone()
}

/// Extensions: policies (None: no certificatePolicies), mappings, and the three counters.
#[derive(Default, Clone)]
struct Ext {
    policies: Option<Vec<&'static str>>,
    mappings: Vec<(&'static str, &'static str)>,
    require: Option<u32>,
    inhibit_mapping: Option<u32>,
    inhibit_any: Option<u32>,
}

fn pols(p: &[&'static str]) -> Ext {
    Ext {
        policies: Some(p.to_vec()),
        ..Ext::default()
    }
}

fn cert(subject: &str, issuer: &str, ext: Option<&Ext>) -> Arc<Certificate> {
    let mut c = base();
    c.subject = subject.into();
    c.subject_raw = subject.as_bytes().to_vec();
    c.issuer_raw = issuer.as_bytes().to_vec();
    c.policy = ext.map(|e| {
        Box::new(CertPolicies {
            policies: e
                .policies
                .as_ref()
                .map(|v| v.iter().map(|s| id(s)).collect()),
            mappings: e.mappings.iter().map(|(a, b)| (id(a), id(b))).collect(),
            require_explicit_policy: e.require,
            inhibit_policy_mapping: e.inhibit_mapping,
            inhibit_any_policy: e.inhibit_any,
            ..CertPolicies::default()
        })
    });
    Arc::new(c)
}

/// A path from the anchor down: each entry (name, extensions); a repeated name is a
/// self-issued certificate. Returned leaf first, anchor last, as path validation holds it.
fn path(chain: &[(&str, Option<Ext>)]) -> Vec<Arc<Certificate>> {
    let mut out = vec![cert("anchor", "anchor", None)];
    let mut issuer = "anchor".to_owned();
    for (name, ext) in chain {
        out.push(cert(name, &issuer, ext.as_ref()));
        issuer = (*name).to_owned();
    }
    out.reverse();
    out
}

fn run(p: &[Arc<Certificate>], s: &PathSettings) -> Result<Vec<String>, PolicyError> {
    process(p, s).map(|v| v.iter().map(ToString::to_string).collect())
}

fn only(set: &[&str]) -> PathSettings {
    PathSettings {
        initial_policies: InitialPolicies::from_list(set.iter().map(|s| id(s)).collect()),
        ..PathSettings::DEFAULT
    }
}

const EXPLICIT: PathSettings = PathSettings {
    require_explicit_policy: true,
    ..PathSettings::DEFAULT
};

#[test]
fn oids_round_trip_and_bad_ones_are_refused() {
    for s in [
        P1,
        ANY,
        "1.2.398.3.3.2.1",
        "2.999.1",
        "0.39",
        "2.25.329800735698586629295641978511506172918",
    ] {
        assert_eq!(id(s).to_string(), s);
    }
    assert!(id(ANY).is_any() && !id(P1).is_any());
    for bad in [
        "", "1", "1.", ".1", "3.1", "1.40", "01.2", "1.2.03", "1.2.a", "1.2.-3", " 1.2",
    ] {
        assert!(bad.parse::<PolicyId>().is_err(), "{bad:?}");
    }
    assert!(PolicyId::from_der_content(&[0x80, 0x01]).is_none());
    assert!(PolicyId::from_der_content(&[0x2a, 0x81]).is_none());
}

#[test]
fn no_policy_extensions_cost_no_tree_and_hold_no_policy() {
    let p = path(&[("ca", None), ("leaf", None)]);
    assert_eq!(
        run(&p, &PathSettings::DEFAULT).unwrap(),
        Vec::<String>::new()
    );
    assert!(matches!(
        run(&p, &EXPLICIT),
        Err(PolicyError::NoPolicy { .. })
    ));
    assert!(matches!(
        run(&p, &only(&[P1])),
        Err(PolicyError::NotAccepted { .. })
    ));
}

#[test]
fn a_shared_policy_is_in_force_and_others_are_not_accepted() {
    let p = path(&[("ca", Some(pols(&[P1, P2]))), ("leaf", Some(pols(&[P1])))]);
    assert_eq!(run(&p, &PathSettings::DEFAULT).unwrap(), [P1]);
    assert_eq!(run(&p, &only(&[P1, P3])).unwrap(), [P1]);
    assert!(matches!(
        run(&p, &only(&[P2])),
        Err(PolicyError::NotAccepted { .. })
    ));
}

#[test]
fn disjoint_policies_leave_no_tree() {
    let p = path(&[("ca", Some(pols(&[P1]))), ("leaf", Some(pols(&[P2])))]);
    assert_eq!(
        run(&p, &PathSettings::DEFAULT).unwrap(),
        Vec::<String>::new()
    );
    assert!(matches!(
        run(&p, &EXPLICIT),
        Err(PolicyError::NoPolicy { .. })
    ));
}

#[test]
fn any_policy_expands_to_what_is_expected_unless_inhibited() {
    // §6.1.3 (d)(2): the CA's anyPolicy stands for the leaf's P2; the policy in force is P2.
    let p = path(&[("ca", Some(pols(&[ANY]))), ("leaf", Some(pols(&[P2])))]);
    assert_eq!(run(&p, &PathSettings::DEFAULT).unwrap(), [P2]);
    // anyPolicy all the way down: any policy holds.
    let all_any = path(&[("ca", Some(pols(&[ANY]))), ("leaf", Some(pols(&[ANY])))]);
    assert_eq!(run(&all_any, &PathSettings::DEFAULT).unwrap(), [ANY]);
    // ... and under an initial set, exactly that set (§6.1.5 (g)(iii)(3)).
    assert_eq!(run(&all_any, &only(&[P3])).unwrap(), [P3]);
    // Inhibited from the start, anyPolicy in the leaf stands for nothing.
    let no_any = PathSettings {
        inhibit_any_policy: true,
        require_explicit_policy: true,
        ..PathSettings::DEFAULT
    };
    let p = path(&[("ca", Some(pols(&[P1]))), ("leaf", Some(pols(&[ANY])))]);
    assert_eq!(run(&p, &EXPLICIT).unwrap(), [P1]);
    assert!(run(&p, &no_any).is_err());
}

#[test]
fn inhibit_any_policy_counts_certificates_but_not_self_issued_ones() {
    let ca = Ext {
        inhibit_any: Some(1),
        ..pols(&[P1])
    };
    // skipCerts 1: the next CA's anyPolicy still counts, the leaf's does not.
    let p = path(&[
        ("ca", Some(ca.clone())),
        ("sub", Some(pols(&[ANY]))),
        ("leaf", Some(pols(&[ANY]))),
    ]);
    assert!(matches!(
        run(&p, &EXPLICIT),
        Err(PolicyError::NoPolicy { .. })
    ));
    let p = path(&[
        ("ca", Some(ca.clone())),
        ("sub", Some(pols(&[ANY]))),
        ("leaf", Some(pols(&[P1]))),
    ]);
    assert_eq!(run(&p, &EXPLICIT).unwrap(), [P1]);
    // A self-issued certificate between them does not use up the count (§6.1.4 (h)).
    let p = path(&[
        ("ca", Some(ca)),
        ("ca", Some(pols(&[ANY]))),
        ("sub", Some(pols(&[ANY]))),
        ("leaf", Some(pols(&[P1]))),
    ]);
    assert_eq!(run(&p, &EXPLICIT).unwrap(), [P1]);
}

#[test]
fn mappings_rename_policies_and_report_the_anchor_domain() {
    let ca = Ext {
        mappings: vec![(P1, P2)],
        ..pols(&[P1])
    };
    let p = path(&[("ca", Some(ca.clone())), ("leaf", Some(pols(&[P2])))]);
    // The leaf's P2 is the CA's P1: P1 is in force in the relying party's domain.
    assert_eq!(run(&p, &PathSettings::DEFAULT).unwrap(), [P1]);
    assert_eq!(run(&p, &only(&[P1])).unwrap(), [P1]);
    assert!(run(&p, &only(&[P2])).is_err());
    // Mapping inhibited: P1 is deleted, nothing holds (§6.1.4 (b)(2)).
    let inhibited = PathSettings {
        inhibit_policy_mapping: true,
        require_explicit_policy: true,
        ..PathSettings::DEFAULT
    };
    assert!(matches!(
        run(&p, &inhibited),
        Err(PolicyError::NoPolicy { .. })
    ));
    // A mapping of a policy only anyPolicy covers creates the node (§6.1.4 (b)(1)).
    let any_ca = Ext {
        mappings: vec![(P1, P2)],
        ..pols(&[ANY])
    };
    let p = path(&[("ca", Some(any_ca)), ("leaf", Some(pols(&[P2])))]);
    assert_eq!(run(&p, &only(&[P1])).unwrap(), [P1]);
}

#[test]
fn mapping_any_policy_is_refused() {
    for m in [(ANY, P1), (P1, ANY)] {
        let ca = Ext {
            mappings: vec![m],
            ..pols(&[P1])
        };
        let p = path(&[("ca", Some(ca)), ("leaf", Some(pols(&[P1])))]);
        assert!(matches!(
            run(&p, &PathSettings::DEFAULT),
            Err(PolicyError::MapsAnyPolicy { .. })
        ));
    }
}

#[test]
fn require_explicit_policy_counts_down_and_skips_self_issued() {
    let ca = Ext {
        require: Some(1),
        ..pols(&[P1])
    };
    // requireExplicitPolicy 1 in the CA: from the leaf on, a policy must hold.
    let p = path(&[
        ("ca", Some(ca.clone())),
        ("sub", Some(pols(&[P1]))),
        ("leaf", None),
    ]);
    assert!(matches!(
        run(&p, &PathSettings::DEFAULT),
        Err(PolicyError::NoPolicy { .. })
    ));
    let p = path(&[("ca", Some(ca)), ("leaf", None)]);
    assert!(run(&p, &PathSettings::DEFAULT).is_err());
    // requireExplicitPolicy 2: the leaf and one more certificate may go without.
    let ca2 = Ext {
        require: Some(2),
        ..pols(&[P1])
    };
    let p = path(&[("ca", Some(ca2.clone())), ("leaf", None)]);
    assert_eq!(
        run(&p, &PathSettings::DEFAULT).unwrap(),
        Vec::<String>::new()
    );
    let p = path(&[("ca", Some(ca2.clone())), ("sub", None), ("leaf", None)]);
    assert!(run(&p, &PathSettings::DEFAULT).is_err());
    // A self-issued CA in between does not count (§6.1.4 (h)).
    let p = path(&[("ca", Some(ca2)), ("ca", None), ("leaf", None)]);
    assert_eq!(
        run(&p, &PathSettings::DEFAULT).unwrap(),
        Vec::<String>::new()
    );
    // requireExplicitPolicy 0 in the leaf itself (§6.1.5 (b)).
    let leaf = Ext {
        require: Some(0),
        ..Ext::default()
    };
    let p = path(&[("ca", None), ("leaf", Some(leaf))]);
    assert!(run(&p, &PathSettings::DEFAULT).is_err());
}

#[test]
fn a_broken_extension_refuses_the_path() {
    let mut c = base();
    let ext = CertPolicies {
        error: Some(ExtensionError::Repeated("2.5.29.32")),
        ..CertPolicies::default()
    };
    c.policy = Some(Box::new(ext));
    c.issuer_raw = b"anchor".to_vec();
    let p = vec![Arc::new(c), cert("anchor", "anchor", None)];
    assert!(matches!(
        run(&p, &PathSettings::DEFAULT),
        Err(PolicyError::Extension { .. })
    ));
}

/// CVE-2023-0464's shape: every CA asserts many policies and maps each to all of them, so a
/// literal tree multiplies by their number at each level. It is refused, quickly.
#[test]
fn exponential_mapping_is_bounded() {
    let many: Vec<&'static str> = (1..=8)
        .map(|k| &*Box::leak(format!("1.2.3.{k}").into_boxed_str()))
        .collect();
    let mut mappings = Vec::new();
    for a in &many {
        for b in &many {
            mappings.push((*a, *b));
        }
    }
    let mappings: Vec<_> = mappings.into_iter().take(MAX_MAPPINGS).collect();
    let ca = Ext {
        policies: Some(many.clone()),
        mappings,
        ..Ext::default()
    };
    let chain: Vec<(&str, Option<Ext>)> = ["a", "b", "c", "d", "e", "f", "g"]
        .iter()
        .map(|n| (*n, Some(ca.clone())))
        .chain([("leaf", Some(pols(&many)))])
        .collect();
    let p = path(&chain);
    let t = std::time::Instant::now();
    let r = run(&p, &PathSettings::DEFAULT);
    assert!(matches!(r, Err(PolicyError::TooLarge { .. })), "{r:?}");
    assert!(
        t.elapsed() < std::time::Duration::from_millis(200),
        "{:?}",
        t.elapsed()
    );
    assert!(r.unwrap_err().to_string().contains("policy tree exceeds"));
}

#[test]
fn the_signer_as_its_own_anchor_is_under_the_accepted_set() {
    let p = vec![cert("anchor", "anchor", None)];
    assert_eq!(run(&p, &PathSettings::DEFAULT).unwrap(), [ANY]);
    assert_eq!(run(&p, &only(&[P1])).unwrap(), [P1]);
}

/// The reader: a certificate made with the four extensions (certificatePolicies with a
/// qualifier, mappings, constraints, inhibitAnyPolicy) as raw DER.
#[test]
fn extensions_are_read_from_a_certificate() {
    use rcgen::CustomExtension;
    let oid_der = |s: &str| {
        let id = id(s);
        let mut v = vec![0x06, id.0.len() as u8];
        v.extend_from_slice(&id.0);
        v
    };
    let seq = |parts: &[Vec<u8>]| {
        let body: Vec<u8> = parts.concat();
        let mut v = vec![0x30, body.len() as u8];
        v.extend(body);
        v
    };
    // PolicyInformation with a CPS qualifier, which is read past.
    let cps = seq(&[oid_der("1.3.6.1.5.5.7.2.1"), b"\x16\x03abc".to_vec()]);
    let policies = seq(&[seq(&[oid_der(P1), seq(&[cps])]), seq(&[oid_der(P2)])]);
    let mappings = seq(&[seq(&[oid_der(P1), oid_der(P3)])]);
    let constraints = b"\x30\x06\x80\x01\x02\x81\x01\x00".to_vec();
    let inhibit = b"\x02\x01\x03".to_vec();
    let mut params = rcgen::CertificateParams::new(vec![]).unwrap();
    for (arc, der, critical) in [
        (&[2u64, 5, 29, 32][..], policies, true),
        (&[2, 5, 29, 33][..], mappings, true),
        (&[2, 5, 29, 36][..], constraints, true),
        (&[2, 5, 29, 54][..], inhibit, true),
    ] {
        let mut e = CustomExtension::from_oid_content(arc, der);
        e.set_criticality(critical);
        params.custom_extensions.push(e);
    }
    let key = rcgen::KeyPair::generate().unwrap();
    let c = Certificate::from_der(params.self_signed(&key).unwrap().der()).unwrap();
    assert_eq!(
        c.unknown_critical, None,
        "the four are processed, so critical is fine"
    );
    let e = c.policy.as_deref().unwrap();
    assert_eq!(e.error, None);
    assert_eq!(e.policies, Some(vec![id(P1), id(P2)]));
    assert_eq!(e.mappings, vec![(id(P1), id(P3))]);
    assert_eq!(
        (e.require_explicit_policy, e.inhibit_policy_mapping),
        (Some(2), Some(0))
    );
    assert_eq!(e.inhibit_any_policy, Some(3));

    // Without any of them, nothing is allocated.
    assert!(base().policy.is_none());
}

#[test]
fn a_malformed_policy_extension_is_recorded_not_fatal() {
    use rcgen::CustomExtension;
    let mut params = rcgen::CertificateParams::new(vec![]).unwrap();
    // A non-critical certificatePolicies that is an INTEGER, not a SEQUENCE.
    params
        .custom_extensions
        .push(CustomExtension::from_oid_content(
            &[2, 5, 29, 32],
            b"\x02\x01\x00".to_vec(),
        ));
    let key = rcgen::KeyPair::generate().unwrap();
    let c = Certificate::from_der(params.self_signed(&key).unwrap().der()).unwrap();
    let e = c.policy.as_deref().unwrap();
    assert!(
        matches!(e.error, Some(ExtensionError::Malformed { .. })),
        "{e:?}"
    );
}
