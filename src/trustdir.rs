//! Loading a trust store from directories: every certificate file is an anchor, every `*.crl`
//! a CRL. This is the I/O half of the trust store; [`crate::verify::TrustStore`] is the pure half.

use crate::verify::TrustStore;
use crate::verify::certificate::Certificate;
use crate::verify::revocation::Crl;
use base64::Engine;
use std::path::{Path, PathBuf};

/// Why a trust directory could not be loaded. Each names the file.
#[derive(Debug, thiserror::Error)]
pub enum TrustDirError {
    /// The directory or a file in it could not be read.
    #[error("{path}: {source}")]
    Io {
        /// What we tried to read.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A file is not a certificate or CRL we can parse.
    #[error("{path}: {why}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
}

const CERT_EXT: &[&str] = &["pem", "crt", "cer", "der"];

/// Loads every certificate and CRL from `dirs` (not recursive). Files with other extensions are
/// ignored so a README can live beside the anchors. A file that cannot be read or parsed is
/// left out and named in [`TrustStore::skipped`]: one bad CRL among dozens must not stop every
/// verification — what it would have said is missing, and revocation checking reports that
/// where it matters. Only a directory that cannot be listed is an error.
pub fn load(dirs: &[PathBuf]) -> Result<TrustStore, TrustDirError> {
    let mut anchors = Vec::new();
    let mut crls = Vec::new();
    let mut skipped = Vec::new();
    for dir in dirs {
        let io = |source| TrustDirError::Io {
            path: dir.clone(),
            source,
        };
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(io)?;
        entries.sort();
        for path in entries {
            let ext = path
                .extension()
                .and_then(|e| e.to_str())
                .map(str::to_ascii_lowercase)
                .unwrap_or_default();
            let is_crl = ext == "crl";
            if !is_crl && !CERT_EXT.contains(&ext.as_str()) {
                continue;
            }
            match load_file(&path, is_crl) {
                Ok(File::Crls(c)) => crls.extend(c),
                Ok(File::Anchors(a)) => anchors.extend(a),
                Err(e) => skipped.push(e.to_string()),
            }
        }
    }
    Ok(TrustStore::new(anchors, crls).with_skipped(skipped))
}

/// What one file held.
enum File {
    Crls(Vec<Crl>),
    Anchors(Vec<Certificate>),
}

/// One file's certificates or CRLs, all or nothing.
fn load_file(path: &Path, is_crl: bool) -> Result<File, TrustDirError> {
    let bytes = std::fs::read(path).map_err(|source| TrustDirError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let label = if is_crl { "X509 CRL" } else { "CERTIFICATE" };
    let ders = pem_or_der(&bytes, label).map_err(|why| parse_err(path, why.to_string()))?;
    if is_crl {
        let crls = ders
            .iter()
            .map(|der| Crl::from_der(der).map_err(|e| parse_err(path, e.0)))
            .collect::<Result<_, _>>()?;
        return Ok(File::Crls(crls));
    }
    let anchors = ders
        .iter()
        .map(|der| Certificate::from_der(der).map_err(|e| parse_err(path, e.0)))
        .collect::<Result<_, _>>()?;
    Ok(File::Anchors(anchors))
}

fn parse_err(path: &Path, why: impl Into<String>) -> TrustDirError {
    TrustDirError::Parse {
        path: path.to_path_buf(),
        why: why.into(),
    }
}

/// Why a PEM file yields no DER objects (RFC 7468 §2: textual encoding, base64 body between
/// `-----BEGIN label-----` and `-----END label-----`).
#[derive(Debug, thiserror::Error)]
pub enum PemError {
    /// A block begins and does not end; `end` is the line looked for.
    #[error("PEM block without '{end}'")]
    Unterminated {
        /// The expected END line.
        end: String,
    },
    /// A block's body is not base64.
    #[error("PEM body: {0}")]
    Body(#[from] base64::DecodeError),
    /// The file is PEM but has no block with the label; `begin` is the line looked for.
    #[error("no '{begin}' block")]
    NoBlock {
        /// The expected BEGIN line.
        begin: String,
    },
}

/// The DER objects in a file: every PEM block with `label`, or the whole file as DER.
pub fn pem_or_der(bytes: &[u8], label: &str) -> Result<Vec<Vec<u8>>, PemError> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Ok(vec![bytes.to_vec()]);
    };
    if !text.contains("-----BEGIN ") {
        return Ok(vec![bytes.to_vec()]);
    }
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(&begin) {
        let after = rest.get(start + begin.len()..).unwrap_or_default();
        let Some(stop) = after.find(&end) else {
            return Err(PemError::Unterminated { end });
        };
        let body: String = after
            .get(..stop)
            .unwrap_or_default()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let der = base64::engine::general_purpose::STANDARD.decode(body)?;
        out.push(der);
        rest = after.get(stop + end.len()..).unwrap_or_default();
    }
    if out.is_empty() {
        return Err(PemError::NoBlock { begin });
    }
    Ok(out)
}
