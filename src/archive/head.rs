//! The log's head: its size, hash chain and Merkle frontier, as this process holds it and as
//! the store keeps it under [`HEAD_KEY`], written with every batch that moves it.

use super::ArchiveError;
use super::log::{self, Entry, GENESIS};
use super::merkle::{Frontier, Hash};
use super::store::{Space, Store};

/// The index key of the stored head.
pub(super) const HEAD_KEY: &[u8] = b"head";

#[derive(Debug, Clone, Default)]
/// The log's head as this process holds it.
pub(super) struct State {
    pub(super) size: u64,
    pub(super) chain: Hash,
    pub(super) frontier: Frontier,
    /// When the last entry was filed (Unix seconds; 0 when unknown): the log's time never
    /// runs back behind it.
    pub(super) filed: i64,
    /// The filing queue's generation this head was built in (see `pipeline.rs`).
    pub(super) generation: u64,
}

/// When the last of `size` entries was filed; 0 for none, for one written before entries
/// recorded it, or for one missing or damaged (which the audit names; opening still serves
/// the rest).
pub(super) fn last_filed(store: &dyn Store, size: u64) -> Result<i64, ArchiveError> {
    let Some(last) = size.checked_sub(1) else {
        return Ok(0);
    };
    Ok(store
        .get(Space::Log, &last.to_be_bytes())?
        .and_then(|raw| Entry::decode(&raw).ok())
        .and_then(|e| e.filed)
        .and_then(|f| log::parse_time(&f))
        .unwrap_or(0))
}

/// The log's head as the store holds it (the genesis head for an empty log); `filed` is left 0.
pub(super) fn stored_head(store: &dyn Store) -> Result<State, ArchiveError> {
    match store.get(Space::Index, HEAD_KEY)? {
        Some(raw) => decode_head(&raw).ok_or_else(|| ArchiveError::Damaged("log head".into())),
        None => Ok(State {
            chain: GENESIS,
            ..State::default()
        }),
    }
}

/// The head as [`HEAD_KEY`] keeps it: size, chain, the frontier's peaks.
pub(super) fn encode_head(s: &State) -> Vec<u8> {
    let mut v = Vec::with_capacity(40 + 36 * 64);
    v.extend_from_slice(&s.size.to_be_bytes());
    v.extend_from_slice(&s.chain);
    for (h, root) in s.frontier.peaks() {
        v.extend_from_slice(&h.to_be_bytes());
        v.extend_from_slice(root);
    }
    v
}

/// The head [`encode_head`] wrote; `None` if it does not read back.
pub(super) fn decode_head(raw: &[u8]) -> Option<State> {
    let (size, rest) = raw.split_at_checked(8)?;
    let (chain, mut rest) = rest.split_at_checked(32)?;
    let mut peaks = Vec::new();
    while !rest.is_empty() {
        let (h, r) = rest.split_at_checked(4)?;
        let (root, r) = r.split_at_checked(32)?;
        peaks.push((
            u32::from_be_bytes(h.try_into().ok()?),
            root.try_into().ok()?,
        ));
        rest = r;
    }
    let size = u64::from_be_bytes(size.try_into().ok()?);
    let frontier = Frontier::from_peaks(size, peaks)?;
    Some(State {
        size,
        chain: chain.try_into().ok()?,
        frontier,
        filed: 0,
        generation: 0,
    })
}
