//! `tamga backup verify`: checks a generation offline, with nothing but the backup — every
//! file against its SHA-256 in the manifest, every chunk against its name, the chain and the
//! Merkle tree against the signed checkpoint and every receipt's signature (the audit's own
//! replay, [`super::super::replay`]), the access log's chain, the index's head.

use super::files::{self, Manifest, Records};
use super::{APPENDED, BackupError, Fault, Refusal};
use crate::archive::checkpoint::Checkpoint;
use crate::archive::log::FileRef;
use crate::archive::replay::{self, Replay, Source, SourceError};
use crate::verify::certificate::{Certificate, hex};
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// What a generation holds, read from its files (after their digests were checked).
#[derive(Debug)]
pub struct Loaded {
    /// Record files' contents by name (`log.kv`, …), earlier generations' first.
    pub spaces: HashMap<&'static str, Records>,
    /// The index snapshot.
    pub index: Records,
    /// The executed acts.
    pub acts: Records,
    /// The service certificate (DER).
    pub service: Vec<u8>,
    /// The signed checkpoint covered.
    pub checkpoint: Checkpoint,
}

/// What a verified generation covered.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Verified {
    /// The generation.
    pub generation: u64,
    /// Tree size of its checkpoint.
    pub size: u64,
    /// Files checked (chunks included).
    pub files: u64,
    /// Documents re-hashed.
    pub documents: u64,
    /// Their bytes.
    pub bytes: u64,
}

fn bad(file: PathBuf, fault: Fault) -> BackupError {
    BackupError::Bad { file, fault }
}

/// The generation to check: `generation`, or the newest complete one.
pub fn manifest(dir: &Path, generation: Option<u64>) -> Result<Manifest, BackupError> {
    match generation {
        Some(n) => files::read_manifest(&dir.join(files::generation_dir(n))),
        None => super::newest(dir)?
            .map(|(_, m)| m)
            .ok_or_else(|| Refusal::NoBackup(dir.to_path_buf()).into()),
    }
}

/// Checks every file's digest and reads the generation's records.
pub fn load(dir: &Path, m: &Manifest) -> Result<Loaded, BackupError> {
    let mut spaces: HashMap<&'static str, Records> = HashMap::new();
    let (mut index, mut acts, mut service) = (Vec::new(), Vec::new(), Vec::new());
    let own = format!("{}/", files::generation_dir(m.generation));
    let mut note = None;
    for f in &m.files {
        let path = dir.join(&f.path);
        let raw = match std::fs::read(&path) {
            Ok(raw) => raw,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(bad(path, Fault::Missing));
            }
            Err(e) => return Err(files::io(&path)(e)),
        };
        if raw.len() as u64 != f.len || <[u8; 32]>::from(Sha256::digest(&raw)) != f.sha256 {
            return Err(bad(path, Fault::Differs));
        }
        let name = f.path.rsplit('/').next().unwrap_or_default();
        let records = || files::records(&raw).ok_or_else(|| bad(path.clone(), Fault::Malformed));
        if let Some(space) = APPENDED.iter().find(|a| **a == name) {
            spaces.entry(space).or_default().extend(records()?);
        } else if f.path.starts_with(&own) {
            match name {
                "index.kv" => index = records()?,
                "acts.kv" => acts = records()?,
                "service.der" => service = raw,
                "checkpoint.note" => note = Some((path, raw)),
                _ => return Err(bad(path, Fault::Unexpected)),
            }
        }
    }
    let gen_dir = dir.join(files::generation_dir(m.generation));
    let cert = Certificate::from_der(&service)
        .map_err(|e| bad(gen_dir.join("service.der"), Fault::Certificate(e)))?;
    let (path, raw) = note.ok_or_else(|| bad(gen_dir.join("checkpoint.note"), Fault::Missing))?;
    let text = String::from_utf8(raw).map_err(|_| bad(path.clone(), Fault::NotText))?;
    let checkpoint = Checkpoint::verify(&text, &cert.spki)
        .map_err(|e| bad(path.clone(), Fault::Checkpoint(e)))?;
    if checkpoint.size != m.size {
        return Err(bad(path, Fault::OtherSize));
    }
    Ok(Loaded {
        spaces,
        index,
        acts,
        service,
        checkpoint,
    })
}

/// The backup as a replay source: entries and receipts from the record files, documents from
/// the blob manifests and the chunk files.
struct Backup<'a> {
    dir: &'a Path,
    entries: HashMap<u64, &'a [u8]>,
    receipts: HashMap<&'a [u8], &'a [u8]>,
    blobs: HashMap<&'a [u8], &'a [u8]>,
    /// Chunks checked so far.
    checked: RefCell<HashSet<[u8; 32]>>,
    /// The receipts' dictionaries read so far.
    dictionaries: crate::archive::receipts::Dictionaries,
}

impl Backup<'_> {
    /// Reads and checks one chunk file; the error names it.
    fn chunk(&self, name: &[u8; 32]) -> Result<Vec<u8>, BackupError> {
        let path = self.dir.join(files::chunk_path(name));
        let packed = files::read_bounded(&path, files::MAX_CHUNK_FILE)?;
        let raw = zstd::bulk::decompress(&packed, crate::archive::blobs::CHUNK)
            .map_err(|e| bad(path.clone(), Fault::Decompress(e)))?;
        if <[u8; 32]>::from(Sha256::digest(&raw)) != *name {
            return Err(bad(path, Fault::NotItsName));
        }
        self.checked.borrow_mut().insert(*name);
        Ok(raw)
    }
}

impl Source for Backup<'_> {
    fn entry(&self, index: u64) -> Result<Option<Vec<u8>>, SourceError> {
        Ok(self.entries.get(&index).map(|e| e.to_vec()))
    }

    fn receipt(&self, id: &str) -> Result<Vec<u8>, SourceError> {
        let stored = self
            .receipts
            .get(id.as_bytes())
            .ok_or_else(|| SourceError::ReceiptNotInBackup(id.to_owned()))?;
        // A backup keeps receipts' DER as read back; the stored form reads here too.
        let lookup = |k: &[u8]| Ok(self.receipts.get(k).map(|v| v.to_vec()));
        crate::archive::receipts::decode(stored.to_vec(), &self.dictionaries, &lookup).map_err(
            |source| SourceError::StoredReceipt {
                id: id.to_owned(),
                source,
            },
        )
    }

    fn document(&self, _index: u64, file: &FileRef) -> Result<u64, SourceError> {
        let name =
            crate::archive::checkpoint::unhex32(&file.sha256).ok_or(SourceError::HashNotHex)?;
        let manifest = self
            .blobs
            .get(name.as_slice())
            .ok_or_else(|| SourceError::DocumentNotInBackup(file.sha256.clone()))?;
        let (size, rest) = manifest
            .split_first_chunk::<8>()
            .ok_or(SourceError::ManifestTruncated)?;
        let size = u64::from_be_bytes(*size);
        let mut whole = Sha256::new();
        let mut total = 0u64;
        // Whole 32-byte names only, as before: a trailing partial name is ignored here and
        // the sizes then disagree.
        let (names, _) = rest.as_chunks::<32>();
        for c in names {
            let raw = self.chunk(c)?;
            whole.update(&raw);
            total += raw.len() as u64;
        }
        if total != size || <[u8; 32]>::from(whole.finalize()) != name {
            return Err(SourceError::DocumentDiffers(file.sha256.clone()));
        }
        Ok(total)
    }
}

/// Checks generation `generation` (default: the newest) of the backup in `dir`.
pub fn verify(dir: &Path, generation: Option<u64>) -> Result<Verified, BackupError> {
    let m = manifest(dir, generation)?;
    let loaded = load(dir, &m)?;
    let gen_dir = dir.join(files::generation_dir(m.generation));
    let space = |name: &str| {
        loaded
            .spaces
            .get(name)
            .map(Vec::as_slice)
            .unwrap_or_default()
    };
    let pairs = |name: &str| -> HashMap<&[u8], &[u8]> {
        space(name)
            .iter()
            .map(|(k, v)| (k.as_slice(), v.as_slice()))
            .collect()
    };
    let source = Backup {
        dir,
        entries: space("log.kv")
            .iter()
            .filter_map(|(k, v)| {
                crate::archive::index_u64(Some(k.clone())).map(|i| (i, v.as_slice()))
            })
            .collect(),
        receipts: pairs("receipts.kv"),
        blobs: pairs("blobs.kv"),
        checked: RefCell::new(HashSet::new()),
        dictionaries: Default::default(),
    };
    let mut checkpoints = vec![loaded.checkpoint.clone()];
    let cert = Certificate::from_der(&loaded.service)
        .map_err(|e| bad(gen_dir.join("service.der"), Fault::Certificate(e)))?;
    for (_, note) in space("checkpoints.kv") {
        let text = String::from_utf8_lossy(note);
        let cp = Checkpoint::verify(&text, &cert.spki)
            .map_err(|e| bad(gen_dir.join("checkpoints.kv"), Fault::Checkpoint(e)))?;
        checkpoints.push(cp);
    }
    let replayed = replay::run(
        &source,
        &Replay {
            checkpoints: &checkpoints,
            service: &loaded.service,
            documents: true,
            size: Some(m.size),
        },
        &mut |_, _| {},
    )
    .map_err(|f| bad(gen_dir.join("log.kv"), Fault::Log(f)))?;
    // The replay matches checkpoints as entries pass; one at size 0 (an empty archive's) no
    // entry reaches, so the covered checkpoint is held against the replay's end directly.
    let cp = &loaded.checkpoint;
    let reached = replayed.report.checkpoint_size == Some(m.size) || m.size == 0;
    if replayed.size != m.size || !reached || cp.root != replayed.root || cp.chain != replayed.chain
    {
        return Err(bad(gen_dir.join("log.kv"), Fault::Short));
    }
    check_heads(&gen_dir, &m, &loaded, &replayed)?;
    let checked = source.checked.borrow().clone();
    for c in m.chunks.iter().filter(|c| !checked.contains(*c)) {
        source.chunk(c)?;
    }
    Ok(Verified {
        generation: m.generation,
        size: m.size,
        files: (m.files.len() + m.chunks.len()) as u64,
        documents: replayed.report.documents,
        bytes: replayed.report.bytes,
    })
}

/// The index's log head and latest checkpoint, and the access log's chain, against the
/// replay and the signed checkpoint.
fn check_heads(
    gen_dir: &Path,
    m: &Manifest,
    loaded: &Loaded,
    replayed: &replay::Replayed,
) -> Result<(), BackupError> {
    let index: HashMap<&[u8], &[u8]> = loaded
        .index
        .iter()
        .map(|(k, v)| (k.as_slice(), v.as_slice()))
        .collect();
    let index_file = gen_dir.join("index.kv");
    let head = index
        .get(crate::archive::HEAD_KEY)
        .and_then(|raw| crate::archive::decode_head(raw));
    let head_ok = head.is_some_and(|h| {
        h.size == m.size && h.chain == replayed.chain && h.frontier.root() == replayed.root
    });
    let latest = crate::archive::index_u64(
        index
            .get(crate::archive::LATEST_CHECKPOINT)
            .map(|v| v.to_vec()),
    );
    if (m.size > 0 && !head_ok) || latest != Some(m.size) {
        return Err(bad(index_file, Fault::Head));
    }
    let access: HashMap<u64, &[u8]> = loaded
        .spaces
        .get("access.kv")
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|(k, v)| crate::archive::index_u64(Some(k.clone())).map(|i| (i, v.as_slice())))
        .collect();
    let get = |i: u64| Ok(access.get(&i).map(|v| v.to_vec()));
    let access_file = gen_dir.join("access.kv");
    let stored = index
        .get(crate::archive::access::HEAD_KEY)
        .and_then(|raw| crate::archive::access::decode_head(raw))
        .unwrap_or((0, [0; 32]));
    let record = |e| bad(access_file.clone(), Fault::AccessRecord(e));
    let chained = crate::archive::access::chain_of(m.access, &get).map_err(record)?;
    let cp = &loaded.checkpoint;
    let signed =
        crate::archive::access::chain_of(cp.access.0.min(m.access), &get).map_err(record)?;
    if stored != (m.access, chained) || cp.access.0 > m.access || signed != cp.access.1 {
        return Err(bad(
            access_file,
            Fault::AccessHead {
                records: cp.access.0,
                head: hex(&cp.access.1),
            },
        ));
    }
    Ok(())
}
