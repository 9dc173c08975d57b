//! What a signer's signature covers (RFC 5652 §5.4): its signed attributes, once they are
//! checked to bind the content, or the content itself.

use super::algorithms::HashAlg;
use super::cms::{SignedData, SignerInfo};
use super::{Content, Finding, ID_DATA};
use crate::reasons::Reason;

/// What the signature of `si` covers: its signed attributes (after checking that they bind
/// the content type and the content's digest), or the content itself when there are none.
/// `None` when there is nothing that could be verified.
pub(super) fn signed_message<'a>(
    sd: &SignedData<'_>,
    si: &'a SignerInfo<'_>,
    content: Option<Content<'a>>,
    digest: HashAlg,
    findings: &mut Vec<Finding>,
) -> Option<std::borrow::Cow<'a, [u8]>> {
    let mut fail = |reason, detail: String| findings.push(Finding { reason, detail });
    match &si.signed_attrs {
        Some(attrs) => {
            if attrs.content_type != sd.content_type {
                fail(
                    Reason::ContentMismatch,
                    format!(
                        "contentType attribute {} differs from eContentType {}",
                        attrs.content_type, sd.content_type
                    ),
                );
            }
            match content.map(|c| c.digest(digest)) {
                Some(Some(d)) if d != attrs.message_digest => fail(
                    Reason::ContentMismatch,
                    format!(
                        "{} of the content differs from messageDigest",
                        digest.name()
                    ),
                ),
                Some(None) => fail(
                    Reason::ContentMismatch,
                    format!("no {} digest of the content was computed", digest.name()),
                ),
                _ => {}
            }
            Some(attrs.signed_bytes())
        }
        None if sd.content_type != ID_DATA => {
            // RFC 5652 §5.3: other content types must be bound by signed attributes.
            fail(
                Reason::Malformed,
                format!("content type {} without signed attributes", sd.content_type),
            );
            None
        }
        None => match content {
            Some(Content::Bytes(c)) => Some(std::borrow::Cow::Borrowed(c)),
            Some(Content::Digests(d)) => {
                fail(
                    Reason::PolicyViolation,
                    format!(
                        "a signature without signed attributes over {} bytes of content \
                         kept on disk is not verified; sign with signed attributes \
                         (messageDigest), as CAdES requires",
                        d.len
                    ),
                );
                None
            }
            None => None,
        },
    }
}
