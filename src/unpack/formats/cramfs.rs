//! cramfs, little- or big-endian (the magic's byte order says which), with
//! zlib-compressed pages, holes, and the `CRAMFS_FLAG_EXT_BLOCK_POINTERS`
//! layout (uncompressed and direct block pointers).
//!
//! Checked before trusting: the signature `Compressed ROMFS`, known flag bits,
//! a root directory inode, and the size against the bytes present. Version 2
//! images carry a CRC-32 of the whole image; a mismatch is a note, not a
//! rejection (the rest may still be readable).
//!
//! Inodes are 12 bytes of bit fields (mode:16 uid:16, size:24 gid:8,
//! namelen:6 offset:26), laid out from the low bits on little-endian images
//! and from the high bits on big-endian ones. Directory offsets are in 4-byte
//! units; every directory is entered at most once, so a directory that
//! contains itself ends with a note.

use super::{Entry, Extracted, Format, Notes, Problem, Rejection};
use crate::unpack::compress;
use crate::unpack::limits::Budget;
use crate::unpack::tree::{EntryKind, Meta};
use std::collections::HashSet;

pub struct Cramfs;

const MAGIC: u32 = 0x28cd_3d45;
const SIGNATURE: &[u8] = b"Compressed ROMFS";
/// Header plus the root inode.
const SUPER_LEN: usize = 76;
const PAGE: u64 = 4096;
/// Longest symlink target Linux accepts (PATH_MAX).
const MAX_SYMLINK: u64 = 4096;

const FLAG_FSID_V2: u32 = 0x1;
const FLAG_SORTED_DIRS: u32 = 0x2;
const FLAG_HOLES: u32 = 0x100;
const FLAG_WRONG_SIGNATURE: u32 = 0x200;
const FLAG_SHIFTED_ROOT_OFFSET: u32 = 0x400;
const FLAG_EXT_BLOCK_POINTERS: u32 = 0x800;
const FLAGS_KNOWN: u32 = FLAG_FSID_V2
    | FLAG_SORTED_DIRS
    | FLAG_HOLES
    | FLAG_WRONG_SIGNATURE
    | FLAG_SHIFTED_ROOT_OFFSET
    | FLAG_EXT_BLOCK_POINTERS;

const BLK_UNCOMPRESSED: u32 = 1 << 31;
const BLK_DIRECT: u32 = 1 << 30;
const BLK_FLAGS: u32 = BLK_UNCOMPRESSED | BLK_DIRECT;

const S_IFMT: u32 = 0o170000;
const S_IFREG: u32 = 0o100000;
const S_IFDIR: u32 = 0o040000;
const S_IFLNK: u32 = 0o120000;

struct Image<'a> {
    bytes: &'a [u8],
    /// Offsets in the image count from this many bytes before `bytes`: 512
    /// when `mkfs.cramfs -p` put a boot block pad before the superblock.
    shift: usize,
    big_endian: bool,
    ext_pointers: bool,
}

/// One 12-byte inode.
#[derive(Clone, Copy)]
struct Inode {
    mode: u32,
    uid: u32,
    /// Only the low 8 bits of the group survive in cramfs.
    gid: u32,
    size: u64,
    /// Name length in bytes (a multiple of 4, NUL-padded).
    name_len: usize,
    /// Byte offset of the data (directory entries or block pointers).
    offset: usize,
}

impl Image<'_> {
    /// `len` bytes at image offset `at`.
    fn get(&self, at: usize, len: usize) -> Option<&[u8]> {
        let start = at.checked_sub(self.shift)?;
        self.bytes.get(start..start.checked_add(len)?)
    }

    fn u32_at(&self, at: usize) -> Option<u32> {
        let b: [u8; 4] = self.get(at, 4)?.try_into().ok()?;
        Some(if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }

    fn inode(&self, at: usize) -> Option<Inode> {
        let (w0, w1, w2) = (self.u32_at(at)?, self.u32_at(at + 4)?, self.u32_at(at + 8)?);
        let (mode, uid, size, gid, name_len, offset) = if self.big_endian {
            (
                w0 >> 16,
                w0 & 0xffff,
                w1 >> 8,
                w1 & 0xff,
                w2 >> 26,
                w2 & 0x03ff_ffff,
            )
        } else {
            (
                w0 & 0xffff,
                w0 >> 16,
                w1 & 0x00ff_ffff,
                w1 >> 24,
                w2 & 0x3f,
                w2 >> 6,
            )
        };
        Some(Inode {
            mode,
            uid,
            gid,
            size: u64::from(size),
            name_len: name_len as usize * 4,
            offset: offset as usize * 4,
        })
    }

    /// A regular file's (or symlink's) bytes, page by page.
    fn data(&self, inode: &Inode) -> Result<Vec<u8>, String> {
        let pages = inode.size.div_ceil(PAGE) as usize;
        let table = inode.offset;
        // The table of pages' end pointers comes first; data follows it.
        let data_start = table + pages * 4;
        let mut out = Vec::with_capacity(inode.size as usize);
        for page in 0..pages {
            let want = (inode.size - out.len() as u64).min(PAGE) as usize;
            let ptr_at = table + page * 4;
            let ptr = self
                .u32_at(ptr_at)
                .ok_or_else(|| format!("block pointer {page} at {ptr_at:#x} is past the end"))?;
            let (start, len, uncompressed) = if self.ext_pointers && ptr & BLK_DIRECT != 0 {
                let start = ((ptr & !BLK_FLAGS) as usize) << 2;
                if ptr & BLK_UNCOMPRESSED != 0 {
                    (start, want, true)
                } else {
                    // A direct compressed block starts with its 16-bit length.
                    let len = self
                        .get(start, 2)
                        .map(|b| {
                            usize::from(if self.big_endian {
                                u16::from_be_bytes([b[0], b[1]])
                            } else {
                                u16::from_le_bytes([b[0], b[1]])
                            })
                        })
                        .ok_or_else(|| format!("block {page} at {start:#x} is past the end"))?;
                    (start + 2, len, false)
                }
            } else {
                // The pointer is where this block ends; it starts where the
                // previous one ended (which may itself be a direct pointer).
                let start = if page == 0 {
                    data_start
                } else {
                    let prev = self.u32_at(ptr_at - 4).unwrap_or(0);
                    if self.ext_pointers && prev & BLK_DIRECT != 0 {
                        let prev_start = ((prev & !BLK_FLAGS) as usize) << 2;
                        if prev & BLK_UNCOMPRESSED != 0 {
                            prev_start + PAGE as usize
                        } else {
                            let b = self.get(prev_start, 2).unwrap_or(&[0, 0]);
                            let len = if self.big_endian {
                                u16::from_be_bytes([b[0], b[1]])
                            } else {
                                u16::from_le_bytes([b[0], b[1]])
                            };
                            prev_start + 2 + usize::from(len)
                        }
                    } else if self.ext_pointers {
                        (prev & !BLK_FLAGS) as usize
                    } else {
                        prev as usize
                    }
                };
                let end = if self.ext_pointers {
                    (ptr & !BLK_FLAGS) as usize
                } else {
                    ptr as usize
                };
                let len = end.checked_sub(start).ok_or_else(|| {
                    format!("block {page} ends at {end:#x}, before it starts at {start:#x}")
                })?;
                (start, len, self.ext_pointers && ptr & BLK_UNCOMPRESSED != 0)
            };
            if len == 0 {
                // A hole.
                out.resize(out.len() + want, 0);
                continue;
            }
            let block = self.get(start, len).ok_or_else(|| {
                format!("block {page} ({len} bytes at {start:#x}) is past the end")
            })?;
            if uncompressed {
                if block.len() < want {
                    return Err(format!("uncompressed block {page} at {start:#x} is short"));
                }
                out.extend_from_slice(&block[..want]);
                continue;
            }
            let decoded = compress::zlib(block, PAGE);
            if let Some(e) = decoded.error {
                return Err(format!("block {page} at {start:#x} does not inflate: {e}"));
            }
            if decoded.data.len() != want {
                return Err(format!(
                    "block {page} at {start:#x} inflates to {} bytes, expected {want}",
                    decoded.data.len()
                ));
            }
            out.extend_from_slice(&decoded.data);
        }
        Ok(out)
    }
}

impl Format for Cramfs {
    fn name(&self) -> &'static str {
        "cramfs"
    }

    fn magics(&self) -> &'static [&'static [u8]] {
        &[b"\x45\x3d\xcd\x28", b"\x28\xcd\x3d\x45"]
    }

    fn extract(&self, data: &[u8], budget: &mut Budget) -> Result<Extracted, Rejection> {
        let head = data.get(..SUPER_LEN).ok_or(Rejection::NotThisFormat)?;
        let big_endian = match u32::from_le_bytes([head[0], head[1], head[2], head[3]]) {
            MAGIC => false,
            m if m.swap_bytes() == MAGIC => true,
            _ => return Err(Rejection::NotThisFormat),
        };
        let mut img = Image {
            bytes: data,
            shift: 0,
            big_endian,
            ext_pointers: false,
        };
        let full_size = img.u32_at(4).unwrap_or(0) as usize;
        let flags = img.u32_at(8).unwrap_or(0);
        let root = img.inode(64).ok_or(Rejection::NotThisFormat)?;
        if &head[16..32] != SIGNATURE || flags & !FLAGS_KNOWN != 0 || root.mode & S_IFMT != S_IFDIR
        {
            return Err(Rejection::NotThisFormat);
        }
        // mkfs.cramfs puts the root's entries right after the superblock; 512
        // bytes further means a boot block pad precedes it, and every offset
        // (and the size) counts from the start of the pad.
        if root.size > 0 && root.offset == 512 + SUPER_LEN {
            img.shift = 512;
        }
        let size = full_size.saturating_sub(img.shift);
        if size < SUPER_LEN {
            return Err(Rejection::NotThisFormat);
        }
        img.ext_pointers = flags & FLAG_EXT_BLOCK_POINTERS != 0;
        let mut out = Extracted {
            size: size.min(data.len()) as u64,
            filesystem: true,
            detail: Some(format!(
                "cramfs {}, {size} bytes, name {:?}{}{}",
                if big_endian {
                    "big-endian"
                } else {
                    "little-endian"
                },
                String::from_utf8_lossy(&head[48..64]).trim_end_matches('\0'),
                if img.ext_pointers {
                    ", extended block pointers"
                } else {
                    ""
                },
                if img.shift > 0 {
                    ", after a 512-byte boot block pad"
                } else {
                    ""
                }
            )),
            ..Default::default()
        };
        if size > data.len() {
            out.notes.push(Problem::Error(format!(
                "cramfs image is truncated: superblock says {size} bytes, only {} present",
                data.len()
            )));
        } else if flags & FLAG_FSID_V2 != 0 {
            // The CRC covers the image from the superblock on, its own field zeroed.
            let stored = img.u32_at(img.shift + 32).unwrap_or(0);
            let mut hasher = crc32fast::Hasher::new();
            hasher.update(&data[..32]);
            hasher.update(&[0; 4]);
            hasher.update(&data[36..size]);
            let crc = hasher.finalize();
            if crc != stored {
                out.notes.push(Problem::Error(format!(
                    "cramfs CRC {crc:#010x} does not match the superblock's {stored:#010x}; contents may be damaged"
                )));
            }
        }
        img.bytes = &data[..size.min(data.len())];
        // Holes cost 4 bytes of block pointer per 4 KiB page, and inodes may
        // share pointers: the image as a whole is held to the ratio bound.
        budget.bound_layer(out.size);
        walk(&img, root, budget, &mut out);
        Ok(out)
    }
}

fn walk(img: &Image, root: Inode, budget: &mut Budget, out: &mut Extracted) {
    let mut seen: HashSet<usize> = HashSet::from([root.offset]);
    let mut pending = vec![(root, String::new())];
    let mut notes = Notes::default();
    'dirs: while let Some((dir, dir_path)) = pending.pop() {
        let mut at = dir.offset;
        let end = dir.offset.saturating_add(dir.size as usize);
        let mut subdirs = Vec::new();
        while at < end {
            let Some(inode) = img.inode(at) else {
                notes.push(Problem::Error(format!(
                    "cramfs: {dir_path}/: entry at {at:#x} is past the end of the image"
                )));
                break;
            };
            let name_at = at + 12;
            let Some(raw) = img.get(name_at, inode.name_len) else {
                notes.push(Problem::Error(format!(
                    "cramfs: {dir_path}/: name at {name_at:#x} is past the end of the image"
                )));
                break;
            };
            at = name_at + inode.name_len;
            if inode.name_len == 0 {
                notes.push(Problem::Error(format!(
                    "cramfs: {dir_path}/: entry at {:#x} has no name; rest of the directory skipped",
                    name_at - 12
                )));
                break;
            }
            let raw = &raw[..raw.iter().position(|&b| b == 0).unwrap_or(raw.len())];
            let name = String::from_utf8_lossy(raw).into_owned();
            if raw.is_empty() || raw.contains(&b'/') || raw == b"." || raw == b".." {
                notes.push(Problem::Error(format!(
                    "cramfs: {dir_path}/: entry name {name:?} is empty, a dot name or contains '/'; skipped"
                )));
                continue;
            }
            let path = format!("{dir_path}/{name}");
            if let Err(bound) = budget.entry() {
                notes.push(Problem::Limit(format!(
                    "cramfs: {bound} reached; the rest of its entries were skipped"
                )));
                break 'dirs;
            }
            let (kind, contents) = match inode.mode & S_IFMT {
                S_IFDIR => {
                    // An empty directory has offset 0; anything else is entered once.
                    if inode.size > 0 {
                        if seen.insert(inode.offset) {
                            subdirs.push((inode, path.clone()));
                        } else {
                            notes.push(Problem::Error(format!(
                                "cramfs: {path}: directory entries at {:#x} were already read (a cycle); not descended",
                                inode.offset
                            )));
                        }
                    }
                    (EntryKind::Dir, Vec::new())
                }
                S_IFLNK if inode.size > MAX_SYMLINK => {
                    notes.push(Problem::Error(format!(
                        "cramfs: symlink {path}: target of {} bytes is longer than PATH_MAX",
                        inode.size
                    )));
                    continue;
                }
                S_IFREG | S_IFLNK => {
                    let is_file = inode.mode & S_IFMT == S_IFREG;
                    if is_file && let Err(bound) = budget.charge_file(inode.size) {
                        notes.push(Problem::Limit(format!(
                            "cramfs: {path}: {} bytes reach {bound}; skipped",
                            inode.size
                        )));
                        continue;
                    }
                    match img.data(&inode) {
                        Ok(data) if is_file => (EntryKind::File, data),
                        Ok(data) => (
                            EntryKind::Symlink(String::from_utf8_lossy(&data).into_owned()),
                            Vec::new(),
                        ),
                        Err(e) => {
                            notes.push(Problem::Error(format!("cramfs: {path}: {e}")));
                            continue;
                        }
                    }
                }
                _ => (EntryKind::Special, Vec::new()),
            };
            out.entries.push(Entry {
                path: path.trim_start_matches('/').to_string(),
                kind,
                data: contents,
                meta: Some(Meta::new(inode.mode, inode.uid, inode.gid)),
            });
        }
        pending.extend(subdirs.into_iter().rev());
    }
    notes.finish("cramfs", &mut out.notes);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unpack::formats::listing;
    use crate::unpack::limits::Limits;

    const LE: &[u8] = include_bytes!("../../../tests/fixtures/cramfs-le.img");
    const BE: &[u8] = include_bytes!("../../../tests/fixtures/cramfs-be.img");
    const TEXT: &[u8] = include_bytes!("../../../tests/fixtures/text.txt");

    #[test]
    fn both_endians_read_the_same() {
        let le = Cramfs
            .extract(LE, &mut Budget::new(Limits::default()))
            .unwrap();
        let be = Cramfs
            .extract(BE, &mut Budget::new(Limits::default()))
            .unwrap();
        assert!(le.notes.is_empty(), "{:?}", le.notes);
        assert!(be.notes.is_empty(), "{:?}", be.notes);
        assert_eq!(listing(&le), listing(&be));
        assert_eq!(
            listing(&le),
            crate::unpack::formats::fs_fixture_listing(false)
        );
        for out in [&le, &be] {
            let file = |p: &str| &out.entries.iter().find(|e| e.path == p).unwrap().data;
            assert_eq!(file("etc/hostname"), b"router\n");
            // Three pages of zlib.
            assert_eq!(file("usr/share/big.txt"), &TEXT.repeat(3));
            assert_eq!(file("etc/motd"), TEXT);
        }
        assert!(le.detail.as_deref().unwrap().contains("little-endian"));
        assert!(be.detail.as_deref().unwrap().contains("big-endian"));
    }

    #[test]
    fn a_crc_mismatch_is_a_note_and_chance_magic_is_rejected() {
        let mut image = LE.to_vec();
        let at = image.windows(7).position(|w| w == b"fwaudit").unwrap();
        image[at] = b'F';
        let out = Cramfs
            .extract(&image, &mut Budget::new(Limits::default()))
            .unwrap();
        assert!(
            format!("{:?}", out.notes).contains("CRC"),
            "{:?}",
            out.notes
        );
        let mut fake = LE[..4].to_vec();
        fake.resize(200, b'x');
        assert_eq!(
            Cramfs
                .extract(&fake, &mut Budget::new(Limits::default()))
                .unwrap_err(),
            Rejection::NotThisFormat
        );
    }

    #[test]
    fn a_directory_that_contains_itself_is_read_once() {
        // The first root entry (`a`, a directory) made to point at the root's entries.
        let mut image = LE.to_vec();
        let root = u32::from_le_bytes(image[72..76].try_into().unwrap());
        let a = (root >> 6) as usize * 4;
        assert_eq!(&image[a + 12..a + 13], b"a");
        let w2 = u32::from_le_bytes(image[a + 8..a + 12].try_into().unwrap());
        image[a + 8..a + 12].copy_from_slice(&((w2 & 0x3f) | (root & !0x3f)).to_le_bytes());
        let out = Cramfs
            .extract(&image, &mut Budget::new(Limits::default()))
            .unwrap();
        assert!(
            format!("{:?}", out.notes).contains("a cycle"),
            "{:?}",
            out.notes
        );
    }

    /// Byte offset of the block pointer table of the file named `name` (LE image).
    fn table_of(image: &[u8], name: &[u8]) -> usize {
        let at = image.windows(name.len()).position(|w| w == name).unwrap() - 12;
        let w2 = u32::from_le_bytes(image[at + 8..at + 12].try_into().unwrap());
        (w2 >> 6) as usize * 4
    }

    #[test]
    fn extended_block_pointers_direct_and_uncompressed() {
        // No packaged mkcramfs writes this layout: rewrite the fixture so that
        // `hostname` is a direct uncompressed block and `motd` a direct
        // compressed one (16-bit length first), both appended at the end.
        let mut image = LE.to_vec();
        let size = u32::from_le_bytes(image[4..8].try_into().unwrap()) as usize;
        image.truncate(size);
        let flags = u32::from_le_bytes(image[8..12].try_into().unwrap());
        image[8..12].copy_from_slice(&(flags | FLAG_EXT_BLOCK_POINTERS).to_le_bytes());
        let hostname = table_of(&image, b"hostname");
        let motd = table_of(&image, b"motd");
        // motd's only block: from the end of its one-entry table to its pointer.
        let motd_end = u32::from_le_bytes(image[motd..motd + 4].try_into().unwrap()) as usize;
        let motd_block = image[motd + 4..motd_end].to_vec();
        let raw_at = image.len();
        image.extend_from_slice(b"router\n\0");
        let direct = BLK_DIRECT | BLK_UNCOMPRESSED | (raw_at as u32 >> 2);
        image[hostname..hostname + 4].copy_from_slice(&direct.to_le_bytes());
        let zlib_at = image.len();
        image.extend_from_slice(&(motd_block.len() as u16).to_le_bytes());
        image.extend_from_slice(&motd_block);
        image.resize(image.len().div_ceil(4) * 4, 0);
        let direct = BLK_DIRECT | (zlib_at as u32 >> 2);
        image[motd..motd + 4].copy_from_slice(&direct.to_le_bytes());
        let len = image.len() as u32;
        image[4..8].copy_from_slice(&len.to_le_bytes());
        let out = Cramfs
            .extract(&image, &mut Budget::new(Limits::default()))
            .unwrap();
        // Only the CRC (not recomputed here) is off.
        assert!(
            matches!(&out.notes[..], [Problem::Error(m)] if m.contains("CRC")),
            "{:?}",
            out.notes
        );
        let file = |p: &str| &out.entries.iter().find(|e| e.path == p).unwrap().data;
        assert_eq!(file("etc/hostname"), b"router\n");
        assert_eq!(file("etc/motd"), TEXT);
        assert_eq!(file("usr/share/big.txt"), &TEXT.repeat(3));
        assert!(out.detail.unwrap().contains("extended block pointers"));
    }

    #[test]
    fn a_boot_block_pad_before_the_superblock_shifts_every_offset() {
        // `mkfs.cramfs -p` of the fixture tree (make.sh): 512 bytes of pad,
        // and every offset counts from the pad. The carver finds the magic at 0x200.
        const PAD: &[u8] = include_bytes!("../../../tests/fixtures/cramfs-pad.img");
        assert!(PAD[..512].iter().all(|&b| b == 0));
        let out = Cramfs
            .extract(&PAD[512..], &mut Budget::new(Limits::default()))
            .unwrap();
        assert!(out.notes.is_empty(), "{:?}", out.notes);
        assert_eq!(
            listing(&out),
            crate::unpack::formats::fs_fixture_listing(false)
        );
        assert!(out.detail.unwrap().contains("boot block pad"));
        assert_eq!(out.size as usize, PAD.len() - 512);
    }

    #[test]
    fn truncation_is_noted_never_a_panic() {
        for cut in (0..LE.len()).step_by(97) {
            if let Ok(out) = Cramfs.extract(&LE[..cut], &mut Budget::new(Limits::default())) {
                assert!(!out.notes.is_empty(), "cut {cut}");
            }
        }
    }
}
