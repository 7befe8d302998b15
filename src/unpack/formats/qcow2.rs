//! qcow2 disk images (QEMU's `docs/interop/qcow2.txt`, versions 2 and 3), as
//! VM appliances ship: a big-endian header, an L1 table of L2 tables, and
//! L2 entries naming each guest cluster's host cluster, stored or
//! compressed (raw deflate, or zstd when the header says so). The guest disk
//! becomes one entry, `disk.raw`, up to its last allocated cluster (the
//! unallocated tail is zeros a reader gets anyway), in which carving finds
//! the partition table or file system.
//!
//! Not read: encrypted images (noted), backing files (noted: their clusters
//! read as zeros), external data files, extended L2 entries (subclusters).
//! Bounds: every table and cluster is checked against the image; the
//! output is drawn from the budget before it is allocated.

use super::{Entry, Extracted, Format, Problem, Rejection, be32, be64};
use crate::unpack::compress;
use crate::unpack::limits::Budget;
use crate::unpack::tree::EntryKind;

pub struct Qcow2;

const OFFSET_MASK: u64 = 0x00ff_ffff_ffff_fe00;
const COMPRESSED: u64 = 1 << 62;
/// Incompatible feature bits we can read: dirty (0) and corrupt (1) only
/// change what a writer must do.
const KNOWN_INCOMPATIBLE: u64 = 0b11 | 1 << 3;

struct Header {
    version: u32,
    cluster_bits: u32,
    size: u64,
    crypt: u32,
    l1_size: u64,
    l1_at: u64,
    backing: bool,
    zstd: bool,
    incompatible: u64,
}

fn header(data: &[u8]) -> Option<Header> {
    if data.get(..4)? != b"QFI\xfb" {
        return None;
    }
    let version = be32(data, 4)?;
    let cluster_bits = be32(data, 20)?;
    if !(2..=3).contains(&version) || !(9..=21).contains(&cluster_bits) {
        return None;
    }
    let (incompatible, header_len) = if version == 3 {
        (be64(data, 72)?, be32(data, 100)?)
    } else {
        (0, 72)
    };
    let zstd = version == 3 && header_len > 104 && data.get(104) == Some(&1);
    Some(Header {
        version,
        cluster_bits,
        size: be64(data, 24)?,
        crypt: be32(data, 32)?,
        l1_size: u64::from(be32(data, 36)?),
        l1_at: be64(data, 40)?,
        backing: be64(data, 8)? != 0,
        zstd,
        incompatible,
    })
}

impl Format for Qcow2 {
    fn name(&self) -> &'static str {
        "qcow2"
    }

    fn magics(&self) -> &'static [&'static [u8]] {
        &[b"QFI\xfb"]
    }

    fn extract(&self, data: &[u8], budget: &mut Budget) -> Result<Extracted, Rejection> {
        let h = header(data).ok_or(Rejection::NotThisFormat)?;
        let cluster = 1u64 << h.cluster_bits;
        let mut out = Extracted {
            size: data.len() as u64,
            detail: Some(format!(
                "qcow2 v{}, {} clusters of {cluster} bytes, virtual size {}{}",
                h.version,
                h.size.div_ceil(cluster),
                h.size,
                if h.zstd { ", zstd" } else { "" }
            )),
            ..Default::default()
        };
        if h.crypt != 0 {
            return Err(Rejection::Corrupt(format!(
                "qcow2 image is encrypted (method {}); not read",
                h.crypt
            )));
        }
        if h.incompatible & !KNOWN_INCOMPATIBLE != 0 {
            return Err(Rejection::Corrupt(format!(
                "qcow2 incompatible features {:#x} (external data file or extended L2) are not supported",
                h.incompatible
            )));
        }
        if h.backing {
            out.notes.push(Problem::Error(
                "qcow2 image has a backing file; clusters it would supply read as zeros".into(),
            ));
        }
        let l2_entries = cluster / 8;
        let guest_clusters = h.size.div_ceil(cluster);
        if h.l1_size.saturating_mul(l2_entries) < guest_clusters {
            return Err(Rejection::Corrupt(format!(
                "qcow2 L1 table of {} entries cannot map {guest_clusters} clusters",
                h.l1_size
            )));
        }
        // No more of the disk than one file may hold is ever walked.
        let reachable = guest_clusters.min(budget.limits.max_file_size / cluster + 1);
        let l1 = usize::try_from(h.l1_at)
            .ok()
            .and_then(|at| data.get(at..at.checked_add(h.l1_size as usize * 8)?))
            .ok_or_else(|| {
                Rejection::Corrupt(format!(
                    "qcow2 L1 table ({} entries at {:#x}) lies outside the {}-byte image",
                    h.l1_size,
                    h.l1_at,
                    data.len()
                ))
            })?;
        // Guest cluster -> where its bytes come from, for allocated clusters.
        let mut mapped: Vec<(u64, u64)> = Vec::new();
        'l1: for (i, e) in l1.chunks_exact(8).enumerate() {
            let l2_at = be64(e, 0).unwrap_or(0) & OFFSET_MASK;
            if l2_at == 0 {
                continue;
            }
            let Some(l2) = usize::try_from(l2_at)
                .ok()
                .and_then(|at| data.get(at..at.checked_add(cluster as usize)?))
            else {
                out.notes.push(Problem::Error(format!(
                    "qcow2 L2 table {i} at {l2_at:#x} lies outside the image; its clusters read as zeros"
                )));
                continue;
            };
            for (j, e) in l2.chunks_exact(8).enumerate() {
                let guest = i as u64 * l2_entries + j as u64;
                if guest >= reachable {
                    break 'l1;
                }
                let entry = be64(e, 0).unwrap_or(0);
                if entry & !(1 << 63) != 0 {
                    mapped.push((guest, entry));
                }
            }
        }
        let end = mapped
            .last()
            .map_or(0, |(g, _)| (g + 1) * cluster)
            .min(h.size);
        if let Err(bound) = budget.charge_file(end) {
            out.notes.push(Problem::Limit(format!(
                "qcow2: the {end}-byte guest disk reaches {bound}; not read"
            )));
            return Ok(out);
        }
        let mut disk = vec![0u8; end as usize];
        let x = 62 - (h.cluster_bits - 8);
        let mut bad = 0usize;
        for (guest, entry) in mapped {
            let at = (guest * cluster) as usize;
            let room = (cluster as usize).min(disk.len() - at);
            let target = &mut disk[at..at + room];
            if entry & COMPRESSED != 0 {
                let host = entry & ((1 << x) - 1);
                let sectors = ((entry >> x) & ((1 << (h.cluster_bits - 8)) - 1)) + 1;
                let from = host as usize;
                let to = (host + sectors * 512).min(data.len() as u64) as usize;
                let Some(packed) = data.get(from..to) else {
                    bad += 1;
                    continue;
                };
                let decoded = if h.zstd {
                    compress::zstd(packed, cluster)
                } else {
                    inflate_raw(packed, cluster as usize)
                };
                if decoded.data.len() < room && decoded.error.is_some() {
                    bad += 1;
                }
                let n = decoded.data.len().min(room);
                target[..n].copy_from_slice(&decoded.data[..n]);
            } else if entry & 1 != 0 && h.version == 3 {
                // Reads as zeros (v3 "zero" flag).
            } else {
                let host = entry & OFFSET_MASK;
                match data.get(host as usize..host as usize + room) {
                    Some(bytes) => target.copy_from_slice(bytes),
                    None => bad += 1,
                }
            }
        }
        if bad > 0 {
            out.notes.push(Problem::Error(format!(
                "qcow2: {bad} clusters lie outside the image or do not decompress; they read as zeros"
            )));
        }
        out.entries.push(Entry {
            path: "disk.raw".into(),
            kind: EntryKind::File,
            data: disk,
            meta: None,
        });
        Ok(out)
    }
}

/// One cluster of raw deflate (no zlib header), as qcow2 stores it.
fn inflate_raw(input: &[u8], cap: usize) -> compress::Decoded {
    use flate2::{Decompress, FlushDecompress};
    let mut z = Decompress::new(false);
    let mut out = vec![0u8; cap];
    let result = z.decompress(input, &mut out, FlushDecompress::Finish);
    out.truncate(z.total_out() as usize);
    let consumed = z.total_in() as usize;
    compress::Decoded::new(
        out,
        consumed,
        result.err().map(|e| e.to_string()),
        false,
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unpack::limits::Limits;
    use std::io::Read;

    /// `qemu-img convert -O qcow2 -o cluster_size=4096` of the GPT fixture
    /// disk, plain and `-c` (deflate-compressed clusters) (make.sh).
    const PLAIN: &[u8] = include_bytes!("../../../tests/fixtures/disk.qcow2");
    const PACKED: &[u8] = include_bytes!("../../../tests/fixtures/disk-compressed.qcow2");
    const DISK_GZ: &[u8] = include_bytes!("../../../tests/fixtures/disk-gpt.img.gz");

    fn disk() -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(DISK_GZ)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    fn read(data: &[u8]) -> Result<Extracted, Rejection> {
        Qcow2.extract(data, &mut Budget::new(Limits::default()))
    }

    #[test]
    fn plain_and_compressed_clusters_give_back_the_guest_disk() {
        let disk = disk();
        for image in [PLAIN, PACKED] {
            let out = read(image).unwrap();
            assert!(out.notes.is_empty(), "{:?}", out.notes);
            let got = &out.entries[0].data;
            // Up to the last allocated cluster; the rest of the disk is zeros.
            assert!(got.len() <= disk.len());
            assert_eq!(got[..], disk[..got.len()]);
            assert!(disk[got.len()..].iter().all(|&b| b == 0));
            assert!(got.len() >= 200 * 512, "{}", got.len());
        }
        assert_eq!(
            read(PACKED).unwrap().detail.as_deref(),
            Some("qcow2 v3, 32 clusters of 4096 bytes, virtual size 131072")
        );
    }

    #[test]
    fn truncation_and_flips_never_panic() {
        for image in [PLAIN, PACKED] {
            for cut in (0..image.len()).step_by(251) {
                let _ = read(&image[..cut]);
            }
            let mut data = image.to_vec();
            for at in (0..data.len()).step_by(7) {
                data[at] ^= 0x40;
                let _ = read(&data);
                data[at] ^= 0x40;
            }
        }
    }
}
