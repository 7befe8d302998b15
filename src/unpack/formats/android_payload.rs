//! Android A/B OTA `payload.bin` (update_engine, magic `CrAU`, format
//! versions 1 and 2): a protobuf `DeltaArchiveManifest` names each
//! partition and the operations that write it. A full OTA's partitions are
//! rebuilt from REPLACE, REPLACE_XZ, REPLACE_BZ, ZERO and DISCARD
//! operations (each operation's SHA-256 checked when given) and become
//! `<partition>.img`; a partition written by delta operations (SOURCE_COPY,
//! BSDIFF, PUFFDIFF, ...) needs the old image, so it is named in a note and
//! left out. The manifest is read by a small protobuf walker (field numbers
//! from AOSP's `update_metadata.proto`), every length checked.

use super::{Entry, Extracted, Format, Notes, Problem, Rejection, be32, be64};
use crate::unpack::compress;
use crate::unpack::limits::Budget;
use crate::unpack::tree::EntryKind;
use sha2::{Digest, Sha256};

pub struct AndroidPayload;

const MAX_MANIFEST: u64 = 64 << 20;
/// More operations than this in one partition is not a real payload.
const MAX_OPERATIONS: usize = 1 << 20;

/// One protobuf field: its number and value.
enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

/// The fields of one protobuf message, or why it cannot be read.
fn fields(mut b: &[u8]) -> Result<Vec<(u64, Field<'_>)>, String> {
    fn varint(b: &mut &[u8]) -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = b.split_first().ok_or("varint runs past the message")?;
            *b = rest;
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("varint longer than 10 bytes".into())
    }
    let mut out = Vec::new();
    while !b.is_empty() {
        let key = varint(&mut b)?;
        let field = match key & 7 {
            0 => Field::Varint(varint(&mut b)?),
            1 | 5 => {
                let n = if key & 7 == 1 { 8 } else { 4 };
                b = b.get(n..).ok_or("fixed field runs past the message")?;
                Field::Fixed
            }
            2 => {
                let len = usize::try_from(varint(&mut b)?).map_err(|_| "length too large")?;
                let (value, rest) = b
                    .split_at_checked(len)
                    .ok_or("length-delimited field runs past the message")?;
                b = rest;
                Field::Bytes(value)
            }
            w => {
                return Err(format!(
                    "wire type {w} is not used by update_metadata.proto"
                ));
            }
        };
        out.push((key >> 3, field));
    }
    Ok(out)
}

fn varint_of(f: &[(u64, Field)], n: u64) -> Option<u64> {
    f.iter().rev().find_map(|(k, v)| match v {
        Field::Varint(x) if *k == n => Some(*x),
        _ => None,
    })
}

fn bytes_of<'a>(f: &[(u64, Field<'a>)], n: u64) -> Option<&'a [u8]> {
    f.iter().rev().find_map(|(k, v)| match v {
        Field::Bytes(x) if *k == n => Some(*x),
        _ => None,
    })
}

fn all_bytes<'a>(f: &'a [(u64, Field<'a>)], n: u64) -> impl Iterator<Item = &'a [u8]> + 'a {
    f.iter().filter_map(move |(k, v)| match v {
        Field::Bytes(x) if *k == n => Some(*x),
        _ => None,
    })
}

/// `InstallOperation.Type` names.
fn op_name(t: u64) -> &'static str {
    match t {
        0 => "REPLACE",
        1 => "REPLACE_BZ",
        2 => "MOVE",
        3 => "BSDIFF",
        4 => "SOURCE_COPY",
        5 => "SOURCE_BSDIFF",
        6 => "ZERO",
        7 => "DISCARD",
        8 => "REPLACE_XZ",
        9 => "PUFFDIFF",
        10 => "BROTLI_BSDIFF",
        11 => "ZUCCHINI",
        12 => "LZ4DIFF_BSDIFF",
        13 => "LZ4DIFF_PUFFDIFF",
        _ => "unknown",
    }
}

struct Operation<'a> {
    kind: u64,
    data: &'a [u8],
    sha256: Option<&'a [u8]>,
    /// (start block, block count) of each destination extent.
    dst: Vec<(u64, u64)>,
}

impl Format for AndroidPayload {
    fn name(&self) -> &'static str {
        "android-ota"
    }

    fn magics(&self) -> &'static [&'static [u8]] {
        &[b"CrAU"]
    }

    fn extract(&self, data: &[u8], budget: &mut Budget) -> Result<Extracted, Rejection> {
        let version = be64(data, 4).ok_or(Rejection::NotThisFormat)?;
        let manifest_len = be64(data, 12).ok_or(Rejection::NotThisFormat)?;
        let (sig_len, manifest_at) = match version {
            1 => (0u64, 20usize),
            2 => (
                u64::from(be32(data, 20).ok_or(Rejection::NotThisFormat)?),
                24,
            ),
            _ => return Err(Rejection::NotThisFormat),
        };
        if manifest_len == 0 || manifest_len > MAX_MANIFEST || sig_len > MAX_MANIFEST {
            return Err(Rejection::NotThisFormat);
        }
        let manifest_end = manifest_at + manifest_len as usize;
        let manifest = data.get(manifest_at..manifest_end).ok_or_else(|| {
            Rejection::Corrupt(format!(
                "Android OTA payload is truncated inside its {manifest_len}-byte manifest"
            ))
        })?;
        let blobs_at = manifest_end + sig_len as usize;
        let m = fields(manifest)
            .map_err(|e| Rejection::Corrupt(format!("Android OTA manifest: {e}")))?;
        let block = varint_of(&m, 3).unwrap_or(4096);
        if !(512..=1 << 20).contains(&block) || !block.is_power_of_two() {
            return Err(Rejection::Corrupt(format!(
                "Android OTA manifest: block size {block}"
            )));
        }
        let blobs = data.get(blobs_at..).unwrap_or_default();
        let mut notes = Notes::default();
        let mut out = Extracted::default();
        let mut names = Vec::new();
        let mut delta = false;
        let mut end = blobs_at as u64;
        if let (Some(off), Some(len)) = (varint_of(&m, 4), varint_of(&m, 5)) {
            end = end.max((blobs_at as u64).saturating_add(off).saturating_add(len));
        }
        for part in all_bytes(&m, 13) {
            let p = match fields(part) {
                Ok(p) => p,
                Err(e) => {
                    notes.push(Problem::Error(format!("Android OTA partition entry: {e}")));
                    continue;
                }
            };
            let name = bytes_of(&p, 1)
                .map(|n| String::from_utf8_lossy(n).into_owned())
                .unwrap_or_default();
            let safe = !name.is_empty() && !name.contains('/') && name != "." && name != "..";
            let name = if safe {
                name
            } else {
                format!("partition-{}", names.len())
            };
            let mut ops = Vec::new();
            for raw in all_bytes(&p, 8).take(MAX_OPERATIONS) {
                let Ok(o) = fields(raw) else {
                    notes.push(Problem::Error(format!(
                        "Android OTA: {name}: an operation is unreadable"
                    )));
                    continue;
                };
                let off = varint_of(&o, 2).unwrap_or(0);
                let len = varint_of(&o, 3).unwrap_or(0);
                end = end.max((blobs_at as u64).saturating_add(off).saturating_add(len));
                let dst = all_bytes(&o, 6)
                    .filter_map(|e| fields(e).ok())
                    .map(|e| (varint_of(&e, 1).unwrap_or(0), varint_of(&e, 2).unwrap_or(0)))
                    .collect();
                let slice = usize::try_from(off)
                    .ok()
                    .zip(usize::try_from(len).ok())
                    .and_then(|(o, l)| blobs.get(o..o.checked_add(l)?));
                ops.push((
                    Operation {
                        kind: varint_of(&o, 1).unwrap_or(0),
                        data: slice.unwrap_or_default(),
                        sha256: bytes_of(&o, 8),
                        dst,
                    },
                    slice.is_some() || len == 0,
                ));
            }
            let version = bytes_of(&p, 17).map(|v| String::from_utf8_lossy(v).into_owned());
            names.push(match &version {
                Some(v) if !v.is_empty() => format!("{name} {v}"),
                _ => name.clone(),
            });
            let deltas: Vec<&str> = ops
                .iter()
                .map(|(o, _)| op_name(o.kind))
                .filter(|n| {
                    !matches!(
                        *n,
                        "REPLACE" | "REPLACE_BZ" | "REPLACE_XZ" | "ZERO" | "DISCARD"
                    )
                })
                .collect();
            if !deltas.is_empty() {
                delta = true;
                let mut kinds = deltas.clone();
                kinds.sort_unstable();
                kinds.dedup();
                notes.push(Problem::Error(format!(
                    "Android OTA: {name} is a delta update ({} of {} operations are {}); it needs the old image and is not rebuilt",
                    deltas.len(),
                    ops.len(),
                    kinds.join(", ")
                )));
                continue;
            }
            // The partition's size: its declared new size, else the last block written.
            let blocks_end = ops
                .iter()
                .flat_map(|(o, _)| o.dst.iter())
                .map(|&(s, n)| s.saturating_add(n))
                .max()
                .unwrap_or(0);
            let size = bytes_of(&p, 7)
                .and_then(|i| fields(i).ok())
                .and_then(|i| varint_of(&i, 1))
                .unwrap_or(blocks_end.saturating_mul(block));
            if let Err(bound) = budget.entry().and_then(|()| budget.charge_file(size)) {
                notes.push(Problem::Limit(format!(
                    "Android OTA: {name}: {size} bytes reach {bound}; skipped"
                )));
                continue;
            }
            let mut image = vec![0u8; size as usize];
            for (i, (op, whole)) in ops.iter().enumerate() {
                if let Err(e) = apply(op, *whole, &mut image, block, budget) {
                    notes.push(Problem::Error(format!(
                        "Android OTA: {name}: operation {i} ({}): {e}",
                        op_name(op.kind)
                    )));
                }
            }
            out.entries.push(Entry {
                path: format!("{name}.img"),
                kind: EntryKind::File,
                data: image,
                meta: None,
            });
        }
        if end > data.len() as u64 {
            notes.push(Problem::Error(format!(
                "Android OTA payload is truncated: its operations reach {end} bytes, only {} present",
                data.len()
            )));
        }
        out.size = end.min(data.len() as u64);
        let mut facts = vec![format!(
            "Android OTA payload v{version}, {} update",
            if delta { "delta" } else { "full" }
        )];
        if let Some(minor) = varint_of(&m, 12) {
            facts.push(format!("minor version {minor}"));
        }
        facts.push(format!("block size {block}"));
        if let Some(ts) = varint_of(&m, 14) {
            facts.push(format!("max timestamp {ts}"));
        }
        facts.push(format!("partitions: {}", names.join(", ")));
        out.detail = Some(facts.join(", "));
        notes.finish("android-ota", &mut out.notes);
        Ok(out)
    }
}

/// Writes one full-image operation into `image`.
fn apply(
    op: &Operation,
    whole: bool,
    image: &mut [u8],
    block: u64,
    budget: &Budget,
) -> Result<(), String> {
    if !whole {
        return Err("its data runs past the end of the payload".into());
    }
    let room: u64 = op.dst.iter().map(|&(_, n)| n.saturating_mul(block)).sum();
    let bytes: Vec<u8> = match op.kind {
        6 | 7 => Vec::new(), // ZERO, DISCARD: the image starts zeroed
        _ => {
            if let Some(want) = op.sha256
                && Sha256::digest(op.data)[..] != *want
            {
                return Err("data does not match its SHA-256".into());
            }
            let cap = room.min(budget.output_cap(op.data.len() as u64));
            // The decoded copy exists beside the image until it is written:
            // its memory is reserved first (returned when this ends).
            let _held = budget
                .reserve(cap)
                .map_err(|bound| format!("{bound} reached"))?;
            let d = match op.kind {
                0 => return write(op, op.data, image, block),
                1 => compress::bzip2(op.data, cap),
                8 => compress::xz(op.data, cap),
                _ => return Err("not a full-image operation".into()),
            };
            if let Some(e) = d.error {
                return Err(e);
            }
            if d.capped {
                return Err(format!("decodes past its {room}-byte extents"));
            }
            d.data
        }
    };
    write(op, &bytes, image, block)
}

/// Spreads `bytes` over the operation's destination extents.
fn write(op: &Operation, mut bytes: &[u8], image: &mut [u8], block: u64) -> Result<(), String> {
    for &(start, count) in &op.dst {
        let at = start
            .checked_mul(block)
            .ok_or("extent past the partition")?;
        let len = count
            .checked_mul(block)
            .ok_or("extent past the partition")?;
        let (at, len) = (
            usize::try_from(at).map_err(|_| "extent past the partition")?,
            usize::try_from(len).map_err(|_| "extent past the partition")?,
        );
        let dst = image
            .get_mut(at..at.checked_add(len).ok_or("extent past the partition")?)
            .ok_or_else(|| format!("extent at block {start} is past the partition"))?;
        let n = bytes.len().min(len);
        dst[..n].copy_from_slice(&bytes[..n]);
        if op.kind == 6 || op.kind == 7 {
            dst.fill(0);
        }
        bytes = &bytes[n..];
    }
    Ok(())
}
