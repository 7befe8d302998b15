//! The virtual file tree: every file an image yields, held in memory with the
//! path that says where it came from.

use serde::Serialize;
use std::collections::HashMap;
use std::ops::Range;

/// What an entry is, as its container described it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    Symlink(String),
    /// Character/block devices, fifos, sockets: listed, never created.
    Special,
}

/// One entry of the virtual tree.
#[derive(Debug, Clone)]
pub struct VirtualFile {
    /// Provenance path: `image.bin@0x40000:squashfs/usr/lib/libz.so.1`.
    pub path: String,
    /// The file system this entry belongs to and its absolute path there
    /// (`/usr/lib/libz.so.1`), used to resolve symlinks and library search paths.
    pub fs: Option<FsPath>,
    pub kind: EntryKind,
    pub data: Vec<u8>,
    /// Byte ranges not claimed by a recognised container: the only bytes the
    /// identify stage scans, so that each byte is scanned once.
    pub scan: Vec<Range<usize>>,
    /// The name its container gave when that name tried to climb out of the
    /// container (`../../etc/passwd`). The entry is listed under its
    /// normalised path but `--extract` never writes it.
    pub escape: Option<String>,
    /// Permission bits and owner, for file systems and archives that store
    /// them; the posture checks (setuid programs, world-writable files,
    /// readable private keys) need them.
    pub meta: Option<Meta>,
}

/// Mode and owner of an entry as its container recorded them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Meta {
    /// Permission bits with setuid, setgid and sticky (`mode & 0o7777`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

impl Meta {
    /// `mode` is cut to its permission bits (the file type bits are in [`EntryKind`]).
    pub fn new(mode: u32, uid: u32, gid: u32) -> Meta {
        Meta {
            mode: mode & 0o7777,
            uid,
            gid,
        }
    }

    pub fn setuid(&self) -> bool {
        self.mode & 0o4000 != 0
    }

    pub fn setgid(&self) -> bool {
        self.mode & 0o2000 != 0
    }

    pub fn sticky(&self) -> bool {
        self.mode & 0o1000 != 0
    }

    pub fn world_writable(&self) -> bool {
        self.mode & 0o002 != 0
    }

    pub fn world_readable(&self) -> bool {
        self.mode & 0o004 != 0
    }
}

/// A path inside one file system of the target.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FsPath {
    /// Index of the file system (namespace) in [`crate::unpack::Unpacked::filesystems`].
    pub fs: usize,
    pub path: String,
}

/// How `unpack --json` describes a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileClass {
    Elf,
    Script,
    Text,
    Data,
    Symlink,
    Dir,
    Special,
}

impl VirtualFile {
    pub fn class(&self) -> FileClass {
        match &self.kind {
            EntryKind::Dir => FileClass::Dir,
            EntryKind::Symlink(_) => FileClass::Symlink,
            EntryKind::Special => FileClass::Special,
            EntryKind::File => classify(&self.data),
        }
    }

    pub fn is_regular(&self) -> bool {
        self.kind == EntryKind::File
    }
}

/// Content class from the first bytes.
pub fn classify(data: &[u8]) -> FileClass {
    if data.starts_with(b"\x7fELF") {
        FileClass::Elf
    } else if data.starts_with(b"#!") {
        FileClass::Script
    } else if is_text(data) {
        FileClass::Text
    } else {
        FileClass::Data
    }
}

fn is_text(data: &[u8]) -> bool {
    let head = &data[..data.len().min(4096)];
    !head.is_empty() && {
        // The 4 KiB cut may split a multi-byte character: judge what is whole.
        let valid = match std::str::from_utf8(head) {
            Ok(s) => s,
            Err(e) if e.error_len().is_none() => {
                std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or_default()
            }
            Err(_) => return false,
        };
        !valid.is_empty()
            && valid
                .chars()
                .all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t' | '\x0c'))
    }
}

/// Index of one file system's entries by absolute path, resolving symlinks the
/// way the kernel would inside that root (never escaping it).
#[derive(Debug, Default)]
pub struct Namespace {
    by_path: HashMap<String, usize>,
}

const MAX_SYMLINK_HOPS: usize = 40;

impl Namespace {
    pub fn insert(&mut self, path: &str, file_index: usize) {
        self.by_path.insert(normalize(path), file_index);
    }

    /// Directories present in this namespace (explicit entries or implied by file paths).
    pub fn dirs(&self) -> impl Iterator<Item = &str> {
        self.by_path.keys().map(String::as_str)
    }

    /// Finds the regular file at `path`, following symlinks in every component.
    pub fn resolve(&self, files: &[VirtualFile], path: &str) -> Option<usize> {
        let mut hops = 0;
        let mut pending: Vec<String> = components(path).rev().map(str::to_owned).collect();
        let mut current = String::new();
        while let Some(part) = pending.pop() {
            match part.as_str() {
                "." => continue,
                ".." => {
                    if let Some(cut) = current.rfind('/') {
                        current.truncate(cut);
                    }
                    continue;
                }
                _ => {}
            }
            let candidate = format!("{current}/{part}");
            // Intermediate directories need no entry of their own (archives
            // often list only files); the final path must exist.
            let Some(&index) = self.by_path.get(&candidate) else {
                current = candidate;
                continue;
            };
            match &files[index].kind {
                EntryKind::Symlink(target) => {
                    hops += 1;
                    if hops > MAX_SYMLINK_HOPS {
                        return None;
                    }
                    if target.starts_with('/') {
                        current.clear();
                    }
                    pending.extend(components(target).rev().map(str::to_owned));
                }
                _ => current = candidate,
            }
        }
        let index = *self.by_path.get(&current)?;
        files[index].is_regular().then_some(index)
    }
}

fn components(path: &str) -> impl DoubleEndedIterator<Item = &str> {
    path.split('/').filter(|c| !c.is_empty())
}

/// True when `path` has a `..` component that climbs above its start
/// (`a/../../b`), i.e. it names something outside its container.
pub fn climbs_out(path: &str) -> bool {
    let mut depth = 0usize;
    for c in path
        .split(['/', '\\'])
        .filter(|c| !c.is_empty() && *c != ".")
    {
        if c == ".." {
            match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return true,
            }
        } else {
            depth += 1;
        }
    }
    false
}

/// `/a//b/./c/` -> `/a/b/c` (no symlink resolution).
pub fn normalize(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for c in components(path) {
        match c {
            "." => {}
            ".." => {
                out.pop();
            }
            _ => out.push(c),
        }
    }
    format!("/{}", out.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, kind: EntryKind) -> VirtualFile {
        VirtualFile {
            path: path.into(),
            fs: None,
            kind,
            data: Vec::new(),
            scan: Vec::new(),
            escape: None,
            meta: None,
        }
    }

    #[test]
    fn resolves_symlinked_dirs_and_files_inside_the_root() {
        let files = vec![
            file("/lib", EntryKind::Symlink("usr/lib".into())),
            file(
                "/usr/lib/libz.so.1",
                EntryKind::Symlink("libz.so.1.2.13".into()),
            ),
            file("/usr/lib/libz.so.1.2.13", EntryKind::File),
            file("/usr/lib/loop", EntryKind::Symlink("loop".into())),
            file(
                "/usr/lib/up",
                EntryKind::Symlink("../../../../etc/x".into()),
            ),
            file("/etc/x", EntryKind::File),
        ];
        let mut ns = Namespace::default();
        for (i, f) in files.iter().enumerate() {
            ns.insert(&f.path, i);
        }
        assert_eq!(ns.resolve(&files, "/lib/libz.so.1"), Some(2));
        assert_eq!(ns.resolve(&files, "/usr/lib/loop"), None);
        // `..` past the root stays at the root, as in a chroot.
        assert_eq!(ns.resolve(&files, "/usr/lib/up"), Some(5));
        assert_eq!(ns.resolve(&files, "/nope"), None);
    }

    #[test]
    fn normalize_collapses_dots_and_slashes() {
        assert_eq!(normalize("a//b/./c/"), "/a/b/c");
        assert_eq!(normalize("/../x"), "/x");
    }

    #[test]
    fn climbing_out_is_detected() {
        assert!(climbs_out("../etc/passwd"));
        assert!(climbs_out("a/../../b"));
        assert!(climbs_out("a\\..\\..\\b"));
        assert!(!climbs_out("a/../b"));
        assert!(!climbs_out("/usr/lib/libz.so"));
    }

    #[test]
    fn classifies_content() {
        assert_eq!(classify(b"\x7fELF\x01"), FileClass::Elf);
        assert_eq!(classify(b"#!/bin/sh\n"), FileClass::Script);
        assert_eq!(classify(b"hello\n"), FileClass::Text);
        assert_eq!(classify(b"\x00\x01"), FileClass::Data);
    }
}
