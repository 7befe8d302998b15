//! LZ4 frame format (`lz4` tool, `04 22 4d 18`). The frame descriptor's
//! version and reserved bits are checked here; `lz4_flex` checks the header
//! checksum and the blocks. Also the legacy format (`lz4 -l`, `02 21 4c 18`)
//! that Linux kernel images use.

use super::gzip::stream_entry;
use super::{Extracted, Format, Rejection};
use crate::unpack::compress::{self, Codec};
use crate::unpack::limits::Budget;

pub struct Lz4;

impl Format for Lz4 {
    fn name(&self) -> &'static str {
        "lz4"
    }

    fn magics(&self) -> &'static [&'static [u8]] {
        &[&[0x04, 0x22, 0x4d, 0x18]]
    }

    fn extract(&self, data: &[u8], budget: &mut Budget) -> Result<Extracted, Rejection> {
        let (flg, bd) = match data.get(4..6) {
            Some(d) => (d[0], d[1]),
            None => return Err(Rejection::NotThisFormat),
        };
        // FLG: version 01, reserved bit 1 clear; BD: only bits 4-6 (block size 4..7).
        let block_size = (bd >> 4) & 7;
        if flg >> 6 != 1 || flg & 0x02 != 0 || bd & 0x8f != 0 || block_size < 4 {
            return Err(Rejection::NotThisFormat);
        }
        let decoded = compress::decode(Codec::Lz4Frame, data, budget);
        stream_entry(self.name(), "data".to_string(), decoded, budget)
    }
}

pub struct Lz4Legacy;

impl Format for Lz4Legacy {
    fn name(&self) -> &'static str {
        "lz4-legacy"
    }

    fn magics(&self) -> &'static [&'static [u8]] {
        &[&compress::LZ4_LEGACY_MAGIC]
    }

    /// Cheap first: the first chunk length must fit a block, and the data.
    fn extract(&self, data: &[u8], budget: &mut Budget) -> Result<Extracted, Rejection> {
        let len = super::le32(data, 4).ok_or(Rejection::NotThisFormat)? as usize;
        if len == 0 || len > compress::LZ4_LEGACY_BOUND {
            return Err(Rejection::NotThisFormat);
        }
        if len > data.len() - 8 {
            return Err(Rejection::Corrupt(format!(
                "truncated: the first block needs {len} bytes, {} present",
                data.len() - 8
            )));
        }
        let decoded = compress::decode(Codec::Lz4Legacy, data, budget);
        stream_entry(self.name(), "data".to_string(), decoded, budget)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unpack::limits::Limits;

    /// `lz4 -9` of tests/fixtures/text.txt.
    const FIXTURE: &[u8] = include_bytes!("../../../tests/fixtures/text.lz4");
    const TEXT: &[u8] = include_bytes!("../../../tests/fixtures/text.txt");

    #[test]
    fn decodes_real_lz4_output_and_its_size() {
        let mut data = FIXTURE.to_vec();
        data.extend_from_slice(&[0x55u8; 40]);
        let out = Lz4
            .extract(&data, &mut Budget::new(Limits::default()))
            .unwrap();
        assert_eq!(out.size, FIXTURE.len() as u64);
        assert_eq!(out.entries[0].data, TEXT);
    }

    #[test]
    fn bad_descriptor_is_not_lz4() {
        let mut data = FIXTURE.to_vec();
        data[4] = 0x80; // version 10
        assert_eq!(
            Lz4.extract(&data, &mut Budget::new(Limits::default()))
                .unwrap_err(),
            Rejection::NotThisFormat
        );
    }

    /// `lz4 -l -9` of tests/fixtures/text.txt, then the 4-byte size the kernel build appends.
    const LEGACY: &[u8] = include_bytes!("../../../tests/fixtures/text.lz4-legacy");

    #[test]
    fn decodes_real_lz4_legacy_output_and_stops_at_the_short_block() {
        let mut data = LEGACY.to_vec();
        data.extend_from_slice(&(TEXT.len() as u32).to_le_bytes());
        data.extend_from_slice(&[0x55u8; 40]);
        let out = Lz4Legacy
            .extract(&data, &mut Budget::new(Limits::default()))
            .unwrap();
        assert_eq!(out.size, LEGACY.len() as u64);
        assert_eq!(out.entries[0].data, TEXT);
        assert!(out.notes.is_empty(), "{:?}", out.notes);
    }

    #[test]
    fn legacy_blocks_of_8_mib_continue_and_a_bomb_is_capped() {
        // Two full blocks and a short one, written the way `lz4 -l` chunks.
        let mut stream = compress::LZ4_LEGACY_MAGIC.to_vec();
        let mut expect = Vec::new();
        for (i, len) in [8usize << 20, 8 << 20, 1000].into_iter().enumerate() {
            let block = vec![i as u8; len];
            let c = lz4_flex::block::compress(&block);
            stream.extend_from_slice(&(c.len() as u32).to_le_bytes());
            stream.extend_from_slice(&c);
            expect.extend_from_slice(&block);
        }
        let d = compress::lz4_legacy(&stream, 64 << 20);
        assert_eq!(d.data, expect);
        assert_eq!(d.consumed, stream.len());
        assert!(d.error.is_none() && !d.capped);
        // LZ4 cannot pass ~255:1, so only the file size bound stops a bomb.
        let limits = Limits {
            max_file_size: 4 << 20,
            ..Limits::default()
        };
        let out = Lz4Legacy
            .extract(&stream, &mut Budget::new(limits))
            .unwrap();
        assert!(
            matches!(&out.notes[..], [super::super::Problem::Limit(_)]),
            "{:?}",
            out.notes
        );
        assert_eq!(out.entries[0].data.len(), 4 << 20);
        // Cut inside the second block: an error after the first block's output.
        let cut = compress::lz4_legacy(&stream[..stream.len() / 2], 64 << 20);
        assert_eq!(cut.data.len(), 8 << 20);
        assert!(cut.error.is_some());
    }
}
