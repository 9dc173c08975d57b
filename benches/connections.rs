//! Hostile connections against a real `tamga serve` whose file limit is 1024: 2,000 idle
//! connections, 200 slowloris connections (a header line every second, never finishing) and 256
//! anonymous header-only POSTs, all at once; meanwhile a legitimate caller's requests are timed
//! on fresh connections, and the server's CPU and memory are read from /proc.
//!
//! `cargo bench --bench connections` (about 40 s). Goal (issue 12): every legitimate request
//! answered within 1 s, the server's CPU idle.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const AUDITOR: &str = "demo-auditor-token";

/// The server process, killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(data: &std::path::Path, port: u16) -> Server {
    let root = env!("CARGO_MANIFEST_DIR");
    let bin = env!("CARGO_BIN_EXE_tamga");
    let script = format!(
        "ulimit -n 1024; exec {bin} --data {} serve --listen 127.0.0.1:{port} --log-format json",
        data.display()
    );
    let child = Command::new("bash")
        .arg("-c")
        .arg(script)
        .current_dir(root)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start tamga serve");
    let server = Server(child);
    for _ in 0..600 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return server;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("tamga serve did not start");
}

/// One legitimate request on a fresh connection: its latency, or None when it failed or
/// took longer than 5 s.
fn legit(port: u16) -> Option<Duration> {
    let started = Instant::now();
    let mut c = TcpStream::connect(("127.0.0.1", port)).ok()?;
    c.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let req = format!(
        "GET /v1/cases HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {AUDITOR}\r\nConnection: close\r\n\r\n"
    );
    c.write_all(req.as_bytes()).ok()?;
    let mut buf = Vec::new();
    c.read_to_end(&mut buf).ok()?;
    buf.starts_with(b"HTTP/1.1 200").then(|| started.elapsed())
}

fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |x| x.1);
    let f: Vec<u64> = after
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0)
}

fn status_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

fn percentile(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v.get(i).copied().unwrap_or_default()
}

/// 256 connections that send a request's headers and never its body or credentials.
fn anonymous_header_only(addr: (&'static str, u16)) -> Vec<TcpStream> {
    (0..256)
        .filter_map(|_| {
            let mut c = TcpStream::connect(addr).ok()?;
            c.write_all(
                b"POST /v1/retention/acts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n",
            )
            .ok()?;
            Some(c)
        })
        .collect()
}

/// 200 slowloris connections, each sending one more header line a second until `stop`; the
/// thread returns how many were still open.
fn slowloris(addr: (&'static str, u16), stop: Arc<AtomicBool>) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        let mut conns: Vec<TcpStream> = (0..200)
            .filter_map(|_| {
                let mut c = TcpStream::connect(addr).ok()?;
                c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").ok()?;
                Some(c)
            })
            .collect();
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_secs(1));
            conns.retain_mut(|c| c.write_all(b"X-Slow: 1\r\n").is_ok());
        }
        conns.len()
    })
}

fn main() {
    let tmp = tempfile::tempdir().unwrap();
    let port = 20_000 + (std::process::id() % 20_000) as u16;
    let server = start(&tmp.path().join("data"), port);
    let pid = server.0.id();
    std::thread::sleep(Duration::from_millis(500));
    let mut base: Vec<Duration> = (0..20).filter_map(|_| legit(port)).collect();
    println!(
        "quiet server: legitimate request p50 {:.2} ms, max {:.2} ms",
        percentile(&mut base, 0.5).as_secs_f64() * 1e3,
        percentile(&mut base, 1.0).as_secs_f64() * 1e3
    );

    let addr = ("127.0.0.1", port);
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let idle: Vec<TcpStream> = (0..2000)
        .filter_map(|_| TcpStream::connect(addr).ok())
        .collect();
    let anonymous = anonymous_header_only(addr);
    let slow = slowloris(addr, stop.clone());
    println!(
        "opened {} idle, 200 slowloris and {} anonymous header-only connections in {:.1} s",
        idle.len(),
        anonymous.len(),
        started.elapsed().as_secs_f64()
    );
    let ticks0 = cpu_ticks(pid);
    let window = Instant::now();
    let mut lat = Vec::new();
    let mut failed = 0;
    while window.elapsed() < Duration::from_secs(20) {
        match legit(port) {
            Some(d) => lat.push(d),
            None => failed += 1,
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let secs = window.elapsed().as_secs_f64();
    let ticks = cpu_ticks(pid) - ticks0;
    let hz = 100.0; // USER_HZ on Linux
    println!(
        "under attack, {} legitimate requests over {secs:.0} s: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, {failed} failed",
        lat.len(),
        percentile(&mut lat, 0.5).as_secs_f64() * 1e3,
        percentile(&mut lat, 0.99).as_secs_f64() * 1e3,
        percentile(&mut lat, 1.0).as_secs_f64() * 1e3,
    );
    println!(
        "server: CPU {:.1} % of one core over the window (including the legitimate requests), RSS {} KiB (peak {} KiB), {} descriptors open",
        ticks as f64 / hz / secs * 100.0,
        status_kb(pid, "VmRSS:"),
        status_kb(pid, "VmHWM:"),
        open_fds(pid)
    );
    stop.store(true, Ordering::Relaxed);
    let still_slow = slow.join().unwrap_or(0);
    let alive = idle
        .iter()
        .filter(|c| {
            c.set_nonblocking(true).ok();
            let mut b = [0u8; 1];
            matches!(c.peek(&mut b), Err(ref e) if e.kind() == std::io::ErrorKind::WouldBlock)
        })
        .count();
    println!(
        "after {:.0} s: {alive} of {} idle connections and {still_slow} of 200 slowloris connections still open on the client side",
        started.elapsed().as_secs_f64(),
        idle.len()
    );
    drop(anonymous);
}
