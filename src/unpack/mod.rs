//! Stage 1: turn a target (image file or unpacked root directory) into a
//! virtual tree of files, recursing into every container found, in memory.
//!
//! Nothing is written to disk. Each container becomes a [`Layer`] whose path
//! says where it sits (`fw.bin@0x40000:squashfs`), and problems met on the way
//! become [`Note`]s; the rest of the target is still unpacked.

pub mod bcj;
pub mod carve;
pub mod compress;
pub mod contain;
pub mod directory;
mod early;
pub mod extract;
pub mod formats;
pub mod limits;
pub mod listing;
pub mod tiano;
pub mod tree;

use formats::{Format, Rejection};
use limits::{Budget, Limits};
use rayon::prelude::*;
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
    /// Nothing wrong with the input, only worth saying (a file in which
    /// nothing was recognised); the exit code is unchanged.
    Note,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Limit => "limit",
            Level::Note => "note",
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
///
/// The files a layer holds are examined in parallel; each yields a [`Part`]
/// that is appended in the files' order, so the result (layers, files, file
/// systems, notes, and their order) is the same as a depth-first walk.
pub fn unpack_bytes(name: &str, data: Vec<u8>, limits: &Limits) -> Unpacked {
    let mut target = VirtualFile {
        path: name.to_string(),
        fs: None,
        kind: EntryKind::File,
        data,
        scan: Vec::new(),
        escape: None,
        meta: None,
    };
    let mut budget = Budget::new(limits.clone());
    let mut root = Part::default();
    // The target's own bytes are memory held like any other.
    if let Err(bound) = budget.hold(target.data.len() as u64) {
        let message = format!(
            "the target alone ({} bytes) reaches {bound}; nothing unpacked",
            target.data.len()
        );
        root.note(Level::Limit, name, None, message);
        target.scan = std::iter::once(0..target.data.len()).collect();
        root.files.push(target);
        return root.finish();
    }
    let part = examine(&mut target, 0, &budget);
    root.files.push(target);
    root.append(part);
    root.finish()
}

/// What examining one file adds: its layers, and the files, file systems and
/// notes below it. File indices (in `fs` paths and `filesystems`) are
/// relative to this part until it is appended to its parent.
#[derive(Default)]
pub(crate) struct Part {
    layers: Vec<Layer>,
    files: Vec<VirtualFile>,
    filesystems: Vec<PartFs>,
    notes: Vec<Note>,
}

/// A file system's root and its entries (path, file index) in insertion order.
pub(crate) struct PartFs {
    root: String,
    entries: Vec<(String, usize)>,
}

impl Part {
    fn note(&mut self, level: Level, path: &str, offset: Option<u64>, message: String) {
        self.notes.push(Note {
            level,
            path: path.to_string(),
            offset,
            message,
        });
    }

    /// Appends `child` after everything already here, shifting its indices.
    fn append(&mut self, child: Part) {
        let file_base = self.files.len();
        let fs_base = self.filesystems.len();
        self.layers.extend(child.layers);
        self.notes.extend(child.notes);
        self.files.extend(child.files.into_iter().map(|mut f| {
            if let Some(p) = &mut f.fs {
                p.fs += fs_base;
            }
            f
        }));
        self.filesystems
            .extend(child.filesystems.into_iter().map(|mut fs| {
                for (_, index) in &mut fs.entries {
                    *index += file_base;
                }
                fs
            }));
    }

    fn finish(self) -> Unpacked {
        let filesystems = self
            .filesystems
            .into_iter()
            .map(|fs| {
                let mut namespace = Namespace::default();
                for (path, index) in &fs.entries {
                    namespace.insert(path, *index);
                }
                Filesystem {
                    root: fs.root,
                    namespace,
                }
            })
            .collect();
        Unpacked {
            layers: self.layers,
            files: self.files,
            filesystems,
            notes: self.notes,
        }
    }

    fn add_layer(
        &mut self,
        layer_path: String,
        format: &str,
        offset: usize,
        opened: early::Opened,
        depth: usize,
        budget: &Budget,
    ) {
        let early::Opened {
            extracted,
            examined,
        } = opened;
        self.layers.push(Layer {
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
            self.filesystems.push(PartFs {
                root: layer_path.clone(),
                entries: Vec::new(),
            });
            self.filesystems.len() - 1
        });
        let first = self.files.len();
        for entry in extracted.entries {
            let index = self.files.len();
            let fs_path = fs.map(|fs| FsPath {
                fs,
                path: tree::normalize(&entry.path),
            });
            let path = member_path(&layer_path, &entry.path);
            if let Some(p) = &fs_path {
                self.filesystems[p.fs].entries.push((p.path.clone(), index));
            }
            // Checked here for every format, so no reader can forget it.
            let escape = tree::climbs_out(&entry.path).then(|| entry.path.clone());
            if let Some(raw) = &escape {
                let message = format!(
                    "entry name {raw:?} climbs out of the container; listed as {path} and never extracted"
                );
                self.note(Level::Error, &layer_path, None, message);
            }
            self.files.push(VirtualFile {
                path,
                fs: fs_path,
                kind: entry.kind,
                data: entry.data,
                scan: Vec::new(),
                escape,
                meta: entry.meta,
            });
        }
        self.examine_from(first, depth + 1, budget, examined);
    }

    /// Examines the regular files from index `first` on. They are
    /// independent, so they are examined on every core; what each yields is
    /// appended in the files' order, as a depth-first walk would. Files in
    /// `examined` (by index from `first`) were examined already.
    fn examine_from(
        &mut self,
        first: usize,
        depth: usize,
        budget: &Budget,
        examined: Vec<early::Examined>,
    ) {
        let mut ready: Vec<Option<(Part, Vec<Range<usize>>)>> = std::iter::repeat_with(|| None)
            .take(self.files.len() - first)
            .collect();
        for e in examined {
            if let Some(slot) = ready.get_mut(e.index) {
                *slot = Some((e.part, e.scan));
            }
        }
        let parts: Vec<Part> = self.files[first..]
            .par_iter_mut()
            .zip(ready.par_iter_mut())
            .filter(|(f, _)| f.kind == EntryKind::File)
            .map(|(f, ready)| match ready.take() {
                Some((part, scan)) => {
                    f.scan = scan;
                    part
                }
                None => examine(f, depth, budget),
            })
            .collect();
        for part in parts {
            self.append(part);
        }
    }
}

/// The path of a member of the layer at `layer_path`: the same whether or
/// not the layer is a file system (a name is never a path out of it), and
/// the same whether the member is examined early (`early.rs`) or after.
fn member_path(layer_path: &str, entry_path: &str) -> String {
    format!("{layer_path}{}", tree::normalize(entry_path))
}

/// Carves containers out of `file`, sets its scan ranges, and returns what
/// the containers hold, recursively.
fn examine(file: &mut VirtualFile, depth: usize, budget: &Budget) -> Part {
    let mut budget = budget.fork();
    let mut part = Part::default();
    let data = &file.data;
    let path = &file.path;
    let mut covered: Vec<Range<usize>> = Vec::new();
    // Carving inside executables finds mostly chance magics: only gzip
    // members whose trailer checks out are taken from them (curl's manual),
    // and the executable's bytes are all still scanned, so that identifying
    // it does not depend on what was carved.
    let elf = tree::classify(data) == FileClass::Elf || is_pe(data);
    let gzip = &formats::gzip::Gzip;
    // In an executable only gzip is looked for: memchr's search for its magic
    // is much cheaper than the automaton over every format's.
    let mut elf_members = memchr::memmem::find_iter(data, gzip.magics()[0]);
    let mut candidates = carve::Candidates::new(data);
    let mut pos = 0;
    let mut ahead: Option<Ahead> = None;
    loop {
        let next = if elf {
            elf_members
                .find(|&at| at >= pos)
                .map(|at| (at, gzip as &dyn Format))
        } else {
            candidates.next_from(pos)
        };
        // A container started ahead that the walk has passed without
        // reaching is thrown away, and what it drew from the budget returned.
        if let Some(a) = ahead.take_if(|a| next.is_none_or(|(offset, _)| offset > a.offset)) {
            a.budget.refund();
        }
        let Some((offset, format)) = next else { break };
        // Once the target's entry bound is spent, nothing carved could hold
        // an entry (the bound's note was made where it was reached): a
        // container carved again where a truncated one stopped must not
        // cost a note, or any work, per entry.
        if budget.entries_left() == 0 {
            if let Some(a) = ahead.take() {
                a.budget.refund();
            }
            break;
        }
        let layer_path = format!("{path}@{offset:#x}:{}", format.name());
        // A reader that hands members over early gets them examined while
        // it goes on (see `early.rs`), unless they would be too deep to be.
        let streams = format.hands_over_early() && depth < budget.limits.max_depth;
        let here = |b: &mut Budget| {
            if streams {
                early::extract(format, &data[offset..], b, &layer_path, depth + 1)
            } else {
                let r = extract_contained(format, data.len() - offset, b, |b| {
                    format.extract(&data[offset..], b)
                });
                (r, Vec::new())
            }
        };
        let mut examined = Vec::new();
        let extracted = if elf {
            extract_contained(format, data.len() - offset, &mut budget, |b| {
                formats::gzip::extract_verified(&data[offset..], b)
            })
        } else if let Some(a) =
            ahead.take_if(|a| a.offset == offset && a.format.name() == format.name())
        {
            a.result
        } else if let Some((next_offset, next_format)) = container_after(data, offset, format) {
            // Extract the container after this one at the same time: as if
            // the walk went on to it, which it does unless this container
            // turns out to cover it (then it is thrown away above).
            let mut next_budget = budget.fork();
            let ((here, early), there) = rayon::join(
                || here(&mut budget),
                || {
                    extract_contained(
                        next_format,
                        data.len() - next_offset,
                        &mut next_budget,
                        |b| next_format.extract(&data[next_offset..], b),
                    )
                },
            );
            ahead = Some(Ahead {
                offset: next_offset,
                format: next_format,
                result: there,
                budget: next_budget,
            });
            examined = early;
            here
        } else {
            let (r, early) = here(&mut budget);
            examined = early;
            r
        };
        let extracted = match extracted {
            Ok(extracted) => extracted,
            Err(Rejection::NotThisFormat) => continue,
            Err(Rejection::Corrupt(message)) => {
                let message = format!("{} at {offset:#x}: {message}", format.name());
                part.note(Level::Error, path, Some(offset as u64), message);
                continue;
            }
            Err(Rejection::Limit(message)) => {
                let message = format!("{} at {offset:#x}: {message}", format.name());
                part.note(Level::Limit, path, Some(offset as u64), message);
                // A container refused at a bound is real, only too large:
                // what it declares it holds is not carved again piece by
                // piece (its bytes are still scanned).
                if let Some(len) = format
                    .declared_len(&data[offset..])
                    .and_then(|l| usize::try_from(l).ok())
                    .filter(|&l| l > 0)
                {
                    pos = offset.saturating_add(len).min(data.len());
                    if let Some(a) = ahead.take_if(|a| a.offset < pos) {
                        a.budget.refund();
                    }
                }
                continue;
            }
        };
        let size = (extracted.size as usize).clamp(1, data.len() - offset);
        if !elf && !extracted.scanned_in_place {
            covered.push(offset..offset + size);
        }
        pos = offset + size;
        // Covered by this container: the walk will not reach it.
        if let Some(a) = ahead.take_if(|a| a.offset < pos) {
            a.budget.refund();
        }
        if depth + 1 > budget.limits.max_depth {
            let message = format!(
                "nesting deeper than {} layers; contents not examined",
                budget.limits.max_depth
            );
            part.note(Level::Limit, &layer_path, None, message);
            continue;
        }
        let opened = early::Opened {
            extracted,
            examined,
        };
        part.add_layer(layer_path, format.name(), offset, opened, depth, &budget);
    }
    file.scan = uncovered(data.len(), &covered);
    part
}

/// Runs one format reader on one candidate: a panic inside it (a bug; the
/// readers are fuzzed not to) costs this layer only and becomes a note
/// naming the reader and the panic. The layer's ratio bound (see
/// [`Budget::bound_layer`]) ends with it.
fn extract_contained(
    format: &dyn Format,
    data_len: usize,
    budget: &mut Budget,
    extract: impl FnOnce(&mut Budget) -> Result<formats::Extracted, Rejection>,
) -> Result<formats::Extracted, Rejection> {
    // Nothing a layer yields, holes and shared blocks included, may exceed
    // the ratio bound over the bytes it can occupy; readers that know their
    // own size tighten this.
    budget.bound_layer(data_len as u64);
    let result = contain::contain(|| extract(&mut *budget));
    budget.end_layer();
    result.unwrap_or_else(|panic| {
        Err(Rejection::Corrupt(format!(
            "{} reader panicked ({panic}); this layer is skipped, the rest is still read",
            format.name()
        )))
    })
}

/// A PE/COFF executable (`MZ` with a `PE` header where `e_lfanew` points) or
/// a UEFI terse executable (`VZ`): carved like ELF files, for gzip only (UEFI
/// drivers are full of chance LZMA and volume magics).
fn is_pe(data: &[u8]) -> bool {
    if data.starts_with(b"VZ") && data.len() >= 40 {
        return true;
    }
    data.starts_with(b"MZ")
        && formats::le32(data, 0x3c)
            .and_then(|at| data.get(at as usize..(at as usize).checked_add(4)?))
            .is_some_and(|sig| sig == b"PE\0\0")
}

/// A container extracted ahead of the walk (see [`container_after`]).
struct Ahead {
    offset: usize,
    format: &'static dyn Format,
    result: Result<formats::Extracted, Rejection>,
    /// The fork it drew from, to refund if it is thrown away.
    budget: Budget,
}

/// Containers that declare at least this many bytes are worth starting the
/// next container beside (a kernel before its root file system).
const AHEAD_MIN_LEN: u64 = 1 << 20;
/// How far past a container's declared end the next one is looked for (flash
/// layouts align partitions to erase blocks of 64 to 256 KiB).
const AHEAD_WINDOW: usize = 256 << 10;

/// The container to extract while `format` at `offset` is: the first one
/// that also declares its length, within [`AHEAD_WINDOW`] after the end
/// `format`'s header declares. Only a hint: the walk uses the result only if
/// it reaches that candidate, so the output is the same either way.
fn container_after(
    data: &[u8],
    offset: usize,
    format: &dyn Format,
) -> Option<(usize, &'static dyn Format)> {
    let len = format.declared_len(&data[offset..])?;
    if len < AHEAD_MIN_LEN {
        return None;
    }
    let end = offset.checked_add(usize::try_from(len).ok()?)?;
    let window = data.get(end..data.len().min(end.saturating_add(AHEAD_WINDOW)))?;
    carve::candidates(window)
        .into_iter()
        .map(|(at, f)| (end + at, f))
        .find(|(at, f)| f.declared_len(&data[*at..]).is_some())
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
    fn an_executable_yields_verified_gzip_and_stays_whole_for_scanning() {
        use std::io::Write;
        let member = |text: &[u8]| {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            e.write_all(text).unwrap();
            e.finish().unwrap()
        };
        let good = member(&b"manual text ".repeat(30));
        let mut bad_size = member(&b"other text ".repeat(30));
        let n = bad_size.len();
        bad_size[n - 1] ^= 1; // ISIZE
        let mut elf = b"\x7fELF\x01\x01\x01".to_vec();
        elf.resize(0x40, 0);
        elf.extend_from_slice(&good);
        elf.extend_from_slice(&bad_size);
        elf.extend_from_slice(b"hsqs and more bytes after the magic");
        let len = elf.len();
        let out = unpack_bytes("exe", elf, &Limits::default());
        let layers: Vec<_> = out.layers.iter().map(|l| l.path.as_str()).collect();
        assert_eq!(layers, ["exe@0x40:gzip"]);
        assert_eq!(out.files[1].path, "exe@0x40:gzip/data");
        assert_eq!(out.files[0].scan, vec![0..len]);
        assert!(out.notes.is_empty(), "{:?}", out.notes);
    }

    /// A legacy uImage of `payload` (uncompressed), the way mkimage lays it out.
    fn uimage(payload: &[u8]) -> Vec<u8> {
        let mut h = vec![0u8; 64];
        h[0..4].copy_from_slice(&[0x27, 0x05, 0x19, 0x56]);
        h[12..16].copy_from_slice(&(payload.len() as u32).to_be_bytes());
        h[24..28].copy_from_slice(&crc32fast::hash(payload).to_be_bytes());
        h[28..32].copy_from_slice(&[5, 2, 2, 0]);
        let crc = crc32fast::hash(&h);
        h[4..8].copy_from_slice(&crc.to_be_bytes());
        h.extend_from_slice(payload);
        h
    }

    #[test]
    fn the_container_after_a_large_one_is_extracted_beside_it() {
        // A 1 MiB kernel, then a root image at the next 64 KiB boundary: the
        // second is found by `container_after` and used as the walk reaches it.
        let mut image = uimage(&vec![0x11; 1 << 20]);
        let second_at = image.len().next_multiple_of(0x10000);
        image.resize(second_at, 0xff);
        image.extend_from_slice(&uimage(b"root image bytes"));
        let (at, format) = container_after(&image, 0, &formats::uimage::UImage).unwrap();
        assert_eq!((at, format.name()), (second_at, "uimage"));
        let out = unpack_bytes("fw", image, &Limits::default());
        let layers: Vec<_> = out.layers.iter().map(|l| l.path.as_str()).collect();
        assert_eq!(layers, ["fw@0x0:uimage", "fw@0x110000:uimage"]);
        assert_eq!(out.files[2].path, "fw@0x110000:uimage/kernel");
        assert!(out.notes.is_empty(), "{:?}", out.notes);
    }

    #[test]
    fn a_container_extracted_ahead_and_then_covered_is_thrown_away() {
        // At 0 a header declaring 1 MiB but failing its CRC; inside its range
        // at 0x100 a real image that covers where the first one declared its
        // end; there, a third image, which the walk must find only nested.
        let inner = uimage(b"nested root");
        let mut bad = uimage(&vec![0x22; 1 << 20]);
        bad.truncate(64);
        bad[40] ^= 0xff;
        let declared_end = 64 + (1 << 20);
        let mut cover = vec![0x33u8; declared_end + 0x1000 - 0x100 - 64];
        let inner_at = declared_end - 0x100 - 64;
        cover[inner_at..inner_at + inner.len()].copy_from_slice(&inner);
        let mut image = bad;
        image.resize(0x100, 0);
        image.extend_from_slice(&uimage(&cover));
        assert_eq!(
            container_after(&image, 0, &formats::uimage::UImage).map(|(at, _)| at),
            Some(declared_end)
        );
        let out = unpack_bytes("fw", image, &Limits::default());
        let layers: Vec<_> = out.layers.iter().map(|l| l.path.as_str()).collect();
        assert_eq!(
            layers,
            [
                "fw@0x100:uimage".to_string(),
                format!("fw@0x100:uimage/kernel@{inner_at:#x}:uimage")
            ]
        );
        assert_eq!(out.notes.len(), 1, "{:?}", out.notes);
        assert_eq!(out.notes[0].offset, Some(0));
        assert!(out.notes[0].message.contains("header CRC mismatch"));
    }

    /// A reader that panics (a bug the fuzzers have not found yet).
    struct Panics;

    impl Format for Panics {
        fn name(&self) -> &'static str {
            "panics"
        }
        fn magics(&self) -> &'static [&'static [u8]] {
            &[b"PANIC"]
        }
        fn extract(&self, data: &[u8], _: &mut Budget) -> Result<formats::Extracted, Rejection> {
            let at = data.len() + 10;
            Ok(formats::Extracted {
                size: u64::from(data[at]),
                ..Default::default()
            })
        }
    }

    #[test]
    fn a_panicking_reader_costs_its_layer_only() {
        let mut budget = Budget::new(Limits::default());
        let got = extract_contained(&Panics, 5, &mut budget, |b| Panics.extract(b"PANIC", b));
        let Err(Rejection::Corrupt(message)) = got else {
            panic!("{got:?}");
        };
        assert!(
            message.starts_with(
                "panics reader panicked (index out of bounds: the len is 5 but the index is 15 at src/unpack/mod.rs:"
            ),
            "{message}"
        );
        assert!(message.ends_with("); this layer is skipped, the rest is still read"));
        // The next layer is read as usual.
        let ok = extract_contained(&formats::gzip::Gzip, 3, &mut budget, |_| {
            Err(Rejection::NotThisFormat)
        });
        assert_eq!(ok.unwrap_err(), Rejection::NotThisFormat);
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
