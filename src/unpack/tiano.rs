//! The UEFI ("EFI") and Tiano compression formats: LZ77 with Huffman-coded
//! blocks (LZH), as the UEFI specification's appendix H describes and EDK II's
//! `Decompress.c` implements. Both start with the compressed and the
//! original size (little-endian u32 each); they differ only in how many bits
//! code a match position's length class (EFI 4, Tiano 5), which widens
//! Tiano's window from 8 KiB to 512 KiB. UEFI firmware volumes use them in
//! compression sections and in PCI option ROMs (`EfiRom -ec`).
//!
//! Every table index and copy is checked: a hostile stream ends in an
//! error, never a panic, and the output stops at the cap the caller gives.

use super::compress::Decoded;
use super::limits::Budget;

/// Which of the two variants to decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// UEFI specification compression (`EfiCompress`, PBIT 4).
    Efi,
    /// Tiano compression (`TianoCompress`, PBIT 5).
    Tiano,
}

const BITBUFSIZ: u32 = 32;
const MAXMATCH: u32 = 256;
const THRESHOLD: u32 = 3;
const CODE_BIT: usize = 16;
/// Literal and length codes.
const NC: usize = 0xff + MAXMATCH as usize + 2 - THRESHOLD as usize;
const CBIT: u32 = 9;
const MAXPBIT: u32 = 5;
const TBIT: u32 = 5;
/// Position codes.
const MAXNP: usize = (1 << MAXPBIT) - 1;
/// Code-length codes.
const NT: usize = CODE_BIT + 3;
const NPT: usize = if NT > MAXNP { NT } else { MAXNP };
/// Size of the left/right child arrays: inner nodes are numbered from the
/// symbol count up to this.
const TREE: usize = 2 * NC - 1;

/// The compressed and original sizes at the start of a stream.
pub fn sizes(input: &[u8]) -> Option<(u32, u32)> {
    let h = input.get(..8)?;
    Some((
        u32::from_le_bytes([h[0], h[1], h[2], h[3]]),
        u32::from_le_bytes([h[4], h[5], h[6], h[7]]),
    ))
}

struct Decoder<'a> {
    src: &'a [u8],
    in_pos: usize,
    /// Compressed bytes not yet read into the bit buffer.
    comp_left: usize,
    /// Zero bytes fed after the input ran out (more than the bit buffer's
    /// four means the stream was cut short).
    overrun: usize,
    bit_buf: u32,
    sub_bit_buf: u32,
    bit_count: u32,
    pbit: u32,
    block_size: u32,
    left: Vec<u16>,
    right: Vec<u16>,
    c_len: [u8; NC],
    pt_len: [u8; NPT],
    c_table: Vec<u16>,
    pt_table: [u16; 256],
}

impl Decoder<'_> {
    fn fill_buf(&mut self, mut n: u32) {
        // Shifting a u32 by 32 is an overflow in Rust: n is at most 32.
        self.bit_buf = if n >= 32 { 0 } else { self.bit_buf << n };
        while n > self.bit_count {
            n -= self.bit_count;
            self.bit_buf |= if n >= 32 { 0 } else { self.sub_bit_buf << n };
            if self.comp_left > 0 {
                self.comp_left -= 1;
                self.sub_bit_buf = u32::from(self.src.get(self.in_pos).copied().unwrap_or(0));
                self.in_pos += 1;
            } else {
                self.sub_bit_buf = 0;
                self.overrun += 1;
            }
            self.bit_count = 8;
        }
        self.bit_count -= n;
        self.bit_buf |= self.sub_bit_buf >> self.bit_count;
    }

    fn get_bits(&mut self, n: u32) -> u32 {
        let out = if n == 0 {
            0
        } else {
            self.bit_buf >> (BITBUFSIZ - n)
        };
        self.fill_buf(n);
        out
    }

    /// Builds a decoding table (`Decompress.c` `MakeTable`): codes up to
    /// `table_bits` long index `table` directly, longer ones continue in the
    /// `left`/`right` tree.
    fn make_table(
        &mut self,
        num_of_char: usize,
        bit_len: &[u8],
        table_bits: u32,
        which: Table,
    ) -> Result<(), String> {
        let mut count = [0u32; 17];
        for &len in &bit_len[..num_of_char] {
            if len > 16 {
                return Err(format!("code length {len} exceeds 16"));
            }
            count[len as usize] += 1;
        }
        let mut start = [0u32; 18];
        for i in 1..=16 {
            start[i + 1] = start[i] + (count[i] << (16 - i));
        }
        if start[17] != 1 << 16 {
            return Err("Huffman code lengths do not form a complete code".into());
        }
        let ju_bits = 16 - table_bits;
        let mut weight = [0u32; 17];
        for i in 1..=table_bits as usize {
            start[i] >>= ju_bits;
            weight[i] = 1 << (table_bits as usize - i);
        }
        for (i, w) in weight.iter_mut().enumerate().skip(table_bits as usize + 1) {
            *w = 1 << (16 - i);
        }
        let size = 1usize << table_bits;
        let index = (start[table_bits as usize + 1] >> ju_bits) as usize;
        if index != 0 {
            for slot in index..size {
                self.table(which)[slot] = 0;
            }
        }
        let mut avail = num_of_char;
        let mask = 1u32 << (15 - table_bits);
        for (ch, &len) in bit_len[..num_of_char].iter().enumerate() {
            let len = len as usize;
            if len == 0 {
                continue;
            }
            let next_code = start[len] + weight[len];
            if len <= table_bits as usize {
                for slot in start[len]..next_code {
                    let slot = slot as usize;
                    if slot >= size {
                        return Err("Huffman table overflows".into());
                    }
                    self.table(which)[slot] = ch as u16;
                }
            } else {
                let mut index3 = start[len];
                // Where the current pointer lives: the table or a tree node.
                let mut at = Slot::Table((index3 >> ju_bits) as usize);
                for _ in 0..len - table_bits as usize {
                    let value = self.read_slot(which, at, size)?;
                    let node = if value == 0 && avail < TREE {
                        self.right[avail] = 0;
                        self.left[avail] = 0;
                        self.write_slot(which, at, avail as u16, size)?;
                        avail += 1;
                        avail - 1
                    } else {
                        value as usize
                    };
                    if node < TREE {
                        at = if index3 & mask != 0 {
                            Slot::Right(node)
                        } else {
                            Slot::Left(node)
                        };
                    }
                    index3 <<= 1;
                }
                self.write_slot(which, at, ch as u16, size)?;
            }
            start[len] = next_code;
        }
        Ok(())
    }

    fn table(&mut self, which: Table) -> &mut [u16] {
        match which {
            Table::C => &mut self.c_table,
            Table::Pt => &mut self.pt_table,
        }
    }

    fn read_slot(&mut self, which: Table, at: Slot, size: usize) -> Result<u16, String> {
        match at {
            Slot::Table(i) if i < size => Ok(self.table(which)[i]),
            Slot::Left(i) if i < TREE => Ok(self.left[i]),
            Slot::Right(i) if i < TREE => Ok(self.right[i]),
            _ => Err("Huffman table index out of range".into()),
        }
    }

    fn write_slot(&mut self, which: Table, at: Slot, v: u16, size: usize) -> Result<(), String> {
        match at {
            Slot::Table(i) if i < size => self.table(which)[i] = v,
            Slot::Left(i) if i < TREE => self.left[i] = v,
            Slot::Right(i) if i < TREE => self.right[i] = v,
            _ => return Err("Huffman table index out of range".into()),
        }
        Ok(())
    }

    /// Follows the tree from `node` while it names an inner node (`>= symbols`).
    fn walk(&self, mut node: usize, symbols: usize, table_bits: u32) -> Result<usize, String> {
        let mut mask = 1u32 << (BITBUFSIZ - 1 - table_bits);
        while node >= symbols {
            if node >= TREE || mask == 0 {
                return Err("Huffman code runs off the tree".into());
            }
            node = if self.bit_buf & mask != 0 {
                self.right[node]
            } else {
                self.left[node]
            } as usize;
            mask >>= 1;
        }
        Ok(node)
    }

    fn read_pt_len(&mut self, nn: usize, nbit: u32, special: Option<usize>) -> Result<(), String> {
        let number = self.get_bits(nbit) as usize;
        if number == 0 {
            let c = self.get_bits(nbit) as u16;
            self.pt_table.fill(c);
            self.pt_len[..nn].fill(0);
            return Ok(());
        }
        if number > nn {
            return Err(format!("{number} code lengths where at most {nn} exist"));
        }
        let mut index = 0;
        while index < number && index < NPT {
            let mut c = self.bit_buf >> (BITBUFSIZ - 3);
            if c == 7 {
                let mut mask = 1u32 << (BITBUFSIZ - 1 - 3);
                while mask & self.bit_buf != 0 {
                    mask >>= 1;
                    c += 1;
                }
                if c > 16 {
                    return Err(format!("code length {c} exceeds 16"));
                }
            }
            self.fill_buf(if c < 7 { 3 } else { c - 3 });
            self.pt_len[index] = c as u8;
            index += 1;
            if Some(index) == special {
                let zeros = self.get_bits(2) as usize;
                for _ in 0..zeros {
                    if index >= NPT {
                        break;
                    }
                    self.pt_len[index] = 0;
                    index += 1;
                }
            }
        }
        while index < nn && index < NPT {
            self.pt_len[index] = 0;
            index += 1;
        }
        let lens = self.pt_len;
        self.make_table(nn, &lens, 8, Table::Pt)
    }

    fn read_c_len(&mut self) -> Result<(), String> {
        let number = self.get_bits(CBIT) as usize;
        if number == 0 {
            let c = self.get_bits(CBIT) as u16;
            self.c_len.fill(0);
            self.c_table.fill(c);
            return Ok(());
        }
        let mut index = 0;
        while index < number && index < NC {
            let first = self.pt_table[(self.bit_buf >> (BITBUFSIZ - 8)) as usize] as usize;
            let c = self.walk(first, NT, 8)?;
            let len = *self
                .pt_len
                .get(c)
                .ok_or("code length symbol out of range")?;
            self.fill_buf(u32::from(len));
            if c <= 2 {
                let zeros = match c {
                    0 => 1,
                    1 => self.get_bits(4) as usize + 3,
                    _ => self.get_bits(CBIT) as usize + 20,
                };
                for _ in 0..zeros {
                    if index >= NC {
                        break;
                    }
                    self.c_len[index] = 0;
                    index += 1;
                }
            } else {
                self.c_len[index] = (c - 2) as u8;
                index += 1;
            }
        }
        self.c_len[index..].fill(0);
        let lens = self.c_len;
        self.make_table(NC, &lens, 12, Table::C)
    }

    fn decode_c(&mut self) -> Result<usize, String> {
        if self.block_size == 0 {
            self.block_size = self.get_bits(16);
            self.read_pt_len(NT, TBIT, Some(3))?;
            self.read_c_len()?;
            self.read_pt_len(MAXNP, self.pbit, None)?;
        }
        self.block_size = self.block_size.wrapping_sub(1);
        let first = self.c_table[(self.bit_buf >> (BITBUFSIZ - 12)) as usize] as usize;
        let c = self.walk(first, NC, 12)?;
        let len = *self.c_len.get(c).ok_or("literal symbol out of range")?;
        self.fill_buf(u32::from(len));
        Ok(c)
    }

    fn decode_p(&mut self) -> Result<u32, String> {
        let first = self.pt_table[(self.bit_buf >> (BITBUFSIZ - 8)) as usize] as usize;
        let v = self.walk(first, MAXNP, 8)?;
        let len = *self.pt_len.get(v).ok_or("position symbol out of range")?;
        self.fill_buf(u32::from(len));
        Ok(if v > 1 {
            (1u32 << (v - 1)) + self.get_bits(v as u32 - 1)
        } else {
            v as u32
        })
    }
}

#[derive(Clone, Copy)]
enum Table {
    C,
    Pt,
}

#[derive(Clone, Copy)]
enum Slot {
    Table(usize),
    Left(usize),
    Right(usize),
}

/// [`decompress`] under `budget`: the output the header declares (at most
/// the budget's cap) is reserved before anything is allocated; keep the
/// result with [`Decoded::keep`].
pub fn decode(input: &[u8], variant: Variant, budget: &Budget) -> Decoded {
    let cap = budget.output_cap(input.len() as u64);
    let want = sizes(input).map_or(0, |(_, orig)| u64::from(orig).min(cap));
    let reservation = match budget.reserve(want) {
        Ok(r) => r,
        Err(bound) => return Decoded::starved(bound),
    };
    let d = decompress(input, variant, cap);
    Decoded::new(d.data, d.consumed, d.error, d.capped, Some(reservation))
}

/// Decodes one stream (sizes header included), stopping at `cap` output
/// bytes. `consumed` is the header plus the compressed size it declares.
pub fn decompress(input: &[u8], variant: Variant, cap: u64) -> Decoded {
    let fail = |error: String| Decoded::new(Vec::new(), 0, Some(error), false, None);
    let Some((comp_size, orig_size)) = sizes(input) else {
        return fail("header is truncated".into());
    };
    let body = &input[8..];
    if comp_size as usize > body.len() {
        return fail(format!(
            "stream declares {comp_size} compressed bytes, only {} present",
            body.len()
        ));
    }
    let want = u64::from(orig_size).min(cap) as usize;
    let mut d = Decoder {
        src: body,
        in_pos: 0,
        comp_left: comp_size as usize,
        overrun: 0,
        bit_buf: 0,
        sub_bit_buf: 0,
        bit_count: 0,
        pbit: match variant {
            Variant::Efi => 4,
            Variant::Tiano => 5,
        },
        block_size: 0,
        left: vec![0; TREE],
        right: vec![0; TREE],
        c_len: [0; NC],
        pt_len: [0; NPT],
        c_table: vec![0; 4096],
        pt_table: [0; 256],
    };
    d.fill_buf(BITBUFSIZ);
    let mut out: Vec<u8> = Vec::with_capacity(want.min(1 << 20));
    let mut error = None;
    while out.len() < want {
        // Past the compressed data only zeros feed the bit buffer, and
        // zeros decode to output for ever: once more than the buffer's own
        // look-ahead (4 bytes) has been made up, the stream was cut short,
        // and decoding stops there instead of at the size it declares.
        if d.overrun > 4 {
            break;
        }
        let c = match d.decode_c() {
            Ok(c) => c,
            Err(e) => {
                error = Some(e);
                break;
            }
        };
        if c < 256 {
            out.push(c as u8);
            continue;
        }
        let len = c - (256 - THRESHOLD as usize);
        let back = match d.decode_p() {
            Ok(p) => p as usize + 1,
            Err(e) => {
                error = Some(e);
                break;
            }
        };
        let Some(from) = out.len().checked_sub(back) else {
            error = Some(format!(
                "match at output byte {} reaches {back} bytes back, before the start",
                out.len()
            ));
            break;
        };
        for i in 0..len.min(want - out.len()) {
            let b = out[from + i];
            out.push(b);
        }
    }
    if error.is_none() && d.overrun > 4 {
        error = Some(format!(
            "compressed data ends before the {orig_size} bytes it declares were decoded"
        ));
    }
    let capped = error.is_none() && (want as u64) < u64::from(orig_size);
    Decoded::new(out, 8 + comp_size as usize, error, capped, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    /// EDK II's `EfiCompress` of text.txt and `TianoCompress` of 53,872
    /// bytes with repeats 12 KiB and more back (make.sh, PyPI uefi_firmware).
    const TEXT_EFI: &[u8] = include_bytes!("../../tests/fixtures/text.efi");
    const MIXED_TIANO: &[u8] = include_bytes!("../../tests/fixtures/mixed.tiano");
    const TEXT: &[u8] = include_bytes!("../../tests/fixtures/text.txt");

    /// Found by the fuzzer (fuzz/RESULTS.md: 33 exec/s, units of 10 s): a
    /// stream declaring more output than its data holds went on decoding
    /// the zeros past its end up to the declared size (the cap), so the
    /// time followed the claim, not the input. It now stops a few bytes
    /// past the data, with the error it always had.
    #[test]
    fn a_stream_cut_short_stops_where_its_data_ends() {
        let mut claims = TEXT_EFI.to_vec();
        claims[4..8].copy_from_slice(&(16u32 << 20).to_le_bytes());
        let d = decompress(&claims, Variant::Efi, 16 << 20);
        assert!(d.error.is_some());
        assert_eq!(&d.data[..TEXT.len()], TEXT);
        assert!(d.data.len() < TEXT.len() + 4096, "{}", d.data.len());
    }

    #[test]
    fn decodes_edk2_efi_and_tiano_streams() {
        let d = decompress(TEXT_EFI, Variant::Efi, 1 << 20);
        assert_eq!(d.error, None);
        assert_eq!(d.data, TEXT);
        assert_eq!(d.consumed, TEXT_EFI.len());
        let d = decompress(MIXED_TIANO, Variant::Tiano, 1 << 20);
        assert_eq!(d.error, None);
        assert_eq!(d.data.len(), 53_872);
        // The SHA-256 of EDK II's own `TianoDecompress` output.
        assert_eq!(
            hex::encode(Sha256::digest(&d.data)),
            "117657687c3ff9e3840c69e9c1fa43dfa212e0c1e3e5fcaa1b996c5bec31812d"
        );
        // The other variant's position codes do not fit: an error, as in EDK II.
        assert!(
            decompress(MIXED_TIANO, Variant::Efi, 1 << 20)
                .error
                .is_some()
        );
    }

    #[test]
    fn output_stops_at_the_cap() {
        let d = decompress(MIXED_TIANO, Variant::Tiano, 1000);
        assert!(d.capped && d.error.is_none());
        assert_eq!(d.data.len(), 1000);
    }

    #[test]
    fn truncation_and_bit_flips_are_errors_or_bounded_output_never_a_panic() {
        for stream in [TEXT_EFI, MIXED_TIANO] {
            for cut in (0..stream.len()).step_by(7) {
                let d = decompress(&stream[..cut], Variant::Tiano, 1 << 20);
                assert!(d.error.is_some(), "cut {cut}");
            }
            let mut flipped = stream.to_vec();
            // Every byte of the short stream, every 97th of the long one
            // (each decode of it is 53 KB in a debug build).
            let step = if stream.len() > 1000 { 97 } else { 1 };
            for at in (8..stream.len()).step_by(step) {
                for bit in [0x01, 0x80] {
                    flipped[at] ^= bit;
                    for variant in [Variant::Efi, Variant::Tiano] {
                        let d = decompress(&flipped, variant, 1 << 20);
                        assert!(d.data.len() <= 53_872);
                    }
                    flipped[at] ^= bit;
                }
            }
        }
        // A header that declares more compressed bytes than present.
        let mut lying = TEXT_EFI.to_vec();
        lying[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decompress(&lying, Variant::Efi, 1 << 20).error.is_some());
    }
}
