//! A store that fails on demand, for the tests of what the service says and keeps when the
//! disk refuses.

/// A store that fails on demand, over a real store: a full disk or a read-only volume as
/// the archive sees it.
#[derive(Debug)]
pub struct Failing {
    /// The real store underneath.
    pub inner: Box<dyn tamga::archive::store::Store>,
    /// What fails now.
    pub faults: Faults,
}

/// Which operations of a [`Failing`] store fail now.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Every batch is refused.
    pub apply: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Batches that write a checkpoint are refused (the disk fills between a filing and the
    /// checkpoint that would cover it).
    pub checkpoint: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Syncs fail.
    pub sync: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Batches that write access records and no log entry are refused (the access log alone
    /// cannot be written).
    pub access_only: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// Whether a fault is on.
pub fn on(flag: &std::sync::atomic::AtomicBool) -> bool {
    flag.load(std::sync::atomic::Ordering::SeqCst)
}

/// Turns a fault on or off.
pub fn set(flag: &std::sync::atomic::AtomicBool, value: bool) {
    flag.store(value, std::sync::atomic::Ordering::SeqCst);
}

impl tamga::archive::store::Store for Failing {
    fn apply(
        &self,
        batch: &tamga::archive::store::Batch,
    ) -> Result<(), tamga::archive::store::StoreError> {
        let checkpoint = batch
            .puts
            .iter()
            .any(|(space, _, _)| *space == tamga::archive::store::Space::Checkpoints);
        use tamga::archive::store::Space;
        let access_only = batch.puts.iter().all(|(s, _, _)| *s != Space::Log)
            && batch.puts.iter().any(|(s, _, _)| *s == Space::Access);
        if on(&self.faults.apply)
            || (checkpoint && on(&self.faults.checkpoint))
            || (access_only && on(&self.faults.access_only))
        {
            return Err(tamga::archive::store::StoreError::Io {
                what: "writing (simulated)".into(),
                source: std::io::Error::from_raw_os_error(28),
            });
        }
        self.inner.apply(batch)
    }
    fn writes_in_turns(&self) -> bool {
        self.inner.writes_in_turns()
    }
    fn sync(&self) -> Result<(), tamga::archive::store::StoreError> {
        if on(&self.faults.sync) {
            return Err(tamga::archive::store::StoreError::Io {
                what: "syncing (simulated)".into(),
                source: std::io::Error::from_raw_os_error(30),
            });
        }
        self.inner.sync()
    }
    fn get(
        &self,
        space: tamga::archive::store::Space,
        key: &[u8],
    ) -> Result<Option<Vec<u8>>, tamga::archive::store::StoreError> {
        self.inner.get(space, key)
    }
    fn keys(
        &self,
        space: tamga::archive::store::Space,
    ) -> Result<Vec<Vec<u8>>, tamga::archive::store::StoreError> {
        self.inner.keys(space)
    }
}

/// A server over a [`Failing`] store of the named kind (`sled` or `journal`).
pub fn serve_failing(kind: &str, faults: &Faults) -> super::server::Server {
    serve_failing_with(kind, faults, "")
}

/// [`serve_failing`] with the demo policy plus `extra_policy` (more principals, say).
pub fn serve_failing_with(
    kind: &str,
    faults: &Faults,
    extra_policy: &str,
) -> super::server::Server {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut paths = super::archive_paths(&data);
    let demo = std::fs::read_to_string(&paths.policy).unwrap();
    paths.policy = dir.path().join("policy.toml");
    std::fs::write(&paths.policy, format!("{demo}\n{extra_policy}")).unwrap();
    paths.store = Some(kind.parse().unwrap());
    let tamga::ingest::Ingest {
        verifier,
        policy,
        archive,
        incoming,
        ocsp,
    } = tamga::setup::open(&paths, tamga::verify::Policy::default()).unwrap();
    drop(archive);
    let at = data.join("archive");
    let inner: Box<dyn tamga::archive::store::Store> = match kind {
        "sled" => Box::new(tamga::archive::sled::SledStore::open(&at).unwrap()),
        _ => Box::new(tamga::archive::journal::JournalStore::open(&data.join(kind)).unwrap()),
    };
    let store = Failing {
        inner,
        faults: faults.clone(),
    };
    let signer = tamga::receipt::ReceiptSigner::load_or_create(&data.join("keys"), "t").unwrap();
    let archive = tamga::archive::Archive::open(
        Box::new(store),
        "tamga.test/failing".into(),
        std::sync::Arc::new(signer),
    )
    .unwrap();
    super::server::serve(
        dir,
        tamga::ingest::Ingest {
            verifier,
            policy,
            archive,
            incoming,
            ocsp,
        },
        tamga::http::Limits::default(),
        None,
    )
}
