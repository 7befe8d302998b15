//! `unpack --extract DIR`: writes the virtual tree to disk, and only inside
//! DIR. This is the one place fwaudit writes what an image contains, so it
//! checks every path itself rather than trusting the tree's normalisation:
//!
//! - a path is `DIR/<image file name><provenance path inside the image>`,
//!   e.g. `DIR/router.bin@0x90000:squashfs/usr/lib/libz.so.1`;
//! - a component that is empty, `.` or `..`, or an entry its container named
//!   with a climbing `..`, is refused;
//! - directories are created one component at a time and every existing
//!   component must be a real directory: nothing is written through a symlink;
//! - files are created with `O_CREAT | O_EXCL` (never opened through a link,
//!   never overwriting), mode 0644 (no set-uid bits from the image); their
//!   contents are written afterwards, in parallel, by reopening without
//!   `O_CREAT` only the same inode;
//! - symlinks are recreated as links, whatever they point at, and never followed;
//! - device nodes, fifos and sockets are never created.
//!
//! Every refusal is returned as a [`Note`] naming the entry.

use super::tree::EntryKind;
use super::{Level, Note, Unpacked};
use std::collections::HashSet;
use std::fs;
use std::io::Write;
use std::path::{Component, Path, PathBuf};

/// What `extract` did.
#[derive(Debug, Default)]
pub struct Summary {
    pub files: usize,
    pub dirs: usize,
    pub symlinks: usize,
    /// Device nodes, fifos and sockets skipped by policy.
    pub special: usize,
    /// Entries refused, each with why.
    pub refused: Vec<Note>,
}

/// The relative path under DIR for provenance path `path` of a target shown as `display`.
pub fn relative_path(display: &str, path: &str) -> Option<String> {
    let inner = path.strip_prefix(display)?;
    let base = Path::new(display)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "image".to_string());
    Some(format!("{base}{inner}"))
}

/// Checks `rel` component by component; the reason when it is unsafe.
pub fn check_relative(rel: &str) -> Result<PathBuf, String> {
    if rel.contains('\0') {
        return Err("path contains a NUL byte".into());
    }
    let mut out = PathBuf::new();
    for part in rel.split('/') {
        match part {
            "" => return Err("path has an empty component or is absolute".into()),
            "." | ".." => return Err(format!("path has a {part:?} component")),
            _ => out.push(part),
        }
    }
    // Belt and braces: the platform's own view must agree.
    if !out.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err("path is not a plain relative path".into());
    }
    Ok(out)
}

/// Creates `dir/rel`'s directories one component at a time, refusing to pass
/// through anything that is not a real directory. `known` holds directories
/// already checked or created in this run: nothing in DIR is ever removed or
/// renamed while extracting, so a directory once checked stays one, and each
/// is checked once rather than once per file below it.
fn make_dirs(dir: &Path, rel: &Path, known: &mut HashSet<PathBuf>) -> Result<(), String> {
    let mut at = dir.to_path_buf();
    for part in rel.components() {
        at.push(part);
        if known.contains(&at) {
            continue;
        }
        match fs::symlink_metadata(&at) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(format!(
                    "{} is a symlink; refusing to write through it",
                    at.display()
                ));
            }
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(format!("{} exists and is not a directory", at.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                fs::create_dir(&at).map_err(|e| format!("{}: {e}", at.display()))?;
            }
            Err(e) => return Err(format!("{}: {e}", at.display())),
        }
        known.insert(at.clone());
    }
    Ok(())
}

/// Creates an empty file at `at`: never through a link, never over anything.
fn create_file(at: &Path) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(at)
        .map(drop)
        .map_err(|e| format!("{}: {e}", at.display()))
}

/// Writes `data` into the file [`create_file`] made at `at`. It is opened
/// without `O_CREAT`, and only if it is still that regular file (same device
/// and inode before and after opening), so this can neither create nor
/// follow anything.
fn fill_file(at: &Path, data: &[u8]) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    if data.is_empty() {
        return Ok(());
    }
    let fail = |e: std::io::Error| format!("{}: {e}", at.display());
    let before = fs::symlink_metadata(at).map_err(fail)?;
    if !before.file_type().is_file() {
        return Err(format!("{} is no longer a regular file", at.display()));
    }
    let mut file = fs::OpenOptions::new().write(true).open(at).map_err(fail)?;
    let opened = file.metadata().map_err(fail)?;
    if (opened.dev(), opened.ino()) != (before.dev(), before.ino()) {
        return Err(format!("{} changed while being written", at.display()));
    }
    file.write_all(data).map_err(fail)
}

#[cfg(test)]
fn write_file(at: &Path, data: &[u8]) -> Result<(), String> {
    create_file(at).and_then(|()| fill_file(at, data))
}

/// Writes every entry of `unpacked` (the target shown as `display`) under `dir`.
///
/// Directories, symlinks and empty files are made one entry after another,
/// in the tree's order, so that which of two clashing entries wins is as
/// before; the files' contents, most of the work, are then written on every
/// core.
/// The extraction directory itself cannot be made (single entries that
/// cannot be written are refusals in the summary, not errors).
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", .dir.display())]
pub struct ExtractError {
    pub dir: PathBuf,
    pub source: std::io::Error,
}

pub fn extract(unpacked: &Unpacked, display: &str, dir: &Path) -> Result<Summary, ExtractError> {
    use rayon::prelude::*;
    fs::create_dir_all(dir).map_err(|source| ExtractError {
        dir: dir.to_path_buf(),
        source,
    })?;
    let mut summary = Summary::default();
    // Refusals with the index of their entry, to list them in the tree's order.
    let mut refused: Vec<(usize, Note)> = Vec::new();
    let mut known = HashSet::new();
    let mut created: Vec<(usize, PathBuf)> = Vec::new();
    // files[0] is the image itself when the target is a file.
    let skip = usize::from(unpacked.files.first().is_some_and(|f| f.fs.is_none()));
    let note = |index: usize, why: String| {
        let file = &unpacked.files[index];
        Note {
            level: Level::Error,
            path: file.path.clone(),
            offset: None,
            message: format!("not extracted: {why}"),
        }
    };
    for (index, file) in unpacked.files.iter().enumerate().skip(skip) {
        if let Some(raw) = &file.escape {
            let why = format!("its container names it {raw:?}, outside the container");
            refused.push((index, note(index, why)));
            continue;
        }
        let Some(rel) = relative_path(display, &file.path) else {
            let why = "path is not under the target".to_string();
            refused.push((index, note(index, why)));
            continue;
        };
        let rel = match check_relative(&rel) {
            Ok(rel) => rel,
            Err(why) => {
                refused.push((index, note(index, why)));
                continue;
            }
        };
        let parent = rel.parent().unwrap_or(Path::new(""));
        let at = dir.join(&rel);
        let done = match &file.kind {
            EntryKind::Special => {
                summary.special += 1;
                continue;
            }
            EntryKind::Dir => make_dirs(dir, &rel, &mut known).map(|()| summary.dirs += 1),
            EntryKind::File => make_dirs(dir, parent, &mut known)
                .and_then(|()| create_file(&at))
                .map(|()| created.push((index, at))),
            EntryKind::Symlink(target) => make_dirs(dir, parent, &mut known)
                .and_then(|()| {
                    std::os::unix::fs::symlink(target, &at)
                        .map_err(|e| format!("{}: {e}", at.display()))
                })
                .map(|()| summary.symlinks += 1),
        };
        if let Err(why) = done {
            refused.push((index, note(index, why)));
        }
    }
    let failed: Vec<(usize, Note)> = created
        .par_iter()
        .filter_map(|(index, at)| {
            let why = fill_file(at, &unpacked.files[*index].data).err()?;
            Some((*index, note(*index, why)))
        })
        .collect();
    summary.files = created.len() - failed.len();
    refused.extend(failed);
    refused.sort_by_key(|(index, _)| *index);
    summary.refused = refused.into_iter().map(|(_, n)| n).collect();
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_start_at_the_image_name() {
        assert_eq!(
            relative_path("samples/r.bin", "samples/r.bin@0x90000:squashfs/usr/lib/x").as_deref(),
            Some("r.bin@0x90000:squashfs/usr/lib/x")
        );
        assert_eq!(relative_path("a.bin", "b.bin/x"), None);
    }

    #[test]
    fn unsafe_components_are_refused() {
        assert!(check_relative("r.bin@0x0:tar/etc/passwd").is_ok());
        assert!(check_relative("r.bin@0x0:tar/../../etc/passwd").is_err());
        assert!(check_relative("/etc/passwd").is_err());
        assert!(check_relative("r.bin@0x0:tar/./x").is_err());
        assert!(check_relative("r.bin@0x0:tar//x").is_err());
        assert!(check_relative("a\0b").is_err());
    }

    #[test]
    fn never_writes_through_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("link")).unwrap();
        let err = make_dirs(dir.path(), Path::new("link/sub"), &mut HashSet::new()).unwrap_err();
        assert!(err.contains("symlink"), "{err}");
        std::os::unix::fs::symlink(outside.path().join("f"), dir.path().join("f")).unwrap();
        assert!(write_file(&dir.path().join("f"), b"x").is_err());
        assert!(!outside.path().join("f").exists());
        assert!(!outside.path().join("sub").exists());
    }
}
