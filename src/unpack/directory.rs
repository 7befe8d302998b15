//! An already unpacked root file system on disk, read into the same virtual
//! tree as an image so that every later stage treats both alike.

use super::limits::Limits;
use super::tree::{EntryKind, FsPath, Namespace, VirtualFile};
use super::{Filesystem, Level, Note, Unpacked, Unpacker};
use std::fs;
use std::path::Path;

/// Loads every entry under `root` without following symlinks, then unpacks
/// any container found inside the regular files.
pub fn unpack_dir(root: &Path, display: &str, limits: &Limits) -> Unpacked {
    let mut unpacker = Unpacker::new(limits);
    unpacker.out.filesystems.push(Filesystem {
        root: display.to_string(),
        namespace: Namespace::default(),
    });
    let mut pending = vec![(root.to_path_buf(), String::new())];
    let mut regular = Vec::new();
    while let Some((dir, rel)) = pending.pop() {
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) => {
                unpacker.out.notes.push(Note {
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
            if unpacker.out.files.len() >= limits.max_entries {
                unpacker.out.notes.push(Note {
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
            let (kind, data) = match read_entry(&path, limits) {
                Ok(read) => read,
                Err(message) => {
                    unpacker.out.notes.push(Note {
                        level: Level::Error,
                        path: format!("{display}{inner}"),
                        offset: None,
                        message,
                    });
                    continue;
                }
            };
            let index = unpacker.out.files.len();
            unpacker.out.filesystems[0].namespace.insert(&inner, index);
            match kind {
                EntryKind::Dir => pending.push((path, inner.clone())),
                EntryKind::File => regular.push(index),
                _ => {}
            }
            unpacker.out.files.push(VirtualFile {
                path: format!("{display}{inner}"),
                fs: Some(FsPath { fs: 0, path: inner }),
                kind,
                data,
                scan: Vec::new(),
                escape: None,
            });
        }
    }
    for index in regular {
        unpacker.examine(index, 1);
    }
    unpacker.finish()
}

fn read_entry(path: &Path, limits: &Limits) -> Result<(EntryKind, Vec<u8>), String> {
    let meta = fs::symlink_metadata(path).map_err(|e| format!("cannot stat: {e}"))?;
    let kind = meta.file_type();
    if kind.is_symlink() {
        let target = fs::read_link(path).map_err(|e| format!("cannot read link: {e}"))?;
        return Ok((
            EntryKind::Symlink(target.to_string_lossy().into_owned()),
            Vec::new(),
        ));
    }
    if kind.is_dir() {
        return Ok((EntryKind::Dir, Vec::new()));
    }
    if !kind.is_file() {
        return Ok((EntryKind::Special, Vec::new()));
    }
    if meta.len() > limits.max_file_size {
        return Err(format!(
            "{} bytes exceeds the file size bound ({})",
            meta.len(),
            limits.max_file_size
        ));
    }
    let data = fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    Ok((EntryKind::File, data))
}
