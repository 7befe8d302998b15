//! Android sparse image (`img2simg`, fastboot): a 28-byte header and chunks
//! that are raw blocks, a fill pattern, "don't care" holes or a CRC. Expanded
//! to the raw image (usually ext4, carved next) within the decompression
//! bound, since a few bytes of fill chunk can describe gigabytes.
//! Layout from AOSP `system/core/libsparse/sparse_format.h`.

use super::{Entry, Extracted, Format, Problem, Rejection, le16, le32};
use crate::unpack::limits::Budget;
use crate::unpack::tree::EntryKind;

pub struct Sparse;

const FILE_HEADER_LEN: usize = 28;
const CHUNK_HEADER_LEN: usize = 12;
const RAW: u16 = 0xcac1;
const FILL: u16 = 0xcac2;
const DONT_CARE: u16 = 0xcac3;
const CRC32: u16 = 0xcac4;

impl Format for Sparse {
    fn name(&self) -> &'static str {
        "sparse"
    }

    fn magics(&self) -> &'static [&'static [u8]] {
        &[&[0x3a, 0xff, 0x26, 0xed]]
    }

    fn extract(&self, data: &[u8], budget: &mut Budget) -> Result<Extracted, Rejection> {
        let fields = (
            le16(data, 4),
            le16(data, 8),
            le16(data, 10),
            le32(data, 12),
            le32(data, 16),
            le32(data, 20),
        );
        let (
            Some(major),
            Some(hdr_len),
            Some(chunk_hdr_len),
            Some(block),
            Some(blocks),
            Some(chunks),
        ) = fields
        else {
            return Err(Rejection::NotThisFormat);
        };
        let (hdr_len, chunk_hdr_len) = (hdr_len as usize, chunk_hdr_len as usize);
        if major != 1
            || hdr_len < FILE_HEADER_LEN
            || chunk_hdr_len < CHUNK_HEADER_LEN
            || block == 0
            || block % 4 != 0
            || block > 1 << 24
        {
            return Err(Rejection::NotThisFormat);
        }
        let block = block as u64;
        let full = u64::from(blocks) * block;
        let cap = budget.output_cap(data.len() as u64);
        let mut out = Extracted {
            detail: Some(format!(
                "Android sparse, {blocks} blocks of {block} bytes, {chunks} chunks"
            )),
            ..Default::default()
        };
        // The image is never more than the header declares (nor than the
        // cap): that much memory is reserved before any is allocated.
        let most = cap.min(full);
        let reservation = budget.reserve(most).map_err(|bound| {
            Rejection::Limit(format!("sparse: {most} bytes of image reach {bound}"))
        })?;
        // Zeroed up front and written in place: the holes (DONT_CARE, zero
        // FILL), often most of a partition, are then never written, and a
        // large zeroed allocation is fresh memory the kernel maps on first
        // read to its zero page, so they cost neither time nor resident memory.
        let mut raw: Vec<u8> = vec![0; most as usize];
        let mut len = 0usize;
        let mut at = hdr_len;
        let mut capped = false;
        for index in 0..chunks {
            let (Some(kind), Some(count), Some(total)) =
                (le16(data, at), le32(data, at + 4), le32(data, at + 8))
            else {
                out.notes.push(Problem::Error(format!(
                    "sparse: chunk {index} header at {at:#x} is truncated"
                )));
                break;
            };
            let body_at = at + chunk_hdr_len;
            let body_len = (total as usize).saturating_sub(chunk_hdr_len);
            let Some(body) = data.get(body_at..body_at.saturating_add(body_len)) else {
                out.notes.push(Problem::Error(format!(
                    "sparse: chunk {index} at {at:#x} declares {total} bytes past the end of the file"
                )));
                break;
            };
            let bytes = u64::from(count) * block;
            let expanded = match kind {
                RAW if body.len() as u64 == bytes => Some(body),
                FILL if body.len() == 4 => None,
                DONT_CARE if body.is_empty() => None,
                CRC32 if body.len() == 4 => {
                    at = body_at + body_len;
                    continue;
                }
                _ => {
                    out.notes.push(Problem::Error(format!(
                        "sparse: chunk {index} at {at:#x} has type {kind:#x} and {total} bytes, which do not fit together"
                    )));
                    break;
                }
            };
            at = body_at + body_len;
            if len as u64 + bytes > most {
                capped = true;
                break;
            }
            let span = &mut raw[len..len + bytes as usize];
            match (kind, expanded) {
                (RAW, Some(body)) => span.copy_from_slice(body),
                (FILL, _) if body[..4] != [0; 4] => {
                    let pattern = [body[0], body[1], body[2], body[3]];
                    for word in span.chunks_mut(4) {
                        word.copy_from_slice(&pattern[..word.len()]);
                    }
                }
                _ => {}
            }
            len += bytes as usize;
        }
        raw.truncate(len);
        if len < raw.capacity() / 2 {
            // Cut short: do not hold the unused rest.
            raw.shrink_to_fit();
        }
        if capped {
            out.notes.push(Problem::Limit(format!(
                "sparse: expansion stopped at {} of {full} bytes: {}",
                raw.len(),
                budget.output_cap_cause(data.len() as u64)
            )));
        }
        if out.notes.is_empty() && raw.len() as u64 != full {
            out.notes.push(Problem::Error(format!(
                "sparse: chunks cover {} bytes, header says {full}",
                raw.len()
            )));
        }
        out.size = at.min(data.len()) as u64;
        if let Err(bound) = budget
            .entry()
            .and_then(|()| budget.keep(reservation, raw.len() as u64))
        {
            return Err(Rejection::Limit(format!(
                "sparse: {} bytes of image reach {bound}",
                raw.len()
            )));
        }
        out.entries.push(Entry {
            path: "image.raw".into(),
            kind: EntryKind::File,
            data: raw,
            meta: None,
        });
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unpack::limits::Limits;

    /// `img2simg` of a 64 KiB file: text, zeros (don't care) and a repeated
    /// word (fill), see make.sh.
    const FIXTURE: &[u8] = include_bytes!("../../../tests/fixtures/image.simg");
    const RAW_IMAGE: &[u8] = include_bytes!("../../../tests/fixtures/image.raw");

    #[test]
    fn expands_real_img2simg_output() {
        let out = Sparse
            .extract(FIXTURE, &mut Budget::new(Limits::default()))
            .unwrap();
        assert!(out.notes.is_empty(), "{:?}", out.notes);
        assert_eq!(out.entries[0].data, RAW_IMAGE);
        assert_eq!(out.size, FIXTURE.len() as u64);
    }

    #[test]
    fn a_huge_fill_is_bounded() {
        let mut img = FIXTURE[..FILE_HEADER_LEN].to_vec();
        img[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
        img[20..24].copy_from_slice(&1u32.to_le_bytes());
        img.extend_from_slice(&FILL.to_le_bytes());
        img.extend_from_slice(&[0, 0]);
        img.extend_from_slice(&u32::MAX.to_le_bytes());
        img.extend_from_slice(&16u32.to_le_bytes());
        img.extend_from_slice(b"AAAA");
        let out = Sparse
            .extract(&img, &mut Budget::new(Limits::default()))
            .unwrap();
        assert!(
            matches!(&out.notes[..], [Problem::Limit(_)]),
            "{:?}",
            out.notes
        );
    }

    #[test]
    fn truncation_is_noted() {
        for cut in FILE_HEADER_LEN..FIXTURE.len() {
            let out = Sparse
                .extract(&FIXTURE[..cut], &mut Budget::new(Limits::default()))
                .unwrap();
            assert!(!out.notes.is_empty(), "cut {cut}");
        }
    }
}
