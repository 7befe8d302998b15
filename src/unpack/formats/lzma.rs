//! Legacy "LZMA alone" stream (`xz --format=lzma`, kernels, U-Boot, TRX
//! payloads). It has no magic: a 13-byte header of properties byte, dictionary
//! size and uncompressed size. We carve at `5d 00 00` (the usual properties,
//! lc=3 lp=0 pb=2, with a dictionary of whole 64 KiB units) and at `6d 00 00`
//! (lc=1 lp=2 pb=2: OpenWrt's kernel LZMA, as in TRX and many uImage
//! payloads) and check every field before decoding. `6d 00 00` is also common
//! by chance in raw data (a disk image holds dozens), so such a stream must
//! decode to its end without error and to at least [`MIN_6D_OUTPUT`] bytes:
//! a chance match becomes silence, not a bogus layer or an error note.

use super::gzip::stream_entry;
use super::{Extracted, Format, Rejection, le32, le64};
use crate::unpack::compress::{self, Codec};
use crate::unpack::limits::Budget;

pub struct Lzma;

/// Smallest and largest dictionary an encoder writes (liblzma: 4 KiB .. 1.5 GiB);
/// we stop at 256 MiB, our decoder's memory limit.
const MIN_DICT: u32 = 4096;
const MAX_DICT: u32 = 256 << 20;
/// A declared uncompressed size above this is taken for a chance match.
const MAX_DECLARED: u64 = 1 << 40;
/// Least output of a `6d 00 00` stream (kernels are megabytes).
pub const MIN_6D_OUTPUT: usize = 4096;

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
        &[&[0x5d, 0x00, 0x00], &[0x6d, 0x00, 0x00]]
    }

    fn extract(&self, data: &[u8], budget: &mut Budget) -> Result<Extracted, Rejection> {
        if !header_is_sane(data) {
            return Err(Rejection::NotThisFormat);
        }
        let decoded = compress::decode(Codec::LzmaAlone, data, budget);
        if data[0] != 0x5d
            && (decoded.error.is_some()
                || (!decoded.stopped() && decoded.data.len() < MIN_6D_OUTPUT))
        {
            return Err(Rejection::NotThisFormat);
        }
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
    fn decodes_openwrt_kernel_parameters() {
        // xz --format=lzma --lzma1=preset=6,lc=1,lp=2,pb=2: properties byte 0x6d.
        let mut e = liblzma::stream::LzmaOptions::new_preset(6).unwrap();
        e.literal_context_bits(1)
            .literal_position_bits(2)
            .position_bits(2);
        let stream = liblzma::stream::Stream::new_lzma_encoder(&e).unwrap();
        let mut w = liblzma::write::XzEncoder::new_stream(Vec::new(), stream);
        let text = TEXT.repeat(MIN_6D_OUTPUT / TEXT.len() + 1);
        std::io::Write::write_all(&mut w, &text).unwrap();
        let mut data = w.finish().unwrap();
        assert_eq!(&data[..3], &[0x6d, 0, 0]);
        let len = data.len() as u64;
        data.extend_from_slice(&[0xff; 32]);
        let found: Vec<_> = crate::unpack::carve::candidates(&data)
            .iter()
            .map(|(o, f)| (*o, f.name()))
            .collect();
        assert!(found.contains(&(0, "lzma")), "{found:?}");
        let out = Lzma
            .extract(&data, &mut Budget::new(Limits::default()))
            .unwrap();
        assert_eq!(out.size, len);
        assert_eq!(out.entries[0].data, text);
        // Cut short, it is taken for a chance match: no layer, no note.
        assert_eq!(
            Lzma.extract(
                &data[..len as usize / 2],
                &mut Budget::new(Limits::default())
            )
            .unwrap_err(),
            Rejection::NotThisFormat
        );
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
