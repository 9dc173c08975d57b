//! A throwaway PostgreSQL cluster for one test: `initdb` in a temporary directory, the server
//! on a free loopback port with its socket in that directory, stopped and removed on drop.
//! Never the machine's own cluster. As root (CI), the server runs as the `postgres` user,
//! since PostgreSQL refuses to run as root. Shared by the library's unit tests (through
//! `#[path]`) and the integration tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// A running throwaway cluster.
pub struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

/// The directory of PostgreSQL's server programs: `TAMGA_PG_BIN`, else the newest Debian
/// install, else whatever `initdb` the PATH has.
fn bin_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("TAMGA_PG_BIN") {
        return Some(dir.into());
    }
    let mut debian: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|b| b.join("initdb").exists())
        .collect();
    debian.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    if let Some(newest) = debian.pop() {
        return Some(newest);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .find(|p| p.join("initdb").exists() && p.join("pg_ctl").exists())
    })
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// The postgres user's uid and gid, from /etc/passwd.
fn postgres_user() -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.first() == Some(&"postgres"))
            .then(|| Some((f.get(2)?.parse().ok()?, f.get(3)?.parse().ok()?)))?
    })
}

impl Cluster {
    /// Starts a cluster, or says why it cannot (no PostgreSQL installed): the caller fails
    /// the test with that sentence, so a missing server is never a silent pass.
    pub fn start() -> Result<Cluster, String> {
        let cluster = Cluster::unstarted()?;
        let data = cluster.data();
        cluster.run(
            "initdb",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-U".as_ref(),
                "tamga".as_ref(),
                "--auth=trust".as_ref(),
                "--no-sync".as_ref(),
                "-E".as_ref(),
                "UTF8".as_ref(),
            ],
        )?;
        cluster.start_on_a_free_port()
    }

    /// A directory for a cluster, owned by the postgres user when we are root.
    fn unstarted() -> Result<Cluster, String> {
        let bin =
            bin_dir().ok_or("PostgreSQL's initdb was not found (apt-get install postgresql)")?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        if is_root() {
            let (uid, gid) =
                postgres_user().ok_or("running as root and there is no postgres user")?;
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))
                .map_err(|e| e.to_string())?;
        }
        Ok(Cluster { dir, bin, port: 0 })
    }

    fn start_on_a_free_port(mut self) -> Result<Cluster, String> {
        for _ in 0..5 {
            self.port = free_port();
            if self.pg_ctl_start().is_ok() {
                return Ok(self);
            }
        }
        Err(format!("the server would not start: {}", self.log()))
    }

    /// A streaming-replication standby of this cluster (`pg_basebackup -R`), started on a
    /// port of its own. With `synchronous`, this cluster then waits for the standby at every
    /// synchronous commit (`synchronous_standby_names = '*'`).
    pub fn standby(&self, synchronous: bool) -> Result<Cluster, String> {
        let standby = Cluster::unstarted()?;
        let port = self.port.to_string();
        standby.run(
            "pg_basebackup",
            &[
                "-D".as_ref(),
                standby.data().as_os_str(),
                "-h".as_ref(),
                "127.0.0.1".as_ref(),
                "-p".as_ref(),
                port.as_ref(),
                "-U".as_ref(),
                "tamga".as_ref(),
                "-R".as_ref(),
                "-X".as_ref(),
                "stream".as_ref(),
                "--no-sync".as_ref(),
            ],
        )?;
        let standby = standby.start_on_a_free_port()?;
        if synchronous {
            self.sql("ALTER SYSTEM SET synchronous_standby_names = '*'")?;
            self.sql("SELECT pg_reload_conf()")?;
        }
        Ok(standby)
    }

    /// Promotes a standby to primary (`pg_ctl promote`, waiting until it is done).
    pub fn promote(&self) -> Result<(), String> {
        self.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                self.data().as_os_str(),
                "-w".as_ref(),
                "-t".as_ref(),
                "30".as_ref(),
                "promote".as_ref(),
            ],
        )
    }

    /// Runs one SQL statement with psql as `tamga`.
    pub fn sql(&self, statement: &str) -> Result<(), String> {
        let port = self.port.to_string();
        self.run(
            "psql",
            &[
                "-h".as_ref(),
                "127.0.0.1".as_ref(),
                "-p".as_ref(),
                port.as_ref(),
                "-U".as_ref(),
                "tamga".as_ref(),
                "-d".as_ref(),
                "postgres".as_ref(),
                "-v".as_ref(),
                "ON_ERROR_STOP=1".as_ref(),
                "-c".as_ref(),
                statement.as_ref(),
            ],
        )
    }

    /// A connection string for the cluster's `postgres` database as user `tamga`.
    pub fn url(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user=tamga dbname=postgres",
            self.port
        )
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn pg_ctl_start(&self) -> Result<(), String> {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c wal_writer_delay=10s",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log");
        self.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                self.data().as_os_str(),
                "-l".as_ref(),
                log.as_os_str(),
                "-o".as_ref(),
                opts.as_ref(),
                "-w".as_ref(),
                "-t".as_ref(),
                "30".as_ref(),
                "start".as_ref(),
            ],
        )
    }

    /// Stops the server at once, as a crash would (`immediate`: no checkpoint).
    pub fn crash(&self) {
        let _ = self.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                self.data().as_os_str(),
                "-m".as_ref(),
                "immediate".as_ref(),
                "-w".as_ref(),
                "stop".as_ref(),
            ],
        );
    }

    /// Starts it again on the same port after [`Cluster::crash`].
    pub fn restart(&self) {
        self.pg_ctl_start().expect("the server restarts");
    }

    /// Runs one of PostgreSQL's programs, as the postgres user when we are root.
    fn run(&self, program: &str, args: &[&std::ffi::OsStr]) -> Result<(), String> {
        let exe = self.bin.join(program);
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let out = cmd
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| format!("{}: {e}", exe.display()))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{program} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.crash();
    }
}

/// A port nothing listens on now (the server may still lose it to a race: start retries).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(54329)
}

/// A schema name for a test directory (one archive per schema).
pub fn schema_for(dir: &Path) -> String {
    let name: String = dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("t")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("t_{name}")
}
