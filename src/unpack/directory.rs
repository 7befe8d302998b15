//! An already unpacked root file system (or a project) on disk, read into
//! the same virtual tree as an image so that every later stage treats both
//! alike.
//!
//! A directory is as untrusted as an image and can be far larger (a
//! project's `target/` or `node_modules/`, sparse files that claim
//! gigabytes): it is read under the target's budget from the first byte.
//! Every entry is charged to the entry bound and every file's bytes to the
//! memory bound before they are read; what does not fit is skipped with a
//! `limit` note naming the file and the bound, and the rest is still read.

use super::limits::{Budget, Limits};
use super::tree::{EntryKind, FsPath, Meta, VirtualFile};
use super::{Level, Note, Part, PartFs, Unpacked};
use std::fs;
use std::io::Read;
use std::path::Path;

/// Loads every entry under `root` without following symlinks, then unpacks
/// any container found inside the regular files.
pub fn unpack_dir(root: &Path, display: &str, limits: &Limits) -> Unpacked {
    let mut budget = Budget::new(limits.clone());
    let mut unpacker = Part::default();
    unpacker.filesystems.push(PartFs {
        root: display.to_string(),
        entries: Vec::new(),
    });
    let mut pending = vec![(root.to_path_buf(), String::new())];
    let note = |unpacker: &mut Part, level, path: String, message: String| {
        unpacker.notes.push(Note {
            level,
            path,
            offset: None,
            message,
        })
    };
    'walk: while let Some((dir, rel)) = pending.pop() {
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) => {
                let path = format!("{display}{rel}");
                note(
                    &mut unpacker,
                    Level::Error,
                    path,
                    format!("cannot read directory: {e}"),
                );
                continue;
            }
        };
        // Listed in name order; a directory holding more names than the
        // entry bound leaves is not listed further (the bound is hit anyway).
        let room = budget.entries_left().saturating_add(1);
        let mut names: Vec<_> = entries
            .filter_map(Result::ok)
            .take(usize::try_from(room).unwrap_or(usize::MAX))
            .collect();
        names.sort_by_key(|e| e.file_name());
        for entry in names {
            if let Err(bound) = budget.entry() {
                let message =
                    format!("{bound} reached; the rest of the directory tree was skipped");
                note(&mut unpacker, Level::Limit, display.to_string(), message);
                break 'walk;
            }
            let inner = format!("{rel}/{}", entry.file_name().to_string_lossy());
            let path = entry.path();
            let (kind, data, meta) = match read_entry(&path, &mut budget) {
                Ok(read) => read,
                Err((level, message)) => {
                    note(&mut unpacker, level, format!("{display}{inner}"), message);
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
    unpacker.examine_from(0, 1, &budget, Vec::new());
    unpacker.finish()
}

/// One entry's kind, owner and, for a regular file, its bytes, read only
/// after they were charged to the budget, and never more than the size
/// charged (a file that grows while it is read is cut there).
fn read_entry(
    path: &Path,
    budget: &mut Budget,
) -> Result<(EntryKind, Vec<u8>, Meta), (Level, String)> {
    let error = |m: String| (Level::Error, m);
    let meta = fs::symlink_metadata(path).map_err(|e| error(format!("cannot stat: {e}")))?;
    let owner = owner(&meta);
    let kind = meta.file_type();
    if kind.is_symlink() {
        let target = fs::read_link(path).map_err(|e| error(format!("cannot read link: {e}")))?;
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
    let len = meta.len();
    if len > budget.limits.max_file_size {
        return Err((
            Level::Limit,
            format!(
                "{len} bytes reach the file size bound ({} bytes, --max-file-size); not read",
                budget.limits.max_file_size
            ),
        ));
    }
    budget
        .hold(len)
        .map_err(|bound| (Level::Limit, format!("{len} bytes reach {bound}; not read")))?;
    let mut data = Vec::with_capacity(len as usize);
    fs::File::open(path)
        .and_then(|f| f.take(len).read_to_end(&mut data))
        .map_err(|e| error(format!("cannot read: {e}")))?;
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
