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
//! - when that many are open, or `accept` fails for lack of descriptors, a connection with no
//!   request in progress is closed to make room — first one that never completed a request
//!   (idle and slowloris connections are exactly those), else the one idle longest — so a new
//!   caller is served at once instead of waiting for a timeout; a request counts as in
//!   progress until its answer has been sent, so a download is never cut short;
//! - a connection idle for `header_timeout` is closed, HTTP/2 included;
//! - an `accept` error for lack of descriptors or memory backs off instead of spinning.

use super::PeerCert;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
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

/// What one connection is doing, as the registry and the connection's own watchdog see it.
#[derive(Debug)]
struct Activity {
    /// Requests in progress, answers being sent included (more than one with HTTP/2).
    busy: AtomicUsize,
    /// Requests started on it.
    started: AtomicU64,
    /// Requests whose answer was sent in full.
    completed: AtomicU64,
    /// When it last started or finished a request, in ms since the server started.
    last: AtomicU64,
    /// The server's start, for `last`.
    epoch: Instant,
}

impl Activity {
    fn new(epoch: Instant) -> Arc<Activity> {
        let a = Arc::new(Activity {
            busy: AtomicUsize::new(0),
            started: AtomicU64::new(0),
            completed: AtomicU64::new(0),
            last: AtomicU64::new(0),
            epoch,
        });
        a.touch();
        a
    }

    fn touch(&self) {
        let ms = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(ms, Ordering::Relaxed);
    }

    fn idle(&self) -> bool {
        self.busy.load(Ordering::Acquire) == 0
    }
}

/// One open connection as the registry sees it.
struct Slot {
    activity: Arc<Activity>,
    /// Told to close when evicted.
    evict: Arc<Notify>,
}

/// The open connections (ids grow with age).
struct Registry {
    slots: Mutex<BTreeMap<u64, Slot>>,
    next: AtomicU64,
    epoch: Instant,
}

impl Registry {
    fn new() -> Registry {
        Registry {
            slots: Mutex::new(BTreeMap::new()),
            next: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    fn open(&self) -> usize {
        self.slots.lock().map_or(0, |s| s.len())
    }

    fn add(&self) -> (u64, Arc<Activity>, Arc<Notify>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let activity = Activity::new(self.epoch);
        let evict = Arc::new(Notify::new());
        if let Ok(mut s) = self.slots.lock() {
            s.insert(
                id,
                Slot {
                    activity: activity.clone(),
                    evict: evict.clone(),
                },
            );
        }
        (id, activity, evict)
    }

    fn remove(&self, id: u64) {
        if let Ok(mut s) = self.slots.lock() {
            s.remove(&id);
        }
    }

    /// Closes a connection with no request in progress: the oldest that never completed a
    /// request, else the one idle longest. False when every connection is busy.
    fn evict_one(&self) -> bool {
        let Ok(mut slots) = self.slots.lock() else {
            return false;
        };
        let idle = || slots.iter().filter(|(_, s)| s.activity.idle());
        let victim = idle()
            .find(|(_, s)| s.activity.completed.load(Ordering::Relaxed) == 0)
            .or_else(|| idle().min_by_key(|(_, s)| s.activity.last.load(Ordering::Relaxed)))
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

/// A request in progress on its connection, from its head until its answer is sent (or
/// dropped): it travels inside the answer's body.
struct Busy(Arc<Activity>);

impl Busy {
    fn start(activity: &Arc<Activity>) -> Busy {
        activity.busy.fetch_add(1, Ordering::AcqRel);
        activity.started.fetch_add(1, Ordering::Relaxed);
        activity.touch();
        Busy(activity.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.completed.fetch_add(1, Ordering::Relaxed);
        self.0.touch();
        self.0.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

/// An answer's body that keeps its request counted as in progress until it is sent.
struct Sending {
    inner: axum::body::Body,
    _busy: Busy,
}

impl http_body::Body for Sending {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::pin::Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Whether an `accept` error means the process is short of descriptors or memory (make room,
/// back off) rather than one connection failing (go on at once).
fn starved(e: &std::io::Error) -> bool {
    use rustix::io::Errno;
    matches!(
        Errno::from_io_error(e),
        Some(Errno::MFILE | Errno::NFILE | Errno::NOBUFS | Errno::NOMEM)
    )
}

/// Serves `app` on `listener` until `shutdown` resolves; plain HTTP when `tls` is `None`.
/// Then the listener is closed, idle connections are closed, and requests in flight (and
/// their commits) finish; the wait for them is bounded to 30 s.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<rustls::ServerConfig>,
    limits: ConnLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let acceptor = tls.map(|c| tokio_rustls::TlsAcceptor::from(Arc::new(c)));
    let registry = Arc::new(Registry::new());
    let (stop, stopping) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let tcp = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(e) if starved(&e) => {
                    registry.evict_one();
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
                Err(_) => continue,
            },
            _ = &mut shutdown => break,
        };
        while registry.open() >= limits.max_connections {
            if !registry.evict_one() {
                break;
            }
        }
        if registry.open() >= limits.max_connections {
            // Every connection is busy with a request: refuse this one rather than exceed
            // the cap; its caller sees the connection closed and retries.
            drop(tcp);
            continue;
        }
        let (id, activity, evict) = registry.add();
        let conn = Connection {
            app: app.clone(),
            registry: registry.clone(),
            activity,
            evict,
            stopping: stopping.clone(),
            limits,
        };
        tasks.spawn(conn.run(id, tcp, acceptor.clone()));
        while tasks.try_join_next().is_some() {}
    }
    drop(listener);
    let _ = stop.send(true);
    let drain = async { while tasks.join_next().await.is_some() {} };
    let _ = tokio::time::timeout(Duration::from_secs(30), drain).await;
    Ok(())
}

/// What one connection's task holds.
struct Connection {
    app: Router,
    registry: Arc<Registry>,
    activity: Arc<Activity>,
    evict: Arc<Notify>,
    stopping: watch::Receiver<bool>,
    limits: ConnLimits,
}

/// The protocol a plain connection speaks, told from its first bytes within the header
/// timeout (hyper would otherwise wait for them without one).
async fn sniff(tcp: &TcpStream, wait: Duration) -> Option<bool> {
    let deadline = tokio::time::Instant::now() + wait;
    let mut first = [0u8; 4];
    loop {
        let n = tokio::time::timeout_at(deadline, tcp.peek(&mut first))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        let seen = first.get(..n).unwrap_or_default();
        if !b"PRI ".starts_with(seen) {
            return Some(false);
        }
        if n == first.len() {
            return Some(true);
        }
        // Part of what may be an HTTP/2 preface: wait for more.
        tokio::time::sleep_until(
            (tokio::time::Instant::now() + Duration::from_millis(5)).min(deadline),
        )
        .await;
    }
}

impl Connection {
    async fn run(mut self, id: u64, tcp: TcpStream, tls: Option<tokio_rustls::TlsAcceptor>) {
        let registry = self.registry.clone();
        let _leave = Leave(&registry, id);
        if *self.stopping.borrow() {
            return;
        }
        let Some(acceptor) = tls else {
            let h2 = tokio::select! {
                v = sniff(&tcp, self.limits.header_timeout) => v,
                _ = self.evict.notified() => return,
            };
            if let Some(h2) = h2 {
                self.http(TokioIo::new(tcp), PeerCert(None), h2, false)
                    .await;
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
        self.http(TokioIo::new(stream), PeerCert(fingerprint), h2, true)
            .await;
    }

    /// Serves HTTP/1.1 or HTTP/2 on an established stream until it closes, times out, stays
    /// idle too long, is evicted while idle, or the server stops.
    async fn http<I>(&mut self, io: TokioIo<I>, peer: PeerCert, h2: bool, tls: bool)
    where
        I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let app = self.app.clone();
        let activity = self.activity.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<_>| {
            let busy = Busy::start(&activity);
            req.extensions_mut().insert(peer.clone());
            if tls {
                req.extensions_mut()
                    .insert(super::console::session::OverTls);
            }
            let call = app.clone().oneshot(req.map(axum::body::Body::new));
            async move {
                let response = call.await?;
                Ok::<_, std::convert::Infallible>(
                    response.map(|inner| axum::body::Body::new(Sending { inner, _busy: busy })),
                )
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
        let builder = if h2 {
            builder.http2_only()
        } else {
            builder.http1_only()
        };
        let conn = builder.serve_connection(io, service);
        tokio::pin!(conn);
        let mut watchdog = tokio::time::interval(self.limits.header_timeout);
        watchdog.tick().await;
        let mut seen = self.activity.started.load(Ordering::Relaxed);
        let mut closing = false;
        loop {
            tokio::select! {
                _ = conn.as_mut() => return,
                _ = self.evict.notified() => {
                    // Evicted because it looked idle; a request that started meanwhile
                    // finishes first.
                    if self.activity.idle() {
                        return;
                    }
                    conn.as_mut().graceful_shutdown();
                }
                _ = watchdog.tick() => {
                    let now = self.activity.started.load(Ordering::Relaxed);
                    if self.activity.idle() && now == seen {
                        // Idle for a whole header timeout: HTTP/1 has hyper's own timer,
                        // HTTP/2 only this one.
                        return;
                    }
                    seen = now;
                }
                changed = self.stopping.changed(), if !closing => {
                    closing = true;
                    if changed.is_err() || *self.stopping.borrow() {
                        conn.as_mut().graceful_shutdown();
                    }
                }
            }
        }
    }
}
