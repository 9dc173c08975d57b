//! `cargo bench --bench load`: the service under load on loopback. 4 KiB RSA-2048 attached
//! documents (distinct, signed beforehand with OpenSSL), 64 concurrent clients, durable commits;
//! reports accepted documents/s and latency percentiles, and the same documents through the
//! library pipeline alone at the same concurrency for comparison.

#[path = "../tests/common/pg.rs"]
mod pg;
#[path = "support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;
use tamga::archive::store::{Batch, Space, Store, StoreError};
use tamga::http::{AppState, Limits};
use tamga::ingest::{Ingest, Submission};
use tamga::verify::{Policy, Status};

const CLIENTS: usize = 64;

/// One keep-alive HTTP/1.1 connection, written by hand so that the 64 clients sharing the
/// server's two cores cost as little as possible (a full HTTP client library runs a runtime
/// and a thread per client, which the server then competes with).
struct Connection {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    head: Vec<u8>,
    /// The last response's body.
    body: Vec<u8>,
}

impl Connection {
    fn open(addr: std::net::SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_nodelay(true).unwrap();
        Connection {
            writer: stream.try_clone().unwrap(),
            reader: BufReader::new(stream),
            head: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Posts one raw CMS body; returns the status after reading the whole response.
    fn submit(&mut self, doc: &[u8]) -> u16 {
        self.head.clear();
        write!(
            self.head,
            "POST /v1/submissions?case=01-05 HTTP/1.1\r\nHost: tamga\r\n\
             Authorization: Bearer demo-gateway-token\r\n\
             Content-Type: application/pkcs7-mime\r\nContent-Length: {}\r\n\r\n",
            doc.len()
        )
        .unwrap();
        self.head.extend_from_slice(doc);
        self.writer.write_all(&self.head).unwrap();
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        let status: u16 = line.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap();
        let mut length = 0usize;
        loop {
            line.clear();
            self.reader.read_line(&mut line).unwrap();
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap();
            }
        }
        self.body.resize(length, 0);
        self.reader.read_exact(&mut self.body).unwrap();
        status
    }

    /// The registration number in the last response (`"number":"01-05/17"`), if any.
    fn number(&self) -> Option<String> {
        let body = std::str::from_utf8(&self.body).ok()?;
        let (_, rest) = body.split_once("\"number\":\"")?;
        rest.split_once('"').map(|(n, _)| n.to_owned())
    }
}

/// Which store the pipeline files into.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// The embedded default.
    Sled,
    /// The journal backend.
    Journal,
    /// PostgreSQL: a throwaway cluster on loopback, started by the bench.
    Postgres,
    /// A map in memory without syncs: what tamga's own work costs, with storage taken out (a
    /// measuring device only).
    Mem,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Sled => "sled",
            Kind::Journal => "journal",
            Kind::Postgres => "PostgreSQL (loopback, fsync on)",
            Kind::Mem => "a store in memory (no sync)",
        }
    }
}

/// The cluster `postgres` runs on, started on first use and kept for the whole run.
static CLUSTER: std::sync::Mutex<Option<pg::Cluster>> = std::sync::Mutex::new(None);

/// The pipeline over `kind` in a fresh directory beside `dir` (for PostgreSQL, a fresh schema
/// named after it).
fn pipeline(dir: &std::path::Path, kind: Kind) -> Ingest {
    let dir = dir.with_extension(format!("{kind:?}"));
    let mut paths = support::paths(&dir);
    paths.store = Some(match kind {
        Kind::Journal => tamga::setup::Backend::Journal,
        Kind::Postgres => tamga::setup::Backend::Postgres,
        Kind::Sled | Kind::Mem => tamga::setup::Backend::Sled,
    });
    if kind == Kind::Postgres {
        paths.database = Some(tamga::archive::postgres::Location {
            url: cluster().0,
            schema: pg::schema_for(&dir),
            // `shared`: as one of several frontends, writing in turns (`--database-shared`).
            shared: std::env::args().any(|a| a == "shared"),
        });
    }
    let mut ingest = tamga::setup::open(&paths, Policy::default()).unwrap();
    if kind == Kind::Mem {
        let signer = Arc::new(
            tamga::receipt::ReceiptSigner::load_or_create(&dir.join("keys"), "bench").unwrap(),
        );
        ingest.archive =
            tamga::archive::Archive::open(Box::new(MemStore::default()), "bench".into(), signer)
                .unwrap();
    }
    ingest
}

/// The cluster's connection string and port, starting it on first use.
fn cluster() -> (String, u16) {
    let mut cluster = CLUSTER.lock().unwrap();
    let cluster =
        cluster.get_or_insert_with(|| pg::Cluster::start().expect("a PostgreSQL cluster"));
    (cluster.url(), cluster.port)
}

/// A frontend of the archive in PostgreSQL schema `schema` that several frontends write
/// (`shared`: in turns, as `--database-shared`), with the receipt key in `keys` they all share
/// (as `--keys`); its data directory is `dir`.
fn pg_frontend(dir: &std::path::Path, schema: &str, keys: &std::path::Path) -> Ingest {
    let mut paths = support::paths(dir);
    paths.store = Some(tamga::setup::Backend::Postgres);
    paths.installed_keys = keys.to_path_buf();
    paths.database = Some(tamga::archive::postgres::Location {
        url: cluster().0,
        schema: schema.to_owned(),
        shared: true,
    });
    tamga::setup::open(&paths, Policy::default()).unwrap()
}

/// Keeps everything in a map; `sync` does nothing. Only for `load N mem`.
#[derive(Debug, Default)]
struct MemStore(std::sync::Mutex<Map>);

/// (space prefix, key) → value.
type Map = std::collections::BTreeMap<(u8, Vec<u8>), Vec<u8>>;

impl Store for MemStore {
    fn apply(&self, batch: &Batch) -> Result<(), StoreError> {
        let mut map = self.0.lock().unwrap();
        for (space, k, v) in &batch.puts {
            map.insert((space.prefix(), k.clone()), v.clone());
        }
        for (space, k) in &batch.disposals {
            map.remove(&(space.prefix(), k.clone()));
        }
        Ok(())
    }
    fn sync(&self) -> Result<(), StoreError> {
        Ok(())
    }
    fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .0
            .lock()
            .unwrap()
            .get(&(space.prefix(), key.to_vec()))
            .cloned())
    }
    fn keys(&self, space: Space) -> Result<Vec<Vec<u8>>, StoreError> {
        let map = self.0.lock().unwrap();
        Ok(map
            .keys()
            .filter(|(s, _)| *s == space.prefix())
            .map(|(_, k)| k.clone())
            .collect())
    }
}

/// This process's resident memory, from /proc.
fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// The fields of `/proc/<pid>/stat` after the command name (which is in parentheses and may
/// contain spaces), as numbers (0 for what does not parse); empty if the process is gone.
fn proc_stat(pid: &str) -> Vec<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    rest.split_whitespace()
        .map(|f| f.parse().unwrap_or(0.0))
        .collect()
}

/// Field `i` (after the name) of a [`proc_stat`], in seconds when it counts clock ticks.
fn ticks(fields: &[f64], i: usize) -> f64 {
    fields.get(i).copied().unwrap_or(0.0) / 100.0
}

/// CPU seconds this process has used so far (user + system, all threads), from /proc.
fn cpu_seconds() -> f64 {
    let fields = proc_stat("self");
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    ticks(&fields, 11) + ticks(&fields, 12)
}

/// CPU seconds the bench's cluster has used so far, from /proc: its postmaster (the `postgres`
/// process with `-p PORT` on its command line: other clusters may run on the machine), the
/// processes it runs now (backends, WAL writer, checkpointer…) and those it has reaped.
fn postgres_cpu_seconds() -> f64 {
    let port = cluster().1.to_string();
    let pids: Vec<String> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|p| p.bytes().all(|b| b.is_ascii_digit()))
        .collect();
    let is_postmaster = |pid: &String| {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        args.first().is_some_and(|a| a.ends_with(b"postgres"))
            && args.windows(2).any(|w| w == [&b"-p"[..], port.as_bytes()])
    };
    let Some(master) = pids.iter().find(|p| is_postmaster(p)) else {
        return 0.0;
    };
    let own = proc_stat(master);
    let master: u64 = master.parse().unwrap_or(0);
    // utime, stime, and cutime, cstime (children reaped): 12–15 after the name.
    let mut total = (11..15).map(|i| ticks(&own, i)).sum::<f64>();
    for pid in &pids {
        let fields = proc_stat(pid);
        // ppid is the second field after the name.
        if fields.get(1).is_some_and(|p| *p as u64 == master) {
            total += ticks(&fields, 11) + ticks(&fields, 12);
        }
    }
    total
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted
        .get(((sorted.len() as f64 - 1.0) * p).round() as usize)
        .copied()
        .unwrap_or(0.0)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args
        .iter()
        .filter_map(|a| a.parse().ok())
        .next()
        .unwrap_or(2000);
    // `http` or `lib` runs one side alone (for profiling), `sled`, `journal`, `postgres` or
    // `mem` one store; the default runs both sides over both embedded stores. `shared` runs
    // PostgreSQL as one of several frontends would (in turns); `two` runs two such frontends
    // at once (over HTTP only).
    let only = |side: &str| {
        !args.iter().any(|a| a == "http" || a == "lib") || args.iter().any(|a| a == side)
    };
    let mut kinds: Vec<Kind> = [
        ("sled", Kind::Sled),
        ("journal", Kind::Journal),
        ("postgres", Kind::Postgres),
        ("mem", Kind::Mem),
    ]
    .into_iter()
    .filter(|(name, _)| args.iter().any(|a| a == name))
    .map(|(_, kind)| kind)
    .collect();
    if kinds.is_empty() {
        kinds = vec![Kind::Sled, Kind::Journal];
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let tmp = tempfile::tempdir().unwrap();
    eprintln!("signing {n} documents with openssl…");
    let docs = Arc::new(support::signed_documents(&tmp.path().join("docs"), n));
    eprintln!("signed; measuring");
    for kind in kinds {
        if kind == Kind::Postgres && args.iter().any(|a| a == "two") {
            two_frontends(&docs, tmp.path());
        } else if only("http") {
            http_side(&docs, tmp.path(), kind);
        }
        if only("lib") {
            library_side(&docs, tmp.path(), kind);
        }
    }
    // The cluster stops (and its directory goes) here, not with the process.
    drop(CLUSTER.lock().unwrap().take());
}

/// The service over `ingest`, in this process, on a free loopback port.
fn serve(ingest: Ingest) -> (Arc<AppState>, std::net::SocketAddr) {
    let state = AppState::new(ingest, Limits::default());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let server_state = state.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::from_std(listener).unwrap();
            tamga::http::run(l, server_state, None, std::future::pending())
                .await
                .unwrap();
        });
    });
    (state, addr)
}

/// The service, in this process, on loopback, with 64 client connections.
fn http_side(docs: &Arc<Vec<Vec<u8>>>, tmp: &std::path::Path, kind: Kind) {
    let (state, addr) = serve(pipeline(&tmp.join("http"), kind));
    let label = format!(
        "HTTP over {}, {CLIENTS} clients, {} documents:",
        kind.label(),
        docs.len()
    );
    measure(
        &label,
        docs,
        || {
            let mut conn = Connection::open(addr);
            move |doc: &[u8]| assert_eq!(conn.submit(doc), 201)
        },
        || state.ingest.archive.syncs(),
        kind,
    );
}

/// `load N http postgres two`: two frontends in this process, each its own store and HTTP
/// server, over one PostgreSQL schema, both writing in turns (`shared`) and signing receipts
/// with one key (issue 16, item 2). The clients are dealt to them in turn. Afterwards the
/// numbers the receipts gave must be 1..=N in the case, and a full audit must pass.
fn two_frontends(docs: &Arc<Vec<Vec<u8>>>, tmp: &std::path::Path) {
    let keys = tmp.join("two-keys");
    let org = tamga::policy::load(&support::paths(tmp).policy)
        .unwrap()
        .organization
        .name;
    tamga::receipt::ReceiptSigner::load_or_create(&keys, &org).unwrap();
    let fronts = ["a", "b"].map(|name| {
        serve(pg_frontend(
            &tmp.join(format!("two-{name}")),
            "t_two",
            &keys,
        ))
    });
    let numbers = Arc::new(std::sync::Mutex::new(Vec::new()));
    let dealt = AtomicUsize::new(0);
    let label = format!(
        "HTTP over {}, two frontends, {CLIENTS} clients, {} documents:",
        Kind::Postgres.label(),
        docs.len()
    );
    measure(
        &label,
        docs,
        || {
            let i = dealt.fetch_add(1, Ordering::Relaxed) % fronts.len();
            let mut conn = Connection::open(fronts[i].1);
            let numbers = numbers.clone();
            move |doc: &[u8]| {
                assert_eq!(conn.submit(doc), 201);
                numbers
                    .lock()
                    .unwrap()
                    .push(conn.number().expect("a number"));
            }
        },
        || fronts.iter().map(|(s, _)| s.ingest.archive.syncs()).sum(),
        Kind::Postgres,
    );
    let mut got: Vec<u64> = numbers
        .lock()
        .unwrap()
        .iter()
        .map(|n| {
            let (case, i) = n.rsplit_once('/').unwrap();
            assert_eq!(case, "01-05");
            i.parse().unwrap()
        })
        .collect();
    got.sort_unstable();
    assert!(
        got.iter().copied().eq(1..=docs.len() as u64),
        "numbers not 1..={} without gaps",
        docs.len()
    );
    let started = Instant::now();
    let report = tamga::archive::audit::verify(&fronts[0].0.ingest.archive, true, &mut |_, _| {})
        .unwrap_or_else(|e| panic!("the audit failed: {e}"));
    println!(
        "  numbers 01-05/1..{} without gaps; full audit of {} entries ({} documents) passed in {:.1} s",
        docs.len(),
        report.entries,
        report.documents,
        started.elapsed().as_secs_f64()
    );
}

/// The library pipeline alone, same documents, same concurrency, fresh archive.
fn library_side(docs: &Arc<Vec<Vec<u8>>>, tmp: &std::path::Path, kind: Kind) {
    let ingest = Arc::new(pipeline(&tmp.join("lib"), kind));
    let label = format!(
        "library pipeline over {}, {CLIENTS} threads, {} documents:",
        kind.label(),
        docs.len()
    );
    measure(
        &label,
        docs,
        || {
            let ingest = ingest.clone();
            move |doc: &[u8]| {
                let out = ingest
                    .submit(&Submission {
                        case: "01-05",
                        signature: doc,
                        content: None,
                        sender_ref: None,
                        received_at: tamga::clock::now(),
                        submitter: None,
                    })
                    .unwrap();
                assert_eq!(
                    out.status,
                    Status::Accepted,
                    "reasons {:?}, replay {}",
                    out.reasons,
                    out.replay
                );
            }
        },
        || ingest.archive.syncs(),
        kind,
    );
    if matches!(kind, Kind::Mem | Kind::Postgres) {
        return;
    }
    // What a restart costs: the journal rebuilds its index from the whole file. It opens a
    // copy while the original is still open, so that the memory the new index takes is not
    // memory the old one just gave back.
    let dir = tmp.join("lib").with_extension(format!("{kind:?}"));
    let reopen_dir = if kind == Kind::Journal {
        ingest.archive.sync_now().unwrap();
        let copy = dir.with_extension("copy");
        copy_dir(&dir, &copy);
        copy
    } else {
        drop(ingest);
        dir
    };
    let (started, rss) = (Instant::now(), rss_bytes());
    let reopened = tamga::setup::open(&support::paths(&reopen_dir), Policy::default()).unwrap();
    let took = started.elapsed().as_secs_f64();
    let grew = rss_bytes().saturating_sub(rss);
    let store = reopened.archive.raw_store();
    let keys: usize = Space::ALL
        .into_iter()
        .map(|space| store.keys(space).unwrap().len())
        .sum();
    print!(
        "  reopened with {} log entries ({keys} keys) in {:.0} ms",
        reopened.archive.size(),
        took * 1e3
    );
    if kind == Kind::Journal {
        print!(
            "; resident memory grew {:.1} MB ({:.0} bytes per key)",
            grew as f64 / 1e6,
            grew as f64 / keys as f64
        );
    }
    println!();
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

/// Runs `CLIENTS` threads that take the documents in turn, each submitting with the function
/// `client()` made for it; prints throughput, latency percentiles, syncs and CPU per document
/// (this process's, and over PostgreSQL the cluster's beside it).
fn measure<F>(
    label: &str,
    docs: &Arc<Vec<Vec<u8>>>,
    client: impl Fn() -> F,
    syncs: impl Fn() -> u64,
    kind: Kind,
) where
    F: FnMut(&[u8]) + Send + 'static,
{
    let n = docs.len();
    let next = Arc::new(AtomicUsize::new(0));
    let database_cpu = || {
        if kind == Kind::Postgres {
            postgres_cpu_seconds()
        } else {
            0.0
        }
    };
    let (start, cpu, db_cpu) = (Instant::now(), cpu_seconds(), database_cpu());
    let threads: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (docs, next, mut submit) = (docs.clone(), next.clone(), client());
            std::thread::spawn(move || {
                let mut lat = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(doc) = docs.get(i) else { return lat };
                    let t = Instant::now();
                    submit(doc);
                    lat.push(t.elapsed().as_secs_f64());
                }
            })
        })
        .collect();
    let mut lat: Vec<f64> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let secs = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu;
    let db_cpu = database_cpu() - db_cpu;
    lat.sort_by(f64::total_cmp);
    println!("{label}");
    println!(
        "  {:.0} accepted/s   p50 {:.1} ms   p99 {:.1} ms   syncs {}   CPU {:.0} µs/doc ({:.0} % of 2 cores)",
        n as f64 / secs,
        percentile(&lat, 0.5) * 1e3,
        percentile(&lat, 0.99) * 1e3,
        syncs(),
        cpu / n as f64 * 1e6,
        cpu / secs / 2.0 * 100.0
    );
    if kind == Kind::Postgres {
        println!(
            "  PostgreSQL CPU {:.0} µs/doc ({:.0} % of 2 cores)",
            db_cpu / n as f64 * 1e6,
            db_cpu / secs / 2.0 * 100.0
        );
    }
}
