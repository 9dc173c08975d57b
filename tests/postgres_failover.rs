//! The README's high-availability recipe with two frontends, run on this machine: a primary
//! with a synchronous streaming standby (`pg_basebackup -R`, `synchronous_standby_names`),
//! two `tamga serve --database-shared` given both hosts with
//! `target_session_attrs=read-write`, clients filing through both at once. The primary is
//! killed under load (`pg_ctl stop -m immediate`), the standby promoted, and both frontends —
//! not restarted — find it and file again. What a client sees is checked and printed.

mod common;
use common::frontends::{self, Frontend, assert_gapless, assert_one_access_chain, number, submit};
use common::pg::Cluster;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const CONTENT: &[u8] = b"one content, filed under many sender references\n";

/// How long the test waits for anything (a loaded 2-core CI machine), never as a sleep.
const PATIENCE: Duration = Duration::from_secs(30);

/// One answer a frontend gave (or did not give) to one attempt of a submission.
#[derive(Debug, Clone)]
struct Attempt {
    /// The submission's sender reference.
    r: String,
    front: usize,
    started: Instant,
    ended: Instant,
    /// `None`: no answer (the connection failed).
    status: Option<u16>,
}

/// One submission acknowledged: its case, sender reference, registration number, the
/// frontend whose receipt the sender got, and how many times it was sent.
#[derive(Debug, Clone)]
struct Filed {
    case: String,
    r: String,
    number: String,
    front: usize,
    tries: usize,
}

/// What the clients share with the test: every attempt, and when to stop.
#[derive(Default)]
struct Load {
    attempts: Mutex<Vec<Attempt>>,
    acknowledged: AtomicUsize,
    stop: AtomicBool,
}

impl Load {
    fn attempts(&self) -> Vec<Attempt> {
        self.attempts.lock().unwrap().clone()
    }

    /// Waits until `done` holds of the attempts so far, failing with `what` after
    /// [`PATIENCE`].
    fn wait_for(&self, what: &str, done: impl Fn(&[Attempt]) -> bool) {
        let deadline = Instant::now() + PATIENCE;
        while !done(&self.attempts()) {
            assert!(Instant::now() < deadline, "waited {PATIENCE:?} for {what}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// A client: files new submissions until told to stop, each sent again on a 503 or no answer
/// — to the other frontend, then back — until it gets a receipt.
fn client(t: usize, fronts: &[String], signature: &[u8], load: &Load) -> Vec<Filed> {
    let client = common::server::client();
    let mut filed = Vec::new();
    for i in 0.. {
        if load.stop.load(Ordering::SeqCst) {
            break;
        }
        let case = ["01-05", "02-03"][(t + i) % 2];
        let r = format!("ha{t}-{i}");
        let deadline = Instant::now() + 2 * PATIENCE;
        for k in 0.. {
            assert!(Instant::now() < deadline, "{r} was never filed");
            let front = (t + i + k) % fronts.len();
            let started = Instant::now();
            let answer = submit(
                &client,
                &fronts[front],
                case,
                &r,
                (signature, CONTENT),
                false,
            );
            let status = answer.as_ref().map(|a| a.0);
            load.attempts.lock().unwrap().push(Attempt {
                r: r.clone(),
                front,
                started,
                ended: Instant::now(),
                status,
            });
            match answer {
                Some((201, body)) => {
                    load.acknowledged.fetch_add(1, Ordering::SeqCst);
                    filed.push(Filed {
                        case: case.to_owned(),
                        r: r.clone(),
                        number: number(&body).unwrap(),
                        front,
                        tries: k + 1,
                    });
                    break;
                }
                None | Some((503, _)) => std::thread::sleep(Duration::from_millis(50)),
                Some((status, body)) => {
                    panic!("{r}: {status} {}", String::from_utf8_lossy(&body))
                }
            }
        }
    }
    filed
}

/// Whether each of the two frontends answered `n` attempts matching `which`.
fn each_front(attempts: &[Attempt], n: usize, which: impl Fn(&Attempt) -> bool) -> bool {
    (0..2).all(|f| attempts.iter().filter(|a| a.front == f && which(a)).count() >= n)
}

/// When the primary was killed, when its standby's promotion began, and when it was done.
#[derive(Debug, Clone, Copy)]
struct Switch {
    crashed: Instant,
    promoting: Instant,
    promoted: Instant,
}

/// Clients file through `bases` until both frontends gave receipts; the primary is killed
/// under load and, once both frontends answered 503s, the standby is promoted; the clients go
/// on until both frontends gave receipts again. Every filing acknowledged, and when the
/// switch happened.
fn switch_under_load(
    (primary, standby): (&Cluster, &Cluster),
    bases: &[String],
    signature: &[u8],
    load: &Load,
) -> (Vec<Filed>, Switch) {
    let (clients, settle) = (4, 15);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..clients)
            .map(|t| scope.spawn(move || client(t, bases, signature, load)))
            .collect();
        // Both frontends file on the primary...
        load.wait_for("receipts from both frontends", |a| {
            each_front(a, settle, |a| a.status == Some(201))
        });
        // ... which dies under load. Every sender is told "try later" by both frontends (for
        // a second at least, so that senders send again more than once).
        primary.crash();
        let crashed = Instant::now();
        load.wait_for("503s from both frontends", |a| {
            crashed.elapsed() > Duration::from_secs(1)
                && each_front(a, 3, |a| a.started > crashed && a.status == Some(503))
        });
        let promoting = Instant::now();
        standby.promote().unwrap();
        let promoted = Instant::now();
        // Both frontends, not restarted, file on the new primary.
        load.wait_for("receipts from both frontends after the promotion", |a| {
            each_front(a, settle, |a| a.started > promoted && a.status == Some(201))
        });
        load.stop.store(true, Ordering::SeqCst);
        let filed = workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect();
        let switch = Switch {
            crashed,
            promoting,
            promoted,
        };
        (filed, switch)
    })
}

#[test]
fn two_frontends_go_on_filing_on_a_promoted_standby_and_no_acknowledged_filing_is_lost() {
    let primary =
        Cluster::start().unwrap_or_else(|why| panic!("no PostgreSQL for the test: {why}"));
    let standby = primary
        .standby(true)
        .unwrap_or_else(|why| panic!("no standby: {why}"));
    let dir = tempfile::tempdir().unwrap();
    let policy = frontends::demo_policy(dir.path());
    let archive = frontends::Archive {
        url: format!(
            "host=127.0.0.1,127.0.0.1 port={},{} user=tamga dbname=postgres \
             target_session_attrs=read-write connect_timeout=5",
            primary.port, standby.port
        ),
        keys: frontends::shared_key(&dir.path().join("keys"), &policy),
        policy,
        root: dir.path().to_path_buf(),
    };
    let signature = frontends::signature(dir.path(), CONTENT);
    let mut fronts: Vec<Frontend> = ["a", "b"].map(|n| archive.start(n)).into();
    let bases: Vec<String> = fronts.iter().map(|f| f.base.clone()).collect();
    let load = Load::default();
    let (filed, switch) = switch_under_load((&primary, &standby), &bases, &signature, &load);
    let attempts = load.attempts();
    what_a_client_saw(&attempts, switch);
    no_new_receipt_while_down(&attempts, switch);
    // Senders told "try later" sent again, alternately to the other frontend, and got their
    // receipts.
    let again = filed.iter().filter(|f| f.tries > 1).count();
    eprintln!("{} filings, {again} of them after 503s", filed.len());
    assert!(again > 0, "no sender had to send again");
    let numbers: Vec<String> = filed.iter().map(|f| f.number.clone()).collect();
    assert_gapless(&numbers);
    // Every acknowledged filing is stored on the promoted server: the sender's retry at the
    // other frontend gets its number again (and files nothing).
    let client = common::server::client();
    for f in &filed {
        let other = &bases[1 - f.front];
        let answer = submit(&client, other, &f.case, &f.r, (&signature, CONTENT), false);
        let (status, body) = answer.unwrap_or_else(|| panic!("no answer for {}", f.r));
        assert_eq!(
            (status, number(&body).as_deref()),
            (201, Some(f.number.as_str())),
            "{}",
            f.r
        );
    }
    for f in &mut fronts {
        f.stop();
        assert!(!f.log().contains("damaged"), "{}", f.log());
    }
    assert_kept_on(&standby.url(), &archive, &fronts, filed.len() as u64);
}

/// No new submission got a receipt while no primary was up: the standby is read-only,
/// nothing could be made durable. (A retry of one sent before the crash might be answered from
/// what was made durable then.)
fn no_new_receipt_while_down(attempts: &[Attempt], switch: Switch) {
    let before: std::collections::HashSet<&str> = attempts
        .iter()
        .filter(|a| a.started < switch.crashed)
        .map(|a| a.r.as_str())
        .collect();
    let down: Vec<&Attempt> = attempts
        .iter()
        .filter(|a| a.started > switch.crashed && a.ended < switch.promoting)
        .filter(|a| !before.contains(a.r.as_str()))
        .collect();
    assert!(
        down.iter().all(|a| a.status != Some(201)),
        "a receipt while no primary was up: {down:?}"
    );
}

/// On the promoted server at `url` itself: exactly the `filed` filings, one access chain, and
/// the full audit passes.
fn assert_kept_on(url: &str, archive: &frontends::Archive, fronts: &[Frontend], filed: u64) {
    let mut paths = frontends::pg_paths(url, &fronts[0].data, Some(&archive.keys));
    paths.policy = archive.policy.clone();
    let org = tamga::policy::load(&archive.policy)
        .unwrap()
        .organization
        .name;
    let stored = tamga::setup::open_archive_read_only(&paths, &org).unwrap();
    assert_eq!(stored.size(), filed);
    assert_one_access_chain(&stored, filed);
    drop(stored);
    let mut audit = frontends::tamga_keyed(url, &fronts[1].data, &archive.keys);
    audit.arg("--policy").arg(&archive.policy);
    common::assert_full_audit_passes(audit, 0);
}

/// Prints what the senders saw around the switch: the answers while no primary was up, and
/// how long after the promotion each frontend gave its first receipt (bounded loosely: CI is
/// a loaded 2-core machine).
fn what_a_client_saw(attempts: &[Attempt], switch: Switch) {
    let Switch {
        crashed,
        promoting,
        promoted,
    } = switch;
    let count = |which: &dyn Fn(&Attempt) -> bool| attempts.iter().filter(|a| which(a)).count();
    eprintln!(
        "primary down {:?} until the promotion began; promotion took {:?}; meanwhile {} \
         answers 503, {} without an answer",
        promoting - crashed,
        promoted - promoting,
        count(&|a| a.started > crashed && a.ended < promoted && a.status == Some(503)),
        count(&|a| a.started > crashed && a.ended < promoted && a.status.is_none()),
    );
    for front in 0..2 {
        let first = attempts
            .iter()
            .filter(|a| a.front == front && a.ended > promoted && a.status == Some(201))
            .map(|a| a.ended)
            .min()
            .unwrap_or_else(|| panic!("frontend {front} filed nothing after the promotion"));
        eprintln!(
            "frontend {front}: first receipt {:?} after the promotion",
            first - promoted
        );
        assert!(
            first - promoted < PATIENCE,
            "frontend {front} took {:?} to file again",
            first - promoted
        );
    }
}
