//! What a signature must cover, by the document's kind, and WS-Security key references.
//!
//! An enveloped XML-DSig document is signed as a whole: some reference must cover the root.
//! A SOAP message (SmartBridge WSSE, OASIS WSS 1.1 SOAP Message Security) is signed for its
//! Body: the Envelope must have exactly one Body, and some reference must resolve to that very
//! element. Checking the element a reference resolves to, not the id it names, is what refuses
//! XML signature wrapping (McIntyre et al.; the signed Body moved under a wrapper and a new
//! Body put in its place resolves to the moved one, which is not the Envelope's Body).

use super::reference::{Ids, Target};
use super::signed_info::{SigError, base64, children, is, text_of};
use roxmltree::{Document, Node};

const SOAP11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
const SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";
/// The WS-Security extension namespace (`wsse:`).
pub const WSSE: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";

/// The element a signature must cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected<'a, 'i> {
    /// Enveloped: the document element.
    Root(Node<'a, 'i>),
    /// WSSE: the Envelope's one Body.
    SoapBody(Node<'a, 'i>),
}

impl<'a, 'i> Expected<'a, 'i> {
    /// What a report calls it.
    pub fn name(self) -> &'static str {
        match self {
            Expected::Root(_) => "the document element",
            Expected::SoapBody(_) => "the SOAP Body",
        }
    }

    /// Whether a reference's target covers this element.
    pub fn covered_by(self, t: Target<'a, 'i>) -> bool {
        match (self, t) {
            (_, Target::Document) => true,
            (Expected::Root(e) | Expected::SoapBody(e), Target::Element(n)) => {
                e == n || e.ancestors().any(|a| a == n)
            }
        }
    }
}

/// The element signatures in `doc` must cover.
pub fn expected<'a, 'i>(doc: &'a Document<'i>) -> Result<Expected<'a, 'i>, SigError> {
    let root = doc.root_element();
    let ns = match root.tag_name().namespace() {
        Some(ns @ (SOAP11 | SOAP12)) if root.tag_name().name() == "Envelope" => ns,
        _ => return Ok(Expected::Root(root)),
    };
    let mut bodies = root
        .children()
        .filter(|c| c.is_element() && c.tag_name().namespace() == Some(ns))
        .filter(|c| c.tag_name().name() == "Body");
    match (bodies.next(), bodies.next()) {
        (Some(b), None) => Ok(Expected::SoapBody(b)),
        (None, _) => Err(SigError::Malformed("SOAP Envelope without a Body".into())),
        _ => Err(SigError::Malformed(
            "SOAP Envelope with more than one Body".into(),
        )),
    }
}

/// The certificate a `wsse:SecurityTokenReference` in KeyInfo points at: a
/// `wsse:Reference URI="#id"` to a `wsse:BinarySecurityToken` (X.509 v3, base64 DER).
pub fn token_certificate(
    key_info: Node<'_, '_>,
    ids: &Ids<'_, '_>,
) -> Result<Option<Vec<u8>>, SigError> {
    let Some(str_el) = children(key_info, WSSE, "SecurityTokenReference").next() else {
        return Ok(None);
    };
    let Some(uri) = children(str_el, WSSE, "Reference")
        .next()
        .and_then(|r| r.attribute("URI"))
    else {
        return Err(SigError::Unsupported(
            "SecurityTokenReference without a Reference URI".into(),
        ));
    };
    let id = uri
        .strip_prefix('#')
        .ok_or_else(|| SigError::Unsupported(format!("external security token {uri:?}")))?;
    let token = ids.get(id)?;
    if !is(token, WSSE, "BinarySecurityToken") {
        return Err(SigError::Unsupported(format!(
            "security token {id:?} is not a BinarySecurityToken"
        )));
    }
    let vt = token.attribute("ValueType").unwrap_or_default();
    if !vt.ends_with("#X509v3") {
        return Err(SigError::Unsupported(format!("security token type {vt:?}")));
    }
    base64(&text_of(token), "BinarySecurityToken").map(Some)
}
