//! Zstandard frame (RFC 8878). The frame header descriptor's reserved bit
//! must be clear; the decoder then checks the rest.

use super::gzip::stream_entry;
use super::{Extracted, Format, Rejection};
use crate::unpack::compress::{self, Codec};
use crate::unpack::limits::Budget;

pub struct Zstd;

impl Format for Zstd {
    fn name(&self) -> &'static str {
        "zstd"
    }

    fn magics(&self) -> &'static [&'static [u8]] {
        &[&[0x28, 0xb5, 0x2f, 0xfd]]
    }

    fn extract(&self, data: &[u8], budget: &mut Budget) -> Result<Extracted, Rejection> {
        let descriptor = *data.get(4).ok_or(Rejection::NotThisFormat)?;
        if descriptor & 0x08 != 0 {
            return Err(Rejection::NotThisFormat);
        }
        let cap = budget.output_cap(data.len() as u64);
        if let Some(why) = compress::zstd_window_refusal(data, cap) {
            return Err(Rejection::Limit(why));
        }
        let decoded = compress::decode(Codec::Zstd, data, budget);
        stream_entry(self.name(), "data".to_string(), decoded, budget)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unpack::limits::Limits;

    /// `zstd -19` of tests/fixtures/text.txt.
    const FIXTURE: &[u8] = include_bytes!("../../../tests/fixtures/text.zst");
    const TEXT: &[u8] = include_bytes!("../../../tests/fixtures/text.txt");

    #[test]
    fn decodes_real_zstd_output_and_its_size() {
        let mut data = FIXTURE.to_vec();
        data.extend_from_slice(&[0u8; 40]);
        let out = Zstd
            .extract(&data, &mut Budget::new(Limits::default()))
            .unwrap();
        assert_eq!(out.size, FIXTURE.len() as u64);
        assert_eq!(out.entries[0].data, TEXT);
    }

    #[test]
    fn a_window_larger_than_the_output_allowed_is_refused_as_a_limit() {
        // 1 GiB window (exponent 20), from 40 bytes of input: cap 1 MiB.
        let mut data = vec![0x28, 0xb5, 0x2f, 0xfd, 0x00, 20 << 3];
        data.extend_from_slice(&[0u8; 34]);
        match Zstd.extract(&data, &mut Budget::new(Limits::default())) {
            Err(Rejection::Limit(why)) => assert!(why.contains("1073741824-byte window"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn truncated_frame_keeps_output_and_notes_it() {
        let out = Zstd
            .extract(
                &FIXTURE[..FIXTURE.len() - 8],
                &mut Budget::new(Limits::default()),
            )
            .map(|o| o.notes.len());
        // Either too little came out to be credible, or an error note.
        assert!(
            matches!(out, Ok(1) | Err(Rejection::NotThisFormat)),
            "{out:?}"
        );
    }
}
