//! Connections: accepting, capping, timing out and evicting them, for plain HTTP and TLS alike.
//!
//! A request costs nothing until its headers have arrived, but a connection costs a file
//! descriptor from the moment it is accepted. So an attacker who only opens connections — idle
//! ones, or slowloris ones that send a header byte now and then — must never be able to keep a
//! legitimate caller out. Four rules see to it:
//!
//! - every connection must deliver a complete request head within `header_timeout`, also between
//!   keep-alive requests (hyper's header read timeout), and a TLS handshake must finish within
//!   `handshake_timeout`;
//! - at most `max_connections` are open at once, well below the process's file limit;
//! - when that many are open, or `accept` fails for lack of descriptors, the oldest connection
//!   with no request in progress is closed to make room (idle and slowloris connections are
//!   exactly those), so a new caller is served at once instead of waiting for a timeout;
//! - an `accept` error never makes the loop spin: it backs off before trying again.

use super::PeerCert;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tower::ServiceExt;

/// Limits on connections (as opposed to requests).
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    /// Connections open at once; the oldest idle one is closed to admit a new one.
    pub max_connections: usize,
    /// Time a connection has to deliver a request head (also while idle between requests).
    pub header_timeout: Duration,
    /// Time a TLS handshake may take.
    pub handshake_timeout: Duration,
}

impl Default for ConnLimits {
    fn default() -> Self {
        ConnLimits {
            max_connections: default_max_connections(),
            header_timeout: Duration::from_secs(10),
            handshake_timeout: Duration::from_secs(10),
        }
    }
}

/// Three quarters of the soft file limit (the rest is for the archive's own files), at most
/// 10,000: beyond the limit `accept` fails and no one can be served.
fn default_max_connections() -> usize {
    let soft = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .unwrap_or(65_536);
    usize::try_from(soft / 4 * 3)
        .unwrap_or(10_000)
        .clamp(16, 10_000)
}

/// One open connection as the registry sees it.
struct Slot {
    /// Requests in progress on it (more than one with HTTP/2).
    busy: Arc<AtomicUsize>,
    /// Told to close when evicted.
    evict: Arc<Notify>,
}

/// The open connections, oldest first (ids grow).
#[derive(Default)]
struct Registry {
    slots: Mutex<BTreeMap<u64, Slot>>,
    next: std::sync::atomic::AtomicU64,
}

impl Registry {
    fn open(&self) -> usize {
        self.slots.lock().map_or(0, |s| s.len())
    }

    fn add(&self) -> (u64, Arc<AtomicUsize>, Arc<Notify>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let busy = Arc::new(AtomicUsize::new(0));
        let evict = Arc::new(Notify::new());
        if let Ok(mut s) = self.slots.lock() {
            s.insert(
                id,
                Slot {
                    busy: busy.clone(),
                    evict: evict.clone(),
                },
            );
        }
        (id, busy, evict)
    }

    fn remove(&self, id: u64) {
        if let Ok(mut s) = self.slots.lock() {
            s.remove(&id);
        }
    }

    /// Closes the oldest connection with no request in progress; false when every one is busy.
    fn evict_oldest_idle(&self) -> bool {
        let Ok(mut slots) = self.slots.lock() else {
            return false;
        };
        let victim = slots
            .iter()
            .find(|(_, s)| s.busy.load(Ordering::Acquire) == 0)
            .map(|(id, _)| *id);
        match victim.and_then(|id| slots.remove(&id)) {
            Some(slot) => {
                slot.evict.notify_one();
                true
            }
            None => false,
        }
    }
}

/// Removes a connection from the registry however its task ends.
struct Leave<'a>(&'a Registry, u64);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.0.remove(self.1);
    }
}

/// Counts a request in progress on its connection while it lives.
struct Busy(Arc<AtomicUsize>);

impl Busy {
    fn start(counter: &Arc<AtomicUsize>) -> Busy {
        counter.fetch_add(1, Ordering::AcqRel);
        Busy(counter.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Serves `app` on `listener` until `shutdown` resolves; plain HTTP when `tls` is `None`.
/// In-flight requests (and their commits) finish; idle connections are closed; the wait for
/// the rest is bounded to 30 s.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<rustls::ServerConfig>,
    limits: ConnLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let acceptor = tls.map(|c| tokio_rustls::TlsAcceptor::from(Arc::new(c)));
    let registry = Arc::new(Registry::default());
    let stopping = Arc::new(tokio::sync::Notify::new());
    let mut tasks = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let tcp = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(_) => {
                    // Out of descriptors (or a transient network error): make room if we
                    // can, and never spin.
                    registry.evict_oldest_idle();
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        while registry.open() >= limits.max_connections {
            if !registry.evict_oldest_idle() {
                break;
            }
        }
        if registry.open() >= limits.max_connections {
            // Every connection is busy with a request: refuse this one rather than exceed
            // the cap; its caller sees the connection closed and retries.
            drop(tcp);
            continue;
        }
        let (id, busy, evict) = registry.add();
        let conn = Connection {
            app: app.clone(),
            registry: registry.clone(),
            busy,
            evict,
            stopping: stopping.clone(),
            limits,
        };
        tasks.spawn(conn.run(id, tcp, acceptor.clone()));
        while tasks.try_join_next().is_some() {}
    }
    stopping.notify_waiters();
    let drain = async { while tasks.join_next().await.is_some() {} };
    let _ = tokio::time::timeout(Duration::from_secs(30), drain).await;
    Ok(())
}

/// What one connection's task holds.
struct Connection {
    app: Router,
    registry: Arc<Registry>,
    busy: Arc<AtomicUsize>,
    evict: Arc<Notify>,
    stopping: Arc<Notify>,
    limits: ConnLimits,
}

impl Connection {
    async fn run(self, id: u64, tcp: TcpStream, tls: Option<tokio_rustls::TlsAcceptor>) {
        let _leave = Leave(&self.registry, id);
        let Some(acceptor) = tls else {
            // hyper would wait for the first bytes (to tell HTTP/1.1 from HTTP/2) before its
            // header timeout starts: a connection that never sends must be closed here.
            let mut first = [0u8; 1];
            let sent = tokio::select! {
                r = tokio::time::timeout(self.limits.header_timeout, tcp.peek(&mut first)) => r,
                _ = self.evict.notified() => return,
            };
            if matches!(sent, Ok(Ok(n)) if n > 0) {
                self.http(TokioIo::new(tcp), PeerCert(None), None).await;
            }
            return;
        };
        let handshake = tokio::select! {
            r = tokio::time::timeout(self.limits.handshake_timeout, acceptor.accept(tcp)) => r,
            _ = self.evict.notified() => return,
        };
        let Ok(Ok(stream)) = handshake else { return };
        let fingerprint = stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| {
                crate::verify::certificate::hex(&sha2::Digest::finalize(
                    <sha2::Sha256 as sha2::Digest>::new_with_prefix(c.as_ref()),
                ))
            });
        // The protocol was agreed in the handshake (ALPN), so hyper need not wait to guess it.
        let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2".as_slice());
        self.http(TokioIo::new(stream), PeerCert(fingerprint), Some(h2))
            .await;
    }

    /// Serves HTTP/1.1 or HTTP/2 (`h2`: known from ALPN; `None`: told by the first bytes) on
    /// an established stream until it closes, times out, is evicted while idle, or the server
    /// stops.
    async fn http<I>(&self, io: TokioIo<I>, peer: PeerCert, h2: Option<bool>)
    where
        I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let app = self.app.clone();
        let busy = self.busy.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<_>| {
            let guard = Busy::start(&busy);
            req.extensions_mut().insert(peer.clone());
            let call = app.clone().oneshot(req.map(axum::body::Body::new));
            async move {
                let response = call.await;
                drop(guard);
                response
            }
        });
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(self.limits.header_timeout);
        builder
            .http2()
            .timer(TokioTimer::new())
            .keep_alive_interval(self.limits.header_timeout)
            .keep_alive_timeout(self.limits.header_timeout);
        let builder = match h2 {
            Some(true) => builder.http2_only(),
            Some(false) => builder.http1_only(),
            None => builder,
        };
        let conn = builder.serve_connection(io, service);
        tokio::pin!(conn);
        loop {
            tokio::select! {
                _ = conn.as_mut() => return,
                _ = self.evict.notified() => {
                    // Evicted because it looked idle; a request that started meanwhile
                    // finishes first.
                    if self.busy.load(Ordering::Acquire) == 0 {
                        return;
                    }
                    conn.as_mut().graceful_shutdown();
                }
                _ = self.stopping.notified() => conn.as_mut().graceful_shutdown(),
            }
        }
    }
}
