//! `archive-policy.toml`: the organisation, its nomenclature of cases (номенклатура дел) and
//! who may read what. Archivists write this file, so every refusal names the file, the line and
//! what is wrong with it; a policy that does not load stops the service at start, never later.

mod retention;
mod revocation;
mod signatures;

pub use retention::Retention;
pub use revocation::{CrlSettings, RevocationSettings};
use serde::Deserialize;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// A role a principal holds; cases list the roles that may read their documents' content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Submits documents and reads its own receipts (the ingest gateway, the chancellery).
    Chancellery,
    /// Reads metadata of all cases and runs retention.
    Archivist,
    /// Reads metadata, checkpoints, proofs and the access log; runs audits.
    Auditor,
    /// Manages principals and keys.
    Admin,
}

/// Texts in the four languages of the service.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Texts {
    /// Kazakh.
    pub kk: String,
    /// Kyrgyz.
    pub ky: String,
    /// Russian.
    pub ru: String,
    /// English.
    pub en: String,
}

/// The organisation whose chancellery this is.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Organization {
    /// Its name, as printed on receipts and acts.
    pub name: String,
    /// How to appeal a rejection, in four languages; quoted on every rejected receipt.
    pub appeal: Texts,
    /// `kz` or `kg`: which state language acts are printed in beside Russian (default `kz`).
    #[serde(default = "default_country")]
    pub country: String,
}

fn default_country() -> String {
    "kz".into()
}

/// Retention settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionSettings {
    /// Approvals a disposal act needs, from people other than its drafter.
    #[serde(default = "default_approvals")]
    pub approvals: usize,
}

fn default_approvals() -> usize {
    2
}

impl Default for RetentionSettings {
    fn default() -> Self {
        RetentionSettings {
            approvals: default_approvals(),
        }
    }
}

/// `[backup]`: where `POST /v1/backup` may write.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupSettings {
    /// An absolute directory on the server under which backups taken over HTTP go (the request
    /// names a directory relative to it). Without it the endpoint refuses: a caller must never
    /// choose where on the server's disk the service creates and removes files.
    pub root: Option<PathBuf>,
    /// The most a backup taken over HTTP copies per second, in MB (`max-rate`; absent: the
    /// default of `archive::backup::online`; 0: no cap). Filing waits on the disk a backup
    /// writes to as fast as it can.
    #[serde(rename = "max-rate")]
    pub max_rate: Option<u64>,
}

/// One case (дело) of the nomenclature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// The index, e.g. `01-05` (division code and case number); unique.
    pub index: String,
    /// The title, e.g. «Приказы по основной деятельности».
    pub title: String,
    /// How long its documents are kept.
    pub retention: Retention,
    /// ЭПК: an expert review must be recorded before anything in it is destroyed.
    pub epk: bool,
    /// The year the case was closed; `None` while it is open for filing.
    pub closed: Option<i32>,
    /// Roles that may read the content of its documents.
    pub access: Vec<Role>,
}

/// Someone (or something) allowed to call the service. Secrets are kept only as SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Principal {
    /// Unique name, written to the access log.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// SHA-256 (hex) of its bearer token.
    pub token_sha256: Option<String>,
    /// SHA-256 (hex) of its client certificate (DER), for mTLS.
    pub client_cert_sha256: Option<String>,
}

/// The loaded, checked policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivePolicy {
    /// The organisation.
    pub organization: Organization,
    /// Who may call the service.
    pub principals: Vec<Principal>,
    /// Retention settings.
    pub retention: RetentionSettings,
    /// `[signatures]`: the certificate policies a signer's path must hold.
    pub signatures: crate::verify::policy::PathSettings,
    /// `[revocation]`: OCSP look-ups.
    pub revocation: RevocationSettings,
    /// `[revocation]`'s CRL settings: how often CRLs are fetched, and from which hosts.
    pub crls: CrlSettings,
    /// `[backup]`: where backups over HTTP may go.
    pub backup: BackupSettings,
    cases: Vec<Case>,
    by_index: HashMap<String, usize>,
}

impl ArchivePolicy {
    /// The case with this index.
    pub fn case(&self, index: &str) -> Option<&Case> {
        self.by_index.get(index).and_then(|&i| self.cases.get(i))
    }

    /// All cases, in file order.
    pub fn cases(&self) -> &[Case] {
        &self.cases
    }
}

/// Why a policy file was refused: the file, the line (1-based) and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PolicyError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line, when the problem has a place.
    pub line: Option<usize>,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}: {}", self.file.display(), self.reason),
            None => write!(f, "{}: {}", self.file.display(), self.reason),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    organization: Organization,
    #[serde(rename = "case", default)]
    cases: Vec<Spanned<RawCase>>,
    #[serde(rename = "principal", default)]
    principals: Vec<Spanned<Principal>>,
    #[serde(default)]
    retention: RetentionSettings,
    #[serde(default)]
    signatures: signatures::RawSignatures,
    #[serde(default)]
    revocation: revocation::RawRevocation,
    #[serde(default)]
    backup: BackupSettings,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    index: Spanned<String>,
    title: String,
    retention: Spanned<String>,
    #[serde(default)]
    epk: bool,
    closed: Option<Spanned<i64>>,
    access: Vec<Role>,
}

/// The largest policy file read; a nomenclature is a few hundred cases.
const MAX_POLICY: u64 = 4 * 1024 * 1024;

/// Reads and checks a policy file.
pub fn load(path: &Path) -> Result<ArchivePolicy, PolicyError> {
    let err = |reason: String| PolicyError {
        file: path.to_path_buf(),
        line: None,
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| err(format!("cannot read: {e}")))?;
    if meta.len() > MAX_POLICY {
        return Err(err(format!("larger than {MAX_POLICY} bytes")));
    }
    let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read: {e}")))?;
    parse(&text, path)
}

/// Parses and checks policy text; `file` names it in errors.
pub fn parse(text: &str, file: &Path) -> Result<ArchivePolicy, PolicyError> {
    let at = |offset: Option<usize>, reason: String| PolicyError {
        file: file.to_path_buf(),
        line: offset.map(|o| line_of(text, o)),
        reason,
    };
    let raw: RawPolicy = toml::from_str(text).map_err(|e| {
        let msg = e.message().trim().to_owned();
        at(e.span().map(|s| s.start), msg)
    })?;
    let mut cases = Vec::with_capacity(raw.cases.len());
    let mut by_index = HashMap::new();
    for spanned in raw.cases {
        let case_at = spanned.span().start;
        let rc = spanned.into_inner();
        let index = rc.index.get_ref().trim().to_owned();
        let index_at = Some(rc.index.span().start);
        if index.is_empty() || index.len() > 64 || index.contains(['/', '\n']) {
            return Err(at(
                index_at,
                format!("case index {index:?} must be 1–64 characters without '/'"),
            ));
        }
        if by_index.insert(index.clone(), cases.len()).is_some() {
            return Err(at(index_at, format!("duplicate case index {index:?}")));
        }
        let retention = rc
            .retention
            .get_ref()
            .parse::<Retention>()
            .map_err(|why| at(Some(rc.retention.span().start), why))?;
        let closed = match rc.closed {
            Some(y) => {
                let year = *y.get_ref();
                if !(1900..=9999).contains(&year) {
                    return Err(at(
                        Some(y.span().start),
                        format!("closed = {year} is not a year"),
                    ));
                }
                Some(year as i32)
            }
            None => None,
        };
        if rc.title.trim().is_empty() {
            return Err(at(
                Some(case_at),
                format!("case {index:?} has an empty title"),
            ));
        }
        cases.push(Case {
            index,
            title: rc.title,
            retention,
            epk: rc.epk,
            closed,
            access: rc.access,
        });
    }
    if cases.is_empty() {
        return Err(at(None, "the nomenclature has no [[case]]".into()));
    }
    let mut principals: Vec<Principal> = Vec::with_capacity(raw.principals.len());
    for spanned in raw.principals {
        let line = Some(spanned.span().start);
        let p = spanned.into_inner();
        if p.name.trim().is_empty() || principals.iter().any(|q| q.name == p.name) {
            return Err(at(
                line,
                format!("principal name {:?} is empty or not unique", p.name),
            ));
        }
        let hex64 = |v: &Option<String>| {
            v.as_ref().is_none_or(|h| {
                h.len() == 64
                    && h.bytes()
                        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            })
        };
        if !hex64(&p.token_sha256) || !hex64(&p.client_cert_sha256) {
            return Err(at(
                line,
                format!(
                    "principal {:?}: hashes must be 64 lower-case hex digits",
                    p.name
                ),
            ));
        }
        if p.token_sha256.is_none() && p.client_cert_sha256.is_none() {
            return Err(at(
                line,
                format!(
                    "principal {:?} has neither token_sha256 nor client_cert_sha256",
                    p.name
                ),
            ));
        }
        principals.push(p);
    }
    if !matches!(raw.organization.country.as_str(), "kz" | "kg") {
        return Err(at(
            None,
            format!(
                "organization.country {:?} is neither \"kz\" nor \"kg\"",
                raw.organization.country
            ),
        ));
    }
    if raw.retention.approvals == 0 || raw.retention.approvals > 10 {
        return Err(at(None, "retention.approvals must be 1 to 10".into()));
    }
    let signatures = raw.signatures.settings().map_err(|r| at(r.at, r.reason))?;
    let crls = raw.revocation.crl_settings().map_err(|why| at(None, why))?;
    let revocation = raw.revocation.settings().map_err(|r| at(None, r))?;
    if raw.backup.root.as_ref().is_some_and(|r| !r.is_absolute()) {
        return Err(at(None, "backup.root must be an absolute directory".into()));
    }
    if raw.backup.max_rate.is_some_and(|r| r > 1_000_000) {
        return Err(at(
            None,
            "backup.max-rate is in MB/s: at most 1000000".into(),
        ));
    }
    Ok(ArchivePolicy {
        backup: raw.backup,
        organization: raw.organization,
        principals,
        retention: raw.retention,
        signatures,
        revocation,
        crls,
        cases,
        by_index,
    })
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(0, |s| s.bytes().filter(|&b| b == b'\n').count())
        + 1
}

#[cfg(test)]
mod tests;
