//! A store with hooks on its reads and writes, and an archive opened over one: a bad sector,
//! a read caught mid-way, a tamga from before an index, as the archive sees them.

use std::path::Path;
use tamga::archive::Archive;
use tamga::archive::store::{Batch, Space, Store, StoreError};

/// Called before every read: an error fails it, a wait parks it.
pub type OnGet = Box<dyn Fn(Space, &[u8]) -> Result<(), StoreError> + Send + Sync>;

/// A real store underneath, with hooks.
pub struct Hooked {
    /// The real store.
    pub inner: Box<dyn Store>,
    /// Before each read.
    pub on_get: OnGet,
    /// Rewrites each batch before it is applied.
    pub on_apply: fn(&mut Batch),
}

impl std::fmt::Debug for Hooked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hooked")
    }
}

impl Hooked {
    /// `inner` with a hook on reads only.
    pub fn reads(inner: Box<dyn Store>, on_get: OnGet) -> Hooked {
        Hooked {
            inner,
            on_get,
            on_apply: |_| {},
        }
    }
}

impl Store for Hooked {
    fn apply(&self, batch: &Batch) -> Result<(), StoreError> {
        let mut b = batch.clone();
        (self.on_apply)(&mut b);
        self.inner.apply(&b)
    }
    fn sync(&self) -> Result<(), StoreError> {
        self.inner.sync()
    }
    fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        (self.on_get)(space, key)?;
        self.inner.get(space, key)
    }
    fn keys(&self, space: Space) -> Result<Vec<Vec<u8>>, StoreError> {
        self.inner.keys(space)
    }
    fn writes_in_turns(&self) -> bool {
        self.inner.writes_in_turns()
    }
}

/// The archive in `data` (the store it holds) over `wrap`, with `data`'s receipt key.
pub fn open_over(data: &Path, wrap: impl FnOnce(Box<dyn Store>) -> Box<dyn Store>) -> Archive {
    let paths = super::archive_paths(data);
    let signer = tamga::receipt::ReceiptSigner::load_or_create(
        &tamga::setup::keys_dir(&paths),
        "ТОО «Тест»",
    )
    .unwrap();
    let origin = format!(
        "tamga.local/{}",
        tamga::verify::certificate::hex(&signer.certificate_sha256()[..8])
    );
    let store = tamga::setup::open_store(&paths).unwrap();
    Archive::open(wrap(store), origin, std::sync::Arc::new(signer)).unwrap()
}

/// Submits the fixture signature `file` (attached) into `case` under `sender_ref`, received
/// at [`super::AT`]; returns the verdict.
pub fn submit_fixture(
    ing: &tamga::ingest::Ingest,
    case: &str,
    file: &str,
    sender_ref: &str,
) -> tamga::verify::Status {
    let sig = std::fs::read(super::fixtures().join("sig").join(file)).unwrap();
    let s = tamga::ingest::Submission {
        case,
        signature: &sig,
        content: None,
        sender_ref: Some(sender_ref),
        received_at: super::AT,
        submitter: None,
    };
    ing.submit(&s).unwrap().status
}
