//! The web console in a real browser: Debian's headless chromium, driven through chromedriver
//! (W3C WebDriver), against a real `tamga serve` on a free port. The scenarios of issue 17:
//! each role signs in; a clerk submits and reads the receipt; an archivist walks a case to a
//! document and downloads it, places and releases a hold, drafts an act that two others
//! approve, executes it after confirming and opens the destroyed document; an auditor runs an
//! audit to the end, checks a proof in the page, reads the access log and the trust store; the
//! four languages; a clerk on an archivist's page gets the 403 page; a CSRF-less POST is
//! refused. Every page is screenshotted at 1366×768 and 390×844 (target/console-screenshots),
//! shows no console errors, fits the phone's width and passes axe-core (vendored in
//! tests/console/axe.min.js, injected by the test only).
//!
//! Needs `chromium` and `chromium-driver` (.ci/run installs them); `TAMGA_SKIP_CHROMIUM=1`
//! skips with a notice, nothing else does.

mod common;
#[path = "console/lists.rs"]
mod lists;
#[path = "console/tls.rs"]
mod tls;
#[path = "console/webdriver.rs"]
mod webdriver;

use common::fixtures;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use webdriver::Browser;

const AXE: &str = include_str!("console/axe.min.js");
const CLERK: &str = "demo-gateway-token";
const ARCHIVIST: &str = "demo-archivist-token";
const AUDITOR: &str = "demo-auditor-token";

/// A `tamga serve` child; killed and reaped when dropped.
struct Serve {
    child: Child,
    base: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn hex_sha256(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The demo policy plus case T-1 (`closed` or open) and two more archivists.
fn policy(closed: bool) -> String {
    let demo =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("archive-policy.toml"))
            .unwrap();
    let closed = if closed { "closed = 2020" } else { "" };
    let mut p = format!(
        "{demo}\n[[case]]\nindex = \"T-1\"\ntitle = \"Переписка 2019 года\"\nretention = \"1y\"\n\
         {closed}\naccess = [\"archivist\", \"auditor\"]\n"
    );
    for n in ["archivist-2", "archivist-3"] {
        p += &format!(
            "\n[[principal]]\nname = \"{n}\"\nrole = \"archivist\"\ntoken_sha256 = \"{}\"\n",
            hex_sha256(&format!("{n}-token"))
        );
    }
    p
}

/// Files three documents in T-1 while it is open, as the gateway would have years ago.
fn seed(dir: &Path) {
    let mut ingest = common::ingest(&dir.join("data"));
    ingest.policy = tamga::policy::parse(&policy(false), Path::new("p.toml")).unwrap();
    for (i, f) in ["rsa-attached.der", "p256.der", "ed25519.der"]
        .iter()
        .enumerate()
    {
        let sig = std::fs::read(fixtures().join("sig").join(f)).unwrap();
        let r = format!("ИСХ-{i}");
        let out = ingest
            .submit(&tamga::ingest::Submission {
                case: "T-1",
                signature: &sig,
                content: None,
                sender_ref: Some(&r),
                received_at: tamga::clock::now(),
                submitter: Some("demo-gateway"),
            })
            .unwrap();
        assert_eq!(out.status, tamga::verify::Status::Accepted, "{f}");
    }
}

fn serve(dir: &Path) -> Serve {
    spawn(dir, &policy(true), &[], "http", &common::server::client())
}

/// `tamga serve` on `dir/data` with `policy_text` and `extra` arguments, on a free port,
/// answering `scheme` to `client`; waits until it answers.
fn spawn(
    dir: &Path,
    policy_text: &str,
    extra: &[&std::ffi::OsStr],
    scheme: &str,
    client: &reqwest::blocking::Client,
) -> Serve {
    let policy_file = dir.join("policy.toml");
    std::fs::write(&policy_file, policy_text).unwrap();
    // The port was free a moment ago; if another process took it since, tamga exits and
    // the next one is tried.
    for _ in 0..5 {
        let port = common::ocsp::free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_tamga"))
            .arg("--data")
            .arg(dir.join("data"))
            .arg("--policy")
            .arg(&policy_file)
            .arg("--trust")
            .arg(fixtures().join("trust"))
            .arg("--keys")
            .arg(dir.join("no-keys"))
            .args(["serve", "--revocation", "prefer", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut s = Serve {
            child,
            base: format!("{scheme}://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if client
                .get(format!("{}/healthz", s.base))
                .send()
                .is_ok_and(|r| r.status() == 200)
            {
                return s;
            }
            if s.child.try_wait().unwrap().is_some() {
                break;
            }
            assert!(Instant::now() < deadline, "tamga serve did not answer");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    panic!("tamga serve would not start on any of five free ports");
}

/// The browser, the server's address and where screenshots go.
struct T {
    b: Browser,
    base: String,
    shots: PathBuf,
    pages: usize,
}

impl T {
    fn go(&self, path: &str) {
        self.b.goto(&format!("{}{path}", self.base));
    }

    /// Screenshots at both widths, no console errors (but `expected` ones), no sideways
    /// scrolling on the phone, no axe-core violations of WCAG 2 A/AA.
    fn check(&mut self, name: &str, expected: &[&str]) {
        self.pages += 1;
        let errors: Vec<_> = self
            .b
            .log()
            .into_iter()
            .filter(|(level, msg)| level == "SEVERE" && !expected.iter().any(|e| msg.contains(e)))
            .collect();
        assert!(errors.is_empty(), "{name}: console errors {errors:?}");
        std::fs::write(
            self.shots.join(format!("{name}-1366.png")),
            self.b.screenshot(),
        )
        .unwrap();
        self.b.js(&format!("{AXE}\n;return 1;"), json!([]));
        let violations = self.b.js_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})
               .then(r => done(r.violations.map(v => v.id + ': ' + v.nodes.map(n => n.html).join(' | '))))
               .catch(e => done(['axe failed: ' + e]));",
            json!([]),
        );
        assert_eq!(violations, json!([]), "{name}: accessibility");
        self.b.size(390, 844);
        let fits = self.b.js(
            "return document.documentElement.scrollWidth <= window.innerWidth + 1;",
            json!([]),
        );
        std::fs::write(
            self.shots.join(format!("{name}-390.png")),
            self.b.screenshot(),
        )
        .unwrap();
        assert_eq!(fits, json!(true), "{name}: wider than a phone");
        self.b.size(1366, 768);
    }

    fn sign_in(&mut self, token: &str) {
        self.go("/signin");
        self.b.fill("#token", token);
        self.b.click("form[action='/signin'] button");
        self.b.find("form.signout");
    }

    fn sign_out(&self) {
        self.go("/");
        self.b.click("form.signout button");
        self.b.find("#token");
    }

    /// `fetch` in the page: status, Content-Disposition and body length.
    fn fetch(&self, url: &str, init: Value) -> Value {
        self.b.js_async(
            "const done = arguments[2];
             fetch(arguments[0], arguments[1]).then(async r => {
               const b = await r.arrayBuffer();
               done({status: r.status, disposition: r.headers.get('content-disposition'), length: b.byteLength});
             }).catch(e => done({error: String(e)}));",
            json!([url, init]),
        )
    }
}

fn text_of(t: &T, css: &str) -> String {
    t.b.text(css)
}

#[test]
fn console_in_a_browser() {
    if std::env::var("TAMGA_SKIP_CHROMIUM").as_deref() == Ok("1") {
        eprintln!("NOTICE: TAMGA_SKIP_CHROMIUM=1: the browser test of the console is skipped");
        return;
    }
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    seed(dir.path());
    let server = serve(dir.path());
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/console-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let downloads = dir.path().join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    let mut t = T {
        b: Browser::start(&downloads),
        base: server.base.clone(),
        shots,
        pages: 0,
    };
    clerk(&mut t);
    archivist(&mut t);
    auditor(&mut t);
    languages(&mut t);
    eprintln!(
        "console: {} pages checked in {:.1} s",
        t.pages,
        started.elapsed().as_secs_f64()
    );
}

/// Sign-in, submission, receipts, the 403 page, a CSRF-less POST.
fn clerk(t: &mut T) {
    t.go("/");
    assert!(t.b.url().ends_with("/signin"), "anonymous: to sign-in");
    t.check("signin", &[]);
    t.b.fill("#token", "not-a-token");
    t.b.click("form[action='/signin'] button");
    t.b.find("p.error");
    t.check("signin-refused", &["401"]);
    t.sign_in(CLERK);
    t.check("home-clerk", &[]);
    t.go("/registry");
    t.check("registry", &[]);
    t.b.fill(
        "input[name=signature]",
        &fixtures().join("sig/p384.der").display().to_string(),
    );
    t.b.fill("input[name=sender_ref]", "ВХ-17");
    t.b.click("form[action='/registry'] button");
    t.b.find("#receipt-status");
    assert!(t.b.url().contains("/registry/receipts/"));
    assert_eq!(text_of(t, "#regno"), "01-05/1");
    t.check("receipt-accepted", &[]);
    let signed = t.fetch(&format!("{}/signed", t.b.url()), json!({}));
    assert_eq!(signed["status"], 200, "{signed}");
    assert!(
        signed["disposition"]
            .as_str()
            .unwrap_or("")
            .contains("attachment")
    );
    t.go("/registry");
    t.b.fill(
        "input[name=signature]",
        &fixtures().join("sig/garbage.der").display().to_string(),
    );
    t.b.click("form[action='/registry'] button");
    t.b.find("#appeal");
    assert!(t.b.text("#reasons").contains("malformed"));
    t.check("receipt-rejected", &[]);
    t.go("/registry");
    assert!(
        t.b.try_find("a[href^='/registry/receipts/']").is_some(),
        "own submissions"
    );
    // The clerk on an archivist's page: the 403 page, as the API refuses it.
    t.go("/retention");
    assert_eq!(t.b.text("h1"), "Access denied");
    t.check("forbidden", &["403"]);
    // A POST without the CSRF token, with the session cookie: refused.
    t.go("/registry");
    let r = t.fetch(
        "/registry",
        json!({"method": "POST", "body": "case=01-05", "headers": {"Content-Type": "application/x-www-form-urlencoded"}}),
    );
    assert_eq!(r["status"], 400, "a form that is no multipart: {r}");
    let r = t.b.js_async(
        "const done = arguments[0]; const f = new FormData();
         f.append('case', '01-05'); f.append('signature', new Blob(['x']), 's.p7s');
         fetch('/registry', {method: 'POST', body: f}).then(r => done(r.status));",
        json!([]),
    );
    assert_eq!(r, 403, "a submission without its CSRF token");
    let r = t.fetch(
        "/signout",
        json!({"method": "POST", "body": "csrf=wrong", "headers": {"Content-Type": "application/x-www-form-urlencoded"}}),
    );
    assert_eq!(r["status"], 403, "sign-out with a wrong token");
    t.b.log();
    t.sign_out();
}

/// A case to a document, download, a hold, an act approved by two others and executed.
fn archivist(t: &mut T) {
    t.sign_in(ARCHIVIST);
    t.check("home-archivist", &[]);
    find_and_download(t);
    // A hold on T-1, then released.
    hold_and_release(t);
    // An act: drafted here, approved by two others, executed after confirming.
    act_approved_and_executed(t);
    t.sign_out();
}

/// The archivist walks from the cases to T-1, finds a document by its sender's reference,
/// opens it and downloads its file.
fn find_and_download(t: &mut T) {
    t.go("/cases");
    t.check("cases", &[]);
    t.b.click("a[href='/cases/T-1']");
    t.b.find("#documents");
    t.check("case", &[]);
    t.b.fill("input[name=sender_ref]", "ИСХ-1");
    t.b.submit("form[role=search] button");
    t.b.find("#documents");
    let rows = t.b.js(
        "return document.querySelectorAll('#documents tbody tr').length;",
        json!([]),
    );
    assert_eq!(rows, 1, "search by the sender's reference");
    t.check("case-search", &[]);
    t.b.click("#documents tbody a");
    t.b.find("#doc-status");
    assert_eq!(t.b.text("h1"), "Document T-1/2");
    t.check("document", &[]);
    let href = t.b.js(
        "return document.querySelector('#files a[download]').href;",
        json!([]),
    );
    let got = t.fetch(href.as_str().unwrap(), json!({}));
    assert_eq!(got["status"], 200, "{got}");
    assert!(got["length"].as_u64().unwrap() > 100);
}

/// The archivist holds T-1 on the retention page, then releases it.
fn hold_and_release(t: &mut T) {
    t.go("/retention");
    t.check("retention", &[]);
    t.b.js(
        "document.querySelector(\"form[action='/retention/holds'] select\").value = 'T-1';",
        json!([]),
    );
    t.b.fill("input[name=reason]", "Запрос суда № 5");
    t.b.submit("form[action='/retention/holds'] button");
    t.b.find("tr[data-case='T-1'] button[data-release]");
    assert_eq!(t.b.text("tr[data-case='T-1'] td.status"), "on-hold");
    t.check("retention-hold", &[]);
    t.b.submit("tr[data-case='T-1'] button[data-release]");
    t.b.find("#plan");
    assert!(
        t.b.try_find("tr[data-case='T-1'] button[data-release]")
            .is_none()
    );
}

/// The archivist drafts an act for T-1 (own approval refused), two others approve it, the
/// archivist executes it after confirming; the document is then shown destroyed.
fn act_approved_and_executed(t: &mut T) {
    t.b.click("input[name=case][value='T-1']");
    t.b.click("form[action='/retention/acts'][method=post] button");
    t.b.find("#approvals");
    let act_url = t.b.url();
    assert_eq!(t.b.text("#still-needed"), "2");
    t.check("act-drafted", &[]);
    t.b.click("#approve");
    t.b.find("p.detail");
    assert!(
        t.b.text("p.detail").contains("drafter"),
        "the drafter's own approval does not count"
    );
    t.check("act-own-approval", &["422"]);
    t.sign_out();
    for who in ["archivist-2-token", "archivist-3-token"] {
        t.sign_in(who);
        t.b.goto(&act_url);
        t.b.submit("#approve");
        t.b.find("#approvals");
        t.sign_out();
    }
    t.sign_in(ARCHIVIST);
    t.b.goto(&act_url);
    assert_eq!(t.b.text("#still-needed"), "0");
    t.b.click("#execute");
    t.b.find("#confirm");
    t.check("act-confirm", &[]);
    t.b.click("#confirm");
    t.b.find("#act-status[data-executed=true]");
    t.check("act-executed", &[]);
    t.b.click("#print");
    t.b.find("pre.act");
    t.check("act-print", &[]);
    t.go("/document?regno=T-1%2F2");
    assert_eq!(
        t.b.js(
            "return document.getElementById('doc-status').dataset.status;",
            json!([])
        ),
        "destroyed"
    );
    assert!(
        t.b.try_find("#files a[download]").is_none(),
        "no download of a destroyed document"
    );
    t.check("document-destroyed", &[]);
    // Still found by its sender's reference, listed as destroyed with its act.
    t.go("/cases/T-1?sender_ref=%D0%B8%D1%81%D1%85-1");
    let found = t.b.text("#documents");
    assert!(
        found.contains("T-1/2") && found.contains("under act"),
        "{found}"
    );
    assert!(!found.contains("T-1/1"), "{found}");
    t.check("case-search-destroyed", &[]);
}

/// Checkpoint, a full audit to the end, a proof checked in the page, access log, trust.
fn auditor(t: &mut T) {
    t.sign_in(AUDITOR);
    t.go("/audit");
    t.b.find("#checkpoint");
    t.check("audit", &[]);
    t.b.click("#run-audit");
    let deadline = Instant::now() + Duration::from_secs(20);
    while t.b.try_find("#audit-result").is_none() {
        assert!(Instant::now() < deadline, "the audit did not finish");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        t.b.js(
            "return document.getElementById('audit-result').dataset.status;",
            json!([])
        ),
        "intact"
    );
    t.check("audit-result", &[]);
    t.go("/audit/proof?index=1");
    t.b.click("#check-proof");
    t.b.find("#proof-result[data-result]");
    assert_eq!(
        t.b.js(
            "return document.getElementById('proof-result').dataset.result;",
            json!([])
        ),
        "verified",
        "{}",
        t.b.text("#proof-result")
    );
    t.check("proof", &[]);
    t.go("/audit/access?principal=demo-gateway&decision=denied");
    assert!(
        t.b.text("#access").contains("/retention"),
        "the clerk's refusal is logged"
    );
    t.check("access-log", &[]);
    t.go("/audit/trust");
    t.b.find("#anchors");
    t.check("trust", &[]);
    t.go("/retention");
    assert_eq!(t.b.text("h1"), "Access denied");
    t.b.log();
}

/// Every page in each language: the switch on the page, remembered by the cookie.
fn languages(t: &mut T) {
    t.go("/cases");
    for (code, title) in [
        ("kk", "Істер номенклатурасы"),
        ("ky", "Иштердин номенклатурасы"),
        ("en", "Nomenclature of cases"),
        ("ru", "Номенклатура дел"),
    ] {
        t.b.click(&format!("nav.lang a[hreflang={code}]"));
        t.b.find(&format!("html[lang={code}]"));
        assert_eq!(t.b.text("h1"), title);
        t.go("/audit");
        t.b.find(&format!("html[lang={code}]"));
        t.check(&format!("audit-{code}"), &[]);
        t.go("/cases");
    }
}
