//! Arcadyan's obfuscated firmware (routers sold under many ISP brands), as
//! binwalk's Arcadyan deobfuscator reads it: 4 header bytes, then an
//! LZMA-alone stream whose 32 bytes at 4 and 32 bytes at 0x68 trade places,
//! the block moved to 0x68 with each byte's nibbles and each byte pair
//! swapped. The LZMA header `5d 00 00 80 00` (8 MiB dictionary) so reads
//! `00 d5 08 00` at 0x68: the magic. The scheme is public, so the layer (of
//! kind `encrypted`, like the other vendor wrappers) is opened: the
//! decompressed firmware becomes `firmware.bin`.
//!
//! Bounds: the copy that undoes the swaps is reserved from the budget while
//! it is decoded; the stream decodes under the budget like any LZMA stream,
//! and must have a sane LZMA header and decode to something credible, else
//! the magic was chance.

use super::gzip::stream_entry;
use super::lzma::header_is_sane;
use super::{Extracted, Format, Rejection};
use crate::unpack::compress::{self, Codec};
use crate::unpack::limits::Budget;

pub struct Arcadyan;

const HEADER: usize = 4;
const BLOCK: usize = 32;
const SECOND: usize = 0x68;
/// Bytes the swaps touch.
const SWAPPED: usize = SECOND + BLOCK;

/// Nibble swap of every byte, then swap of every byte pair (its own inverse).
fn unscramble(block: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = block.iter().map(|b| b.rotate_left(4)).collect();
    for pair in out.chunks_exact_mut(2) {
        pair.swap(0, 1);
    }
    out
}

/// The deobfuscated image: the two blocks back in place, the first unscrambled.
fn deobfuscate(data: &[u8]) -> Vec<u8> {
    let mut out = data.to_vec();
    out[HEADER..HEADER + BLOCK].copy_from_slice(&unscramble(&data[SECOND..SWAPPED]));
    out[SECOND..SWAPPED].copy_from_slice(&data[HEADER..HEADER + BLOCK]);
    out
}

impl Format for Arcadyan {
    fn name(&self) -> &'static str {
        "encrypted"
    }

    fn magics(&self) -> &'static [&'static [u8]] {
        &[&[0x00, 0xd5, 0x08, 0x00]]
    }

    fn magic_offset(&self) -> usize {
        SECOND
    }

    fn extract(&self, data: &[u8], budget: &mut Budget) -> Result<Extracted, Rejection> {
        if data.len() < SWAPPED {
            return Err(Rejection::NotThisFormat);
        }
        let copy = budget
            .reserve(data.len() as u64)
            .map_err(|bound| Rejection::Limit(format!("Arcadyan: {bound}")))?;
        let plain = deobfuscate(data);
        if !header_is_sane(&plain[HEADER..]) {
            return Err(Rejection::NotThisFormat);
        }
        let decoded = compress::decode(Codec::LzmaAlone, &plain[HEADER..], budget);
        drop(plain);
        drop(copy);
        let mut out = stream_entry("Arcadyan LZMA", "firmware.bin".into(), decoded, budget)?;
        out.size += HEADER as u64;
        let header: String = data[..HEADER].iter().map(|b| format!("{b:02x}")).collect();
        out.detail = Some(format!(
            "Arcadyan obfuscated firmware (block swap, nibble and byte swap), header {header}, \
             deobfuscated; LZMA, {} bytes",
            out.entries.first().map_or(0, |e| e.data.len())
        ));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unpack::formats::{Problem, listing};
    use crate::unpack::limits::Limits;

    /// tests/fixtures/arcadyan.py: the obfuscation applied to `xz
    /// --format=lzma` output of tree.newc.cpio.
    const IMAGE: &[u8] = include_bytes!("../../../tests/fixtures/arcadyan.bin");
    const CPIO: &[u8] = include_bytes!("../../../tests/fixtures/tree.newc.cpio");

    fn read(data: &[u8]) -> Result<Extracted, Rejection> {
        Arcadyan.extract(data, &mut Budget::new(Limits::default()))
    }

    #[test]
    fn deobfuscates_and_decodes_the_firmware() {
        let out = read(IMAGE).unwrap();
        assert!(out.notes.is_empty(), "{:?}", out.notes);
        assert_eq!(listing(&out), [format!("firmware.bin {}", CPIO.len())]);
        assert_eq!(out.entries[0].data, CPIO);
        assert_eq!(out.size as usize, IMAGE.len());
        assert_eq!(
            out.detail.as_deref(),
            Some(
                "Arcadyan obfuscated firmware (block swap, nibble and byte swap), header 41524331, \
                 deobfuscated; LZMA, 1024 bytes"
            )
        );
        // The scramble is its own inverse, so obfuscating twice is identity.
        let block: Vec<u8> = (0..32).collect();
        assert_eq!(unscramble(&unscramble(&block)), block);
    }

    #[test]
    fn chance_magic_is_silent_and_damage_never_panics() {
        let mut chance = vec![0x11u8; 0x200];
        chance[SECOND..SECOND + 4].copy_from_slice(&[0x00, 0xd5, 0x08, 0x00]);
        assert_eq!(read(&chance).unwrap_err(), Rejection::NotThisFormat);
        for cut in 0..IMAGE.len() {
            if let Ok(out) = read(&IMAGE[..cut]) {
                assert!(
                    out.notes.iter().any(|p| matches!(p, Problem::Error(_))),
                    "cut {cut}"
                );
            }
        }
        let mut data = IMAGE.to_vec();
        for at in 0..data.len() {
            data[at] ^= 0x40;
            let _ = read(&data);
            data[at] ^= 0x40;
        }
    }
}
