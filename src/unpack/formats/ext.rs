//! ext2, ext3 and ext4, read-only, from the bytes in memory.
//!
//! The superblock (1 KiB into the file system, magic `0xEF53` at byte 1080) is
//! checked field against field before anything is trusted: block size, group
//! geometry, inode count against group count, inode and descriptor sizes, and
//! that it is the primary copy. Then the tree is walked from the root inode:
//! directories are read linearly (an htree index hides in entries a linear
//! reader skips), file data through extent trees of any depth or ext2/3 block
//! maps (direct, indirect, double and triple indirect), inline data (in
//! `i_block` plus the `system.data` attribute), fast and slow symlinks, 64-bit
//! descriptors, `flex_bg` and `meta_bg` descriptor placement; holes read as
//! zeros. The journal is not replayed.
//!
//! Why not the `ext4-view` crate: version 1.0 refuses `inline_data`,
//! `meta_bg` and `large_dir` file systems, needs an owned `'static` reader
//! (a copy of the image) and does not expose inode numbers, without which a
//! walker cannot tell a directory cycle from a deep tree.
//!
//! Hostile input: every block number is checked against the file system and
//! the bytes present, extent trees must lose one level per step and no node is
//! visited twice, a directory inode is descended into once (cycles and
//! hard-linked directories become notes), and file and directory data are
//! drawn from the [`Budget`] before they are allocated.

use super::{Entry, Extracted, Format, Notes, Problem, Rejection, le16, le32};
use crate::unpack::limits::Budget;
use crate::unpack::tree::{EntryKind, Meta};
use std::collections::HashSet;

pub struct Ext;

/// The superblock sits 1 KiB into the file system; its magic 56 bytes later.
const SB_AT: usize = 1024;
const MAGIC_AT: usize = SB_AT + 0x38;
const ROOT_INO: u32 = 2;

// Feature bits.
const COMPAT_HAS_JOURNAL: u32 = 0x4;
const COMPAT_SPARSE_SUPER2: u32 = 0x200;
const INCOMPAT_COMPRESSION: u32 = 0x1;
const INCOMPAT_RECOVER: u32 = 0x4;
const INCOMPAT_JOURNAL_DEV: u32 = 0x8;
const INCOMPAT_META_BG: u32 = 0x10;
const INCOMPAT_64BIT: u32 = 0x80;
const INCOMPAT_LARGEDIR: u32 = 0x4000;
const INCOMPAT_ENCRYPT: u32 = 0x1_0000;
/// Every incompatible feature bit ext4 defines (through casefold).
const INCOMPAT_KNOWN: u32 = 0x3_f7df;
const RO_COMPAT_SPARSE_SUPER: u32 = 0x1;
const RO_COMPAT_BIGALLOC: u32 = 0x200;

// Inode flags and modes.
const FLAG_EXTENTS: u32 = 0x8_0000;
const FLAG_INLINE_DATA: u32 = 0x1000_0000;
const S_IFMT: u16 = 0xF000;
const S_IFREG: u16 = 0x8000;
const S_IFDIR: u16 = 0x4000;
const S_IFLNK: u16 = 0xA000;

const EXTENT_MAGIC: u16 = 0xF30A;
const XATTR_MAGIC: u32 = 0xEA02_0000;
/// Longest symlink target Linux accepts (PATH_MAX).
const MAX_SYMLINK: u64 = 4096;

/// The superblock fields the reader uses, checked for consistency.
#[derive(Debug)]
struct Superblock {
    block_size: u64,
    blocks_count: u64,
    first_data_block: u64,
    blocks_per_group: u64,
    inodes_per_group: u64,
    inodes_count: u64,
    inode_size: u64,
    desc_size: u64,
    compat: u32,
    incompat: u32,
    ro_compat: u32,
    first_meta_bg: u64,
    backup_bgs: [u64; 2],
    label: String,
}

impl Superblock {
    /// Parses and checks the superblock of a file system starting at `data[0]`.
    /// Anything a real mke2fs cannot have written is `NotThisFormat`: the
    /// two-byte magic turns up by chance in any large binary.
    fn parse(data: &[u8]) -> Result<Superblock, Rejection> {
        let sb = data
            .get(SB_AT..SB_AT + 1024)
            .ok_or(Rejection::NotThisFormat)?;
        let u32_at = |at: usize| u32::from_le_bytes([sb[at], sb[at + 1], sb[at + 2], sb[at + 3]]);
        let u16_at = |at: usize| u16::from_le_bytes([sb[at], sb[at + 1]]);
        if u16_at(0x38) != 0xEF53 {
            return Err(Rejection::NotThisFormat);
        }
        let log_block = u32_at(0x18);
        let log_cluster = u32_at(0x1C);
        let rev = u32_at(0x4C);
        let state = u16_at(0x3A);
        let errors = u16_at(0x3C);
        // Sanity of the fixed fields, cheapest first.
        if log_block > 6 || rev > 1 || state > 7 || errors > 3 || log_cluster > log_block + 16 {
            return Err(Rejection::NotThisFormat);
        }
        let block_size = 1024u64 << log_block;
        let compat = u32_at(0x5C);
        let incompat = if rev >= 1 { u32_at(0x60) } else { 0 };
        let ro_compat = if rev >= 1 { u32_at(0x64) } else { 0 };
        let sixty_four = incompat & INCOMPAT_64BIT != 0;
        let blocks_count = u64::from(u32_at(0x04))
            | if sixty_four {
                u64::from(u32_at(0x150)) << 32
            } else {
                0
            };
        let first_data_block = u64::from(u32_at(0x14));
        let blocks_per_group = u64::from(u32_at(0x20));
        let clusters_per_group = u64::from(u32_at(0x24));
        let inodes_per_group = u64::from(u32_at(0x28));
        let inodes_count = u64::from(u32_at(0x00));
        let inode_size = if rev >= 1 {
            u64::from(u16_at(0x58))
        } else {
            128
        };
        let desc_size = if sixty_four {
            u64::from(u16_at(0xFE))
        } else {
            32
        };
        let bits_per_block = block_size * 8;
        // Groups are counted in clusters when bigalloc is on.
        let per_group_bitmap = if ro_compat & RO_COMPAT_BIGALLOC != 0 {
            clusters_per_group
        } else {
            blocks_per_group
        };
        let plausible = first_data_block == u64::from(block_size == 1024)
            && blocks_count > first_data_block
            && (1..=bits_per_block).contains(&per_group_bitmap)
            && blocks_per_group > 0
            && (1..=bits_per_block).contains(&inodes_per_group)
            && (128..=block_size).contains(&inode_size)
            && inode_size.is_power_of_two()
            && (!sixty_four || ((64..=1024).contains(&desc_size) && desc_size.is_power_of_two()));
        if !plausible {
            return Err(Rejection::NotThisFormat);
        }
        let groups = (blocks_count - first_data_block).div_ceil(blocks_per_group);
        // mke2fs gives every group the same number of inodes (which also
        // bounds the group count by 2^32).
        if groups.checked_mul(inodes_per_group) != Some(inodes_count) {
            return Err(Rejection::NotThisFormat);
        }
        // A backup superblock (in group 1, 3, 5, ...) describes the file
        // system around it, not one starting 1 KiB before it.
        if rev >= 1 && u16_at(0x5A) != 0 {
            return Err(Rejection::NotThisFormat);
        }
        let label = String::from_utf8_lossy(&sb[0x78..0x88])
            .trim_end_matches('\0')
            .to_string();
        Ok(Superblock {
            block_size,
            blocks_count,
            first_data_block,
            blocks_per_group,
            inodes_per_group,
            inodes_count,
            inode_size,
            desc_size,
            compat,
            incompat,
            ro_compat,
            first_meta_bg: u64::from(u32_at(0x104)),
            backup_bgs: [u64::from(u32_at(0x24C)), u64::from(u32_at(0x250))],
            label,
        })
    }

    fn variant(&self) -> &'static str {
        // Features ext3 never had make it ext4; a journal alone, ext3.
        const EXT4_INCOMPAT: u32 = 0x3_f7d0; // meta_bg and everything after filetype/recover/journal_dev
        const EXT4_RO_COMPAT: u32 = !0x7; // beyond sparse_super, large_file, btree_dir
        if self.incompat & EXT4_INCOMPAT != 0 || self.ro_compat & EXT4_RO_COMPAT != 0 {
            "ext4"
        } else if self.compat & COMPAT_HAS_JOURNAL != 0 {
            "ext3"
        } else {
            "ext2"
        }
    }

    /// Whether group `g` starts with a superblock backup (and so with a
    /// descriptor block under `meta_bg`).
    fn has_super(&self, g: u64) -> bool {
        if g == 0 {
            return true;
        }
        if self.compat & COMPAT_SPARSE_SUPER2 != 0 {
            return self.backup_bgs.contains(&g);
        }
        if self.ro_compat & RO_COMPAT_SPARSE_SUPER == 0 {
            return true;
        }
        [3u64, 5, 7].iter().any(|&base| {
            let mut p = 1u64;
            while p < g {
                p = p.saturating_mul(base);
            }
            p == g
        })
    }
}

/// One inode's fields the reader uses.
struct Inode {
    mode: u16,
    uid: u32,
    gid: u32,
    size: u64,
    flags: u32,
    block: [u8; 60],
    /// The in-inode extended attribute area (after `i_extra_isize`).
    xattrs: Vec<u8>,
}

struct Reader<'a> {
    image: &'a [u8],
    sb: Superblock,
}

impl Reader<'_> {
    /// `count` whole blocks from `block`, if the file system has them and they are present.
    fn blocks(&self, block: u64, count: u64) -> Result<&[u8], String> {
        let end = block
            .checked_add(count)
            .filter(|&e| e <= self.sb.blocks_count);
        let bytes = end.and_then(|_| {
            let start = usize::try_from(block.checked_mul(self.sb.block_size)?).ok()?;
            let len = usize::try_from(count.checked_mul(self.sb.block_size)?).ok()?;
            self.image.get(start..start.checked_add(len)?)
        });
        bytes.ok_or_else(|| {
            format!(
                "blocks {block}..{} are outside the file system or past the end of the image",
                block.saturating_add(count)
            )
        })
    }

    /// Where group `g`'s inode table starts.
    fn inode_table(&self, g: u64) -> Result<u64, String> {
        let sb = &self.sb;
        let per_block = sb.block_size / sb.desc_size;
        let index = g / per_block;
        let desc_block = if sb.incompat & INCOMPAT_META_BG != 0 && index >= sb.first_meta_bg {
            let first = index * per_block;
            sb.first_data_block + first * sb.blocks_per_group + u64::from(sb.has_super(first))
        } else {
            sb.first_data_block + 1 + index
        };
        let block = self.blocks(desc_block, 1)?;
        let at = ((g % per_block) * sb.desc_size) as usize;
        let lo = le32(block, at + 8).unwrap_or(0);
        let hi = if sb.desc_size >= 64 {
            le32(block, at + 0x28).unwrap_or(0)
        } else {
            0
        };
        Ok(u64::from(lo) | u64::from(hi) << 32)
    }

    /// Where inode `ino` sits in the image.
    fn inode_at(&self, ino: u32) -> Result<usize, String> {
        let sb = &self.sb;
        if ino == 0 || u64::from(ino) > sb.inodes_count {
            return Err(format!("inode {ino} does not exist"));
        }
        let n = u64::from(ino) - 1;
        let table = self.inode_table(n / sb.inodes_per_group)?;
        let at = (n % sb.inodes_per_group) * sb.inode_size;
        let block = table
            .checked_add(at / sb.block_size)
            .ok_or_else(|| format!("inode {ino}: inode table block out of range"))?;
        self.blocks(block, 1)
            .map_err(|e| format!("inode {ino}: {e}"))?;
        Ok((block * sb.block_size + at % sb.block_size) as usize)
    }

    fn inode(&self, ino: u32) -> Result<Inode, String> {
        let at = self.inode_at(ino)?;
        let raw = &self.image[at..at + self.sb.inode_size as usize];
        let sb = &self.sb;
        let mode = le16(raw, 0).unwrap_or(0);
        let size_lo = u64::from(le32(raw, 4).unwrap_or(0));
        let size_hi = u64::from(le32(raw, 0x6C).unwrap_or(0));
        // The high half is only a size for regular files (and large directories).
        let size = if mode & S_IFMT == S_IFREG
            || (mode & S_IFMT == S_IFDIR && sb.incompat & INCOMPAT_LARGEDIR != 0)
        {
            size_lo | size_hi << 32
        } else {
            size_lo
        };
        let mut block = [0u8; 60];
        block.copy_from_slice(&raw[0x28..0x64]);
        let xattrs = if raw.len() > 128 {
            let extra = usize::from(le16(raw, 0x80).unwrap_or(0));
            raw.get(128 + extra..)
                .map(<[u8]>::to_vec)
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        // Owner: low 16 bits in the base inode, high 16 in the Linux osd2 area.
        let half = |at: usize| u32::from(le16(raw, at).unwrap_or(0));
        Ok(Inode {
            mode,
            uid: half(0x02) | half(0x78) << 16,
            gid: half(0x18) | half(0x7A) << 16,
            size,
            flags: le32(raw, 0x20).unwrap_or(0),
            block,
            xattrs,
        })
    }

    /// A file's bytes (`inode.size` of them, already drawn from the budget).
    fn data(&self, inode: &Inode) -> Result<Vec<u8>, String> {
        let size = usize::try_from(inode.size).map_err(|_| "size too large".to_string())?;
        if inode.flags & FLAG_INLINE_DATA != 0 {
            let mut out = inode.block.to_vec();
            out.extend_from_slice(&inline_rest(&inode.xattrs)?);
            if out.len() < size {
                return Err(format!(
                    "inline data holds {} bytes, the inode says {size}",
                    out.len()
                ));
            }
            out.truncate(size);
            return Ok(out);
        }
        let mut out = vec![0u8; size];
        let nblocks = inode.size.div_ceil(self.sb.block_size);
        if inode.flags & FLAG_EXTENTS != 0 {
            let mut visited = HashSet::new();
            self.extents(&inode.block, None, nblocks, &mut out, &mut visited)?;
        } else {
            let ptr = |i: usize| u64::from(le32(&inode.block, i * 4).unwrap_or(0));
            for i in 0..12u64.min(nblocks) {
                self.map(ptr(i as usize), 0, i, nblocks, &mut out)?;
            }
            let per = self.sb.block_size / 4;
            let mut first = 12u64;
            for (level, slot) in [(1u32, 12usize), (2, 13), (3, 14)] {
                if first >= nblocks {
                    break;
                }
                self.map(ptr(slot), level, first, nblocks, &mut out)?;
                first = first.saturating_add(per.saturating_pow(level));
            }
        }
        Ok(out)
    }

    /// Copies `count` blocks from `physical` to logical block `logical` of `out`.
    fn copy(&self, out: &mut [u8], logical: u64, physical: u64, count: u64) -> Result<(), String> {
        let bs = self.sb.block_size;
        let start = logical.saturating_mul(bs).min(out.len() as u64) as usize;
        let end = logical
            .saturating_add(count)
            .saturating_mul(bs)
            .min(out.len() as u64) as usize;
        if start == end {
            return Ok(());
        }
        if physical == 0 {
            return Err("a data block pointer names block 0 (the boot block)".into());
        }
        let src = self.blocks(physical, count)?;
        out[start..end].copy_from_slice(&src[..end - start]);
        Ok(())
    }

    /// One block-map pointer: a data block at `level` 0, else an indirect
    /// block of pointers covering `per^level` logical blocks from `first`.
    fn map(
        &self,
        block: u64,
        level: u32,
        first: u64,
        nblocks: u64,
        out: &mut [u8],
    ) -> Result<(), String> {
        if block == 0 || first >= nblocks {
            return Ok(()); // a hole
        }
        if level == 0 {
            return self.copy(out, first, block, 1);
        }
        let pointers = self.blocks(block, 1)?;
        let per = self.sb.block_size / 4;
        let span = per.saturating_pow(level - 1);
        for k in 0..per {
            let child_first = first.saturating_add(k.saturating_mul(span));
            if child_first >= nblocks {
                break;
            }
            let child = u64::from(le32(pointers, (k * 4) as usize).unwrap_or(0));
            self.map(child, level - 1, child_first, nblocks, out)?;
        }
        Ok(())
    }

    /// One extent tree node; `depth` is what its parent says it must be.
    fn extents(
        &self,
        node: &[u8],
        depth: Option<u16>,
        nblocks: u64,
        out: &mut [u8],
        visited: &mut HashSet<u64>,
    ) -> Result<(), String> {
        let magic = le16(node, 0).unwrap_or(0);
        let entries = usize::from(le16(node, 2).unwrap_or(0));
        let max = usize::from(le16(node, 4).unwrap_or(0));
        let node_depth = le16(node, 6).unwrap_or(0);
        if magic != EXTENT_MAGIC {
            return Err(format!("extent node has magic {magic:#06x}, not 0xf30a"));
        }
        if entries > max || 12 + entries * 12 > node.len() {
            return Err(format!(
                "extent node claims {entries} entries (room for {max})"
            ));
        }
        if node_depth > 5 || depth.is_some_and(|d| d != node_depth) {
            return Err(format!(
                "extent node depth {node_depth} where {} was expected",
                depth.map_or("at most 5".to_string(), |d| d.to_string())
            ));
        }
        for e in node[12..12 + entries * 12].chunks_exact(12) {
            let logical = u64::from(le32(e, 0).unwrap_or(0));
            if logical >= nblocks {
                continue; // past the end of the file
            }
            if node_depth == 0 {
                let raw_len = le16(e, 4).unwrap_or(0);
                let physical =
                    u64::from(le16(e, 6).unwrap_or(0)) << 32 | u64::from(le32(e, 8).unwrap_or(0));
                // Longer than 32768: an unwritten extent, which reads as zeros.
                if raw_len <= 32768 {
                    self.copy(out, logical, physical, u64::from(raw_len))?;
                }
            } else {
                let child =
                    u64::from(le32(e, 4).unwrap_or(0)) | u64::from(le16(e, 8).unwrap_or(0)) << 32;
                if !visited.insert(child) {
                    return Err(format!("extent tree visits block {child} twice (a loop)"));
                }
                // Every node of a sound tree maps at least one block of the
                // file, so a file cannot make us read more nodes than it has blocks.
                if visited.len() as u64 > nblocks.saturating_mul(2).saturating_add(8) {
                    return Err(format!(
                        "extent tree has more nodes than the file's {nblocks} blocks can need"
                    ));
                }
                let block = self.blocks(child, 1)?;
                self.extents(block, Some(node_depth - 1), nblocks, out, visited)?;
            }
        }
        Ok(())
    }

    /// A directory's `(inode, name)` entries.
    fn dir_entries(
        &self,
        inode: &Inode,
        data: &[u8],
        notes: &mut Vec<String>,
    ) -> Vec<(u32, Vec<u8>)> {
        let mut out = Vec::new();
        if inode.flags & FLAG_INLINE_DATA != 0 {
            // Parent inode in the first 4 bytes, then entries; more in system.data.
            let rest = inline_rest(&inode.xattrs).unwrap_or_else(|e| {
                notes.push(e);
                Vec::new()
            });
            parse_entries(&inode.block[4..], &mut out, notes, "inline");
            parse_entries(&rest, &mut out, notes, "inline attribute");
        } else {
            for (i, block) in data.chunks(self.sb.block_size as usize).enumerate() {
                parse_entries(block, &mut out, notes, &format!("block {i}"));
            }
        }
        out
    }
}

/// The `system.data` attribute value from an inode's in-inode attribute area:
/// inline data past the 60 bytes of `i_block`.
fn inline_rest(xattrs: &[u8]) -> Result<Vec<u8>, String> {
    if le32(xattrs, 0) != Some(XATTR_MAGIC) {
        return Ok(Vec::new());
    }
    let entries = &xattrs[4..];
    let mut at = 0usize;
    while let (Some(&name_len), Some(&index)) = (entries.get(at), entries.get(at + 1)) {
        if name_len == 0 && index == 0 {
            break; // end of the list
        }
        let value_at = usize::from(le16(entries, at + 2).unwrap_or(0));
        let value_len = le32(entries, at + 8).unwrap_or(0) as usize;
        let name = entries.get(at + 16..at + 16 + usize::from(name_len));
        if index == 7 && name == Some(b"data") {
            return entries
                .get(value_at..value_at.saturating_add(value_len))
                .map(<[u8]>::to_vec)
                .ok_or_else(|| "inline data attribute runs past the inode".to_string());
        }
        at = (at + 16 + usize::from(name_len)).div_ceil(4) * 4;
    }
    Ok(Vec::new())
}

/// Linear directory entries of one block (or inline area).
fn parse_entries(block: &[u8], out: &mut Vec<(u32, Vec<u8>)>, notes: &mut Vec<String>, what: &str) {
    let mut at = 0usize;
    while at + 8 <= block.len() {
        let ino = le32(block, at).unwrap_or(0);
        let mut rec_len = usize::from(le16(block, at + 4).unwrap_or(0));
        // 64 KiB blocks write a whole-block record as 0 or 65535.
        if block.len() == 65536 && (rec_len == 0 || rec_len == 65535) {
            rec_len = 65536;
        }
        let name_len = usize::from(block[at + 6]);
        if rec_len < 8 || rec_len % 4 != 0 || at + rec_len > block.len() || 8 + name_len > rec_len {
            if notes.len() >= 100 {
                return; // no more are listed (see `Notes`)
            }
            notes.push(format!(
                "directory {what}: corrupt entry at byte {at} (record length {rec_len}, name length {name_len}); rest of the block skipped"
            ));
            return;
        }
        if ino != 0 && name_len > 0 {
            out.push((ino, block[at + 8..at + 8 + name_len].to_vec()));
        }
        at += rec_len;
    }
}

impl Format for Ext {
    fn name(&self) -> &'static str {
        "ext"
    }

    fn magics(&self) -> &'static [&'static [u8]] {
        &[b"\x53\xef"]
    }

    fn magic_offset(&self) -> usize {
        MAGIC_AT
    }

    fn extract(&self, data: &[u8], budget: &mut Budget) -> Result<Extracted, Rejection> {
        let sb = Superblock::parse(data)?;
        if sb.incompat & INCOMPAT_JOURNAL_DEV != 0 {
            return Err(Rejection::Corrupt(
                "an external ext3/4 journal device: it holds no files".into(),
            ));
        }
        if sb.incompat & !INCOMPAT_KNOWN != 0 {
            return Err(Rejection::Corrupt(format!(
                "unknown incompatible features {:#x}",
                sb.incompat & !INCOMPAT_KNOWN
            )));
        }
        if sb.incompat & INCOMPAT_COMPRESSION != 0 {
            return Err(Rejection::Corrupt(
                "ext2 compression (e2compr) is not supported".into(),
            ));
        }
        let fs_bytes = sb.blocks_count.saturating_mul(sb.block_size);
        let mut out = Extracted {
            size: fs_bytes.min(data.len() as u64),
            filesystem: true,
            detail: Some(format!(
                "{}, {} blocks of {} bytes, {} inodes{}",
                sb.variant(),
                sb.blocks_count,
                sb.block_size,
                sb.inodes_count,
                if sb.label.is_empty() {
                    String::new()
                } else {
                    format!(", label {:?}", sb.label)
                }
            )),
            ..Default::default()
        };
        // Holes are files' bytes that no block holds: the image as a whole
        // is held to the ratio bound.
        budget.bound_layer(out.size);
        if fs_bytes > data.len() as u64 {
            out.notes.push(Problem::Error(format!(
                "ext image is truncated: superblock says {fs_bytes} bytes, only {} present",
                data.len()
            )));
        }
        if sb.incompat & INCOMPAT_RECOVER != 0 {
            out.notes.push(Problem::Error(
                "ext journal needs recovery; read without replaying it (recent changes may be missing)"
                    .into(),
            ));
        }
        if sb.incompat & INCOMPAT_ENCRYPT != 0 {
            out.notes.push(Problem::Error(
                "ext file system has encryption enabled; encrypted names and data are listed as stored (ciphertext)"
                    .into(),
            ));
        }
        let reader = Reader { image: data, sb };
        walk(&reader, budget, &mut out);
        Ok(out)
    }
}

/// Walks the tree from the root inode, depth first.
fn walk(reader: &Reader, budget: &mut Budget, out: &mut Extracted) {
    let mut seen_dirs: HashSet<u32> = HashSet::from([ROOT_INO]);
    let mut pending: Vec<(u32, String)> = vec![(ROOT_INO, String::new())];
    let mut notes = Notes::default();
    'dirs: while let Some((dir_ino, dir_path)) = pending.pop() {
        let shown = if dir_path.is_empty() {
            "/"
        } else {
            dir_path.as_str()
        };
        let dir = match reader.inode(dir_ino) {
            Ok(inode) if inode.mode & S_IFMT == S_IFDIR => inode,
            Ok(inode) => {
                notes.push(Problem::Error(format!(
                    "ext: {shown} (inode {dir_ino}) has mode {:#o}, not a directory",
                    inode.mode
                )));
                continue;
            }
            Err(e) => {
                notes.push(Problem::Error(format!("ext: directory {shown}: {e}")));
                continue;
            }
        };
        let data = if dir.flags & FLAG_INLINE_DATA != 0 {
            Vec::new()
        } else if let Err(bound) = budget.charge_file(dir.size) {
            notes.push(Problem::Limit(format!(
                "ext: directory {shown}: {} bytes reach {bound}; not read",
                dir.size
            )));
            continue;
        } else {
            match reader.data(&dir) {
                Ok(data) => data,
                Err(e) => {
                    notes.push(Problem::Error(format!(
                        "ext: directory {shown} (inode {dir_ino}): {e}"
                    )));
                    continue;
                }
            }
        };
        let mut problems = Vec::new();
        let entries = reader.dir_entries(&dir, &data, &mut problems);
        for p in problems {
            notes.push(Problem::Error(format!(
                "ext: {shown} (inode {dir_ino}): {p}"
            )));
        }
        let mut subdirs = Vec::new();
        for (ino, raw_name) in entries {
            if raw_name == b"." || raw_name == b".." {
                continue;
            }
            let name = String::from_utf8_lossy(&raw_name);
            if raw_name.contains(&b'/') || raw_name.contains(&0) {
                notes.push(Problem::Error(format!(
                    "ext: {shown}: entry name {name:?} contains '/' or NUL; skipped"
                )));
                continue;
            }
            let path = format!("{dir_path}/{name}");
            if let Err(bound) = budget.entry() {
                notes.push(Problem::Limit(format!(
                    "ext: {bound} reached; the rest of its entries were skipped"
                )));
                break 'dirs;
            }
            let inode = match reader.inode(ino) {
                Ok(inode) => inode,
                Err(e) => {
                    notes.push(Problem::Error(format!("ext: {path}: {e}")));
                    continue;
                }
            };
            let (kind, contents) = match inode.mode & S_IFMT {
                S_IFDIR => {
                    if seen_dirs.insert(ino) {
                        subdirs.push((ino, path.clone()));
                    } else {
                        notes.push(Problem::Error(format!(
                            "ext: {path} is directory inode {ino} again (a directory cycle or hard link); not descended"
                        )));
                    }
                    (EntryKind::Dir, Vec::new())
                }
                S_IFREG => {
                    if let Err(bound) = budget.charge_file(inode.size) {
                        notes.push(Problem::Limit(format!(
                            "ext: {path}: {} bytes reach {bound}; skipped",
                            inode.size
                        )));
                        continue;
                    }
                    match reader.data(&inode) {
                        Ok(data) => (EntryKind::File, data),
                        Err(e) => {
                            notes.push(Problem::Error(format!("ext: {path} (inode {ino}): {e}")));
                            continue;
                        }
                    }
                }
                S_IFLNK => match symlink(reader, &inode) {
                    Ok(target) => (EntryKind::Symlink(target), Vec::new()),
                    Err(e) => {
                        notes.push(Problem::Error(format!(
                            "ext: symlink {path} (inode {ino}): {e}"
                        )));
                        continue;
                    }
                },
                _ => (EntryKind::Special, Vec::new()),
            };
            out.entries.push(Entry {
                path: path.trim_start_matches('/').to_string(),
                kind,
                data: contents,
                meta: Some(Meta::new(u32::from(inode.mode), inode.uid, inode.gid)),
            });
        }
        // Depth first, in directory order.
        pending.extend(subdirs.into_iter().rev());
    }
    notes.finish("ext", &mut out.notes);
}

fn symlink(reader: &Reader, inode: &Inode) -> Result<String, String> {
    if inode.size > MAX_SYMLINK {
        return Err(format!(
            "target of {} bytes is longer than PATH_MAX",
            inode.size
        ));
    }
    let bytes = if inode.flags & FLAG_INLINE_DATA == 0 && inode.size < 60 {
        inode.block[..inode.size as usize].to_vec() // a fast symlink
    } else {
        reader.data(inode)?
    };
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unpack::formats::{fs_fixture_listing, listing};
    use crate::unpack::limits::Limits;
    use std::io::Read;

    const EXT2: &[u8] = include_bytes!("../../../tests/fixtures/ext2.img");
    const EXT3_GZ: &[u8] = include_bytes!("../../../tests/fixtures/ext3.img.gz");
    const EXT4: &[u8] = include_bytes!("../../../tests/fixtures/ext4.img");
    const INLINE: &[u8] = include_bytes!("../../../tests/fixtures/ext4-inline.img");
    const TEXT: &[u8] = include_bytes!("../../../tests/fixtures/text.txt");

    fn ext3() -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(EXT3_GZ)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    fn read(image: &[u8]) -> Extracted {
        Ext.extract(image, &mut Budget::new(Limits::default()))
            .unwrap()
    }

    fn file<'a>(out: &'a Extracted, path: &str) -> &'a [u8] {
        let entry = out.entries.iter().find(|e| e.path == path);
        &entry.unwrap_or_else(|| panic!("{path} missing")).data
    }

    fn errors(out: &Extracted) -> String {
        format!("{:?}", out.notes)
    }

    /// Inode number of `path` (absolute), looked up the way the walker reads directories.
    fn lookup(image: &[u8], path: &str) -> u32 {
        let reader = Reader {
            image,
            sb: Superblock::parse(image).unwrap(),
        };
        let mut ino = ROOT_INO;
        for name in path.split('/').filter(|c| !c.is_empty()) {
            let dir = reader.inode(ino).unwrap();
            let data = reader.data(&dir).unwrap();
            let entries = reader.dir_entries(&dir, &data, &mut Vec::new());
            ino = entries
                .iter()
                .find(|(_, n)| n == name.as_bytes())
                .unwrap()
                .0;
        }
        ino
    }

    fn inode_at(image: &[u8], ino: u32) -> usize {
        let reader = Reader {
            image,
            sb: Superblock::parse(image).unwrap(),
        };
        reader.inode_at(ino).unwrap()
    }

    #[test]
    fn reads_ext2_ext3_ext4_and_inline_data_made_by_mke2fs() {
        let ext3 = ext3();
        for (name, image, variant) in [
            ("ext2", EXT2, "ext2"),
            ("ext3", &ext3[..], "ext3"),
            ("ext4", EXT4, "ext4"),
            ("ext4 inline", INLINE, "ext4"),
        ] {
            let out = read(image);
            assert!(out.notes.is_empty(), "{name}: {:?}", out.notes);
            let mut expected = fs_fixture_listing(true);
            if name == "ext4 inline" {
                // mke2fs 1.47.0 -d with inline_data leaves the trailing hole
                // out of i_size (debugfs shows the same 11264).
                let at = expected
                    .iter()
                    .position(|l| l.contains("fragments"))
                    .unwrap();
                expected[at] = "usr/share/fragments.bin 11264".into();
            }
            assert_eq!(listing(&out), expected, "{name}");
            assert!(
                out.detail.as_deref().unwrap().starts_with(variant),
                "{name}"
            );
            assert_eq!(out.size, image.len() as u64, "{name}");
            assert_eq!(file(&out, "etc/hostname"), b"router\n", "{name}");
            assert_eq!(file(&out, "etc/motd"), TEXT, "{name}");
            assert_eq!(file(&out, "usr/share/big.txt"), TEXT.repeat(3), "{name}");
            // Data blocks in the direct, indirect and double-indirect ranges
            // (ext2/3 block maps) or in three extents, the rest holes.
            let sparse = file(&out, "usr/share/sparse.bin");
            for block in 0..302 {
                let want = match block {
                    0 => b'A',
                    12 => b'B',
                    300 => b'C',
                    301 => b'D',
                    _ => 0,
                };
                let got = &sparse[block * 1024..(block + 1) * 1024];
                assert!(got.iter().all(|&b| b == want), "{name}: block {block}");
            }
            // Six data extents, more than the inode holds: an extent tree of depth 1.
            let fragments = file(&out, "usr/share/fragments.bin");
            for block in 0..fragments.len() / 1024 {
                let want = if block % 2 == 0 {
                    0x41 + block as u8
                } else {
                    0
                };
                let got = &fragments[block * 1024..(block + 1) * 1024];
                assert!(got.iter().all(|&b| b == want), "{name}: block {block}");
            }
        }
    }

    #[test]
    fn the_fixtures_have_the_layouts_the_tests_claim() {
        // fragments.bin's inode starts an extent tree of depth 1 (ext4), and
        // inline data is on in the inline fixture (small files and dirs).
        let ino = lookup(EXT4, "/usr/share/fragments.bin");
        let at = inode_at(EXT4, ino);
        assert_eq!(
            &EXT4[at + 0x28..at + 0x30],
            b"\x0a\xf3\x01\x00\x04\x00\x01\x00"
        );
        let ino = lookup(INLINE, "/etc/hostname");
        let at = inode_at(INLINE, ino);
        let flags = le32(INLINE, at + 0x20).unwrap();
        assert_ne!(flags & FLAG_INLINE_DATA, 0);
        let ino = lookup(INLINE, "/bin");
        let flags = le32(INLINE, inode_at(INLINE, ino) + 0x20).unwrap();
        assert_ne!(flags & FLAG_INLINE_DATA, 0);
        // ext2's many/ directory is an htree (indexed) directory.
        let ino = lookup(EXT2, "/usr/share/many");
        let flags = le32(EXT2, inode_at(EXT2, ino) + 0x20).unwrap();
        assert_ne!(flags & 0x1000, 0, "htree flag");
    }

    #[test]
    fn triple_indirect_blocks_are_followed() {
        // sparse.bin's inode gets a triple-indirect chain T -> D -> I -> data
        // in four free blocks, and a size reaching past the double-indirect range.
        let mut image = EXT2.to_vec();
        let at = inode_at(&image, lookup(EXT2, "/usr/share/sparse.bin"));
        let (t, d, i, data) = (630u32, 631u32, 632u32, 633u32);
        for b in [t, d, i, data] {
            let block = &mut image[b as usize * 1024..(b as usize + 1) * 1024];
            assert!(block.iter().all(|&x| x == 0), "block {b} is in use");
        }
        image[t as usize * 1024..][..4].copy_from_slice(&d.to_le_bytes());
        image[d as usize * 1024..][..4].copy_from_slice(&i.to_le_bytes());
        image[i as usize * 1024..][..4].copy_from_slice(&data.to_le_bytes());
        image[data as usize * 1024..][..1024].fill(b'Z');
        image[at + 0x28 + 14 * 4..][..4].copy_from_slice(&t.to_le_bytes());
        let first_triple = 12 + 256 + 256 * 256;
        let size = (first_triple + 1) * 1024u32;
        image[at + 4..at + 8].copy_from_slice(&size.to_le_bytes());
        let out = read(&image);
        assert!(out.notes.is_empty(), "{}", errors(&out));
        let sparse = file(&out, "usr/share/sparse.bin");
        assert_eq!(sparse.len(), size as usize);
        assert!(
            sparse[first_triple as usize * 1024..]
                .iter()
                .all(|&b| b == b'Z')
        );
        assert!(sparse[300 * 1024..301 * 1024].iter().all(|&b| b == b'C'));
        assert!(
            sparse[302 * 1024..first_triple as usize * 1024]
                .iter()
                .all(|&b| b == 0)
        );
    }

    #[test]
    fn chance_magic_and_backup_superblocks_are_not_ext() {
        let mut noise = vec![0x5au8; 4096];
        noise[MAGIC_AT..MAGIC_AT + 2].copy_from_slice(b"\x53\xef");
        assert_eq!(
            Ext.extract(&noise, &mut Budget::new(Limits::default()))
                .unwrap_err(),
            Rejection::NotThisFormat
        );
        // Group 1's backup superblock (block 8193 on a 1 KiB-block file
        // system) says so in s_block_group_nr; a copy of the primary marked
        // that way is refused.
        let mut backup = EXT4[..4096].to_vec();
        backup[SB_AT + 0x5A] = 1;
        assert_eq!(
            Ext.extract(&backup, &mut Budget::new(Limits::default()))
                .unwrap_err(),
            Rejection::NotThisFormat
        );
        // Inode count that does not match the groups.
        let mut odd = EXT4.to_vec();
        odd[SB_AT] ^= 1;
        assert_eq!(
            Ext.extract(&odd, &mut Budget::new(Limits::default()))
                .unwrap_err(),
            Rejection::NotThisFormat
        );
    }

    #[test]
    fn a_directory_cycle_is_descended_once() {
        // /usr/share/many made to name the root directory's inode.
        let mut image = EXT4.to_vec();
        let at = image.windows(6).position(|w| w == b"\x04\x02many").unwrap() - 6;
        image[at..at + 4].copy_from_slice(&ROOT_INO.to_le_bytes());
        let out = read(&image);
        assert!(
            errors(&out).contains("usr/share/many is directory inode 2 again"),
            "{}",
            errors(&out)
        );
        assert!(out.entries.len() < 120);
    }

    #[test]
    fn extent_loops_and_huge_claims_are_errors_not_allocations() {
        let ino = lookup(EXT4, "/usr/share/fragments.bin");
        let at = inode_at(EXT4, ino);
        let root = at + 0x28;
        // Two index entries naming the same leaf block: a loop.
        let mut image = EXT4.to_vec();
        image[root + 2] = 2;
        let first = image[root + 12..root + 24].to_vec();
        image[root + 24..root + 36].copy_from_slice(&first);
        let out = read(&image);
        assert!(errors(&out).contains("twice (a loop)"), "{}", errors(&out));
        // An index entry that names its own inode's table block, not an extent node.
        let mut image = EXT4.to_vec();
        image[root + 16..root + 20].copy_from_slice(&1u32.to_le_bytes());
        let out = read(&image);
        assert!(errors(&out).contains("fragments.bin"), "{}", errors(&out));
        // A size of 1 TiB: a limit, nothing allocated.
        let mut image = EXT4.to_vec();
        image[at + 0x6C..at + 0x70].copy_from_slice(&256u32.to_le_bytes());
        let out = read(&image);
        assert!(
            out.notes
                .iter()
                .any(|n| matches!(n, Problem::Limit(m) if m.contains("fragments.bin"))),
            "{}",
            errors(&out)
        );
        // A leaf extent of 32767 blocks in a 640-block file system.
        let ino = lookup(EXT4, "/usr/share/big.txt");
        let root = inode_at(EXT4, ino) + 0x28;
        let mut image = EXT4.to_vec();
        assert_eq!(&image[root..root + 8], b"\x0a\xf3\x01\x00\x04\x00\x00\x00");
        image[root + 16..root + 18].copy_from_slice(&32767u16.to_le_bytes());
        let out = read(&image);
        assert!(errors(&out).contains("big.txt"), "{}", errors(&out));
    }

    #[test]
    fn truncated_images_keep_what_is_present() {
        let cut = &EXT4[..EXT4.len() / 2];
        let out = read(cut);
        assert!(errors(&out).contains("truncated"), "{}", errors(&out));
        assert_eq!(out.size, cut.len() as u64);
        for cut in (0..EXT2.len()).step_by(4099) {
            let _ = Ext.extract(&EXT2[..cut], &mut Budget::new(Limits::default()));
        }
    }

    #[test]
    fn entry_count_and_sizes_draw_from_the_budget() {
        let limits = Limits {
            max_entries: 10,
            ..Limits::default()
        };
        let out = Ext.extract(EXT4, &mut Budget::new(limits)).unwrap();
        assert_eq!(out.entries.len(), 10);
        assert!(
            errors(&out)
                .contains("ext: the entry bound (10 entries, --max-entries) reached; the rest of its entries were skipped"),
            "{}",
            errors(&out)
        );
        let limits = Limits {
            max_file_size: 10_000,
            ..Limits::default()
        };
        let out = Ext.extract(EXT4, &mut Budget::new(limits)).unwrap();
        assert!(out.entries.iter().all(|e| e.data.len() <= 10_000));
        assert!(errors(&out).contains(
            "big.txt: 11160 bytes reach the file size bound (10000 bytes, --max-file-size); skipped"
        ));
    }
}
