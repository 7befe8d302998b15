//! A bare zlib stream (RFC 1950) at any offset: vendor headers, bootloaders
//! and compressed sections carry them without a container. The two-byte
//! header is common by chance (`78 9c` is an x86 instruction pair), so a
//! candidate must pass cheap checks before anything is inflated: the header's
//! FCHECK, no preset dictionary, a first deflate block of a defined type whose
//! stored length or code-length code is consistent. It is then inflated within
//! the budget and kept only when it reaches its end with a matching Adler-32
//! (or fills the size bound, a bomb) and yields a credible amount of data.

use super::gzip::{MIN_CREDIBLE_OUTPUT, stream_entry};
use super::{Extracted, Format, Rejection};
use crate::unpack::compress::{self, Codec};
use crate::unpack::limits::Budget;

pub struct Zlib;

impl Format for Zlib {
    fn name(&self) -> &'static str {
        "zlib"
    }

    /// CMF 0x78 (deflate, 32 KiB window) with each FLG that satisfies FCHECK
    /// without a preset dictionary (levels fastest, fast, default, best).
    fn magics(&self) -> &'static [&'static [u8]] {
        &[&[0x78, 0x01], &[0x78, 0x5e], &[0x78, 0x9c], &[0x78, 0xda]]
    }

    fn extract(&self, data: &[u8], budget: &mut Budget) -> Result<Extracted, Rejection> {
        if !header_is_sane(data) || !first_block_is_sane(&data[2..]) {
            return Err(Rejection::NotThisFormat);
        }
        let decoded = compress::decode(Codec::Zlib, data, budget);
        // Without a verified end (or a bound reached) nothing says this is zlib.
        if decoded.error.is_some()
            || (!decoded.stopped() && decoded.data.len() < MIN_CREDIBLE_OUTPUT)
        {
            return Err(Rejection::NotThisFormat);
        }
        stream_entry(self.name(), "data".to_string(), decoded, budget)
    }
}

/// CMF/FLG: deflate, window at most 32 KiB, FCHECK, no preset dictionary.
pub fn header_is_sane(data: &[u8]) -> bool {
    let (Some(&cmf), Some(&flg)) = (data.first(), data.get(1)) else {
        return false;
    };
    cmf & 0x0f == 8
        && cmf >> 4 <= 7
        && (u16::from(cmf) << 8 | u16::from(flg)) % 31 == 0
        && flg & 0x20 == 0
}

/// Reads deflate's LSB-first bit fields.
struct Bits<'a> {
    data: &'a [u8],
    at: usize,
}

impl Bits<'_> {
    fn take(&mut self, n: usize) -> Option<u32> {
        let mut v = 0;
        for i in 0..n {
            let byte = *self.data.get(self.at / 8)?;
            v |= u32::from(byte >> (self.at % 8) & 1) << i;
            self.at += 1;
        }
        Some(v)
    }
}

/// The first deflate block header could start a real stream: a defined block
/// type; for a stored block LEN = !NLEN; for a dynamic block, literal and
/// distance counts in range and a code-length code that is a complete prefix
/// code (zlib refuses anything else).
pub fn first_block_is_sane(deflate: &[u8]) -> bool {
    let mut bits = Bits {
        data: deflate,
        at: 0,
    };
    let Some(btype) = bits.take(3).map(|h| h >> 1) else {
        return false;
    };
    match btype {
        0 => match deflate.get(1..5) {
            Some(b) => u16::from_le_bytes([b[0], b[1]]) == !u16::from_le_bytes([b[2], b[3]]),
            None => false,
        },
        1 => true,
        2 => {
            const ORDER: [usize; 19] = [
                16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
            ];
            let (Some(hlit), Some(hdist), Some(hclen)) = (bits.take(5), bits.take(5), bits.take(4))
            else {
                return false;
            };
            if hlit > 29 || hdist > 29 {
                return false;
            }
            let mut lengths = [0u32; 19];
            for &sym in &ORDER[..hclen as usize + 4] {
                match bits.take(3) {
                    Some(l) => lengths[sym] = l,
                    None => return false,
                }
            }
            // Kraft sum in units of 2^-7: complete when it is exactly 1.
            let kraft: u32 = lengths
                .iter()
                .filter(|&&l| l > 0)
                .map(|&l| 1 << (7 - l))
                .sum();
            kraft == 128
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unpack::limits::Limits;

    /// `zlib.compress(text, 9)` (Python's zlib module) of tests/fixtures/text.txt.
    const FIXTURE: &[u8] = include_bytes!("../../../tests/fixtures/text.zlib");
    const TEXT: &[u8] = include_bytes!("../../../tests/fixtures/text.txt");

    fn zlib(data: &[u8], level: u32) -> Vec<u8> {
        use std::io::Write;
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(level));
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn decodes_a_real_stream_and_its_size() {
        let mut data = FIXTURE.to_vec();
        data.extend_from_slice(&[0x78, 0x9c, 0xff, 0xff]);
        let out = Zlib
            .extract(&data, &mut Budget::new(Limits::default()))
            .unwrap();
        assert_eq!(out.size, FIXTURE.len() as u64);
        assert_eq!(out.entries[0].data, TEXT);
        assert!(out.notes.is_empty());
    }

    #[test]
    fn every_level_and_block_type_passes_the_cheap_checks() {
        let text = TEXT.repeat(3);
        for level in 0..=9 {
            let z = zlib(&text, level);
            assert!(header_is_sane(&z), "level {level}");
            assert!(first_block_is_sane(&z[2..]), "level {level}");
            let d = compress::zlib(&z, 1 << 20);
            assert_eq!(d.data, text);
            assert!(d.error.is_none());
        }
    }

    #[test]
    fn a_bad_adler_or_a_cut_is_not_accepted() {
        let mut bad = FIXTURE.to_vec();
        let n = bad.len();
        bad[n - 1] ^= 1;
        let budget = &mut Budget::new(Limits::default());
        assert_eq!(
            Zlib.extract(&bad, budget).unwrap_err(),
            Rejection::NotThisFormat
        );
        assert!(compress::zlib(&bad, 1 << 20).error.is_some());
        let cut = &FIXTURE[..FIXTURE.len() - 6];
        assert!(compress::zlib(cut, 1 << 20).error.is_some());
        assert_eq!(
            Zlib.extract(cut, budget).unwrap_err(),
            Rejection::NotThisFormat
        );
    }

    #[test]
    fn chance_headers_are_refused_before_inflating() {
        // Pseudo-random bytes behind each magic: the block check refuses most,
        // and inflating refuses the rest.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut passed_cheap = 0;
        for _ in 0..2000 {
            let mut d = vec![0x78, 0x9c];
            for _ in 0..64 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                d.push(state as u8);
            }
            if first_block_is_sane(&d[2..]) {
                passed_cheap += 1;
            }
            let r = Zlib.extract(&d, &mut Budget::new(Limits::default()));
            assert_eq!(r.unwrap_err(), Rejection::NotThisFormat);
        }
        // Fixed-Huffman blocks (1 in 4) pass; dynamic and stored ones rarely.
        assert!(
            passed_cheap < 700,
            "{passed_cheap} of 2000 passed the cheap checks"
        );
        assert!(!header_is_sane(&[0x78, 0x9d]));
        assert!(!header_is_sane(&[0x78, 0xbb])); // FDICT
    }
}
