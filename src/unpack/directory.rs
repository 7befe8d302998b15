//! An already unpacked root file system on disk, read into the same virtual
//! tree as an image so that every later stage treats both alike.

use super::limits::{Budget, Limits};
use super::tree::{EntryKind, FsPath, Meta, VirtualFile};
use super::{Level, Note, Part, PartFs, Unpacked};
use std::fs;
use std::path::Path;

/// Loads every entry under `root` without following symlinks, then unpacks
/// any container found inside the regular files.
pub fn unpack_dir(root: &Path, display: &str, limits: &Limits) -> Unpacked {
    let mut unpacker = Part::default();
    unpacker.filesystems.push(PartFs {
        root: display.to_string(),
        entries: Vec::new(),
    });
    let mut pending = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, rel)) = pending.pop() {
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) => {
                unpacker.notes.push(Note {
                    level: Level::Error,
                    path: format!("{display}{rel}"),
                    offset: None,
                    message: format!("cannot read directory: {e}"),
                });
                continue;
            }
        };
        let mut names: Vec<_> = entries.filter_map(Result::ok).collect();
        names.sort_by_key(|e| e.file_name());
        for entry in names {
            if unpacker.files.len() >= limits.max_entries {
                unpacker.notes.push(Note {
                    level: Level::Limit,
                    path: display.to_string(),
                    offset: None,
                    message: format!(
                        "more than {} entries; the rest were skipped",
                        limits.max_entries
                    ),
                });
                pending.clear();
                break;
            }
            let inner = format!("{rel}/{}", entry.file_name().to_string_lossy());
            let path = entry.path();
            let (kind, data, meta) = match read_entry(&path, limits) {
                Ok(read) => read,
                Err(message) => {
                    unpacker.notes.push(Note {
                        level: Level::Error,
                        path: format!("{display}{inner}"),
                        offset: None,
                        message,
                    });
                    continue;
                }
            };
            let index = unpacker.files.len();
            unpacker.filesystems[0].entries.push((inner.clone(), index));
            if kind == EntryKind::Dir {
                pending.push((path, inner.clone()));
            }
            unpacker.files.push(VirtualFile {
                path: format!("{display}{inner}"),
                fs: Some(FsPath { fs: 0, path: inner }),
                kind,
                data,
                scan: Vec::new(),
                escape: None,
                meta: Some(meta),
            });
        }
    }
    unpacker.examine_from(0, 1, &Budget::new(limits.clone()));
    unpacker.finish()
}

fn read_entry(path: &Path, limits: &Limits) -> Result<(EntryKind, Vec<u8>, Meta), String> {
    let meta = fs::symlink_metadata(path).map_err(|e| format!("cannot stat: {e}"))?;
    let owner = owner(&meta);
    let kind = meta.file_type();
    if kind.is_symlink() {
        let target = fs::read_link(path).map_err(|e| format!("cannot read link: {e}"))?;
        return Ok((
            EntryKind::Symlink(target.to_string_lossy().into_owned()),
            Vec::new(),
            owner,
        ));
    }
    if kind.is_dir() {
        return Ok((EntryKind::Dir, Vec::new(), owner));
    }
    if !kind.is_file() {
        return Ok((EntryKind::Special, Vec::new(), owner));
    }
    if meta.len() > limits.max_file_size {
        return Err(format!(
            "{} bytes exceeds the file size bound ({})",
            meta.len(),
            limits.max_file_size
        ));
    }
    let data = fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    Ok((EntryKind::File, data, owner))
}

/// Mode and owner as the host file system keeps them.
#[cfg(unix)]
fn owner(meta: &fs::Metadata) -> Meta {
    use std::os::unix::fs::MetadataExt;
    Meta::new(meta.mode(), meta.uid(), meta.gid())
}

#[cfg(not(unix))]
fn owner(meta: &fs::Metadata) -> Meta {
    Meta::new(
        if meta.permissions().readonly() {
            0o444
        } else {
            0o644
        },
        0,
        0,
    )
}
