//! LZ4 frame format (`lz4` tool, `04 22 4d 18`). The frame descriptor's
//! version and reserved bits are checked here; `lz4_flex` checks the header
//! checksum and the blocks.

use super::gzip::stream_entry;
use super::{Extracted, Format, Rejection};
use crate::unpack::compress;
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
        let decoded = compress::lz4_frame(data, budget.output_cap(data.len() as u64));
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
}
