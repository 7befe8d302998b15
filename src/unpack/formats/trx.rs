//! Broadcom TRX container (`HDR0`), used by many Broadcom-based routers:
//! a little-endian header with total length, a CRC32 over everything after
//! the CRC field, and up to three (v1) or four (v2) partition offsets
//! (loader/kernel, kernel or rootfs, rootfs, v2 binary header). Layout from
//! OpenWrt's `firmware-utils/src/trx.c`.

use super::{Entry, Extracted, Format, Problem, Rejection, le16, le32};
use crate::unpack::limits::Budget;
use crate::unpack::tree::EntryKind;

pub struct Trx;

/// Bytes before the CRC-covered part (magic, length, CRC).
const CRC_START: usize = 12;

/// Parsed header: total length, stored CRC, version, partition offsets.
struct Header {
    len: usize,
    crc: u32,
    version: u16,
    offsets: Vec<usize>,
}

fn header(data: &[u8]) -> Option<Header> {
    if data.get(..4)? != b"HDR0" {
        return None;
    }
    let len = le32(data, 4)? as usize;
    let crc = le32(data, 8)?;
    let flags = le16(data, 12)?;
    let version = le16(data, 14)?;
    let count = match version {
        1 => 3,
        2 => 4,
        _ => return None,
    };
    let header_len = 16 + 4 * count;
    let offsets = (0..count)
        .map(|i| le32(data, 16 + 4 * i).map(|o| o as usize))
        .collect::<Option<Vec<_>>>()?;
    // Known flags are the low three bits (LZMA loader, uncompressed, ...).
    if flags > 0xff || len < header_len {
        return None;
    }
    // Offsets are zero (unused) or inside the image, past the header, ascending.
    let used: Vec<usize> = offsets.iter().copied().filter(|&o| o != 0).collect();
    if used.is_empty()
        || used.iter().any(|&o| o < header_len || o >= len)
        || used.windows(2).any(|w| w[0] >= w[1])
    {
        return None;
    }
    Some(Header {
        len,
        crc,
        version,
        offsets,
    })
}

impl Format for Trx {
    fn name(&self) -> &'static str {
        "trx"
    }

    fn magics(&self) -> &'static [&'static [u8]] {
        &[b"HDR0"]
    }

    fn declared_len(&self, data: &[u8]) -> Option<u64> {
        header(data).map(|h| h.len as u64)
    }

    fn extract(&self, data: &[u8], budget: &mut Budget) -> Result<Extracted, Rejection> {
        let h = header(data).ok_or(Rejection::NotThisFormat)?;
        if h.len > data.len() {
            return Err(Rejection::Corrupt(format!(
                "TRX truncated: header says {} bytes, only {} present",
                h.len,
                data.len()
            )));
        }
        let image = &data[..h.len];
        // trx.c's CRC: standard CRC-32 without the final inversion.
        let computed = !crc32fast::hash(&image[CRC_START..]);
        let mut out = Extracted {
            size: h.len as u64,
            detail: Some(format!(
                "TRX v{}, partitions at {}",
                h.version,
                h.offsets
                    .iter()
                    .map(|o| format!("{o:#x}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            ..Default::default()
        };
        if computed != h.crc {
            out.notes.push(Problem::Error(format!(
                "TRX CRC mismatch (stored {:#010x}, computed {computed:#010x}); partitions read anyway",
                h.crc
            )));
        }
        let used: Vec<(usize, usize)> = h
            .offsets
            .iter()
            .enumerate()
            .filter(|(_, o)| **o != 0)
            .map(|(i, o)| (i, *o))
            .collect();
        for (n, &(index, start)) in used.iter().enumerate() {
            let end = used.get(n + 1).map_or(h.len, |&(_, next)| next);
            let part = &image[start..end];
            if let Err(bound) = budget.charge(part.len() as u64) {
                out.notes.push(Problem::Limit(format!(
                    "TRX partition {index}: {} bytes reach {bound}; skipped",
                    part.len()
                )));
                continue;
            }
            out.entries.push(Entry {
                path: format!("partition-{index}"),
                kind: EntryKind::File,
                data: part.to_vec(),
                meta: None,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unpack::limits::Limits;

    /// A TRX v1 laid out as trx.c writes it: an lzma kernel and a gzip
    /// "rootfs" (see make.sh, which computes the CRC as trx.c does).
    const FIXTURE: &[u8] = include_bytes!("../../../tests/fixtures/image.trx");

    #[test]
    fn splits_partitions_and_checks_the_crc() {
        let out = Trx
            .extract(FIXTURE, &mut Budget::new(Limits::default()))
            .unwrap();
        assert!(out.notes.is_empty(), "{:?}", out.notes);
        let names: Vec<_> = out.entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(names, ["partition-0", "partition-1"]);
        assert!(out.entries[0].data.starts_with(&[0x5d, 0, 0]));
        assert!(out.entries[1].data.starts_with(&[0x1f, 0x8b]));
        assert_eq!(out.size, FIXTURE.len() as u64);
        let mut bad = FIXTURE.to_vec();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        let out = Trx
            .extract(&bad, &mut Budget::new(Limits::default()))
            .unwrap();
        assert!(matches!(&out.notes[..], [Problem::Error(m)] if m.contains("CRC mismatch")));
    }

    #[test]
    fn reads_version_2_with_a_fourth_offset() {
        // Rebuild the fixture as v2: one more offset slot (unused), CRC redone.
        let body = &FIXTURE[28..];
        let (k, r) = (32u32, 32 + le32(FIXTURE, 20).unwrap() - 28);
        let mut tail = Vec::new();
        tail.extend_from_slice(&0u16.to_le_bytes());
        tail.extend_from_slice(&2u16.to_le_bytes());
        for o in [k, r, 0, 0] {
            tail.extend_from_slice(&o.to_le_bytes());
        }
        tail.extend_from_slice(body);
        let mut img = b"HDR0".to_vec();
        img.extend_from_slice(&((12 + tail.len()) as u32).to_le_bytes());
        img.extend_from_slice(&(!crc32fast::hash(&tail)).to_le_bytes());
        img.extend_from_slice(&tail);
        let out = Trx
            .extract(&img, &mut Budget::new(Limits::default()))
            .unwrap();
        assert!(out.notes.is_empty(), "{:?}", out.notes);
        assert_eq!(
            out.detail.as_deref(),
            Some("TRX v2, partitions at 0x20, 0xd8, 0x0, 0x0")
        );
        assert_eq!(
            out.entries[1].data,
            &FIXTURE[le32(FIXTURE, 20).unwrap() as usize..]
        );
    }

    #[test]
    fn truncation_is_corrupt() {
        for cut in [10, 28, 100, FIXTURE.len() - 1] {
            let r = Trx.extract(&FIXTURE[..cut], &mut Budget::new(Limits::default()));
            assert!(
                matches!(
                    r,
                    Err(Rejection::Corrupt(_)) | Err(Rejection::NotThisFormat)
                ),
                "{cut}"
            );
        }
        assert!(matches!(
            Trx.extract(&FIXTURE[..100], &mut Budget::new(Limits::default())),
            Err(Rejection::Corrupt(m)) if m.contains("truncated")
        ));
    }
}
