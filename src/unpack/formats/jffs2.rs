//! JFFS2, the log-structured flash file system of NOR-flash routers, either
//! endianness. An image is a sequence of 4-byte-aligned nodes, each starting
//! with the magic `0x1985`, a node type, a length and a header CRC; erased
//! flash (`0xFF`), cleanmarkers, padding and summary nodes sit between them.
//!
//! Every CRC is checked (header, node, data or name); a bad node is skipped
//! and counted in a note. Directory entries and inode data are versioned:
//! for one name in one directory the highest version wins (an `ino` of 0 is
//! an unlink), and an inode's data nodes are applied in version order and cut
//! at the newest node's size. Paths are built by walking up directory entries
//! to the root (inode 1) with a visited set, so a directory cycle or an entry
//! whose parent is missing becomes a note, never a loop.
//!
//! Node payload codecs: none, zero, zlib, rtime, lzo (`lzokay`), and the two
//! LZMA variants out of tree kernels use: OpenWrt's (type 8, raw LZMA with
//! lc=0 lp=0 pb=0 and an 8 KiB dictionary, no properties stored) and the
//! older 0x15 one (5 bytes of LZMA properties before the data).
//! Layout from the kernel's `include/uapi/linux/jffs2.h`.

use super::{Entry, Extracted, Format, Problem, Rejection};
use crate::unpack::compress;
use crate::unpack::limits::Budget;
use crate::unpack::tree::{EntryKind, Meta};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;

pub struct Jffs2;

const MAGIC: u16 = 0x1985;
/// Cleared in a node type when the node was marked obsolete in place.
const NODE_ACCURATE: u16 = 0x2000;
const COMPAT_MASK: u16 = 0xc000;
const FEATURE_INCOMPAT: u16 = 0xc000;
const DIRENT: u16 = 0xe001;
const INODE: u16 = 0xe002;
const CLEANMARKER: u16 = 0x2003;
const PADDING: u16 = 0x2004;
const SUMMARY: u16 = 0x2006;
const XATTR: u16 = 0xe008;
const XREF: u16 = 0xe009;

const HEADER_LEN: usize = 12;
const DIRENT_LEN: usize = 40;
const INODE_LEN: usize = 68;
const ROOT_INO: u32 = 1;
/// Longest directory path built (Linux's `PATH_MAX`).
const PATH_MAX: usize = 4096;

/// Bytes of non-JFFS2 data (not erased flash) after the last good node at
/// which the file system is taken to have ended.
const MAX_GAP: usize = 64 * 1024;
/// Largest uncompressed payload of one node. The kernel writes at most a page
/// (4-64 KiB); `mkfs.jffs2 -s` allows more. Zero (hole) nodes are exempt.
const MAX_NODE_DATA: u32 = 1 << 20;

const S_IFMT: u32 = 0o170000;
const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;
/// `DT_DIR` in a directory entry's type byte.
const DT_DIR: u8 = 4;

/// Node payload compression ids (`JFFS2_COMPR_*`).
const COMPR_NONE: u8 = 0x00;
const COMPR_ZERO: u8 = 0x01;
const COMPR_RTIME: u8 = 0x02;
const COMPR_ZLIB: u8 = 0x06;
const COMPR_LZO: u8 = 0x07;
const COMPR_LZMA: u8 = 0x08;
const COMPR_LZMA_0X15: u8 = 0x15;

/// The kernel's CRC: CRC-32 (reflected, 0xEDB88320) from 0, no final inversion.
pub fn crc(bytes: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new_with_initial(0xffff_ffff);
    h.update(bytes);
    !h.finalize()
}

/// Field reader for one endianness.
#[derive(Clone, Copy)]
struct Endian {
    big: bool,
}

impl Endian {
    fn u16(self, d: &[u8], at: usize) -> u16 {
        let b = [d[at], d[at + 1]];
        if self.big {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        }
    }

    fn u32(self, d: &[u8], at: usize) -> u32 {
        let b = [d[at], d[at + 1], d[at + 2], d[at + 3]];
        if self.big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    }
}

/// A directory entry node.
#[derive(Debug, Clone)]
struct Dirent {
    version: u32,
    ino: u32,
    kind: u8,
}

/// One inode (data) node; `data` is the range of its payload in the layer.
#[derive(Debug, Clone)]
struct InodeNode {
    at: usize,
    version: u32,
    mode: u32,
    uid: u16,
    gid: u16,
    isize: u32,
    offset: u32,
    dsize: u32,
    compr: u8,
    data: std::ops::Range<usize>,
}

/// Counts of one kind of skipped node, reported as one note.
#[derive(Default)]
struct Skipped {
    count: usize,
    first: usize,
}

impl Skipped {
    fn add(&mut self, at: usize) {
        if self.count == 0 {
            self.first = at;
        }
        self.count += 1;
    }

    fn note(&self, what: &str, notes: &mut Vec<Problem>) {
        if self.count > 0 {
            notes.push(Problem::Error(format!(
                "jffs2: {} {what} skipped (first at {:#x})",
                self.count, self.first
            )));
        }
    }
}

/// Everything the node scan found.
#[derive(Default)]
struct Scan {
    /// End of the last good node: the layer's size.
    end: usize,
    nodes: usize,
    dirents: HashMap<(u32, Vec<u8>), Dirent>,
    inodes: HashMap<u32, Vec<InodeNode>>,
    compressions: HashMap<u8, usize>,
    bad_header: Skipped,
    bad_node: Skipped,
    bad_data: Skipped,
    bad_name: Skipped,
    malformed: Skipped,
    unknown_incompat: Skipped,
    truncated: Option<usize>,
}

impl Format for Jffs2 {
    fn name(&self) -> &'static str {
        "jffs2"
    }

    /// The magic followed by the types a file system can start with (dirent,
    /// inode, cleanmarker, padding, summary), in both byte orders: a bare
    /// two-byte magic would match far too often by chance.
    fn magics(&self) -> &'static [&'static [u8]] {
        &[
            &[0x85, 0x19, 0x01, 0xe0],
            &[0x85, 0x19, 0x02, 0xe0],
            &[0x85, 0x19, 0x03, 0x20],
            &[0x85, 0x19, 0x04, 0x20],
            &[0x85, 0x19, 0x06, 0x20],
            &[0x19, 0x85, 0xe0, 0x01],
            &[0x19, 0x85, 0xe0, 0x02],
            &[0x19, 0x85, 0x20, 0x03],
            &[0x19, 0x85, 0x20, 0x04],
            &[0x19, 0x85, 0x20, 0x06],
        ]
    }

    fn extract(&self, data: &[u8], budget: &mut Budget) -> Result<Extracted, Rejection> {
        let e = match data.get(..2) {
            Some([0x85, 0x19]) => Endian { big: false },
            Some([0x19, 0x85]) => Endian { big: true },
            _ => return Err(Rejection::NotThisFormat),
        };
        // The first node must be whole and sound: a chance (or hostile) header
        // costs one check here, never a scan.
        if !first_node_is_sound(data, e) {
            return Err(Rejection::NotThisFormat);
        }
        let scan = scan(data, e);
        let mut notes = Vec::new();
        scan.bad_header
            .note("node headers with a bad CRC", &mut notes);
        scan.bad_node.note("nodes with a bad node CRC", &mut notes);
        scan.bad_data
            .note("inode nodes with a bad data CRC", &mut notes);
        scan.bad_name
            .note("directory entries with a bad name CRC", &mut notes);
        scan.malformed
            .note("malformed nodes (impossible lengths or names)", &mut notes);
        scan.unknown_incompat
            .note("nodes of an unknown incompatible type", &mut notes);
        if let Some(at) = scan.truncated {
            notes.push(Problem::Error(format!(
                "jffs2: node at {at:#x} runs past the end of the data (truncated image)"
            )));
        }
        let entries = build(data, &scan, budget, &mut notes);
        let mut codecs: Vec<(&str, usize)> = scan
            .compressions
            .iter()
            .map(|(&c, &n)| (compression_name(c), n))
            .collect();
        codecs.sort();
        let codecs: Vec<String> = codecs.iter().map(|(c, n)| format!("{c} {n}")).collect();
        Ok(Extracted {
            size: scan.end as u64,
            entries,
            filesystem: true,
            scanned_in_place: false,
            detail: Some(format!(
                "jffs2 {}, {} nodes, data nodes by compression: {}",
                if e.big { "big-endian" } else { "little-endian" },
                scan.nodes,
                if codecs.is_empty() {
                    "-".to_string()
                } else {
                    codecs.join(", ")
                }
            )),
            notes,
        })
    }
}

fn compression_name(c: u8) -> &'static str {
    match c {
        COMPR_NONE => "none",
        COMPR_ZERO => "zero",
        COMPR_RTIME => "rtime",
        0x03 => "rubinmips",
        0x04 => "copy",
        0x05 => "dynrubin",
        COMPR_ZLIB => "zlib",
        COMPR_LZO => "lzo",
        COMPR_LZMA => "lzma",
        COMPR_LZMA_0X15 => "lzma-0x15",
        _ => "unknown",
    }
}

/// The node at offset 0: header CRC, a length inside the data, and for a
/// directory entry or an inode node, its node CRC.
fn first_node_is_sound(data: &[u8], e: Endian) -> bool {
    if data.len() < HEADER_LEN || crc(&data[..8]) != e.u32(data, 8) {
        return false;
    }
    let totlen = e.u32(data, 4) as usize;
    let Some(node) = data.get(..totlen).filter(|_| totlen >= HEADER_LEN) else {
        return false;
    };
    match e.u16(data, 2) {
        DIRENT => node.len() >= DIRENT_LEN && crc(&node[..32]) == e.u32(node, 32),
        INODE => node.len() >= INODE_LEN && crc(&node[..60]) == e.u32(node, 64),
        _ => true,
    }
}

/// Walks the nodes from offset 0 until the data ends or stops looking like
/// JFFS2: more than [`MAX_GAP`] bytes past the last good node without another
/// (erased flash excepted).
fn scan(data: &[u8], e: Endian) -> Scan {
    let mut s = Scan::default();
    let mut pos = 0usize;
    // Bytes of non-node data since the last good node, and bad headers met
    // there: past the file system's end those are chance magics, not damage.
    let mut junk = 0usize;
    let mut bad_headers: Vec<usize> = Vec::new();
    while pos + HEADER_LEN <= data.len() {
        let word = &data[pos..pos + 4];
        if word == [0xff; 4] {
            // Erased flash: skip the whole run.
            pos += 4;
            while pos + 4 <= data.len() && data[pos..pos + 4] == [0xff; 4] {
                pos += 4;
            }
            continue;
        }
        if junk > MAX_GAP {
            break;
        }
        if e.u16(data, pos) != MAGIC {
            junk += 4;
            pos += 4;
            continue;
        }
        let nodetype = e.u16(data, pos + 2);
        let totlen = e.u32(data, pos + 4) as usize;
        if crc(&data[pos..pos + 8]) != e.u32(data, pos + 8) {
            bad_headers.push(pos);
            junk += 4;
            pos += 4;
            continue;
        }
        if totlen < HEADER_LEN {
            s.malformed.add(pos);
            junk += 4;
            pos += 4;
            continue;
        }
        let Some(node) = data.get(pos..pos.saturating_add(totlen)) else {
            s.truncated = Some(pos);
            junk += 4;
            pos += 4;
            continue;
        };
        s.nodes += 1;
        if nodetype & NODE_ACCURATE == 0 {
            // Obsoleted in place: its content was superseded.
        } else {
            match nodetype {
                DIRENT => dirent(node, pos, e, &mut s),
                INODE => inode(node, pos, e, &mut s),
                CLEANMARKER | PADDING | SUMMARY | XATTR | XREF => {}
                t if t & COMPAT_MASK == FEATURE_INCOMPAT => s.unknown_incompat.add(pos),
                _ => {} // unknown but compatible: may be ignored
            }
        }
        s.end = pos + totlen;
        junk = 0;
        pos = (pos + totlen).div_ceil(4) * 4;
    }
    for at in bad_headers.into_iter().filter(|&at| at < s.end) {
        s.bad_header.add(at);
    }
    s
}

fn dirent(node: &[u8], at: usize, e: Endian, s: &mut Scan) {
    if node.len() < DIRENT_LEN {
        return s.malformed.add(at);
    }
    if crc(&node[..32]) != e.u32(node, 32) {
        return s.bad_node.add(at);
    }
    let nsize = node[28] as usize;
    let Some(name) = node.get(DIRENT_LEN..DIRENT_LEN + nsize) else {
        return s.malformed.add(at);
    };
    if crc(name) != e.u32(node, 36) {
        return s.bad_name.add(at);
    }
    // A name is one path component: nothing the kernel would refuse to create.
    if name.is_empty() || name == b"." || name == b".." || name.contains(&b'/') || name.contains(&0)
    {
        return s.malformed.add(at);
    }
    let pino = e.u32(node, 12);
    let d = Dirent {
        version: e.u32(node, 16),
        ino: e.u32(node, 20),
        kind: node[29],
    };
    let slot = s.dirents.entry((pino, name.to_vec())).or_insert(d.clone());
    if d.version >= slot.version {
        *slot = d;
    }
}

fn inode(node: &[u8], at: usize, e: Endian, s: &mut Scan) {
    if node.len() < INODE_LEN {
        return s.malformed.add(at);
    }
    if crc(&node[..60]) != e.u32(node, 64) {
        return s.bad_node.add(at);
    }
    let csize = e.u32(node, 48) as usize;
    let Some(payload) = node.get(INODE_LEN..INODE_LEN.saturating_add(csize)) else {
        return s.malformed.add(at);
    };
    if crc(payload) != e.u32(node, 60) {
        return s.bad_data.add(at);
    }
    let n = InodeNode {
        at,
        version: e.u32(node, 16),
        mode: e.u32(node, 20),
        uid: e.u16(node, 24),
        gid: e.u16(node, 26),
        isize: e.u32(node, 28),
        offset: e.u32(node, 44),
        dsize: e.u32(node, 52),
        compr: node[56],
        data: at + INODE_LEN..at + INODE_LEN + csize,
    };
    if n.dsize > 0 {
        *s.compressions.entry(n.compr).or_default() += 1;
    }
    s.inodes.entry(e.u32(node, 12)).or_default().push(n);
}

/// Resolves directory paths and turns the newest state of every reachable
/// inode into entries, within the budget.
fn build(data: &[u8], scan: &Scan, budget: &mut Budget, notes: &mut Vec<Problem>) -> Vec<Entry> {
    let mut inodes: HashMap<u32, Vec<&InodeNode>> = HashMap::new();
    for (&ino, nodes) in &scan.inodes {
        let mut v: Vec<&InodeNode> = nodes.iter().collect();
        v.sort_by_key(|n| (n.version, n.at));
        inodes.insert(ino, v);
    }
    let mode_of = |ino: u32, kind: u8| match inodes.get(&ino).and_then(|v| v.last()) {
        Some(n) => Some(n.mode),
        None if kind == DT_DIR => Some(S_IFDIR | 0o755),
        None => None,
    };
    // Live links: (parent, name) -> inode, unlinks dropped; stable order.
    let mut links: Vec<(u32, &[u8], &Dirent)> = scan
        .dirents
        .iter()
        .filter(|(_, d)| d.ino != 0)
        .map(|((pino, name), d)| (*pino, name.as_slice(), d))
        .collect();
    links.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));

    // Each directory's link to its parent (a directory has one; the newest wins).
    let mut parent: HashMap<u32, (u32, &[u8], u32)> = HashMap::new();
    for &(pino, name, d) in &links {
        if mode_of(d.ino, d.kind).is_some_and(|m| m & S_IFMT == S_IFDIR) {
            let slot = parent.entry(d.ino).or_insert((pino, name, d.version));
            if d.version > slot.2 {
                *slot = (pino, name, d.version);
            }
        }
    }
    let mut paths: HashMap<u32, Option<String>> = HashMap::new();
    paths.insert(ROOT_INO, Some(String::new()));
    let mut cycles = 0usize;

    let mut entries: Vec<Entry> = Vec::new();
    // The entry that holds each inode's bytes, for its other hard links.
    let mut files: HashMap<u32, usize> = HashMap::new();
    let mut orphans: Vec<String> = Vec::new();
    let mut missing_inode = 0usize;
    let mut limited = None;
    for &(pino, name, d) in &links {
        let name_str = String::from_utf8_lossy(name);
        let Some(dir) = dir_path(pino, &parent, &mut paths, &mut cycles, budget) else {
            orphans.push(name_str.into_owned());
            continue;
        };
        if let Some(&(p, n, _)) = parent.get(&d.ino) {
            // A second link to a directory is not its path: skip it.
            if (p, n) != (pino, name) {
                continue;
            }
        }
        let path = format!("{dir}/{name_str}");
        let Some(mode) = mode_of(d.ino, d.kind) else {
            missing_inode += 1;
            continue;
        };
        if let Err(bound) = budget.entry() {
            limited = Some(bound);
            break;
        }
        let nodes = inodes.get(&d.ino).map(Vec::as_slice).unwrap_or(&[]);
        let (kind, bytes) = match mode & S_IFMT {
            S_IFDIR => (EntryKind::Dir, Vec::new()),
            S_IFLNK => {
                let target = content(data, nodes, &path, budget, notes).unwrap_or_default();
                (
                    EntryKind::Symlink(String::from_utf8_lossy(&target).into_owned()),
                    Vec::new(),
                )
            }
            S_IFREG => {
                // Hard links share one inode: read it once, copy per link.
                let bytes = match files.get(&d.ino) {
                    Some(&at) => {
                        let b = &entries[at].data;
                        if let Err(bound) = budget.charge(b.len() as u64) {
                            notes.push(Problem::Limit(format!(
                                "{path}: hard link copy of {} bytes reaches {bound}; skipped",
                                b.len()
                            )));
                            continue;
                        }
                        b.clone()
                    }
                    None => match content(data, nodes, &path, budget, notes) {
                        Some(b) => {
                            files.insert(d.ino, entries.len());
                            b
                        }
                        None => continue,
                    },
                };
                (EntryKind::File, bytes)
            }
            _ => (EntryKind::Special, Vec::new()),
        };
        let owner = nodes
            .last()
            .map(|n| (u32::from(n.uid), u32::from(n.gid)))
            .unwrap_or((0, 0));
        entries.push(Entry {
            path: path.trim_start_matches('/').to_string(),
            kind,
            data: bytes,
            meta: Some(Meta::new(mode, owner.0, owner.1)),
        });
    }
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    if let Some(bound) = limited {
        notes.push(Problem::Limit(format!(
            "jffs2: {bound} reached; the rest of its entries were skipped"
        )));
    }
    if !orphans.is_empty() {
        orphans.sort();
        let shown: Vec<&str> = orphans.iter().take(5).map(String::as_str).collect();
        notes.push(Problem::Error(format!(
            "jffs2: {} entries are not reachable from the root directory{} and were skipped: {}{}",
            orphans.len(),
            if cycles > 0 {
                " (directory cycle or missing parent)"
            } else {
                " (missing parent directory, or a path past PATH_MAX or the size bound)"
            },
            shown.join(", "),
            if orphans.len() > shown.len() {
                ", ..."
            } else {
                ""
            }
        )));
    }
    if missing_inode > 0 {
        notes.push(Problem::Error(format!(
            "jffs2: {missing_inode} directory entries name an inode with no inode node; skipped"
        )));
    }
    entries
}

/// The path of directory `ino` (`""` for the root), or `None` when walking up
/// does not reach the root (a missing parent or a cycle), the path is longer
/// than `PATH_MAX`, or its bytes would overdraw the budget (deep nesting makes
/// paths grow with the square of the depth). Memoised.
fn dir_path(
    ino: u32,
    parent: &HashMap<u32, (u32, &[u8], u32)>,
    paths: &mut HashMap<u32, Option<String>>,
    cycles: &mut usize,
    budget: &mut Budget,
) -> Option<String> {
    let mut chain: Vec<u32> = Vec::new();
    let mut seen: HashSet<u32> = HashSet::new();
    let mut cur = ino;
    let base = loop {
        if let Some(known) = paths.get(&cur) {
            break known.clone();
        }
        if !seen.insert(cur) {
            *cycles += 1;
            break None;
        }
        chain.push(cur);
        match parent.get(&cur) {
            Some(&(pino, _, _)) => cur = pino,
            None => break None,
        }
    };
    // Fill in the chain from the top down.
    let mut acc = base;
    for &dir in chain.iter().rev() {
        acc = acc.and_then(|p| {
            let name = parent.get(&dir).map(|&(_, n, _)| n).unwrap_or_default();
            let path = format!("{p}/{}", String::from_utf8_lossy(name));
            (path.len() <= PATH_MAX && budget.take(path.len() as u64)).then_some(path)
        });
        paths.insert(dir, acc.clone());
    }
    paths.get(&ino).cloned().flatten()
}

/// Byte ranges of a file already supplied by newer nodes (disjoint, by start).
#[derive(Default)]
struct Covered(BTreeMap<usize, usize>);

impl Covered {
    /// The parts of `start..end` not covered yet; covers all of it afterwards.
    fn claim(&mut self, start: usize, end: usize) -> Vec<Range<usize>> {
        let from = self
            .0
            .range(..=start)
            .next_back()
            .map_or(start, |(&a, _)| a);
        let overlapping: Vec<(usize, usize)> = self
            .0
            .range(from..end)
            .map(|(&a, &b)| (a, b))
            .filter(|&(_, b)| b > start)
            .collect();
        let (mut gaps, mut at) = (Vec::new(), start);
        let (mut lo, mut hi) = (start, end);
        for (a, b) in overlapping {
            if a > at {
                gaps.push(at..a);
            }
            at = at.max(b);
            lo = lo.min(a);
            hi = hi.max(b);
            self.0.remove(&a);
        }
        if at < end {
            gaps.push(at..end);
        }
        self.0.insert(lo, hi);
        gaps
    }
}

/// The bytes of an inode: for every byte the newest data node that covers it
/// (so nodes are read newest first and only where still visible), cut at the
/// newest node's size; bytes no node covers are zeros (holes). Decoding work
/// that a newer node hides is charged to the budget, so stacked rewrites of one
/// range cannot make decoding unbounded. `None` (with a note) at a bound.
fn content(
    data: &[u8],
    nodes: &[&InodeNode],
    path: &str,
    budget: &mut Budget,
    notes: &mut Vec<Problem>,
) -> Option<Vec<u8>> {
    let Some(newest) = nodes.last() else {
        return Some(Vec::new());
    };
    let size = u64::from(newest.isize);
    let stored: u64 = nodes
        .iter()
        .map(|n| (n.data.len() + INODE_LEN) as u64)
        .sum();
    let bound = if size > budget.output_cap(stored) {
        Err(budget.output_cap_cause(stored))
    } else {
        budget.charge(size).map_err(|b| b.to_string())
    };
    if let Err(bound) = bound {
        notes.push(Problem::Limit(format!(
            "{path}: {size} bytes from {stored} stored bytes reach {bound}; skipped"
        )));
        return None;
    }
    let mut out = vec![0u8; size as usize];
    let mut covered = Covered::default();
    let mut failed = Skipped::default();
    let mut unsupported: Option<u8> = None;
    for n in nodes.iter().rev() {
        let start = n.offset as usize;
        if n.dsize == 0 || start >= out.len() {
            continue;
        }
        let end = start.saturating_add(n.dsize as usize).min(out.len());
        let gaps = covered.claim(start, end);
        // A hole node's visible part is zeros already.
        if gaps.is_empty() || n.compr == COMPR_ZERO {
            continue;
        }
        if n.dsize > MAX_NODE_DATA {
            failed.add(n.at);
            continue;
        }
        let visible: usize = gaps.iter().map(|g| g.len()).sum();
        if !budget.take(u64::from(n.dsize) - visible as u64) {
            notes.push(Problem::Limit(format!(
                "{path}: total decompressed size bound reached while reading overwritten data nodes; the rest are zeros"
            )));
            break;
        }
        match decode(n.compr, &data[n.data.clone()], n.dsize as usize) {
            Ok(bytes) => {
                for g in gaps {
                    let (from, to) = (g.start - start, (g.end - start).min(bytes.len()));
                    if from < to {
                        out[g.start..g.start + (to - from)].copy_from_slice(&bytes[from..to]);
                    }
                }
            }
            Err(Some(msg)) => {
                if failed.count == 0 {
                    notes.push(Problem::Error(format!(
                        "{path}: data node at {:#x} ({}) unreadable: {msg}",
                        n.at,
                        compression_name(n.compr)
                    )));
                }
                failed.add(n.at);
            }
            Err(None) => unsupported = Some(n.compr),
        }
    }
    if failed.count > 1 {
        notes.push(Problem::Error(format!(
            "{path}: {} data nodes unreadable in all (first at {:#x}); their ranges are zeros",
            failed.count, failed.first
        )));
    }
    if let Some(c) = unsupported {
        notes.push(Problem::Error(format!(
            "{path}: compression {} ({c:#x}) is not supported; those ranges are zeros",
            compression_name(c)
        )));
    }
    Some(out)
}

/// Decodes one node payload to `dsize` bytes. `Err(None)`: codec not supported.
fn decode(compr: u8, payload: &[u8], dsize: usize) -> Result<Vec<u8>, Option<String>> {
    let exact = |d: compress::Decoded| -> Result<Vec<u8>, Option<String>> {
        if let Some(e) = d.error {
            return Err(Some(e));
        }
        if d.data.len() != dsize {
            return Err(Some(format!(
                "decoded {} bytes, node says {dsize}",
                d.data.len()
            )));
        }
        Ok(d.data)
    };
    match compr {
        COMPR_NONE => {
            if payload.len() < dsize {
                return Err(Some(format!(
                    "{} stored bytes, node says {dsize}",
                    payload.len()
                )));
            }
            Ok(payload[..dsize].to_vec())
        }
        COMPR_RTIME => rtime(payload, dsize).map_err(Some),
        COMPR_ZLIB => exact(compress::zlib(payload, dsize as u64)),
        COMPR_LZO => {
            let mut out = vec![0u8; dsize];
            match lzokay::decompress::decompress(payload, &mut out) {
                Ok(n) if n == dsize => Ok(out),
                Ok(n) => Err(Some(format!("decoded {n} bytes, node says {dsize}"))),
                Err(e) => Err(Some(format!("lzo: {e:?}"))),
            }
        }
        // OpenWrt: lc=0 lp=0 pb=0 (properties byte 0), 8 KiB dictionary.
        COMPR_LZMA => exact(compress::lzma_known_size(0, 0x2000, payload, dsize)),
        COMPR_LZMA_0X15 => {
            if payload.len() < 5 {
                return Err(Some("shorter than its LZMA properties".into()));
            }
            let dict = u32::from_le_bytes([payload[1], payload[2], payload[3], payload[4]]);
            exact(compress::lzma_known_size(
                payload[0],
                dict,
                &payload[5..],
                dsize,
            ))
        }
        _ => Err(None),
    }
}

/// The JFFS2 "rtime" decoder: pairs of (byte, repeat count); after each byte,
/// `repeat` bytes are copied from just after where that byte value last
/// appeared in the output.
pub fn rtime(input: &[u8], dsize: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(dsize);
    let mut last = [0usize; 256];
    let mut pairs = input.chunks_exact(2);
    while out.len() < dsize {
        let Some(&[value, repeat]) = pairs.next() else {
            return Err(format!(
                "rtime input ends after {} of {dsize} bytes",
                out.len()
            ));
        };
        out.push(value);
        let mut from = last[value as usize];
        last[value as usize] = out.len();
        let repeat = repeat as usize;
        if out.len() + repeat > dsize {
            return Err(format!("rtime repeat runs past the node's {dsize} bytes"));
        }
        // `from` is always behind the end; the copy may overlap what it
        // writes (as the kernel's byte-wise loop does), so go in whole pieces.
        let mut left = repeat;
        while left > 0 {
            let n = left.min(out.len() - from);
            out.extend_from_within(from..from + n);
            from += n;
            left -= n;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unpack::limits::Limits;

    /// A little JFFS2 writer for the cases `mkfs.jffs2` cannot make.
    struct Writer {
        big: bool,
        out: Vec<u8>,
    }

    impl Writer {
        fn new(big: bool) -> Writer {
            Writer {
                big,
                out: Vec::new(),
            }
        }

        fn u16(&self, v: u16) -> [u8; 2] {
            if self.big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        }

        fn u32(&self, v: u32) -> [u8; 4] {
            if self.big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        }

        fn node(&mut self, nodetype: u16, body: &[u8]) -> usize {
            let at = self.out.len();
            let mut n = Vec::new();
            n.extend(self.u16(MAGIC));
            n.extend(self.u16(nodetype));
            n.extend(self.u32((HEADER_LEN + body.len()) as u32));
            let c = crc(&n);
            n.extend(self.u32(c));
            n.extend_from_slice(body);
            self.out.extend(n);
            while !self.out.len().is_multiple_of(4) {
                self.out.push(0);
            }
            at
        }

        fn dirent(&mut self, pino: u32, version: u32, ino: u32, name: &str, kind: u8) -> usize {
            let mut head = Vec::new();
            head.extend(self.u16(MAGIC));
            head.extend(self.u16(DIRENT));
            head.extend(self.u32((DIRENT_LEN + name.len()) as u32));
            let c = crc(&head);
            head.extend(self.u32(c));
            for v in [pino, version, ino, 0] {
                head.extend(self.u32(v));
            }
            head.extend([name.len() as u8, kind, 0, 0]);
            let c = crc(&head);
            head.extend(self.u32(c));
            head.extend(self.u32(crc(name.as_bytes())));
            head.extend_from_slice(name.as_bytes());
            self.node(DIRENT, &head[HEADER_LEN..])
        }

        #[allow(clippy::too_many_arguments)]
        fn inode(
            &mut self,
            ino: u32,
            version: u32,
            mode: u32,
            isize: u32,
            offset: u32,
            compr: u8,
            dsize: u32,
            payload: &[u8],
        ) -> usize {
            let mut head = Vec::new();
            head.extend(self.u16(MAGIC));
            head.extend(self.u16(INODE));
            head.extend(self.u32((INODE_LEN + payload.len()) as u32));
            let c = crc(&head);
            head.extend(self.u32(c));
            head.extend(self.u32(ino));
            head.extend(self.u32(version));
            head.extend(self.u32(mode));
            head.extend(self.u16(0));
            head.extend(self.u16(0));
            head.extend(self.u32(isize));
            for v in [0, 0, 0, offset, payload.len() as u32, dsize] {
                head.extend(self.u32(v));
            }
            head.extend([compr, 0, 0, 0]);
            head.extend(self.u32(crc(payload)));
            let c = crc(&head[..60]);
            head.extend(self.u32(c));
            head.extend_from_slice(payload);
            self.node(INODE, &head[HEADER_LEN..])
        }

        fn file(&mut self, ino: u32, version: u32, bytes: &[u8]) {
            let n = bytes.len() as u32;
            self.inode(ino, version, S_IFREG | 0o644, n, 0, COMPR_NONE, n, bytes);
        }

        fn dir(&mut self, ino: u32) {
            self.inode(ino, 1, S_IFDIR | 0o755, 0, 0, COMPR_NONE, 0, b"");
        }
    }

    fn run(image: &[u8]) -> Extracted {
        Jffs2
            .extract(image, &mut Budget::new(Limits::default()))
            .unwrap()
    }

    fn errors(out: &Extracted) -> String {
        out.notes
            .iter()
            .map(|n| format!("{n:?}"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn crc_is_the_kernels() {
        // mtd-utils' crc32(0, "123456789"): no initial or final inversion
        // (Python: zlib.crc32(b"123456789", 0xffffffff) ^ 0xffffffff).
        assert_eq!(crc(b"123456789"), 0x2dfd_2d88);
        assert_eq!(crc(b""), 0);
    }

    #[test]
    fn rtime_round_trips_the_kernels_encoding() {
        // Encoded by hand with the kernel's algorithm: "abcabcabcx".
        // a,0 b,0 c,0 a,5 (copies "bcabc") x,0
        let enc = [b'a', 0, b'b', 0, b'c', 0, b'a', 5, b'x', 0];
        assert_eq!(rtime(&enc, 10).unwrap(), b"abcabcabcx");
        // An overlapping copy: "z" then 6 copies starting right behind it.
        assert_eq!(rtime(&[b'z', 0, b'z', 6], 8).unwrap(), b"zzzzzzzz");
        assert!(rtime(&enc, 12).is_err(), "input ends early");
        assert!(rtime(&[b'a', 0, b'a', 200], 10).is_err(), "repeat overruns");
    }

    #[test]
    fn highest_version_wins_for_entries_and_data() {
        for big in [false, true] {
            let mut w = Writer::new(big);
            w.node(CLEANMARKER, b"");
            w.dirent(1, 1, 2, "etc", DT_DIR);
            w.dir(2);
            w.dirent(2, 2, 3, "version", 8);
            w.file(3, 1, b"old contents\n");
            w.file(3, 5, b"new\n");
            // Renamed: the old name is unlinked by a newer dirent with ino 0.
            w.dirent(1, 3, 4, "tmpname", 8);
            w.file(4, 1, b"renamed\n");
            w.dirent(1, 4, 0, "tmpname", 0);
            w.dirent(1, 5, 4, "final", 8);
            // Erase-block padding, then more nodes.
            w.out.extend([0xff; 64]);
            // An erased block larger than the gap bound, then the last nodes.
            w.out.extend([0xff; 3 * MAX_GAP]);
            w.dirent(2, 9, 5, "sh", 10);
            w.inode(5, 1, S_IFLNK | 0o777, 7, 0, COMPR_NONE, 7, b"busybox");
            let fs_len = w.out.len();
            // Other data after the file system, with a chance magic in it.
            w.out.extend([0x55; 40]);
            w.out.extend(w.u16(MAGIC));
            w.out.extend([0x55; 40]);
            let out = run(&w.out);
            assert!(out.notes.is_empty(), "{}", errors(&out));
            assert_eq!(
                super::super::listing(&out),
                ["etc/", "etc/sh -> busybox", "etc/version 4", "final 8",]
            );
            let v = out
                .entries
                .iter()
                .find(|e| e.path == "etc/version")
                .unwrap();
            // The newest node's size cuts the older, longer data.
            assert_eq!(v.data, b"new\n");
            // The layer ends where the last node ends (before its alignment padding).
            assert_eq!(out.size.div_ceil(4) * 4, fs_len as u64);
        }
    }

    #[test]
    fn bad_crcs_are_skipped_with_notes() {
        let mut w = Writer::new(false);
        w.dirent(1, 1, 2, "a", 8);
        w.file(2, 1, b"kept\n");
        let bad_data = w.dirent(1, 1, 3, "b", 8);
        let inode_b = w.out.len();
        w.file(3, 1, b"corrupted payload\n");
        w.out[inode_b + INODE_LEN] ^= 1; // data CRC no longer matches
        w.out[bad_data + 36] ^= 1; // name CRC no longer matches
        let bad_hdr = w.out.len();
        w.dirent(1, 1, 4, "c", 8);
        w.out[bad_hdr + 4] ^= 0x40; // header CRC
        // Reported because a good node follows: a bad header past the last
        // good node is indistinguishable from a chance magic after the image.
        w.node(CLEANMARKER, b"");
        let out = run(&w.out);
        assert_eq!(super::super::listing(&out), ["a 5"]);
        let n = errors(&out);
        assert!(n.contains("1 node headers with a bad CRC skipped"), "{n}");
        assert!(n.contains("1 inode nodes with a bad data CRC"), "{n}");
        assert!(n.contains("1 directory entries with a bad name CRC"), "{n}");
    }

    #[test]
    fn cycles_and_orphans_end_in_a_note() {
        let mut w = Writer::new(false);
        // 2 "a" lives in 3 "b", which lives in 2: never reaches the root.
        w.dirent(3, 1, 2, "a", DT_DIR);
        w.dir(2);
        w.dirent(2, 1, 3, "b", DT_DIR);
        w.dir(3);
        w.dirent(2, 1, 4, "inside", 8);
        w.file(4, 1, b"x");
        // Parent 99 does not exist.
        w.dirent(99, 1, 5, "lost", 8);
        w.file(5, 1, b"y");
        // Inode 6 has data but no name (a deleted file): silently not listed.
        w.file(6, 1, b"deleted");
        w.dirent(1, 1, 7, "ok", 8);
        w.file(7, 1, b"ok");
        let out = run(&w.out);
        assert_eq!(super::super::listing(&out), ["ok 2"]);
        let n = errors(&out);
        assert!(
            n.contains("4 entries are not reachable from the root directory (directory cycle"),
            "{n}"
        );
    }

    #[test]
    fn deep_nesting_stops_at_path_max_and_chance_nodes_cost_one_check() {
        let mut w = Writer::new(false);
        // 3000 nested directories named "dd": directory paths pass PATH_MAX
        // at depth 1366, whose entry is still listed under its parent.
        for ino in 2..3002 {
            w.dirent(ino - 1, 1, ino, "dd", DT_DIR);
        }
        let out = run(&w.out);
        assert_eq!(out.entries.len(), 1366);
        let n = errors(&out);
        assert!(n.contains("1634 entries are not reachable"), "{n}");
        // A header whose CRC holds but whose node does not: not JFFS2.
        let mut h = Writer::new(false);
        h.dirent(1, 1, 2, "a", 8);
        h.out[20] ^= 1; // pino: node CRC fails
        assert_eq!(
            Jffs2
                .extract(&h.out, &mut Budget::new(Limits::default()))
                .unwrap_err(),
            Rejection::NotThisFormat
        );
        let mut t = Writer::new(false);
        t.node(PADDING, &[0; 20]);
        assert_eq!(
            Jffs2
                .extract(&t.out[..20], &mut Budget::new(Limits::default()))
                .unwrap_err(),
            Rejection::NotThisFormat
        );
    }

    #[test]
    fn hard_links_and_holes() {
        let mut w = Writer::new(true);
        w.dirent(1, 1, 2, "a", 8);
        w.dirent(1, 2, 2, "b", 8);
        // 4 bytes, a 4092-byte hole (a zero node), 4 bytes.
        w.inode(2, 1, S_IFREG | 0o644, 4, 0, COMPR_NONE, 4, b"head");
        w.inode(2, 2, S_IFREG | 0o644, 4096, 4, COMPR_ZERO, 4092, b"");
        w.inode(2, 3, S_IFREG | 0o644, 4100, 4096, COMPR_NONE, 4, b"tail");
        let out = run(&w.out);
        assert!(out.notes.is_empty(), "{}", errors(&out));
        assert_eq!(super::super::listing(&out), ["a 4100", "b 4100"]);
        let a = &out.entries[0].data;
        assert_eq!(&a[..4], b"head");
        assert!(a[4..4096].iter().all(|&b| b == 0));
        assert_eq!(&a[4096..], b"tail");
    }

    #[test]
    fn newer_nodes_hide_older_ones_byte_by_byte() {
        let mut c = Covered::default();
        assert_eq!(c.claim(10, 20), vec![(10..20)]);
        assert_eq!(c.claim(0, 30), [0..10, 20..30]);
        assert!(c.claim(5, 25).is_empty());
        assert_eq!(c.claim(40, 50), vec![(40..50)]);
        assert_eq!(c.claim(25, 45), vec![(30..40)]);
        // Version 1 writes 8 bytes, version 2 rewrites the middle, version 3
        // is a hole over the start: zeros, new middle, old end.
        let mut w = Writer::new(false);
        w.dirent(1, 1, 2, "f", 8);
        w.inode(2, 1, S_IFREG | 0o644, 8, 0, COMPR_NONE, 8, b"AAAAAAAA");
        w.inode(2, 2, S_IFREG | 0o644, 8, 2, COMPR_NONE, 4, b"BBBB");
        w.inode(2, 3, S_IFREG | 0o644, 8, 0, COMPR_ZERO, 3, b"");
        let out = run(&w.out);
        assert!(out.notes.is_empty(), "{}", errors(&out));
        assert_eq!(out.entries[0].data, b"\0\0\0BBBAA");
    }

    #[test]
    fn stacked_rewrites_are_charged_to_the_budget() {
        // 3000 versions of one 64 KiB range: reading all would decode 190 MiB.
        let page = vec![7u8; 64 << 10];
        let z = {
            use std::io::Write;
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
            e.write_all(&page).unwrap();
            e.finish().unwrap()
        };
        let mut w = Writer::new(false);
        w.dirent(1, 1, 2, "f", 8);
        for v in 1..=3000 {
            // Each newer node starts one byte further, so each is partly visible.
            let off = 3000 - v;
            w.inode(2, v, S_IFREG | 0o644, 70_000, off, COMPR_ZLIB, 64 << 10, &z);
        }
        let limits = Limits {
            max_total_bytes: 32 << 20,
            ..Limits::default()
        };
        let out = Jffs2.extract(&w.out, &mut Budget::new(limits)).unwrap();
        let n = errors(&out);
        assert!(n.contains("while reading overwritten data nodes"), "{n}");
        assert_eq!(out.entries[0].data.len(), 70_000);
    }

    #[test]
    fn a_hole_bomb_hits_the_ratio_bound() {
        let mut w = Writer::new(false);
        w.dirent(1, 1, 2, "bomb", 8);
        w.inode(
            2,
            1,
            S_IFREG | 0o644,
            0xffff_0000,
            0,
            COMPR_ZERO,
            0xffff_0000,
            b"",
        );
        w.dirent(1, 1, 3, "ok", 8);
        w.file(3, 1, b"fine");
        let out = run(&w.out);
        assert_eq!(super::super::listing(&out), ["ok 4"]);
        assert!(matches!(&out.notes[..], [Problem::Limit(m)] if m.starts_with("/bomb:")));
    }

    #[test]
    fn lzma_variants_decode() {
        let text = b"lzma in jffs2 nodes, lzma in jffs2 nodes, lzma in jffs2 nodes".repeat(4);
        let mut opts = liblzma::stream::LzmaOptions::new_preset(6).unwrap();
        opts.literal_context_bits(0)
            .literal_position_bits(0)
            .position_bits(0)
            .dict_size(0x2000);
        let mut enc = liblzma::stream::Stream::new_lzma_encoder(&opts).unwrap();
        let mut alone = Vec::with_capacity(4096);
        enc.process_vec(&text, &mut alone, liblzma::stream::Action::Finish)
            .unwrap();
        // `.lzma` header: props, dict, size; the node stores what follows.
        let raw = &alone[13..];
        assert_eq!(decode(COMPR_LZMA, raw, text.len()).unwrap(), text);
        let mut with_props = alone[..5].to_vec();
        with_props.extend_from_slice(raw);
        assert_eq!(
            decode(COMPR_LZMA_0X15, &with_props, text.len()).unwrap(),
            text
        );
        assert!(decode(COMPR_LZMA, &raw[..raw.len() / 2], text.len()).is_err());
        assert_eq!(decode(0x03, b"", 1), Err(None));
    }

    #[test]
    fn a_chance_magic_is_not_jffs2() {
        let junk = [0x85, 0x19, 0x02, 0xe0, 0, 0, 0, 0x44, 1, 2, 3, 4, 5];
        assert_eq!(
            Jffs2
                .extract(&junk, &mut Budget::new(Limits::default()))
                .unwrap_err(),
            Rejection::NotThisFormat
        );
    }
}
