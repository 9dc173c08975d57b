//! Same-document references (XML-DSig §4.4.3.3): `URI=""` (the whole document, comments
//! left out) and `URI="#id"` (the element whose `Id`, `ID` or `wsu:Id` is `id`). An id that
//! names two elements is refused: which one a verifier picks is exactly what an XML
//! signature wrapping attack exploits. External URIs and XPointer forms are refused.

use super::c14n::{self, Method, Mode, NodeSet};
use super::parse::{Budget, XmlError};
use super::signed_info::{self, DSIG, Reference, SigError, Transform};
use roxmltree::{Document, Node};
use std::collections::HashMap;

/// The WS-Security utility namespace (`wsu:Id`).
pub const WSU: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";

/// The elements of a document by id, with duplicated ids marked.
#[derive(Debug, Default)]
pub struct Ids<'a, 'i> {
    by_id: HashMap<&'a str, Option<Node<'a, 'i>>>,
}

impl<'a, 'i> Ids<'a, 'i> {
    /// Collects `Id`, `ID` and `wsu:Id` over the document. An element that carries the same
    /// value in two of them counts once.
    pub fn collect(doc: &'a Document<'i>) -> Self {
        let mut by_id: HashMap<&'a str, Option<Node<'a, 'i>>> = HashMap::new();
        for n in doc.descendants().filter(Node::is_element) {
            let mut own: Vec<&'a str> = Vec::new();
            for a in n.attributes() {
                let ns = a.namespace();
                let is_id = matches!((ns, a.name()), (None, "Id" | "ID") | (Some(WSU), "Id"));
                if is_id && !own.contains(&a.value()) {
                    own.push(a.value());
                }
            }
            for id in own {
                by_id.entry(id).and_modify(|e| *e = None).or_insert(Some(n));
            }
        }
        Ids { by_id }
    }

    /// The element with this id. Errors when none or several carry it.
    pub fn get(&self, id: &str) -> Result<Node<'a, 'i>, SigError> {
        match self.by_id.get(id) {
            Some(Some(n)) => Ok(*n),
            Some(None) => Err(SigError::Malformed(format!(
                "id {id:?} is carried by more than one element"
            ))),
            None => Err(SigError::Malformed(format!("no element has id {id:?}"))),
        }
    }
}

/// What a reference points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a, 'i> {
    /// `URI=""`: the whole document.
    Document,
    /// `URI="#id"`: one element's subtree.
    Element(Node<'a, 'i>),
}

/// Resolves a reference's URI.
pub fn target<'a, 'i>(r: &Reference, ids: &Ids<'a, 'i>) -> Result<Target<'a, 'i>, SigError> {
    match r.uri.as_deref() {
        Some("") => Ok(Target::Document),
        Some(u) if u.starts_with("#xpointer(") => {
            Err(SigError::Unsupported(format!("XPointer reference {u}")))
        }
        Some(u) => match u.strip_prefix('#') {
            Some(id) if !id.is_empty() => ids.get(id).map(Target::Element),
            _ => Err(SigError::Unsupported(format!("external reference {u:?}"))),
        },
        None => Err(SigError::Unsupported(
            "reference without URI (application-defined data)".into(),
        )),
    }
}

/// Why a reference's octets could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefError {
    /// The reference itself.
    #[error("{0}")]
    Sig(#[from] SigError),
    /// Limits while canonicalizing.
    #[error("{0}")]
    Xml(#[from] XmlError),
}

/// The octets a reference's digest is computed over: its target's node-set, the enveloped
/// `signature` left out when the transforms say so (with the signatures in `later`, from
/// [`later_siblings`], when
/// given), canonicalized by the last transform or, without one, by Canonical XML 1.0 without
/// comments (XML-DSig §4.4.3.2).
///
/// `later` serves documents signed in turn: KalkanCrypt adds a second enveloped signature
/// beside the first, over the document that already holds the first, so the first signer's
/// digest is over the document as it stood before the later signatures were added (checked
/// on the corpus file signed-two-signers-rsa-gost2015.xml; strict XML-DSig, and xmlsec1, find
/// its first reference changed). The caller tries the strict form first.
pub fn octets<'a, 'i>(
    doc: &'a Document<'i>,
    target: Target<'a, 'i>,
    r: &Reference,
    signature: Node<'a, 'i>,
    later: &[Node<'a, 'i>],
    budget: &Budget,
) -> Result<Vec<u8>, RefError> {
    let apex = match target {
        Target::Document => doc.root(),
        Target::Element(n) => n,
    };
    let mut exclude = Vec::new();
    let mut method = Method {
        mode: Mode::Inclusive,
        comments: false,
    };
    for t in &r.transforms {
        match t {
            Transform::Enveloped => {
                if !apex.is_root() && !signature.ancestors().any(|a| a == apex) {
                    return Err(SigError::Malformed(
                        "enveloped-signature transform on a reference that does not hold \
                         the signature"
                            .into(),
                    )
                    .into());
                }
                exclude.push(signature);
                exclude.extend_from_slice(later);
            }
            Transform::C14n(m) => method = m.clone(),
        }
    }
    let set = NodeSet {
        apex,
        exclude: &exclude,
        // Both same-document forms drop comments (XML-DSig §4.4.3.3).
        comments: false,
    };
    Ok(c14n::canonicalize(set, &method, budget)?)
}

/// The signatures a signer's digest may have been computed without (see [`octets`]): the
/// `ds:Signature` elements that follow `signature` as siblings under the same parent, each
/// itself an enveloped whole-document (`URI=""`) signature — the KalkanCrypt shape of a
/// document signed in turn, every signer's Signature appended to the root. Any other later
/// signature is content: one inserted inside a signed element would otherwise hide what it
/// wraps from the digest, so a document changed after signing would verify. Empty when a
/// following sibling Signature is not of that shape: then no fallback at all.
pub fn later_siblings<'a, 'i>(signature: Node<'a, 'i>) -> Vec<Node<'a, 'i>> {
    let mut out = Vec::new();
    for n in signature
        .next_siblings()
        .skip(1)
        .filter(|n| signed_info::is(*n, DSIG, "Signature"))
    {
        let whole = signed_info::read(n).is_ok_and(|s| {
            s.references
                .iter()
                .any(|r| r.uri.as_deref() == Some("") && is_enveloped(r))
        });
        if !whole || out.len() == super::MAX_SIGNATURES {
            return Vec::new();
        }
        out.push(n);
    }
    out
}

/// Whether a reference has the enveloped-signature transform.
pub fn is_enveloped(r: &Reference) -> bool {
    r.transforms.contains(&Transform::Enveloped)
}
