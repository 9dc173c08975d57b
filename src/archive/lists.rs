//! The console's look-up lists, so that no page reads the archive to answer a filter: each
//! principal's own submissions (all, accepted, rejected) and, per case, the documents by
//! sender's reference, by IIN/BIN and by the words of a signer's name.
//!
//! A list is a counter and numbered slots in the `Index` space (keys in `keys.rs`): appending
//! is one counter write and one slot write, and a page is read newest-first from the counter
//! down, point reads only. Slots are written in the same batch as the entries they name
//! ([`settle`], called by `Archive::append` from the batch's own log writes), so a list never
//! names an entry that is not there, nor misses one that is. Nothing is ever removed: a
//! destroyed document stays findable and its page says by which act it was destroyed, as a
//! register of documents keeps the line of a destroyed one.
//!
//! Matching (what the README promises): a sender's reference and an IIN/BIN match exactly
//! (the reference case-insensitively, spaces trimmed and runs of them collapsed); a signer's
//! name matches when each word of the query is a whole word of the signer's name (the
//! certificate subject's CN, SURNAME and GIVENNAME values), case-insensitively.
//!
//! An archive from before these lists gets them built once when it is opened for writing
//! ([`ensure`], versioned like `archive::tally`): an old data directory keeps working.

use super::audit::{AuditFailure, fail};
use super::log::{Entry, Event, SignerSummary};
use super::store::{Space, Store};
use super::{ArchiveError, Txn, index_u64, keys};
use std::collections::BTreeMap;

/// The lists' layout version; an archive whose stored version differs gets them rebuilt.
const VERSION: u64 = 1;

/// Longest list name component kept (bytes, cut at a character boundary): a longer query is
/// cut the same way, so it still finds what it names.
const MAX_TERM: usize = 200;

/// Words of one signer's name indexed at most (a hostile subject cannot flood the index),
/// and words of a name query at most (each opens a list: a query cannot force many reads).
pub const MAX_WORDS: usize = 8;

/// Which of a principal's submissions a list holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every submission.
    All,
    /// Accepted ones.
    Accepted,
    /// Rejected ones.
    Rejected,
}

/// A look-up list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum List<'a> {
    /// A principal's submissions (slots hold log positions).
    Mine(&'a str, Outcome),
    /// A case's documents by sender's reference (slots hold registration numbers in the case).
    Ref(&'a str, &'a str),
    /// A case's documents by a signer's IIN or BIN.
    Id(&'a str, &'a str),
    /// A case's documents by a word of a signer's name.
    Word(&'a str, &'a str),
}

impl List<'_> {
    /// The list's name in its keys: a tag, the length-prefixed first component, the second
    /// component normalised (see [`term`]), so that no two lists share a name.
    fn name(&self) -> Vec<u8> {
        let (tag, a, b) = match self {
            List::Mine(p, o) => {
                let t = match o {
                    Outcome::All => b'*',
                    Outcome::Accepted => b'a',
                    Outcome::Rejected => b'r',
                };
                return [&[b'm', t][..], p.as_bytes()].concat();
            }
            List::Ref(c, r) => (b'r', c, term(r)),
            List::Id(c, i) => (b'i', c, term(i)),
            List::Word(c, w) => (b'w', c, term(w)),
        };
        let len = u32::try_from(a.len()).unwrap_or(u32::MAX).to_be_bytes();
        [&[tag][..], &len, a.as_bytes(), b.as_bytes()].concat()
    }
}

/// A search term as the lists keep it: trimmed, lower-case, single spaces, at most
/// [`MAX_TERM`] bytes.
pub fn term(s: &str) -> String {
    let mut out = s
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    if out.len() > MAX_TERM {
        let mut end = MAX_TERM;
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
    }
    out
}

/// The words of a signer's name in a certificate subject (`CN=…, SURNAME=…, …`): the values
/// of its name attributes, split at anything not a letter or digit, lower-case, distinct,
/// the first [`MAX_WORDS`] only (what the lists index, so that filtering on the metadata
/// matches exactly what the lists find). A subject without name attributes has no name
/// words: its O, C or serialNumber are not a signer's name.
pub fn name_words(subject: &str) -> Vec<String> {
    const NAMES: [&str; 7] = ["CN", "SN", "SURNAME", "G", "GN", "GIVENNAME", "2.5.4.42"];
    let mut text = String::new();
    for part in subject.split(',') {
        if let Some((k, v)) = part.split_once('=')
            && NAMES.iter().any(|n| k.trim().eq_ignore_ascii_case(n))
        {
            text.push(' ');
            text.push_str(v);
        }
    }
    let mut words: Vec<String> = Vec::new();
    for w in text.split(|c: char| !c.is_alphanumeric()) {
        let w = term(w);
        if !w.is_empty() && !words.contains(&w) && words.len() < MAX_WORDS {
            words.push(w);
        }
    }
    words
}

/// The case lists a document belongs to.
fn case_lists<'a>(
    case: &'a str,
    sender_ref: Option<&'a str>,
    signers: &'a [SignerSummary],
    words: &'a [Vec<String>],
) -> Vec<List<'a>> {
    let mut out = Vec::new();
    if let Some(r) = sender_ref.filter(|r| !term(r).is_empty()) {
        out.push(List::Ref(case, r));
    }
    for g in signers {
        for id in [&g.iin, &g.bin].into_iter().flatten() {
            let l = List::Id(case, id.as_str());
            if !out.contains(&l) {
                out.push(l);
            }
        }
    }
    for w in words.iter().flatten() {
        let l = List::Word(case, w.as_str());
        if !out.contains(&l) {
            out.push(l);
        }
    }
    out
}

/// Where one entry goes: (list, value) pairs, given the entry's submitter.
fn placements(entry: &Entry, submitter: Option<&str>, mut put: impl FnMut(&List<'_>, u64)) {
    let accepted = match &entry.event {
        Event::Accepted { .. } => true,
        Event::Rejected { .. } => false,
        _ => return,
    };
    if let Some(p) = submitter {
        put(&List::Mine(p, Outcome::All), entry.index);
        let o = if accepted {
            Outcome::Accepted
        } else {
            Outcome::Rejected
        };
        put(&List::Mine(p, o), entry.index);
    }
    if let Event::Accepted {
        case,
        registration,
        signers,
        sender_ref,
        ..
    } = &entry.event
    {
        let Some(n) = registration
            .rsplit_once('/')
            .and_then(|(_, n)| n.parse::<u64>().ok())
        else {
            return;
        };
        let words: Vec<Vec<String>> = signers
            .iter()
            .map(|g| g.subject.as_deref().map(name_words).unwrap_or_default())
            .collect();
        for l in case_lists(case, sender_ref.as_deref(), signers, &words) {
            put(&l, n);
        }
    }
}

/// The receipt id of an entry that has one.
fn receipt_of(entry: &Entry) -> Option<&str> {
    match &entry.event {
        Event::Accepted { receipt_id, .. } | Event::Rejected { receipt_id, .. } => Some(receipt_id),
        _ => None,
    }
}

/// Whether the store keeps the lists in their current layout.
pub fn ready(store: &dyn Store) -> Result<bool, ArchiveError> {
    Ok(index_u64(store.get(Space::Index, keys::LISTS_VERSION)?) == Some(VERSION))
}

/// Adds this batch's submissions to the lists, in the batch (from the entries the batch
/// pushed, so every entry is seen once). Called by `Archive::append` after it has made sure
/// the lists are built (`ensure`), so the lists' version is not read again per filing.
pub(super) fn settle(txn: &mut Txn<'_>) -> Result<(), ArchiveError> {
    let entries = std::mem::take(&mut txn.pushed);
    let mut counts: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
    let mut writes: Vec<(Vec<u8>, u64)> = Vec::new();
    for e in &entries {
        let who = match receipt_of(e) {
            Some(id) => txn
                .get(Space::Index, &keys::submitter(id))?
                .map(|v| String::from_utf8_lossy(&v).into_owned()),
            None => None,
        };
        placements(e, who.as_deref(), |l, v| writes.push((l.name(), v)));
    }
    for (name, v) in writes {
        let n = match counts.get(&name) {
            Some(n) => *n,
            None => txn.index_number(&keys::list_len(&name))?,
        } + 1;
        counts.insert(name.clone(), n);
        txn.put(Space::Index, keys::list_item(&name, n), v.to_be_bytes());
    }
    for (name, n) in counts {
        txn.put(Space::Index, keys::list_len(&name), n.to_be_bytes());
    }
    Ok(())
}

/// Every list as the first `size` entries make it: name → slots, oldest first (the walk
/// [`ensure`] builds from and the full audit checks against).
fn recompute(store: &dyn Store, size: u64) -> Result<BTreeMap<Vec<u8>, Vec<u64>>, ArchiveError> {
    let mut lists: BTreeMap<Vec<u8>, Vec<u64>> = BTreeMap::new();
    for i in 0..size {
        let raw = store
            .get(Space::Log, &i.to_be_bytes())?
            .ok_or_else(|| ArchiveError::Damaged(format!("entry {i} missing")))?;
        let e =
            Entry::decode(&raw).map_err(|e| ArchiveError::Damaged(format!("entry {i}: {e}")))?;
        let who = match receipt_of(&e) {
            Some(id) => store
                .get(Space::Index, &keys::submitter(id))?
                .map(|v| String::from_utf8_lossy(&v).into_owned()),
            None => None,
        };
        placements(&e, who.as_deref(), |l, v| {
            lists.entry(l.name()).or_default().push(v)
        });
    }
    Ok(lists)
}

/// For `audit verify --full`: every stored list (length and slots) against the lists
/// recomputed from the first `size` entries, as `tally::check` does for the tallies.
/// `Ok(Some(note))` when the archive keeps no lists yet.
pub fn check(store: &dyn Store, size: u64) -> Result<Option<String>, AuditFailure> {
    let failed = |what: String| fail(None, None, format!("look-up list: {what}"));
    if !ready(store).map_err(|e| failed(e.to_string()))? {
        return Ok(Some(
            "the archive keeps no look-up lists yet: they are built when it is next opened \
             for writing"
                .into(),
        ));
    }
    let truth = recompute(store, size).map_err(|e| failed(e.to_string()))?;
    let stored = |key: Vec<u8>| -> Result<Option<u64>, AuditFailure> {
        Ok(index_u64(
            store
                .get(Space::Index, &key)
                .map_err(|e| failed(e.to_string()))?,
        ))
    };
    for (name, slots) in &truth {
        let len = stored(keys::list_len(name))?.unwrap_or(0);
        if len != slots.len() as u64 {
            return Err(failed(format!(
                "{}: {len} slots kept, the entries make {}",
                describe(name),
                slots.len()
            )));
        }
        for (n, v) in (1u64..).zip(slots) {
            if stored(keys::list_item(name, n))? != Some(*v) {
                return Err(failed(format!(
                    "{} slot {n} differs from the entries",
                    describe(name)
                )));
            }
        }
    }
    Ok(None)
}

/// A list's name for a person: what it lists, and for whom or for which case and term.
fn describe(name: &[u8]) -> String {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    match name.split_first() {
        Some((b'm', rest)) => match rest.split_first() {
            Some((o, p)) => format!("{}'s submissions ({})", text(p), char::from(*o)),
            None => text(name),
        },
        Some((tag, rest)) if rest.len() >= 4 => {
            let (len, rest) = rest.split_at(4);
            let n = u32::from_be_bytes(<[u8; 4]>::try_from(len).unwrap_or_default()) as usize;
            let (case, term) = rest.split_at(n.min(rest.len()));
            let kind = match tag {
                b'r' => "sender's reference",
                b'i' => "IIN/BIN",
                _ => "signer's name word",
            };
            format!("case {} by {kind} \"{}\"", text(case), text(term))
        }
        _ => text(name),
    }
}

/// Builds the lists of an archive that has none (or an older layout) from its first `size`
/// entries; returns whether it built them. Called before any append (at open, or by the first
/// append under the writer lock). The version is written last: a build cut short is done
/// again, and writes the same slots with the same values. Memory: one number per slot.
pub fn ensure(store: &dyn Store, size: u64) -> Result<bool, ArchiveError> {
    if ready(store)? {
        return Ok(false);
    }
    super::rebuild::begin(store, keys::LISTS_VERSION)?;
    let lists = recompute(store, size)?;
    let writes = lists.iter().flat_map(|(name, slots)| {
        let len = (
            keys::list_len(name),
            (slots.len() as u64).to_be_bytes().to_vec(),
        );
        let items = (1u64..)
            .zip(slots)
            .map(move |(n, v)| (keys::list_item(name, n), v.to_be_bytes().to_vec()));
        std::iter::once(len).chain(items)
    });
    super::rebuild::finish(store, keys::LISTS_VERSION, VERSION, writes)?;
    Ok(true)
}

/// A list as a reader sees it: its length and its slots by position (1 = oldest).
pub struct Reader<'a> {
    store: &'a dyn Store,
    name: Vec<u8>,
    /// Slots in the list.
    pub len: u64,
}

impl<'a> Reader<'a> {
    /// Opens `list` over `store`; `None` while the lists are not built.
    pub(super) fn open(
        store: &'a dyn Store,
        list: &List<'_>,
    ) -> Result<Option<Self>, ArchiveError> {
        if !ready(store)? {
            return Ok(None);
        }
        let name = list.name();
        let len = index_u64(store.get(Space::Index, &keys::list_len(&name))?).unwrap_or(0);
        Ok(Some(Reader { store, name, len }))
    }

    /// The value in slot `n` (1..=len).
    pub fn get(&self, n: u64) -> Result<u64, ArchiveError> {
        index_u64(
            self.store
                .get(Space::Index, &keys::list_item(&self.name, n))?,
        )
        .ok_or_else(|| ArchiveError::Damaged(format!("look-up list slot {n} missing")))
    }

    /// The list cut to its slots whose values are below `bound`: a prefix, as values only
    /// grow along a list. One read when every slot's is; else a binary search, O(log len).
    pub fn below(mut self, bound: u64) -> Result<Self, ArchiveError> {
        if self.len == 0 || self.get(self.len)? < bound {
            return Ok(self);
        }
        let (mut lo, mut hi) = (1, self.len);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.get(mid)? < bound {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        self.len = lo - 1;
        Ok(self)
    }

    /// The first position in `1..=len` whose key (by `key_of` of its slot's value, never
    /// decreasing along the list) is at least `day` (`after`: greater than `day`); `len + 1`
    /// when none is.
    pub fn first_from(
        &self,
        day: &str,
        after: bool,
        key_of: &mut dyn FnMut(u64) -> Result<String, ArchiveError>,
    ) -> Result<u64, ArchiveError> {
        first_day(1, self.len.saturating_add(1), day, after, |n| {
            key_of(self.get(n)?)
        })
    }
}

/// The first position in `lo..hi` whose key (`key_at`, never decreasing over the range) is
/// at least `day` (`after`: greater than `day`); `hi` when none is. A binary search:
/// O(log(hi - lo)) keys read.
pub fn first_day<E>(
    mut lo: u64,
    mut hi: u64,
    day: &str,
    after: bool,
    mut key_at: impl FnMut(u64) -> Result<String, E>,
) -> Result<u64, E> {
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let d = key_at(mid)?;
        let before = if after {
            d.as_str() <= day
        } else {
            d.as_str() < day
        };
        if before {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    Ok(lo)
}

impl super::Archive {
    /// A reader of look-up list `list`; `None` while the archive keeps no lists yet (one
    /// from before them, opened read-only).
    pub fn list(&self, list: &List<'_>) -> Result<Option<Reader<'_>>, ArchiveError> {
        Reader::open(self.store(), list)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_words_are_the_name_attributes_capped() {
        let many = "CN=a b c d e f g h i j k l, O=Org";
        assert_eq!(name_words(many).len(), MAX_WORDS);
        assert!(!name_words(many).contains(&"org".to_owned()));
        assert!(name_words("O=Some Org, C=KZ, SERIALNUMBER=IIN1").is_empty());
        assert_eq!(
            name_words("CN=ТЕСТОВ ТЕСТ, GIVENNAME=Тестович, C=KZ"),
            ["тестов", "тест", "тестович"]
        );
    }
}
