//! MBR partition tables (a PC disk image, an x86 gateway's flash): four
//! primary entries at 446, the `55 AA` signature at 510, and extended
//! partitions whose chain of EBRs holds the logical ones (numbered from 5, as
//! Linux does). Each partition becomes an entry named by its number and type
//! (`p1-linux`, `p5-fat32`), in which carving then finds the file system.
//! A protective MBR (type 0xEE) is left to the GPT reader.
//!
//! Bounds: every partition must lie inside the image (a chance `55 AA` in
//! code rarely passes that and the status-byte checks); the EBR chain is
//! followed at most [`MAX_LOGICAL`] steps and never backwards.

use super::{Entry, Extracted, Format, Problem, Rejection, le32};
use crate::unpack::limits::Budget;
use crate::unpack::tree::EntryKind;

pub struct Mbr;

const SECTOR: u64 = 512;
const MAX_LOGICAL: usize = 128;
const EXTENDED: [u8; 3] = [0x05, 0x0f, 0x85];
const PROTECTIVE: u8 = 0xee;

/// One table entry: type, first sector, sector count.
#[derive(Debug, Clone, Copy)]
struct Part {
    kind: u8,
    start: u64,
    count: u64,
}

/// The four entries of the table in `sector`, `None` when it is not one
/// (a status byte other than 0x00/0x80, or no signature).
fn table(sector: &[u8]) -> Option<[Option<Part>; 4]> {
    if sector.get(510..512)? != [0x55, 0xaa] {
        return None;
    }
    let mut out = [None; 4];
    for (i, slot) in out.iter_mut().enumerate() {
        let e = &sector[446 + 16 * i..462 + 16 * i];
        if e[0] != 0 && e[0] != 0x80 {
            return None;
        }
        let (kind, start, count) = (e[4], le32(e, 8)?, le32(e, 12)?);
        if kind != 0 && count != 0 {
            *slot = Some(Part {
                kind,
                start: u64::from(start),
                count: u64::from(count),
            });
        }
    }
    Some(out)
}

pub fn type_name(kind: u8) -> String {
    match kind {
        0x01 => "fat12".into(),
        0x04 | 0x06 | 0x0e => "fat16".into(),
        0x0b | 0x0c => "fat32".into(),
        0x07 => "ntfs".into(),
        0x82 => "linux-swap".into(),
        0x83 => "linux".into(),
        0x8e => "linux-lvm".into(),
        0xfd => "linux-raid".into(),
        0xef => "efi".into(),
        0xa5 => "freebsd".into(),
        other => format!("type-{other:02x}"),
    }
}

impl Format for Mbr {
    fn name(&self) -> &'static str {
        "mbr"
    }

    fn magics(&self) -> &'static [&'static [u8]] {
        &[&[0x55, 0xaa]]
    }

    fn magic_offset(&self) -> usize {
        510
    }

    fn extract(&self, data: &[u8], budget: &mut Budget) -> Result<Extracted, Rejection> {
        let entries = table(data).ok_or(Rejection::NotThisFormat)?;
        let len = data.len() as u64;
        let primaries: Vec<(usize, Part)> = entries
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.map(|p| (i + 1, p)))
            .collect();
        // A partition must start after the table and fit inside the image,
        // and partitions must not overlap: what makes a chance `55 AA` fail.
        let fits = |p: &Part| p.start >= 1 && (p.start + p.count) * SECTOR <= len;
        if primaries.is_empty()
            || primaries.iter().any(|(_, p)| p.kind == PROTECTIVE)
            || !primaries.iter().all(|(_, p)| fits(p))
            || overlaps(&primaries)
        {
            return Err(Rejection::NotThisFormat);
        }
        let mut out = Extracted::default();
        let mut parts = primaries.clone();
        if let Some((_, ext)) = primaries.iter().find(|(_, p)| EXTENDED.contains(&p.kind)) {
            logical(data, ext, &mut parts, &mut out.notes);
        }
        let mut facts = Vec::new();
        for (number, p) in &parts {
            let name = type_name(p.kind);
            facts.push(format!(
                "p{number} {name} at sector {} ({} sectors)",
                p.start, p.count
            ));
            out.size = out.size.max((p.start + p.count) * SECTOR);
            if EXTENDED.contains(&p.kind) {
                continue;
            }
            if let Err(bound) = budget.entry() {
                out.notes.push(Problem::Limit(format!(
                    "MBR: {bound} reached; the rest of its partitions were skipped"
                )));
                break;
            }
            let bytes = &data[(p.start * SECTOR) as usize..((p.start + p.count) * SECTOR) as usize];
            let size = bytes.len() as u64;
            if let Err(bound) = budget.charge_file(size) {
                out.notes.push(Problem::Limit(format!(
                    "partition {number}: {size} bytes reach {bound}; skipped"
                )));
                continue;
            }
            out.entries.push(Entry {
                path: format!("p{number}-{name}"),
                kind: EntryKind::File,
                data: bytes.to_vec(),
                meta: None,
            });
        }
        out.detail = Some(format!("MBR: {}", facts.join(", ")));
        Ok(out)
    }
}

fn overlaps(parts: &[(usize, Part)]) -> bool {
    let mut spans: Vec<(u64, u64)> = parts
        .iter()
        .map(|(_, p)| (p.start, p.start + p.count))
        .collect();
    spans.sort();
    spans.windows(2).any(|w| w[1].0 < w[0].1)
}

/// Follows the EBR chain of the extended partition `ext`: each EBR holds one
/// logical partition (relative to the EBR) and a link to the next EBR
/// (relative to the extended partition's start).
fn logical(data: &[u8], ext: &Part, parts: &mut Vec<(usize, Part)>, notes: &mut Vec<Problem>) {
    let end = ext.start + ext.count;
    let mut ebr = ext.start;
    for number in 5..5 + MAX_LOGICAL {
        let at = (ebr * SECTOR) as usize;
        let Some(t) = data.get(at..at + SECTOR as usize).and_then(table) else {
            notes.push(Problem::Error(format!(
                "MBR: extended boot record at sector {ebr} is not valid; logical partitions end here"
            )));
            return;
        };
        if let Some(p) = t[0] {
            let p = Part {
                start: ebr + p.start,
                ..p
            };
            if p.start + p.count > end || p.start <= ebr {
                notes.push(Problem::Error(format!(
                    "MBR: logical partition {number} (sector {}, {} sectors) lies outside its extended partition",
                    p.start, p.count
                )));
                return;
            }
            parts.push((number, p));
        }
        match t[1] {
            Some(next) if EXTENDED.contains(&next.kind) => {
                let next = ext.start + next.start;
                // Forward only: a chain that loops or points back ends here.
                if next <= ebr || next >= end {
                    notes.push(Problem::Error(format!(
                        "MBR: extended boot record at sector {ebr} links to sector {next}, not forward inside the extended partition"
                    )));
                    return;
                }
                ebr = next;
            }
            _ => return,
        }
    }
    notes.push(Problem::Limit(format!(
        "MBR: more than {MAX_LOGICAL} logical partitions; the rest were skipped"
    )));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unpack::formats::listing;
    use crate::unpack::limits::Limits;
    use std::io::Read;

    /// `sfdisk` of two primary partitions (linux, fat16) and an extended
    /// one holding two logical linux partitions, each starting with a marker (make.sh).
    const DISK_GZ: &[u8] = include_bytes!("../../../tests/fixtures/disk-mbr.img.gz");

    fn disk() -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(DISK_GZ)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    fn read(data: &[u8]) -> Result<Extracted, Rejection> {
        Mbr.extract(data, &mut Budget::new(Limits::default()))
    }

    #[test]
    fn primary_and_logical_partitions_of_sfdisk_output() {
        let disk = disk();
        let out = read(&disk).unwrap();
        assert!(out.notes.is_empty(), "{:?}", out.notes);
        assert_eq!(
            listing(&out),
            [
                "p1-linux 32768",
                "p2-fat16 16384",
                "p5-linux 20480",
                "p6-linux 20480"
            ]
        );
        assert_eq!(
            out.detail.as_deref(),
            Some(
                "MBR: p1 linux at sector 64 (64 sectors), p2 fat16 at sector 128 (32 sectors), \
                 p3 type-05 at sector 160 (96 sectors), p5 linux at sector 162 (40 sectors), \
                 p6 linux at sector 210 (40 sectors)"
            )
        );
        assert!(out.entries[0].data.starts_with(b"partition one"));
        assert!(out.entries[2].data.starts_with(b"logical five"));
        assert_eq!(out.size, 256 * 512);
    }

    #[test]
    fn truncation_and_flips_never_panic() {
        let disk = disk();
        for cut in (0..disk.len()).step_by(509) {
            let _ = read(&disk[..cut]);
        }
        let mut data = disk.clone();
        for at in (446..512).chain((160 * 512 + 446)..(160 * 512 + 512)) {
            for bit in [0x01, 0x80] {
                data[at] ^= bit;
                let _ = read(&data);
                data[at] ^= bit;
            }
        }
    }

    #[test]
    fn an_ebr_that_links_back_ends_the_chain() {
        let mut disk = disk();
        // The first EBR (sector 160) links to itself instead of the next.
        let link = 160 * 512 + 446 + 16 + 8;
        disk[link..link + 4].copy_from_slice(&0u32.to_le_bytes());
        let out = read(&disk).unwrap();
        assert_eq!(
            listing(&out),
            ["p1-linux 32768", "p2-fat16 16384", "p5-linux 20480"]
        );
        assert!(matches!(&out.notes[..], [Problem::Error(m)] if m.contains("not forward")));
    }
}
