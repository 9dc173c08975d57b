//! The refresher against a loopback server publishing whatever the test puts there.

use super::*;
use crate::fetch::crls::tests::TestCa;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// A loopback HTTP server answering every GET with the bytes in `body` (404 when empty).
pub(crate) struct Publisher {
    pub(crate) url: String,
    body: Arc<Mutex<Vec<u8>>>,
    stop: Arc<AtomicBool>,
    addr: std::net::SocketAddr,
}

impl Publisher {
    /// Starts serving on a free loopback port, with nothing published yet.
    pub(crate) fn start() -> Publisher {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let body = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (b, s) = (body.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(mut conn) = conn else { continue };
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let bytes = b.lock().unwrap().clone();
                let status = if bytes.is_empty() {
                    "404 Not Found"
                } else {
                    "200 OK"
                };
                let _ = conn.write_all(
                    format!(
                        "HTTP/1.1 {status}\r\nContent-Length: {}\r\n\r\n",
                        bytes.len()
                    )
                    .as_bytes(),
                );
                let _ = conn.write_all(&bytes);
            }
        });
        Publisher {
            url: format!("http://127.0.0.1:{}/ca.crl", addr.port()),
            body,
            stop,
            addr,
        }
    }

    /// What every later GET answers.
    pub(crate) fn publish(&self, bytes: Vec<u8>) {
        *self.body.lock().unwrap() = bytes;
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

/// The wall clock in Unix seconds: the test CA's CRLs are dated from it.
pub(crate) fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// A refresher with default settings trusting `ca`, keeping its CRLs in `data`.
pub(crate) fn open(ca: &TestCa, data: &std::path::Path) -> Refresher {
    let settings = CrlSettings::default();
    Refresher::open(ca.store(), Policy::default(), data, &settings, now())
}

#[test]
fn fetched_kept_and_loaded_after_a_restart() {
    let publisher = Publisher::start();
    let ca = TestCa::new("Refresh CA", &publisher.url);
    let data = tempfile::tempdir().unwrap();
    let mut r = open(&ca, data.path());
    assert!(r.trust().crls().is_empty());
    publisher.publish(ca.crl(1, 10, 3600, &[42]));
    assert!(r.run(now(), false), "the first CRL is taken");
    assert_eq!(r.trust().crls().len(), 1);
    let row = r.rows(now()).pop().unwrap();
    assert_eq!(row.number.as_deref(), Some("1"));
    assert!(row.current && row.last_error.is_none() && row.last_fetch.is_some());
    // Fetched again when due, not before: three quarters of an hour from its thisUpdate.
    assert!(!r.run(now(), false));
    let due = r.next_due().unwrap();
    assert!((now() + 2600..now() + 2700).contains(&due), "{due}");
    // A restart (a new refresher over the same data directory) starts with it, unfetched.
    drop(publisher);
    let again = open(&ca, data.path());
    assert_eq!(again.trust().crls().len(), 1);
    assert_eq!(again.rows(now())[0].number.as_deref(), Some("1"));
}

#[test]
fn a_lower_number_is_refused_and_the_held_one_kept() {
    let publisher = Publisher::start();
    let ca = TestCa::new("Refresh CA", &publisher.url);
    let data = tempfile::tempdir().unwrap();
    let mut r = open(&ca, data.path());
    publisher.publish(ca.crl(7, 100, 3600, &[]));
    assert!(r.run(now(), true));
    publisher.publish(ca.crl(6, 10, 3600, &[1]));
    assert!(!r.run(now(), true), "nothing swapped in");
    let row = r.rows(now()).pop().unwrap();
    assert_eq!(row.number.as_deref(), Some("7"));
    assert!(row.last_error.unwrap().contains("lower"));
    // The file kept is still number 7.
    let kept = CrlDir::new(data.path()).load(&publisher.url).unwrap();
    assert_eq!(
        crls::parse("", &kept).unwrap().number,
        r.trust().crls()[0].number
    );
    // A higher one replaces it.
    publisher.publish(ca.crl(8, 5, 3600, &[1]));
    assert!(r.run(now(), true));
    assert_eq!(r.rows(now()).pop().unwrap().number.as_deref(), Some("8"));
}

#[test]
fn errors_back_off_and_are_shown() {
    let publisher = Publisher::start();
    let ca = TestCa::new("Refresh CA", &publisher.url);
    let data = tempfile::tempdir().unwrap();
    let mut r = open(&ca, data.path());
    let t = now();
    assert!(!r.run(t, false));
    assert_eq!(r.next_due(), Some(t + FIRST_BACKOFF));
    assert!(!r.run(t + FIRST_BACKOFF, false));
    assert_eq!(r.next_due(), Some(t + 3 * FIRST_BACKOFF), "doubled");
    let row = r.rows(t).pop().unwrap();
    assert!(row.last_error.unwrap().contains("HTTP 404"));
    assert!(!row.current && row.number.is_none());
}

#[test]
fn the_schedule_runs_ahead_of_next_update() {
    let ca = TestCa::new("Refresh CA", "http://127.0.0.1:9/ca.crl");
    let crl = crls::parse("", &ca.crl(1, 0, 4000, &[])).unwrap();
    let t = crl.this_update;
    assert_eq!(
        due(&crl, t, 3600),
        t + 3000,
        "three quarters of the interval"
    );
    assert_eq!(due(&crl, t, 600), t + 600, "at least every refresh period");
    assert_eq!(
        due(&crl, t + 5000, 3600),
        t + 5000 + MIN_GAP,
        "stale: asked again soon"
    );
}
