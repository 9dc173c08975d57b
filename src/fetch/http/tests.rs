use super::*;
use std::net::TcpListener;

/// A server on a free loopback port that answers one connection with `answer` (after
/// reading the request head and any body), handing the request it read to the test.
fn serve_once(answer: Vec<u8>) -> (String, std::thread::JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://127.0.0.1:{}/ca.crl",
        listener.local_addr().unwrap().port()
    );
    let handle = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = s.read(&mut buf).unwrap();
            request.extend_from_slice(&buf[..n]);
            if n == 0 {
                break;
            }
        }
        let text = String::from_utf8_lossy(&request).to_lowercase();
        if let Some(len) = text
            .split("content-length:")
            .nth(1)
            .and_then(|r| r.split("\r\n").next())
            .and_then(|v| v.trim().parse::<usize>().ok())
        {
            let head = text.find("\r\n\r\n").unwrap() + 4;
            while request.len() < head + len {
                let n = s.read(&mut buf).unwrap();
                request.extend_from_slice(&buf[..n]);
            }
        }
        let _ = s.write_all(&answer);
        request
    });
    (url, handle)
}

fn client(url: &str) -> Client {
    Client::new([url], 1 << 20)
}

#[test]
fn a_body_by_content_length() {
    let (url, server) = serve_once(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello".to_vec());
    assert_eq!(client(&url).get(&url).unwrap(), b"hello");
    let request = String::from_utf8(server.join().unwrap()).unwrap();
    assert!(request.starts_with("GET /ca.crl HTTP/1.1\r\n"), "{request}");
    assert!(request.contains("\r\nHost: 127.0.0.1:"), "{request}");
}

#[test]
fn a_chunked_body_and_one_read_to_close() {
    let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";
    let (url, _s) = serve_once(chunked.to_vec());
    assert_eq!(client(&url).get(&url).unwrap(), b"abcde");
    let (url, _s) = serve_once(b"HTTP/1.0 200 OK\r\n\r\nuntil close".to_vec());
    assert_eq!(client(&url).get(&url).unwrap(), b"until close");
}

#[test]
fn a_post_sends_its_body() {
    let (url, server) = serve_once(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec());
    let answer = client(&url)
        .post(&url, "application/ocsp-request", b"\x30\x03\x02\x01\x05")
        .unwrap();
    assert_eq!(answer, b"ok");
    let request = server.join().unwrap();
    assert!(request.starts_with(b"POST /ca.crl HTTP/1.1\r\n"));
    assert!(request.ends_with(b"\r\n\r\n\x30\x03\x02\x01\x05"));
}

#[test]
fn redirects_and_errors_are_not_followed() {
    let (url, _s) = serve_once(
        b"HTTP/1.1 302 Found\r\nLocation: http://elsewhere.example/\r\nContent-Length: 0\r\n\r\n"
            .to_vec(),
    );
    match client(&url).get(&url) {
        Err(FetchError::Status { status: 302, .. }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn too_large_answers_are_refused_however_they_come() {
    let mut small = client("http://127.0.0.1/");
    small.max_bytes = 4;
    let (url, _s) = serve_once(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello".to_vec());
    assert!(matches!(small.get(&url), Err(FetchError::TooLarge(_))));
    let (url, _s) = serve_once(b"HTTP/1.1 200 OK\r\n\r\nhello, until close".to_vec());
    assert!(matches!(small.get(&url), Err(FetchError::TooLarge(_))));
    let (url, _s) = serve_once(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n"
            .to_vec(),
    );
    assert!(matches!(small.get(&url), Err(FetchError::TooLarge(_))));
}

#[test]
fn a_short_or_garbled_answer_is_a_protocol_error() {
    let (url, _s) = serve_once(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort".to_vec());
    assert!(matches!(
        client(&url).get(&url),
        Err(FetchError::Protocol(_))
    ));
    let (url, _s) = serve_once(b"SSH-2.0-OpenSSH\r\n".to_vec());
    assert!(matches!(
        client(&url).get(&url),
        Err(FetchError::Protocol(_))
    ));
}

#[test]
fn a_silent_server_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://127.0.0.1:{}/",
        listener.local_addr().unwrap().port()
    );
    let mut c = client(&url);
    c.timeout = Duration::from_millis(200);
    let started = Instant::now();
    assert!(matches!(c.get(&url), Err(FetchError::Timeout(_))));
    assert!(started.elapsed() < Duration::from_secs(5));
    drop(listener);
}

#[test]
fn only_allowed_hosts_and_plain_http_urls() {
    let c = Client::new(["http://crl.pki.gov.kz/nca_rsa.crl"], 1024);
    assert_eq!(c.allowed().collect::<Vec<_>>(), ["crl.pki.gov.kz"]);
    assert!(matches!(
        c.get("http://evil.example/x.crl"),
        Err(FetchError::HostNotAllowed(_))
    ));
    for bad in [
        "https://crl.pki.gov.kz/x.crl",
        "ldap://crl.pki.gov.kz/cn=x",
        "http://user@crl.pki.gov.kz/",
        "http:///x",
        "http://crl.pki.gov.kz:99999/",
        "http://crl.pki.gov.kz/a b",
    ] {
        assert!(
            matches!(Target::parse(bad), Err(FetchError::Url(_))),
            "{bad}"
        );
    }
    let t = Target::parse("HTTP://Test.PKI.gov.kz:8080/ocsp?x=1").unwrap();
    assert_eq!(
        (t.host.as_str(), t.port, t.path.as_str()),
        ("test.pki.gov.kz", 8080, "/ocsp?x=1")
    );
    let t = Target::parse("http://[::1]:81").unwrap();
    assert_eq!((t.host.as_str(), t.port, t.path.as_str()), ("::1", 81, "/"));
    assert_eq!(host_header(&t), "[::1]:81");
}

#[test]
fn a_slow_name_lookup_is_given_up_at_the_deadline() {
    fn hangs(_: &str, _: u16) -> std::io::Result<Vec<std::net::SocketAddr>> {
        std::thread::sleep(Duration::from_secs(5));
        Ok(Vec::new())
    }
    let started = Instant::now();
    let deadline = started + Duration::from_millis(200);
    let e = resolve("crl.example", 80, deadline, hangs).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    // Lookups stuck in a resolver are bounded: past the cap, a fetch fails at once.
    let many = Instant::now() + Duration::from_millis(50);
    for _ in 0..MAX_LOOKUPS {
        let _ = resolve("crl.example", 80, many, hangs);
    }
    let quick = Instant::now();
    let e = resolve(
        "crl.example",
        80,
        Instant::now() + Duration::from_secs(3),
        hangs,
    )
    .unwrap_err();
    assert!(e.to_string().contains("too many"), "{e}");
    assert!(quick.elapsed() < Duration::from_secs(1));
    // An address needs no lookup at all.
    let at = resolve("127.0.0.1", 8080, deadline, hangs).unwrap();
    assert_eq!(at, ["127.0.0.1:8080".parse().unwrap()]);
}
