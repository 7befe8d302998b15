//! Android `super` partitions (dynamic partitions, Android 10+), laid out as
//! AOSP's `fs_mgr/liblp/include/liblp/metadata_format.h` says: 4 KiB
//! reserved, the geometry (`gDla`, SHA-256 checked) and its backup, then
//! metadata slots (`0PLA`: header and tables, each SHA-256 checked) naming
//! logical partitions as lists of extents on the device. Each partition of
//! the first slot becomes an entry named after it (`system_a`), its LINEAR
//! extents joined and ZERO extents as zeros, in which carving then finds the
//! EROFS or ext4 inside. Super images usually come as sparse images (the
//! sparse reader opens those first).
//!
//! Bounds: at most [`MAX_TABLE`] entries per table; every extent must lie
//! inside the image; each partition is drawn from the budget before it is
//! allocated.

use super::{Entry, Extracted, Format, Problem, Rejection, le32, le64};
use crate::unpack::limits::Budget;
use crate::unpack::tree::EntryKind;
use sha2::{Digest, Sha256};

pub struct AndroidSuper;

const GEOMETRY_AT: usize = 4096;
const GEOMETRY_MAGIC: u32 = 0x616c_4467;
const HEADER_MAGIC: u32 = 0x414c_5030;
/// Geometry, then its backup, each 4 KiB.
const METADATA_AT: usize = GEOMETRY_AT + 2 * 4096;
const SECTOR: u64 = 512;
const MAX_TABLE: u32 = 4096;
const TARGET_LINEAR: u32 = 0;
const TARGET_ZERO: u32 = 1;

/// One table descriptor: where in the tables, how many, how long each.
#[derive(Clone, Copy)]
struct Table {
    offset: usize,
    count: usize,
    size: usize,
}

fn table(h: &[u8], at: usize) -> Option<Table> {
    let (offset, count, size) = (le32(h, at)?, le32(h, at + 4)?, le32(h, at + 8)?);
    (count <= MAX_TABLE).then_some(Table {
        offset: offset as usize,
        count: count as usize,
        size: size as usize,
    })
}

fn sha256_matches(bytes: &[u8], zero: std::ops::Range<usize>, want: &[u8]) -> bool {
    let mut copy = bytes.to_vec();
    copy[zero].fill(0);
    Sha256::digest(&copy)[..] == *want
}

fn name(raw: &[u8]) -> String {
    let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
    String::from_utf8_lossy(&raw[..end]).replace('/', "_")
}

impl Format for AndroidSuper {
    fn name(&self) -> &'static str {
        "android-super"
    }

    fn magics(&self) -> &'static [&'static [u8]] {
        &[&[0x67, 0x44, 0x6c, 0x61]]
    }

    fn magic_offset(&self) -> usize {
        GEOMETRY_AT
    }

    fn extract(&self, data: &[u8], budget: &mut Budget) -> Result<Extracted, Rejection> {
        let g = data
            .get(GEOMETRY_AT..GEOMETRY_AT + 52)
            .ok_or(Rejection::NotThisFormat)?;
        if le32(g, 0) != Some(GEOMETRY_MAGIC) || le32(g, 4) != Some(52) {
            return Err(Rejection::NotThisFormat);
        }
        if !sha256_matches(g, 8..40, &g[8..40]) {
            return Err(Rejection::Corrupt(
                "super geometry SHA-256 does not match".into(),
            ));
        }
        let (max_size, slots, block) = (
            le32(g, 40).unwrap_or(0),
            le32(g, 44).unwrap_or(0),
            le32(g, 48).unwrap_or(0),
        );
        let h = data
            .get(METADATA_AT..METADATA_AT + 128)
            .ok_or_else(|| Rejection::Corrupt("super metadata lies past the end".into()))?;
        let header_size = le32(h, 8).unwrap_or(0) as usize;
        if le32(h, 0) != Some(HEADER_MAGIC) || !(128..=4096).contains(&header_size) {
            return Err(Rejection::Corrupt(
                "super metadata header (0PLA) is missing or malformed".into(),
            ));
        }
        let header = data
            .get(METADATA_AT..METADATA_AT + header_size)
            .ok_or_else(|| Rejection::Corrupt("super metadata header is truncated".into()))?;
        let mut out = Extracted::default();
        if !sha256_matches(header, 12..44, &header[12..44]) {
            out.notes.push(Problem::Error(
                "super metadata header SHA-256 does not match; read anyway".into(),
            ));
        }
        let tables_size = le32(header, 44).unwrap_or(0) as usize;
        let tables_at = METADATA_AT + header_size;
        let tables = data
            .get(tables_at..tables_at + tables_size)
            .ok_or_else(|| Rejection::Corrupt("super metadata tables are truncated".into()))?;
        if Sha256::digest(tables)[..] != header[48..80] {
            out.notes.push(Problem::Error(
                "super metadata tables SHA-256 does not match; read anyway".into(),
            ));
        }
        let (Some(parts), Some(extents)) = (table(header, 80), table(header, 92)) else {
            return Err(Rejection::Corrupt(format!(
                "super metadata tables have more than {MAX_TABLE} entries"
            )));
        };
        let row = |t: Table, i: usize| -> Option<&[u8]> {
            let at = t.offset.checked_add(i.checked_mul(t.size)?)?;
            tables.get(at..at.checked_add(t.size)?)
        };
        if parts.size < 52 || extents.size < 24 {
            return Err(Rejection::Corrupt(
                "super metadata table entries are too short".into(),
            ));
        }
        let (major, minor) = (
            u16::from_le_bytes([h[4], h[5]]),
            u16::from_le_bytes([h[6], h[7]]),
        );
        let mut facts = vec![format!(
            "Android super v{major}.{minor}, {slots} metadata slots of {max_size} bytes, {block}-byte blocks"
        )];
        let len = data.len() as u64;
        for i in 0..parts.count {
            let Some(p) = row(parts, i) else {
                out.notes.push(Problem::Error(format!(
                    "super partition entry {i} lies outside the tables"
                )));
                break;
            };
            let label = name(&p[..36]);
            let (first, count) = (
                le32(p, 40).unwrap_or(0) as usize,
                le32(p, 44).unwrap_or(0) as usize,
            );
            let mut pieces: Vec<(u32, u64, u64)> = Vec::new();
            let mut total = 0u64;
            for e in first..first.saturating_add(count).min(first + MAX_TABLE as usize) {
                let Some(x) = row(extents, e) else {
                    out.notes.push(Problem::Error(format!(
                        "super partition {label}: extent {e} lies outside the tables"
                    )));
                    break;
                };
                let (sectors, kind, start) = (
                    le64(x, 0).unwrap_or(0),
                    le32(x, 8).unwrap_or(0),
                    le64(x, 12).unwrap_or(0),
                );
                total = total.saturating_add(sectors.saturating_mul(SECTOR));
                pieces.push((kind, start, sectors));
            }
            facts.push(format!("{label} {total} bytes"));
            if total == 0 {
                continue;
            }
            if let Err(bound) = budget.charge_file(total) {
                out.notes.push(Problem::Limit(format!(
                    "super partition {label}: {total} bytes reach {bound}; skipped"
                )));
                continue;
            }
            let mut bytes = Vec::with_capacity(total as usize);
            for (kind, start, sectors) in pieces {
                let n = (sectors * SECTOR) as usize;
                match kind {
                    TARGET_LINEAR => {
                        let from = start.saturating_mul(SECTOR);
                        let to = from.saturating_add(n as u64);
                        if to > len {
                            out.notes.push(Problem::Error(format!(
                                "super partition {label}: extent at sector {start} runs past the {len}-byte image; read as zeros"
                            )));
                            bytes.resize(bytes.len() + n, 0);
                        } else {
                            bytes.extend_from_slice(&data[from as usize..to as usize]);
                        }
                    }
                    TARGET_ZERO => bytes.resize(bytes.len() + n, 0),
                    other => {
                        out.notes.push(Problem::Error(format!(
                            "super partition {label}: extent target type {other} is unknown; read as zeros"
                        )));
                        bytes.resize(bytes.len() + n, 0);
                    }
                }
                out.size = out
                    .size
                    .max((start.saturating_add(sectors) * SECTOR).min(len));
            }
            out.entries.push(Entry {
                path: label,
                kind: EntryKind::File,
                data: bytes,
                meta: None,
            });
        }
        out.size = out
            .size
            .max((METADATA_AT + header_size + tables_size) as u64);
        out.detail = Some(facts.join(", "));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unpack::formats::listing;
    use crate::unpack::limits::Limits;

    /// A super image written by `android-super.py` after metadata_format.h:
    /// `system_a` (the EROFS fixture, in two extents), `vendor_a` (the romfs
    /// fixture), an empty `product_b` (make.sh).
    const SUPER: &[u8] = include_bytes!("../../../tests/fixtures/android-super.img");
    const EROFS: &[u8] = include_bytes!("../../../tests/fixtures/erofs.img");
    const ROMFS: &[u8] = include_bytes!("../../../tests/fixtures/romfs.img");

    fn read(data: &[u8]) -> Result<Extracted, Rejection> {
        AndroidSuper.extract(data, &mut Budget::new(Limits::default()))
    }

    #[test]
    fn partitions_are_their_extents_joined() {
        let out = read(SUPER).unwrap();
        assert!(out.notes.is_empty(), "{:?}", out.notes);
        assert_eq!(
            listing(&out),
            [
                format!("system_a {}", EROFS.len()),
                format!("vendor_a {}", ROMFS.len().next_multiple_of(512))
            ]
        );
        assert_eq!(out.entries[0].data, EROFS);
        assert!(out.entries[1].data.starts_with(ROMFS));
        assert_eq!(out.size as usize, SUPER.len());
        assert_eq!(
            out.detail.as_deref(),
            Some(&*format!(
                "Android super v10.0, 2 metadata slots of 4096 bytes, 4096-byte blocks, \
                 system_a {} bytes, vendor_a {} bytes, product_b 0 bytes",
                EROFS.len(),
                ROMFS.len().next_multiple_of(512)
            ))
        );
    }

    #[test]
    fn damage_is_a_note_or_a_refusal_never_a_panic() {
        for cut in (0..SUPER.len()).step_by(1021) {
            let _ = read(&SUPER[..cut]);
        }
        let mut data = SUPER.to_vec();
        for at in (GEOMETRY_AT..METADATA_AT + 1024).step_by(3) {
            data[at] ^= 0x10;
            let _ = read(&data);
            data[at] ^= 0x10;
        }
    }
}
