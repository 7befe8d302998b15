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
//!   never overwriting), mode 0644 (no set-uid bits from the image);
//! - symlinks are recreated as links, whatever they point at, and never followed;
//! - device nodes, fifos and sockets are never created.
//!
//! Every refusal is returned as a [`Note`] naming the entry.

use super::tree::EntryKind;
use super::{Level, Note, Unpacked};
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
/// through anything that is not a real directory.
fn make_dirs(dir: &Path, rel: &Path) -> Result<(), String> {
    let mut at = dir.to_path_buf();
    for part in rel.components() {
        at.push(part);
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
    }
    Ok(())
}

fn write_file(at: &Path, data: &[u8]) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(at)
        .map_err(|e| format!("{}: {e}", at.display()))?;
    file.write_all(data)
        .map_err(|e| format!("{}: {e}", at.display()))
}

/// Writes every entry of `unpacked` (the target shown as `display`) under `dir`.
pub fn extract(unpacked: &Unpacked, display: &str, dir: &Path) -> Result<Summary, String> {
    fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut summary = Summary::default();
    // files[0] is the image itself when the target is a file.
    let skip = usize::from(unpacked.files.first().is_some_and(|f| f.fs.is_none()));
    for file in &unpacked.files[skip..] {
        let refuse = |summary: &mut Summary, why: String| {
            summary.refused.push(Note {
                level: Level::Error,
                path: file.path.clone(),
                offset: None,
                message: format!("not extracted: {why}"),
            });
        };
        if let Some(raw) = &file.escape {
            refuse(
                &mut summary,
                format!("its container names it {raw:?}, outside the container"),
            );
            continue;
        }
        let Some(rel) = relative_path(display, &file.path) else {
            refuse(&mut summary, "path is not under the target".into());
            continue;
        };
        let rel = match check_relative(&rel) {
            Ok(rel) => rel,
            Err(why) => {
                refuse(&mut summary, why);
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
            EntryKind::Dir => make_dirs(dir, &rel).map(|()| summary.dirs += 1),
            EntryKind::File => make_dirs(dir, parent)
                .and_then(|()| write_file(&at, &file.data))
                .map(|()| summary.files += 1),
            EntryKind::Symlink(target) => make_dirs(dir, parent)
                .and_then(|()| {
                    std::os::unix::fs::symlink(target, &at)
                        .map_err(|e| format!("{}: {e}", at.display()))
                })
                .map(|()| summary.symlinks += 1),
        };
        if let Err(why) = done {
            refuse(&mut summary, why);
        }
    }
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
        let err = make_dirs(dir.path(), Path::new("link/sub")).unwrap_err();
        assert!(err.contains("symlink"), "{err}");
        std::os::unix::fs::symlink(outside.path().join("f"), dir.path().join("f")).unwrap();
        assert!(write_file(&dir.path().join("f"), b"x").is_err());
        assert!(!outside.path().join("f").exists());
        assert!(!outside.path().join("sub").exists());
    }
}
