//! GUID partition tables (UEFI specification 2.10, chapter 5): a protective
//! MBR, the `EFI PART` header at LBA 1 (512-byte sectors, or 4096-byte ones:
//! [`Gpt4k`], as on 4Kn disks and UFS/eMMC flash), its CRC32, and an
//! array of partition entries with their own CRC32. Each partition becomes an
//! entry named by its number and label (`p2-rootfs`; its type when it has no
//! label), in which carving then finds the file system.
//!
//! Bounds: at most [`MAX_ENTRIES`] entries of at most 4 KiB each; every
//! partition must lie inside the image (one that runs past a truncated
//! image is kept as far as it goes, with a note).

use super::{Entry, Extracted, Format, Problem, Rejection, le32, le64};
use crate::unpack::formats::uefi::guid;
use crate::unpack::limits::Budget;
use crate::unpack::tree::EntryKind;

pub struct Gpt;
/// The same table on 4096-byte sectors: the header at byte 4096.
pub struct Gpt4k;
const MAX_ENTRIES: u32 = 1024;

struct Header {
    backup_lba: u64,
    entries_lba: u64,
    count: u32,
    entry_size: u32,
    entries_crc: u32,
    disk: String,
    /// The header CRC does not match, but the rest of the header is sound.
    damaged: bool,
}

/// The header at LBA 1 for `sector`-byte sectors. Either the protective
/// MBR's signature or an entry array whose CRC matches must back it: the
/// header of a 4 KiB-sector disk is otherwise also a 512-byte-sector header
/// 3584 bytes before it.
fn header(data: &[u8], sector: u64) -> Option<Header> {
    let at = sector as usize;
    let h = data.get(at..at + 512)?;
    if &h[..8] != b"EFI PART" {
        return None;
    }
    let (revision, size, crc) = (le32(h, 8)?, le32(h, 12)? as usize, le32(h, 16)?);
    let current = le64(h, 24)?;
    if revision != 0x0001_0000 || !(92..=512).contains(&size) || current != 1 {
        return None;
    }
    let mut copy = h[..size].to_vec();
    copy[16..20].fill(0);
    let count = le32(h, 80)?;
    let entry_size = le32(h, 84)?;
    if !(128..=4096).contains(&entry_size) || entry_size % 8 != 0 || count == 0 {
        return None;
    }
    let entries_crc = le32(h, 88)?;
    let table_at = le64(h, 72)?.checked_mul(sector)?;
    let table_len = u64::from(count.min(MAX_ENTRIES)) * u64::from(entry_size);
    let table_ok = usize::try_from(table_at)
        .ok()
        .and_then(|t| data.get(t..t.checked_add(table_len as usize)?))
        .is_some_and(|t| crc32fast::hash(t) == entries_crc);
    if data.get(510..512) != Some(&[0x55, 0xaa]) && !table_ok {
        return None;
    }
    Some(Header {
        backup_lba: le64(h, 32)?,
        entries_lba: le64(h, 72)?,
        count,
        entry_size,
        entries_crc,
        disk: guid(&h[56..72]),
        damaged: crc32fast::hash(&copy) != crc,
    })
}

fn type_name(type_guid: &str) -> &'static str {
    match type_guid {
        "c12a7328-f81f-11d2-ba4b-00a0c93ec93b" => "EFI system",
        "21686148-6449-6e6f-744e-656564454649" => "BIOS boot",
        "0fc63daf-8483-4772-8e79-3d69d8477de4" => "Linux filesystem",
        "0657fd6d-a4ab-43c4-84e5-0933c84b4f4f" => "Linux swap",
        "e6d6d379-f507-44c2-a23c-238f2a3df928" => "Linux LVM",
        "a19d880f-05fc-4d3b-a006-743f0f84911e" => "Linux RAID",
        "4f68bce3-e8cd-4db1-96e7-fbcaf984b709" => "Linux root (x86-64)",
        "b921b045-1df0-41c3-af44-4c6f280d3fae" => "Linux root (ARM64)",
        "ebd0a0a2-b9e5-4433-87c0-68b6b72699c7" => "Microsoft basic data",
        "fe3a2a5d-4f32-41a7-b725-accc3285a309" => "ChromeOS kernel",
        "3cb8e202-3b7e-47dd-8a3c-7ff2a13cfcec" => "ChromeOS root",
        _ => "unknown type",
    }
}

/// A UTF-16LE label, NUL-terminated, made safe as a path component.
fn label(raw: &[u8]) -> String {
    let units: Vec<u16> = raw
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|&u| u != 0)
        .collect();
    String::from_utf16_lossy(&units)
        .chars()
        .map(|c| if c == '/' || c.is_control() { '_' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

impl Format for Gpt {
    fn name(&self) -> &'static str {
        "gpt"
    }

    fn magics(&self) -> &'static [&'static [u8]] {
        &[b"EFI PART"]
    }

    fn magic_offset(&self) -> usize {
        512
    }

    fn declared_len(&self, data: &[u8]) -> Option<u64> {
        declared_len(data, 512)
    }

    fn extract(&self, data: &[u8], budget: &mut Budget) -> Result<Extracted, Rejection> {
        extract(data, budget, 512)
    }
}

impl Format for Gpt4k {
    fn name(&self) -> &'static str {
        "gpt"
    }

    fn magics(&self) -> &'static [&'static [u8]] {
        &[b"EFI PART"]
    }

    fn magic_offset(&self) -> usize {
        4096
    }

    fn declared_len(&self, data: &[u8]) -> Option<u64> {
        declared_len(data, 4096)
    }

    fn extract(&self, data: &[u8], budget: &mut Budget) -> Result<Extracted, Rejection> {
        extract(data, budget, 4096)
    }
}

fn declared_len(data: &[u8], sector: u64) -> Option<u64> {
    header(data, sector).map(|h| h.backup_lba.saturating_add(1).saturating_mul(sector))
}

fn extract(data: &[u8], budget: &mut Budget, sector: u64) -> Result<Extracted, Rejection> {
    let h = header(data, sector).ok_or(Rejection::NotThisFormat)?;
    let len = data.len() as u64;
    let mut out = Extracted::default();
    if h.damaged {
        out.notes.push(Problem::Error(
            "GPT header CRC does not match; partitions read anyway".into(),
        ));
    }
    let count = h.count.min(MAX_ENTRIES);
    if h.count > MAX_ENTRIES {
        out.notes.push(Problem::Limit(format!(
            "GPT declares {} entries; the first {MAX_ENTRIES} were read",
            h.count
        )));
    }
    let table_len = u64::from(count) * u64::from(h.entry_size);
    let table_at = h.entries_lba.saturating_mul(sector);
    let Some(table) = usize::try_from(table_at)
        .ok()
        .and_then(|at| data.get(at..at.checked_add(table_len as usize)?))
    else {
        return Err(Rejection::Corrupt(format!(
            "GPT partition entries at LBA {} ({table_len} bytes) lie outside the {len}-byte image",
            h.entries_lba
        )));
    };
    if count == h.count && crc32fast::hash(table) != h.entries_crc {
        out.notes.push(Problem::Error(
            "GPT partition entry array CRC does not match; entries read anyway".into(),
        ));
    }
    out.size = (h.backup_lba.saturating_add(1).saturating_mul(sector)).min(len);
    let mut facts = vec![format!("GPT disk {}", h.disk)];
    if sector != 512 {
        facts.push(format!("{sector}-byte sectors"));
    }
    for (i, e) in table.chunks_exact(h.entry_size as usize).enumerate() {
        let type_guid = guid(&e[..16]);
        if e[..16].iter().all(|&b| b == 0) {
            continue;
        }
        let number = i + 1;
        let (first, last) = (le64(e, 32).unwrap_or(0), le64(e, 40).unwrap_or(0));
        let name = label(&e[56..128]);
        let kind = type_name(&type_guid);
        if last < first || first == 0 {
            out.notes.push(Problem::Error(format!(
                "GPT partition {number}: LBAs {first}..{last} are not a range"
            )));
            continue;
        }
        let sectors = last - first + 1;
        facts.push(format!(
            "p{number} \"{name}\" ({kind}) at LBA {first}, {sectors} sectors"
        ));
        let start = first.saturating_mul(sector);
        let end = last.saturating_add(1).saturating_mul(sector);
        if start >= len {
            out.notes.push(Problem::Error(format!(
                "GPT partition {number} starts at byte {start:#x}, past the {len}-byte image"
            )));
            continue;
        }
        if end > len {
            out.notes.push(Problem::Error(format!(
                "GPT partition {number} ends at byte {end:#x}, past the {len}-byte image; kept as far as it goes"
            )));
        }
        out.size = out.size.max(end.min(len));
        if let Err(bound) = budget.entry() {
            out.notes.push(Problem::Limit(format!(
                "GPT: {bound} reached; the rest of its partitions were skipped"
            )));
            break;
        }
        let bytes = &data[start as usize..end.min(len) as usize];
        let size = bytes.len() as u64;
        if let Err(bound) = budget.charge_file(size) {
            out.notes.push(Problem::Limit(format!(
                "GPT partition {number}: {size} bytes reach {bound}; skipped"
            )));
            continue;
        }
        let tag = if name.is_empty() {
            kind.to_string()
        } else {
            name
        };
        out.entries.push(Entry {
            path: format!("p{number}-{tag}"),
            kind: EntryKind::File,
            data: bytes.to_vec(),
            meta: None,
        });
    }
    out.detail = Some(facts.join(", "));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unpack::formats::listing;
    use crate::unpack::limits::Limits;
    use std::io::Read;

    /// `sfdisk` of a GPT with an "EFI system" and a "rootfs" partition (the
    /// romfs fixture inside), 256 sectors (make.sh).
    const DISK_GZ: &[u8] = include_bytes!("../../../tests/fixtures/disk-gpt.img.gz");

    fn disk() -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(DISK_GZ)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    fn read(data: &[u8]) -> Result<Extracted, Rejection> {
        Gpt.extract(data, &mut Budget::new(Limits::default()))
    }

    #[test]
    fn labelled_partitions_of_sfdisk_output() {
        let disk = disk();
        let out = read(&disk).unwrap();
        assert!(out.notes.is_empty(), "{:?}", out.notes);
        assert_eq!(listing(&out), ["p1-EFI system 32768", "p2-rootfs 49152"]);
        assert_eq!(
            out.detail.as_deref(),
            Some(
                "GPT disk 0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0, p1 \"EFI system\" (EFI system) \
                 at LBA 40, 64 sectors, p2 \"rootfs\" (Linux filesystem) at LBA 104, 96 sectors"
            )
        );
        assert_eq!(out.size, disk.len() as u64);
        assert!(out.entries[1].data.starts_with(b"-rom1fs-"));
    }

    #[test]
    fn damage_is_noted_and_truncation_never_panics() {
        let disk = disk();
        let mut data = disk.clone();
        data[512 + 60] ^= 1; // disk GUID, under the header CRC
        let out = read(&data).unwrap();
        assert!(matches!(&out.notes[..], [Problem::Error(m)] if m.contains("header CRC")));
        let mut data = disk.clone();
        data[1024 + 56] ^= 1; // a label, under the entry array CRC
        let out = read(&data).unwrap();
        assert!(matches!(&out.notes[..], [Problem::Error(m)] if m.contains("entry array CRC")));
        for cut in (0..disk.len()).step_by(211) {
            if let Ok(out) = read(&disk[..cut]) {
                assert!(!out.notes.is_empty() || cut >= 200 * 512, "cut {cut}");
            }
        }
        let mut data = disk.clone();
        for at in 512..1024 + 256 {
            data[at] ^= 0x10;
            let _ = read(&data);
            data[at] ^= 0x10;
        }
    }

    /// `sfdisk --sector-size 4096` (util-linux 2.41) of the same two
    /// partitions on 4 KiB sectors, 64 sectors (fwmisc.sh).
    fn disk_4k() -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(
            &include_bytes!("../../../tests/fixtures/disk-gpt4k.img.gz")[..],
        )
        .read_to_end(&mut out)
        .unwrap();
        out
    }

    #[test]
    fn a_table_on_4096_byte_sectors() {
        let four = disk_4k();
        let out = Gpt4k
            .extract(&four, &mut Budget::new(Limits::default()))
            .unwrap();
        assert!(out.notes.is_empty(), "{:?}", out.notes);
        assert_eq!(listing(&out), ["p1-EFI system 16384", "p2-rootfs 32768"]);
        assert_eq!(
            out.detail.as_deref(),
            Some(
                "GPT disk 0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0, 4096-byte sectors, p1 \"EFI system\" \
                 (EFI system) at LBA 8, 4 sectors, p2 \"rootfs\" (Linux filesystem) at LBA 16, 8 sectors"
            )
        );
        assert_eq!(out.size, four.len() as u64);
        assert!(out.entries[1].data.starts_with(b"-rom1fs-"));
        assert_eq!(Gpt4k.declared_len(&four), Some(four.len() as u64));
        // The header read as a 512-byte-sector one, 3584 bytes early, has no
        // protective MBR before it nor a matching entry array: not a GPT.
        assert_eq!(read(&four[3584..]).unwrap_err(), Rejection::NotThisFormat);
        // Nor is the 512-byte-sector disk one of 4096-byte sectors.
        assert_eq!(
            Gpt4k
                .extract(&disk(), &mut Budget::new(Limits::default()))
                .unwrap_err(),
            Rejection::NotThisFormat
        );
        for cut in (0..four.len()).step_by(1531) {
            if let Ok(out) = Gpt4k.extract(&four[..cut], &mut Budget::new(Limits::default())) {
                assert!(!out.notes.is_empty() || cut >= 24 * 4096, "cut {cut}");
            }
        }
        let mut data = four.clone();
        for at in 4096..4096 + 512 + 1024 {
            data[at] ^= 0x10;
            let _ = Gpt4k.extract(&data, &mut Budget::new(Limits::default()));
            data[at] ^= 0x10;
        }
    }
}
