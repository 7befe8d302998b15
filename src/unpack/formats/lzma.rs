//! Legacy "LZMA alone" stream (`xz --format=lzma`, kernels, U-Boot, TRX
//! payloads). It has no magic: a 13-byte header of properties byte, dictionary
//! size and uncompressed size. We carve at `5d 00 00` (the usual properties with
//! a dictionary of whole 64 KiB units) and check every field before decoding.

use super::gzip::stream_entry;
use super::{Extracted, Format, Rejection, le32, le64};
use crate::unpack::compress;
use crate::unpack::limits::Budget;

pub struct Lzma;

/// Smallest and largest dictionary an encoder writes (liblzma: 4 KiB .. 1.5 GiB);
/// we stop at 256 MiB, our decoder's memory limit.
const MIN_DICT: u32 = 4096;
const MAX_DICT: u32 = 256 << 20;
/// A declared uncompressed size above this is taken for a chance match.
const MAX_DECLARED: u64 = 1 << 40;

/// Checks the 13-byte header; `None` when it cannot be an LZMA-alone stream.
pub fn header_is_sane(data: &[u8]) -> bool {
    let (Some(&props), Some(dict), Some(size)) = (data.first(), le32(data, 1), le64(data, 5))
    else {
        return false;
    };
    // props = (pb * 5 + lp) * 9 + lc with pb, lp <= 4 and lc <= 8: below 225.
    if props >= 225 {
        return false;
    }
    // Encoders write 2^n or 2^n + 2^(n-1).
    let shape = dict.is_power_of_two() || (dict / 3).is_power_of_two() && dict % 3 == 0;
    if !(MIN_DICT..=MAX_DICT).contains(&dict) || !shape {
        return false;
    }
    size == u64::MAX || (1..=MAX_DECLARED).contains(&size)
}

impl Format for Lzma {
    fn name(&self) -> &'static str {
        "lzma"
    }

    fn magics(&self) -> &'static [&'static [u8]] {
        &[&[0x5d, 0x00, 0x00]]
    }

    fn extract(&self, data: &[u8], budget: &mut Budget) -> Result<Extracted, Rejection> {
        if !header_is_sane(data) {
            return Err(Rejection::NotThisFormat);
        }
        let decoded = compress::lzma_alone(data, budget.output_cap(data.len() as u64));
        stream_entry(self.name(), "data".to_string(), decoded, budget)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unpack::limits::Limits;

    /// `xz --format=lzma -9` of tests/fixtures/text.txt.
    const FIXTURE: &[u8] = include_bytes!("../../../tests/fixtures/text.lzma");
    const TEXT: &[u8] = include_bytes!("../../../tests/fixtures/text.txt");

    #[test]
    fn decodes_real_xz_format_lzma_output() {
        let mut data = FIXTURE.to_vec();
        data.extend_from_slice(&[0xff; 32]);
        let out = Lzma
            .extract(&data, &mut Budget::new(Limits::default()))
            .unwrap();
        assert_eq!(out.size, FIXTURE.len() as u64);
        assert_eq!(out.entries[0].data, TEXT);
        assert!(out.notes.is_empty());
    }

    #[test]
    fn rejects_insane_headers() {
        let mut h = FIXTURE[..13].to_vec();
        assert!(header_is_sane(&h));
        h[0] = 225;
        assert!(!header_is_sane(&h));
        let mut h = FIXTURE[..13].to_vec();
        h[1..5].copy_from_slice(&0x0012_3456u32.to_le_bytes());
        assert!(!header_is_sane(&h));
        let mut h = FIXTURE[..13].to_vec();
        h[5..13].copy_from_slice(&(1u64 << 50).to_le_bytes());
        assert!(!header_is_sane(&h));
        let junk = [
            0x5d, 0, 0, 0x80, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3,
        ];
        assert_eq!(
            Lzma.extract(&junk, &mut Budget::new(Limits::default()))
                .unwrap_err(),
            Rejection::NotThisFormat
        );
    }
}
