//! squashfs 2.x and 3.x, little or big endian, with the block codecs vendors
//! put in them: zlib (the only one upstream knew), raw LZMA behind Oleg
//! Vdovikin's zlib shim (OpenWrt/Linksys 2.x-3.0), sqlzma's `.lzma`-headed
//! blocks mixed with zlib (magic `shsq`), DD-WRT's 4-byte pb/lc/lp header
//! (magic `hsqt`), and other raw LZMA settings found by trying them on the
//! first metadata block, as sasquatch does. backhand reads only 4.0.
//!
//! Layouts follow squashfs-tools' `squashfs_compat.h`: structures are packed
//! bit fields, allocated from the least significant bit in little-endian
//! images and from the most significant bit in big-endian ones, so every
//! field is read through [`Fields::get`] with its bit position.
//!
//! The inode and directory tables are decoded whole (each is a run of
//! metadata blocks of at most 8 KiB), then the tree is walked from the root
//! inode; every directory inode is entered once, so a loop ends with a note.

use super::{Entry, Extracted, Format, Notes, Problem, Rejection};
use crate::unpack::compress;
use crate::unpack::limits::Budget;
use crate::unpack::tree::{EntryKind, Meta};
use std::collections::{HashMap, HashSet};

/// The vendor-magic row (`shsq` sqlzma, `hsqt` DD-WRT and their swaps);
/// images with the standard magics come through [`super::squashfs`].
pub struct SquashfsVendor;

const SUPERBLOCK_LEN: usize = 119;
const METADATA_SIZE: usize = 8192;
/// `uid`/`guid` index meaning "the group is the uid" (`SQUASHFS_GUIDS`).
const GUID_IS_UID: u32 = 255;
const INVALID_FRAG: u32 = 0xffff_ffff;
/// Bit 24 of a data block or fragment size: stored uncompressed.
const UNCOMPRESSED_BLOCK: u32 = 1 << 24;
/// A metadata table may decode to at most this (a 4 GiB image's inode table
/// is far smaller); a larger claim is a corrupt or hostile image.
const MAX_TABLE: usize = 64 << 20;

impl Format for SquashfsVendor {
    fn name(&self) -> &'static str {
        "squashfs"
    }

    fn magics(&self) -> &'static [&'static [u8]] {
        &[b"shsq", b"qshs", b"hsqt", b"tqsh"]
    }

    fn declared_len(&self, data: &[u8]) -> Option<u64> {
        Superblock::parse(data).map(|sb| sb.bytes_used)
    }

    fn extract(&self, data: &[u8], budget: &mut Budget) -> Result<Extracted, Rejection> {
        extract(data, budget)
    }
}

/// Reads packed bit fields in the image's byte order.
#[derive(Clone, Copy)]
struct Fields<'a> {
    bytes: &'a [u8],
    big_endian: bool,
}

impl<'a> Fields<'a> {
    /// `len` bits (at most 64) starting `pos` bits into the structure.
    fn get(&self, pos: usize, len: usize) -> Option<u64> {
        let first = pos / 8;
        let shift = pos % 8;
        let nbytes = (shift + len).div_ceil(8);
        let raw = self.bytes.get(first..first + nbytes)?;
        let mut v: u128 = 0;
        if self.big_endian {
            for &b in raw {
                v = (v << 8) | u128::from(b);
            }
            v >>= nbytes * 8 - shift - len;
        } else {
            for &b in raw.iter().rev() {
                v = (v << 8) | u128::from(b);
            }
            v >>= shift;
        }
        let mask = if len == 64 {
            u128::from(u64::MAX)
        } else {
            (1u128 << len) - 1
        };
        Some((v & mask) as u64)
    }

    fn u16(&self, byte: usize) -> Option<u16> {
        self.get(byte * 8, 16).map(|v| v as u16)
    }

    fn u32(&self, byte: usize) -> Option<u32> {
        self.get(byte * 8, 32).map(|v| v as u32)
    }

    fn u64(&self, byte: usize) -> Option<u64> {
        self.get(byte * 8, 64)
    }
}

/// What a vendor magic says about the image (it never changes the layout).
fn variant(magic: &[u8]) -> Option<&'static str> {
    Some(match magic {
        b"hsqs" | b"sqsh" => "",
        b"shsq" | b"qshs" => "sqlzma magic",
        b"hsqt" | b"tqsh" => "DD-WRT magic",
        _ => return None,
    })
}

/// The 2.x/3.x superblock, with the 2.x 32-bit table pointers already chosen.
#[derive(Debug)]
struct Superblock {
    big_endian: bool,
    magic: [u8; 4],
    inodes: u32,
    major: u16,
    minor: u16,
    block_size: u32,
    block_log: u16,
    flags: u8,
    no_uids: u8,
    no_guids: u8,
    root_inode: u64,
    fragments: u32,
    bytes_used: u64,
    uid_start: u64,
    guid_start: u64,
    inode_table: u64,
    dir_table: u64,
    fragment_table: u64,
    lookup_table: Option<u64>,
}

impl Superblock {
    fn parse(data: &[u8]) -> Option<Superblock> {
        let raw = data.get(..SUPERBLOCK_LEN)?;
        variant(&raw[..4])?;
        // Vendors change the magic, not the layout: the byte order is the
        // one in which the major version reads 2 or 3.
        let le = u16::from_le_bytes([raw[28], raw[29]]);
        let be = u16::from_be_bytes([raw[28], raw[29]]);
        let big_endian = match (le, be) {
            (1..=3, _) => false,
            (_, 1..=3) => true,
            _ => return None,
        };
        let f = Fields {
            bytes: raw,
            big_endian,
        };
        let major = f.u16(28)?;
        let v2 = major < 3;
        let mut magic = [0u8; 4];
        magic.copy_from_slice(&raw[..4]);
        Some(Superblock {
            big_endian,
            magic,
            inodes: f.u32(4)?,
            major,
            minor: f.u16(30)?,
            block_log: f.u16(34)?,
            flags: raw[36],
            no_uids: raw[37],
            no_guids: raw[38],
            root_inode: f.u64(43)?,
            block_size: f.u32(51)?,
            fragments: f.u32(55)?,
            bytes_used: if v2 { f.u32(8)?.into() } else { f.u64(63)? },
            uid_start: if v2 { f.u32(12)?.into() } else { f.u64(71)? },
            guid_start: if v2 { f.u32(16)?.into() } else { f.u64(79)? },
            inode_table: if v2 { f.u32(20)?.into() } else { f.u64(87)? },
            dir_table: if v2 { f.u32(24)?.into() } else { f.u64(95)? },
            fragment_table: if v2 { f.u32(59)?.into() } else { f.u64(103)? },
            lookup_table: match (v2, f.u64(111)?) {
                (false, at) if at != u64::MAX && minor_has_lookup(f.u16(30)?) => Some(at),
                _ => None,
            },
        })
    }

    fn check(&self, available: u64) -> Result<(), String> {
        let mut faults = Vec::new();
        if !(4096..=1 << 20).contains(&self.block_size) || !self.block_size.is_power_of_two() {
            faults.push(format!(
                "block_size {} is not a power of two between 4 KiB and 1 MiB",
                self.block_size
            ));
        } else if u32::from(self.block_log) >= 32 || 1u32 << self.block_log != self.block_size {
            faults.push(format!(
                "block_log {} does not match block_size {}",
                self.block_log, self.block_size
            ));
        }
        if self.inodes == 0 {
            faults.push("inode count is 0".into());
        }
        if self.no_uids == 0 {
            faults.push("uid count is 0".into());
        }
        for (name, at) in [
            ("inode_table", self.inode_table),
            ("directory_table", self.dir_table),
            ("uid_table", self.uid_start),
        ] {
            if at >= self.bytes_used || at < SUPERBLOCK_LEN as u64 {
                faults.push(format!(
                    "{name} start {at:#x} is outside the image (bytes_used {:#x})",
                    self.bytes_used
                ));
            }
        }
        if self.inode_table >= self.dir_table {
            faults.push("inode table does not precede the directory table".into());
        }
        if faults.is_empty() && self.bytes_used > available {
            faults.push(format!(
                "image is truncated: superblock says {} bytes, only {available} present",
                self.bytes_used
            ));
        }
        if faults.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "squashfs {}.{} superblock: {}",
                self.major,
                self.minor,
                faults.join("; ")
            ))
        }
    }

    fn v2(&self) -> bool {
        self.major < 3
    }

    /// `SQUASHFS_CHECK`: a marker byte follows each metadata block's length.
    fn check_data(&self) -> bool {
        self.flags & 4 != 0
    }
}

/// 3.1 added the NFS export (inode lookup) table; 3.0 left the field unset.
fn minor_has_lookup(minor: u16) -> bool {
    minor >= 1
}

/// Reads a squashfs 2.x or 3.x image (any of the magics in [`variant`]).
pub fn extract(data: &[u8], budget: &mut Budget) -> Result<Extracted, Rejection> {
    let sb = Superblock::parse(data).ok_or(Rejection::NotThisFormat)?;
    if sb.major == 1 {
        return Err(Rejection::Corrupt(format!(
            "squashfs 1.{} is not supported",
            sb.minor
        )));
    }
    if sb.minor > 1 {
        return Err(Rejection::NotThisFormat);
    }
    sb.check(data.len() as u64).map_err(Rejection::Corrupt)?;
    let image = &data[..sb.bytes_used as usize];
    let mut reader = Reader {
        image,
        sb: &sb,
        codec: Codecs::default(),
        fragments: Vec::new(),
        fragment_cache: HashMap::new(),
        uids: Vec::new(),
        guids: Vec::new(),
    };
    let mut notes = Notes::default();
    // Sparse blocks and shared fragments cost nothing to store: the layer as
    // a whole is held to the ratio bound.
    budget.bound_layer(image.len() as u64);
    reader.read_ids(&mut notes);
    let frag_blocks = reader.read_fragment_table(&mut notes);
    // Each table runs until the next one starts.
    let mut starts: Vec<u64> = vec![sb.uid_start, sb.bytes_used, sb.fragment_table];
    if sb.no_guids > 0 {
        starts.push(sb.guid_start);
    }
    starts.extend(sb.lookup_table);
    starts.extend(frag_blocks);
    let end_of = |start: u64| {
        starts
            .iter()
            .copied()
            .filter(|&s| s > start)
            .min()
            .unwrap_or(sb.bytes_used)
    };
    let inodes = reader
        .read_table(sb.inode_table, sb.dir_table)
        .map_err(|e| Rejection::Corrupt(format!("squashfs inode table: {e}")))?;
    let dirs = match reader.read_table(sb.dir_table, end_of(sb.dir_table)) {
        Ok(t) => t,
        Err(e) => {
            notes.push(Problem::Error(format!("squashfs directory table: {e}")));
            Table::default()
        }
    };
    let mut out = Extracted {
        size: sb.bytes_used,
        filesystem: true,
        ..Default::default()
    };
    reader.walk(&inodes, &dirs, budget, &mut out.entries, &mut notes);
    let kind = variant(&sb.magic).unwrap_or("");
    out.detail = Some(format!(
        "squashfs {}.{} {}, {} compression{}, block size {}",
        sb.major,
        sb.minor,
        if sb.big_endian {
            "big-endian"
        } else {
            "little-endian"
        },
        reader.codec.describe(),
        if kind.is_empty() {
            String::new()
        } else {
            format!(" ({kind} `{}`)", String::from_utf8_lossy(&sb.magic))
        },
        sb.block_size
    ));
    notes.finish("squashfs", &mut out.notes);
    Ok(out)
}

/// A decoded metadata table: the bytes, and where each block (by its offset
/// from the table start, as inode and directory references name it) begins.
#[derive(Default)]
struct Table {
    bytes: Vec<u8>,
    blocks: HashMap<u64, usize>,
}

impl Table {
    fn at(&self, block: u64, offset: usize) -> Option<&[u8]> {
        let start = self.blocks.get(&block)?.checked_add(offset)?;
        self.bytes.get(start..)
    }
}

struct Reader<'a> {
    image: &'a [u8],
    sb: &'a Superblock,
    codec: Codecs,
    fragments: Vec<(u64, u32)>,
    fragment_cache: HashMap<usize, Result<Vec<u8>, String>>,
    uids: Vec<u32>,
    guids: Vec<u32>,
}

/// One inode, as much of it as the walk needs.
enum Inode {
    Dir {
        size: u64,
        start: u64,
        offset: usize,
    },
    File {
        size: u64,
        start: u64,
        fragment: u32,
        frag_offset: u32,
        /// Where the block list starts in the inode table's bytes.
        blocks_at: usize,
    },
    Symlink(String),
    Special,
}

impl<'a> Reader<'a> {
    fn fields(&self, bytes: &'a [u8]) -> Fields<'a> {
        Fields {
            bytes,
            big_endian: self.sb.big_endian,
        }
    }

    fn read_ids(&mut self, notes: &mut Notes) {
        let (image, big_endian) = (self.image, self.sb.big_endian);
        let read = |start: u64, count: u8| -> Option<Vec<u32>> {
            let at = usize::try_from(start).ok()?;
            let f = Fields {
                bytes: image.get(at..at + 4 * usize::from(count))?,
                big_endian,
            };
            (0..usize::from(count)).map(|i| f.u32(i * 4)).collect()
        };
        match read(self.sb.uid_start, self.sb.no_uids) {
            Some(v) => self.uids = v,
            None => notes.push(Problem::Error(format!(
                "squashfs uid table at {:#x} is past the end",
                self.sb.uid_start
            ))),
        }
        if self.sb.no_guids > 0 {
            match read(self.sb.guid_start, self.sb.no_guids) {
                Some(v) => self.guids = v,
                None => notes.push(Problem::Error(format!(
                    "squashfs gid table at {:#x} is past the end",
                    self.sb.guid_start
                ))),
            }
        }
    }

    /// Reads the fragment table; returns where its metadata blocks start
    /// (they end the directory table).
    fn read_fragment_table(&mut self, notes: &mut Notes) -> Vec<u64> {
        let count = self.sb.fragments as usize;
        if count == 0 {
            return Vec::new();
        }
        let (entry_len, index_len) = if self.sb.v2() { (8, 4) } else { (16, 8) };
        let bytes = count.saturating_mul(entry_len);
        let indexes = bytes.div_ceil(METADATA_SIZE);
        if count > self.sb.inodes as usize || bytes > MAX_TABLE {
            notes.push(Problem::Error(format!(
                "squashfs fragment count {count} exceeds the inode count; fragments unreadable"
            )));
            return Vec::new();
        }
        let Some(index) = usize::try_from(self.sb.fragment_table)
            .ok()
            .and_then(|at| self.image.get(at..at + indexes * index_len))
        else {
            notes.push(Problem::Error(format!(
                "squashfs fragment index at {:#x} is past the end",
                self.sb.fragment_table
            )));
            return Vec::new();
        };
        let f = self.fields(index);
        let starts: Vec<u64> = (0..indexes)
            .filter_map(|i| {
                if index_len == 4 {
                    f.u32(i * 4).map(u64::from)
                } else {
                    f.u64(i * 8)
                }
            })
            .collect();
        let mut table = Vec::with_capacity(bytes);
        for &start in &starts {
            match self.metadata_block(start) {
                Ok((block, _)) => table.extend_from_slice(&block),
                Err(e) => {
                    notes.push(Problem::Error(format!(
                        "squashfs fragment table block at {start:#x}: {e}"
                    )));
                    break;
                }
            }
        }
        let f = self.fields(&table);
        self.fragments = (0..count)
            .map_while(|i| {
                let at = i * entry_len;
                if self.sb.v2() {
                    Some((u64::from(f.u32(at)?), f.u32(at + 4)?))
                } else {
                    Some((f.u64(at)?, f.u32(at + 8)?))
                }
            })
            .collect();
        starts
    }

    /// One metadata block at `at`: its decoded bytes and where the next starts.
    fn metadata_block(&mut self, at: u64) -> Result<(Vec<u8>, u64), String> {
        let pos = usize::try_from(at).map_err(|_| format!("block at {at:#x} is past the end"))?;
        let head = self
            .image
            .get(pos..pos + 2)
            .ok_or_else(|| format!("block at {at:#x} is past the end"))?;
        let word = self.fields(head).u16(0).unwrap_or(0);
        let stored = word & 0x8000 != 0;
        let len = match word & 0x7fff {
            0 => 0x8000,
            n => usize::from(n),
        };
        let skip = if self.sb.check_data() { 3 } else { 2 };
        let body = self
            .image
            .get(pos + skip..pos + skip + len)
            .ok_or_else(|| format!("block at {at:#x} ({len} bytes) runs past the end"))?;
        let next = (pos + skip + len) as u64;
        if stored {
            if len > METADATA_SIZE {
                return Err(format!("stored block at {at:#x} is {len} bytes"));
            }
            return Ok((body.to_vec(), next));
        }
        let data = self
            .codec
            .decode(body, METADATA_SIZE, None)
            .map_err(|e| format!("block at {at:#x}: {e}"))?;
        Ok((data, next))
    }

    /// Decodes the metadata blocks from `start` until `end`.
    fn read_table(&mut self, start: u64, end: u64) -> Result<Table, String> {
        let mut table = Table::default();
        let mut at = start;
        while at < end {
            if table.bytes.len() > MAX_TABLE {
                return Err(format!("table passes {MAX_TABLE} bytes"));
            }
            match self.metadata_block(at) {
                Ok((block, next)) => {
                    table.blocks.insert(at - start, table.bytes.len());
                    table.bytes.extend_from_slice(&block);
                    at = next;
                }
                // A table read so far is still usable: entries past the
                // break will say they are unreadable.
                Err(e) if !table.bytes.is_empty() => {
                    let _ = e;
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(table)
    }

    fn inode(&self, table: &'a Table, block: u64, offset: usize) -> Result<(Inode, Meta), String> {
        let at = || format!("inode {block:#x}:{offset:#x}");
        let raw = table
            .at(block, offset)
            .ok_or_else(|| format!("{} is outside the inode table", at()))?;
        let base = table.blocks[&block] + offset;
        let f = self.fields(raw);
        let short = || format!("{} is truncated", at());
        let kind = f.get(0, 4).ok_or_else(short)? as u8;
        let mode = f.get(4, 12).ok_or_else(short)? as u32;
        let uid_index = f.get(16, 8).ok_or_else(short)? as u32;
        let gid_index = f.get(24, 8).ok_or_else(short)? as u32;
        let uid = self.uids.get(uid_index as usize).copied().unwrap_or(0);
        let gid = if gid_index == GUID_IS_UID {
            uid
        } else {
            self.guids.get(gid_index as usize).copied().unwrap_or(0)
        };
        let meta = Meta::new(mode, uid, gid);
        let v2 = self.sb.v2();
        // 3.x inodes carry mtime and inode number after the 4-byte base.
        let b = if v2 { 4 } else { 12 };
        let inode = match (kind, v2) {
            (1, true) => Inode::Dir {
                size: f.get(32, 19).ok_or_else(short)?,
                offset: f.get(51, 13).ok_or_else(short)? as usize,
                start: f.get(96, 24).ok_or_else(short)?,
            },
            (1, false) => Inode::Dir {
                // nlink, then size:19, offset:13, start_block, parent
                size: f.get(128, 19).ok_or_else(short)?.saturating_sub(3),
                offset: f.get(147, 13).ok_or_else(short)? as usize,
                start: f.u32(20).ok_or_else(short)?.into(),
            },
            (8, true) => Inode::Dir {
                size: f.get(32, 27).ok_or_else(short)?,
                offset: f.get(59, 13).ok_or_else(short)? as usize,
                start: f.get(104, 24).ok_or_else(short)?,
            },
            (8, false) => Inode::Dir {
                size: f.get(128, 27).ok_or_else(short)?.saturating_sub(3),
                offset: f.get(155, 13).ok_or_else(short)? as usize,
                start: f.get(168, 32).ok_or_else(short)?,
            },
            (2, true) => Inode::File {
                start: f.u32(8).ok_or_else(short)?.into(),
                fragment: f.u32(12).ok_or_else(short)?,
                frag_offset: f.u32(16).ok_or_else(short)?,
                size: f.u32(20).ok_or_else(short)?.into(),
                blocks_at: base + 24,
            },
            (2, false) => Inode::File {
                start: f.u64(12).ok_or_else(short)?,
                fragment: f.u32(20).ok_or_else(short)?,
                frag_offset: f.u32(24).ok_or_else(short)?,
                size: f.u32(28).ok_or_else(short)?.into(),
                blocks_at: base + 32,
            },
            (9, false) => Inode::File {
                start: f.u64(16).ok_or_else(short)?,
                fragment: f.u32(24).ok_or_else(short)?,
                frag_offset: f.u32(28).ok_or_else(short)?,
                size: f.u64(32).ok_or_else(short)?,
                blocks_at: base + 40,
            },
            (3, _) => {
                let len_at = if v2 { b } else { b + 4 };
                let len = usize::from(f.u16(len_at).ok_or_else(short)?);
                let target = raw.get(len_at + 2..len_at + 2 + len).ok_or_else(short)?;
                Inode::Symlink(String::from_utf8_lossy(target).into_owned())
            }
            (4..=7, _) => Inode::Special,
            _ => return Err(format!("{} has unknown type {kind}", at())),
        };
        Ok((inode, meta))
    }

    fn walk(
        &mut self,
        inodes: &Table,
        dirs: &Table,
        budget: &mut Budget,
        entries: &mut Vec<Entry>,
        notes: &mut Notes,
    ) {
        let root = self.sb.root_inode;
        let mut pending: Vec<(u64, usize, String)> =
            vec![(root >> 16, (root & 0xffff) as usize, String::new())];
        let mut seen: HashSet<(u64, usize)> = HashSet::new();
        let mut limit_noted = false;
        while let Some((block, offset, dir)) = pending.pop() {
            if !seen.insert((block, offset)) {
                notes.push(Problem::Error(format!(
                    "squashfs: /{dir} is entered twice (a directory loop); skipped"
                )));
                continue;
            }
            let (size, start, dir_offset) = match self.inode(inodes, block, offset) {
                Ok((
                    Inode::Dir {
                        size,
                        start,
                        offset,
                    },
                    _,
                )) => (size, start, offset),
                Ok(_) => {
                    notes.push(Problem::Error(format!(
                        "squashfs: /{dir} is not a directory inode"
                    )));
                    continue;
                }
                Err(e) => {
                    notes.push(Problem::Error(format!("squashfs: /{dir}: {e}")));
                    continue;
                }
            };
            let listing = match self.dir_entries(dirs, start, dir_offset, size) {
                Ok(l) => l,
                Err((partial, e)) => {
                    notes.push(Problem::Error(format!("squashfs: /{dir}: {e}")));
                    partial
                }
            };
            let mut subdirs = Vec::new();
            for (name, iblock, ioffset) in listing {
                if let Err(bound) = budget.entry() {
                    if !limit_noted {
                        notes.push(Problem::Limit(format!(
                            "squashfs: {bound} reached; the rest of its entries were skipped"
                        )));
                        limit_noted = true;
                    }
                    break;
                }
                let path = if dir.is_empty() {
                    name
                } else {
                    format!("{dir}/{name}")
                };
                let (inode, meta) = match self.inode(inodes, iblock, ioffset) {
                    Ok(i) => i,
                    Err(e) => {
                        notes.push(Problem::Error(format!("squashfs: /{path}: {e}")));
                        continue;
                    }
                };
                let (kind, data) = match inode {
                    Inode::Dir { .. } => {
                        subdirs.push((iblock, ioffset, path.clone()));
                        (EntryKind::Dir, Vec::new())
                    }
                    Inode::Symlink(target) => (EntryKind::Symlink(target), Vec::new()),
                    Inode::Special => (EntryKind::Special, Vec::new()),
                    Inode::File {
                        size,
                        start,
                        fragment,
                        frag_offset,
                        blocks_at,
                    } => {
                        if let Err(bound) = budget.charge_file(size) {
                            notes.push(Problem::Limit(format!(
                                "squashfs: /{path}: {size} bytes reach {bound}; skipped"
                            )));
                            continue;
                        }
                        match self.file(inodes, size, start, fragment, frag_offset, blocks_at) {
                            Ok(d) => (EntryKind::File, d),
                            Err(e) => {
                                notes.push(Problem::Error(format!(
                                    "squashfs: /{path}: data unreadable: {e}"
                                )));
                                continue;
                            }
                        }
                    }
                };
                entries.push(Entry {
                    path,
                    kind,
                    data,
                    meta: Some(meta),
                });
            }
            // Popped last-in first: reversed so subdirectories come in order.
            pending.extend(subdirs.into_iter().rev());
        }
    }

    /// The (name, inode block, inode offset) entries of one directory; on a
    /// fault, the entries read so far and the reason.
    #[allow(clippy::type_complexity)]
    fn dir_entries(
        &self,
        dirs: &Table,
        start: u64,
        offset: usize,
        size: u64,
    ) -> Result<Vec<(String, u64, usize)>, (Vec<(String, u64, usize)>, String)> {
        let mut out = Vec::new();
        if size == 0 {
            return Ok(out);
        }
        let Some(raw) = dirs.at(start, offset) else {
            return Err((
                out,
                format!("directory listing {start:#x}:{offset:#x} is outside the directory table"),
            ));
        };
        let size = size as usize;
        let Some(raw) = raw.get(..size) else {
            return Err((
                out,
                format!("directory listing {start:#x}:{offset:#x} runs past the table"),
            ));
        };
        let f = self.fields(raw);
        let v2 = self.sb.v2();
        let (header_len, entry_len) = if v2 { (4, 3) } else { (9, 5) };
        let mut at = 0;
        while at < size {
            let short = || format!("directory listing {start:#x}:{offset:#x} is truncated");
            let Some(count) = f.get(at * 8, 8) else {
                return Err((out, short()));
            };
            let block = if v2 {
                f.get(at * 8 + 8, 24)
            } else {
                f.u32(at + 1).map(u64::from)
            };
            let Some(block) = block else {
                return Err((out, short()));
            };
            at += header_len;
            for _ in 0..=count {
                let (Some(ioffset), Some(name_len)) = (f.get(at * 8, 13), f.get(at * 8 + 16, 8))
                else {
                    return Err((out, short()));
                };
                let name_at = at + entry_len;
                let Some(name) = raw.get(name_at..name_at + name_len as usize + 1) else {
                    return Err((out, short()));
                };
                at = name_at + name.len();
                if name.contains(&b'/') || name == b"." || name == b".." {
                    return Err((
                        out,
                        format!(
                            "directory entry named {:?}; rest of the directory skipped",
                            String::from_utf8_lossy(name)
                        ),
                    ));
                }
                out.push((
                    String::from_utf8_lossy(name).into_owned(),
                    block,
                    ioffset as usize,
                ));
            }
        }
        Ok(out)
    }

    fn file(
        &mut self,
        inodes: &Table,
        size: u64,
        start: u64,
        fragment: u32,
        frag_offset: u32,
        blocks_at: usize,
    ) -> Result<Vec<u8>, String> {
        let bs = u64::from(self.sb.block_size);
        let (blocks, tail) = if fragment == INVALID_FRAG {
            (size.div_ceil(bs), 0)
        } else {
            (size / bs, size % bs)
        };
        let list = inodes
            .bytes
            .get(blocks_at..)
            .and_then(|b| b.get(..usize::try_from(blocks).ok()?.checked_mul(4)?))
            .ok_or("block list runs past the inode table")?;
        let list = self.fields(list);
        let mut data = Vec::with_capacity(size as usize);
        let mut at = start;
        for i in 0..blocks as usize {
            let word = list.u32(i * 4).unwrap_or(0);
            let want = (size - data.len() as u64).min(bs) as usize;
            let len = u64::from(word & !UNCOMPRESSED_BLOCK);
            if len == 0 {
                // A hole: a block of zeros that was not stored.
                data.resize(data.len() + want, 0);
                continue;
            }
            let body = usize::try_from(at)
                .ok()
                .and_then(|p| self.image.get(p..p.checked_add(len as usize)?))
                .ok_or_else(|| format!("block {i} at {at:#x} runs past the end"))?;
            if word & UNCOMPRESSED_BLOCK != 0 {
                data.extend_from_slice(&body[..want.min(body.len())]);
            } else {
                let block = self
                    .codec
                    .decode(body, self.sb.block_size as usize, Some(want))
                    .map_err(|e| format!("block {i} at {at:#x}: {e}"))?;
                data.extend_from_slice(&block[..want.min(block.len())]);
            }
            at += len;
        }
        if tail > 0 {
            let block = self.fragment(fragment as usize)?;
            let from = frag_offset as usize;
            let piece = block
                .get(from..from + tail as usize)
                .ok_or_else(|| format!("fragment {fragment} is shorter than the file's tail"))?;
            data.extend_from_slice(piece);
        }
        if data.len() as u64 != size {
            return Err(format!("read {} of {size} bytes", data.len()));
        }
        Ok(data)
    }

    fn fragment(&mut self, index: usize) -> Result<&[u8], String> {
        if !self.fragment_cache.contains_key(&index) {
            let decoded = match self.fragments.get(index) {
                None => Err(format!("fragment {index} is not in the fragment table")),
                Some(&(start, word)) => {
                    let len = (word & !UNCOMPRESSED_BLOCK) as usize;
                    match usize::try_from(start)
                        .ok()
                        .and_then(|p| self.image.get(p..p.checked_add(len)?))
                    {
                        None => Err(format!("fragment {index} at {start:#x} runs past the end")),
                        Some(body) if word & UNCOMPRESSED_BLOCK != 0 => Ok(body.to_vec()),
                        Some(body) => self
                            .codec
                            .decode(body, self.sb.block_size as usize, None)
                            .map_err(|e| format!("fragment {index} at {start:#x}: {e}")),
                    }
                }
            };
            // A hostile image cannot grow the cache past one copy of each
            // fragment block, and there are at most `inodes` of those.
            self.fragment_cache.insert(index, decoded);
        }
        match &self.fragment_cache[&index] {
            Ok(b) => Ok(b),
            Err(e) => Err(e.clone()),
        }
    }
}

/// The LZMA settings a vendor's blocks were written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lzma {
    /// A 13-byte `.lzma` header on every block (sqlzma, 4.0's lzma).
    Alone,
    /// Raw LZMA after `skip` bytes with fixed properties (lc, lp, pb).
    Raw { skip: usize, lc: u8, lp: u8, pb: u8 },
    /// DD-WRT: pb, lc, lp in the first bytes, LZMA from the fourth.
    DdWrt,
}

/// The codecs met so far; LZMA settings are found once, on the first block
/// that is not zlib, and then used for every block.
#[derive(Default)]
struct Codecs {
    zlib: bool,
    lzma: Option<Lzma>,
    /// Set when no LZMA setting decoded the first non-zlib block.
    failed: bool,
}

impl Codecs {
    fn describe(&self) -> String {
        let lzma = match self.lzma {
            None => None,
            Some(Lzma::Alone) => Some("lzma (.lzma headers)".to_string()),
            Some(Lzma::DdWrt) => Some("lzma (pb/lc/lp header)".to_string()),
            Some(Lzma::Raw { skip, lc, lp, pb }) => Some(format!(
                "lzma (raw, lc={lc} lp={lp} pb={pb}{})",
                if skip > 0 {
                    format!(", after {skip} bytes")
                } else {
                    String::new()
                }
            )),
        };
        match (self.zlib, lzma) {
            (true, Some(l)) => format!("gzip and {l}"),
            (false, Some(l)) => l,
            _ => "gzip".to_string(),
        }
    }

    /// Decodes one block of at most `max` bytes (`exact` when known).
    fn decode(&mut self, body: &[u8], max: usize, exact: Option<usize>) -> Result<Vec<u8>, String> {
        if looks_like_zlib(body) {
            let d = compress::zlib(body, max as u64);
            if d.error.is_none() && !d.capped {
                self.zlib = true;
                return Ok(d.data);
            }
            if self.lzma.is_none() {
                return Err(format!(
                    "zlib: {}",
                    d.error.unwrap_or_else(|| format!("more than {max} bytes"))
                ));
            }
        }
        if let Some(setting) = self.lzma {
            return lzma(setting, body, max, exact);
        }
        if self.failed {
            return Err("no known LZMA setting decodes this image's blocks".into());
        }
        for setting in candidates() {
            if let Ok(data) = lzma(setting, body, max, exact) {
                self.lzma = Some(setting);
                return Ok(data);
            }
        }
        self.failed = true;
        Err("neither zlib nor any known LZMA setting decodes the block".into())
    }
}

fn looks_like_zlib(body: &[u8]) -> bool {
    matches!(body, [cmf, flg, ..] if cmf & 0x0f == 8 && cmf >> 4 <= 7
        && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0)
}

/// The settings tried, most common first: `.lzma` headers, DD-WRT's
/// header, Oleg's shim (lc3 lp0 pb2), a `7zip` prefix, then every other
/// lc/lp/pb with lc + lp <= 4.
fn candidates() -> Vec<Lzma> {
    let mut v = vec![
        Lzma::Alone,
        Lzma::DdWrt,
        Lzma::Raw {
            skip: 0,
            lc: 3,
            lp: 0,
            pb: 2,
        },
        Lzma::Raw {
            skip: 4,
            lc: 3,
            lp: 0,
            pb: 2,
        },
    ];
    for pb in 0..=4 {
        for lc in 0..=4u8 {
            for lp in 0..=4 - lc {
                let s = Lzma::Raw {
                    skip: 0,
                    lc,
                    lp,
                    pb,
                };
                if !v.contains(&s) {
                    v.push(s);
                }
            }
        }
    }
    v
}

/// Decodes one block with `setting`; a setting that does not reach a clean
/// end within `max` bytes (or `exact`, when known) fails.
fn lzma(setting: Lzma, body: &[u8], max: usize, exact: Option<usize>) -> Result<Vec<u8>, String> {
    let (props, raw) = match setting {
        Lzma::Alone => {
            let header = body.get(..13).ok_or("block shorter than an LZMA header")?;
            let mut size = [0u8; 8];
            size.copy_from_slice(&header[5..13]);
            let size = u64::from_le_bytes(size);
            let dict = u32::from_le_bytes([header[1], header[2], header[3], header[4]]);
            if header[0] >= 225 || dict < 4096 || (size != u64::MAX && size > max as u64) {
                return Err("not an LZMA header".into());
            }
            if size != u64::MAX {
                let d = compress::lzma_known_size(header[0], dict, &body[13..], size as usize);
                return finish(d, max, exact);
            }
            (header[0], &body[13..])
        }
        Lzma::DdWrt => {
            let [pb, lc, lp, _, ..] = *body else {
                return Err("block shorter than its LZMA header".into());
            };
            if pb > 4 || lc > 4 || lp > 4 || lc + lp > 4 {
                return Err("not a pb/lc/lp header".into());
            }
            ((pb * 5 + lp) * 9 + lc, &body[4..])
        }
        Lzma::Raw { skip, lc, lp, pb } => (
            (pb * 5 + lp) * 9 + lc,
            body.get(skip..).ok_or("block too short")?,
        ),
    };
    // The dictionary never needs to exceed the block; an unknown size with
    // an end marker, as these encoders write.
    let dict = (max.max(4096) as u32).next_power_of_two();
    let mut input = Vec::with_capacity(13 + raw.len());
    input.push(props);
    input.extend_from_slice(&dict.to_le_bytes());
    input.extend_from_slice(&u64::MAX.to_le_bytes());
    input.extend_from_slice(raw);
    let d = compress::lzma_alone(&input, max as u64);
    // Without an end marker the input runs out exactly when the block is whole.
    if d.error.is_some() && exact == Some(d.data.len()) && !d.data.is_empty() {
        return Ok(d.data);
    }
    finish(d, max, exact)
}

fn finish(d: compress::Decoded, max: usize, exact: Option<usize>) -> Result<Vec<u8>, String> {
    if let Some(e) = d.error {
        return Err(format!("lzma: {e}"));
    }
    if d.capped || d.data.len() > max {
        return Err(format!("lzma: more than {max} bytes"));
    }
    if let Some(n) = exact
        && d.data.len() != n
    {
        return Err(format!(
            "lzma: {} bytes where {n} were expected",
            d.data.len()
        ));
    }
    if d.data.is_empty() {
        return Err("lzma: empty block".into());
    }
    Ok(d.data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_fields_follow_the_byte_order() {
        // inode_type:4 mode:12 uid:8 guid:8 of a directory, mode 0755, uid 1, guid 2.
        let le = Fields {
            bytes: &[0xd1, 0x1e, 0x01, 0x02],
            big_endian: false,
        };
        assert_eq!(
            (le.get(0, 4), le.get(4, 12), le.get(16, 8), le.get(24, 8)),
            (Some(1), Some(0o755), Some(1), Some(2))
        );
        let be = Fields {
            bytes: &[0x11, 0xed, 0x01, 0x02],
            big_endian: true,
        };
        assert_eq!(
            (be.get(0, 4), be.get(4, 12), be.get(16, 8), be.get(24, 8)),
            (Some(1), Some(0o755), Some(1), Some(2))
        );
        assert_eq!(be.get(30, 8), None);
    }
}

#[cfg(test)]
mod fixture_tests {
    use super::*;
    use crate::unpack::formats::{listing, squashfs::Squashfs};
    use crate::unpack::limits::Limits;

    /// Every image `tests/fixtures/squashfs-old.sh` makes with the old tools,
    /// with the detail the reader must give for it.
    pub(crate) const IMAGES: [(&str, &str); 9] = [
        (
            "sq21-le-gzip",
            "squashfs 2.1 little-endian, gzip compression",
        ),
        (
            "sq21-be-lzma",
            "squashfs 2.1 big-endian, lzma (raw, lc=3 lp=0 pb=2) compression",
        ),
        ("sq30-be-gzip", "squashfs 3.0 big-endian, gzip compression"),
        (
            "sq30-le-lzma",
            "squashfs 3.0 little-endian, lzma (raw, lc=3 lp=0 pb=2) compression",
        ),
        (
            "sq31-le-gzip",
            "squashfs 3.1 little-endian, gzip compression",
        ),
        ("sq31-be-gzip", "squashfs 3.1 big-endian, gzip compression"),
        (
            "sq31-le-sqlzma",
            "squashfs 3.1 little-endian, gzip and lzma (.lzma headers) compression (sqlzma magic `shsq`)",
        ),
        (
            "sq31-be-sqlzma",
            "squashfs 3.1 big-endian, gzip and lzma (.lzma headers) compression (sqlzma magic `qshs`)",
        ),
        (
            "sq30-ddwrt",
            "squashfs 3.0 little-endian, lzma (pb/lc/lp header) compression (DD-WRT magic `hsqt`)",
        ),
    ];

    fn read(name: &str) -> Extracted {
        let data = std::fs::read(format!("tests/fixtures/sqfs-old/{name}.sqfs")).unwrap();
        let mut budget = Budget::new(Limits::default());
        let out = if matches!(&data[..4], b"hsqs" | b"sqsh") {
            Squashfs.extract(&data, &mut budget).unwrap()
        } else {
            SquashfsVendor.extract(&data, &mut budget).unwrap()
        };
        // The layer ends where the superblock says, before the 4 KiB padding.
        assert_eq!(Some(out.size), SquashfsVendor.declared_len(&data), "{name}");
        assert!(out.size < data.len() as u64, "{name}");
        out
    }

    fn expected_listing() -> Vec<String> {
        let mut v: Vec<String> = [
            "bin/",
            "bin/busybox 9004",
            "bin/sh -> busybox",
            "dev/",
            "dev/console 0",
            "etc/",
            "etc/banner 6100",
            "etc/hostname 7",
            "etc/shadow 22",
            "usr/",
            "usr/lib/",
            "usr/lib/libdemo.so.1 -> libdemo.so.1.0",
            "usr/lib/libdemo.so.1.0 12",
            "usr/lib/zeros.bin 8192",
            "var/",
            "var/empty/",
            "www/",
            "www/cgi/",
        ]
        .map(String::from)
        .into();
        v.extend((1..=40).map(|i| format!("www/cgi/page-with-a-longer-name-{i}.cgi 3")));
        v.sort();
        v
    }

    /// The nine images hold the same tree, byte for byte and mode for mode,
    /// as the old tools' own `unsquashfs` (and Debian's, for gzip) gave back
    /// when the fixtures were made.
    #[test]
    fn old_layouts_and_vendor_lzma_read_back() {
        let banner: String = (1..=100)
            .map(|i| format!("banner line {i:03}: the quick brown fox jumps over the lazy dog\n"))
            .collect();
        let first = read(IMAGES[0].0);
        for (name, detail) in IMAGES {
            let out = read(name);
            assert_eq!(
                out.detail.as_deref(),
                Some(format!("{detail}, block size 4096").as_str()),
                "{name}"
            );
            assert!(out.notes.is_empty(), "{name}: {:?}", out.notes);
            assert_eq!(listing(&out), expected_listing(), "{name}");
            let get = |path: &str| out.entries.iter().find(|e| e.path == path).unwrap();
            assert_eq!(get("etc/hostname").data, b"router\n", "{name}");
            assert_eq!(get("etc/banner").data, banner.as_bytes(), "{name}");
            assert_eq!(get("usr/lib/zeros.bin").data, vec![0u8; 8192], "{name}");
            assert!(get("bin/busybox").data.starts_with(b"\x7fELF"), "{name}");
            assert!(
                matches!(get("dev/console").kind, EntryKind::Special),
                "{name}"
            );
            let meta = |path: &str| get(path).meta.as_ref().map(|m| (m.mode, m.uid, m.gid));
            assert_eq!(meta("etc/shadow"), Some((0o600, 0, 0)), "{name}");
            assert_eq!(meta("bin/busybox"), Some((0o755, 0, 0)), "{name}");
            assert_eq!(
                meta("www/cgi/page-with-a-longer-name-1.cgi"),
                Some((0o644, 1000, 100)),
                "{name}"
            );
            assert_eq!(meta("www"), Some((0o755, 0, 0)), "{name}");
            for (a, b) in first.entries.iter().zip(&out.entries) {
                assert_eq!((&a.path, &a.data), (&b.path, &b.data), "{name}");
            }
        }
    }

    /// Found by the fuzzer (fuzz/RESULTS.md): a block of 3 bytes read with
    /// the DD-WRT LZMA setting, whose header is 4 bytes, sliced past its end.
    /// The input is kept as it was found (tests/fixtures/fuzz/).
    #[test]
    fn a_block_shorter_than_the_ddwrt_header_is_an_error() {
        assert!(lzma(Lzma::DdWrt, &[2, 3, 0], 4096, None).is_err());
        let found =
            std::fs::read("tests/fixtures/fuzz/squashfs_old-short-ddwrt-block.sqfs").unwrap();
        let limits = Limits {
            max_total_bytes: 1 << 20,
            ..Limits::default()
        };
        let _ = extract(&found, &mut Budget::new(limits));
    }

    /// Cuts at every 61st byte and 600 single-bit flips of every image end
    /// in a result, never a panic, and a flipped image still names problems.
    #[test]
    fn cuts_and_flips_never_panic() {
        for (name, _) in IMAGES {
            let data = std::fs::read(format!("tests/fixtures/sqfs-old/{name}.sqfs")).unwrap();
            let limits = Limits {
                max_total_bytes: 1 << 20,
                ..Limits::default()
            };
            for len in (0..data.len()).step_by(61) {
                let _ = extract(&data[..len], &mut Budget::new(limits.clone()));
            }
            let mut state = 0x9e37_79b9_7f4a_7c15u64;
            for _ in 0..600 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let mut bad = data.clone();
                let at = (state % 8192) as usize;
                bad[at] ^= 1 << (state >> 61);
                let _ = extract(&bad, &mut Budget::new(limits.clone()));
            }
        }
    }
}
