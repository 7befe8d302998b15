//! YAFFS2 NAND images, little or big endian, 2 KiB or 4 KiB pages, with the
//! spare (OOB) area after each page or without it (`nanddump --omitoob`).
//!
//! With OOB, each page's packed tags (sequence number, object id, chunk id,
//! byte count; at spare offset 2 in the Linux MTD layout or 0 in YAFFS's
//! own) say what the page holds; for every object header and every data
//! chunk the copy in the block with the highest sequence number wins (the
//! later page within one block), so rewritten files read as their last
//! version and objects moved under the `deleted`/`unlinked` pseudo
//! directories are dropped. A shrink header's file size cuts the file.
//!
//! Without OOB there are no tags: object headers are recognised by their
//! layout, a file's data pages are taken to follow its header (as image
//! writers lay them out), and object ids are numbered in header order from
//! the base that makes every parent reference land on a directory.
//!
//! YAFFS2 has no magic: the carver looks for the first object header of an
//! image (a directory, file, symlink or special file whose parent is the
//! root, with the unused name checksum 0xffff).

use super::{Entry, Extracted, Format, Notes, Problem, Rejection};
use crate::unpack::limits::Budget;
use crate::unpack::tree::{EntryKind, Meta};
use std::collections::{HashMap, HashSet};

pub struct Yaffs2;

const HEADER_LEN: usize = 512;
const ROOT: u32 = 1;
const UNLINKED: u32 = 3;
const DELETED: u32 = 4;
const HEADER_FLAG: u32 = 0x8000_0000;
const SHRINK_FLAG: u32 = 0x4000_0000;
const EXTRA_FLAGS: u32 = 0xf000_0000;
/// mkyaffs2 and the kernel number the first created object after the buckets.
const FIRST_OBJECT_ID: u32 = 257;

const FILE: u32 = 1;
const SYMLINK: u32 = 2;
const DIRECTORY: u32 = 3;
const HARDLINK: u32 = 4;
const SPECIAL: u32 = 5;

impl Format for Yaffs2 {
    fn name(&self) -> &'static str {
        "yaffs2"
    }

    fn magics(&self) -> &'static [&'static [u8]] {
        &[
            b"\x03\0\0\0\x01\0\0\0\xff\xff",
            b"\x01\0\0\0\x01\0\0\0\xff\xff",
            b"\x02\0\0\0\x01\0\0\0\xff\xff",
            b"\x05\0\0\0\x01\0\0\0\xff\xff",
            b"\0\0\0\x03\0\0\0\x01\xff\xff",
            b"\0\0\0\x01\0\0\0\x01\xff\xff",
            b"\0\0\0\x02\0\0\0\x01\xff\xff",
            b"\0\0\0\x05\0\0\0\x01\xff\xff",
        ]
    }

    fn extract(&self, data: &[u8], budget: &mut Budget) -> Result<Extracted, Rejection> {
        let big_endian = data.first() == Some(&0);
        let first = Header::parse(data, big_endian).ok_or(Rejection::NotThisFormat)?;
        if first.parent != ROOT {
            return Err(Rejection::NotThisFormat);
        }
        let geometry = Geometry::detect(data, big_endian).ok_or(Rejection::NotThisFormat)?;
        let mut notes = Notes::default();
        let scan = match geometry.spare {
            0 => scan_without_oob(data, &geometry, &mut notes),
            _ => scan_with_oob(data, &geometry),
        };
        if scan.objects.is_empty() {
            return Err(Rejection::NotThisFormat);
        }
        let mut out = Extracted {
            size: scan.end as u64,
            filesystem: true,
            ..Default::default()
        };
        // A header may declare a size its chunks never fill (zeros): the
        // layer as a whole is held to the ratio bound.
        budget.bound_layer(out.size);
        build(data, &scan, &geometry, budget, &mut out.entries, &mut notes);
        out.detail = Some(format!(
            "YAFFS2 {}, {} pages{}, {} objects{}",
            if big_endian {
                "big-endian"
            } else {
                "little-endian"
            },
            geometry.page,
            match (geometry.spare, geometry.tags_at) {
                (0, _) => " without OOB".to_string(),
                (s, 2) => format!(" + {s}-byte OOB (MTD layout)"),
                (s, _) => format!(" + {s}-byte OOB (YAFFS layout)"),
            },
            scan.objects.len(),
            if scan.versions > 0 {
                format!(", {} older versions superseded", scan.versions)
            } else {
                String::new()
            }
        ));
        notes.finish("yaffs2", &mut out.notes);
        Ok(out)
    }
}

fn word(data: &[u8], at: usize, big_endian: bool) -> Option<u32> {
    let b: [u8; 4] = data.get(at..at + 4)?.try_into().ok()?;
    Some(if big_endian {
        u32::from_be_bytes(b)
    } else {
        u32::from_le_bytes(b)
    })
}

/// An object header, checked as far as its layout allows.
#[derive(Debug, Clone)]
struct Header {
    kind: u32,
    parent: u32,
    name: Vec<u8>,
    mode: u32,
    uid: u32,
    gid: u32,
    size: u64,
    equiv: u32,
    alias: String,
    shrink: bool,
}

impl Header {
    fn parse(page: &[u8], big_endian: bool) -> Option<Header> {
        let w = |at: usize| word(page, at, big_endian);
        let kind = w(0)?;
        if !(FILE..=SPECIAL).contains(&kind) || page.get(8..10)? != b"\xff\xff" {
            return None;
        }
        let name_area = page.get(10..266)?;
        let len = name_area.iter().position(|&b| b == 0)?;
        let name = name_area[..len].to_vec();
        if name.is_empty() && w(4)? != 0 {
            return None;
        }
        let alias_area = page.get(300..460)?;
        let alias_len = alias_area.iter().position(|&b| b == 0).unwrap_or(0);
        let high = w(496)?;
        let size = u64::from(w(292)?)
            | if high == u32::MAX {
                0
            } else {
                u64::from(high) << 32
            };
        Some(Header {
            kind,
            parent: w(4)?,
            name,
            mode: w(268)?,
            uid: w(272)?,
            gid: w(276)?,
            size,
            equiv: w(296)?,
            alias: if kind == SYMLINK {
                String::from_utf8_lossy(&alias_area[..alias_len]).into_owned()
            } else {
                String::new()
            },
            shrink: w(508)? == 1,
        })
    }
}

/// Page size, spare size (0: no OOB) and where the tags sit in the spare.
struct Geometry {
    page: usize,
    spare: usize,
    tags_at: usize,
    big_endian: bool,
}

impl Geometry {
    fn stride(&self) -> usize {
        self.page + self.spare
    }

    fn detect(data: &[u8], big_endian: bool) -> Option<Geometry> {
        // A header page is 0xff after the 512-byte header.
        let erased_to = |end: usize| {
            data.get(HEADER_LEN..end)
                .is_some_and(|b| b.iter().all(|&x| x == 0xff))
        };
        for (page, spare) in [(2048, 64), (4096, 128)] {
            if !erased_to(page) {
                continue;
            }
            for tags_at in [2, 0] {
                let g = Geometry {
                    page,
                    spare,
                    tags_at,
                    big_endian,
                };
                // The first page's tags must name an object and, when they
                // carry the header's extra fields, the header's parent.
                if let Some(t) = g.tags(data, 0)
                    && t.is_header()
                    && t.obj & !EXTRA_FLAGS != 0
                    && (t.chunk == 0 || t.chunk & !EXTRA_FLAGS == ROOT)
                    && (0x1000..0xefff_ff00).contains(&t.seq)
                    && g.tags(data, 1)
                        .is_some_and(|t| t.erased() || (0x1000..0xefff_ff00).contains(&t.seq))
                {
                    return Some(g);
                }
            }
        }
        // No tags: a 4 KiB page leaves the second 2 KiB erased after a header.
        let page = if erased_to(4096) { 4096 } else { 2048 };
        erased_to(page).then_some(Geometry {
            page,
            spare: 0,
            tags_at: 0,
            big_endian,
        })
    }

    fn tags(&self, data: &[u8], chunk: usize) -> Option<Tags> {
        let at = chunk.checked_mul(self.stride())? + self.page + self.tags_at;
        let w = |o: usize| word(data, at + o, self.big_endian);
        Some(Tags {
            seq: w(0)?,
            obj: w(4)?,
            chunk: w(8)?,
            bytes: w(12)?,
        })
    }
}

/// Packed tags 2 (without their ECC).
#[derive(Debug, Clone, Copy)]
struct Tags {
    seq: u32,
    obj: u32,
    chunk: u32,
    bytes: u32,
}

impl Tags {
    fn erased(&self) -> bool {
        self.seq == u32::MAX && self.obj == u32::MAX
    }

    fn is_header(&self) -> bool {
        self.chunk & HEADER_FLAG != 0 || self.chunk == 0
    }
}

/// Where a data chunk's newest copy is: page offset, byte count, (sequence, page).
type Chunk = (usize, usize, (u32, usize));

/// What the scan found: each object's newest header and each chunk's newest copy.
#[derive(Default)]
struct Scan {
    /// Object id to (header, its version).
    objects: HashMap<u32, (Header, (u32, usize))>,
    /// (object id, chunk id) to (page offset, byte count, version).
    chunks: HashMap<(u32, u32), Chunk>,
    /// Header versions superseded by a newer one.
    versions: usize,
    end: usize,
}

fn scan_with_oob(data: &[u8], g: &Geometry) -> Scan {
    let mut scan = Scan::default();
    let count = data.len() / g.stride();
    for i in 0..count {
        let Some(t) = g.tags(data, i) else { break };
        if t.erased() || !(0x1000..0xefff_ff00).contains(&t.seq) {
            continue;
        }
        let at = i * g.stride();
        let version = (t.seq, i);
        scan.end = at + g.stride();
        let obj = t.obj & !EXTRA_FLAGS;
        if t.is_header() {
            let Some(mut h) = Header::parse(&data[at..at + g.page], g.big_endian) else {
                continue;
            };
            if t.chunk & SHRINK_FLAG != 0 {
                h.shrink = true;
            }
            match scan.objects.get(&obj) {
                Some((_, v)) if *v > version => scan.versions += 1,
                Some(_) => {
                    scan.versions += 1;
                    scan.objects.insert(obj, (h, version));
                }
                None => {
                    scan.objects.insert(obj, (h, version));
                }
            }
        } else {
            let bytes = (t.bytes as usize).min(g.page);
            let newer = scan
                .chunks
                .get(&(obj, t.chunk))
                .is_none_or(|(_, _, v)| *v < version);
            if newer {
                scan.chunks.insert((obj, t.chunk), (at, bytes, version));
            }
        }
    }
    scan
}

fn scan_without_oob(data: &[u8], g: &Geometry, notes: &mut Notes) -> Scan {
    let mut scan = Scan::default();
    let mut headers: Vec<(usize, Header)> = Vec::new();
    let mut i = 0;
    while (i + 1) * g.page <= data.len() {
        let at = i * g.page;
        let page = &data[at..at + g.page];
        match Header::parse(page, g.big_endian) {
            Some(h) if page[HEADER_LEN..].iter().all(|&b| b == 0xff) => {
                let declared = if h.kind == FILE {
                    h.size.div_ceil(g.page as u64)
                } else {
                    0
                };
                // Only the pages the dump holds: a size past the end is a
                // cut dump (or a lie), and its chunks are never made up.
                let left = (data.len() - at) / g.page - 1;
                let pages = usize::try_from(declared).unwrap_or(usize::MAX).min(left);
                scan.end = at + g.page * (1 + pages);
                headers.push((at, h));
                i += 1 + pages;
            }
            _ if page.iter().all(|&b| b == 0xff) => i += 1,
            _ => break,
        }
    }
    // Object ids: the base under which every parent is a directory.
    let dirs: HashSet<usize> = headers
        .iter()
        .enumerate()
        .filter(|(_, (_, h))| h.kind == DIRECTORY)
        .map(|(k, _)| k)
        .collect();
    let fits = |base: u32| {
        headers.iter().enumerate().all(|(k, (_, h))| {
            h.parent == ROOT
                || h.parent
                    .checked_sub(base)
                    .is_some_and(|j| (j as usize) < k && dirs.contains(&(j as usize)))
        })
    };
    let base = std::iter::once(FIRST_OBJECT_ID)
        .chain(
            headers
                .iter()
                .filter(|(_, h)| h.parent != ROOT)
                .flat_map(|(_, h)| {
                    dirs.iter()
                        .filter_map(move |&j| h.parent.checked_sub(j as u32))
                }),
        )
        .find(|&b| fits(b));
    let Some(base) = base else {
        notes.push(Problem::Error(
            "yaffs2 without OOB: no object numbering places every parent on a directory; only top-level objects kept"
                .into(),
        ));
        for (at, h) in headers.into_iter().filter(|(_, h)| h.parent == ROOT) {
            let id = FIRST_OBJECT_ID + scan.objects.len() as u32;
            insert_untagged(&mut scan, id, at, h, g);
        }
        return scan;
    };
    for (k, (at, h)) in headers.into_iter().enumerate() {
        insert_untagged(&mut scan, base + k as u32, at, h, g);
    }
    scan
}

fn insert_untagged(scan: &mut Scan, id: u32, at: usize, h: Header, g: &Geometry) {
    if h.kind == FILE {
        let mut left = h.size;
        let mut chunk = 1u32;
        let mut page_at = at + g.page;
        // Chunks only for pages inside the scanned dump (`scan.end`): a file
        // declaring more is reported short when its data is read.
        while left > 0 && page_at + g.page <= scan.end {
            let n = left.min(g.page as u64) as usize;
            scan.chunks.insert((id, chunk), (page_at, n, (0, 0)));
            left -= n as u64;
            chunk += 1;
            page_at += g.page;
        }
    }
    scan.objects.insert(id, (h, (0, 0)));
}

/// The objects as entries, each under the path its parents give it.
fn build(
    data: &[u8],
    scan: &Scan,
    g: &Geometry,
    budget: &mut Budget,
    entries: &mut Vec<Entry>,
    notes: &mut Notes,
) {
    // Path of an object, or None when it hangs under `deleted`/`unlinked`,
    // under an unknown parent, or in a parent loop.
    let path_of = |mut id: u32| -> Result<Option<String>, String> {
        let mut parts: Vec<String> = Vec::new();
        let mut seen = HashSet::new();
        while id != ROOT {
            if id == DELETED || id == UNLINKED {
                return Ok(None);
            }
            if !seen.insert(id) {
                return Err(format!("object {id} is its own ancestor"));
            }
            let Some((h, _)) = scan.objects.get(&id) else {
                return Err(format!("parent object {id} has no header"));
            };
            let name = String::from_utf8_lossy(&h.name).into_owned();
            if name.is_empty() || name == "." || name == ".." || name.contains('/') {
                return Err(format!("object {id} is named {name:?}"));
            }
            parts.push(name);
            id = h.parent;
        }
        parts.reverse();
        Ok(Some(parts.join("/")))
    };
    let mut ids: Vec<u32> = scan.objects.keys().copied().collect();
    ids.sort_unstable();
    let mut listed: Vec<(String, u32)> = Vec::new();
    for id in ids {
        match path_of(id) {
            Ok(Some(path)) => listed.push((path, id)),
            Ok(None) => {}
            Err(e) => notes.push(Problem::Error(format!("yaffs2: object {id} skipped: {e}"))),
        }
    }
    listed.sort();
    for (path, id) in listed {
        if let Err(bound) = budget.entry() {
            notes.push(Problem::Limit(format!(
                "yaffs2: {bound} reached; the rest of its entries were skipped"
            )));
            break;
        }
        let (h, _) = &scan.objects[&id];
        // A hard link reads as the object it names.
        let (target_id, target) = if h.kind == HARDLINK {
            match scan.objects.get(&h.equiv) {
                Some((t, _)) if t.kind != HARDLINK => (h.equiv, t),
                _ => {
                    notes.push(Problem::Error(format!(
                        "yaffs2: /{path}: hard link to missing object {}",
                        h.equiv
                    )));
                    continue;
                }
            }
        } else {
            (id, h)
        };
        let meta = Meta::new(target.mode, target.uid, target.gid);
        let (kind, bytes) = match target.kind {
            DIRECTORY => (EntryKind::Dir, Vec::new()),
            SYMLINK => (EntryKind::Symlink(target.alias.clone()), Vec::new()),
            SPECIAL => (EntryKind::Special, Vec::new()),
            _ => {
                let size = target.size;
                if let Err(bound) = budget.charge_file(size) {
                    notes.push(Problem::Limit(format!(
                        "yaffs2: /{path}: {size} bytes reach {bound}; skipped"
                    )));
                    continue;
                }
                match file_data(data, scan, g, target_id, size as usize) {
                    Ok(d) => (EntryKind::File, d),
                    Err(e) => {
                        notes.push(Problem::Error(format!("yaffs2: /{path}: {e}")));
                        continue;
                    }
                }
            }
        };
        entries.push(Entry {
            path,
            kind,
            data: bytes,
            meta: Some(meta),
        });
    }
}

fn file_data(
    data: &[u8],
    scan: &Scan,
    g: &Geometry,
    id: u32,
    size: usize,
) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(size);
    let mut chunk = 1u32;
    while out.len() < size {
        let want = (size - out.len()).min(g.page);
        let Some(&(at, n, _)) = scan.chunks.get(&(id, chunk)) else {
            return Err(format!("data chunk {chunk} is missing"));
        };
        let n = n.min(want);
        let bytes = data
            .get(at..at + n)
            .ok_or_else(|| format!("data chunk {chunk} at {at:#x} runs past the end"))?;
        out.extend_from_slice(bytes);
        // A chunk shorter than the page before the file's end: the rest is zeros.
        out.resize(out.len() + (want - n), 0);
        chunk += 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unpack::formats::listing;
    use crate::unpack::limits::Limits;
    use std::io::Read;

    fn fixture(name: &str) -> Vec<u8> {
        let gz = std::fs::read(format!("tests/fixtures/yaffs2/{name}.yaffs2.gz")).unwrap();
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut raw)
            .unwrap();
        raw
    }

    fn read(name: &str) -> Extracted {
        Yaffs2
            .extract(&fixture(name), &mut Budget::new(Limits::default()))
            .unwrap()
    }

    fn expected(deleted: bool) -> Vec<String> {
        let mut v: Vec<String> = [
            "bin/",
            "bin/ash 17",
            "bin/busybox 17",
            "bin/old-tool 13",
            "bin/sh -> busybox",
            "etc/",
            "etc/hostname 7",
            "etc/init.d/",
            "etc/init.d/rcS 21",
            "etc/motd 5220",
            "lib/",
            "lib/page.bin 4096",
        ]
        .map(String::from)
        .into();
        if deleted {
            v.retain(|l| !l.starts_with("bin/old-tool"));
            v.iter_mut()
                .filter(|l| l.starts_with("etc/hostname"))
                .for_each(|l| *l = "etc/hostname 10".into());
        }
        v
    }

    /// The images mkyaffs2 made (yaffs2.sh; unyaffs2 and Debian's unyaffs
    /// gave the same tree back), the OOB-less read of one, and one with a
    /// newer block: every layout gives the tree, with modes and owners.
    #[test]
    fn every_layout_gives_the_tree() {
        let motd: String = (1..=90)
            .map(|i| format!("motd line {i:02}: the quick brown fox jumps over the lazy dog\n"))
            .collect();
        for (name, detail) in [
            (
                "le-2k",
                "YAFFS2 little-endian, 2048 pages + 64-byte OOB (MTD layout), 12 objects",
            ),
            (
                "be-2k",
                "YAFFS2 big-endian, 2048 pages + 64-byte OOB (MTD layout), 12 objects",
            ),
            (
                "le-4k",
                "YAFFS2 little-endian, 4096 pages + 128-byte OOB (YAFFS layout), 12 objects",
            ),
            (
                "le-2k-nooob",
                "YAFFS2 little-endian, 2048 pages without OOB, 12 objects",
            ),
        ] {
            let data = fixture(name);
            let out = read(name);
            assert_eq!(out.detail.as_deref(), Some(detail));
            assert!(out.notes.is_empty(), "{name}: {:?}", out.notes);
            assert_eq!(out.size, data.len() as u64, "{name}");
            assert_eq!(listing(&out), expected(false), "{name}");
            let get = |p: &str| out.entries.iter().find(|e| e.path == p).unwrap();
            assert_eq!(get("etc/motd").data, motd.as_bytes(), "{name}");
            assert_eq!(get("lib/page.bin").data, vec![b'z'; 4096], "{name}");
            assert_eq!(get("bin/ash").data, b"\x7fELF fake busybox", "{name}");
            let meta = |p: &str| get(p).meta.as_ref().map(|m| (m.mode, m.uid, m.gid));
            assert_eq!(meta("etc/init.d/rcS"), Some((0o755, 0, 0)), "{name}");
            assert_eq!(meta("etc/motd"), Some((0o644, 1000, 1000)), "{name}");
        }
    }

    #[test]
    fn the_newest_sequence_number_wins() {
        let out = read("le-2k-rewritten");
        assert_eq!(
            out.detail.as_deref(),
            Some(
                "YAFFS2 little-endian, 2048 pages + 64-byte OOB (MTD layout), 12 objects, 2 older versions superseded"
            )
        );
        assert!(out.notes.is_empty(), "{:?}", out.notes);
        assert_eq!(listing(&out), expected(true));
        let hostname = out
            .entries
            .iter()
            .find(|e| e.path == "etc/hostname")
            .unwrap();
        assert_eq!(hostname.data, b"gateway-2\n");
    }

    /// Found by the fuzzer (fuzz/RESULTS.md): in a dump without OOB, a file
    /// header declaring a size far past the end made one chunk entry per
    /// declared page (2 GB of map for a 32 KB input). Only the pages the
    /// dump holds are taken; the file is reported short.
    #[test]
    fn a_file_declaring_more_than_the_dump_holds_costs_only_the_dump() {
        let mut data = fixture("le-2k-nooob");
        let motd = (0..data.len() / 2048)
            .map(|i| i * 2048)
            .find(|&at| data[at + 10..].starts_with(b"motd\0"))
            .expect("etc/motd header page");
        data[motd + 292..motd + 296].copy_from_slice(&u32::MAX.to_le_bytes());
        data[motd + 496..motd + 500].copy_from_slice(&0x00ff_ffffu32.to_le_bytes());
        let limits = Limits {
            max_total_bytes: 1 << 20,
            ..Limits::default()
        };
        let out = Yaffs2
            .extract(&data, &mut Budget::new(limits.clone()))
            .unwrap();
        assert!(out.entries.iter().all(|e| e.path != "etc/motd"));
        assert!(
            out.notes.iter().any(
                |n| matches!(n, Problem::Error(m) | Problem::Limit(m) if m.contains("/etc/motd"))
            ),
            "{:?}",
            out.notes
        );
        // The fuzzer's own input, kept as it was found.
        let found = fixture("fuzz-oom-huge-size");
        let _ = Yaffs2.extract(&found, &mut Budget::new(limits));
    }

    #[test]
    fn cuts_and_flips_never_panic() {
        let limits = Limits {
            max_total_bytes: 1 << 20,
            ..Limits::default()
        };
        for name in ["le-2k", "be-2k", "le-2k-nooob"] {
            let data = fixture(name);
            for len in (0..data.len()).step_by(97) {
                let _ = Yaffs2.extract(&data[..len], &mut Budget::new(limits.clone()));
            }
            let mut state = 0x9e37_79b9_7f4a_7c15u64;
            for _ in 0..400 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let mut bad = data.clone();
                let at = (state % data.len() as u64) as usize;
                bad[at] ^= 1 << (state >> 61);
                let _ = Yaffs2.extract(&bad, &mut Budget::new(limits.clone()));
            }
        }
    }
}
