//! Legacy U-Boot image (`mkimage`): a 64-byte big-endian header with its own
//! CRC32, then the payload, optionally compressed, optionally several images
//! ("multi-file"). Layout from U-Boot's `include/image.h`.

use super::{Entry, Extracted, Format, Problem, Rejection, be32};
use crate::unpack::limits::Budget;
use crate::unpack::tree::EntryKind;

pub struct UImage;

const HEADER_LEN: usize = 64;
const TYPE_MULTI: u8 = 4;

/// `ih_type` names from U-Boot's image.h, for entry names.
fn type_name(t: u8) -> &'static str {
    match t {
        1 => "standalone",
        2 => "kernel",
        3 => "ramdisk",
        4 => "multi",
        5 => "firmware",
        6 => "script",
        7 => "filesystem",
        8 => "flat_dt",
        _ => "payload",
    }
}

impl Format for UImage {
    fn name(&self) -> &'static str {
        "uimage"
    }

    fn magics(&self) -> &'static [&'static [u8]] {
        &[&[0x27, 0x05, 0x19, 0x56]]
    }

    fn declared_len(&self, data: &[u8]) -> Option<u64> {
        Some(HEADER_LEN as u64 + u64::from(be32(data, 12)?))
    }

    fn extract(&self, data: &[u8], budget: &mut Budget) -> Result<Extracted, Rejection> {
        let header = data.get(..HEADER_LEN).ok_or(Rejection::NotThisFormat)?;
        let (stored_hcrc, size, stored_dcrc) = (
            be32(header, 4).unwrap_or(0),
            be32(header, 12).unwrap_or(0) as usize,
            be32(header, 24).unwrap_or(0),
        );
        let (os, arch, image_type, comp) = (header[28], header[29], header[30], header[31]);
        // Field ranges from image.h; a chance magic rarely has all of them sane.
        if os > 40 || arch > 40 || image_type > 40 || comp > 6 {
            return Err(Rejection::NotThisFormat);
        }
        let mut zeroed = [0u8; HEADER_LEN];
        zeroed.copy_from_slice(header);
        zeroed[4..8].fill(0);
        let computed = crc32fast::hash(&zeroed);
        if computed != stored_hcrc {
            return Err(Rejection::Corrupt(format!(
                "uImage header CRC mismatch (stored {stored_hcrc:#010x}, computed {computed:#010x})"
            )));
        }
        let name = String::from_utf8_lossy(&header[32..64])
            .trim_end_matches('\0')
            .to_string();
        let mut out = Extracted {
            detail: Some(format!(
                "name \"{name}\", type {}, compression {}",
                type_name(image_type),
                comp_name(comp)
            )),
            ..Default::default()
        };
        let available = data.len() - HEADER_LEN;
        let payload = if size > available {
            out.notes.push(Problem::Error(format!(
                "uImage truncated: header says {size} data bytes, only {available} present"
            )));
            &data[HEADER_LEN..]
        } else {
            &data[HEADER_LEN..HEADER_LEN + size]
        };
        out.size = (HEADER_LEN + payload.len()) as u64;
        if size <= available {
            let dcrc = crc32fast::hash(payload);
            if dcrc != stored_dcrc {
                out.notes.push(Problem::Error(format!(
                    "uImage data CRC mismatch (stored {stored_dcrc:#010x}, computed {dcrc:#010x})"
                )));
            }
        }
        let parts: Vec<(String, &[u8])> = if image_type == TYPE_MULTI {
            split_multi(payload, &mut out.notes)
                .into_iter()
                .enumerate()
                .map(|(i, p)| (format!("image-{i}"), p))
                .collect()
        } else {
            vec![(type_name(image_type).to_string(), payload)]
        };
        for (path, part) in parts {
            let data = decompress(comp, part, budget, &mut out.notes);
            out.entries.push(Entry {
                path,
                kind: EntryKind::File,
                data,
                meta: None,
            });
        }
        Ok(out)
    }
}

fn comp_name(comp: u8) -> &'static str {
    ["none", "gzip", "bzip2", "lzma", "lzo", "lz4", "zstd"]
        .get(comp as usize)
        .copied()
        .unwrap_or("unknown")
}

/// Multi-file payload: a zero-terminated list of big-endian sizes, then each
/// image padded to 4 bytes.
fn split_multi<'a>(payload: &'a [u8], notes: &mut Vec<Problem>) -> Vec<&'a [u8]> {
    let mut sizes = Vec::new();
    let mut at = 0;
    loop {
        match be32(payload, at) {
            Some(0) => break,
            Some(s) if sizes.len() < 256 => sizes.push(s as usize),
            _ => {
                notes.push(Problem::Error(
                    "multi-file uImage size table is not terminated".into(),
                ));
                return Vec::new();
            }
        }
        at += 4;
    }
    let mut start = at + 4;
    let mut parts = Vec::new();
    for size in sizes {
        let Some(part) = payload.get(start..start.saturating_add(size)) else {
            notes.push(Problem::Error(format!(
                "multi-file uImage part at data offset {start:#x} ({size} bytes) runs past the data"
            )));
            break;
        };
        parts.push(part);
        start += size.div_ceil(4) * 4;
    }
    parts
}

fn decompress(comp: u8, part: &[u8], budget: &mut Budget, notes: &mut Vec<Problem>) -> Vec<u8> {
    super::decode_payload(comp_name(comp), "uImage payload", part, budget, notes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unpack::limits::Limits;

    /// Builds a header the way mkimage does.
    pub(crate) fn image(payload: &[u8], image_type: u8, comp: u8) -> Vec<u8> {
        let mut h = vec![0u8; HEADER_LEN];
        h[0..4].copy_from_slice(&[0x27, 0x05, 0x19, 0x56]);
        h[12..16].copy_from_slice(&(payload.len() as u32).to_be_bytes());
        h[24..28].copy_from_slice(&crc32fast::hash(payload).to_be_bytes());
        h[28] = 5; // linux
        h[29] = 2; // arm
        h[30] = image_type;
        h[31] = comp;
        h[32..38].copy_from_slice(b"Kernel");
        let crc = crc32fast::hash(&h);
        h[4..8].copy_from_slice(&crc.to_be_bytes());
        h.extend_from_slice(payload);
        h
    }

    #[test]
    fn extracts_an_uncompressed_kernel() {
        let img = image(b"Linux version 4.14.180", 2, 0);
        let out = UImage
            .extract(&img, &mut Budget::new(Limits::default()))
            .unwrap();
        assert_eq!(out.size, img.len() as u64);
        assert_eq!(out.entries[0].path, "kernel");
        assert_eq!(out.entries[0].data, b"Linux version 4.14.180");
        assert!(out.notes.is_empty());
    }

    #[test]
    fn header_crc_mismatch_is_corrupt() {
        let mut img = image(b"abc", 2, 0);
        img[40] ^= 0xff;
        let err = UImage
            .extract(&img, &mut Budget::new(Limits::default()))
            .unwrap_err();
        assert!(matches!(err, Rejection::Corrupt(m) if m.contains("header CRC mismatch")));
    }

    #[test]
    fn splits_multi_file_images() {
        let mut payload = Vec::new();
        payload.extend_from_slice(&3u32.to_be_bytes());
        payload.extend_from_slice(&2u32.to_be_bytes());
        payload.extend_from_slice(&0u32.to_be_bytes());
        payload.extend_from_slice(b"abc\0de");
        let img = image(&payload, TYPE_MULTI, 0);
        let out = UImage
            .extract(&img, &mut Budget::new(Limits::default()))
            .unwrap();
        let parts: Vec<_> = out.entries.iter().map(|e| e.data.as_slice()).collect();
        assert_eq!(parts, vec![&b"abc"[..], &b"de"[..]]);
    }

    #[test]
    fn truncated_payload_is_noted_and_kept() {
        let img = image(&[7u8; 100], 2, 0);
        let out = UImage
            .extract(&img[..120], &mut Budget::new(Limits::default()))
            .unwrap();
        assert_eq!(out.entries[0].data.len(), 56);
        assert!(matches!(&out.notes[0], Problem::Error(m) if m.contains("truncated")));
    }
}
