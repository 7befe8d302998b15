//! What `fwaudit unpack` lists: every file below the target (kind, size,
//! symlink target, and with `--json` its SHA-256), computed on every core.

use super::Unpacked;
use super::tree::{EntryKind, FileClass};
use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// One listed file.
#[derive(Debug, Serialize)]
pub struct FileEntry<'a> {
    pub path: &'a str,
    pub size: usize,
    pub kind: FileClass,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<&'a str>,
    /// Permission bits in octal (`"4755"`), when the container stores them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
}

/// The files the target holds (not the target itself); SHA-256 of every
/// regular file when `hashes` (the text listing shows none, so none is
/// computed for it).
pub fn files(unpacked: &Unpacked, hashes: bool) -> Vec<FileEntry<'_>> {
    // files[0] is the image itself; list what it contains.
    let skip = usize::from(unpacked.files.first().is_some_and(|f| f.fs.is_none()));
    unpacked.files[skip..]
        .par_iter()
        .map(|f| FileEntry {
            path: &f.path,
            size: f.data.len(),
            kind: f.class(),
            sha256: (hashes && f.is_regular()).then(|| hex::encode(Sha256::digest(&f.data))),
            target: match &f.kind {
                EntryKind::Symlink(t) => Some(t.as_str()),
                _ => None,
            },
            mode: f.meta.map(|m| format!("{:04o}", m.mode)),
            uid: f.meta.map(|m| m.uid),
            gid: f.meta.map(|m| m.gid),
        })
        .collect()
}

/// The text listing: a line per layer, then a line per file.
pub fn text(unpacked: &Unpacked, files: &[FileEntry]) -> String {
    let mut out = String::new();
    for l in &unpacked.layers {
        out.push_str(&format!(
            "layer {:<9} {:>10} bytes  {}\n",
            l.format, l.size, l.path
        ));
    }
    for f in files {
        let kind = serde_json::to_value(f.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let link = f.target.map(|t| format!(" -> {t}")).unwrap_or_default();
        out.push_str(&format!("{kind:<8} {:>10}  {}{link}\n", f.size, f.path));
    }
    out
}
