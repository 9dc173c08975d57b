//! A DER tree for tests that rewrite signatures the way an attacker or an unusual signer
//! would: parse, change a node, encode again (lengths recomputed). Single-byte tags and
//! definite lengths only, which is all OpenSSL's DER output uses.

/// One element: primitive with its value, or constructed with its children.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A primitive element.
    Prim(u8, Vec<u8>),
    /// A constructed element.
    Cons(u8, Vec<Node>),
}

impl Node {
    /// The `i`-th child of a constructed element.
    pub fn child(&mut self, i: usize) -> &mut Node {
        match self {
            Node::Cons(_, c) => &mut c[i],
            Node::Prim(..) => panic!("not constructed"),
        }
    }

    /// The children of a constructed element.
    pub fn children(&mut self) -> &mut Vec<Node> {
        match self {
            Node::Cons(_, c) => c,
            Node::Prim(..) => panic!("not constructed"),
        }
    }
}

fn read(d: &[u8]) -> (Node, usize) {
    let tag = d[0];
    let (len, hl) = match d[1] {
        l if l < 0x80 => (l as usize, 2),
        l => {
            let n = (l & 0x7f) as usize;
            let len = d[2..2 + n]
                .iter()
                .fold(0usize, |a, &b| (a << 8) | b as usize);
            (len, 2 + n)
        }
    };
    let body = &d[hl..hl + len];
    let node = if tag & 0x20 != 0 {
        let mut children = Vec::new();
        let mut at = 0;
        while at < body.len() {
            let (c, used) = read(&body[at..]);
            children.push(c);
            at += used;
        }
        Node::Cons(tag, children)
    } else {
        Node::Prim(tag, body.to_vec())
    };
    (node, hl + len)
}

/// Parses one DER element.
pub fn parse(der: &[u8]) -> Node {
    let (n, used) = read(der);
    assert_eq!(used, der.len(), "trailing bytes");
    n
}

/// Tag, DER length, value.
pub fn tlv(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = value.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(value);
    out
}

/// Encodes a tree.
pub fn encode(n: &Node) -> Vec<u8> {
    match n {
        Node::Prim(t, v) => tlv(*t, v),
        Node::Cons(t, c) => tlv(*t, &c.iter().flat_map(encode).collect::<Vec<u8>>()),
    }
}

/// The SignerInfo `i` of a CMS ContentInfo tree.
pub fn signer_info(ci: &mut Node, i: usize) -> &mut Node {
    let sd = ci.child(1).child(0);
    let infos = sd.children().last_mut().expect("signerInfos");
    infos.child(i)
}
