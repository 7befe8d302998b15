//! squashfs 4.0, little or big endian. The superblock is checked field by field
//! (a chance `hsqs` in a binary must not reach the reader), then `backhand`
//! reads the tables and the files. backhand decodes gzip, xz, lz4 and zstd
//! blocks; [`Codecs`] adds LZMA (liblzma) and LZO (lzokay).

use super::{Entry, Extracted, Format, Problem, Rejection};
use crate::unpack::compress;
use crate::unpack::limits::{Budget, Exceeded, Reservation};
use crate::unpack::tree::{EntryKind, Meta};
use backhand::compression::{CompressionAction, Compressor, DefaultCompressor};
use backhand::kind::{BE_V4_0, Kind, LE_V4_0};
use backhand::{
    BackhandError, FilesystemCompressor, FilesystemReader, InnerNode, SquashfsFileReader,
    SuperBlock,
};
use rayon::prelude::*;
use std::collections::HashMap;
use std::io::{Cursor, Read};
use std::panic::{AssertUnwindSafe, catch_unwind};

pub struct Squashfs;

const SUPERBLOCK_LEN: usize = 96;

/// The superblock fields we check before trusting the image.
#[derive(Debug, PartialEq, Eq)]
pub struct Superblock {
    pub big_endian: bool,
    pub inode_count: u32,
    pub block_size: u32,
    pub compression: u16,
    pub block_log: u16,
    pub major: u16,
    pub minor: u16,
    pub bytes_used: u64,
    pub id_table: u64,
    pub inode_table: u64,
    pub dir_table: u64,
    pub frag_count: u32,
    pub flags: u16,
    pub frag_table: u64,
    pub export_table: u64,
}

impl Superblock {
    pub fn parse(data: &[u8]) -> Option<Superblock> {
        let sb = data.get(..SUPERBLOCK_LEN)?;
        let big_endian = match &sb[..4] {
            b"hsqs" => false,
            b"sqsh" => true,
            _ => return None,
        };
        let u16_at = |at: usize| {
            let b = [sb[at], sb[at + 1]];
            if big_endian {
                u16::from_be_bytes(b)
            } else {
                u16::from_le_bytes(b)
            }
        };
        let u32_at = |at: usize| {
            let mut b = [0u8; 4];
            b.copy_from_slice(&sb[at..at + 4]);
            if big_endian {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        };
        let u64_at = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&sb[at..at + 8]);
            if big_endian {
                u64::from_be_bytes(b)
            } else {
                u64::from_le_bytes(b)
            }
        };
        Some(Superblock {
            big_endian,
            inode_count: u32_at(4),
            block_size: u32_at(12),
            compression: u16_at(20),
            block_log: u16_at(22),
            major: u16_at(28),
            minor: u16_at(30),
            bytes_used: u64_at(40),
            id_table: u64_at(48),
            inode_table: u64_at(64),
            dir_table: u64_at(72),
            frag_count: u32_at(16),
            flags: u16_at(24),
            frag_table: u64_at(80),
            export_table: u64_at(88),
        })
    }

    /// Every reason this superblock cannot describe a readable 4.0 image.
    pub fn check(&self, available: u64) -> Result<(), String> {
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
        if !(1..=6).contains(&self.compression) {
            faults.push(format!("unknown compression id {}", self.compression));
        }
        if self.inode_count == 0 {
            faults.push("inode_count is 0".into());
        }
        if self.bytes_used < SUPERBLOCK_LEN as u64 {
            faults.push(format!(
                "bytes_used {} is below the superblock size",
                self.bytes_used
            ));
        }
        for (name, at) in [
            ("inode_table", self.inode_table),
            ("directory_table", self.dir_table),
            ("id_table", self.id_table),
        ] {
            if at >= self.bytes_used {
                faults.push(format!(
                    "{name} start {at:#x} is past bytes_used {:#x}",
                    self.bytes_used
                ));
            }
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
            Err(format!("squashfs superblock: {}", faults.join("; ")))
        }
    }

    pub fn compression_name(&self) -> &'static str {
        ["?", "gzip", "lzma", "lzo", "xz", "lz4", "zstd"]
            .get(self.compression as usize)
            .copied()
            .unwrap_or("?")
    }
}

impl Format for Squashfs {
    fn name(&self) -> &'static str {
        "squashfs"
    }

    fn magics(&self) -> &'static [&'static [u8]] {
        &[b"hsqs", b"sqsh"]
    }

    fn declared_len(&self, data: &[u8]) -> Option<u64> {
        match Superblock::parse(data)? {
            sb if (1..=3).contains(&sb.major) => {
                super::squashfs_old::SquashfsVendor.declared_len(data)
            }
            sb => Some(sb.bytes_used),
        }
    }

    fn extract(&self, data: &[u8], budget: &mut Budget) -> Result<Extracted, Rejection> {
        let sb = Superblock::parse(data).ok_or(Rejection::NotThisFormat)?;
        // Versions 1-3 exist in old firmware; anything else is a chance match.
        match (sb.major, sb.minor) {
            (4, 0) => {}
            // The older layouts have a reader of their own.
            (1..=3, _) => return super::squashfs_old::extract(data, budget),
            _ => return Err(Rejection::NotThisFormat),
        }
        sb.check(data.len() as u64).map_err(Rejection::Corrupt)?;
        let image = &data[..sb.bytes_used as usize];
        // Deduplicated files and sparse blocks are read as often as they are
        // listed: the image as a whole is held to the ratio bound.
        budget.bound_layer(sb.bytes_used);
        // backhand builds every inode and directory entry before any can be
        // skipped: count them, and reserve what reading them costs, first.
        let _tables = precheck(image, &sb, budget)?;
        let kind = Kind::new_v4_with_const(&CODECS, if sb.big_endian { BE_V4_0 } else { LE_V4_0 });
        // backhand is a third-party parser: a panic inside it on hostile input
        // must cost us this layer, not the scan.
        let read = catch_unwind(AssertUnwindSafe(|| read_all(image, kind, budget)));
        let (entries, notes) = match read {
            Ok(result) => result?,
            Err(_) => {
                return Err(Rejection::Corrupt(
                    "squashfs reader failed on malformed tables".into(),
                ));
            }
        };
        Ok(Extracted {
            size: sb.bytes_used,
            entries,
            filesystem: true,
            scanned_in_place: false,
            detail: Some(format!(
                "squashfs {}.{} {}, {} compression, block size {}",
                sb.major,
                sb.minor,
                if sb.big_endian {
                    "big-endian"
                } else {
                    "little-endian"
                },
                sb.compression_name(),
                sb.block_size
            )),
            notes,
        })
    }
}

/// The superblock's "unset" table offset.
const NOT_SET: u64 = u64::MAX;
/// Flag: an NFS export table is present.
const FLAG_EXPORTABLE: u16 = 0x80;
/// Largest decoded metadata block.
const METADATA_MAX: u64 = 8192;
/// What one directory entry costs backhand once read (its node, header
/// and full path), beyond the table bytes themselves; measured at 130-190
/// bytes on images of 10^5 entries, rounded up.
const NODE_COST: u64 = 256;

/// What reading an image's tables will cost, checked before backhand is
/// called: the directory table is decoded once here and its entries
/// counted (without names or paths), the inode table's metadata blocks are
/// counted. More entries than the entry bound leaves refuse the image; the
/// memory backhand needs for the tables and its nodes is reserved for as
/// long as it reads (returned when the reservation is dropped).
fn precheck(image: &[u8], sb: &Superblock, budget: &Budget) -> Result<Reservation, Rejection> {
    let corrupt = |m: String| Rejection::Corrupt(format!("squashfs: {m}"));
    let u64_at = |at: u64| -> Option<u64> {
        let b: [u8; 8] = image
            .get(usize::try_from(at).ok()?..)?
            .get(..8)?
            .try_into()
            .ok()?;
        Some(if sb.big_endian {
            u64::from_be_bytes(b)
        } else {
            u64::from_le_bytes(b)
        })
    };
    // Where backhand stops reading directories: the first fragment block,
    // else the first export block, else the first id block.
    let (pointer, name) = if sb.frag_count > 0 && sb.frag_table != NOT_SET {
        (sb.frag_table, "fragment")
    } else if sb.flags & FLAG_EXPORTABLE != 0 && sb.export_table != NOT_SET {
        (sb.export_table, "export")
    } else {
        (sb.id_table, "id")
    };
    let dir_end = u64_at(pointer).ok_or_else(|| {
        corrupt(format!(
            "{name} table pointer at {pointer:#x} is past the end"
        ))
    })?;
    let inode_blocks = metadata_blocks(image, sb, sb.inode_table, sb.dir_table)
        .map_err(|m| corrupt(format!("inode table: {m}")))?;
    let dir_blocks = metadata_blocks(image, sb, sb.dir_table, dir_end)
        .map_err(|m| corrupt(format!("directory table: {m}")))?;
    let table_bytes = (inode_blocks.len() + dir_blocks.len()) as u64 * METADATA_MAX;
    // Decoding the directory table takes memory of its own: reserved first.
    let mut reservation = budget.reserve(table_bytes).map_err(|bound| {
        Rejection::Limit(format!(
            "squashfs: its tables decode to up to {table_bytes} bytes, past {bound}; image not read"
        ))
    })?;
    let entries = count_entries(image, sb, &dir_blocks)
        .map_err(|m| corrupt(format!("directory table: {m}")))?;
    let left = budget.entries_left();
    if entries > left {
        return Err(Rejection::Limit(format!(
            "squashfs: its directory table lists {entries} entries, more than the {left} left of {}; image not read",
            Exceeded::Entries(budget.limits.max_entries)
        )));
    }
    // backhand keeps both tables decoded and a node per entry while it reads.
    let nodes = entries
        .saturating_mul(NODE_COST)
        .saturating_add(table_bytes);
    reservation.grow(nodes).map_err(|bound| {
        Rejection::Limit(format!(
            "squashfs: reading {entries} entries takes about {} bytes, past {bound}; image not read",
            nodes.saturating_add(table_bytes)
        ))
    })?;
    Ok(reservation)
}

/// The metadata blocks from `start` to `end`: (offset of the stored bytes,
/// stored length, compressed), from their 2-byte headers alone.
fn metadata_blocks(
    image: &[u8],
    sb: &Superblock,
    start: u64,
    end: u64,
) -> Result<Vec<(usize, usize, bool)>, String> {
    let (Ok(mut at), Ok(end)) = (usize::try_from(start), usize::try_from(end)) else {
        return Err(format!("{start:#x}..{end:#x} is past the end"));
    };
    if end < at || end > image.len() {
        return Err(format!(
            "runs from {start:#x} to {end:#x}, outside the {} bytes of the image",
            image.len()
        ));
    }
    let mut blocks = Vec::new();
    while at < end {
        let h = image
            .get(at..at + 2)
            .map(|b| {
                if sb.big_endian {
                    u16::from_be_bytes([b[0], b[1]])
                } else {
                    u16::from_le_bytes([b[0], b[1]])
                }
            })
            .ok_or_else(|| format!("block header at {at:#x} is past the end"))?;
        let len = usize::from(h & 0x7fff);
        if len as u64 > METADATA_MAX || at + 2 + len > end {
            return Err(format!(
                "block at {at:#x} stores {len} bytes, past the table's end at {end:#x}"
            ));
        }
        blocks.push((at + 2, len, h & 0x8000 == 0));
        at += 2 + len;
    }
    Ok(blocks)
}

/// Entries listed in the directory table: every header's count, without
/// reading names. Headers are 12 bytes (`count - 1`, start block, inode
/// number); each entry 8 bytes and a name of `name_size + 1` bytes.
fn count_entries(
    image: &[u8],
    sb: &Superblock,
    blocks: &[(usize, usize, bool)],
) -> Result<u64, String> {
    let compressor = match sb.compression {
        1 => Compressor::Gzip,
        2 => Compressor::Lzma,
        3 => Compressor::Lzo,
        4 => Compressor::Xz,
        5 => Compressor::Lz4,
        _ => Compressor::Zstd,
    };
    let mut table = Vec::new();
    for &(at, len, compressed) in blocks {
        let stored = &image[at..at + len];
        if compressed {
            let mut out = Vec::with_capacity(METADATA_MAX as usize);
            CODECS
                .decompress(stored, &mut out, compressor)
                .map_err(|e| {
                    format!(
                        "metadata block at {:#x} does not decode: {}",
                        at - 2,
                        describe(&e)
                    )
                })?;
            if out.len() as u64 > METADATA_MAX {
                return Err(format!(
                    "metadata block at {:#x} decodes to {} bytes, more than 8 KiB",
                    at - 2,
                    out.len()
                ));
            }
            table.extend_from_slice(&out);
        } else {
            table.extend_from_slice(stored);
        }
    }
    let u16_at = |at: usize| -> Option<usize> {
        let b = [*table.get(at)?, *table.get(at + 1)?];
        Some(usize::from(if sb.big_endian {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        }))
    };
    let u32_at = |at: usize| -> Option<u64> {
        let b: [u8; 4] = table.get(at..at + 4)?.try_into().ok()?;
        Some(u64::from(if sb.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }))
    };
    let mut entries = 0u64;
    let mut at = 0;
    // A header that does not fit is where the table (or backhand's reading
    // of it) ends; it is counted no further.
    while let Some(count) = u32_at(at) {
        let count = count + 1;
        at += 12;
        for _ in 0..count {
            let Some(name_size) = u16_at(at + 6) else {
                return Ok(entries);
            };
            at += 8 + name_size + 1;
            entries += 1;
        }
    }
    Ok(entries)
}

/// What went wrong, in words: built without its `error-strings` feature
/// (which would pull in `tracing`), backhand's errors print nothing.
fn describe(e: &BackhandError) -> String {
    use BackhandError as E;
    match e {
        E::StdIo(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            "a table or block runs past the end of the image".into()
        }
        E::StdIo(io) => format!("read error: {io}"),
        E::Deku(d) => format!("malformed structure: {d}"),
        E::StringUtf8(_) | E::StrUtf8(_) => "a name is not UTF-8".into(),
        E::UnsupportedCompression(c) => format!("unsupported compression {c}"),
        E::MissingCompressor => "no compressor for this image".into(),
        E::FileNotFound => "a file the tables name is missing".into(),
        E::Unreachable | E::InternalState(_) | E::MutexPoisoned => "reader state error".into(),
        E::UnexpectedInode => "an inode of the wrong type where a directory was expected".into(),
        E::UnsupportedInode => "an inode type the reader does not support".into(),
        E::CorruptedOrInvalidSquashfs => {
            "corrupt tables (an inode count, table offset or metadata block that does not add up)"
                .into()
        }
        E::InvalidCompressionOption => "invalid compression options".into(),
        E::InvalidFilePath => "a directory entry named `.`, `..` or with a `/`".into(),
        E::UndefineFileName => "a directory entry without a name".into(),
        E::DuplicatedFileName => "a name listed twice in one directory".into(),
        E::TryReserveError(_) => "a table too large to allocate".into(),
        E::InvalidIdTable | E::IdNotFoundInTable => "an owner missing from the id table".into(),
        E::UnsupportedSquashfsVersion(major, minor) => {
            format!("unsupported squashfs version {major}.{minor}")
        }
        E::NumericConversion(what) => format!("a number out of range ({what})"),
        E::SystemTime(_) => "a time stamp out of range".into(),
        E::CompressionInit(what) => format!("decompressor failed: {what}"),
    }
}

/// backhand's own codecs, plus the two it offers only through a GPL crate
/// (`rust-lzo`) or a search over LZMA parameters (`v4_lzma`): squashfs-tools'
/// LZMA blocks carry a complete `.lzma` header, and LZO blocks are raw LZO1X.
pub struct Codecs;

static CODECS: Codecs = Codecs;

/// The most one block may decode to: backhand reserves the block size (data)
/// or 8 KiB (metadata) in `out` before asking; never more than squashfs' 1 MiB.
fn block_room(out: &Vec<u8>) -> usize {
    (out.capacity() - out.len()).clamp(8 * 1024, 1 << 20)
}

impl CompressionAction for Codecs {
    type Error = BackhandError;
    type Compressor = Compressor;
    type FilesystemCompressor = FilesystemCompressor;
    type SuperBlock = SuperBlock;

    fn decompress(
        &self,
        bytes: &[u8],
        out: &mut Vec<u8>,
        compressor: Compressor,
    ) -> Result<(), BackhandError> {
        let room = block_room(out);
        let decoded = match compressor {
            Compressor::Lzma => lzma_block(bytes, room),
            // backhand's own xz path gives liblzma no memory limit: a block
            // declaring a 1.5 GiB dictionary would get one.
            Compressor::Xz => {
                let d = compress::xz_block(bytes, room as u64);
                if d.error.is_some() || d.capped {
                    return Err(BackhandError::CorruptedOrInvalidSquashfs);
                }
                Ok(d.data)
            }
            Compressor::Lzo => {
                let mut buf = vec![0u8; room];
                lzokay::decompress::decompress(bytes, &mut buf)
                    .map(|n| {
                        buf.truncate(n);
                        buf
                    })
                    .map_err(|_| BackhandError::CorruptedOrInvalidSquashfs)
            }
            other => return DefaultCompressor.decompress(bytes, out, other),
        }?;
        out.extend_from_slice(&decoded);
        Ok(())
    }

    fn compress(
        &self,
        bytes: &[u8],
        fc: FilesystemCompressor,
        block_size: u32,
    ) -> Result<Vec<u8>, BackhandError> {
        DefaultCompressor.compress(bytes, fc, block_size)
    }
}

/// One squashfs-tools LZMA block: a 13-byte `.lzma` header (properties,
/// dictionary, uncompressed size) and the LZMA data.
fn lzma_block(bytes: &[u8], room: usize) -> Result<Vec<u8>, BackhandError> {
    let bad = || BackhandError::CorruptedOrInvalidSquashfs;
    let header = bytes.get(..13).ok_or_else(bad)?;
    let dict = u32::from_le_bytes([header[1], header[2], header[3], header[4]]);
    let mut size = [0u8; 8];
    size.copy_from_slice(&header[5..13]);
    let d = match u64::from_le_bytes(size) {
        // Size not recorded: the stream ends with an end marker.
        u64::MAX => compress::lzma_alone(bytes, room as u64),
        n if n <= room as u64 => {
            compress::lzma_known_size(header[0], dict, &bytes[13..], n as usize)
        }
        _ => return Err(bad()),
    };
    if d.error.is_some() || d.capped {
        return Err(bad());
    }
    Ok(d.data)
}

/// What one node becomes: file data still to read, or an entry needing no data.
enum Plan {
    /// Index into the distinct file extents to read.
    Read(usize),
    Ready(EntryKind),
}

/// Where a file's bytes live: files with equal extents (mksquashfs
/// deduplicates identical files) are read once.
type Extent = (u64, usize, u32, usize);

/// One extent's bytes, or why they could not be read.
type ExtentData = Result<Vec<u8>, String>;

fn extent(file: &SquashfsFileReader) -> Extent {
    (
        file.blocks_start(),
        file.frag_index(),
        file.block_offset(),
        file.file_len(),
    )
}

fn read_all(
    image: &[u8],
    kind: Kind,
    budget: &mut Budget,
) -> Result<(Vec<Entry>, Vec<Problem>), Rejection> {
    let fs = FilesystemReader::from_reader_with_offset_and_kind(Cursor::new(image), 0, kind)
        .map_err(|e| {
            Rejection::Corrupt(match e {
                // backhand refuses the whole table when a name is not a plain
                // file name; its errors print nothing without `error-strings`.
                backhand::BackhandError::InvalidFilePath => {
                    "squashfs directory entry named `.`, `..` or with a `/`; image refused".into()
                }
                e => format!("squashfs tables unreadable: {}", describe(&e)),
            })
        })?;
    let mut notes = Vec::new();
    // Pass 1, in order: every bound is checked and charged here, exactly as
    // the entries will be listed.
    let mut planned: Vec<(String, Plan, Meta)> = Vec::new();
    let mut extents: Vec<&SquashfsFileReader> = Vec::new();
    let mut extent_index: HashMap<Extent, usize> = HashMap::new();
    let mut uses: Vec<usize> = Vec::new();
    for node in fs.files() {
        if let Err(bound) = budget.entry() {
            notes.push(Problem::Limit(format!(
                "squashfs: {bound} reached; the rest of its entries were skipped"
            )));
            break;
        }
        let path = node
            .fullpath
            .to_string_lossy()
            .trim_start_matches('/')
            .to_string();
        if path.is_empty() {
            continue; // the root directory itself
        }
        let plan = match &node.inner {
            InnerNode::File(file) => {
                let len = file.file_len() as u64;
                if let Err(bound) = budget.charge_file(len) {
                    notes.push(Problem::Limit(format!(
                        "/{path}: {len} bytes reach {bound}; skipped"
                    )));
                    continue;
                }
                let at = *extent_index.entry(extent(file)).or_insert_with(|| {
                    extents.push(file);
                    uses.push(0);
                    extents.len() - 1
                });
                uses[at] += 1;
                Plan::Read(at)
            }
            InnerNode::Symlink(link) => {
                Plan::Ready(EntryKind::Symlink(link.link.to_string_lossy().into_owned()))
            }
            InnerNode::Dir(_) => Plan::Ready(EntryKind::Dir),
            _ => Plan::Ready(EntryKind::Special),
        };
        let h = &node.header;
        planned.push((
            path,
            plan,
            Meta::new(u32::from(h.permissions), h.uid, h.gid),
        ));
    }
    // Pass 2, on every core: each task reads the files of one fragment block
    // (or one fragment-less file), so a block is decompressed once: backhand
    // caches a fragment block after its first reader, and no two tasks share one.
    let mut tasks: Vec<Vec<usize>> = Vec::new();
    let mut task_of_fragment: HashMap<usize, usize> = HashMap::new();
    for (at, file) in extents.iter().enumerate() {
        let fragment = file.frag_index();
        if fragment == u32::MAX as usize {
            tasks.push(vec![at]);
        } else {
            let task = *task_of_fragment.entry(fragment).or_insert_with(|| {
                tasks.push(Vec::new());
                tasks.len() - 1
            });
            tasks[task].push(at);
        }
    }
    let read: Vec<Vec<(usize, ExtentData)>> = tasks
        .par_iter()
        .map(|task| {
            task.iter()
                .map(|&at| {
                    let file = extents[at];
                    let mut data = Vec::with_capacity(file.file_len());
                    let read = fs
                        .file(file)
                        .reader_checked()
                        .and_then(|mut r| r.read_to_end(&mut data).map_err(Into::into));
                    (at, read.map(|_| data).map_err(|e| describe(&e)))
                })
                .collect()
        })
        .collect();
    let mut data: Vec<Option<ExtentData>> = vec![None; extents.len()];
    for (at, result) in read.into_iter().flatten() {
        data[at] = Some(result);
    }
    // Pass 3, in order: the entries, each file with its own copy of the bytes.
    let mut entries = Vec::with_capacity(planned.len());
    for (path, plan, meta) in planned {
        let (kind, bytes) = match plan {
            Plan::Read(at) => {
                uses[at] -= 1;
                let result = if uses[at] == 0 {
                    data[at].take()
                } else {
                    data[at].clone()
                };
                match result.unwrap_or_else(|| Err("extent was not read".to_string())) {
                    Ok(bytes) => (EntryKind::File, bytes),
                    Err(e) => {
                        notes.push(Problem::Error(format!("/{path}: data unreadable: {e}")));
                        continue;
                    }
                }
            }
            Plan::Ready(kind) => (kind, Vec::new()),
        };
        entries.push(Entry {
            path,
            kind,
            data: bytes,
            meta: Some(meta),
        });
    }
    Ok((entries, notes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn superblock() -> Vec<u8> {
        let mut sb = vec![0u8; SUPERBLOCK_LEN];
        sb[..4].copy_from_slice(b"hsqs");
        sb[4..8].copy_from_slice(&5u32.to_le_bytes());
        sb[12..16].copy_from_slice(&131072u32.to_le_bytes());
        sb[20..22].copy_from_slice(&4u16.to_le_bytes());
        sb[22..24].copy_from_slice(&17u16.to_le_bytes());
        sb[28..30].copy_from_slice(&4u16.to_le_bytes());
        sb[40..48].copy_from_slice(&4096u64.to_le_bytes());
        sb[48..56].copy_from_slice(&4000u64.to_le_bytes());
        sb[64..72].copy_from_slice(&100u64.to_le_bytes());
        sb[72..80].copy_from_slice(&200u64.to_le_bytes());
        sb
    }

    #[test]
    fn sane_superblock_passes() {
        let sb = Superblock::parse(&superblock()).unwrap();
        assert_eq!(sb.check(4096), Ok(()));
        assert_eq!(sb.compression_name(), "xz");
    }

    #[test]
    fn names_every_broken_field() {
        let mut raw = superblock();
        raw[12..16].copy_from_slice(&3u32.to_le_bytes());
        raw[20..22].copy_from_slice(&9u16.to_le_bytes());
        let err = Superblock::parse(&raw).unwrap().check(4096).unwrap_err();
        assert!(err.contains("block_size 3"), "{err}");
        assert!(err.contains("compression id 9"), "{err}");
    }

    #[test]
    fn truncation_is_reported_with_sizes() {
        let err = Superblock::parse(&superblock())
            .unwrap()
            .check(1000)
            .unwrap_err();
        assert!(err.contains("says 4096 bytes, only 1000 present"), "{err}");
    }

    /// mksquashfs writes only little-endian images; backhand's writer makes
    /// the big-endian layout (old MIPS vendor SDKs) for the reader to read back.
    #[test]
    fn big_endian_images_read_back() {
        use crate::unpack::limits::Limits;
        use backhand::compression::Compressor;
        use backhand::{FilesystemCompressor, FilesystemWriter, NodeHeader};
        let mut w = FilesystemWriter::default();
        w.set_kind(Kind::from_const(BE_V4_0).unwrap());
        w.set_compressor(FilesystemCompressor::new(Compressor::Gzip, None).unwrap());
        w.set_time(1_700_000_000);
        let h = NodeHeader::new(0o755, 0, 0, 1_700_000_000);
        w.push_dir("etc", h).unwrap();
        let text = b"big-endian squashfs from backhand\n".repeat(40);
        w.push_file(std::io::Cursor::new(text.clone()), "etc/motd", h)
            .unwrap();
        w.push_symlink("motd", "etc/issue", h).unwrap();
        let mut image = std::io::Cursor::new(Vec::new());
        w.write(&mut image).unwrap();
        let mut image = image.into_inner();
        assert_eq!(&image[..4], b"sqsh");
        let used = Superblock::parse(&image).unwrap().bytes_used;
        image.extend_from_slice(&[0xff; 100]);
        let out = Squashfs
            .extract(&image, &mut Budget::new(Limits::default()))
            .unwrap();
        assert_eq!(out.size, used);
        assert!(out.detail.as_deref().unwrap().contains("big-endian, gzip"));
        assert_eq!(
            super::super::listing(&out),
            ["etc/", "etc/issue -> motd", "etc/motd 1360"]
        );
        assert_eq!(
            out.entries
                .iter()
                .find(|e| e.path == "etc/motd")
                .unwrap()
                .data,
            text
        );
    }

    /// The lzo and lzma fixtures, read through [`Codecs`] (and a block whose
    /// LZMA header claims more than a block can hold is refused).
    #[test]
    fn lzo_and_lzma_blocks_decode() {
        use crate::unpack::limits::Limits;
        for image in [
            &include_bytes!("../../../tests/fixtures/tree-lzo.sqfs")[..],
            &include_bytes!("../../../tests/fixtures/tree-lzma.sqfs")[..],
        ] {
            let out = Squashfs
                .extract(image, &mut Budget::new(Limits::default()))
                .unwrap();
            assert!(out.notes.is_empty(), "{:?}", out.notes);
            let banner = out.entries.iter().find(|e| e.path == "etc/banner").unwrap();
            assert_eq!(banner.data.len(), 4880);
            assert!(banner.data.starts_with(b"banner line 001: the quick"));
        }
        let mut block = vec![0x5d, 0, 0, 0x80, 0];
        block.extend_from_slice(&(2u64 << 20).to_le_bytes());
        block.extend_from_slice(&[0; 16]);
        assert!(lzma_block(&block, 1 << 20).is_err());
    }
}
