//! Canonical XML 1.0 (W3C REC-xml-c14n-20010315), with and without comments, and Exclusive
//! XML Canonicalization 1.0 (W3C REC-xml-exc-c14n-20020718) with an InclusiveNamespaces
//! PrefixList, over the node-sets XML-DSig references produce here: a whole document or one
//! element's subtree, optionally minus one enveloped `Signature` subtree (XML-DSig §6.6.4).
//!
//! Because those node-sets are always whole subtrees (no attribute or namespace node is
//! removed on its own), "the nearest output ancestor" of an element is its parent, except at
//! the apex, and one rule decides namespace output in both modes: a declaration is written
//! when its value differs from what the output ancestors already declared for the prefix
//! (C14N §2.3 "Namespace Nodes", exc-c14n §3 "Specification of Exclusive XML
//! Canonicalization"); the modes differ only in which declarations are candidates.

use super::parse::{Budget, XmlError};
use roxmltree::{Node, NodeType};

const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// Which canonicalization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Canonical XML 1.0: every in-scope namespace is a candidate.
    Inclusive,
    /// Exclusive C14N: only visibly utilized prefixes, plus those of the PrefixList
    /// (`""` standing for `#default`).
    Exclusive(Vec<String>),
}

/// A canonicalization method as a SignedInfo or a Transform names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Method {
    /// Inclusive or exclusive.
    pub mode: Mode,
    /// Whether comment nodes are output (`#WithComments`).
    pub comments: bool,
}

/// The node-set to canonicalize.
#[derive(Debug, Clone, Copy)]
pub struct NodeSet<'a, 'i> {
    /// The document node (whole document) or an element (its subtree).
    pub apex: Node<'a, 'i>,
    /// Subtrees left out: the enveloped signature (and, for a document signed in turn by
    /// several signers, the signatures added after it; see [`super::reference`]).
    pub exclude: &'a [Node<'a, 'i>],
    /// Whether the node-set holds comments at all (a same-document URI drops them,
    /// XML-DSig §4.4.3.3, whatever the canonicalization says).
    pub comments: bool,
}

/// Canonicalizes `set` with `method`, spending `budget` on every byte written.
pub fn canonicalize(
    set: NodeSet<'_, '_>,
    method: &Method,
    budget: &Budget,
) -> Result<Vec<u8>, XmlError> {
    let mut w = Writer {
        out: Vec::new(),
        rendered: Vec::new(),
        method,
        comments: method.comments && set.comments,
        budget,
    };
    let apex_is_doc = set.apex.node_type() == NodeType::Root;
    let root_el = set.apex.document().root_element();
    // Document order without recursion: down to the first child, else across to the next
    // sibling, else up (closing) until a sibling exists. The excluded subtree is stepped over.
    let mut node = set.apex;
    let mut entered = w.enter(node, &set, root_el, apex_is_doc)?;
    loop {
        let child = if entered { node.first_child() } else { None };
        if let Some(c) = child {
            node = c;
            entered = w.enter(node, &set, root_el, apex_is_doc)?;
            continue;
        }
        loop {
            if entered && node.is_element() {
                w.close(node)?;
            }
            if node == set.apex {
                return Ok(w.out);
            }
            if let Some(s) = node.next_sibling() {
                node = s;
                entered = w.enter(node, &set, root_el, apex_is_doc)?;
                break;
            }
            match node.parent() {
                Some(p) => {
                    node = p;
                    entered = true;
                }
                None => return Ok(w.out),
            }
        }
    }
}

struct Writer<'m, 'b> {
    out: Vec<u8>,
    /// The declarations written by the open output ancestors, innermost last:
    /// (element depth marker, prefix, uri).
    rendered: Vec<(usize, String, String)>,
    method: &'m Method,
    comments: bool,
    budget: &'b Budget,
}

impl Writer<'_, '_> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), XmlError> {
        self.budget.spend(bytes.len())?;
        self.out.extend_from_slice(bytes);
        Ok(())
    }

    /// Writes a node's start (or whole leaf), unless it is the excluded subtree: `false` then.
    fn enter(
        &mut self,
        n: Node<'_, '_>,
        set: &NodeSet<'_, '_>,
        root_el: Node<'_, '_>,
        apex_is_doc: bool,
    ) -> Result<bool, XmlError> {
        if set.exclude.contains(&n) {
            return Ok(false);
        }
        // C14N §2.1: outside the document element, a line feed separates each PI and comment
        // from the document element.
        let top = apex_is_doc && n.parent().is_some_and(|p| p.is_root());
        let after_root = top && root_el.range().end <= n.range().start;
        if top && after_root && !n.is_element() && self.wanted(n) {
            self.put(b"\n")?;
        }
        self.open(n, n == set.apex)?;
        if top && !after_root && !n.is_element() && self.wanted(n) {
            self.put(b"\n")?;
        }
        Ok(true)
    }

    fn wanted(&self, n: Node<'_, '_>) -> bool {
        match n.node_type() {
            NodeType::Comment => self.comments,
            NodeType::PI => true,
            _ => false,
        }
    }

    fn open(&mut self, n: Node<'_, '_>, is_apex: bool) -> Result<(), XmlError> {
        match n.node_type() {
            NodeType::Root => Ok(()),
            NodeType::Element => self.start_tag(n, is_apex),
            NodeType::Text => {
                let t = escape_text(n.text().unwrap_or_default());
                self.put(t.as_bytes())
            }
            NodeType::Comment if self.comments => {
                let t = format!("<!--{}-->", n.text().unwrap_or_default());
                self.put(t.as_bytes())
            }
            NodeType::Comment => Ok(()),
            NodeType::PI => match n.pi() {
                Some(pi) => {
                    let t = match pi.value.filter(|v| !v.is_empty()) {
                        Some(v) => format!("<?{} {}?>", pi.target, v),
                        None => format!("<?{}?>", pi.target),
                    };
                    self.put(t.as_bytes())
                }
                None => Ok(()),
            },
        }
    }

    fn start_tag(&mut self, n: Node<'_, '_>, is_apex: bool) -> Result<(), XmlError> {
        let depth = self.rendered.len();
        let name = element_qname(n)?;
        let mut decls = Vec::new();
        for (prefix, uri) in self.candidates(n, name) {
            self.budget.spend(self.rendered.len() + 1)?;
            let current = self
                .rendered
                .iter()
                .rev()
                .find(|(_, p, _)| *p == prefix)
                .map(|(_, _, u)| u.as_str());
            let emit = if prefix.is_empty() {
                current.unwrap_or("") != uri
            } else {
                current != Some(uri.as_str())
            };
            if emit && !decls.iter().any(|(p, _): &(String, String)| *p == prefix) {
                decls.push((prefix, uri));
            }
        }
        decls.sort();
        let mut attrs = attributes(n)?;
        if is_apex && self.method.mode == Mode::Inclusive {
            inherit_xml_attributes(n, &mut attrs)?;
        }
        attrs.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        let mut t = format!("<{name}");
        for (p, u) in &decls {
            if p.is_empty() {
                t.push_str(&format!(" xmlns=\"{}\"", escape_attr(u)));
            } else {
                t.push_str(&format!(" xmlns:{p}=\"{}\"", escape_attr(u)));
            }
        }
        for (_, _, qname, value) in &attrs {
            t.push_str(&format!(" {qname}=\"{}\"", escape_attr(value)));
        }
        t.push('>');
        // A marker entry so that close() knows how far to pop, even with no declarations.
        self.rendered
            .push((depth, String::from("\u{0}"), String::new()));
        for (p, u) in decls {
            self.rendered.push((depth, p, u));
        }
        self.put(t.as_bytes())
    }

    /// The namespace declarations that may be written on `n`, as (prefix, uri).
    fn candidates(&self, n: Node<'_, '_>, qname: &str) -> Vec<(String, String)> {
        let in_scope: Vec<(String, String)> = n
            .namespaces()
            .filter(|ns| ns.uri() != XML_NS)
            .map(|ns| (ns.name().unwrap_or("").to_owned(), ns.uri().to_owned()))
            .collect();
        let lookup = |p: &str| {
            in_scope
                .iter()
                .find(|(q, _)| q == p)
                .map_or(String::new(), |(_, u)| u.clone())
        };
        match &self.method.mode {
            Mode::Inclusive => {
                let mut c = in_scope.clone();
                if !c.iter().any(|(p, _)| p.is_empty()) {
                    c.push((String::new(), String::new()));
                }
                c
            }
            Mode::Exclusive(list) => {
                let own = prefix_of(qname);
                let mut c = vec![(own.to_owned(), lookup(own))];
                for a in n.attributes() {
                    let q = attr_qname(n, &a);
                    let p = prefix_of(q);
                    if !p.is_empty() && p != "xml" {
                        c.push((p.to_owned(), lookup(p)));
                    }
                }
                for p in list {
                    if in_scope.iter().any(|(q, _)| q == p) || p.is_empty() {
                        c.push((p.clone(), lookup(p)));
                    }
                }
                c
            }
        }
    }

    fn close(&mut self, n: Node<'_, '_>) -> Result<(), XmlError> {
        if let Some(pos) = self.rendered.iter().rposition(|(_, p, _)| p == "\u{0}") {
            self.rendered.truncate(pos);
        }
        let t = format!("</{}>", element_qname(n)?);
        self.put(t.as_bytes())
    }
}

/// (namespace uri, local name, qualified name as written, value), for sorting by the first two
/// (C14N §2.2: namespace URI as primary key, local name as secondary, unqualified first).
type Attr = (String, String, String, String);

fn attributes(n: Node<'_, '_>) -> Result<Vec<Attr>, XmlError> {
    Ok(n.attributes()
        .map(|a| {
            (
                a.namespace().unwrap_or("").to_owned(),
                a.name().to_owned(),
                attr_qname(n, &a).to_owned(),
                a.value().to_owned(),
            )
        })
        .collect())
}

/// C14N 1.0 §2.4: the apex of a document subset carries the `xml:` attributes of its
/// ancestors that it does not override.
fn inherit_xml_attributes(n: Node<'_, '_>, attrs: &mut Vec<Attr>) -> Result<(), XmlError> {
    for anc in n.ancestors().skip(1).filter(Node::is_element) {
        for a in attributes(anc)? {
            if a.0 == XML_NS && !attrs.iter().any(|b| b.0 == XML_NS && b.1 == a.1) {
                attrs.push(a);
            }
        }
    }
    Ok(())
}

/// The element's qualified name as written in its start tag.
pub fn element_qname<'i>(n: Node<'_, 'i>) -> Result<&'i str, XmlError> {
    let text = n.document().input_text();
    let rest = text
        .get(n.range().start.saturating_add(1)..)
        .ok_or_else(|| XmlError::Structure("element outside its input".into()))?;
    let end = rest
        .find(|c: char| c.is_ascii_whitespace() || c == '/' || c == '>')
        .unwrap_or(rest.len());
    rest.get(..end)
        .filter(|q| !q.is_empty())
        .ok_or_else(|| XmlError::Structure("element without a name".into()))
}

fn attr_qname<'i>(n: Node<'_, 'i>, a: &roxmltree::Attribute<'_, 'i>) -> &'i str {
    n.document()
        .input_text()
        .get(a.range_qname())
        .unwrap_or_else(|| a.name())
}

fn prefix_of(qname: &str) -> &str {
    qname.split_once(':').map_or("", |(p, _)| p)
}

/// C14N §2.3 text nodes: `&`, `<`, `>` and carriage return escaped.
fn escape_text(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '\r' => o.push_str("&#xD;"),
            c => o.push(c),
        }
    }
    o
}

/// C14N §2.3 attribute values: `&`, `<`, `"`, tab, newline and carriage return escaped.
fn escape_attr(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '"' => o.push_str("&quot;"),
            '\t' => o.push_str("&#x9;"),
            '\n' => o.push_str("&#xA;"),
            '\r' => o.push_str("&#xD;"),
            c => o.push(c),
        }
    }
    o
}

#[cfg(test)]
mod tests;
