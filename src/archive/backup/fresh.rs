//! The chunk files an unfinished attempt created, so that they can be taken back.
//!
//! Chunk files are shared by all generations and renamed into `DIR/chunks/` as they are
//! copied, before the generation that names them counts. An attempt that does not complete
//! (a document destroyed meanwhile, a full disk, SIGKILL) would otherwise leave chunk files
//! no generation names: a destroyed document's bytes still readable in the backup, and space
//! not given back. So each attempt appends the name of every chunk it creates (one not in
//! `DIR/chunks` before) to `DIR/.tmp-gen-NNNNNN.fresh` before the rename; the cleanup of an
//! attempt that did not complete unlinks them. Backups are serialised by `backup.lock`, so
//! no other attempt shares those names.

use super::{BackupError, Fault, files};
use crate::verify::certificate::hex;
use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Largest list read (a line of 65 bytes per chunk: 16 million chunks).
const MAX_LIST: u64 = 1 << 30;
/// How a list's name ends.
const SUFFIX: &str = ".fresh";
/// Most chunks, and bytes of them, recorded between two syncs of the list (the copy holds a
/// batch in memory: recorded, the list synced, then renamed in).
pub(super) const BATCH: usize = 256;
/// See [`BATCH`].
pub(super) const BATCH_BYTES: usize = 16 << 20;

/// The list of the chunks the attempt at generation `gen_name` (`gen-NNNNNN`) creates.
fn list_path(dir: &Path, gen_name: &str) -> PathBuf {
    dir.join(format!(".tmp-{gen_name}{SUFFIX}"))
}

/// The generation a list belongs to (`gen-NNNNNN`), from the list's file name.
fn generation_of(file_name: &str) -> Option<&str> {
    file_name.strip_prefix(".tmp-")?.strip_suffix(SUFFIX)
}

/// An attempt's list of the chunk files it created, open for appending.
pub(super) struct Fresh {
    path: PathBuf,
    file: std::fs::File,
}

impl Fresh {
    /// Starts the list of the attempt at generation `gen_name` in `dir` (empty).
    pub(super) fn create(dir: &Path, gen_name: &str) -> Result<Fresh, BackupError> {
        let path = list_path(dir, gen_name);
        let file = std::fs::File::create(&path).map_err(files::io(&path))?;
        // The list's name durable in `dir` before any chunk it will name is: a list lost with
        // its directory entry would leave those chunks named by nothing after a power loss.
        files::sync_path(dir)?;
        Ok(Fresh { path, file })
    }

    /// Renames a batch of recorded chunks into `dir` (written via `tmp`), the list made
    /// durable first: a power loss may keep a rename and lose a line the kernel had not
    /// written back, and that chunk would then be named by nothing — neither by a generation
    /// nor by the list the next backup rolls back.
    pub(super) fn admit(
        &mut self,
        dir: &Path,
        tmp: &Path,
        batch: &[([u8; 32], Vec<u8>)],
    ) -> Result<(), BackupError> {
        self.file.sync_data().map_err(files::io(&self.path))?;
        for (name, packed) in batch {
            files::write_chunk(dir, tmp, name, packed)?;
        }
        Ok(())
    }

    /// Records `name` if its chunk file is not in `dir` yet: called before the chunk is
    /// renamed into place (by [`Fresh::admit`], which makes the line durable first). One
    /// unbuffered write of a whole line, so that the line is in the file (the kernel's, which a
    /// SIGKILL does not lose) before the chunk is; a line cut short names a chunk never
    /// renamed.
    pub(super) fn record(&mut self, dir: &Path, name: &[u8; 32]) -> Result<(), BackupError> {
        let chunk = dir.join(files::chunk_path(name));
        // An existing chunk belongs to an earlier generation: never the attempt's to remove.
        if chunk.try_exists().map_err(files::io(&chunk))? {
            return Ok(());
        }
        let line = format!("{}\n", hex(name));
        self.file
            .write_all(line.as_bytes())
            .map_err(files::io(&self.path))
    }

    /// The generation counts: its chunks are named, the list is not needed. Best effort,
    /// since the generation already counts; a list left is removed by the next backup.
    pub(super) fn completed(self) {
        if let Err(e) = std::fs::remove_file(&self.path) {
            tracing::warn!(list = %self.path.display(), error = %e,
                "the list of a completed backup's new chunks could not be removed");
        }
    }
}

/// The chunk names in the list at `path`; a line cut short (a kill mid-append) is skipped.
fn read_list(path: &Path) -> Result<Vec<[u8; 32]>, BackupError> {
    let raw = files::read_bounded(path, MAX_LIST)?;
    let text = String::from_utf8_lossy(&raw);
    Ok(text
        .lines()
        .filter_map(crate::archive::checkpoint::unhex32)
        .collect())
}

/// The lists in `dir`: (path, generation name).
fn lists(dir: &Path) -> Result<Vec<(PathBuf, String)>, BackupError> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).map_err(files::io(dir))? {
        let e = e.map_err(files::io(dir))?;
        let name = e.file_name();
        if let Some(g) = name.to_str().and_then(generation_of) {
            out.push((e.path(), g.to_owned()));
        }
    }
    Ok(out)
}

/// Takes back what attempts that did not complete created: every chunk file named in the
/// list of a generation not in place, then the list; the list of one that completed (killed
/// after its rename) is only removed.
pub(super) fn roll_back(dir: &Path) -> Result<(), BackupError> {
    for (list, generation) in lists(dir)? {
        if !dir.join(&generation).is_dir() {
            for name in read_list(&list)? {
                let chunk = dir.join(files::chunk_path(&name));
                match std::fs::remove_file(&chunk) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(files::io(&chunk)(e));
                    }
                    _ => {}
                }
            }
        }
        std::fs::remove_file(&list).map_err(files::io(&list))?;
    }
    Ok(())
}

/// `backup verify`'s check of the shared chunks: the first chunk file in `dir` that no
/// complete generation names and no unfinished attempt's list explains — a destroyed
/// document's bytes may be in it — is [`Fault::Unnamed`].
pub fn unnamed_chunks(dir: &Path) -> Result<(), BackupError> {
    let mut named: HashSet<[u8; 32]> = HashSet::new();
    for e in std::fs::read_dir(dir).map_err(files::io(dir))? {
        let e = e.map_err(files::io(dir))?;
        let name = e.file_name();
        let name = name.to_string_lossy();
        if generation_of(&name).is_some() {
            named.extend(read_list(&e.path())?);
        } else if name.starts_with("gen-") {
            named.extend(files::read_manifest(&e.path())?.chunks);
        }
    }
    let chunks = dir.join("chunks");
    let mut found = match std::fs::read_dir(&chunks) {
        Ok(rd) => rd
            .collect::<Result<Vec<_>, _>>()
            .map_err(files::io(&chunks))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(files::io(&chunks)(e)),
    };
    found.sort_by_key(|e| e.file_name());
    for sub in found {
        if !sub.path().is_dir() {
            return Err(BackupError::bad(sub.path(), Fault::Unnamed));
        }
        let mut files_in: Vec<_> = std::fs::read_dir(sub.path())
            .and_then(|rd| rd.collect::<Result<Vec<_>, _>>())
            .map_err(files::io(&sub.path()))?;
        files_in.sort_by_key(|e| e.file_name());
        for f in files_in {
            let known = f
                .file_name()
                .to_str()
                .and_then(crate::archive::checkpoint::unhex32)
                .is_some_and(|n| named.contains(&n));
            if !known {
                return Err(BackupError::bad(f.path(), Fault::Unnamed));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(dir: &Path, name: &[u8; 32]) -> PathBuf {
        let p = dir.join(files::chunk_path(name));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, b"c").unwrap();
        p
    }

    /// What a SIGKILL leaves: the list of an attempt killed before its rename (its chunks go),
    /// and that of one killed after it (its chunks stay, named by the generation).
    #[test]
    fn the_chunks_of_an_unfinished_attempt_go_and_those_of_a_completed_one_stay() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path();
        let old = chunk(dir, &[1; 32]);
        let mut done = Fresh::create(dir, "gen-000001").unwrap();
        done.record(dir, &[2; 32]).unwrap();
        let kept = chunk(dir, &[2; 32]);
        std::fs::create_dir(dir.join("gen-000001")).unwrap();
        let mut killed = Fresh::create(dir, "gen-000002").unwrap();
        killed.record(dir, &[1; 32]).unwrap(); // existed before: not the attempt's
        killed.record(dir, &[3; 32]).unwrap();
        let gone = chunk(dir, &[3; 32]);
        killed.record(dir, &[4; 32]).unwrap(); // killed before its rename
        // A line cut short by the kill.
        killed.file.write_all(b"05050505").unwrap();
        roll_back(dir).unwrap();
        assert!(old.exists() && kept.exists());
        assert!(!gone.exists(), "the unfinished attempt's chunk is left");
        assert!(!list_path(dir, "gen-000001").exists());
        assert!(!list_path(dir, "gen-000002").exists());
    }

    /// A batch admitted is in place, and every chunk of it is named by the list: an attempt
    /// that then fails takes them all back.
    #[test]
    fn an_admitted_batch_is_named_by_the_list_before_it_is_in_place() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path();
        let tmp = dir.join("tmp");
        std::fs::create_dir(&tmp).unwrap();
        let mut attempt = Fresh::create(dir, "gen-000001").unwrap();
        let batch: Vec<([u8; 32], Vec<u8>)> = (1..=3u8).map(|i| ([i; 32], vec![i; 10])).collect();
        for (name, _) in &batch {
            attempt.record(dir, name).unwrap();
        }
        attempt.admit(dir, &tmp, &batch).unwrap();
        for (name, packed) in &batch {
            assert_eq!(
                &std::fs::read(dir.join(files::chunk_path(name))).unwrap(),
                packed
            );
        }
        assert_eq!(read_list(&attempt.path).unwrap().len(), 3);
        roll_back(dir).unwrap();
        for (name, _) in &batch {
            assert!(!dir.join(files::chunk_path(name)).exists());
        }
    }
}
