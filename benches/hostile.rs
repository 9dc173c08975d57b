//! `cargo bench --bench hostile [-- SECTION…]`: what hostile input costs, in CPU time and peak
//! memory, through the pipeline every submission takes (`Ingest::submit`, as the HTTP service
//! calls it), over a fresh archive.
//!
//! Sections (all when none is named):
//! - `ber`: 60 MiB SignedData bodies whose attached content is BER — one-byte segments flat
//!   (one constructed level) and nested 42 levels deep, and 1000-byte segments (what streaming
//!   writers produce) flat and nested. Goal: nested at most 2× the CPU of flat of the same size.
//! - `flood`: 60 MiB of two-byte carried "certificates". Goal: refused at once.
//! - `pem`: the 1000-byte nested body, 45 MiB, as 60 MiB of PEM. PEM must be decoded, so it
//!   costs its decoded size on top of the body: ¾ of it, beyond the memory goal below.
//!
//! For every case the memory goal is a peak RSS of at most the body's size + 32 MiB ("over"
//! is the peak less the process with the body in it).
//!
//! Each case runs in a child process (the bench re-runs itself with `--case NAME`), so each
//! peak (`VmHWM`) is that case's alone; the peak is reset (`/proc/self/clear_refs`) once the
//! body is built, so it counts the body plus what submitting it cost.

#[path = "support/hostile_cms.rs"]
mod hostile_cms;
#[path = "support/mod.rs"]
mod support;

use std::process::Command;
use std::time::Instant;
use tamga::ingest::Submission;
use tamga::verify::Policy;

/// The fixtures' validation time (2026-06-01).
const AT: i64 = 1_780_272_000;
/// The size of every hostile body.
const BODY: usize = 60 << 20;
/// What the memory goal allows on top of the body.
const SLACK: u64 = 32 << 20;

/// One hostile input: a name and how to build its body.
struct Case {
    name: &'static str,
    build: fn() -> Vec<u8>,
}

/// A named group of cases, selectable on the command line.
struct Section {
    name: &'static str,
    cases: &'static [Case],
    /// Prints what the section's goals say about the measured rows.
    judge: fn(&[Row]),
}

const SECTIONS: &[Section] = &[
    Section {
        name: "ber",
        cases: &[
            Case {
                name: "ber-1B-flat",
                build: || ber_body(1, 1),
            },
            Case {
                name: "ber-1B-nested42",
                build: || ber_body(1, 42),
            },
            Case {
                name: "ber-1000B-flat",
                build: || ber_body(1000, 1),
            },
            Case {
                name: "ber-1000B-nested42",
                build: || ber_body(1000, 42),
            },
        ],
        judge: judge_ber,
    },
    Section {
        name: "flood",
        cases: &[Case {
            name: "certificate-flood",
            build: || {
                let n = (BODY - signature().len() - 8) / 2;
                hostile_cms::assemble(&signature(), None, Some(&hostile_cms::certificate_flood(n)))
            },
        }],
        judge: |_| {},
    },
    Section {
        name: "pem",
        cases: &[Case {
            name: "pem-nested42",
            build: || {
                use base64::Engine;
                let der = ber_body_of(BODY / 4 * 3, 1000, 42);
                let b64 = base64::engine::general_purpose::STANDARD.encode(&der);
                drop(der);
                let mut pem = Vec::with_capacity(b64.len() / 64 * 65 + 64);
                pem.extend_from_slice(b"-----BEGIN CMS-----\n");
                for line in b64.as_bytes().chunks(64) {
                    pem.extend_from_slice(line);
                    pem.push(b'\n');
                }
                pem.extend_from_slice(b"-----END CMS-----\n");
                pem
            },
        }],
        judge: |_| {},
    },
];

/// The fixture detached signature every body is built around.
fn signature() -> Vec<u8> {
    std::fs::read(support::fixtures().join("sig/rsa-detached.der")).expect("fixture")
}

/// A body of [`BODY`] bytes whose attached content is cut into `leaf`-byte segments inside
/// `depth` indefinite-length constructed OCTET STRINGs.
fn ber_body(leaf: usize, depth: usize) -> Vec<u8> {
    ber_body_of(BODY, leaf, depth)
}

/// As [`ber_body`], of about `size` bytes.
fn ber_body_of(size: usize, leaf: usize, depth: usize) -> Vec<u8> {
    let sig = signature();
    let header = if leaf < 0x80 { 2 } else { 4 };
    let budget = size - sig.len() - 64 - 4 * depth;
    let content = support::noise(7, budget / (leaf + header) * leaf, false);
    let econtent = hostile_cms::nested_octets(&content, leaf, depth);
    drop(content);
    // Flat and nested bodies of one segment size differ by 4 bytes a level: the same size.
    hostile_cms::assemble(&sig, Some(&econtent), None)
}

/// What one case measured.
#[derive(Debug, Clone)]
struct Row {
    name: String,
    body: u64,
    cpu: f64,
    wall: f64,
    before: u64,
    peak: u64,
    verdict: String,
}

/// CPU seconds this process has used (user + system), from `/proc/self/stat`.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let after = stat.rsplit_once(')').map_or("", |(_, a)| a);
    let f: Vec<u64> = after
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name; ticks of
    // 1/100 s on Linux.
    (f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0)) as f64 / 100.0
}

/// A `/proc/self/status` field in bytes.
/// Runs one case in this process and prints its row as one tab-separated line.
fn run_case(name: &str) {
    let case = SECTIONS
        .iter()
        .flat_map(|s| s.cases)
        .find(|c| c.name == name)
        .expect("no such case");
    let dir = tempfile::tempdir().expect("temp dir");
    let ingest = tamga::setup::open(&support::paths(dir.path()), Policy::default()).unwrap();
    let body = (case.build)();
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let before = support::status_bytes("VmRSS:");
    let (cpu0, wall0) = (cpu_seconds(), Instant::now());
    let out = ingest
        .submit(&Submission {
            case: "01-05",
            signature: &body,
            content: None,
            sender_ref: None,
            received_at: AT,
            submitter: None,
        })
        .expect("submit");
    let (cpu, wall) = (cpu_seconds() - cpu0, wall0.elapsed().as_secs_f64());
    let peak = support::status_bytes("VmHWM:");
    let receipt: serde_json::Value = serde_json::from_slice(&out.body()).unwrap_or_default();
    let codes: Vec<&str> = receipt["reasons"]
        .as_array()
        .map(|a| a.iter().filter_map(|r| r["code"].as_str()).collect())
        .unwrap_or_default();
    let verdict = format!("{:?} {}", out.status, codes.join(",")).to_lowercase();
    println!(
        "{name}\t{}\t{cpu}\t{wall}\t{before}\t{peak}\t{verdict}",
        body.len()
    );
}

/// Runs `name` in a child process and reads its row back.
fn measure(name: &str) -> Row {
    let exe = std::env::current_exe().expect("own path");
    let out = Command::new(exe)
        .args(["--case", name])
        .output()
        .expect("child");
    let line = String::from_utf8_lossy(&out.stdout);
    let f: Vec<&str> = line.trim().split('\t').collect();
    let num = |i: usize| {
        f.get(i)
            .and_then(|x| x.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    if f.len() < 7 {
        eprintln!("{name}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Row {
        name: name.to_owned(),
        body: num(1) as u64,
        cpu: num(2),
        wall: num(3),
        before: num(4) as u64,
        peak: num(5) as u64,
        verdict: f.get(6).map_or("failed", |v| v).to_owned(),
    }
}

fn mib(b: u64) -> f64 {
    b as f64 / f64::from(1 << 20)
}

/// Prints the nested/flat CPU ratios against the 2× goal.
fn judge_ber(rows: &[Row]) {
    for leaf in ["1B", "1000B"] {
        let find = |shape: &str| {
            rows.iter()
                .find(|r| r.name == format!("ber-{leaf}-{shape}"))
                .map(|r| r.cpu)
        };
        if let (Some(flat), Some(nested)) = (find("flat"), find("nested42")) {
            let ratio = nested / flat.max(0.01);
            let ok = if ratio <= 2.0 { "meets" } else { "MISSES" };
            println!("  {leaf} segments: nested42 / flat CPU = {ratio:.2} ({ok} the ≤ 2× goal)");
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--case") {
        run_case(args.get(i + 1).map_or("", String::as_str));
        return;
    }
    let chosen: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with('-'))
        .collect();
    println!(
        "{:<20} {:>8} {:>7} {:>7} {:>9} {:>9} {:>8}  verdict",
        "case", "body MiB", "CPU s", "wall s", "before", "peak MiB", "over"
    );
    for section in SECTIONS {
        if !chosen.is_empty() && !chosen.contains(&section.name) {
            continue;
        }
        let rows: Vec<Row> = section.cases.iter().map(|c| measure(c.name)).collect();
        for r in &rows {
            // "over": what the peak exceeds the body by, beyond the process before the body.
            let over = r.peak.saturating_sub(r.before);
            let ok = if over <= SLACK { "" } else { " MISSES +32 MiB" };
            println!(
                "{:<20} {:>8.1} {:>7.2} {:>7.2} {:>9.1} {:>9.1} {:>8.1}  {}{ok}",
                r.name,
                mib(r.body),
                r.cpu,
                r.wall,
                mib(r.before),
                mib(r.peak),
                mib(over),
                r.verdict
            );
        }
        (section.judge)(&rows);
    }
}
