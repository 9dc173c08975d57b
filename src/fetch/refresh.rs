//! Keeping CRLs current: one slot per distribution point URL holds the last good CRL from it,
//! when it was fetched, the last error, and when to fetch next — before the CRL's nextUpdate
//! (at three quarters of its interval, RFC 5280 §5.1.2.5) and at least every refresh period,
//! backing off after errors. A refresh that took a newer CRL yields a new trust store; the
//! caller swaps it in ([`super::live`]).

use super::crls::{self, CrlDir, CrlError, Fresh, Point};
use super::http::Client;
use crate::policy::CrlSettings;
use crate::verify::revocation::Crl;
use crate::verify::revocation::issuer::crl_issuer_text;
use crate::verify::{Policy, TrustStore, Verifier, fmt_time};
use serde::Serialize;
use std::path::Path;

/// The shortest wait before fetching a URL again (or the refresh period, if shorter): a CRL
/// past three quarters of its interval is asked for again at this pace until a newer one
/// is published, without hammering its server.
const MIN_GAP: i64 = 60;
/// The first wait after a failed fetch; it doubles with each failure up to the refresh period.
const FIRST_BACKOFF: i64 = 5;

/// One distribution point URL and what was last got from it.
#[derive(Debug)]
struct Slot {
    point: Point,
    crl: Option<Crl>,
    fetched_at: Option<i64>,
    error: Option<String>,
    failures: u32,
    due: i64,
}

/// A line of the CRL table (`GET /v1/trust`, `tamga trust refresh`).
#[derive(Debug, Clone, Serialize)]
pub struct CrlRow {
    /// The URL it is fetched from, or `trust directory`.
    pub source: String,
    /// The CRL issuer (RFC 4514), when a CRL is held.
    pub issuer: Option<String>,
    /// `complete` or `delta`.
    pub kind: Option<&'static str>,
    /// cRLNumber, decimal.
    pub number: Option<String>,
    /// thisUpdate (RFC 3339).
    pub this_update: Option<String>,
    /// nextUpdate (RFC 3339).
    pub next_update: Option<String>,
    /// Whether a CRL is held and its nextUpdate has not passed.
    pub current: bool,
    /// When it was last fetched (successfully or not).
    pub last_fetch: Option<String>,
    /// The last fetch's error; cleared by a good fetch.
    pub last_error: Option<String>,
    /// When it is fetched next.
    pub next_fetch: Option<String>,
    /// thisUpdate, Unix seconds (for metrics).
    #[serde(skip)]
    pub this_update_unix: Option<i64>,
    /// nextUpdate, Unix seconds (for metrics).
    #[serde(skip)]
    pub next_update_unix: Option<i64>,
}

/// The CRLs fetched from distribution points, beside a trust directory's.
#[derive(Debug)]
pub struct Refresher {
    base: TrustStore,
    policy: Policy,
    client: Client,
    dir: CrlDir,
    refresh: i64,
    slots: Vec<Slot>,
}

impl Refresher {
    /// The refresher over `base` (the trust directory's anchors and CRLs) with the CRLs last
    /// kept under `data` — each checked again (a trusted CA's, at `now`) before it is used —
    /// every URL due at once. Nothing is fetched here.
    pub fn open(
        base: TrustStore,
        policy: Policy,
        data: &Path,
        settings: &CrlSettings,
        now: i64,
    ) -> Refresher {
        let points = crls::distribution_points(&base, []);
        let mut client = Client::new(points.iter().map(|p| p.url.as_str()), crls::MAX_CRL_BYTES);
        for host in &settings.hosts {
            client.allow(host);
        }
        let mut r = Refresher {
            dir: CrlDir::new(data),
            refresh: i64::try_from(settings.refresh.as_secs())
                .unwrap_or(3600)
                .max(1),
            base,
            policy,
            client,
            slots: Vec::new(),
        };
        r.add_slots(now);
        r
    }

    /// Adds a slot, due now, for every URL not yet followed (a held CRL's freshestCRL may
    /// name new ones), with the CRL kept for it if that still passes. Their hosts are allowed:
    /// they come from the trust store's certificates or from CRLs its CAs signed.
    fn add_slots(&mut self, now: i64) {
        let points =
            crls::distribution_points(&self.base, self.slots.iter().filter_map(|s| s.crl.as_ref()));
        for point in points {
            if let Ok(t) = super::http::Target::parse(&point.url) {
                self.client.allow(&t.host);
            }
            self.add_slot(point, now);
        }
    }

    /// Follows `points` met in the certificates of submissions too (a national CA's own CRL
    /// is named in the certificates it issues, not in its own), but only those on hosts
    /// already allowed, and within [`crls::MAX_URLS`].
    pub fn learn(&mut self, points: impl IntoIterator<Item = Point>, now: i64) {
        for point in points {
            let allowed = super::http::Target::parse(&point.url)
                .is_ok_and(|t| self.client.allowed().any(|h| h == t.host));
            if allowed {
                self.add_slot(point, now);
            }
        }
    }

    /// Follows `point`, or adds its issuers to the slot of its URL.
    fn add_slot(&mut self, point: Point, now: i64) {
        if let Some(slot) = self.slots.iter_mut().find(|s| s.point.url == point.url) {
            slot.point.absorb(point);
            return;
        }
        if self.slots.len() >= crls::MAX_URLS {
            return;
        }
        let (crl, error) = match self
            .dir
            .load(&point.url)
            .map(|b| self.stored(&point, &b, now))
        {
            None => (None, None),
            Some(Ok(crl)) => (Some(crl), None),
            Some(Err(e)) => (None, Some(format!("the CRL kept from before: {e}"))),
        };
        self.slots.push(Slot {
            point,
            crl,
            fetched_at: None,
            error,
            failures: 0,
            due: now,
        });
    }

    fn stored(&self, point: &Point, bytes: &[u8], now: i64) -> Result<Crl, CrlError> {
        let crl = crls::parse(&point.url, bytes)?;
        crls::check(point, &crl, None, &self.base, now)?;
        Ok(crl)
    }

    /// The trust store: the trust directory's anchors and CRLs, then the CRLs held.
    pub fn trust(&self) -> TrustStore {
        let crls = self
            .base
            .crls()
            .iter()
            .chain(self.slots.iter().filter_map(|s| s.crl.as_ref()))
            .cloned()
            .collect();
        self.base.with_crls(crls)
    }

    /// A verifier over [`Refresher::trust`].
    pub fn verifier(&self) -> Verifier {
        Verifier::new(self.trust(), self.policy.clone())
    }

    /// Fetches every URL due at `now` (every URL when `all`); whether a newer CRL was taken.
    pub fn run(&mut self, now: i64, all: bool) -> bool {
        let mut changed = false;
        for i in 0..self.slots.len() {
            if all || self.slots.get(i).is_some_and(|s| s.due <= now) {
                changed |= self.fetch(i, now);
            }
        }
        if changed {
            self.add_slots(now);
        }
        changed
    }

    /// Fetches slot `i`; whether it took a newer CRL.
    fn fetch(&mut self, i: usize, now: i64) -> bool {
        let Some(slot) = self.slots.get(i) else {
            return false;
        };
        let url = slot.point.url.clone();
        let got = self
            .client
            .get(&url)
            .map_err(CrlError::from)
            .and_then(|bytes| {
                let crl = crls::parse(&url, &bytes)?;
                let fresh = crls::check(&slot.point, &crl, slot.crl.as_ref(), &self.base, now)?;
                if fresh == Fresh::Newer {
                    self.dir.save(&url, &crl.der)?;
                }
                Ok((crl, fresh))
            });
        let refresh = self.refresh;
        let Some(slot) = self.slots.get_mut(i) else {
            return false;
        };
        slot.fetched_at = Some(now);
        match got {
            Ok((crl, fresh)) => {
                slot.due = due(&crl, now, refresh);
                slot.error = None;
                slot.failures = 0;
                if fresh == Fresh::Newer {
                    slot.crl = Some(crl);
                    return true;
                }
            }
            Err(e) => {
                tracing::warn!(url = %url, "CRL refresh: {e}");
                slot.failures = slot.failures.saturating_add(1);
                let backoff =
                    FIRST_BACKOFF.saturating_mul(1 << slot.failures.min(20).saturating_sub(1));
                slot.due = now + backoff.min(refresh).max(1);
                slot.error = Some(e.to_string());
            }
        }
        false
    }

    /// When the next fetch is due.
    pub fn next_due(&self) -> Option<i64> {
        self.slots.iter().map(|s| s.due).min()
    }

    /// The table: the trust directory's CRLs, then one line per URL.
    pub fn rows(&self, now: i64) -> Vec<CrlRow> {
        let dir = self
            .base
            .crls()
            .iter()
            .map(|c| row("trust directory", Some(c), now));
        let fetched = self.slots.iter().map(|s| CrlRow {
            last_fetch: s.fetched_at.map(fmt_time),
            last_error: s.error.clone(),
            next_fetch: Some(fmt_time(s.due)),
            ..row(&s.point.url, s.crl.as_ref(), now)
        });
        dir.chain(fetched).collect()
    }
}

/// When to fetch a CRL next: at three quarters of its interval, at least `refresh` seconds
/// from `now`, and not sooner than [`MIN_GAP`] (or `refresh`, if shorter).
fn due(crl: &Crl, now: i64, refresh: i64) -> i64 {
    let gap = MIN_GAP.min(refresh);
    let target = match crl.next_update {
        Some(next) if next > crl.this_update => crl.this_update + (next - crl.this_update) / 4 * 3,
        _ => now + refresh,
    };
    target.clamp(now + gap, now + refresh)
}

fn row(source: &str, crl: Option<&Crl>, now: i64) -> CrlRow {
    CrlRow {
        source: source.to_owned(),
        issuer: crl.map(crl_issuer_text),
        kind: crl.map(|c| {
            if c.delta_base.is_some() {
                "delta"
            } else {
                "complete"
            }
        }),
        number: crl.and_then(|c| c.number.as_ref()).map(crls::number_text),
        this_update: crl.map(|c| fmt_time(c.this_update)),
        next_update: crl.and_then(|c| c.next_update).map(fmt_time),
        current: crl.is_some_and(|c| c.current_at(now)),
        last_fetch: None,
        last_error: None,
        next_fetch: None,
        this_update_unix: crl.map(|c| c.this_update),
        next_update_unix: crl.and_then(|c| c.next_update),
    }
}

#[cfg(test)]
pub(crate) mod tests;
