//! GeneralName (RFC 5280 §4.2.1.6) and whether one lies within a name-constraint base
//! (§4.2.1.10), form by form.

use super::NameError;
use crate::verify::asn1::{Tlv, tag};

/// otherName `[0]` (constructed)
const OTHER_NAME: u8 = 0xA0;
/// rfc822Name `[1]` IA5String
const RFC822: u8 = 0x81;
/// dNSName `[2]` IA5String
const DNS: u8 = 0x82;
/// directoryName `[4]` Name (explicit: Name is a CHOICE)
const DIRECTORY: u8 = 0xA4;
/// uniformResourceIdentifier `[6]` IA5String
const URI: u8 = 0x86;
/// iPAddress `[7]` OCTET STRING
const IP: u8 = 0x87;

/// One GeneralName, borrowed from its encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GeneralName<'a> {
    /// An e-mail address (or, as a constraint, a host or a domain).
    Rfc822(&'a str),
    /// A DNS name.
    Dns(&'a str),
    /// A directoryName: the DER of the Name.
    Directory(&'a [u8]),
    /// A URI (as a constraint, a host or a domain).
    Uri(&'a str),
    /// An IP address (4 or 16 bytes; as a constraint, address then mask: 8 or 32).
    Ip(&'a [u8]),
    /// A form we do not check (otherName, x400Address, ediPartyName, registeredID), by its
    /// tag with the constructed bit cleared.
    Other(u8),
}

/// The forms names come in; constraints apply to names of their own form only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// rfc822Name
    Rfc822,
    /// dNSName
    Dns,
    /// directoryName
    Directory,
    /// uniformResourceIdentifier
    Uri,
    /// iPAddress
    Ip,
    /// Any other, by tag number.
    Other(u8),
}

/// Reads one GeneralName element.
pub fn read<'a>(t: &Tlv<'a>, depth: usize) -> Result<GeneralName<'a>, NameError> {
    let ia5 = |v| {
        std::str::from_utf8(v)
            .ok()
            .filter(|s| s.is_ascii())
            .ok_or(NameError::Malformed("IA5String name"))
    };
    Ok(match t.tag {
        RFC822 => GeneralName::Rfc822(ia5(t.value)?),
        DNS => GeneralName::Dns(ia5(t.value)?),
        URI => GeneralName::Uri(ia5(t.value)?),
        IP => GeneralName::Ip(t.value),
        DIRECTORY => {
            let mut r = t.children(depth)?;
            let name = r.read_tag(tag::SEQUENCE, "directoryName")?;
            r.finish("end of directoryName")?;
            GeneralName::Directory(name.raw)
        }
        // [0], [3], [5] constructed; [8] primitive. Tags outside the CHOICE are malformed.
        OTHER_NAME | 0xA3 | 0xA5 | 0x88 => GeneralName::Other(t.tag & 0x1F),
        _ => return Err(NameError::Malformed("GeneralName tag")),
    })
}

/// Whether a name lies within a base, or cannot be told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Within {
    /// It does.
    Yes,
    /// It does not.
    No,
    /// The name (or the base) is not in a form whose containment we can decide.
    Unknown,
}

impl From<bool> for Within {
    fn from(b: bool) -> Within {
        if b { Within::Yes } else { Within::No }
    }
}

/// `name` ends with `suffix`, ASCII case ignored.
fn ends_with_ci(name: &str, suffix: &str) -> bool {
    name.len() >= suffix.len()
        && name
            .get(name.len() - suffix.len()..)
            .is_some_and(|tail| tail.eq_ignore_ascii_case(suffix))
}

/// A host name as constraints can judge it: without a trailing dot (`a.example.` is
/// `a.example`), and only letters, digits, hyphens and dots. Anything else (`%2E`, an
/// underscore, non-ASCII) could spell the same host another way, so it is not judged: the
/// caller then fails closed.
fn clean_host(host: &str) -> Option<&str> {
    let host = host.strip_suffix('.').unwrap_or(host);
    let ldh = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'.';
    (!host.is_empty() && host.bytes().all(ldh)).then_some(host)
}

/// A (clean) host against a host-or-domain base, or `Unknown` when the host cannot be judged.
fn host_within_checked(host: &str, base: &str) -> Within {
    match clean_host(host) {
        Some(h) => host_within(h, base.strip_suffix('.').unwrap_or(base)).into(),
        None => Within::Unknown,
    }
}

/// A host against a host-or-domain base as URIs and mailboxes use it (§4.2.1.10): `.d`
/// admits hosts strictly below d, anything else admits that host only.
fn host_within(host: &str, base: &str) -> bool {
    if base.starts_with('.') {
        host.len() > base.len() && ends_with_ci(host, base)
    } else {
        host.eq_ignore_ascii_case(base)
    }
}

/// dNSName: the base with zero or more labels added on the left (§4.2.1.10). A base with a
/// leading dot (common in practice) admits only names strictly below it; an empty base
/// admits every name.
pub fn dns_within(name: &str, base: &str) -> Within {
    let name = name.strip_suffix('.').unwrap_or(name);
    let base = base.strip_suffix('.').unwrap_or(base);
    if base.is_empty() {
        return Within::Yes;
    }
    if base.starts_with('.') {
        return host_within(name, base).into();
    }
    let below = name.len() > base.len()
        && ends_with_ci(name, base)
        && name.as_bytes().get(name.len() - base.len() - 1) == Some(&b'.');
    (below || name.eq_ignore_ascii_case(base)).into()
}

/// rfc822Name: a base with `@` is one mailbox (local part exact, host case ignored), one
/// without is a host (`example.com`) or a domain (`.example.com`).
pub fn rfc822_within(name: &str, base: &str) -> Within {
    let Some((local, host)) = name.rsplit_once('@') else {
        return Within::Unknown;
    };
    if local.is_empty() || host.is_empty() {
        return Within::Unknown;
    }
    match base.rsplit_once('@') {
        Some((base_local, base_host)) => match clean_host(host) {
            Some(h) => (local == base_local
                && h.eq_ignore_ascii_case(base_host.strip_suffix('.').unwrap_or(base_host)))
            .into(),
            None => Within::Unknown,
        },
        None => host_within_checked(host, base),
    }
}

/// The host of a URI's authority, when it names one by a domain name (§4.2.1.10 requires
/// one; an IP literal or a URI without authority cannot be checked).
fn uri_host(uri: &str) -> Option<&str> {
    let (scheme, rest) = uri.split_once(':')?;
    if scheme.is_empty() {
        return None;
    }
    let authority = rest.strip_prefix("//")?;
    let authority = authority.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host_port.starts_with('[') {
        return None; // IPv6 literal
    }
    let host = host_port.split(':').next().unwrap_or_default();
    let is_ip = host.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    (!host.is_empty() && !is_ip).then_some(host)
}

/// uniformResourceIdentifier: the URI's host against a host or `.domain` base.
pub fn uri_within(uri: &str, base: &str) -> Within {
    match uri_host(uri) {
        Some(host) => host_within_checked(host, base),
        None => Within::Unknown,
    }
}

/// iPAddress: the base is an address and a mask of the same family (8 bytes for IPv4, 32
/// for IPv6); an address of the other family is not within it.
pub fn ip_within(addr: &[u8], base: &[u8]) -> Within {
    if !matches!(addr.len(), 4 | 16) || !matches!(base.len(), 8 | 32) {
        return Within::Unknown;
    }
    if base.len() != addr.len() * 2 {
        return Within::No;
    }
    let (net, mask) = base.split_at(addr.len());
    addr.iter()
        .zip(net)
        .zip(mask)
        .all(|((a, n), m)| a & m == n & m)
        .into()
}
