//! The `ds:Signature` element (XML-DSig §4): SignedInfo with its canonicalization, signature
//! method and references, the signature value and KeyInfo. Only the closed set of transforms
//! tamga implements is read; anything else (XSLT, XPath, base64, external data) is refused.

use super::c14n::{Method, Mode};
use roxmltree::Node;

/// The XML-DSig namespace.
pub const DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const C14N: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315";
const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
/// References in one SignedInfo: WSSE signs a Body and a Timestamp; more is not a document.
pub const MAX_REFERENCES: usize = 16;
/// Transforms in one Reference.
pub const MAX_TRANSFORMS: usize = 4;
/// Base64 text of one value (a certificate, a signature): generous for RSA-16384.
const MAX_BASE64: usize = 64 * 1024;

/// Why a Signature element cannot be checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigError {
    /// Structure missing or wrong.
    #[error("XML signature: {0}")]
    Malformed(String),
    /// An algorithm, transform or reference form tamga does not implement.
    #[error("XML signature: unsupported {0}")]
    Unsupported(String),
}

/// One transform of a Reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transform {
    /// XML-DSig §6.6.4: the Signature element that holds the transform is left out.
    Enveloped,
    /// A canonicalization, which also turns the node-set into octets.
    C14n(Method),
}

/// One Reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The URI attribute, `None` when absent.
    pub uri: Option<String>,
    /// Its transforms, in order.
    pub transforms: Vec<Transform>,
    /// The DigestMethod algorithm URI.
    pub digest_method: String,
    /// The decoded DigestValue.
    pub digest_value: Vec<u8>,
}

/// A parsed Signature element.
#[derive(Debug, Clone)]
pub struct Signature<'a, 'i> {
    /// The Signature element itself.
    pub element: Node<'a, 'i>,
    /// The SignedInfo element, which the signature value covers once canonicalized.
    pub signed_info: Node<'a, 'i>,
    /// SignedInfo's CanonicalizationMethod.
    pub c14n: Method,
    /// The SignatureMethod algorithm URI.
    pub signature_method: String,
    /// The references, at least one.
    pub references: Vec<Reference>,
    /// The decoded SignatureValue.
    pub value: Vec<u8>,
    /// KeyInfo, when present.
    pub key_info: Option<Node<'a, 'i>>,
}

/// Whether `n` is the element `{ns}local`.
pub fn is(n: Node<'_, '_>, ns: &str, local: &str) -> bool {
    n.is_element() && n.tag_name().namespace() == Some(ns) && n.tag_name().name() == local
}

/// The element children of `n` that are `{ns}local`.
pub fn children<'a, 'i>(
    n: Node<'a, 'i>,
    ns: &'static str,
    local: &'static str,
) -> impl Iterator<Item = Node<'a, 'i>> {
    n.children().filter(move |c| is(*c, ns, local))
}

fn one<'a, 'i>(n: Node<'a, 'i>, local: &'static str) -> Result<Node<'a, 'i>, SigError> {
    let mut it = children(n, DSIG, local);
    match (it.next(), it.next()) {
        (Some(c), None) => Ok(c),
        (None, _) => Err(SigError::Malformed(format!("no {local}"))),
        _ => Err(SigError::Malformed(format!("more than one {local}"))),
    }
}

fn algorithm(n: Node<'_, '_>) -> Result<String, SigError> {
    n.attribute("Algorithm")
        .map(str::to_owned)
        .ok_or_else(|| SigError::Malformed(format!("{} without Algorithm", n.tag_name().name())))
}

/// Decodes base64 text, ignoring the whitespace (and `&#13;`) that XML-DSig allows inside.
pub fn base64(text: &str, what: &str) -> Result<Vec<u8>, SigError> {
    use base64::Engine;
    if text.len() > MAX_BASE64 {
        return Err(SigError::Malformed(format!("{what} too long")));
    }
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|_| SigError::Malformed(format!("{what} is not base64")))
}

/// All the text of an element (its text children, which CDATA and references can split).
pub fn text_of(n: Node<'_, '_>) -> String {
    n.children().filter_map(|c| c.text()).collect()
}

/// A canonicalization method by URI, with its InclusiveNamespaces PrefixList for exc-c14n.
pub fn method(uri: &str, el: Node<'_, '_>) -> Option<Method> {
    let (mode, comments) = match uri.strip_prefix(C14N) {
        Some("") => (Mode::Inclusive, false),
        Some("#WithComments") => (Mode::Inclusive, true),
        _ => match uri.strip_prefix(EXC_C14N) {
            Some(rest @ ("" | "WithComments")) => {
                (Mode::Exclusive(prefix_list(el)), !rest.is_empty())
            }
            _ => return None,
        },
    };
    Some(Method { mode, comments })
}

/// exc-c14n §3: `InclusiveNamespaces/@PrefixList`, whitespace-separated, `#default` for the
/// default namespace.
fn prefix_list(el: Node<'_, '_>) -> Vec<String> {
    el.children()
        .filter(|c| c.is_element() && c.tag_name().name() == "InclusiveNamespaces")
        .filter(|c| c.tag_name().namespace() == Some(EXC_C14N))
        .filter_map(|c| c.attribute("PrefixList"))
        .flat_map(str::split_ascii_whitespace)
        .take(64)
        .map(|p| if p == "#default" { "" } else { p }.to_owned())
        .collect()
}

/// Reads a Signature element.
pub fn read<'a, 'i>(element: Node<'a, 'i>) -> Result<Signature<'a, 'i>, SigError> {
    let signed_info = one(element, "SignedInfo")?;
    let cm = one(signed_info, "CanonicalizationMethod")?;
    let cm_uri = algorithm(cm)?;
    let c14n = method(&cm_uri, cm)
        .ok_or_else(|| SigError::Unsupported(format!("canonicalization {cm_uri}")))?;
    let signature_method = algorithm(one(signed_info, "SignatureMethod")?)?;
    let mut references = Vec::new();
    for r in children(signed_info, DSIG, "Reference") {
        if references.len() == MAX_REFERENCES {
            return Err(SigError::Malformed("too many references".into()));
        }
        references.push(reference(r)?);
    }
    if references.is_empty() {
        return Err(SigError::Malformed("SignedInfo without a Reference".into()));
    }
    let value = base64(&text_of(one(element, "SignatureValue")?), "SignatureValue")?;
    let mut ki = children(element, DSIG, "KeyInfo");
    let key_info = ki.next();
    if ki.next().is_some() {
        return Err(SigError::Malformed("more than one KeyInfo".into()));
    }
    Ok(Signature {
        element,
        signed_info,
        c14n,
        signature_method,
        references,
        value,
        key_info,
    })
}

fn reference(r: Node<'_, '_>) -> Result<Reference, SigError> {
    let mut transforms = Vec::new();
    let mut groups = children(r, DSIG, "Transforms");
    if let Some(ts) = groups.next() {
        for t in children(ts, DSIG, "Transform") {
            if transforms.len() == MAX_TRANSFORMS {
                return Err(SigError::Malformed("too many transforms".into()));
            }
            let uri = algorithm(t)?;
            let tr = if uri == ENVELOPED {
                Transform::Enveloped
            } else {
                method(&uri, t)
                    .map(Transform::C14n)
                    .ok_or_else(|| SigError::Unsupported(format!("transform {uri}")))?
            };
            transforms.push(tr);
        }
    }
    if groups.next().is_some() {
        return Err(SigError::Malformed("more than one Transforms".into()));
    }
    // A canonicalization ends the node-set: nothing may follow it (we implement no
    // octet-stream transform).
    if let Some(pos) = transforms
        .iter()
        .position(|t| matches!(t, Transform::C14n(_)))
        && pos + 1 != transforms.len()
    {
        return Err(SigError::Unsupported(
            "transform after a canonicalization".into(),
        ));
    }
    Ok(Reference {
        uri: r.attribute("URI").map(str::to_owned),
        transforms,
        digest_method: algorithm(one(r, "DigestMethod")?)?,
        digest_value: base64(&text_of(one(r, "DigestValue")?), "DigestValue")?,
    })
}
