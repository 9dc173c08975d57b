//! A deliberately small HTTP/1.1 client for revocation data: `GET` of a CRL, `POST` of an OCSP
//! request. CRL distribution points and OCSP responders are plain `http://` by design (RFC 5280
//! §4.2.1.13, RFC 6960 Appendix A: the data is signed, and TLS would need revocation checking
//! of its own), so this speaks only that, to hosts it was told of, with a deadline and a size
//! limit, and follows no redirect: a CA's server that answers elsewhere is an error to report,
//! not a lead to follow (an allow-listed host must not be able to send tamga to any other).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Why a fetch failed. Every variant names the URL in its sentence.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Not an `http://host[:port]/path` URL.
    #[error("{0}: not an http:// URL tamga fetches from")]
    Url(String),
    /// The host is not among those revocation data may come from.
    #[error("{0}: the host is not allowed (not in the trust store's CRL/OCSP URLs or the policy)")]
    HostNotAllowed(String),
    /// Connecting, sending or receiving failed.
    #[error("{url}: {source}")]
    Io {
        /// The URL.
        url: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The deadline passed before the answer was whole.
    #[error("{0}: no complete answer within the time limit")]
    Timeout(String),
    /// The answer is larger than allowed.
    #[error("{0}: the answer is larger than allowed")]
    TooLarge(String),
    /// The server answered with a status other than 200 (redirects included).
    #[error("{url}: the server answered HTTP {status}")]
    Status {
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
    },
    /// The answer is not HTTP/1.x as this client reads it.
    #[error("{0}: the answer is not a well-formed HTTP/1.1 response")]
    Protocol(String),
}

/// Where a request goes: host, port and path of an `http://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The host name or address, lower case, without brackets.
    pub host: String,
    /// The port (80 when the URL has none).
    pub port: u16,
    /// The path and query, starting with `/`.
    pub path: String,
}

impl Target {
    /// Parses `http://host[:port][/path]`. Anything else (https, ldap, user info, a
    /// fragment) is refused: those are not places tamga fetches revocation data from.
    pub fn parse(url: &str) -> Result<Target, FetchError> {
        let bad = || FetchError::Url(url.to_owned());
        let rest = url
            .get(..7)
            .filter(|s| s.eq_ignore_ascii_case("http://"))
            .and_then(|_| url.get(7..))
            .ok_or_else(bad)?;
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, "/"),
        };
        if authority.is_empty() || authority.contains('@') || path.contains('#') {
            return Err(bad());
        }
        // An IPv6 address is bracketed (RFC 3986 §3.2.2); the port follows the bracket.
        let (host, port) = match authority.strip_prefix('[') {
            Some(v6) => v6.split_once(']').ok_or_else(bad)?,
            None => authority.split_once(':').unwrap_or((authority, "")),
        };
        let port = match port.strip_prefix(':').unwrap_or(port) {
            "" => 80,
            p => p.parse::<u16>().map_err(|_| bad())?,
        };
        let host_ok = !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.:".contains(&b));
        if !host_ok || path.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(bad());
        }
        Ok(Target {
            host: host.to_ascii_lowercase(),
            port,
            path: path.to_owned(),
        })
    }
}

/// The client: which hosts it may reach, how long it waits, how much it reads.
#[derive(Debug, Clone)]
pub struct Client {
    allowed: std::collections::BTreeSet<String>,
    /// The time limit for one whole exchange, connection included.
    pub timeout: Duration,
    /// The most body bytes accepted.
    pub max_bytes: usize,
}

/// The most header bytes read before the body.
const MAX_HEAD: usize = 16 * 1024;

impl Client {
    /// A client that may reach the hosts of `urls` (those that parse), with a 10 s limit per
    /// exchange and bodies up to `max_bytes`.
    pub fn new<'a>(urls: impl IntoIterator<Item = &'a str>, max_bytes: usize) -> Client {
        let allowed = urls
            .into_iter()
            .filter_map(|u| Target::parse(u).ok())
            .map(|t| t.host)
            .collect();
        Client {
            allowed,
            timeout: Duration::from_secs(10),
            max_bytes,
        }
    }

    /// Also allows `host` (configured in the policy).
    pub fn allow(&mut self, host: &str) {
        self.allowed.insert(host.to_ascii_lowercase());
    }

    /// The hosts this client may reach.
    pub fn allowed(&self) -> impl Iterator<Item = &str> {
        self.allowed.iter().map(String::as_str)
    }

    /// `GET url`: the body of a 200 answer.
    pub fn get(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        self.exchange(url, "GET", None)
    }

    /// `POST url` with this body and content type: the body of a 200 answer.
    pub fn post(&self, url: &str, content_type: &str, body: &[u8]) -> Result<Vec<u8>, FetchError> {
        self.exchange(url, "POST", Some((content_type, body)))
    }

    fn exchange(
        &self,
        url: &str,
        method: &str,
        body: Option<(&str, &[u8])>,
    ) -> Result<Vec<u8>, FetchError> {
        let target = Target::parse(url)?;
        if !self.allowed.contains(&target.host) {
            return Err(FetchError::HostNotAllowed(url.to_owned()));
        }
        let deadline = Instant::now() + self.timeout;
        let io = |e| fail(url, e);
        let mut stream = connect(&target, deadline).map_err(io)?;
        stream
            .set_write_timeout(Some(time_left(deadline).map_err(io)?))
            .map_err(io)?;
        let mut head = format!(
            "{method} {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nUser-Agent: tamga\r\n",
            target.path,
            host_header(&target)
        );
        if let Some((content_type, bytes)) = body {
            head += &format!(
                "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
                bytes.len()
            );
        }
        head += "\r\n";
        stream.write_all(head.as_bytes()).map_err(io)?;
        if let Some((_, bytes)) = body {
            stream.write_all(bytes).map_err(io)?;
        }
        let reader = Deadline {
            stream,
            deadline,
            url,
        };
        read_response(BufReader::new(reader), url, self.max_bytes)
    }
}

/// The Host header: the host, bracketed if an IPv6 address, with the port unless 80.
fn host_header(t: &Target) -> String {
    let host = if t.host.contains(':') {
        format!("[{}]", t.host)
    } else {
        t.host.clone()
    };
    if t.port == 80 {
        host
    } else {
        format!("{host}:{}", t.port)
    }
}

/// Connects to the first address of the host that answers, name lookup and every attempt
/// within one `deadline`: a slow resolver or several silent addresses cannot stretch a fetch
/// past its limit.
fn connect(t: &Target, deadline: Instant) -> std::io::Result<TcpStream> {
    let mut last = None;
    for addr in resolve(&t.host, t.port, deadline, lookup)? {
        let left = time_left(deadline)?;
        match TcpStream::connect_timeout(&addr, left) {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("the host has no address")))
}

/// The time until `deadline`, or a timed-out error if it has passed.
fn time_left(deadline: Instant) -> std::io::Result<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "the time limit passed while connecting",
        ));
    }
    Ok(left)
}

/// Most host name lookups running at once (see [`resolve`]).
const MAX_LOOKUPS: usize = 16;
/// Host name lookups running now.
static LOOKUPS: AtomicUsize = AtomicUsize::new(0);

/// The system resolver (`getaddrinfo`), which takes no deadline of its own.
fn lookup(host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
    (host, port).to_socket_addrs().map(Iterator::collect)
}

/// The addresses of `host`: an IP literal as it is; a name looked up on a thread of its own
/// and waited for until `deadline` (a lookup still running then finishes on its own, unwaited).
fn resolve(
    host: &str,
    port: u16,
    deadline: Instant,
    lookup: fn(&str, u16) -> std::io::Result<Vec<SocketAddr>>,
) -> std::io::Result<Vec<SocketAddr>> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    // A resolver that hangs leaves its lookups running past their deadlines: at most
    // MAX_LOOKUPS threads wait on it, and fetches beyond that fail at once.
    if LOOKUPS.fetch_add(1, Ordering::SeqCst) >= MAX_LOOKUPS {
        LOOKUPS.fetch_sub(1, Ordering::SeqCst);
        return Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "too many host name lookups are still waiting for the resolver",
        ));
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let name = host.to_owned();
    let spawned = std::thread::Builder::new()
        .name("tamga-resolve".into())
        .spawn(move || {
            let found = lookup(&name, port);
            LOOKUPS.fetch_sub(1, Ordering::SeqCst);
            // The receiver may be gone (the deadline passed): nothing to tell then.
            let _ = tx.send(found);
        });
    if let Err(e) = spawned {
        LOOKUPS.fetch_sub(1, Ordering::SeqCst);
        return Err(e);
    }
    rx.recv_timeout(time_left(deadline)?).unwrap_or_else(|_| {
        Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "the host name was not resolved within the time limit",
        ))
    })
}

/// A stream whose reads give up at one deadline for the whole answer, so a server trickling a
/// byte at a time cannot hold a fetch for longer than the limit.
struct Deadline<'a> {
    stream: TcpStream,
    deadline: Instant,
    url: &'a str,
}

impl Read for Deadline<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                self.url.to_owned(),
            ));
        }
        self.stream.set_read_timeout(Some(left))?;
        self.stream.read(buf)
    }
}

/// Reads status line, headers and body (by Content-Length, chunked, or until close), within
/// `max_bytes` of body and a bound on the head. Public for the `revocation` fuzz target.
pub fn read_response(
    mut r: impl BufRead,
    url: &str,
    max_bytes: usize,
) -> Result<Vec<u8>, FetchError> {
    let mut budget = MAX_HEAD;
    let status_line = read_line(&mut r, &mut budget, url)?;
    let status = status_line
        .strip_prefix("HTTP/1.")
        .and_then(|s| s.get(2..5))
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| FetchError::Protocol(url.to_owned()))?;
    let (mut length, mut chunked) = (None, false);
    loop {
        let line = read_line(&mut r, &mut budget, url)?;
        if line.is_empty() {
            break;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| FetchError::Protocol(url.to_owned()))?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(
                value
                    .parse::<usize>()
                    .map_err(|_| FetchError::Protocol(url.to_owned()))?,
            );
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.eq_ignore_ascii_case("chunked");
        }
    }
    if status != 200 {
        return Err(FetchError::Status {
            url: url.to_owned(),
            status,
        });
    }
    if chunked {
        return read_chunked(r, url, max_bytes);
    }
    if length.is_some_and(|n| n > max_bytes) {
        return Err(FetchError::TooLarge(url.to_owned()));
    }
    let limit = length.unwrap_or(max_bytes.saturating_add(1));
    let mut body = Vec::new();
    r.take(limit as u64)
        .read_to_end(&mut body)
        .map_err(|e| fail(url, e))?;
    if body.len() > max_bytes {
        return Err(FetchError::TooLarge(url.to_owned()));
    }
    if length.is_some_and(|n| n != body.len()) {
        return Err(FetchError::Protocol(url.to_owned()));
    }
    Ok(body)
}

/// A chunked body (RFC 9112 §7.1), trailers skipped.
fn read_chunked(mut r: impl BufRead, url: &str, max_bytes: usize) -> Result<Vec<u8>, FetchError> {
    let mut body = Vec::new();
    let mut budget = MAX_HEAD;
    loop {
        let line = read_line(&mut r, &mut budget, url)?;
        let size = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size, 16).map_err(|_| FetchError::Protocol(url.into()))?;
        if size == 0 {
            while !read_line(&mut r, &mut budget, url)?.is_empty() {}
            return Ok(body);
        }
        if body.len().saturating_add(size) > max_bytes {
            return Err(FetchError::TooLarge(url.to_owned()));
        }
        let start = body.len();
        body.resize(start + size, 0);
        r.read_exact(body.get_mut(start..).unwrap_or_default())
            .map_err(|e| fail(url, e))?;
        if !read_line(&mut r, &mut budget, url)?.is_empty() {
            return Err(FetchError::Protocol(url.to_owned()));
        }
    }
}

/// One CRLF-terminated line, charged to `budget`.
fn read_line(r: &mut impl BufRead, budget: &mut usize, url: &str) -> Result<String, FetchError> {
    let mut line = Vec::new();
    let n = r
        .take(*budget as u64 + 1)
        .read_until(b'\n', &mut line)
        .map_err(|e| fail(url, e))?;
    if n == 0 || n > *budget || !line.ends_with(b"\n") {
        return Err(FetchError::Protocol(url.to_owned()));
    }
    *budget -= n;
    let line = String::from_utf8(line).map_err(|_| FetchError::Protocol(url.to_owned()))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// An I/O error: a timeout is named as one.
fn fail(url: &str, e: std::io::Error) -> FetchError {
    match e.kind() {
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
            FetchError::Timeout(url.to_owned())
        }
        _ => FetchError::Io {
            url: url.to_owned(),
            source: e,
        },
    }
}

#[cfg(test)]
mod tests;
