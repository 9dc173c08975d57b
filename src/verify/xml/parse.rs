//! Bounded XML parsing: roxmltree under explicit limits on size, nodes, depth, attributes and
//! namespace declarations, plus a work budget that canonicalization spends.
//!
//! roxmltree refuses a DTD by default (`allow_dtd: false` gives `DtdDetected`), so no entity
//! other than the five predefined ones and character references can be expanded: a
//! billion-laughs document is refused at its `<!DOCTYPE`, before any expansion. Its parser is
//! iterative, so nesting costs no stack; the depth limit here keeps the canonicalizer's
//! per-element state (and a wrapping attack's hiding places) small.

use std::cell::Cell;

/// The largest XML document accepted. Signed XML that reaches a chancellery is a form or a
/// SOAP message of kilobytes; attachments travel as CMS.
pub const MAX_INPUT: usize = 16 * 1024 * 1024;
/// Nodes (elements, texts, comments, PIs) in one document.
pub const MAX_NODES: u32 = 200_000;
/// Element nesting depth.
pub const MAX_DEPTH: usize = 256;
/// Attributes on one element.
pub const MAX_ATTRIBUTES: usize = 64;
/// Namespace declarations in the whole document. roxmltree copies the in-scope namespaces of
/// a parent into every child that declares one more, so unbounded declarations cost
/// nodes × declarations memory; real documents declare a handful.
pub const MAX_NAMESPACE_DECLS: usize = 256;

/// Why the input is not XML we read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    /// Larger than [`MAX_INPUT`].
    #[error("XML document larger than {MAX_INPUT} bytes")]
    TooLarge,
    /// Not UTF-8 (the only encoding the national tools produce).
    #[error("XML document is not UTF-8")]
    NotUtf8,
    /// A DTD (`<!DOCTYPE`): refused, so no entity can be declared.
    #[error("XML with a DTD is refused (entities are not expanded)")]
    Dtd,
    /// A limit of this module was reached.
    #[error("XML document exceeds the limit on {0}")]
    Limit(&'static str),
    /// The work budget of canonicalization ran out.
    #[error("XML verification exceeded its work budget")]
    Budget,
    /// The parser's own error.
    #[error("XML is not well-formed: {0}")]
    Syntax(String),
    /// Well-formed XML that is not what a signature needs, named.
    #[error("{0}")]
    Structure(String),
}

/// Parses `input` under the limits above. The document borrows the input.
pub fn parse(input: &[u8]) -> Result<roxmltree::Document<'_>, XmlError> {
    if input.len() > MAX_INPUT {
        return Err(XmlError::TooLarge);
    }
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    let text = std::str::from_utf8(input).map_err(|_| XmlError::NotUtf8)?;
    if declarations(text) > MAX_NAMESPACE_DECLS {
        return Err(XmlError::Limit("namespace declarations"));
    }
    let options = roxmltree::ParsingOptions {
        allow_dtd: false,
        nodes_limit: MAX_NODES,
        ..roxmltree::ParsingOptions::default()
    };
    let doc = roxmltree::Document::parse_with_options(text, options).map_err(|e| match e {
        roxmltree::Error::DtdDetected => XmlError::Dtd,
        roxmltree::Error::NodesLimitReached => XmlError::Limit("nodes"),
        other => XmlError::Syntax(other.to_string()),
    })?;
    check_shape(&doc)?;
    Ok(doc)
}

/// Depth and attribute counts, in one pass in document order (a node's parent comes before
/// it, so its depth is known when the node is reached).
fn check_shape(doc: &roxmltree::Document<'_>) -> Result<(), XmlError> {
    let mut depth = vec![0u16; doc.descendants().count()];
    for node in doc.descendants() {
        let d = node
            .parent()
            .and_then(|p| depth.get(p.id().get_usize()).copied())
            .map_or(0, |d| d.saturating_add(1));
        if usize::from(d) > MAX_DEPTH {
            return Err(XmlError::Limit("depth"));
        }
        if let Some(slot) = depth.get_mut(node.id().get_usize()) {
            *slot = d;
        }
        if node.attributes().len() > MAX_ATTRIBUTES {
            return Err(XmlError::Limit("attributes per element"));
        }
    }
    Ok(())
}

/// Namespace declarations in the tags of `text`: `xmlns` met inside a start tag, so that text
/// content, comments, CDATA and processing instructions (escaped XML embedded in a form, say)
/// count for nothing. Counted before parsing, because the cost it bounds is incurred while
/// parsing; an `xmlns` inside an attribute value counts too, which only errs on the safe side.
fn declarations(text: &str) -> usize {
    let mut rest = text;
    let mut n = 0;
    while let Some(lt) = rest.find('<') {
        rest = rest.get(lt..).unwrap_or_default();
        // Markup whose content is not attributes: skipped to its end.
        let skip = [
            ("<!--", "-->"),
            ("<![CDATA[", "]]>"),
            ("<?", "?>"),
            ("<!", ">"),
        ]
        .into_iter()
        .find(|(open, _)| rest.starts_with(open));
        let end = match skip {
            Some((_, close)) => rest.find(close).map(|i| i + close.len()),
            None => tag_end(rest),
        };
        let end = end.unwrap_or(rest.len());
        if skip.is_none() {
            n += rest.get(..end).unwrap_or_default().matches("xmlns").count();
        }
        rest = rest.get(end.max(1)..).unwrap_or_default();
    }
    n
}

/// Where the tag at the start of `s` ends (just past its `>`), quoted values read as such.
fn tag_end(s: &str) -> Option<usize> {
    let mut quote = None;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), _) if c == q => quote = None,
            (None, '>') => return Some(i + 1),
            _ => {}
        }
    }
    None
}

/// A work budget in bytes of canonical output (and namespace look-ups), shared by every
/// reference and SignedInfo of one document: with many signatures each referencing the whole
/// document, the work would otherwise grow as signatures × references × size.
#[derive(Debug)]
pub struct Budget {
    left: Cell<u64>,
}

impl Budget {
    /// A budget proportional to the input: enough for every legitimate document, whose
    /// signatures each digest the document once, and a fixed floor for small ones.
    pub fn for_input(len: usize) -> Self {
        let len = u64::try_from(len).unwrap_or(u64::MAX);
        Budget {
            left: Cell::new(len.saturating_mul(16).saturating_add(4 * 1024 * 1024)),
        }
    }

    /// Spends `n` units, or fails when they are not there.
    pub fn spend(&self, n: usize) -> Result<(), XmlError> {
        let n = u64::try_from(n).unwrap_or(u64::MAX);
        match self.left.get().checked_sub(n) {
            Some(rest) => {
                self.left.set(rest);
                Ok(())
            }
            None => Err(XmlError::Budget),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn billion_laughs_is_refused_at_the_dtd_quickly() {
        let mut doc = String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n");
        doc.push_str(" <!ENTITY lol \"lol\">\n");
        for i in 1..10 {
            let prev = if i == 1 {
                "lol".to_string()
            } else {
                format!("lol{}", i - 1)
            };
            let body = format!("&{prev};").repeat(10);
            doc.push_str(&format!(" <!ENTITY lol{i} \"{body}\">\n"));
        }
        doc.push_str("]>\n<lolz>&lol9;</lolz>");
        let t = Instant::now();
        assert_eq!(parse(doc.as_bytes()).err(), Some(XmlError::Dtd));
        assert!(t.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn deep_document_is_refused_quickly() {
        let n = 20_000;
        let doc = format!("{}{}", "<a>".repeat(n), "</a>".repeat(n));
        let t = Instant::now();
        assert_eq!(parse(doc.as_bytes()).err(), Some(XmlError::Limit("depth")));
        assert!(t.elapsed() < Duration::from_secs(2));
        // Just under the limit is fine.
        let ok = format!("{}{}", "<a>".repeat(200), "</a>".repeat(200));
        assert!(parse(ok.as_bytes()).is_ok());
    }

    #[test]
    fn limits_on_nodes_attributes_namespaces_and_size() {
        let many = format!("<r>{}</r>", "<a/>".repeat(MAX_NODES as usize + 1));
        assert_eq!(parse(many.as_bytes()).err(), Some(XmlError::Limit("nodes")));
        let attrs: String = (0..=MAX_ATTRIBUTES).map(|i| format!(" a{i}='x'")).collect();
        let wide = format!("<r{attrs}/>");
        assert_eq!(
            parse(wide.as_bytes()).err(),
            Some(XmlError::Limit("attributes per element"))
        );
        let ns: String = (0..=MAX_NAMESPACE_DECLS)
            .map(|i| format!("<e xmlns:p{i}='u'/>"))
            .collect();
        let nsdoc = format!("<r>{ns}</r>");
        assert_eq!(
            parse(nsdoc.as_bytes()).err(),
            Some(XmlError::Limit("namespace declarations"))
        );
        let big = vec![b' '; MAX_INPUT + 1];
        assert_eq!(parse(&big).err(), Some(XmlError::TooLarge));
        assert_eq!(parse(b"<a>\xff</a>").err(), Some(XmlError::NotUtf8));
    }

    /// Escaped XML in text content, comments and CDATA declares no namespace: a form that
    /// embeds a document is read; the same declarations in tags are counted.
    #[test]
    fn namespace_declarations_count_in_tags_only() {
        let decls: String = (0..=MAX_NAMESPACE_DECLS)
            .map(|i| format!(" xmlns:p{i}='u'"))
            .collect();
        let escaped = format!(
            "<r><t>&lt;e{decls}/&gt;</t><!--{decls}--><![CDATA[<e{decls}/>]]><?pi {decls}?></r>"
        );
        assert!(parse(escaped.as_bytes()).is_ok());
        let attr = format!("<r a='>'><e{decls}/></r>");
        assert_eq!(
            parse(attr.as_bytes()).err(),
            Some(XmlError::Limit("namespace declarations"))
        );
    }

    #[test]
    fn budget_runs_out() {
        let b = Budget::for_input(0);
        assert!(b.spend(4 * 1024 * 1024).is_ok());
        assert_eq!(b.spend(1), Err(XmlError::Budget));
    }
}
