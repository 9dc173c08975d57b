//! Where a backup may be written: a directory that is empty or already holds tamga backups
//! (never one holding something else, since a backup removes its own leftovers there), and,
//! for a backup asked for over HTTP, only under the configured root.

use super::{BackupError, files};
use std::path::{Component, Path, PathBuf};

/// The file that marks a directory as a tamga backup directory from its first backup on, so
/// that one killed before its first generation completed may be resumed.
pub const MARKER: &str = "TAMGA-BACKUP";

/// Why a directory named over HTTP is refused.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// The name is empty, absolute, or has `.`/`..` components.
    #[error("not a relative directory without '..'")]
    NotRelative,
    /// The name leads outside the root (through a symbolic link).
    #[error("leads outside the backup root")]
    Escapes,
    /// The root or the directory could not be resolved or created.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> TargetError + '_ {
    move |source| TargetError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Resolves `rel` under `root` and creates it: `rel` must be relative with only plain
/// components, and the directory, symbolic links resolved, must stay under the root — checked
/// on the deepest existing part before anything is created, and again after.
pub fn under_root(root: &Path, rel: &Path) -> Result<PathBuf, TargetError> {
    let plain = rel.components().all(|c| matches!(c, Component::Normal(_)));
    if rel.as_os_str().is_empty() || !plain {
        return Err(TargetError::NotRelative);
    }
    let root = root.canonicalize().map_err(io(root))?;
    let target = root.join(rel);
    let mut probe = target.as_path();
    loop {
        match probe.canonicalize() {
            Ok(real) if real.starts_with(&root) => break,
            Ok(_) => return Err(TargetError::Escapes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                probe = probe.parent().ok_or(TargetError::Escapes)?;
            }
            Err(e) => return Err(io(probe)(e)),
        }
    }
    std::fs::create_dir_all(&target).map_err(io(&target))?;
    let real = target.canonicalize().map_err(io(&target))?;
    if !real.starts_with(&root) {
        return Err(TargetError::Escapes);
    }
    Ok(real)
}

/// Claims `dir` (created if needed) for backups: it holds a generation or tamga's marker
/// already, or it is empty and gets the marker; anything else is refused untouched.
pub fn claim(dir: &Path) -> Result<(), BackupError> {
    std::fs::create_dir_all(dir).map_err(files::io(dir))?;
    let mut empty = true;
    for e in std::fs::read_dir(dir).map_err(files::io(dir))? {
        let name = e.map_err(files::io(dir))?.file_name();
        let name = name.to_string_lossy();
        if name == MARKER || name.starts_with("gen-") {
            return Ok(());
        }
        empty = false;
    }
    if !empty {
        return Err(super::Refusal::NotEmpty.into());
    }
    let marker = dir.join(MARKER);
    std::fs::write(&marker, format!("{}\n", files::MAGIC)).map_err(files::io(&marker))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_names_under_the_root() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("root");
        std::fs::create_dir(&root).unwrap();
        for bad in ["", "/etc", "../x", "a/../../x", "./a"] {
            assert!(
                matches!(
                    under_root(&root, Path::new(bad)),
                    Err(TargetError::NotRelative)
                ),
                "{bad:?}"
            );
        }
        std::os::unix::fs::symlink(d.path(), root.join("out")).unwrap();
        assert!(matches!(
            under_root(&root, Path::new("out/x")),
            Err(TargetError::Escapes)
        ));
        assert!(!d.path().join("x").exists(), "created outside the root");
        let ok = under_root(&root, Path::new("a/b")).unwrap();
        assert!(ok.is_dir() && ok.starts_with(root.canonicalize().unwrap()));
    }

    #[test]
    fn a_non_empty_directory_without_a_backup_is_refused_untouched() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("mine");
        std::fs::create_dir_all(dir.join(".tmp-keep")).unwrap();
        std::fs::write(dir.join("notes.txt"), b"x").unwrap();
        assert!(matches!(
            claim(&dir),
            Err(BackupError::Refused(super::super::Refusal::NotEmpty))
        ));
        assert!(!dir.join(MARKER).exists());
        let fresh = d.path().join("fresh");
        claim(&fresh).unwrap();
        std::fs::write(fresh.join("backup.lock"), b"").unwrap();
        claim(&fresh).expect("a directory tamga claimed stays claimable");
    }
}
