//! Retention over HTTP: archivists read the plan and acts, draft and hold; a destroyed
//! document answers 410 with the act that destroyed it; the audit stays intact.

use super::*;

#[test]
fn over_http_archivists_run_retention_and_destroyed_documents_answer_410() {
    let s = serve_with_t1_destroyed();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let c = reqwest::blocking::Client::new();
    let get = |path: &str, token: &str| {
        c.get(format!("{}{path}", s.base))
            .bearer_auth(token)
            .send()
            .unwrap()
    };
    let r = get("/v1/documents/T-1%2F1/signature", "demo-archivist-token");
    assert_eq!(r.status(), reqwest::StatusCode::GONE);
    assert!(
        r.text()
            .unwrap()
            .contains("destroyed under act 1 of 2028-02-01")
    );
    let plan: serde_json::Value = get(
        "/v1/retention/plan?at=2028-02-01T00:00:00Z",
        "demo-archivist-token",
    )
    .json()
    .unwrap();
    let t1 = plan["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["index"] == "T-1")
        .unwrap()
        .clone();
    assert_eq!(t1["status"], "disposed");
    assert_eq!(
        get("/v1/retention/plan", "demo-auditor-token").status(),
        reqwest::StatusCode::FORBIDDEN
    );
    let act: serde_json::Value = get("/v1/retention/acts/1", "demo-archivist-token")
        .json()
        .unwrap();
    assert!(act["text"].as_str().unwrap().contains("АКТ № 1"));
    // The server's clock says 2026: nothing is due yet, and the refusal says so.
    let r = c
        .post(format!("{}/v1/retention/acts", s.base))
        .bearer_auth("demo-archivist-token")
        .json(&serde_json::json!({"cases": ["T-2"]}))
        .send()
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().unwrap().contains("Refused: case T-2"));
    hold_and_release(&c, &s);
    let audit: serde_json::Value = c
        .post(format!("{}/v1/audit?full=true", s.base))
        .bearer_auth("demo-auditor-token")
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(audit["status"], "intact", "{audit}");
}

/// The service over an archive set up as `setup` does, whose act 1 destroyed T-1 at
/// 2028-02-01, with the demo policy's principals.
fn serve_with_t1_destroyed() -> common::server::Server {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    {
        let (ing, p) = setup(&data);
        let when = t("2028-02-01T00:00:00Z");
        let act = acts::draft(&ing.archive, &p, &["T-1".into()], "Иванова", when).unwrap();
        acts::approve(&ing.archive, &act.act, "Ахметов", when).unwrap();
        acts::approve(&ing.archive, &act.act, "Серикова", when).unwrap();
        acts::execute(&ing.archive, &p, &act.act, when).unwrap();
    }
    let demo =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("archive-policy.toml"))
            .unwrap();
    let principals = &demo[demo.find("[[principal]]").unwrap()..];
    common::server::start_with(
        dir,
        &format!("{}\n{principals}", closed_policy_text()),
        tamga::http::Limits::default(),
        None,
    )
}

/// An archivist puts a hold on T-3 and releases it.
fn hold_and_release(c: &reqwest::blocking::Client, s: &common::server::Server) {
    let r = c
        .post(format!("{}/v1/retention/holds", s.base))
        .bearer_auth("demo-archivist-token")
        .json(&serde_json::json!({"case": "T-3", "reason": "суд"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    let id = r.json::<serde_json::Value>().unwrap()["hold"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = c
        .post(format!("{}/v1/retention/holds/{id}/release", s.base))
        .bearer_auth("demo-archivist-token")
        .send()
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::OK);
}
