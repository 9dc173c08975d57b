//! The console's look-up lists (`archive::lists`), without a browser: a principal's own
//! submissions and a case's documents by reference, IIN/BIN and signer's name, written with
//! the filing; and built once for an archive from before them.

use super::common;
use common::fixtures;
use tamga::archive::Archive;
use tamga::archive::lists::{List, Outcome};
use tamga::archive::store::{Batch, Space};
use tamga::verify::Status;

/// Submits fixture `file` into 01-05 as `who` with reference `r`; its verdict.
fn submit(ing: &tamga::ingest::Ingest, file: &str, r: &str, who: Option<&str>) -> Status {
    let sig = std::fs::read(fixtures().join("sig").join(file)).unwrap();
    let s = tamga::ingest::Submission {
        case: "01-05",
        signature: &sig,
        content: None,
        sender_ref: Some(r),
        received_at: common::AT,
        submitter: who,
    };
    ing.submit(&s).unwrap().status
}

/// A list's values, oldest first; `None` when the archive keeps no lists.
fn values(a: &Archive, l: &List<'_>) -> Option<Vec<u64>> {
    let r = a.list(l).unwrap()?;
    Some((1..=r.len).map(|n| r.get(n).unwrap()).collect())
}

/// Files: alice's accepted P-256 (ref "ИСХ 1"), alice's rejected expired one, bob's
/// accepted RSA (ref "исх  1"), alice's accepted Ed25519, and one without a submitter.
fn file_five(ing: &tamga::ingest::Ingest) {
    assert_eq!(
        submit(ing, "p256.der", "ИСХ 1", Some("alice")),
        Status::Accepted
    );
    assert_eq!(
        submit(ing, "expired.der", "x", Some("alice")),
        Status::Rejected
    );
    let bob = submit(ing, "rsa-attached.der", " исх  1 ", Some("bob"));
    assert_eq!(bob, Status::Accepted);
    assert_eq!(
        submit(ing, "ed25519.der", "b", Some("alice")),
        Status::Accepted
    );
    assert_eq!(submit(ing, "p256.der", "c", None), Status::Accepted);
}

/// What [`file_five`] leaves in the lists.
fn assert_five(a: &Archive) {
    let mine = |p, o| values(a, &List::Mine(p, o)).expect("lists built");
    assert_eq!(mine("alice", Outcome::All), [0, 1, 3]);
    assert_eq!(mine("alice", Outcome::Accepted), [0, 3]);
    assert_eq!(mine("alice", Outcome::Rejected), [1]);
    assert_eq!(mine("bob", Outcome::All), [2]);
    assert_eq!(mine("carol", Outcome::All), Vec::<u64>::new());
    let case = |l: List<'_>| values(a, &l).unwrap();
    // Registration numbers in 01-05: 1 = P-256, 2 = RSA, 3 = Ed25519, 4 = P-256 again.
    assert_eq!(
        case(List::Ref("01-05", "исх 1")),
        [1, 2],
        "case and spaces ignored"
    );
    assert_eq!(case(List::Ref("01-05", "b")), [3]);
    assert_eq!(case(List::Ref("01-05", "x")), Vec::<u64>::new(), "rejected");
    assert_eq!(case(List::Id("01-05", "123456789011")), [2], "IIN");
    assert_eq!(case(List::Id("01-05", "123456789021")), [2], "BIN");
    assert_eq!(case(List::Word("01-05", "ТЕСТОВ")), [2]);
    assert_eq!(case(List::Word("01-05", "signer")), [1, 3, 4]);
    assert_eq!(case(List::Word("01-05", "Ed25519")), [3]);
    assert_eq!(case(List::Word("01-05", "p")), [1, 4]);
    assert_eq!(
        case(List::Word("01-05", "kz")),
        Vec::<u64>::new(),
        "C= is no name"
    );
    assert_eq!(case(List::Word("01-06", "signer")), Vec::<u64>::new());
}

#[test]
fn lists_are_written_with_the_filing() {
    let dir = tempfile::tempdir().unwrap();
    let ing = common::ingest(dir.path());
    file_five(&ing);
    assert_five(&ing.archive);
    // A retry files nothing, so lists nothing twice.
    assert_eq!(
        submit(&ing, "p256.der", "ИСХ 1", Some("alice")),
        Status::Accepted
    );
    assert_eq!(
        values(&ing.archive, &List::Mine("alice", Outcome::All))
            .unwrap()
            .len(),
        3
    );
}

#[test]
fn an_archive_from_before_the_lists_gets_them_on_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let ing = common::ingest(dir.path());
        file_five(&ing);
        // As a tamga from before the lists left it: no version, every list empty.
        let store = ing.archive.raw_store();
        let mut b = Batch::default();
        for k in store.keys(Space::Index).unwrap() {
            if k.starts_with(b"list/") && k.ends_with(b"#") || k == b"lists-version" {
                b.put(Space::Index, k, 0u64.to_be_bytes());
            }
        }
        store.apply(&b).unwrap();
        assert_eq!(
            values(&ing.archive, &List::Mine("alice", Outcome::All)),
            None
        );
    }
    let ing = common::ingest(dir.path());
    assert_five(&ing.archive);
    // And filing goes on from there.
    assert_eq!(
        submit(&ing, "ed25519.der", "d", Some("bob")),
        Status::Accepted
    );
    assert_eq!(
        values(&ing.archive, &List::Mine("bob", Outcome::All)).unwrap(),
        [2, 5]
    );
}

/// A console page as `token`'s principal sees it (a bearer token, as the API takes it).
fn page(s: &common::server::Server, token: &str, path: &str) -> String {
    let r = common::server::client()
        .get(format!("{}{path}", s.base))
        .bearer_auth(token)
        .header("Accept-Language", "en")
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "{path}");
    r.text().unwrap()
}

/// The registration numbers a case page lists, in order.
fn regnos(html: &str) -> Vec<String> {
    html.split("href=\"/document?regno=")
        .skip(1)
        .filter_map(|x| x.split('"').next())
        .map(|x| x.replace("%2F", "/"))
        .collect()
}

#[test]
fn pages_list_own_submissions_and_find_documents_over_the_whole_case() {
    let s = common::server::start("", tamga::http::Limits::default(), None);
    let sub = |f: &str, r: &str| {
        let sig = std::fs::read(fixtures().join("sig").join(f)).unwrap();
        let res = common::server::raw_submit(&s, Some("demo-gateway-token"), "01-05", r, sig);
        let v: serde_json::Value = res.json().unwrap();
        v["receipt_id"].as_str().unwrap().to_owned()
    };
    let a = sub("p256.der", "ИСХ-1");
    let bad = sub("expired.der", "ИСХ-2");
    sub("rsa-attached.der", "ИСХ-3");
    // Sixty more by the RSA signer, so the first ones lie beyond any "latest N".
    for i in 0..60 {
        sub("rsa-attached.der", &format!("R-{i}"));
    }
    let clerk = "demo-gateway-token";
    let all = common::registry_receipts(&page(&s, clerk, "/registry"));
    assert_eq!(all.len(), 50, "a page");
    let next = common::registry_receipts(&page(&s, clerk, "/registry?page=2"));
    assert_eq!(next.len(), 13, "63 in all");
    assert!(next.iter().all(|r| !all.contains(r)));
    let rejected = common::registry_receipts(&page(&s, clerk, "/registry?status=rejected"));
    assert_eq!(rejected, std::slice::from_ref(&bad));
    let page2 = common::registry_receipts(&page(&s, clerk, "/registry?status=accepted&page=2"));
    assert_eq!(page2.last(), Some(&a), "oldest last: {page2:?}");
    assert!(!page2.contains(&bad));
    assert!(
        common::registry_receipts(&page(&s, clerk, "/registry?from=2000-01-01&to=2000-12-31"))
            .is_empty()
    );
    assert_eq!(
        common::registry_receipts(&page(&s, clerk, "/registry?from=2000-01-01")).len(),
        50
    );
    let archivist = "demo-archivist-token";
    let find = |q: &str| regnos(&page(&s, archivist, &format!("/cases/01-05?{q}")));
    assert_eq!(
        find("sender_ref=%D0%B8%D1%81%D1%85-1"),
        ["01-05/1"],
        "ИСХ-1, any case"
    );
    assert_eq!(find("sender_ref=%D0%98%D0%A1%D0%A5-3"), ["01-05/2"]);
    assert_eq!(find("id=123456789011").len(), 50, "IIN: a full page");
    // RSA documents are 01-05/2 … 01-05/62: the IIN list's eleventh slot is 01-05/12.
    let from11 = find("id=123456789011&at=11");
    assert_eq!((from11.len(), from11[0].as_str()), (11, "01-05/12"));
    assert_eq!(from11.last().map(String::as_str), Some("01-05/2"));
    assert_eq!(find("signer=p-256+signer"), ["01-05/1"]);
    assert_eq!(
        find("signer=%D1%82%D0%B5%D1%81%D1%82%D0%BE%D0%B2&sender_ref=R-0"),
        ["01-05/3"]
    );
    assert!(
        find("signer=signer&id=123456789011").is_empty(),
        "both: none"
    );
    // More words than any indexed name has: refused, not a list opened per word.
    let r = common::server::client()
        .get(format!("{}/cases/01-05?signer=a+b+c+d+e+f+g+h+i", s.base))
        .bearer_auth(archivist)
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        find("signer=p-256+signer+p-256+signer"),
        ["01-05/1"],
        "distinct words"
    );
}

/// The access-log indexes a page shows, in order.
fn access_rows(html: &str) -> Vec<u64> {
    let Some(body) = html.split("<tbody>").nth(1) else {
        return Vec::new();
    };
    body.split("<tr><td>")
        .skip(1)
        .filter_map(|x| x.split('<').next()?.parse().ok())
        .collect()
}

#[test]
fn the_access_log_is_filtered_over_the_whole_log() {
    let s = common::server::start("", tamga::http::Limits::default(), None);
    let c = common::server::client();
    let clerk = "demo-gateway-token";
    // Three refusals first, then 1200 other requests: more than any one read of the log.
    for _ in 0..3 {
        let r = c
            .get(format!("{}/v1/retention/plan", s.base))
            .bearer_auth(clerk)
            .send()
            .unwrap();
        assert_eq!(r.status(), 403);
    }
    for _ in 0..1200 {
        let r = c
            .get(format!("{}/v1/reasons", s.base))
            .bearer_auth(clerk)
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let auditor = "demo-auditor-token";
    let denied = access_rows(&page(
        &s,
        auditor,
        "/audit/access?principal=demo-gateway&decision=denied",
    ));
    assert_eq!(denied, [2, 1, 0], "the refusals, newest first");
    let today = tamga::verify::fmt_time(tamga::clock::now());
    let day = &today[..10];
    let q = format!("/audit/access?principal=demo-gateway&decision=denied&date={day}");
    assert_eq!(access_rows(&page(&s, auditor, &q)), [2, 1, 0]);
    assert!(access_rows(&page(&s, auditor, "/audit/access?date=2000-01-01")).is_empty());
    // A page holds 100 rows; the next goes on below them.
    let first = page(&s, auditor, "/audit/access?principal=demo-gateway");
    let rows = access_rows(&first);
    assert_eq!(rows.len(), 100);
    let last = rows[99];
    assert!(
        !first.contains("rel=\"first\""),
        "the newest page links to no newer one"
    );
    let older = page(
        &s,
        auditor,
        &format!("/audit/access?principal=demo-gateway&before={last}"),
    );
    let next = access_rows(&older);
    assert_eq!(next.first(), Some(&(last - 1)));
    // And back: an older page links to the newest records again.
    let back = older
        .split("rel=\"first\" href=\"")
        .nth(1)
        .and_then(|x| x.split('"').next())
        .expect("a link back to the latest")
        .replace("&amp;", "&");
    let again = access_rows(&page(&s, auditor, &format!("/audit/access{back}")));
    assert_eq!(again, rows);
}

#[test]
fn a_documents_page_shows_its_signers_certificate_paths() {
    let s = common::server::start("", tamga::http::Limits::default(), None);
    let sig = std::fs::read(fixtures().join("sig/p256.der")).unwrap();
    let r = common::server::raw_submit(&s, Some("demo-gateway-token"), "01-05", "P", sig);
    assert_eq!(r.status(), 201);
    let html = page(&s, "demo-archivist-token", "/document?regno=01-05%2F1");
    let path = html.split("<table class=\"path\">").nth(1).expect("a path");
    let path = path.split("</table>").next().unwrap();
    assert_eq!(
        path.matches("<tr>").count(),
        4,
        "a head and three certificates: {path}"
    );
    for want in [
        "P-256 signer",
        "Fixture Intermediate CA",
        "Fixture Root CA",
        "Trust anchor",
        "Within its validity period at receipt",
    ] {
        assert!(path.contains(want), "{want}: {path}");
    }
}

#[test]
fn the_full_audit_recomputes_the_lists() {
    let dir = tempfile::tempdir().unwrap();
    let ing = common::ingest(dir.path());
    file_five(&ing);
    let audit = |full| tamga::archive::audit::verify(&ing.archive, full, &mut |_, _| {});
    audit(true).expect("the lists agree with the entries");
    // One slot of alice's list altered behind tamga's back: 0 → 2.
    let store = ing.archive.raw_store();
    let key = store
        .keys(Space::Index)
        .unwrap()
        .into_iter()
        .find(|k| {
            k.starts_with(b"list/")
                && k.windows(7).any(|w| w == b"m*alice")
                && k.ends_with(&[b'@', 0, 0, 0, 0, 0, 0, 0, 1])
        })
        .expect("alice's first slot");
    let mut b = Batch::default();
    b.put(Space::Index, key, 2u64.to_be_bytes());
    store.apply(&b).unwrap();
    let what = audit(true).expect_err("the full audit finds it").what;
    assert!(
        what.contains("alice's submissions") && what.contains("slot 1"),
        "{what}"
    );
    audit(false).expect("a quick audit does not walk the lists");
}
