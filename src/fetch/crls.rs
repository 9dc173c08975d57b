//! A CRL source: where the trust store's CAs publish their CRLs (cRLDistributionPoints and
//! freshestCRL URIs, RFC 5280 §4.2.1.13 and §4.2.1.15), when a fetched CRL may replace the
//! one held, and the last good one of each URL kept under `<data>/crls/` so that it survives
//! restarts. What is accepted is decided by [`crate::verify::revocation::issuer`], purely.

use crate::verify::TrustStore;
use crate::verify::revocation::issuer::{IssuerError, trusted_issuer};
use crate::verify::revocation::scope::{DistPoint, DpName, directory_name};
use crate::verify::revocation::{Crl, CrlNumber};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Most distribution point URLs followed: a trust store of a few dozen CAs has a few dozen.
pub const MAX_URLS: usize = 256;
/// The largest CRL fetched. The national GOST CRL is tens of MiB.
pub const MAX_CRL_BYTES: usize = 128 * 1024 * 1024;
/// GeneralName `uniformResourceIdentifier` ([6] IMPLICIT IA5String).
const URI_TAG: u8 = 0x86;

/// Why a fetched (or stored) CRL was not taken.
#[derive(Debug, thiserror::Error)]
pub enum CrlError {
    /// The fetch itself failed.
    #[error(transparent)]
    Fetch(#[from] super::http::FetchError),
    /// The bytes are not a CRL.
    #[error("{url}: not a CRL: {why}")]
    Parse {
        /// Where it came from.
        url: String,
        /// The parser's sentence.
        why: String,
    },
    /// No CA of the trust store issued and signed it.
    #[error("{url}: {why}")]
    Issuer {
        /// Where it came from.
        url: String,
        /// Why not.
        why: IssuerError,
    },
    /// Its issuer is none of those the certificates naming the URL give as their CRL issuer.
    #[error("{url}: it is not from the CRL issuer the certificates naming this URL give")]
    Unexpected {
        /// Where it came from.
        url: String,
    },
    /// It is older than the one held (thisUpdate).
    #[error("{url}: its thisUpdate is older than that of the CRL held; the held one is kept")]
    Older {
        /// Where it came from.
        url: String,
    },
    /// Its CRL number is lower than the one held (§5.2.3: numbers only increase).
    #[error("{url}: its CRL number is lower than that of the CRL held; the held one is kept")]
    LowerNumber {
        /// Where it came from.
        url: String,
    },
    /// It is another issuer's, or another kind (complete/delta), than the one held there.
    #[error("{url}: it is not from the same issuer and of the same kind as the CRL held")]
    Different {
        /// Where it came from.
        url: String,
    },
    /// Writing it under the data directory failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// What a CRL that passed the checks is, compared with the one held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fresh {
    /// A newer CRL: it replaces the held one.
    Newer,
    /// The very CRL held (same bytes): nothing to swap.
    Same,
}

/// The `http://` URIs of distribution points' full names (other forms — LDAP, relative
/// names — are not places tamga fetches from).
fn uris(points: &[DistPoint]) -> impl Iterator<Item = String> + '_ {
    points
        .iter()
        .filter_map(|p| match &p.name {
            Some(DpName::Full(names)) => Some(names),
            _ => None,
        })
        .flatten()
        .filter_map(|gn| crate::verify::asn1::parse_single(gn).ok())
        .filter(|t| t.tag == URI_TAG)
        .filter_map(|t| std::str::from_utf8(t.value).ok().map(str::to_owned))
        .filter(|u| super::http::Target::parse(u).is_ok())
}

/// A distribution point URL and whose CRLs it may serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Point {
    /// The `http://` URL.
    pub url: String,
    /// The names (DER) of the CRL issuers that publish there: the issuer of the certificate
    /// naming the point, or the point's cRLIssuer (RFC 5280 §4.2.1.13); a CRL's own issuer
    /// for the deltas its freshestCRL names (§5.2.6).
    pub issuers: Vec<Vec<u8>>,
}

/// The points of `dps` (a certificate's cRLDistributionPoints or freshestCRL, or a CRL's
/// freshestCRL) fetchable over HTTP, for a certificate or CRL issued by `issuer`.
pub fn points<'a>(dps: &'a [DistPoint], issuer: &'a [u8]) -> impl Iterator<Item = Point> + 'a {
    dps.iter().flat_map(move |dp| {
        let issuers: Vec<Vec<u8>> = if dp.crl_issuer.is_empty() {
            vec![issuer.to_vec()]
        } else {
            // An indirect CRL's issuer; a cRLIssuer that is not a directory name names no
            // CRL issuer tamga can match, so its URL is not followed.
            dp.crl_issuer
                .iter()
                .filter_map(|gn| directory_name(gn))
                .map(<[u8]>::to_vec)
                .collect()
        };
        let urls: Vec<String> = if issuers.is_empty() {
            Vec::new()
        } else {
            uris(std::slice::from_ref(dp)).collect()
        };
        urls.into_iter()
            .map(move |url| Point {
                url,
                issuers: issuers.clone(),
            })
            .collect::<Vec<_>>()
    })
}

/// Adds `point` to `out`: a URL already there gains its issuers; a new one is added while
/// `out` holds fewer than [`MAX_URLS`].
pub fn merge(out: &mut Vec<Point>, point: Point) {
    if let Some(have) = out.iter_mut().find(|p| p.url == point.url) {
        have.absorb(point);
    } else if out.len() < MAX_URLS {
        out.push(point);
    }
}

impl Point {
    /// Adds the issuers of `other`, a point of the same URL, to this one's.
    pub fn absorb(&mut self, other: Point) {
        for name in other.issuers {
            if !self.issuers.contains(&name) {
                self.issuers.push(name);
            }
        }
    }
}

/// Every CRL point of the trust store: its certificates' cRLDistributionPoints and
/// freshestCRL, and its CRLs' freshestCRL (where their deltas are), one per URL, at most
/// [`MAX_URLS`].
pub fn distribution_points<'a>(
    trust: &'a TrustStore,
    held: impl IntoIterator<Item = &'a Crl>,
) -> Vec<Point> {
    let mut out: Vec<Point> = Vec::new();
    let certs = trust.anchors().iter().flat_map(|a| {
        points(&a.revocation.points, &a.issuer_raw)
            .chain(points(&a.revocation.freshest, &a.issuer_raw))
    });
    let crls = trust
        .crls()
        .iter()
        .chain(held)
        .flat_map(|c| points(&c.freshest, &c.issuer_raw));
    for point in certs.chain(crls) {
        merge(&mut out, point);
    }
    out
}

/// Whether `new`, from the point `from`, may replace `held` at time `at`: it must be issued
/// and signed by a CA of `trust` valid at `at`, by an issuer that publishes at that point,
/// from the same issuer and of the same kind as the one held, and neither older
/// (thisUpdate) nor lower-numbered than it.
pub fn check(
    from: &Point,
    new: &Crl,
    held: Option<&Crl>,
    trust: &TrustStore,
    at: i64,
) -> Result<Fresh, CrlError> {
    let url = from.url.as_str();
    trusted_issuer(new, trust, at).map_err(|why| CrlError::Issuer {
        url: url.to_owned(),
        why,
    })?;
    // Another trusted CA's CRL, served at this URL, would settle in an empty slot and then
    // shut out the right issuer's CRLs as "different".
    if !from
        .issuers
        .iter()
        .any(|n| crate::verify::names::same_name(n, &new.issuer_raw))
    {
        return Err(CrlError::Unexpected {
            url: url.to_owned(),
        });
    }
    let Some(held) = held else {
        return Ok(Fresh::Newer);
    };
    if held.fingerprint == new.fingerprint {
        return Ok(Fresh::Same);
    }
    let url = url.to_owned();
    if held.issuer_raw != new.issuer_raw || held.delta_base.is_some() != new.delta_base.is_some() {
        return Err(CrlError::Different { url });
    }
    if new.this_update < held.this_update {
        return Err(CrlError::Older { url });
    }
    if let (Some(n), Some(h)) = (&new.number, &held.number)
        && n < h
    {
        return Err(CrlError::LowerNumber { url });
    }
    Ok(Fresh::Newer)
}

/// Parses fetched or stored bytes (DER, or PEM `X509 CRL`) as one CRL.
pub fn parse(url: &str, bytes: &[u8]) -> Result<Crl, CrlError> {
    let err = |why: String| CrlError::Parse {
        url: url.to_owned(),
        why,
    };
    let ders = crate::trustdir::pem_or_der(bytes, "X509 CRL").map_err(|e| err(e.to_string()))?;
    match ders.as_slice() {
        [der] => Crl::from_der(der).map_err(|e| err(e.0)),
        _ => Err(err("more than one CRL in the answer".into())),
    }
}

/// A CRL number for people: decimal up to 128 bits, else hexadecimal.
pub fn number_text(n: &CrlNumber) -> String {
    let b = n.as_bytes();
    if b.len() <= 16 {
        let v = b.iter().fold(0u128, |v, &d| (v << 8) | u128::from(d));
        v.to_string()
    } else {
        format!("0x{}", crate::verify::certificate::hex(b))
    }
}

/// The last good CRL of each URL, one file each under `<data>/crls/`, named by the SHA-256 of
/// the URL (URLs are not file names).
#[derive(Debug, Clone)]
pub struct CrlDir {
    dir: PathBuf,
}

/// Distinguishes the temporary files of concurrent writers in one process.
static TEMP: AtomicU64 = AtomicU64::new(0);

impl CrlDir {
    /// The directory under `data`.
    pub fn new(data: &Path) -> CrlDir {
        CrlDir {
            dir: data.join("crls"),
        }
    }

    /// The file that holds `url`'s CRL.
    pub fn file(&self, url: &str) -> PathBuf {
        let h = Sha256::digest(url.as_bytes());
        let name = crate::verify::certificate::hex(h.get(..16).unwrap_or_default());
        self.dir.join(format!("{name}.crl"))
    }

    /// The stored bytes of `url`'s CRL, if any.
    pub fn load(&self, url: &str) -> Option<Vec<u8>> {
        std::fs::read(self.file(url)).ok()
    }

    /// Stores `der` as `url`'s CRL atomically: a temporary file, synced, renamed over the old
    /// one, and the directory synced, so a crash leaves the old CRL or the new one, never half.
    pub fn save(&self, url: &str, der: &[u8]) -> Result<(), CrlError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| CrlError::Io { path, source }
        };
        std::fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        let target = self.file(url);
        let n = TEMP.fetch_add(1, Ordering::Relaxed);
        let temp = self.dir.join(format!(".tmp-{}-{n}", std::process::id()));
        let written = (|| {
            let mut f = std::fs::File::create(&temp)?;
            f.write_all(der)?;
            f.sync_all()?;
            std::fs::rename(&temp, &target)?;
            std::fs::File::open(&self.dir)?.sync_all()
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        written.map_err(io(&target))
    }
}

#[cfg(test)]
pub(crate) mod tests;
