//! The service's request-body parsing (multipart and raw) on arbitrary bytes: every input
//! yields parts or a 4xx, never a panic, and never more than the body limit in memory.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| tokio::runtime::Builder::new_current_thread().build().unwrap_or_else(|_| std::process::abort()))
}

const TYPES: [&str; 5] = [
    "multipart/form-data; boundary=b",
    "multipart/form-data; boundary=\"--x--\"",
    "multipart/form-data",
    "application/pkcs7-mime",
    "text/plain",
];

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else { return };
    let ct = TYPES[usize::from(mode) % TYPES.len()];
    let query = if mode & 0x80 != 0 { "?case=01-05&sender_ref=%E2%84%96+1" } else { "?case=%ZZ&x=" };
    let Ok(req) = axum::http::Request::builder()
        .method("POST")
        .uri(format!("/v1/submissions{query}"))
        .header("content-type", ct)
        .body(axum::body::Body::from(body.to_vec()))
    else {
        return;
    };
    let limit = 4096;
    if let Ok(parts) = runtime().block_on(tamga::http::submissions::read_parts(req, limit, None)) {
        let content = parts.content.as_ref().map_or(0, |c| c.payload().len() as usize);
        let total = parts.signature.map_or(0, |s| s.len()) + content;
        assert!(total <= limit, "parts exceed the body limit");
    }
});
