//! bzip2 stream: `BZh` + block size digit, then the first block's magic (the
//! BCD digits of pi) or the end-of-stream magic (sqrt pi) of an empty stream.

use super::gzip::stream_entry;
use super::{Extracted, Format, Rejection};
use crate::unpack::compress::{self, Codec};
use crate::unpack::limits::Budget;

pub struct Bzip2;

const BLOCK_MAGIC: &[u8] = &[0x31, 0x41, 0x59, 0x26, 0x53, 0x59];
const END_MAGIC: &[u8] = &[0x17, 0x72, 0x45, 0x38, 0x50, 0x90];

impl Format for Bzip2 {
    fn name(&self) -> &'static str {
        "bzip2"
    }

    fn magics(&self) -> &'static [&'static [u8]] {
        &[
            b"BZh1", b"BZh2", b"BZh3", b"BZh4", b"BZh5", b"BZh6", b"BZh7", b"BZh8", b"BZh9",
        ]
    }

    fn extract(&self, data: &[u8], budget: &mut Budget) -> Result<Extracted, Rejection> {
        let next = data.get(4..10).ok_or(Rejection::NotThisFormat)?;
        if next != BLOCK_MAGIC && next != END_MAGIC {
            return Err(Rejection::NotThisFormat);
        }
        let decoded = compress::decode(Codec::Bzip2, data, budget);
        stream_entry(self.name(), "data".to_string(), decoded, budget)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unpack::limits::Limits;

    /// `bzip2 -9` of tests/fixtures/text.txt.
    const FIXTURE: &[u8] = include_bytes!("../../../tests/fixtures/text.bz2");
    const TEXT: &[u8] = include_bytes!("../../../tests/fixtures/text.txt");

    #[test]
    fn decodes_real_bzip2_output_and_its_size() {
        let mut data = FIXTURE.to_vec();
        data.extend_from_slice(b"trailing");
        let out = Bzip2
            .extract(&data, &mut Budget::new(Limits::default()))
            .unwrap();
        assert_eq!(out.size, FIXTURE.len() as u64);
        assert_eq!(out.entries[0].data, TEXT);
    }

    #[test]
    fn chance_magic_is_rejected() {
        assert_eq!(
            Bzip2
                .extract(b"BZh91AY&SX........", &mut Budget::new(Limits::default()))
                .unwrap_err(),
            Rejection::NotThisFormat
        );
    }
}
