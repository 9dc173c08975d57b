//! The backup's files: key/value record files, the generation manifest, and writing files so
//! that a name, once it appears, holds complete, synced bytes (temporary name, then rename).

use super::{BackupError, Fault, ManifestError};
use crate::verify::certificate::hex;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::Path;

/// The manifest's first line: format and version.
pub const MAGIC: &str = "tamga-backup 1";
/// Largest key in a record file.
const MAX_KEY: usize = 4096;
/// Largest value in a record file (a chunk is a file of its own; entries, receipts, index
/// records are far smaller).
const MAX_VALUE: usize = 64 << 20;
/// Largest manifest read (a line per file, chunk and live document).
const MAX_MANIFEST: u64 = 1 << 30;
/// Largest chunk file read: a compressed 1 MiB chunk with zstd's worst-case overhead.
pub const MAX_CHUNK_FILE: u64 = (super::super::blobs::CHUNK as u64) + (64 << 10);

/// A generation directory's name.
pub fn generation_dir(n: u64) -> String {
    format!("gen-{n:06}")
}

/// A chunk file's path inside the backup directory (content-addressed, shared).
pub fn chunk_path(name: &[u8; 32]) -> String {
    let h = hex(name);
    format!("chunks/{}/{h}", h.get(..2).unwrap_or("00"))
}

/// Key/value pairs, as a record file holds them.
pub type Records = Vec<(Vec<u8>, Vec<u8>)>;

/// Appends one record (`u32` key length, key, `u32` value length, value; big-endian).
pub fn put_record(out: &mut Vec<u8>, key: &[u8], value: &[u8]) {
    out.extend_from_slice(&(key.len() as u32).to_be_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(&(value.len() as u32).to_be_bytes());
    out.extend_from_slice(value);
}

/// Splits a record file into (key, value) pairs; `None` when it is malformed or beyond bounds.
pub fn records(mut raw: &[u8]) -> Option<Records> {
    let mut out = Vec::new();
    let take = |raw: &mut &[u8], max: usize| -> Option<Vec<u8>> {
        let (n, rest) = raw.split_at_checked(4)?;
        let n = usize::try_from(u32::from_be_bytes(n.try_into().ok()?)).ok()?;
        if n > max {
            return None;
        }
        let (v, rest) = rest.split_at_checked(n)?;
        *raw = rest;
        Some(v.to_vec())
    };
    while !raw.is_empty() {
        let k = take(&mut raw, MAX_KEY)?;
        let v = take(&mut raw, MAX_VALUE)?;
        out.push((k, v));
    }
    Some(out)
}

/// One file a generation names: its path in the backup directory, size and SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSum {
    /// Path relative to the backup directory.
    pub path: String,
    /// Bytes.
    pub len: u64,
    /// SHA-256 of the bytes.
    pub sha256: [u8; 32],
}

/// A generation's manifest: the checkpoint it covers and every file it needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    /// This generation's number (1, 2, …).
    pub generation: u64,
    /// The generation it extends, if incremental.
    pub previous: Option<u64>,
    /// Tree size of the checkpoint covered.
    pub size: u64,
    /// Access records included.
    pub access: u64,
    /// Every file but chunks, including earlier generations' that this one extends.
    pub files: Vec<FileSum>,
    /// Chunk files (content-addressed: a chunk's name is the SHA-256 of its raw bytes).
    pub chunks: Vec<[u8; 32]>,
    /// Documents kept at the checkpoint: registration number and blob names.
    pub live: Vec<(String, Vec<[u8; 32]>)>,
    /// Registration numbers destroyed since the previous generation.
    pub disposed: Vec<String>,
}

impl Manifest {
    /// The text form (one item a line).
    pub fn text(&self) -> String {
        use std::fmt::Write as _;
        let mut s = format!("{MAGIC}\ngeneration {}\n", self.generation);
        let _ = writeln!(
            s,
            "previous {}",
            self.previous.map_or("none".into(), |p| p.to_string())
        );
        let _ = writeln!(s, "size {}\naccess {}", self.size, self.access);
        for f in &self.files {
            let _ = writeln!(s, "file {} {} {}", hex(&f.sha256), f.len, f.path);
        }
        for c in &self.chunks {
            let _ = writeln!(s, "chunk {}", hex(c));
        }
        for (regno, blobs) in &self.live {
            let names: Vec<String> = blobs.iter().map(|b| hex(b)).collect();
            let _ = writeln!(s, "live {} {}", names.join(","), regno);
        }
        for regno in &self.disposed {
            let _ = writeln!(s, "disposed {regno}");
        }
        s
    }

    /// Parses the text form; the error names the first bad line.
    pub fn parse(text: &str) -> Result<Manifest, ManifestError> {
        let mut lines = text.lines();
        if lines.next() != Some(MAGIC) {
            return Err(ManifestError::Magic);
        }
        let mut m = Manifest::default();
        for (n, line) in lines.enumerate() {
            let bad = || ManifestError::Line {
                number: n + 2,
                text: line.to_owned(),
            };
            let (word, rest) = line.split_once(' ').ok_or_else(bad)?;
            let num = |s: &str| s.parse::<u64>().map_err(|_| bad());
            let h = |s: &str| super::super::checkpoint::unhex32(s).ok_or_else(bad);
            match word {
                "generation" => m.generation = num(rest)?,
                "previous" if rest == "none" => m.previous = None,
                "previous" => m.previous = Some(num(rest)?),
                "size" => m.size = num(rest)?,
                "access" => m.access = num(rest)?,
                "file" => {
                    let mut p = rest.splitn(3, ' ');
                    let (sum, len, path) = (p.next(), p.next(), p.next());
                    let (Some(sum), Some(len), Some(path)) = (sum, len, path) else {
                        return Err(bad());
                    };
                    if !safe_path(path) {
                        return Err(bad());
                    }
                    m.files.push(FileSum {
                        path: path.to_owned(),
                        len: num(len)?,
                        sha256: h(sum)?,
                    });
                }
                "chunk" => m.chunks.push(h(rest)?),
                "live" => {
                    let (names, regno) = rest.split_once(' ').ok_or_else(bad)?;
                    let blobs = names.split(',').map(h).collect::<Result<_, _>>()?;
                    m.live.push((regno.to_owned(), blobs));
                }
                "disposed" => m.disposed.push(rest.to_owned()),
                _ => return Err(bad()),
            }
        }
        if m.generation == 0 {
            return Err(ManifestError::NoGeneration);
        }
        Ok(m)
    }
}

/// A path a manifest may name: relative, inside the backup directory.
fn safe_path(p: &str) -> bool {
    !p.is_empty()
        && !p.starts_with('/')
        && p.split('/').all(|c| !c.is_empty() && c != "." && c != "..")
}

/// The I/O error for `path`; the file system out of space (or quota) is [`BackupError::Full`].
pub fn io(path: &Path) -> impl Fn(std::io::Error) -> BackupError + '_ {
    use std::io::ErrorKind::{QuotaExceeded, StorageFull};
    move |source| match source.kind() {
        StorageFull | QuotaExceeded => BackupError::Full {
            path: path.to_path_buf(),
        },
        _ => BackupError::Io {
            path: path.to_path_buf(),
            source,
        },
    }
}

/// Reads a whole file of at most `max` bytes.
pub fn read_bounded(path: &Path, max: u64) -> Result<Vec<u8>, BackupError> {
    let f = std::fs::File::open(path).map_err(io(path))?;
    let mut out = Vec::new();
    f.take(max + 1).read_to_end(&mut out).map_err(io(path))?;
    if out.len() as u64 > max {
        return Err(BackupError::bad(path, Fault::TooLarge(max)));
    }
    Ok(out)
}

/// Reads a generation's manifest.
pub fn read_manifest(gen_dir: &Path) -> Result<Manifest, BackupError> {
    let path = gen_dir.join("MANIFEST");
    let raw = read_bounded(&path, MAX_MANIFEST)?;
    let text = String::from_utf8(raw).map_err(|_| BackupError::bad(&path, Fault::NotText))?;
    Manifest::parse(&text).map_err(|e| BackupError::bad(path, e))
}

/// Writes `bytes` to `path` (new) and returns its sum; the caller syncs the file system
/// before the name that makes it count (the generation's rename) appears.
pub fn write_new(root: &Path, rel: &str, bytes: &[u8]) -> Result<FileSum, BackupError> {
    let path = root.join(rel);
    let mut f = std::fs::File::create_new(&path).map_err(io(&path))?;
    f.write_all(bytes).map_err(io(&path))?;
    Ok(FileSum {
        path: rel.to_owned(),
        len: bytes.len() as u64,
        sha256: Sha256::digest(bytes).into(),
    })
}

/// Writes a chunk file under a temporary name in the unfinished generation's directory `tmp`
/// and renames it into place under `root`, so that a chunk name never holds a partial file:
/// a backup killed or out of space mid-write leaves its partial file only where the next
/// backup removes it with the rest of the unfinished generation.
pub fn write_chunk(
    root: &Path,
    tmp: &Path,
    name: &[u8; 32],
    packed: &[u8],
) -> Result<(), BackupError> {
    let path = root.join(chunk_path(name));
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let partial = tmp.join(format!("chunk-{}", hex(name)));
    let mut f = std::fs::File::create(&partial).map_err(io(&partial))?;
    f.write_all(packed).map_err(io(&partial))?;
    drop(f);
    std::fs::rename(&partial, &path).map_err(io(&path))
}

/// Makes a written file or directory durable (the files only once all are written, so the
/// kernel has had the chance to write most back already).
pub fn sync_path(path: &Path) -> Result<(), BackupError> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(io(path))
}

/// Makes everything written to the file system holding `path` durable, with one call
/// (syncfs(2)): after a generation's many files, instead of an fsync each.
pub fn sync_fs(path: &Path) -> Result<(), BackupError> {
    std::fs::File::open(path)
        .and_then(|f| rustix::fs::syncfs(&f).map_err(std::io::Error::from))
        .map_err(io(path))
}

/// SHA-256 and length of a file, streamed.
pub fn sum_file(path: &Path) -> Result<(u64, [u8; 32]), BackupError> {
    let mut f = std::fs::File::open(path).map_err(io(path))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut len = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(io(path))?;
        if n == 0 {
            break;
        }
        h.update(buf.get(..n).unwrap_or_default());
        len += n as u64;
    }
    Ok((len, h.finalize().into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_refuse_truncation() {
        let mut v = Vec::new();
        put_record(&mut v, b"k", b"value");
        put_record(&mut v, b"", b"");
        assert_eq!(
            records(&v).unwrap(),
            vec![(b"k".to_vec(), b"value".to_vec()), (vec![], vec![])]
        );
        assert!(records(&v[..v.len() - 1]).is_none());
        assert!(records(&[0xff, 0xff, 0xff, 0xff]).is_none());
    }

    #[test]
    fn manifest_round_trips_and_refuses_escaping_paths() {
        let m = Manifest {
            generation: 2,
            previous: Some(1),
            size: 10,
            access: 3,
            files: vec![FileSum {
                path: "gen-000001/log.kv".into(),
                len: 5,
                sha256: [7; 32],
            }],
            chunks: vec![[1; 32]],
            live: vec![("01-05/1".into(), vec![[2; 32], [3; 32]])],
            disposed: vec!["T-1/1".into()],
        };
        assert_eq!(Manifest::parse(&m.text()).unwrap(), m);
        let evil = m.text().replace("gen-000001/log.kv", "../etc/passwd");
        assert!(Manifest::parse(&evil).is_err());
    }
}
