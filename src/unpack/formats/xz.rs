//! `.xz` stream found at any offset. The stream header carries a CRC32 of its
//! flags, which rules out chance matches before any decoding.

use super::gzip::stream_entry;
use super::{Extracted, Format, Rejection};
use crate::unpack::compress::{self, Codec};
use crate::unpack::limits::Budget;

pub struct Xz;

impl Format for Xz {
    fn name(&self) -> &'static str {
        "xz"
    }

    fn magics(&self) -> &'static [&'static [u8]] {
        &[b"\xfd7zXZ\x00"]
    }

    fn extract(&self, data: &[u8], budget: &mut Budget) -> Result<Extracted, Rejection> {
        let header = data.get(..12).ok_or(Rejection::NotThisFormat)?;
        let stored = u32::from_le_bytes([header[8], header[9], header[10], header[11]]);
        if header[6] != 0 || crc32fast::hash(&header[6..8]) != stored {
            return Err(Rejection::NotThisFormat);
        }
        let decoded = compress::decode(Codec::Xz, data, budget);
        stream_entry(self.name(), "data".to_string(), decoded, budget)
    }
}
