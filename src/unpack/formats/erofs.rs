//! EROFS (the Linux kernel's `fs/erofs/erofs_fs.h`), Android's read-only
//! system partitions since Android 13: a superblock at 1024, inodes of 32
//! (compact) or 64 (extended) bytes addressed by node id from the metadata
//! block, and data laid out flat (whole blocks from `raw_blkaddr`, the tail
//! inline after the inode) or in chunks. Directories are blocks of 12-byte
//! dirents followed by their names.
//!
//! Compressed files (LZ4 and MicroLZMA physical clusters, full or compacted
//! indexes, big pclusters, tail packing) are decoded by [`super::erofs_z`].
//!
//! Bounds: every block and inode is checked against the image; directories
//! are visited once (a cycle is a note); file data is drawn from the budget
//! before it is allocated; at most `max_entries` entries.

use super::erofs_z::{self, ZFile, ZSuper};
use super::{Entry, Extracted, Format, Notes, Problem, Rejection, le16, le32, le64};
use crate::unpack::limits::Budget;
use crate::unpack::tree::EntryKind;
use std::collections::HashSet;

pub struct Erofs;

const SUPER_AT: usize = 1024;
const MAGIC: u32 = 0xe0f5_e1e2;
const FLAT_PLAIN: u16 = 0;
const COMPRESSED_FULL: u16 = 1;
const FLAT_INLINE: u16 = 2;
const COMPRESSED_COMPACT: u16 = 3;
const CHUNK_BASED: u16 = 4;
const S_IFMT: u16 = 0o170000;
const S_IFREG: u16 = 0o100000;
const S_IFDIR: u16 = 0o040000;
const S_IFLNK: u16 = 0o120000;
/// Directory nesting walked at most (deeper is a note).
const MAX_DEPTH: usize = 256;
/// `EROFS_FEATURE_INCOMPAT_*` bits this reader understands: zero padding
/// (0), compression config (1), big pclusters (2), chunked files (3),
/// device table (3; only one device read), tail packing (4); fragments and
/// dedupe (5) and xattr prefixes (6) are refused per file where they matter.
const KNOWN_INCOMPAT: u32 = 0x7f;

struct Super {
    block: u64,
    block_bits: u32,
    root: u64,
    meta: u64,
    blocks: u64,
    name: String,
    incompat: u32,
}

fn superblock(data: &[u8]) -> Option<Super> {
    if le32(data, SUPER_AT)? != MAGIC {
        return None;
    }
    let bits = *data.get(SUPER_AT + 12)?;
    if !(9..=16).contains(&bits) {
        return None;
    }
    let name = data.get(SUPER_AT + 64..SUPER_AT + 80)?;
    let end = name.iter().position(|&b| b == 0).unwrap_or(16);
    Some(Super {
        block: 1 << bits,
        block_bits: u32::from(bits),
        root: u64::from(le16(data, SUPER_AT + 14)?),
        meta: u64::from(le32(data, SUPER_AT + 40)?),
        blocks: u64::from(le32(data, SUPER_AT + 36)?),
        name: String::from_utf8_lossy(&name[..end]).into_owned(),
        incompat: le32(data, SUPER_AT + 80)?,
    })
}

/// The fields of an inode that reading needs.
struct Inode {
    layout: u16,
    mode: u16,
    size: u64,
    /// `raw_blkaddr` (flat) or the chunk format (chunked).
    addr: u32,
    /// Where the inline tail (or chunk index) starts.
    inline_at: usize,
}

struct Reader<'a, 'b> {
    data: &'a [u8],
    sb: Super,
    budget: &'b mut Budget,
    entries: Vec<Entry>,
    notes: Notes,
    visited: HashSet<u64>,
    full: bool,
}

impl Reader<'_, '_> {
    fn inode(&self, nid: u64) -> Result<Inode, String> {
        let at = self
            .sb
            .meta
            .checked_mul(self.sb.block)
            .and_then(|m| m.checked_add(nid.checked_mul(32)?))
            .and_then(|a| usize::try_from(a).ok())
            .filter(|&a| a + 32 <= self.data.len())
            .ok_or_else(|| format!("inode {nid} lies outside the image"))?;
        let d = self.data;
        let format = le16(d, at).unwrap_or(0);
        let extended = format & 1 != 0;
        let layout = (format >> 1) & 7;
        let xattr_count = u64::from(le16(d, at + 2).unwrap_or(0));
        let mode = le16(d, at + 4).unwrap_or(0);
        let (size, addr, len) = if extended {
            (le64(d, at + 8), le32(d, at + 16), 64)
        } else {
            (le32(d, at + 8).map(u64::from), le32(d, at + 16), 32)
        };
        let (Some(size), Some(addr)) = (size, addr) else {
            return Err(format!("inode {nid} is truncated"));
        };
        let xattrs = if xattr_count == 0 {
            0
        } else {
            12 + (xattr_count - 1) * 4
        };
        Ok(Inode {
            layout,
            mode,
            size,
            addr,
            inline_at: at + len + xattrs as usize,
        })
    }

    /// The bytes of an uncompressed inode's data, or why not.
    fn contents(&self, ino: &Inode) -> Result<Vec<u8>, String> {
        let size = usize::try_from(ino.size).map_err(|_| "size overflows".to_string())?;
        let block = self.sb.block as usize;
        let blocks_at = |addr: u64, n: usize| -> Result<&[u8], String> {
            let at = addr
                .checked_mul(self.sb.block)
                .and_then(|a| usize::try_from(a).ok())
                .ok_or("block address overflows")?;
            self.data
                .get(at..at.checked_add(n).ok_or("size overflows")?)
                .ok_or_else(|| format!("{n} bytes at block {addr} lie outside the image"))
        };
        match ino.layout {
            FLAT_PLAIN => Ok(blocks_at(u64::from(ino.addr), size)?.to_vec()),
            FLAT_INLINE => {
                let whole = size / block * block;
                let mut out = if whole > 0 {
                    blocks_at(u64::from(ino.addr), whole)?.to_vec()
                } else {
                    Vec::new()
                };
                let tail = size - whole;
                let inline = self
                    .data
                    .get(ino.inline_at..ino.inline_at + tail)
                    .ok_or("inline tail lies outside the image")?;
                out.extend_from_slice(inline);
                Ok(out)
            }
            CHUNK_BASED => {
                // Chunk format: low 5 bits chunk size log2 over the block
                // size; bit 5: 8-byte entries (device id + block address).
                let format = ino.addr;
                let chunk = block << (format & 0x1f);
                let wide = format & 0x20 != 0;
                let count = size.div_ceil(chunk.max(1));
                let mut out = Vec::with_capacity(size);
                for i in 0..count {
                    let at = ino.inline_at + i * if wide { 8 } else { 4 };
                    let addr = if wide {
                        le32(self.data, at + 4)
                    } else {
                        le32(self.data, at)
                    }
                    .ok_or("chunk index lies outside the image")?;
                    let n = chunk.min(size - out.len());
                    if addr == u32::MAX {
                        out.resize(out.len() + n, 0); // a hole
                    } else {
                        out.extend_from_slice(blocks_at(u64::from(addr), n)?);
                    }
                }
                Ok(out)
            }
            other => Err(format!("data layout {other} is not readable")),
        }
    }

    fn push(&mut self, path: String, kind: EntryKind, data: Vec<u8>) {
        if let Err(bound) = self.budget.entry() {
            if !self.full {
                self.notes.push(Problem::Limit(format!(
                    "EROFS: {bound} reached; the rest of its entries were skipped"
                )));
            }
            self.full = true;
            return;
        }
        self.entries.push(Entry {
            path,
            kind,
            data,
            meta: None,
        });
    }

    fn dir(&mut self, nid: u64, path: &str, depth: usize) {
        if !self.visited.insert(nid) {
            self.notes.push(Problem::Error(format!(
                "EROFS: directory /{path} (inode {nid}) is reached twice; a cycle, not walked again"
            )));
            return;
        }
        if depth > MAX_DEPTH {
            self.notes.push(Problem::Limit(format!(
                "EROFS: directories nest deeper than {MAX_DEPTH} at /{path}"
            )));
            return;
        }
        let listing = match self.inode(nid).and_then(|ino| {
            if ino.size > self.sb.blocks.saturating_mul(self.sb.block) {
                return Err(format!("directory size {} exceeds the image", ino.size));
            }
            // Held while the walk goes deeper: charged like file data, so
            // that nested directories sharing one huge extent are bounded.
            if let Err(bound) = self.budget.charge(ino.size) {
                return Err(format!("{} bytes reach {bound}", ino.size));
            }
            self.contents(&ino)
        }) {
            Ok(d) => d,
            Err(e) => {
                self.notes
                    .push(Problem::Error(format!("EROFS: directory /{path}: {e}")));
                return;
            }
        };
        for block in listing.chunks(self.sb.block as usize) {
            let Some(first) = le16(block, 8) else {
                continue;
            };
            let count = usize::from(first) / 12;
            if count == 0 || usize::from(first) > block.len() {
                self.notes.push(Problem::Error(format!(
                    "EROFS: directory /{path} has a corrupt block (first name at {first})"
                )));
                continue;
            }
            for i in 0..count {
                if self.full {
                    return;
                }
                let at = i * 12;
                let (Some(child), Some(start)) = (le64(block, at), le16(block, at + 8)) else {
                    break;
                };
                let end = if i + 1 < count {
                    le16(block, at + 20).map_or(block.len(), usize::from)
                } else {
                    block.len()
                };
                let Some(raw) = block.get(usize::from(start)..end.min(block.len())) else {
                    self.notes.push(Problem::Error(format!(
                        "EROFS: directory /{path}: entry {i} names bytes outside its block"
                    )));
                    break;
                };
                let raw = raw.split(|&b| b == 0).next().unwrap_or_default();
                let name = String::from_utf8_lossy(raw).into_owned();
                if name == "." || name == ".." || name.is_empty() {
                    continue;
                }
                let child_path = if path.is_empty() {
                    name.clone()
                } else {
                    format!("{path}/{name}")
                };
                self.child(child, child_path, depth);
            }
        }
    }

    fn child(&mut self, nid: u64, path: String, depth: usize) {
        let ino = match self.inode(nid) {
            Ok(i) => i,
            Err(e) => {
                self.notes
                    .push(Problem::Error(format!("EROFS: /{path}: {e}")));
                return;
            }
        };
        match ino.mode & S_IFMT {
            S_IFDIR => {
                self.push(path.clone(), EntryKind::Dir, Vec::new());
                self.dir(nid, &path, depth + 1);
            }
            // A target is at most a page: a larger size is not allocated
            // (chunk-based layouts would allocate it before reading).
            S_IFLNK if ino.size > 4096 => self.notes.push(Problem::Error(format!(
                "EROFS: symlink /{path} claims a {}-byte target",
                ino.size
            ))),
            S_IFLNK => match self.contents(&ino) {
                Ok(target) if target.len() <= 4096 => {
                    let target = String::from_utf8_lossy(&target).into_owned();
                    self.push(path, EntryKind::Symlink(target), Vec::new());
                }
                Ok(_) | Err(_) => self.notes.push(Problem::Error(format!(
                    "EROFS: symlink /{path} has no readable target"
                ))),
            },
            S_IFREG => {
                if matches!(ino.layout, COMPRESSED_FULL | COMPRESSED_COMPACT) {
                    self.compressed_file(path, &ino);
                    return;
                }
                let size = ino.size;
                if let Err(bound) = self.budget.charge_file(size) {
                    self.notes.push(Problem::Limit(format!(
                        "EROFS: /{path}: {size} bytes reach {bound}; skipped"
                    )));
                    return;
                }
                match self.contents(&ino) {
                    Ok(d) => self.push(path, EntryKind::File, d),
                    Err(e) => self
                        .notes
                        .push(Problem::Error(format!("EROFS: /{path}: {e}"))),
                }
            }
            _ => self.push(path, EntryKind::Special, Vec::new()),
        }
    }
}

impl Reader<'_, '_> {
    /// A compressed file: its size checked against the output cap first,
    /// then decoded with every pcluster's output reserved before decoding.
    fn compressed_file(&mut self, path: String, ino: &Inode) {
        let cap = self.budget.output_cap(self.data.len() as u64);
        if ino.size > cap {
            let cause = self.budget.output_cap_cause(self.data.len() as u64);
            self.notes.push(Problem::Limit(format!(
                "EROFS: /{path}: {} bytes reach {cause}; skipped",
                ino.size
            )));
            return;
        }
        let sb = ZSuper {
            block_bits: self.sb.block_bits,
            zero_padding: self.sb.incompat & 1 != 0,
            big_pcluster: self.sb.incompat & 2 != 0,
            ztailpacking: self.sb.incompat & 0x10 != 0,
        };
        let file = ZFile {
            inode_end: ino.inline_at,
            size: ino.size,
            legacy: ino.layout == COMPRESSED_FULL,
        };
        let decoded = erofs_z::read(self.data, sb, &file, self.budget).and_then(|(d, r)| {
            let len = d.len() as u64;
            self.budget
                .keep(r, len)
                .map(|()| d)
                .map_err(|b| format!("{len} bytes reach {b}"))
        });
        match decoded {
            Ok(d) => self.push(path, EntryKind::File, d),
            Err(e) => self
                .notes
                .push(Problem::Error(format!("EROFS: compressed /{path}: {e}"))),
        }
    }
}

impl Format for Erofs {
    fn name(&self) -> &'static str {
        "erofs"
    }

    fn magics(&self) -> &'static [&'static [u8]] {
        &[&[0xe2, 0xe1, 0xf5, 0xe0]]
    }

    fn magic_offset(&self) -> usize {
        SUPER_AT
    }

    fn declared_len(&self, data: &[u8]) -> Option<u64> {
        superblock(data).map(|sb| sb.blocks.saturating_mul(sb.block))
    }

    fn extract(&self, data: &[u8], budget: &mut Budget) -> Result<Extracted, Rejection> {
        let sb = superblock(data).ok_or(Rejection::NotThisFormat)?;
        if sb.incompat & !KNOWN_INCOMPAT != 0 {
            return Err(Rejection::Corrupt(format!(
                "EROFS incompatible features {:#x} are not supported",
                sb.incompat
            )));
        }
        let declared = sb.blocks.saturating_mul(sb.block);
        let mut notes = Vec::new();
        if declared > data.len() as u64 {
            notes.push(Problem::Error(format!(
                "EROFS image truncated: superblock says {declared} bytes, only {} present",
                data.len()
            )));
        }
        let root = sb.root;
        let detail = format!(
            "EROFS, {}-byte blocks{}",
            sb.block,
            if sb.name.is_empty() {
                String::new()
            } else {
                format!(", volume \"{}\"", sb.name)
            }
        );
        let mut r = Reader {
            data,
            sb,
            budget,
            entries: Vec::new(),
            notes: Notes::default(),
            visited: HashSet::new(),
            full: false,
        };
        r.dir(root, "", 0);
        r.notes.finish("EROFS", &mut notes);
        Ok(Extracted {
            size: declared.min(data.len() as u64),
            entries: r.entries,
            filesystem: true,
            scanned_in_place: false,
            detail: Some(detail),
            notes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unpack::formats::{fs_fixture_listing, listing};
    use crate::unpack::limits::Limits;

    /// `mkfs.erofs` (erofs-utils 1.5) of the file system fixture tree, uncompressed (make.sh).
    const IMAGE: &[u8] = include_bytes!("../../../tests/fixtures/erofs.img");

    fn read(data: &[u8]) -> Result<Extracted, Rejection> {
        Erofs.extract(data, &mut Budget::new(Limits::default()))
    }

    #[test]
    fn mkfs_erofs_output_lists_the_fixture_tree() {
        let out = read(IMAGE).unwrap();
        assert!(out.notes.is_empty(), "{:?}", out.notes);
        assert_eq!(listing(&out), fs_fixture_listing(false));
        assert_eq!(out.size as usize, IMAGE.len());
        let motd = out.entries.iter().find(|e| e.path == "etc/motd").unwrap();
        assert_eq!(
            motd.data,
            include_bytes!("../../../tests/fixtures/text.txt")
        );
    }

    #[test]
    fn chunked_files_with_a_hole() {
        const CHUNKED: &[u8] = include_bytes!("../../../tests/fixtures/erofs-chunked.img");
        let out = read(CHUNKED).unwrap();
        assert!(out.notes.is_empty(), "{:?}", out.notes);
        assert_eq!(
            listing(&out),
            ["etc/", "etc/big.txt 11160", "etc/holes.bin 12292"]
        );
        let holes = &out.entries[2].data;
        assert!(holes.starts_with(b"head") && holes.ends_with(b"tail"));
        assert!(holes[4..12288].iter().all(|&b| b == 0));
    }

    /// `sha256  path` of every regular file, as `sha256sum` prints them.
    fn hashes(out: &Extracted) -> String {
        use sha2::{Digest, Sha256};
        let mut lines: Vec<String> = out
            .entries
            .iter()
            .filter(|e| matches!(e.kind, EntryKind::File))
            .map(|e| format!("{}  {}\n", hex::encode(Sha256::digest(&e.data)), e.path))
            .collect();
        lines.sort_by(|a, b| a[66..].cmp(&b[66..]));
        lines.concat()
    }

    /// The compressed fixtures of tests/fixtures/fwmisc.sh: every layout
    /// mkfs.erofs 1.5 writes, each file's SHA-256 as fsck.erofs --extract
    /// gives it (erofs-z.sha256).
    pub(crate) const COMPRESSED: [(&str, &[u8]); 6] = [
        (
            "lz4 (compacted indexes)",
            include_bytes!("../../../tests/fixtures/erofs-z-lz4.img"),
        ),
        (
            "lz4hc, big pclusters, tail packing",
            include_bytes!("../../../tests/fixtures/erofs-z-lz4hc-big.img"),
        ),
        (
            "lz4, legacy indexes, no zero padding",
            include_bytes!("../../../tests/fixtures/erofs-z-legacy.img"),
        ),
        (
            "lzma, tail packing",
            include_bytes!("../../../tests/fixtures/erofs-z-lzma.img"),
        ),
        (
            "lzma, big pclusters",
            include_bytes!("../../../tests/fixtures/erofs-z-lzma-big.img"),
        ),
        (
            "lz4hc (make.sh)",
            include_bytes!("../../../tests/fixtures/erofs-lz4.img"),
        ),
    ];

    #[test]
    fn compressed_files_decode_to_what_fsck_erofs_extracts() {
        let expected = include_str!("../../../tests/fixtures/erofs-z.sha256");
        for (what, image) in &COMPRESSED[..5] {
            let out = read(image).unwrap();
            assert!(out.notes.is_empty(), "{what}: {:?}", out.notes);
            assert_eq!(
                listing(&out),
                [
                    "etc/",
                    "etc/hostname 7",
                    "etc/motd 3720",
                    "usr/",
                    "usr/share/",
                    "usr/share/log.txt 62884",
                    "var/",
                    "var/mixed.bin 19160",
                    "var/random.bin 9000",
                    "var/repeat.txt 119040",
                ],
                "{what}"
            );
            assert_eq!(hashes(&out), expected, "{what}");
        }
        // make.sh's LZ4HC image of the file system fixture tree: big.txt
        // is the one file mkfs.erofs compressed.
        let out = read(COMPRESSED[5].1).unwrap();
        assert!(out.notes.is_empty(), "{:?}", out.notes);
        assert_eq!(listing(&out), fs_fixture_listing(false));
        let big = out
            .entries
            .iter()
            .find(|e| e.path == "usr/share/big.txt")
            .unwrap();
        assert_eq!(
            big.data,
            include_bytes!("../../../tests/fixtures/text.txt").repeat(3)
        );
    }

    #[test]
    fn a_compressed_file_over_the_budget_is_skipped_with_a_note() {
        let limits = Limits {
            max_file_size: 20_000,
            ..Limits::default()
        };
        let out = Erofs
            .extract(COMPRESSED[0].1, &mut Budget::new(limits))
            .unwrap();
        assert!(
            matches!(&out.notes[..], [Problem::Limit(a), Problem::Limit(b)]
                if a.contains("/usr/share/log.txt: 62884 bytes") && b.contains("/var/repeat.txt: 119040 bytes")),
            "{:?}",
            out.notes
        );
        assert!(!out.entries.iter().any(|e| e.path == "usr/share/log.txt"));
        // Memory: each pcluster's output is reserved before it is decoded;
        // log.txt's third extent no longer fits, and nothing of it is kept.
        let limits = Limits {
            max_memory: 50_000,
            ..Limits::default()
        };
        let mut budget = Budget::new(limits);
        let out = Erofs.extract(COMPRESSED[0].1, &mut budget).unwrap();
        let noted: Vec<String> = out.notes.iter().map(|p| format!("{p:?}")).collect();
        assert!(
            noted
                .iter()
                .any(|m| m.contains("compressed /usr/share/log.txt") && m.contains("memory")),
            "{noted:?}"
        );
        assert!(!out.entries.iter().any(|e| e.path == "usr/share/log.txt"));
        assert!(budget.memory_left() <= 50_000);
    }

    #[test]
    fn compressed_images_cut_or_flipped_never_panic() {
        for (what, image) in &COMPRESSED[..5] {
            for cut in (0..image.len()).step_by(1021) {
                if let Ok(out) = read(&image[..cut]) {
                    assert!(!out.notes.is_empty(), "{what}: cut {cut}");
                }
            }
            let mut data = image.to_vec();
            for at in (1024..data.len()).step_by(29) {
                data[at] ^= 0x21;
                let _ = read(&data);
                data[at] ^= 0x21;
            }
        }
    }

    #[test]
    fn a_symlink_claiming_a_huge_chunked_target_is_a_note_not_an_allocation() {
        // Found by the erofs fuzz target: a chunk-based inode turned into a
        // symlink with a size of exabytes made `contents` reserve it.
        let mut data = include_bytes!("../../../tests/fixtures/erofs-chunked.img").to_vec();
        let sb = superblock(&data).unwrap();
        let meta = (sb.meta * sb.block) as usize;
        let at = (meta..data.len() - 32)
            .step_by(32)
            .find(|&at| {
                let format = le16(&data, at).unwrap();
                (format >> 1) & 7 == CHUNK_BASED
                    && le16(&data, at + 4).unwrap() & S_IFMT == S_IFREG
                    && le32(&data, at + 8) == Some(12292)
            })
            .expect("holes.bin's inode");
        // Compact or extended, the size's low 32 bits are at +8 (its high
        // bits, if any, are zero here).
        data[at + 4..at + 6].copy_from_slice(&(S_IFLNK | 0o777).to_le_bytes());
        data[at + 8..at + 12].copy_from_slice(&u32::MAX.to_le_bytes());
        let out = read(&data).unwrap();
        assert!(
            out.notes.iter().any(|p| matches!(p, Problem::Error(m)
                if m.contains("symlink /etc/holes.bin claims a 4294967295-byte target"))),
            "{:?}",
            out.notes
        );
    }

    #[test]
    fn truncation_and_flips_never_panic() {
        for cut in (0..IMAGE.len()).step_by(509) {
            if let Ok(out) = read(&IMAGE[..cut]) {
                assert!(!out.notes.is_empty(), "cut {cut}");
            }
        }
        let mut data = IMAGE.to_vec();
        for at in (1024..data.len()).step_by(13) {
            data[at] ^= 0x08;
            let _ = read(&data);
            data[at] ^= 0x08;
        }
    }
}
