//! The x86 branch-call-jump (BCJ) filter's decoder: E8/E9 (CALL/JMP rel32)
//! targets were made absolute before compression so that repeated calls
//! compress better; decoding makes them relative again. This is the filter
//! of LZMA SDK (`Bra86.c`) and xz (`simple/x86.c`), which EDK II's
//! LZMA-F86 sections (`LzmaF86Compress`) and 7z's BCJ coder apply with the
//! stream starting at position 0. Checked against Python's `lzma` x86 filter.

/// Test for a byte that can be the high byte of a near call target.
fn ms_byte(b: u8) -> bool {
    b == 0 || b == 0xff
}

/// Decodes `buf` in place, as one stream starting at position 0.
pub fn x86_decode(buf: &mut [u8]) {
    const ALLOWED: [bool; 8] = [true, true, true, false, true, false, false, false];
    const BIT_NUMBER: [u32; 8] = [0, 1, 2, 2, 3, 3, 3, 3];
    if buf.len() < 5 {
        return;
    }
    let mut prev_mask: u32 = 0;
    let mut prev_pos: u32 = 0u32.wrapping_sub(5);
    let limit = buf.len() - 5;
    let mut pos = 0usize;
    while pos <= limit {
        let b = buf[pos];
        if b != 0xe8 && b != 0xe9 {
            pos += 1;
            continue;
        }
        let offset = (pos as u32).wrapping_sub(prev_pos);
        prev_pos = pos as u32;
        if offset > 5 {
            prev_mask = 0;
        } else {
            for _ in 0..offset {
                prev_mask &= 0x77;
                prev_mask <<= 1;
            }
        }
        let b = buf[pos + 4];
        if ms_byte(b) && ALLOWED[((prev_mask >> 1) & 7) as usize] && (prev_mask >> 1) < 0x10 {
            let mut src = u32::from_le_bytes([buf[pos + 1], buf[pos + 2], buf[pos + 3], b]);
            let mut dest;
            loop {
                dest = src.wrapping_sub((pos as u32).wrapping_add(5));
                if prev_mask == 0 {
                    break;
                }
                let i = BIT_NUMBER[(prev_mask >> 1) as usize & 7];
                let b = (dest >> (24 - i * 8)) as u8;
                if !ms_byte(b) {
                    break;
                }
                src = dest ^ ((1u32 << (32 - i * 8)) - 1);
            }
            buf[pos + 4] = !(((dest >> 24) & 1).wrapping_sub(1)) as u8;
            buf[pos + 3] = (dest >> 16) as u8;
            buf[pos + 2] = (dest >> 8) as u8;
            buf[pos + 1] = dest as u8;
            pos += 5;
            prev_mask = 0;
        } else {
            pos += 1;
            prev_mask |= 1;
            if ms_byte(b) {
                prev_mask |= 0x10;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `tests/fixtures/bcj/text.x86` is a real x86-64 `.text` run through
    /// Python's `lzma` x86 filter (see bcj/make.py); decoding gives the
    /// original back.
    #[test]
    fn decodes_what_liblzma_encoded() {
        let encoded = include_bytes!("../../tests/fixtures/bcj/text.x86");
        let original = include_bytes!("../../tests/fixtures/bcj/text.orig");
        assert_ne!(&encoded[..], &original[..]);
        let mut buf = encoded.to_vec();
        x86_decode(&mut buf);
        assert_eq!(&buf[..], &original[..]);
    }
}
