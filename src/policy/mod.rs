//! `archive-policy.toml`: the organisation, its nomenclature of cases (номенклатура дел) and
//! who may read what. Archivists write this file, so every refusal names the file, the line and
//! what is wrong with it; a policy that does not load stops the service at start, never later.

mod retention;
mod revocation;
mod setting;
mod signatures;

pub use retention::Retention;
pub use revocation::{CrlSettings, RevocationSettings};
use serde::Deserialize;
pub use setting::SettingError;
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

/// Where a policy's text came from, to place its errors: the file and the line of an offset.
struct Source<'a> {
    text: &'a str,
    file: &'a Path,
}

impl Source<'_> {
    /// An error at `offset` in the text (`None`: about the file as a whole).
    fn at(&self, offset: Option<usize>, reason: String) -> PolicyError {
        PolicyError {
            file: self.file.to_path_buf(),
            line: offset.map(|o| line_of(self.text, o)),
            reason,
        }
    }
}

/// Parses and checks policy text; `file` names it in errors.
pub fn parse(text: &str, file: &Path) -> Result<ArchivePolicy, PolicyError> {
    let src = Source { text, file };
    let raw: RawPolicy = toml::from_str(text).map_err(|e| {
        let msg = e.message().trim().to_owned();
        src.at(e.span().map(|s| s.start), msg)
    })?;
    let (cases, by_index) = parse_cases(&src, raw.cases)?;
    let principals = parse_principals(&src, raw.principals)?;
    check_organization(&src, &raw.organization, &raw.retention)?;
    let signatures = raw
        .signatures
        .settings()
        .map_err(|r| src.at(r.at, r.reason.to_string()))?;
    let crls = raw
        .revocation
        .crl_settings()
        .map_err(|why| src.at(None, why.to_string()))?;
    let revocation = raw
        .revocation
        .settings()
        .map_err(|r| src.at(None, r.to_string()))?;
    check_backup(&src, &raw.backup)?;
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

/// The nomenclature: at least one case, indexes unique and usable in registration numbers
/// (`<index>/<n>`, hence no '/'), each with a title, a retention and a plausible closing year.
fn parse_cases(
    src: &Source<'_>,
    raw: Vec<Spanned<RawCase>>,
) -> Result<(Vec<Case>, HashMap<String, usize>), PolicyError> {
    let mut cases = Vec::with_capacity(raw.len());
    let mut by_index = HashMap::new();
    for spanned in raw {
        let case_at = spanned.span().start;
        let rc = spanned.into_inner();
        let index = rc.index.get_ref().trim().to_owned();
        let index_at = Some(rc.index.span().start);
        if index.is_empty() || index.len() > 64 || index.contains(['/', '\n']) {
            return Err(src.at(
                index_at,
                format!("case index {index:?} must be 1–64 characters without '/'"),
            ));
        }
        if by_index.insert(index.clone(), cases.len()).is_some() {
            return Err(src.at(index_at, format!("duplicate case index {index:?}")));
        }
        let retention = rc
            .retention
            .get_ref()
            .parse::<Retention>()
            .map_err(|why| src.at(Some(rc.retention.span().start), why.to_string()))?;
        let closed = closed_year(src, rc.closed)?;
        if rc.title.trim().is_empty() {
            return Err(src.at(Some(case_at), format!("case {index:?} has an empty title")));
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
        return Err(src.at(None, "the nomenclature has no [[case]]".into()));
    }
    Ok((cases, by_index))
}

/// A case's `closed` year, checked to be a four-digit year.
fn closed_year(src: &Source<'_>, closed: Option<Spanned<i64>>) -> Result<Option<i32>, PolicyError> {
    let Some(y) = closed else {
        return Ok(None);
    };
    let year = *y.get_ref();
    if !(1900..=9999).contains(&year) {
        return Err(src.at(
            Some(y.span().start),
            format!("closed = {year} is not a year"),
        ));
    }
    Ok(Some(year as i32))
}

/// The principals: unique names, and at least one credential, each a SHA-256 in lower-case hex
/// (the form the gate compares against, so a typo cannot silently never match).
fn parse_principals(
    src: &Source<'_>,
    raw: Vec<Spanned<Principal>>,
) -> Result<Vec<Principal>, PolicyError> {
    let mut principals: Vec<Principal> = Vec::with_capacity(raw.len());
    for spanned in raw {
        let line = Some(spanned.span().start);
        let p = spanned.into_inner();
        if p.name.trim().is_empty() || principals.iter().any(|q| q.name == p.name) {
            return Err(src.at(
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
            return Err(src.at(
                line,
                format!(
                    "principal {:?}: hashes must be 64 lower-case hex digits",
                    p.name
                ),
            ));
        }
        if p.token_sha256.is_none() && p.client_cert_sha256.is_none() {
            return Err(src.at(
                line,
                format!(
                    "principal {:?} has neither token_sha256 nor client_cert_sha256",
                    p.name
                ),
            ));
        }
        principals.push(p);
    }
    Ok(principals)
}

/// The organisation's country (it picks the receipt's languages and legal texts) and the
/// number of approvals a disposal act needs.
fn check_organization(
    src: &Source<'_>,
    org: &Organization,
    retention: &RetentionSettings,
) -> Result<(), PolicyError> {
    if !matches!(org.country.as_str(), "kz" | "kg") {
        return Err(src.at(
            None,
            format!(
                "organization.country {:?} is neither \"kz\" nor \"kg\"",
                org.country
            ),
        ));
    }
    if retention.approvals == 0 || retention.approvals > 10 {
        return Err(src.at(None, "retention.approvals must be 1 to 10".into()));
    }
    Ok(())
}

/// The backup settings: an absolute root (a relative one would depend on the service's
/// working directory) and a rate in a sane range.
fn check_backup(src: &Source<'_>, backup: &BackupSettings) -> Result<(), PolicyError> {
    if backup.root.as_ref().is_some_and(|r| !r.is_absolute()) {
        return Err(src.at(None, "backup.root must be an absolute directory".into()));
    }
    if backup.max_rate.is_some_and(|r| r > 1_000_000) {
        return Err(src.at(None, "backup.max-rate is in MB/s: at most 1000000".into()));
    }
    Ok(())
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(0, |s| s.bytes().filter(|&b| b == b'\n').count())
        + 1
}

#[cfg(test)]
mod tests;
