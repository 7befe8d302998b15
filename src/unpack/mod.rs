//! Stage 1: turn a target (image file or unpacked root directory) into a
//! virtual tree of files, recursing into every container found, in memory.
//!
//! Nothing is written to disk. Each container becomes a [`Layer`] whose path
//! says where it sits (`fw.bin@0x40000:squashfs`), and problems met on the way
//! become [`Note`]s; the rest of the target is still unpacked.

pub mod carve;
pub mod compress;
pub mod directory;
pub mod extract;
pub mod formats;
pub mod limits;
pub mod tree;

use formats::Rejection;
use limits::{Budget, Limits};
use serde::{Deserialize, Serialize};
use std::ops::Range;
use tree::{EntryKind, FileClass, FsPath, Namespace, VirtualFile};

/// A container found in the target.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Layer {
    /// `parent-path@0xOFFSET:format`.
    pub path: String,
    pub format: String,
    /// Offset of the container in its parent file.
    pub offset: u64,
    /// Bytes of the parent the container occupies.
    pub size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// How serious a [`Note`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Corrupt or truncated input: the scan is incomplete (exit code 2).
    Error,
    /// A resource bound was reached: the scan is incomplete (exit code 2).
    Limit,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Limit => "limit",
        }
    }
}

/// A problem met while unpacking, with where it happened.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Note {
    pub level: Level,
    /// The file or layer concerned.
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    pub message: String,
}

/// One file system in the target: its entries resolve paths against each other.
#[derive(Debug)]
pub struct Filesystem {
    /// Layer path (or directory path) the file system's entries hang under.
    pub root: String,
    pub namespace: Namespace,
}

/// Everything unpacked from one target.
#[derive(Debug, Default)]
pub struct Unpacked {
    pub layers: Vec<Layer>,
    /// `files[0]` is the target itself when it is a file.
    pub files: Vec<VirtualFile>,
    pub filesystems: Vec<Filesystem>,
    pub notes: Vec<Note>,
}

/// Unpacks an image held in memory; `name` is how paths inside it are prefixed.
pub fn unpack_bytes(name: &str, data: Vec<u8>, limits: &Limits) -> Unpacked {
    let mut unpacker = Unpacker::new(limits);
    unpacker.out.files.push(VirtualFile {
        path: name.to_string(),
        fs: None,
        kind: EntryKind::File,
        data,
        scan: Vec::new(),
        escape: None,
    });
    unpacker.examine(0, 0);
    unpacker.finish()
}

struct Unpacker {
    out: Unpacked,
    budget: Budget,
}

impl Unpacker {
    fn new(limits: &Limits) -> Unpacker {
        Unpacker {
            out: Unpacked::default(),
            budget: Budget::new(limits.clone()),
        }
    }

    fn finish(self) -> Unpacked {
        self.out
    }

    fn note(&mut self, level: Level, path: &str, offset: Option<u64>, message: String) {
        self.out.notes.push(Note {
            level,
            path: path.to_string(),
            offset,
            message,
        });
    }

    /// Carves containers out of file `index`, adds what they hold, and recurses.
    fn examine(&mut self, index: usize, depth: usize) {
        let data = std::mem::take(&mut self.out.files[index].data);
        let path = self.out.files[index].path.clone();
        let mut covered: Vec<Range<usize>> = Vec::new();
        // Executables are scanned as they are: carving inside them finds only
        // chance magics.
        if tree::classify(&data) != FileClass::Elf {
            let mut pos = 0;
            for (offset, format) in carve::candidates(&data) {
                if offset < pos {
                    continue;
                }
                let extracted = match format.extract(&data[offset..], &mut self.budget) {
                    Ok(extracted) => extracted,
                    Err(Rejection::NotThisFormat) => continue,
                    Err(Rejection::Corrupt(message)) => {
                        let message = format!("{} at {offset:#x}: {message}", format.name());
                        self.note(Level::Error, &path, Some(offset as u64), message);
                        continue;
                    }
                    Err(Rejection::Limit(message)) => {
                        let message = format!("{} at {offset:#x}: {message}", format.name());
                        self.note(Level::Limit, &path, Some(offset as u64), message);
                        continue;
                    }
                };
                let size = (extracted.size as usize).clamp(1, data.len() - offset);
                covered.push(offset..offset + size);
                pos = offset + size;
                let layer_path = format!("{path}@{offset:#x}:{}", format.name());
                if depth + 1 > self.budget.limits.max_depth {
                    let message = format!(
                        "nesting deeper than {} layers; contents not examined",
                        self.budget.limits.max_depth
                    );
                    self.note(Level::Limit, &layer_path, None, message);
                    continue;
                }
                self.add_layer(layer_path, format.name(), offset, extracted, depth);
            }
        }
        let file = &mut self.out.files[index];
        file.scan = uncovered(data.len(), &covered);
        file.data = data;
    }

    fn add_layer(
        &mut self,
        layer_path: String,
        format: &str,
        offset: usize,
        extracted: formats::Extracted,
        depth: usize,
    ) {
        self.out.layers.push(Layer {
            path: layer_path.clone(),
            format: format.to_string(),
            offset: offset as u64,
            size: extracted.size,
            detail: extracted.detail,
        });
        for problem in extracted.notes {
            let (level, message) = match problem {
                formats::Problem::Error(m) => (Level::Error, m),
                formats::Problem::Limit(m) => (Level::Limit, m),
            };
            self.note(level, &layer_path, None, message);
        }
        let fs = extracted.filesystem.then(|| {
            self.out.filesystems.push(Filesystem {
                root: layer_path.clone(),
                namespace: Namespace::default(),
            });
            self.out.filesystems.len() - 1
        });
        let mut added = Vec::new();
        for entry in extracted.entries {
            let index = self.out.files.len();
            let fs_path = fs.map(|fs| FsPath {
                fs,
                path: tree::normalize(&entry.path),
            });
            let path = match &fs_path {
                Some(p) => format!("{layer_path}{}", p.path),
                // Not a file system, but a name is still never a path out.
                None => format!("{layer_path}{}", tree::normalize(&entry.path)),
            };
            if let Some(p) = &fs_path {
                self.out.filesystems[p.fs].namespace.insert(&p.path, index);
            }
            if entry.kind == EntryKind::File {
                added.push(index);
            }
            // Checked here for every format, so no reader can forget it.
            let escape = tree::climbs_out(&entry.path).then(|| entry.path.clone());
            if let Some(raw) = &escape {
                let message = format!(
                    "entry name {raw:?} climbs out of the container; listed as {path} and never extracted"
                );
                self.note(Level::Error, &layer_path, None, message);
            }
            self.out.files.push(VirtualFile {
                path,
                fs: fs_path,
                kind: entry.kind,
                data: entry.data,
                scan: Vec::new(),
                escape,
            });
        }
        for index in added {
            self.examine(index, depth + 1);
        }
    }
}

/// The parts of `0..len` no range in `covered` (sorted, disjoint) claims.
fn uncovered(len: usize, covered: &[Range<usize>]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut at = 0;
    for r in covered {
        if r.start > at {
            out.push(at..r.start);
        }
        at = at.max(r.end);
    }
    if at < len {
        out.push(at..len);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uncovered_is_the_complement() {
        assert_eq!(uncovered(10, &[2..4, 6..10]), vec![0..2, 4..6]);
        assert_eq!(uncovered(3, &[]), vec![0..3]);
    }

    #[test]
    fn carves_a_gzip_at_an_offset_and_keeps_the_rest_for_scanning() {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(&b"inner text ".repeat(20)).unwrap();
        let gz = e.finish().unwrap();
        let mut image = vec![0xffu8; 0x100];
        image.extend_from_slice(&gz);
        image.extend_from_slice(b"tail");
        let out = unpack_bytes("img", image.clone(), &Limits::default());
        assert_eq!(out.layers.len(), 1);
        assert_eq!(out.layers[0].path, "img@0x100:gzip");
        assert_eq!(out.files[1].path, "img@0x100:gzip/data");
        assert_eq!(
            out.files[0].scan,
            vec![0..0x100, 0x100 + gz.len()..image.len()]
        );
        assert!(out.notes.is_empty());
    }

    #[test]
    fn nesting_stops_at_the_depth_bound() {
        use std::io::Write;
        let mut data = b"core".repeat(40);
        for _ in 0..5 {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(&data).unwrap();
            data = e.finish().unwrap();
            data.extend_from_slice(&[0u8; 64]);
        }
        let limits = Limits {
            max_depth: 3,
            ..Limits::default()
        };
        let out = unpack_bytes("nest", data, &limits);
        assert_eq!(out.layers.len(), 3);
        assert_eq!(out.notes.len(), 1);
        assert_eq!(out.notes[0].level, Level::Limit);
    }
}
