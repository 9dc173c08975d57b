//! The archive's key schema for its look-up tables (the `Index` space), declared once, and the
//! typed questions the rest of tamga asks of the store. Nothing outside `archive` builds an index
//! key by hand: a key renamed here is renamed everywhere.

use super::store::{Batch, Space, Store};
use super::{Archive, ArchiveError, Txn};

/// The key of a document's disposal record (a backup reads it in its snapshot of the index).
pub(super) fn disposed(regno: &str) -> Vec<u8> {
    format!("disposed/{regno}").into_bytes()
}

/// The key of the principal that submitted a receipt's submission.
pub(super) fn submitter(receipt_id: &str) -> Vec<u8> {
    format!("submitter/{receipt_id}").into_bytes()
}

/// The key of a disposal act's working record (its JSON while drafted and approved).
fn act(number: &str) -> Vec<u8> {
    format!("act/{number}").into_bytes()
}

/// The counter of disposal acts.
const ACT_COUNTER: &[u8] = b"act-counter";

/// The key of the active holds (one JSON list).
const HOLDS: &[u8] = b"holds";

/// The counter of holds.
const HOLD_COUNTER: &[u8] = b"hold-counter";

/// The key of a case's ЭПК review decision.
fn review(case: &str) -> Vec<u8> {
    format!("review/{case}").into_bytes()
}

/// The value of a disposal record: act `act` of `date`.
fn disposal_value(act: &str, date: &str) -> Vec<u8> {
    format!("act {act} of {date}").into_bytes()
}

/// The key of a tile in [`Space::Tiles`]: level, index and width (hashes), big-endian. A tile
/// at level 0 is stored only once full (its partial hashes are the entries' leaf hashes); one
/// above is stored at every width it reaches, each once.
pub(super) fn tile(level: u32, n: u64, width: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(11);
    // Levels stop at 63 (C2SP tlog-tiles) and widths at 256: neither truncates.
    k.push(u8::try_from(level).unwrap_or(u8::MAX));
    k.extend_from_slice(&n.to_be_bytes());
    k.extend_from_slice(&u16::try_from(width).unwrap_or(u16::MAX).to_be_bytes());
    k
}

/// How a document was destroyed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Disposal {
    /// The disposal act's number.
    pub act: String,
    /// The act's date, `YYYY-MM-DD`.
    pub date: String,
}

impl std::fmt::Display for Disposal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "act {} of {}", self.act, self.date)
    }
}

impl Archive {
    /// The disposal act that destroyed `regno`, if one did.
    pub fn disposal(&self, regno: &str) -> Result<Option<Disposal>, ArchiveError> {
        self.store
            .get(Space::Index, &disposed(regno))?
            .map(|raw| parse_disposal(regno, &raw))
            .transpose()
    }

    /// The signed receipt (DER) with id `id`, if one was issued: exactly the bytes the
    /// sender got, however it is stored (see [`super::receipts`]).
    pub fn receipt(&self, id: &str) -> Result<Option<Vec<u8>>, ArchiveError> {
        self.receipt_with(id, &super::receipts::Dictionaries::default())
    }

    /// [`Archive::receipt`] for a pass over many receipts, which reads and checks each
    /// dictionary once into `dictionaries`.
    pub fn receipt_with(
        &self,
        id: &str,
        dictionaries: &super::receipts::Dictionaries,
    ) -> Result<Option<Vec<u8>>, ArchiveError> {
        let store = self.store.as_ref();
        read_receipt(
            id,
            store.get(Space::Receipts, id.as_bytes())?,
            dictionaries,
            &|k| store.get(Space::Receipts, k),
        )
    }

    /// The principal that submitted the submission answered by receipt `id`, if it came
    /// through the service.
    pub fn submitter(&self, id: &str) -> Result<Option<String>, ArchiveError> {
        Ok(self
            .store
            .get(Space::Index, &submitter(id))?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// Documents registered in `case` so far (its last registration number).
    pub fn registered(&self, case: &str) -> Result<u64, ArchiveError> {
        self.index_number(&super::counter_key(case))
    }

    /// Hands `each` every signed checkpoint of a tree size in `sizes`, ascending, with its
    /// note. Checkpoints are named by tree sizes: where listing a space reads the whole store
    /// (the journal, see [`super::store::Store::lists_cheaply`]), each size is asked for
    /// instead — a look-up per size, most of them answered "absent" by a Bloom filter — so an
    /// export or a backup pays for the entries it copies, not for the whole journal.
    pub fn for_each_checkpoint<E: From<ArchiveError>>(
        &self,
        sizes: std::ops::RangeInclusive<u64>,
        each: &mut dyn FnMut(u64, Vec<u8>) -> Result<(), E>,
    ) -> Result<(), E> {
        let store = self.store.as_ref();
        let mut one = |size: u64| -> Result<(), E> {
            match store
                .get(Space::Checkpoints, &size.to_be_bytes())
                .map_err(ArchiveError::from)?
            {
                Some(note) => each(size, note),
                None => Ok(()),
            }
        };
        if !store.lists_cheaply() {
            return sizes.into_iter().try_for_each(&mut one);
        }
        for key in store.keys(Space::Checkpoints).map_err(ArchiveError::from)? {
            let size = <[u8; 8]>::try_from(key.as_slice())
                .map(u64::from_be_bytes)
                .map_err(|_| {
                    ArchiveError::Damaged("a checkpoint's key is not a tree size".into())
                })?;
            if sizes.contains(&size) {
                one(size)?;
            }
        }
        Ok(())
    }

    /// Writes the kept blob `name` (a document's original bytes) to `out`, checking it as it
    /// goes; returns its length.
    pub fn read_blob(
        &self,
        name: &[u8; 32],
        out: &mut dyn std::io::Write,
    ) -> Result<u64, super::blobs::BlobError> {
        super::blobs::read(self.store.as_ref(), name, out)
    }

    /// Stages large spooled content as chunks (outside any transaction; see
    /// [`super::blobs::stage_spooled`]), ready to be filed if its SHA-256 is still
    /// `verified_sha256`.
    pub fn stage_spooled(
        &self,
        content: &crate::spool::Spooled,
        verified_sha256: &[u8],
    ) -> Result<super::blobs::Prepared, super::store::StoreError> {
        super::blobs::stage_spooled(
            self.store.as_ref(),
            &|b| self.apply_aside(b),
            content,
            verified_sha256,
        )
    }

    /// Whether the store answers reads (for health probes).
    pub fn readable(&self) -> Result<(), ArchiveError> {
        self.store.get(Space::Index, super::HEAD_KEY)?;
        Ok(())
    }
}

/// Receipt `id` from its stored value, if any; a value that does not read back is damage
/// naming the receipt.
fn read_receipt(
    id: &str,
    stored: Option<Vec<u8>>,
    dictionaries: &super::receipts::Dictionaries,
    lookup: super::receipts::Lookup<'_>,
) -> Result<Option<Vec<u8>>, ArchiveError> {
    use super::receipts::StoredReceiptError;
    // A dictionary shares the space but is no receipt (`GET /v1/receipts/{id}` asks here).
    if super::receipts::is_dictionary_key(id.as_bytes()) {
        return Ok(None);
    }
    stored
        .map(|v| {
            super::receipts::decode(v, dictionaries, lookup).map_err(|e| match e {
                StoredReceiptError::Store(e) => ArchiveError::Store(e),
                e => ArchiveError::Damaged(format!("receipt {id}: {e}")),
            })
        })
        .transpose()
}

/// Reads a disposal record's value.
fn parse_disposal(regno: &str, raw: &[u8]) -> Result<Disposal, ArchiveError> {
    let text = String::from_utf8_lossy(raw);
    text.strip_prefix("act ")
        .and_then(|rest| rest.split_once(" of "))
        .map(|(act, date)| Disposal {
            act: act.to_owned(),
            date: date.to_owned(),
        })
        .ok_or_else(|| ArchiveError::Damaged(format!("disposal record of {regno} unreadable")))
}

impl Txn<'_> {
    /// The receipt already issued under `id` (a retry), as this transaction sees it: the
    /// bytes the sender got.
    pub fn receipt(&self, id: &str) -> Result<Option<Vec<u8>>, ArchiveError> {
        if self.pipeline.is_some_and(|p| p.in_flight(id.as_bytes())) {
            return Err(ArchiveError::InFlight);
        }
        let lookup = |k: &[u8]| match self.batch.pending(Space::Receipts, k) {
            Some(v) => Ok(Some(v.to_vec())),
            None => self.store.get(Space::Receipts, k),
        };
        let stored = self.get(Space::Receipts, id.as_bytes())?;
        read_receipt(id, stored, &Default::default(), &lookup)
    }

    /// Keeps the signed receipt `der` under `id`, compressed against its service's
    /// dictionary, which this batch writes too if the store does not have it yet (see
    /// [`super::receipts`]).
    pub fn put_receipt(&mut self, id: &str, der: Vec<u8>) {
        let encoded = super::receipts::encode(&der);
        let base = self.state.size - self.leaves.len() as u64;
        let asked = ask_dictionary(self.store, self.receipt_dictionaries, &encoded);
        place_receipt(
            &mut self.batch,
            self.receipt_dictionaries,
            base,
            (id, der),
            encoded,
            asked,
        );
    }

    /// Records which principal made the submission answered by receipt `id`.
    pub fn set_submitter(&mut self, id: &str, principal: &str) {
        self.put(Space::Index, submitter(id), principal.as_bytes().to_vec());
    }

    /// The next registration number of `case` (1, 2, …), counted in this transaction.
    pub fn next_registration(&mut self, case: &str) -> Result<u64, ArchiveError> {
        self.next_number(&super::counter_key(case))
    }

    /// Records that registration number `regno` is the entry about to be pushed.
    pub fn register(&mut self, regno: &str) {
        let index = self.next_index();
        self.put(Space::Index, super::regno_key(regno), index.to_be_bytes());
    }

    /// Records that `regno` was destroyed under act `act` of `date`.
    pub fn mark_disposed(&mut self, regno: &str, act: &str, date: &str) {
        self.put(Space::Index, disposed(regno), disposal_value(act, date));
    }

    /// The act that destroyed `regno`, as this transaction sees it.
    pub fn disposal(&self, regno: &str) -> Result<Option<Disposal>, ArchiveError> {
        self.get(Space::Index, &disposed(regno))?
            .map(|raw| parse_disposal(regno, &raw))
            .transpose()
    }

    /// A disposal act's working record (JSON), if it exists.
    pub fn act_record(&self, number: &str) -> Result<Option<Vec<u8>>, ArchiveError> {
        self.get(Space::Index, &act(number))
    }

    /// Keeps a disposal act's working record.
    pub fn put_act_record(&mut self, number: &str, json: Vec<u8>) {
        self.put(Space::Index, act(number), json);
    }

    /// The next disposal act's number (1, 2, …).
    pub fn next_act_number(&mut self) -> Result<u64, ArchiveError> {
        self.next_number(ACT_COUNTER)
    }

    /// Files an executed act's signed DER, permanently.
    pub fn put_signed_act(&mut self, number: &str, der: Vec<u8>) {
        self.put(Space::Acts, number.as_bytes().to_vec(), der);
    }

    /// The active holds' record (a JSON list), if any was ever written.
    pub fn holds_record(&self) -> Result<Option<Vec<u8>>, ArchiveError> {
        self.get(Space::Index, HOLDS)
    }

    /// Replaces the active holds' record.
    pub fn put_holds_record(&mut self, json: Vec<u8>) {
        self.put(Space::Index, HOLDS, json);
    }

    /// Holds placed so far.
    pub fn holds_placed(&self) -> Result<u64, ArchiveError> {
        self.index_number(HOLD_COUNTER)
    }

    /// The next hold's number (1, 2, …).
    pub fn next_hold_number(&mut self) -> Result<u64, ArchiveError> {
        self.next_number(HOLD_COUNTER)
    }

    /// A case's ЭПК review decision, as recorded.
    pub fn review(&self, case: &str) -> Result<Option<Vec<u8>>, ArchiveError> {
        self.get(Space::Index, &review(case))
    }

    /// Records a case's ЭПК review decision.
    pub fn put_review(&mut self, case: &str, value: Vec<u8>) {
        self.put(Space::Index, review(case), value);
    }

    /// Documents registered in `case` so far (its last registration number).
    pub fn registered(&self, case: &str) -> Result<u64, ArchiveError> {
        self.index_number(&super::counter_key(case))
    }

    /// The log position of registration number `regno`, if it was registered.
    pub fn regno_entry(&self, regno: &str) -> Result<Option<u64>, ArchiveError> {
        Ok(super::index_u64(
            self.get(Space::Index, &super::regno_key(regno))?,
        ))
    }

    /// A stored blob's chunk list.
    pub fn manifest(
        &self,
        blob: &[u8; 32],
    ) -> Result<(u64, Vec<[u8; 32]>), super::blobs::BlobError> {
        super::blobs::manifest(self.store(), blob)
    }
}

/// The key of a case's tally (its documents filed and kept; see `archive::tally`).
pub(super) fn case_tally(case: &str) -> Vec<u8> {
    format!("{CASE_TALLY}{case}").into_bytes()
}

const CASE_TALLY: &str = "casetally/";
const BLOB_REFS: &[u8] = b"blobrefs/";
const CHUNK_REFS: &[u8] = b"chunkrefs/";

/// The version of the per-case and reference indexes' layout.
pub(super) const TALLY_VERSION: &[u8] = b"tally-version";

/// The key of a blob's reference count: the kept documents' files that name it.
pub(super) fn blob_refs(blob: &[u8; 32]) -> Vec<u8> {
    [BLOB_REFS, blob.as_slice()].concat()
}

/// The key of a chunk's reference count: the kept blobs whose manifests name it.
pub(super) fn chunk_refs(chunk: &[u8; 32]) -> Vec<u8> {
    [CHUNK_REFS, chunk.as_slice()].concat()
}

/// The index key of chunk `chunk`'s reference count, for tests and benches that damage or
/// fail it on purpose; tamga's own code asks [`Archive::chunk_referenced`].
#[doc(hidden)]
pub fn chunk_refs_key(chunk: &[u8; 32]) -> Vec<u8> {
    chunk_refs(chunk)
}

/// The index key of blob `blob`'s reference count, for tests that damage it on purpose.
#[doc(hidden)]
pub fn blob_refs_key(blob: &[u8; 32]) -> Vec<u8> {
    blob_refs(blob)
}

/// The index key of case `case`'s tally, for tests that damage it on purpose.
#[doc(hidden)]
pub fn case_tally_key(case: &str) -> Vec<u8> {
    case_tally(case)
}

/// Whether `key` is one of the per-case or reference indexes' keys.
pub(super) fn is_tally(key: &[u8]) -> bool {
    is_case_tally(key) || key.starts_with(BLOB_REFS) || key.starts_with(CHUNK_REFS)
}

/// Whether `key` is a case's tally.
pub(super) fn is_case_tally(key: &[u8]) -> bool {
    key.starts_with(CASE_TALLY.as_bytes())
}

/// What an index key of the tally counts, in words for an audit's report.
pub(super) fn tally_subject(key: &[u8]) -> String {
    let hex = crate::verify::certificate::hex;
    if let Some(case) = key.strip_prefix(CASE_TALLY.as_bytes()) {
        format!("the tally of case {}", String::from_utf8_lossy(case))
    } else if let Some(blob) = key.strip_prefix(BLOB_REFS) {
        format!("the reference count of blob {}", hex(blob))
    } else if let Some(chunk) = key.strip_prefix(CHUNK_REFS) {
        format!("the reference count of chunk {}", hex(chunk))
    } else {
        String::from_utf8_lossy(key).into_owned()
    }
}

impl Archive {
    /// Whether a kept document still needs chunk `chunk` (from its reference count; no scan).
    pub fn chunk_referenced(&self, chunk: &[u8; 32]) -> Result<bool, ArchiveError> {
        Ok(self.index_number(&chunk_refs(chunk))? > 0)
    }

    /// The tally of `case` (documents filed and kept, bytes, dates), when the archive keeps
    /// its per-case index (see `archive::tally`).
    pub fn case_tally(&self, case: &str) -> Result<Option<super::tally::CaseTally>, ArchiveError> {
        self.read(|txn| txn.case_tally(case))
    }
}

impl Txn<'_> {
    /// The tally of `case` as this transaction sees it: `None` when the archive keeps no
    /// per-case index yet (an archive from before it, opened read-only), the default for a
    /// case nothing was filed in.
    pub fn case_tally(&self, case: &str) -> Result<Option<super::tally::CaseTally>, ArchiveError> {
        if !super::tally::ready(self.store())? {
            return Ok(None);
        }
        super::tally::case_tally(self, case).map(Some)
    }

    /// The raw stored tally of `case`, to notice whether it changed between two reads.
    pub fn case_tally_raw(&self, case: &str) -> Result<Option<Vec<u8>>, ArchiveError> {
        self.get(Space::Index, &case_tally(case))
    }

    /// Folds this batch's accepted and disposed documents into the per-case and reference
    /// indexes now (a disposal, to learn what it leaves unreferenced and destroy exactly
    /// that); returns the blobs and chunks no kept document names any more.
    pub fn settle_tally(&mut self) -> Result<super::tally::Released, ArchiveError> {
        super::tally::settle(self)
    }
}

/// The version of the console's look-up lists' layout (see `archive::lists`).
pub(super) const LISTS_VERSION: &[u8] = b"lists-version";

const LIST: &[u8] = b"list/";

/// A look-up list's key: `list/`, the name's length and the name (so no name is a prefix
/// of another's keys), then `suffix`.
fn list_key(name: &[u8], suffix: &[u8]) -> Vec<u8> {
    let len = u32::try_from(name.len()).unwrap_or(u32::MAX).to_be_bytes();
    [LIST, &len, name, suffix].concat()
}

/// The key of a look-up list's length.
pub(super) fn list_len(name: &[u8]) -> Vec<u8> {
    list_key(name, b"#")
}

/// The key of a look-up list's slot `n` (1, 2, …; big-endian, so a list's slots sort in
/// order).
pub(super) fn list_item(name: &[u8], n: u64) -> Vec<u8> {
    list_key(name, &[b"@".as_slice(), &n.to_be_bytes()].concat())
}

/// What a store holds of a receipt's dictionary, asked before the receipt's batch is at hand
/// (the pipeline asks outside its queue's lock: the read may go to the disk).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dictionary {
    /// The receipt is kept as it is: no dictionary.
    NotNamed,
    /// Known stored, without a read (see `receipts::Stored`).
    Known,
    /// The store holds it.
    Stored,
    /// The store does not hold it.
    Missing,
    /// The store could not say.
    Unsure,
}

/// Asks `store` (unless `dictionaries` knows) whether it holds the dictionary `encoded` names.
pub(super) fn ask_dictionary(
    store: &dyn Store,
    dictionaries: &super::receipts::Stored,
    encoded: &super::receipts::Encoded,
) -> Dictionary {
    match &encoded.dictionary {
        None => Dictionary::NotNamed,
        Some((key, _)) if dictionaries.holds(key) => Dictionary::Known,
        Some((key, _)) => match store.get(Space::Receipts, key) {
            Ok(Some(_)) => Dictionary::Stored,
            Ok(None) => Dictionary::Missing,
            Err(_) => Dictionary::Unsure,
        },
    }
}

/// Puts receipt `der`, `encoded` for keeping, under `id` in `batch`, with its dictionary
/// when the store does not hold it (`asked`, from [`ask_dictionary`]) and `batch` does not
/// write it already; `base` is the tree size the batch was built on. A receipt whose
/// dictionary could not be looked up is kept as it is.
pub(super) fn place_receipt(
    batch: &mut Batch,
    dictionaries: &super::receipts::Stored,
    base: u64,
    (id, der): (&str, Vec<u8>),
    encoded: super::receipts::Encoded,
    asked: Dictionary,
) {
    let value = match (encoded.dictionary, asked) {
        (None, _) => encoded.value,
        (Some((key, _)), _) if batch.pending(Space::Receipts, &key).is_some() => encoded.value,
        (Some(_), Dictionary::Known) => encoded.value,
        (Some((key, _)), Dictionary::Stored) => {
            // What the store answers may be a batch still in a turn of this process's:
            // trusted for good once a size after the batches before this one is durable.
            dictionaries.insert(key, base + 1);
            encoded.value
        }
        (Some((key, dictionary)), Dictionary::Missing) => {
            batch.put(Space::Receipts, key, dictionary.to_vec());
            encoded.value
        }
        // Unsure whether the store has it: the receipt is kept as it is instead.
        (Some(_), Dictionary::Unsure | Dictionary::NotNamed) => der,
    };
    batch.put(Space::Receipts, id.as_bytes().to_vec(), value);
}
