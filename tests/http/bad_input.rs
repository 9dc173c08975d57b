//! Bad input and overload: a body over the limit (declared or streamed), malformed or
//! incomplete requests, refusals that are receipts and random bodies get a 4xx with a sentence
//! and never a 5xx; past the concurrency limit, 503 with `Retry-After`.

use super::*;

/// Posts `body` with a plain socket and returns what the server answered.
fn raw_http(s: &Server, body: &[u8], chunked: bool) -> String {
    use std::io::{Read, Write};
    let addr = s.base.trim_start_matches("http://");
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let framing = if chunked {
        "Transfer-Encoding: chunked".to_owned()
    } else {
        format!("Content-Length: {}", body.len())
    };
    let head = format!(
        "POST /v1/submissions?case=01-05 HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {GATEWAY}\r\n\
         Content-Type: application/pkcs7-mime\r\n{framing}\r\nConnection: close\r\n\r\n"
    );
    let _ = c.write_all(head.as_bytes());
    if chunked {
        for part in body.chunks(8192) {
            let _ = c.write_all(format!("{:x}\r\n", part.len()).as_bytes());
            let _ = c.write_all(part);
            let _ = c.write_all(b"\r\n");
        }
        let _ = c.write_all(b"0\r\n\r\n");
    } else {
        let _ = c.write_all(body);
    }
    let mut answer = Vec::new();
    let _ = c.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

/// Over the limit, declared or streamed: 413 naming the limit. Raw TCP, because a server may
/// (and does) answer before the body has been sent, and an HTTP client then reports the
/// broken upload instead of the answer.
fn assert_over_the_limit_is_413(s: &Server) {
    let big = vec![0x30u8; 100 * 1024];
    for chunked in [false, true] {
        let answer = raw_http(s, &big, chunked);
        assert!(
            answer.starts_with("HTTP/1.1 413"),
            "chunked={chunked}: {answer}"
        );
        assert!(answer.contains("65536 bytes"), "{answer}");
    }
}

/// Malformed, incomplete or misdirected requests (sent as the gateway), with the status each
/// must get and a word its sentence must contain.
fn bad_requests(s: &Server) -> Vec<(reqwest::blocking::RequestBuilder, StatusCode, &'static str)> {
    vec![
        (
            client()
                .post(format!("{}/v1/submissions", s.base))
                .header("Content-Type", "multipart/form-data; boundary=xyz")
                .body("garbage"),
            StatusCode::BAD_REQUEST,
            "multipart",
        ),
        (
            client()
                .post(format!("{}/v1/submissions", s.base))
                .multipart(multipart::Form::new().text("case", "01-05")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "signature",
        ),
        (
            client()
                .post(format!("{}/v1/submissions", s.base))
                .multipart(
                    multipart::Form::new().part("signature", multipart::Part::bytes(vec![1, 2, 3])),
                ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "case",
        ),
        (
            client()
                .post(format!("{}/v1/submissions?case=01-05", s.base))
                .header("Content-Type", "text/plain")
                .body("hello"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "multipart/form-data",
        ),
        (
            client().get(format!("{}/v1/nowhere", s.base)),
            StatusCode::NOT_FOUND,
            "endpoint",
        ),
        (
            // A clerk is refused alike whether the document exists or not.
            client().get(format!("{}/v1/documents/99-99%2F1", s.base)),
            StatusCode::FORBIDDEN,
            "only what it submitted",
        ),
    ]
}

/// Refusals by policy or signature are receipts, not errors.
fn assert_refusals_are_receipts(s: &Server) {
    let r = raw_submit(
        s,
        Some(GATEWAY),
        "77-77",
        "x",
        std::fs::read(fixtures().join("sig/p256.der")).unwrap(),
    );
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.json::<serde_json::Value>().unwrap()["reasons"][0]["code"],
        "policy-violation"
    );
    let r = raw_submit(
        s,
        Some(GATEWAY),
        "01-05",
        "garbage",
        b"not a signature at all".to_vec(),
    );
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.json::<serde_json::Value>().unwrap()["reasons"][0]["code"],
        "malformed"
    );
}

/// Random bodies of every content type: never a 5xx.
fn assert_random_bodies_never_5xx(s: &Server) {
    let mut x = random_u64() | 1;
    for i in 0..200 {
        let len = (x % 3000) as usize;
        let body = xorshift_bytes(&mut x, len);
        let ct = [
            "application/pkcs7-mime",
            "multipart/form-data; boundary=b",
            "application/json",
            "multipart/form-data",
        ][i % 4];
        let r = client()
            .post(format!("{}/v1/submissions?case=01-05", s.base))
            .bearer_auth(GATEWAY)
            .header("Content-Type", ct)
            .body(body)
            .send()
            .unwrap();
        assert!(!r.status().is_server_error(), "{ct}: {}", r.status());
    }
}

#[test]
fn bad_input_gets_a_4xx_with_a_sentence_and_never_a_5xx() {
    let s = start(
        "",
        Limits {
            max_body: 64 * 1024,
            max_concurrency: 64,
            ..Limits::default()
        },
        None,
    );
    assert_over_the_limit_is_413(&s);
    for (req, want, needle) in bad_requests(&s) {
        let r = req.bearer_auth(GATEWAY).send().unwrap();
        assert_eq!(r.status(), want, "{needle}");
        let text = r.text().unwrap();
        assert!(text.contains(needle), "{text}");
        assert!(text.starts_with("{\"error\":"), "{text}");
    }
    assert_refusals_are_receipts(&s);
    assert_random_bodies_never_5xx(&s);
}

#[test]
fn past_the_concurrency_limit_is_503_with_retry_after() {
    let s = start(
        "",
        Limits {
            max_body: 1 << 20,
            max_concurrency: 0,
            ..Limits::default()
        },
        None,
    );
    let r = client()
        .get(format!("{}/v1/cases", s.base))
        .bearer_auth(GATEWAY)
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.headers().get("retry-after").unwrap(), "1");
}
