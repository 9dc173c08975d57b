//! OCSP look-ups (RFC 6960) for the certificates the pure verifier could not establish a
//! status for ([`crate::verify::Report::unresolved`]): one request per certificate, POSTed to
//! the responder configured for its issuer or named in its AIA (id-ad-ocsp), the answer
//! verified by the verifier's own code ([`Response::answer_for`]) before it is kept, and kept
//! until its nextUpdate in a bounded cache. The responses are then handed to the verifier as
//! [`crate::verify::Evidence`]; nothing here decides a verdict.
//!
//! Only hosts the operator vouched for are reached: those of the trust store's own OCSP URLs,
//! of the configured responders, and any configured explicitly. A submitted certificate's AIA
//! naming another host is refused, not followed (it is the sender's text).

mod cache;
pub mod request;

use super::http::{Client, FetchError};
use crate::verify::TrustStore;
use crate::verify::cache::Cache;
use crate::verify::certificate::hex;
use crate::verify::ocsp::{CertIdHash, Expect, OcspError, Response, Unresolved, Window};
pub use cache::Cache as ResponseCache;
use sha2::Digest;
use std::sync::Arc;
use std::time::Duration;

/// id-ad-ocsp (RFC 5280 §4.2.2.1).
const ID_AD_OCSP: &str = "1.3.6.1.5.5.7.48.1";
/// The media type of a request (RFC 6960 Appendix A.1).
const REQUEST_TYPE: &str = "application/ocsp-request";

/// Whether requests carry a nonce, and whether answers must echo it (RFC 8954 lets
/// responders ignore nonces, and many large CAs' pre-produced answers do).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Nonce {
    /// No nonce.
    Off,
    /// A nonce is sent; an answer echoing another is refused, one echoing none is taken.
    #[default]
    Send,
    /// A nonce is sent and must be echoed.
    Require,
}

/// How look-ups are made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The CertID hash (SHA-1 by default: what responders are sure to support, §4.3).
    pub hash: CertIdHash,
    /// Nonce handling.
    pub nonce: Nonce,
    /// Responders configured per CA: (the CA's subject as tamga prints it, or its subject
    /// key identifier in hex) → `http://` URL. They take precedence over AIA.
    pub responders: Vec<(String, String)>,
    /// Hosts that may be reached beyond those of the trust store and the responders.
    pub allow_hosts: Vec<String>,
    /// Clock skew and the maximum age of an answer without nextUpdate.
    pub window: Window,
    /// Most responses cached.
    pub cache_entries: usize,
    /// Time limit of one exchange.
    pub timeout: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            hash: CertIdHash::Sha1,
            nonce: Nonce::Send,
            responders: Vec::new(),
            allow_hosts: Vec::new(),
            window: Window::default(),
            cache_entries: 10_000,
            timeout: Duration::from_secs(5),
        }
    }
}

/// Why no usable answer was had for a certificate. Each sentence names the certificate's
/// issuer or the responder's URL, for the "try later" answer.
#[derive(Debug, thiserror::Error)]
pub enum OcspFetchError {
    /// Neither configured nor named in the certificate.
    #[error("no OCSP responder is known for certificates of {0}")]
    NoResponder(String),
    /// The exchange failed (the URL is in the sentence).
    #[error("OCSP responder {0}")]
    Http(#[from] FetchError),
    /// The responder answered something that cannot be believed.
    #[error("OCSP responder {url}: {source}")]
    Unusable {
        /// The responder.
        url: String,
        /// Why.
        source: OcspError,
    },
    /// The system's random source failed (the nonce).
    #[error("no random bytes for an OCSP nonce")]
    Random,
}

/// The largest OCSP answer read (the verifier's own limit).
const MAX_BYTES: usize = crate::verify::ocsp::MAX_RESPONSE;

/// The fetcher: settings, HTTP client, cache. Share one across threads.
#[derive(Debug)]
pub struct Fetcher {
    settings: Settings,
    client: Client,
    cache: ResponseCache,
    memo: Cache,
}

impl Fetcher {
    /// A fetcher that may reach the hosts of the trust store's OCSP URLs, of the configured
    /// responders and of `settings.allow_hosts`.
    pub fn new(settings: Settings, trust: &TrustStore) -> Fetcher {
        let aia: Vec<String> = trust
            .anchors()
            .iter()
            .flat_map(|c| aia_ocsp(&c.der))
            .collect();
        let urls = aia
            .iter()
            .map(String::as_str)
            .chain(settings.responders.iter().map(|(_, u)| u.as_str()));
        let mut client = Client::new(urls, MAX_BYTES);
        client.timeout = settings.timeout;
        for h in &settings.allow_hosts {
            client.allow(h);
        }
        Fetcher {
            cache: ResponseCache::new(settings.cache_entries),
            settings,
            client,
            memo: Cache::default(),
        }
    }

    /// The freshness window answers are judged by (hand it to the verifier too).
    pub fn window(&self) -> Window {
        self.settings.window
    }

    /// How many responses are cached.
    pub fn cached(&self) -> usize {
        self.cache.len()
    }

    /// The responder to ask about `u`: configured for its issuer, else its AIA's first
    /// `http://` OCSP URL.
    pub fn responder_for(&self, u: &Unresolved) -> Option<String> {
        let key_id = u.issuer.subject_key_id.as_deref().map(hex);
        let configured = self.settings.responders.iter().find(|(ca, _)| {
            *ca == u.issuer.subject
                || key_id
                    .as_deref()
                    .is_some_and(|k| ca.eq_ignore_ascii_case(k))
        });
        if let Some((_, url)) = configured {
            return Some(url.clone());
        }
        aia_ocsp(&u.certificate.der).into_iter().next()
    }

    /// A verified response about each of `list` (from the cache or the responder), and why
    /// none was had for the others.
    pub fn fetch_all(
        &self,
        list: &[&Unresolved],
        now: i64,
    ) -> (Vec<Arc<Response>>, Vec<OcspFetchError>) {
        let mut got = Vec::new();
        let mut failed = Vec::new();
        for u in list {
            match self.fetch(u, now) {
                Ok(r) => got.push(r),
                Err(e) => failed.push(e),
            }
        }
        (got, failed)
    }

    /// A verified response about `u` at `now`, from the cache or the responder.
    pub fn fetch(&self, u: &Unresolved, now: i64) -> Result<Arc<Response>, OcspFetchError> {
        let key = (
            sha2::Sha256::digest(&u.issuer.public_key.bits).into(),
            u.certificate.serial.clone(),
        );
        if let Some(r) = self.cache.get(&key, now) {
            return Ok(r);
        }
        let url = self
            .responder_for(u)
            .ok_or_else(|| OcspFetchError::NoResponder(u.issuer.subject.clone()))?;
        let nonce = match self.settings.nonce {
            Nonce::Off => None,
            _ => Some(random_nonce()?),
        };
        let body = request::build(
            &u.issuer,
            &u.certificate.serial,
            self.settings.hash,
            nonce.as_ref().map(|n| &n[..]),
        );
        let der = self.client.post(&url, REQUEST_TYPE, &body)?;
        let unusable = |source| OcspFetchError::Unusable {
            url: url.clone(),
            source,
        };
        let resp = Arc::new(Response::from_der(&der).map_err(unusable)?);
        let expect = Expect {
            nonce: nonce.as_ref().map(|n| &n[..]),
            nonce_required: self.settings.nonce == Nonce::Require,
        };
        let answer = resp
            .answer_for(
                &u.issuer,
                &u.certificate.serial,
                now,
                self.settings.window,
                expect,
                &self.memo,
            )
            .map_err(unusable)?;
        let until = answer.next_update.unwrap_or(
            answer
                .this_update
                .saturating_add(self.settings.window.max_age),
        );
        self.cache.put(key, until, Arc::clone(&resp));
        Ok(resp)
    }
}

/// 32 random bytes.
fn random_nonce() -> Result<[u8; request::NONCE_LEN], OcspFetchError> {
    use ring::rand::SecureRandom;
    let mut n = [0u8; request::NONCE_LEN];
    ring::rand::SystemRandom::new()
        .fill(&mut n)
        .map_err(|_| OcspFetchError::Random)?;
    Ok(n)
}

/// The `http://` OCSP URLs of a certificate's authorityInfoAccess (RFC 5280 §4.2.2.1).
pub fn aia_ocsp(der: &[u8]) -> Vec<String> {
    use x509_parser::extensions::{GeneralName, ParsedExtension};
    use x509_parser::prelude::FromDer;
    let Ok((_, cert)) = x509_parser::certificate::X509Certificate::from_der(der) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for ext in cert.extensions() {
        if let ParsedExtension::AuthorityInfoAccess(aia) = ext.parsed_extension() {
            for ad in aia.iter() {
                if let GeneralName::URI(u) = &ad.access_location
                    && ad.access_method.to_id_string() == ID_AD_OCSP
                    && u.get(..7)
                        .is_some_and(|s| s.eq_ignore_ascii_case("http://"))
                {
                    out.push((*u).to_owned());
                }
            }
        }
    }
    out
}
