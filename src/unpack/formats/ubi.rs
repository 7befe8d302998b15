//! UBI images (`ubinize` output, or a dump of an MTD partition that UBI
//! manages). The image is a run of physical erase blocks (PEBs); each starts
//! with an erase counter header (`UBI#`) and, when it holds data, a volume id
//! header (`UBI!`) naming the volume and the logical erase block (LEB) of that
//! volume the PEB's data is. Both headers are 64 bytes, big-endian, with a
//! CRC32. The layout volume holds the volume table (names, types).
//!
//! Each volume becomes one entry named after it, its LEBs in order, so that the
//! recursion finds the UBIFS, squashfs or kernel inside. Layout from the
//! kernel's `drivers/mtd/ubi/ubi-media.h`.
//!
//! Bounds: every LEB number must name a PEB of the image (so a volume is never
//! larger than the image it came from), every volume is drawn from the
//! [`Budget`], and bookkeeping is one record per PEB.

use super::{Entry, Extracted, Format, Notes, Problem, Rejection, be32, be64};
use crate::unpack::limits::Budget;
use crate::unpack::tree::EntryKind;
use std::collections::{BTreeMap, HashSet};

pub struct Ubi;

const EC_MAGIC: &[u8] = b"UBI#";
const VID_MAGIC: &[u8] = b"UBI!";
const HDR_LEN: usize = 64;
/// `UBI_LAYOUT_VOLUME_ID`: the internal volume holding the volume table.
const LAYOUT_VOLUME_ID: u32 = 0x7FFF_EFFF;
/// `UBI_MAX_VOLUMES`: user volume ids are below this.
const MAX_VOLUMES: u32 = 128;
const VTBL_RECORD_LEN: usize = 172;
const VOL_NAME_MAX: usize = 127;
const DYNAMIC: u8 = 1;
const STATIC: u8 = 2;
/// Largest PEB looked for (NAND erase blocks are at most a few MiB).
const MAX_PEB_SIZE: usize = 16 << 20;
/// Valid erase counter headers looked at to find the PEB size.
const SPACING_SAMPLES: usize = 64;

/// The kernel's `crc32(UBI_CRC32_INIT, ...)`: seeded with all ones, no final
/// inversion, which is the complement of the usual CRC32. UBIFS uses the same.
pub(super) fn crc(bytes: &[u8]) -> u32 {
    !crc32fast::hash(bytes)
}

/// The erase counter header fields that must agree across one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ec {
    vid_hdr_offset: usize,
    data_offset: usize,
    image_seq: u32,
}

/// What a 64-byte header slot (EC at a PEB's start, VID after it) holds.
enum Header<T> {
    Valid(T),
    /// The magic, but the header CRC does not match.
    BadCrc,
    /// All 0xFF: an erased block.
    Erased,
    Other,
}

type EcHeader = Header<Ec>;
type VidHeader = Header<Vid>;

/// The header at `at` when it carries `magic` and its CRC matches; else
/// what the slot is instead.
fn checked_slot<'a, T>(data: &'a [u8], at: usize, magic: &[u8]) -> Result<&'a [u8], Header<T>> {
    let Some(h) = data.get(at..).and_then(|d| d.get(..HDR_LEN)) else {
        return Err(Header::Other);
    };
    if h.iter().all(|&b| b == 0xff) {
        return Err(Header::Erased);
    }
    if &h[..4] != magic {
        return Err(Header::Other);
    }
    if be32(h, 60) != Some(crc(&h[..60])) {
        return Err(Header::BadCrc);
    }
    Ok(h)
}

fn ec_header(data: &[u8], at: usize) -> EcHeader {
    let h = match checked_slot(data, at, EC_MAGIC) {
        Ok(h) => h,
        Err(not) => return not,
    };
    let field = |at: usize| be32(h, at).unwrap_or(0) as usize;
    let ec = Ec {
        vid_hdr_offset: field(16),
        data_offset: field(20),
        image_seq: be32(h, 24).unwrap_or(0),
    };
    // Version 1 is the only one; the VID header sits between the EC header
    // and the data (ubi-media.h).
    if h[4] != 1
        || ec.vid_hdr_offset < HDR_LEN
        || ec.vid_hdr_offset + HDR_LEN > ec.data_offset
        || ec.data_offset >= MAX_PEB_SIZE
    {
        return EcHeader::Other;
    }
    EcHeader::Valid(ec)
}

/// A volume id header: one LEB of one volume.
#[derive(Debug, Clone)]
struct Vid {
    peb: usize,
    vol_type: u8,
    copy_flag: u8,
    vol_id: u32,
    lnum: u32,
    data_size: usize,
    used_ebs: u32,
    data_pad: usize,
    data_crc: u32,
    sqnum: u64,
}

fn vid_header(data: &[u8], at: usize, peb: usize) -> VidHeader {
    let h = match checked_slot(data, at, VID_MAGIC) {
        Ok(h) => h,
        Err(not) => return not,
    };
    let field = |at: usize| be32(h, at).unwrap_or(0);
    VidHeader::Valid(Vid {
        peb,
        vol_type: h[5],
        copy_flag: h[6],
        vol_id: field(8),
        lnum: field(12),
        data_size: field(20) as usize,
        used_ebs: field(24),
        data_pad: field(28) as usize,
        data_crc: field(32),
        sqnum: be64(h, 40).unwrap_or(0),
    })
}

/// The PEB size: the greatest common divisor of the offsets of the first
/// valid erase counter headers of this image, so that one damaged header does
/// not double it.
fn peb_size(data: &[u8], first: Ec) -> Option<usize> {
    let window = &data[..data.len().min(MAX_PEB_SIZE * 4 + HDR_LEN)];
    let mut size = 0usize;
    let mut seen = 0;
    for at in memchr::memmem::find_iter(window, EC_MAGIC) {
        if at <= first.data_offset {
            continue;
        }
        if matches!(ec_header(data, at), EcHeader::Valid(ec) if ec == first) {
            let next = gcd(size, at);
            // A nested image's header inside a LEB would make the spacing
            // smaller than a PEB's headers: ignore such offsets.
            if next > first.data_offset {
                size = next;
            }
            seen += 1;
            if seen == SPACING_SAMPLES {
                break;
            }
        }
    }
    (size > first.data_offset).then_some(size)
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// One record of the volume table.
#[derive(Debug, Clone)]
struct VolumeRecord {
    name: String,
    vol_type: u8,
    data_pad: usize,
    upd_marker: bool,
}

/// Reads the volume table from one copy (a LEB of the layout volume); an
/// error when a record's CRC does not match.
fn volume_table(leb: &[u8]) -> Result<BTreeMap<u32, VolumeRecord>, String> {
    let count = (leb.len() / VTBL_RECORD_LEN).min(MAX_VOLUMES as usize);
    let mut table = BTreeMap::new();
    for id in 0..count {
        let r = &leb[id * VTBL_RECORD_LEN..(id + 1) * VTBL_RECORD_LEN];
        if be32(r, 168) != Some(crc(&r[..168])) {
            return Err(format!("volume table record {id}: CRC mismatch"));
        }
        let reserved_pebs = be32(r, 0).unwrap_or(0);
        if reserved_pebs == 0 {
            continue; // an unused slot
        }
        let name_len = usize::from(u16::from_be_bytes([r[14], r[15]])).min(VOL_NAME_MAX);
        table.insert(
            id as u32,
            VolumeRecord {
                name: String::from_utf8_lossy(&r[16..16 + name_len]).into_owned(),
                vol_type: r[12],
                data_pad: be32(r, 8).unwrap_or(0) as usize,
                upd_marker: r[13] != 0,
            },
        );
    }
    Ok(table)
}

fn type_name(t: u8) -> &'static str {
    match t {
        DYNAMIC => "dynamic",
        STATIC => "static",
        _ => "unknown type",
    }
}

impl Format for Ubi {
    fn name(&self) -> &'static str {
        "ubi"
    }

    fn magics(&self) -> &'static [&'static [u8]] {
        &[EC_MAGIC]
    }

    fn extract(&self, data: &[u8], budget: &mut Budget) -> Result<Extracted, Rejection> {
        let first = match ec_header(data, 0) {
            EcHeader::Valid(ec) => ec,
            EcHeader::BadCrc if data.get(4) == Some(&1) => {
                return Err(Rejection::Corrupt(
                    "UBI erase counter header CRC mismatch; this PEB is skipped".into(),
                ));
            }
            _ => return Err(Rejection::NotThisFormat),
        };
        let peb = peb_size(data, first).ok_or_else(|| {
            Rejection::Corrupt(
                "UBI: no second erase counter header of the same image, so the PEB size is unknown"
                    .into(),
            )
        })?;
        let leb_size = peb - first.data_offset;
        let mut notes = Notes::default();

        // One pass over the PEBs: the image ends at the first block that is
        // neither UBI nor erased (unless the next one is this image's again:
        // a damaged block), or at another image (different sequence).
        let mut vids: Vec<Vid> = Vec::new();
        let mut end = 0usize;
        let mut index = 0usize;
        while index * peb < data.len() {
            let at = index * peb;
            match ec_header(data, at) {
                EcHeader::Valid(ec) if ec == first => {}
                // Like the kernel, a damaged erase counter header only loses
                // the erase count: the volume id header is still read.
                EcHeader::BadCrc => notes.push(Problem::Error(format!(
                    "PEB {index} at {at:#x}: erase counter header CRC mismatch (erase count unknown)"
                ))),
                EcHeader::Other
                    if matches!(ec_header(data, at + peb), EcHeader::Valid(ec) if ec == first) =>
                {
                    notes.push(Problem::Error(format!(
                        "PEB {index} at {at:#x}: no erase counter header (erase count unknown)"
                    )));
                }
                EcHeader::Valid(_) | EcHeader::Other => break,
                EcHeader::Erased => {
                    index += 1;
                    continue;
                }
            }
            end = (at + peb).min(data.len());
            if at + peb > data.len() {
                notes.push(Problem::Error(format!(
                    "PEB {index} at {at:#x} is truncated: {} of {peb} bytes present",
                    data.len() - at
                )));
            }
            match vid_header(data, at + first.vid_hdr_offset, index) {
                VidHeader::Valid(vid) => vids.push(vid),
                VidHeader::Erased => {} // a free block
                VidHeader::BadCrc => notes.push(Problem::Error(format!(
                    "PEB {index} at {at:#x}: volume id header CRC mismatch; block skipped"
                ))),
                VidHeader::Other => {
                    if at + first.vid_hdr_offset + HDR_LEN <= data.len() {
                        notes.push(Problem::Error(format!(
                            "PEB {index} at {at:#x}: no volume id header and not erased; block skipped"
                        )));
                    }
                }
            }
            index += 1;
        }
        let peb_count = end.div_ceil(peb);
        let leb_data = |vid: &Vid| -> &[u8] {
            let start = vid.peb * peb + first.data_offset;
            let stop = ((vid.peb + 1) * peb).min(data.len());
            data.get(start..stop).unwrap_or(&[])
        };

        // Highest sequence number wins for each (volume, LEB); a copy whose
        // data CRC is checked (static volumes, copies made by wear-levelling)
        // must match it, else the older copy is used.
        vids.sort_by(|a, b| (a.vol_id, a.lnum, b.sqnum).cmp(&(b.vol_id, b.lnum, a.sqnum)));
        let mut lebs: BTreeMap<u32, BTreeMap<u32, Vid>> = BTreeMap::new();
        for group in vids.chunk_by(|a, b| (a.vol_id, a.lnum) == (b.vol_id, b.lnum)) {
            let head = &group[0];
            let (vol_id, lnum) = (head.vol_id, head.lnum);
            if vol_id != LAYOUT_VOLUME_ID && vol_id >= MAX_VOLUMES {
                // Other internal volumes (fastmap) hold no user data.
                if vol_id < LAYOUT_VOLUME_ID {
                    notes.push(Problem::Error(format!(
                        "PEB {}: volume id {vol_id} is out of range; block skipped",
                        head.peb
                    )));
                }
                continue;
            }
            if lnum as usize >= peb_count {
                notes.push(Problem::Error(format!(
                    "PEB {}: volume {vol_id} LEB {lnum} is beyond the image's {peb_count} PEBs; block skipped",
                    head.peb
                )));
                continue;
            }
            let checked = |v: &Vid| v.vol_type == STATIC || v.copy_flag != 0;
            let intact = |v: &Vid| {
                let d = leb_data(v);
                v.data_size <= d.len() && crc(&d[..v.data_size]) == v.data_crc
            };
            let best = group
                .iter()
                .find(|v| !checked(v) || intact(v))
                .unwrap_or_else(|| {
                    notes.push(Problem::Error(format!(
                        "volume {vol_id} LEB {lnum} (PEB {}): data CRC mismatch; kept as is",
                        head.peb
                    )));
                    head
                });
            lebs.entry(vol_id).or_default().insert(lnum, best.clone());
        }

        // The volume table: LEB 0 of the layout volume, LEB 1 is its copy.
        let layout = lebs.remove(&LAYOUT_VOLUME_ID).unwrap_or_default();
        let mut table = None;
        for lnum in 0..2 {
            if let Some(vid) = layout.get(&lnum) {
                match volume_table(leb_data(vid)) {
                    Ok(t) => {
                        table = Some(t);
                        break;
                    }
                    Err(e) => notes.push(Problem::Error(format!("layout volume LEB {lnum}: {e}"))),
                }
            }
        }
        if table.is_none() {
            notes.push(Problem::Error(
                "no readable volume table (layout volume); volumes are named by id".to_string(),
            ));
        }
        let table = table.unwrap_or_default();

        let mut ids: Vec<u32> = table.keys().copied().collect();
        ids.extend(lebs.keys().filter(|id| !table.contains_key(id)));
        ids.sort_unstable();
        let mut names = HashSet::new();
        let mut entries = Vec::new();
        let mut summary = Vec::new();
        for id in ids {
            let record = table.get(&id);
            let volume_lebs = lebs.remove(&id).unwrap_or_default();
            let vol_type = record
                .map(|r| r.vol_type)
                .or_else(|| volume_lebs.values().next().map(|v| v.vol_type))
                .unwrap_or(DYNAMIC);
            let mut name = record.map(|r| r.name.clone()).unwrap_or_default();
            if record.is_some() && (name.is_empty() || name.contains(['/', '\0']) || name == "..") {
                notes.push(Problem::Error(format!(
                    "volume {id}: name {name:?} is not usable as a file name; listed as volume-{id}"
                )));
                name.clear();
            }
            if record.is_none() && !table.is_empty() {
                notes.push(Problem::Error(format!(
                    "volume {id} has LEBs but no volume table record; listed as volume-{id}"
                )));
            }
            if name.is_empty() || !names.insert(name.clone()) {
                name = format!("volume-{id}");
                names.insert(name.clone());
            }
            if record.is_some_and(|r| r.upd_marker) {
                notes.push(Problem::Error(format!(
                    "volume {name}: update marker set (an update was interrupted); contents may be incomplete"
                )));
            }
            let data_pad = record
                .map(|r| r.data_pad)
                .or_else(|| volume_lebs.values().next().map(|v| v.data_pad))
                .unwrap_or(0);
            let usable = leb_size.saturating_sub(data_pad);
            let count = volume_lebs.len();
            summary.push(format!(
                "{name} ({}, {count} LEB{})",
                type_name(vol_type),
                if count == 1 { "" } else { "s" }
            ));
            let bytes = if vol_type == STATIC {
                static_volume(&name, &volume_lebs, usable, leb_data, budget, &mut notes)
            } else {
                dynamic_volume(&name, &volume_lebs, usable, leb_data, budget, &mut notes)
            };
            let Some(bytes) = bytes else { continue };
            entries.push(Entry {
                path: name,
                kind: EntryKind::File,
                data: bytes,
                meta: None,
            });
        }
        Ok(Extracted {
            size: end as u64,
            entries,
            filesystem: false,
            scanned_in_place: false,
            detail: Some(format!(
                "UBI, PEB size {peb}, LEB size {leb_size}, image sequence {:#x}, volumes: {}",
                first.image_seq,
                if summary.is_empty() {
                    "none".to_string()
                } else {
                    summary.join(", ")
                }
            )),
            notes: {
                let mut list = Vec::new();
                notes.finish("ubi", &mut list);
                list
            },
        })
    }
}

/// Takes `len` bytes from the budget for volume `name`, or notes the bound.
fn reserve(name: &str, len: usize, budget: &mut Budget, notes: &mut Notes) -> bool {
    let len = len as u64;
    if let Err(bound) = budget.charge_file(len) {
        notes.push(Problem::Limit(format!(
            "volume {name}: {len} bytes reach {bound}; skipped"
        )));
        return false;
    }
    true
}

/// A dynamic volume: every LEB up to the highest mapped one, each `usable`
/// bytes; unmapped LEBs read as erased flash (0xFF), as UBI returns them.
fn dynamic_volume<'a>(
    name: &str,
    lebs: &BTreeMap<u32, Vid>,
    usable: usize,
    leb_data: impl Fn(&Vid) -> &'a [u8],
    budget: &mut Budget,
    notes: &mut Notes,
) -> Option<Vec<u8>> {
    let count = lebs.keys().next_back().map_or(0, |&last| last as usize + 1);
    // LEB numbers were checked against the PEB count: this is at most the image size.
    let len = count * usable;
    if !reserve(name, len, budget, notes) {
        return None;
    }
    let mut out = vec![0xffu8; len];
    for (&lnum, vid) in lebs {
        let src = leb_data(vid);
        let take = src.len().min(usable);
        let at = lnum as usize * usable;
        out[at..at + take].copy_from_slice(&src[..take]);
    }
    Some(out)
}

/// A static volume: LEBs `0..used_ebs`, each holding `data_size` bytes.
fn static_volume<'a>(
    name: &str,
    lebs: &BTreeMap<u32, Vid>,
    usable: usize,
    leb_data: impl Fn(&Vid) -> &'a [u8],
    budget: &mut Budget,
    notes: &mut Notes,
) -> Option<Vec<u8>> {
    let used = lebs.values().next().map_or(0, |v| v.used_ebs);
    let mut parts: Vec<&[u8]> = Vec::new();
    for lnum in 0..used {
        let Some(vid) = lebs.get(&lnum) else {
            notes.push(Problem::Error(format!(
                "static volume {name}: LEB {lnum} of {used} is missing; volume cut there"
            )));
            break;
        };
        let src = leb_data(vid);
        if vid.data_size > usable || vid.data_size > src.len() {
            notes.push(Problem::Error(format!(
                "static volume {name}: LEB {lnum} claims {} data bytes, only {} present; volume cut there",
                vid.data_size,
                src.len().min(usable)
            )));
            parts.push(&src[..src.len().min(usable)]);
            break;
        }
        parts.push(&src[..vid.data_size]);
    }
    let len = parts.iter().map(|p| p.len()).sum();
    if !reserve(name, len, budget, notes) {
        return None;
    }
    Some(parts.concat())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unpack::limits::Limits;

    /// `ubinize -p 16KiB -m 512`: dynamic `rootfs` (UBIFS) and static `kernel` (make.sh).
    const IMAGE: &[u8] = include_bytes!("../../../tests/fixtures/rootfs.ubi");
    const PEB: usize = 16384;
    /// 12 LEBs of 15 KiB: what `mkfs.ubifs` wrote.
    const IMAGE_ROOTFS_LEN: usize = 12 * 15360;

    fn extract(data: &[u8]) -> Extracted {
        Ubi.extract(data, &mut Budget::new(Limits::default()))
            .unwrap()
    }

    /// Rewrites the CRC of the 64-byte header at `at`.
    fn reseal(data: &mut [u8], at: usize) {
        let c = crc(&data[at..at + 60]);
        data[at + 60..at + 64].copy_from_slice(&c.to_be_bytes());
    }

    #[test]
    fn reads_both_volumes_of_ubinize_output() {
        let out = extract(IMAGE);
        assert!(out.notes.is_empty(), "{:?}", out.notes);
        assert_eq!(out.size, IMAGE.len() as u64);
        let detail = out.detail.as_deref().unwrap();
        assert!(
            detail.starts_with("UBI, PEB size 16384, LEB size 15360, image sequence 0x1d2c3b4a"),
            "{detail}"
        );
        assert!(
            detail.ends_with("volumes: rootfs (dynamic, 12 LEBs), kernel (static, 1 LEB)"),
            "{detail}"
        );
        let names: Vec<_> = out.entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(names, ["rootfs", "kernel"]);
        // The dynamic volume is whole LEBs and starts with the UBIFS superblock.
        assert_eq!(out.entries[0].data.len() % 15360, 0);
        assert_eq!(out.entries[0].data[..4], [0x31, 0x18, 0x10, 0x06]);
        // The static volume is exactly the gzip'd kernel stand-in: its
        // data_size, no padding, and it decompresses to text.txt.
        let gz = &out.entries[1].data;
        let decoded = crate::unpack::compress::gzip(gz, 1 << 20);
        assert_eq!(decoded.consumed, gz.len());
        let text = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/text.txt");
        assert_eq!(decoded.data, std::fs::read(text).unwrap());
    }

    #[test]
    fn the_newer_copy_of_a_leb_wins_and_a_bad_copy_loses() {
        // Append a copy of the kernel PEB with a higher sequence number and
        // different data; then damage its data so that its CRC fails.
        let kernel_peb = (0..IMAGE.len() / PEB)
            .find(|&i| be32(IMAGE, i * PEB + 512 + 8) == Some(1))
            .unwrap();
        let mut copy = IMAGE[kernel_peb * PEB..(kernel_peb + 1) * PEB].to_vec();
        let sq = be64(&copy, 512 + 40).unwrap() + 100;
        copy[512 + 40..512 + 48].copy_from_slice(&sq.to_be_bytes());
        copy[1024 + 100] ^= 0xff;
        let size = be32(&copy, 512 + 20).unwrap() as usize;
        let data_crc = crc(&copy[1024..1024 + size]);
        copy[512 + 32..512 + 36].copy_from_slice(&data_crc.to_be_bytes());
        reseal(&mut copy, 512);
        let mut image = IMAGE.to_vec();
        image.extend_from_slice(&copy);
        let newer = extract(&image);
        assert!(newer.notes.is_empty(), "{:?}", newer.notes);
        assert_eq!(
            newer.entries[1].data[100],
            IMAGE[kernel_peb * PEB + 1024 + 100] ^ 0xff
        );
        // Same copy, data damaged after the CRC was computed: the old one is used.
        let last = image.len() - PEB;
        image[last + 1024 + 100] ^= 0x01;
        let older = extract(&image);
        assert!(older.notes.is_empty(), "{:?}", older.notes);
        assert_eq!(
            older.entries[1].data[100],
            IMAGE[kernel_peb * PEB + 1024 + 100]
        );
    }

    #[test]
    fn a_damaged_header_is_noted_and_the_rest_is_read() {
        let mut image = IMAGE.to_vec();
        // PEB 1's erase counter header: the PEB size must still be found.
        image[PEB + 10] ^= 0x40;
        let out = extract(&image);
        let whole = extract(IMAGE);
        let notes = |out: &Extracted| -> Vec<String> {
            out.notes
                .iter()
                .map(|n| match n {
                    Problem::Error(m) | Problem::Limit(m) => m.clone(),
                })
                .collect()
        };
        assert_eq!(
            notes(&out),
            ["PEB 1 at 0x4000: erase counter header CRC mismatch (erase count unknown)"]
        );
        assert_eq!(out.size, IMAGE.len() as u64);
        assert_eq!(out.entries[0].data, whole.entries[0].data);
        assert_eq!(out.entries[1].data, whole.entries[1].data);
        // A block with no erase counter header at all, followed by this
        // image's blocks, is a damaged block, not the end of the image.
        image[3 * PEB..3 * PEB + 4].copy_from_slice(b"XXXX");
        // A damaged volume id header loses that LEB (rootfs LEB 2).
        image[4 * PEB + 512 + 20] ^= 1;
        let out = extract(&image);
        assert_eq!(
            notes(&out)[1..],
            [
                "PEB 3 at 0xc000: no erase counter header (erase count unknown)",
                "PEB 4 at 0x10000: volume id header CRC mismatch; block skipped"
            ]
        );
        assert_eq!(out.size, IMAGE.len() as u64);
        let rootfs = &out.entries[0].data;
        assert_eq!(rootfs.len(), IMAGE_ROOTFS_LEN);
        assert_eq!(rootfs[..2 * 15360], whole.entries[0].data[..2 * 15360]);
        assert!(rootfs[2 * 15360..3 * 15360].iter().all(|&b| b == 0xff));
    }

    #[test]
    fn hostile_leb_numbers_allocate_nothing() {
        // Every data PEB claims LEB 0x7fffffff of volume 0.
        let mut image = IMAGE.to_vec();
        for i in 0..image.len() / PEB {
            let at = i * PEB + 512;
            if be32(&image, at + 8) == Some(0) {
                image[at + 12..at + 16].copy_from_slice(&0x7fff_ffffu32.to_be_bytes());
                reseal(&mut image, at);
            }
        }
        let out = extract(&image);
        let rootfs = out.entries.iter().find(|e| e.path == "rootfs").unwrap();
        assert!(rootfs.data.is_empty());
        assert!(
            out.notes.iter().any(|n| matches!(n, Problem::Error(m) if m.contains("LEB 2147483647 is beyond the image's"))),
            "{:?}",
            out.notes
        );
    }

    #[test]
    fn volumes_are_drawn_from_the_budget() {
        let limits = Limits {
            max_file_size: 20_000,
            ..Limits::default()
        };
        let out = Ubi.extract(IMAGE, &mut Budget::new(limits)).unwrap();
        let names: Vec<_> = out.entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(names, ["kernel"]);
        assert!(matches!(&out.notes[..], [Problem::Limit(m)] if m.contains("volume rootfs")));
    }

    #[test]
    fn chance_magic_and_single_headers_are_rejected() {
        assert_eq!(
            Ubi.extract(b"UBI# is a string", &mut Budget::new(Limits::default()))
                .unwrap_err(),
            Rejection::NotThisFormat
        );
        assert!(matches!(
            Ubi.extract(&IMAGE[..PEB], &mut Budget::new(Limits::default())),
            Err(Rejection::Corrupt(m)) if m.contains("PEB size is unknown")
        ));
    }

    #[test]
    fn truncation_is_noted_never_a_panic() {
        for cut in (0..IMAGE.len()).step_by(997) {
            match Ubi.extract(&IMAGE[..cut], &mut Budget::new(Limits::default())) {
                Ok(out) => assert!(!out.notes.is_empty(), "cut {cut}"),
                Err(Rejection::NotThisFormat) => assert!(cut < HDR_LEN),
                Err(Rejection::Corrupt(_)) => assert!(cut < 2 * PEB),
                Err(e) => panic!("{e:?}"),
            }
        }
    }
}
