//! `tamga serve` processes over one PostgreSQL archive, as several frontends behind a load
//! balancer run: each with a data directory of its own, all with one receipt key (installed
//! with `--keys`) and one database. Each is killed and reaped when dropped.

use super::openssl_sign_detached;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Paths of a data directory whose archive is in schema `tamga` of the database at `url`: with
/// the receipt key in `keys` when given, as one of several frontends writing it; else alone.
pub fn pg_paths(url: &str, data: &Path, keys: Option<&Path>) -> tamga::setup::Paths {
    let mut paths = super::archive_paths(data);
    paths.store = Some(tamga::setup::Backend::Postgres);
    paths.database = Some(tamga::archive::postgres::Location {
        url: url.to_owned(),
        schema: "tamga".into(),
        // Frontends share it: a receipt key given means one of several.
        shared: keys.is_some(),
    });
    if let Some(keys) = keys {
        paths.installed_keys = keys.to_path_buf();
    }
    paths
}

/// `tamga` with the data directory and the database at `url`.
pub fn tamga_at(url: &str, data: &Path) -> Command {
    let mut cmd = super::tamga_cmd(data);
    cmd.args(["--store", "postgres", "--database-url", url]);
    cmd
}

/// `tamga` with the data directory, the shared receipt key and the database at `url`.
pub fn tamga_keyed(url: &str, data: &Path, keys: &Path) -> Command {
    let mut c = super::tamga_with_keys(data, keys);
    c.args(["--store", "postgres", "--database-url", url]);
    c
}

/// Makes the receipt key every frontend of an archive shares, in `dir` (as an organisation
/// installs its key), for the organisation of the policy at `policy`.
pub fn shared_key(dir: &Path, policy: &Path) -> PathBuf {
    let org = tamga::policy::load(policy).unwrap().organization.name;
    tamga::receipt::ReceiptSigner::load_or_create(dir, &org).unwrap();
    dir.to_path_buf()
}

/// One `tamga serve` process.
pub struct Frontend {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// Its data directory.
    pub data: PathBuf,
    log: PathBuf,
}

impl Drop for Frontend {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What every frontend of one archive is started with.
pub struct Archive {
    /// The database.
    pub url: String,
    /// The shared receipt key's directory.
    pub keys: PathBuf,
    /// The policy file.
    pub policy: PathBuf,
    /// Where the frontends' data directories and logs go.
    pub root: PathBuf,
}

impl Archive {
    /// Starts frontend `name` on a free port and waits until it answers.
    pub fn start(&self, name: &str) -> Frontend {
        let data = self.root.join(name);
        let log = self.root.join(format!("{name}.log"));
        // The port was free a moment ago; if another process took it since, tamga exits and
        // the next one is tried.
        for _ in 0..5 {
            let port = super::ocsp::free_port();
            let child = tamga_keyed(&self.url, &data, &self.keys)
                .arg("--policy")
                .arg(&self.policy)
                .arg("--database-shared")
                .args(["serve", "--revocation", "prefer", "--listen"])
                .arg(format!("127.0.0.1:{port}"))
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).unwrap())
                .spawn()
                .unwrap();
            let mut f = Frontend {
                child,
                base: format!("http://127.0.0.1:{port}"),
                data: data.clone(),
                log: log.clone(),
            };
            if f.wait_ready() {
                return f;
            }
        }
        panic!("frontend {name} would not start: {}", read(&log));
    }
}

impl Frontend {
    /// Whether it answers `/healthz` (false once it has exited).
    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(60);
        let client = super::server::client();
        while Instant::now() < deadline {
            if client
                .get(format!("{}/healthz", self.base))
                .send()
                .is_ok_and(|r| r.status() == 200)
            {
                return true;
            }
            if self.child.try_wait().unwrap().is_some() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("frontend did not answer: {}", self.log());
    }

    /// SIGKILL: no shutdown, no flush; reaped.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, and waits for the graceful stop (pending access records written, synced).
    pub fn stop(&mut self) {
        if let Some(pid) = rustix::process::Pid::from_raw(self.child.id() as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.child.try_wait().unwrap().is_none() {
            assert!(
                Instant::now() < deadline,
                "no graceful stop: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends `signal` (SIGSTOP, SIGCONT: a process that hangs, then goes on).
    pub fn signal(&self, signal: rustix::process::Signal) {
        if let Some(pid) = rustix::process::Pid::from_raw(self.child.id() as i32) {
            let _ = rustix::process::kill_process(pid, signal);
        }
    }

    /// What it wrote to stderr.
    pub fn log(&self) -> String {
        read(&self.log)
    }
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

/// A detached signature of `content` by the fixture signer, made once in `dir` and reused:
/// submissions that differ by their sender reference are different submissions.
pub fn signature(dir: &Path, content: &[u8]) -> Vec<u8> {
    let (c, s) = (dir.join("content.txt"), dir.join("content.p7s"));
    if !s.exists() {
        std::fs::write(&c, content).unwrap();
        openssl_sign_detached(&c, &s);
    }
    std::fs::read(&s).unwrap()
}

/// What a submission got back: `None` when no answer came (the frontend died meanwhile).
pub type Answer = Option<(u16, Vec<u8>)>;

/// Submits (`signature`, `content`) to `case` with `sender_ref` at `base` as the gateway; the
/// receipt as signed DER when `der`, else the JSON body.
pub fn submit(
    client: &reqwest::blocking::Client,
    base: &str,
    case: &str,
    sender_ref: &str,
    (signature, content): (&[u8], &[u8]),
    der: bool,
) -> Answer {
    let form = reqwest::blocking::multipart::Form::new()
        .text("case", case.to_owned())
        .text("sender_ref", sender_ref.to_owned())
        .part(
            "signature",
            reqwest::blocking::multipart::Part::bytes(signature.to_vec()),
        )
        .part(
            "content",
            reqwest::blocking::multipart::Part::bytes(content.to_vec()),
        );
    let mut r = client
        .post(format!("{base}/v1/submissions"))
        .bearer_auth("demo-gateway-token")
        .multipart(form);
    if der {
        r = r.header("Accept", "application/pkcs7-mime");
    }
    let res = r.send().ok()?;
    let status = res.status().as_u16();
    Some((status, res.bytes().ok()?.to_vec()))
}

/// The registration number (`case/n`) of a JSON receipt body.
pub fn number(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v["registration"]["number"].as_str().map(str::to_owned)
}

/// The demo policy, as a file in `dir`.
pub fn demo_policy(dir: &Path) -> PathBuf {
    let p = dir.join("policy.toml");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("archive-policy.toml"),
        &p,
    )
    .unwrap();
    p
}

/// The numbers given in each case are exactly 1..=N.
pub fn assert_gapless(numbers: &[String]) {
    let mut by_case: std::collections::BTreeMap<&str, Vec<u64>> = Default::default();
    for n in numbers {
        let (case, i) = n.rsplit_once('/').unwrap();
        by_case.entry(case).or_default().push(i.parse().unwrap());
    }
    for (case, mut got) in by_case {
        got.sort_unstable();
        let n = got.len() as u64;
        assert_eq!(got, (1..=n).collect::<Vec<_>>(), "{case}");
    }
}

/// The access log is one chain over every frontend's records, and at least `requests` long.
pub fn assert_one_access_chain(archive: &tamga::archive::Archive, requests: u64) {
    let (size, head) = archive.access_head();
    assert!(
        size >= requests,
        "{size} access records for {requests} requests"
    );
    assert_eq!(
        tamga::archive::access::chain_head(archive, size).map_err(|e| e.to_string()),
        Ok(head),
        "the access log is not one chain"
    );
}
