//! The valid_policy_tree of RFC 5280 §6.1, step by step as the RFC writes it.
//!
//! Nodes live in one vector in order of depth (every step appends at the deepest level), so
//! "the nodes of depth i" is a tail of the vector and pruning is one backward pass. Qualifiers
//! are not kept (see the module above). Deleted nodes stay in place, marked dead.
//!
//! The tree is bounded: policy mappings can make it grow exponentially with the path's length
//! (CVE-2023-0464 in OpenSSL), so node count and work are capped and a path over the cap is
//! refused rather than computed. A path whose certificates carry no policy extension never
//! allocates a node: the first certificate without certificatePolicies makes the tree NULL
//! before the root is built.

use super::{ANY_POLICY, CertPolicies, ExtensionError, InitialPolicies, PathSettings, PolicyId};
use crate::verify::certificate::Certificate;
use std::sync::Arc;

/// Most nodes one path may create. PKITS needs under 20; a national PKI a handful.
const MAX_NODES: usize = 1024;
/// Most elementary steps (node visits) one path may spend.
const MAX_WORK: usize = 200_000;

const NO_PARENT: usize = usize::MAX;

/// Why policy processing refused a path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// §6.1.3 (f) or §6.1.5: no acceptable policy holds where one is required.
    #[error(
        "no acceptable certificate policy holds at {subject}, and an explicit policy is required"
    )]
    NoPolicy {
        /// The certificate at which the requirement failed.
        subject: String,
    },
    /// The path is valid (§6.1.6) but under none of the policies this service accepts. RFC 5280
    /// leaves that judgement to the relying party; tamga refuses, as PKITS expects (4.8.6,
    /// 4.10.1): a service configured with its policies wants them, not merely a valid path.
    #[error(
        "none of the accepted certificate policies ({accepted}) holds along the path to {subject}"
    )]
    NotAccepted {
        /// The leaf.
        subject: String,
        /// The accepted policies, dotted, comma-separated.
        accepted: String,
    },
    /// §6.1.4 (a): anyPolicy may not be mapped, nor mapped to.
    #[error("{subject} maps anyPolicy in policyMappings")]
    MapsAnyPolicy {
        /// The certificate.
        subject: String,
    },
    /// A policy extension cannot be used.
    #[error("{subject}: {error}")]
    Extension {
        /// The certificate.
        subject: String,
        /// What is wrong.
        error: ExtensionError,
    },
    /// The tree outgrew its bounds.
    #[error(
        "the certificate policy tree exceeds {MAX_NODES} nodes or {MAX_WORK} steps at {subject} \
         (policy mappings multiply it); the path is refused rather than computed"
    )]
    TooLarge {
        /// The certificate at which it overflowed.
        subject: String,
    },
}

struct Node<'a> {
    policy: &'a PolicyId,
    expected: Vec<&'a PolicyId>,
    parent: usize,
    depth: usize,
    live: bool,
}

/// The tree: still the bare root {anyPolicy} (not yet allocated), grown, or NULL.
enum Tree<'a> {
    Root,
    Grown(Vec<Node<'a>>),
    Null,
}

struct Overflow;

struct State<'a> {
    tree: Tree<'a>,
    explicit: u64,
    inhibit_any: u64,
    mapping: u64,
    work: usize,
}

/// Runs §6.1 policy processing over `path` (leaf first, trust anchor last; the anchor's own
/// extensions are not processed, §6.1.1 (d)). Returns the user-constrained policy set (§6.1.6):
/// the policies in force, `[anyPolicy]` when any would do, or nothing when no policy holds and
/// none is required.
pub fn process(
    path: &[Arc<Certificate>],
    settings: &PathSettings,
) -> Result<Vec<PolicyId>, PolicyError> {
    let n = path.len().saturating_sub(1);
    let certs = path.get(..n).unwrap_or_default();
    if n == 0 {
        // The signer is itself a trust anchor: trusted as configured, under the accepted set.
        return Ok(match &settings.initial_policies {
            InitialPolicies::Any => vec![ANY_POLICY.clone()],
            InitialPolicies::Only(set) => set.clone(),
        });
    }
    let start = |inhibit: bool| if inhibit { 0 } else { n as u64 + 1 };
    let mut st = State {
        tree: Tree::Root,
        explicit: start(settings.require_explicit_policy),
        inhibit_any: start(settings.inhibit_any_policy),
        mapping: start(settings.inhibit_policy_mapping),
        work: 0,
    };
    for (k, cert) in certs.iter().rev().enumerate() {
        let i = k + 1;
        st.certificate(cert, i, n)
            .map_err(|e| e.at(&cert.subject))?;
    }
    let leaf = certs
        .first()
        .map(|c| c.subject.as_str())
        .unwrap_or_default();
    // §6.1.5 (a), (b).
    st.explicit = st.explicit.saturating_sub(1);
    let leaf_ext = certs.first().and_then(|c| c.policy.as_deref());
    if leaf_ext.and_then(|e| e.require_explicit_policy) == Some(0) {
        st.explicit = 0;
    }
    // §6.1.5 (g).
    if let InitialPolicies::Only(set) = &settings.initial_policies {
        st.intersect(set, n)
            .map_err(|Overflow| PolicyError::TooLarge {
                subject: leaf.into(),
            })?;
    }
    let in_force = st.in_force(n);
    if !in_force.is_empty() {
        return Ok(in_force);
    }
    match &settings.initial_policies {
        _ if st.explicit == 0 => Err(PolicyError::NoPolicy {
            subject: leaf.into(),
        }),
        InitialPolicies::Any => Ok(in_force),
        InitialPolicies::Only(set) => Err(PolicyError::NotAccepted {
            subject: leaf.into(),
            accepted: set
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// A failure before the subject is known.
enum Step {
    NoPolicy,
    MapsAny,
    Extension(ExtensionError),
    Overflow,
}

impl From<Overflow> for Step {
    fn from(_: Overflow) -> Step {
        Step::Overflow
    }
}

impl Step {
    fn at(self, subject: &str) -> PolicyError {
        let subject = subject.to_owned();
        match self {
            Step::NoPolicy => PolicyError::NoPolicy { subject },
            Step::MapsAny => PolicyError::MapsAnyPolicy { subject },
            Step::Extension(error) => PolicyError::Extension { subject, error },
            Step::Overflow => PolicyError::TooLarge { subject },
        }
    }
}

impl<'a> State<'a> {
    /// §6.1.3 (d)–(f) for certificate `i` of `n`, then §6.1.4 (a), (b), (h)–(j) unless it is
    /// the last.
    fn certificate(&mut self, cert: &'a Certificate, i: usize, n: usize) -> Result<(), Step> {
        let ext: Option<&'a CertPolicies> = cert.policy.as_deref();
        if let Some(e) = ext.and_then(|e| e.error.clone()) {
            return Err(Step::Extension(e));
        }
        match ext.and_then(|e| e.policies.as_ref()) {
            // (e)
            None => self.tree = Tree::Null,
            // (d)
            Some(pols) => {
                let any_ok = self.inhibit_any > 0 || (i < n && cert.self_issued());
                self.grow(pols, i, any_ok)?;
            }
        }
        // (f)
        if self.explicit == 0 && matches!(self.tree, Tree::Null) {
            return Err(Step::NoPolicy);
        }
        if i == n {
            return Ok(());
        }
        let Some(ext) = ext else {
            self.count_down(cert);
            return Ok(());
        };
        // §6.1.4 (a)
        if ext.mappings.iter().any(|(a, b)| a.is_any() || b.is_any()) {
            return Err(Step::MapsAny);
        }
        // (b)
        if !ext.mappings.is_empty() {
            self.map(&ext.mappings, i)?;
        }
        self.count_down(cert);
        // (i), (j): a constraint only ever tightens a counter.
        let tighten = |counter: &mut u64, to: Option<u32>| {
            if let Some(v) = to.map(u64::from).filter(|v| *v < *counter) {
                *counter = v;
            }
        };
        tighten(&mut self.explicit, ext.require_explicit_policy);
        tighten(&mut self.mapping, ext.inhibit_policy_mapping);
        tighten(&mut self.inhibit_any, ext.inhibit_any_policy);
        Ok(())
    }

    /// §6.1.4 (h): self-issued certificates do not count.
    fn count_down(&mut self, cert: &Certificate) {
        if !cert.self_issued() {
            self.explicit = self.explicit.saturating_sub(1);
            self.mapping = self.mapping.saturating_sub(1);
            self.inhibit_any = self.inhibit_any.saturating_sub(1);
        }
    }

    fn nodes(&mut self) -> Option<&mut Vec<Node<'a>>> {
        if matches!(self.tree, Tree::Root) {
            self.tree = Tree::Grown(vec![Node {
                policy: &ANY_POLICY,
                expected: vec![&ANY_POLICY],
                parent: NO_PARENT,
                depth: 0,
                live: true,
            }]);
        }
        match &mut self.tree {
            Tree::Grown(v) => Some(v),
            _ => None,
        }
    }

    fn spend(&mut self, steps: usize) -> Result<(), Overflow> {
        self.work = self.work.saturating_add(steps);
        if self.work > MAX_WORK {
            return Err(Overflow);
        }
        Ok(())
    }

    /// §6.1.3 (d): children at depth `i` for the policies of certificate `i`, then pruning.
    fn grow(&mut self, pols: &'a [PolicyId], i: usize, any_ok: bool) -> Result<(), Overflow> {
        let Some(nodes) = self.nodes() else {
            return Ok(());
        };
        let parents: Vec<usize> = (0..nodes.len())
            .filter(|&p| nodes.get(p).is_some_and(|x| x.live && x.depth + 1 == i))
            .collect();
        let mut added: Vec<Node<'a>> = Vec::new();
        let mut steps = 0usize;
        for p in pols.iter().filter(|p| !p.is_any()) {
            // (d)(1)(i): under every parent that expects P …
            let mut matched = false;
            for &q in &parents {
                steps += 1;
                if nodes.get(q).is_some_and(|x| x.expected.contains(&p)) {
                    added.push(child(p, vec![p], q, i));
                    matched = true;
                }
            }
            // (ii) … else under the parent whose valid_policy is anyPolicy.
            if !matched {
                let any = parents
                    .iter()
                    .copied()
                    .find(|&q| nodes.get(q).is_some_and(|x| x.policy.is_any()));
                if let Some(q) = any {
                    added.push(child(p, vec![p], q, i));
                }
            }
        }
        // (d)(2): anyPolicy in the certificate stands for every expected policy not yet a child.
        if any_ok && pols.iter().any(PolicyId::is_any) {
            for &q in &parents {
                let expected = nodes.get(q).map(|x| x.expected.clone()).unwrap_or_default();
                for v in expected {
                    steps += added.len();
                    if !added.iter().any(|c| c.parent == q && c.policy == v) {
                        added.push(child(v, vec![v], q, i));
                    }
                }
            }
        }
        if nodes.len() + added.len() > MAX_NODES {
            return Err(Overflow);
        }
        nodes.extend(added);
        self.spend(steps)?;
        self.prune(i)
    }

    /// §6.1.4 (b) for the mappings of certificate `i`.
    fn map(&mut self, mappings: &'a [(PolicyId, PolicyId)], i: usize) -> Result<(), Overflow> {
        let inhibited = self.mapping == 0;
        let Tree::Grown(nodes) = &mut self.tree else {
            return Ok(());
        };
        let mut steps = 0usize;
        let mut done: Vec<&PolicyId> = Vec::new();
        for (issuer_p, _) in mappings {
            if done.contains(&issuer_p) {
                continue;
            }
            done.push(issuer_p);
            steps += nodes.len();
            let at_depth = |x: &Node<'_>| x.live && x.depth == i;
            if inhibited {
                // (b)(2): the issuer's policy is not carried over.
                for x in nodes
                    .iter_mut()
                    .filter(|x| at_depth(x) && x.policy == issuer_p)
                {
                    x.live = false;
                }
                continue;
            }
            // (b)(1): the expected set becomes every subjectDomainPolicy the policy maps to.
            let subjects: Vec<&'a PolicyId> = mappings
                .iter()
                .filter(|(a, _)| a == issuer_p)
                .map(|(_, b)| b)
                .collect();
            let mut found = false;
            for x in nodes
                .iter_mut()
                .filter(|x| at_depth(x) && x.policy == issuer_p)
            {
                x.expected.clone_from(&subjects);
                found = true;
            }
            if !found {
                let any_parent = nodes
                    .iter()
                    .find(|x| at_depth(x) && x.policy.is_any())
                    .map(|x| x.parent);
                if let Some(q) = any_parent {
                    if nodes.len() >= MAX_NODES {
                        return Err(Overflow);
                    }
                    nodes.push(child(issuer_p, subjects, q, i));
                }
            }
        }
        self.spend(steps)?;
        if inhibited { self.prune(i) } else { Ok(()) }
    }

    /// Deletes nodes above depth `i` that have no live child, repeatedly; the tree becomes
    /// NULL when its root goes.
    fn prune(&mut self, i: usize) -> Result<(), Overflow> {
        let Tree::Grown(nodes) = &mut self.tree else {
            return Ok(());
        };
        let steps = nodes.len();
        let mut has_child = vec![false; nodes.len()];
        // Children come after their parents, so one backward pass settles every level.
        for k in (0..nodes.len()).rev() {
            let keep = has_child.get(k).copied().unwrap_or(false);
            let Some(x) = nodes.get_mut(k) else { continue };
            if x.live && x.depth < i && !keep {
                x.live = false;
            }
            if x.live
                && let Some(h) = has_child.get_mut(x.parent)
            {
                *h = true;
            }
        }
        if !nodes.first().is_some_and(|r| r.live) {
            self.tree = Tree::Null;
        }
        self.spend(steps)
    }

    /// §6.1.5 (g)(iii): the tree intersected with the user-initial-policy-set `set`.
    fn intersect(&mut self, set: &'a [PolicyId], n: usize) -> Result<(), Overflow> {
        let Tree::Grown(nodes) = &mut self.tree else {
            return Ok(());
        };
        let steps = nodes.len() * (set.len() + 2);
        let under_any = |nodes: &[Node<'_>], x: &Node<'_>| {
            nodes.get(x.parent).is_some_and(|p| p.policy.is_any())
        };
        // (2): nodes under anyPolicy whose policy is not acceptable go, with their subtrees.
        for k in 0..nodes.len() {
            let Some(x) = nodes.get(k) else { continue };
            let parent_dead = nodes.get(x.parent).is_some_and(|p| !p.live);
            let refused = under_any(nodes, x) && !x.policy.is_any() && !set.contains(x.policy);
            if x.live
                && (parent_dead || refused)
                && let Some(x) = nodes.get_mut(k)
            {
                x.live = false;
            }
        }
        // (3): an anyPolicy leaf stands for every acceptable policy not otherwise present.
        let any_leaf = nodes
            .iter()
            .position(|x| x.live && x.depth == n && x.policy.is_any());
        if let Some(a) = any_leaf {
            let parent = nodes.get(a).map_or(NO_PARENT, |x| x.parent);
            for p in set {
                let present = nodes
                    .iter()
                    .any(|x| x.live && under_any(nodes, x) && x.policy == p);
                if !present {
                    if nodes.len() >= MAX_NODES {
                        return Err(Overflow);
                    }
                    nodes.push(child(p, vec![p], parent, n));
                }
            }
            if let Some(x) = nodes.get_mut(a) {
                x.live = false;
            }
        }
        self.spend(steps)?;
        // (4)
        self.prune(n)
    }

    /// The policies in force in the trust anchor's domain (PKITS's authorities- and
    /// user-constrained-policy-set): the valid_policy of every surviving node directly under
    /// anyPolicy, and anyPolicy itself when a chain of anyPolicy reaches depth `n`. Mapped
    /// names further down are the subject CAs' names for these same policies. Empty exactly
    /// when the tree is NULL: every chain from the root to depth `n` passes through one of them.
    fn in_force(&self, n: usize) -> Vec<PolicyId> {
        let Tree::Grown(nodes) = &self.tree else {
            return Vec::new();
        };
        let mut out: Vec<PolicyId> = Vec::new();
        for x in nodes.iter().filter(|x| x.live) {
            let under_any = nodes
                .get(x.parent)
                .is_some_and(|p| p.live && p.policy.is_any());
            let counts = if x.policy.is_any() {
                x.depth == n
            } else {
                under_any
            };
            if counts && !out.contains(x.policy) {
                out.push(x.policy.clone());
            }
        }
        out
    }
}

fn child<'a>(
    policy: &'a PolicyId,
    expected: Vec<&'a PolicyId>,
    parent: usize,
    depth: usize,
) -> Node<'a> {
    Node {
        policy,
        expected,
        parent,
        depth,
        live: true,
    }
}
