//! lzop files (`.lzo`, as kernels and vendor update tools write them): a
//! 9-byte magic, a header naming the method, flags and the original file
//! name with an Adler-32 (or CRC-32) of its own, then blocks of LZO1X data,
//! each with its sizes and optional checksums of the output and input;
//! a zero length ends the file. Layout from lzop's `lzop.c` (1.04).
//!
//! Bounds: a block may declare at most [`MAX_BLOCK`] bytes of output, drawn
//! from the budget before it is allocated; checksums are verified.

use super::{Entry, Extracted, Format, Problem, Rejection, be16, be32};
use crate::unpack::limits::Budget;
use crate::unpack::tree::EntryKind;

pub struct Lzop;

const MAGIC: &[u8] = b"\x89LZO\x00\x0d\x0a\x1a\x0a";
/// lzop's own bound on a block (`MAX_BLOCK_SIZE`, 64 MiB).
const MAX_BLOCK: u32 = 64 << 20;

const ADLER32_D: u32 = 0x1;
const ADLER32_C: u32 = 0x2;
const EXTRA_FIELD: u32 = 0x40;
const CRC32_D: u32 = 0x100;
const CRC32_C: u32 = 0x200;
const FILTER: u32 = 0x800;
const H_CRC32: u32 = 0x1000;

/// Adler-32 (RFC 1950) as lzop uses it.
fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in data.chunks(5552) {
        for &x in chunk {
            a += u32::from(x);
            b += a;
        }
        a %= 65521;
        b %= 65521;
    }
    b << 16 | a
}

struct Header {
    method: u8,
    flags: u32,
    name: String,
    len: usize,
}

/// The header after the magic; `Err` when its checksum does not match.
fn header(data: &[u8]) -> Option<Result<Header, String>> {
    let mut at = MAGIC.len();
    let version = be16(data, at)?;
    at += 4; // version, library version
    if version >= 0x0940 {
        at += 2; // version needed to extract
    }
    let method = *data.get(at)?;
    at += 1;
    if version >= 0x0940 {
        at += 1; // level
    }
    let flags = be32(data, at)?;
    at += 4;
    if flags & FILTER != 0 {
        at += 4;
    }
    at += 8; // mode, mtime low
    if version >= 0x0940 {
        at += 4; // mtime high
    }
    let name_len = usize::from(*data.get(at)?);
    let name = data.get(at + 1..at + 1 + name_len)?;
    at += 1 + name_len;
    if !(0x0900..0x2000).contains(&version) || !(1..=3).contains(&method) {
        return None;
    }
    let stored = be32(data, at)?;
    let covered = &data[MAGIC.len()..at];
    let sum = if flags & H_CRC32 != 0 {
        crc32fast::hash(covered)
    } else {
        adler32(covered)
    };
    at += 4;
    if flags & EXTRA_FIELD != 0 {
        let extra = be32(data, at)? as usize;
        at = at.checked_add(4 + extra + 4)?;
    }
    if sum != stored {
        return Some(Err(format!(
            "header checksum {stored:#010x} does not match {sum:#010x}"
        )));
    }
    let name = String::from_utf8_lossy(name)
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    Some(Ok(Header {
        method,
        flags,
        name,
        len: at,
    }))
}

impl Format for Lzop {
    fn name(&self) -> &'static str {
        "lzop"
    }

    fn magics(&self) -> &'static [&'static [u8]] {
        &[MAGIC]
    }

    fn extract(&self, data: &[u8], budget: &mut Budget) -> Result<Extracted, Rejection> {
        let h = match header(data) {
            None => return Err(Rejection::NotThisFormat),
            Some(Err(e)) => return Err(Rejection::Corrupt(format!("lzop: {e}"))),
            Some(Ok(h)) => h,
        };
        let mut out = Extracted::default();
        let mut file: Vec<u8> = Vec::new();
        let mut at = h.len;
        let mut ended = false;
        while let Some(dst_len) = be32(data, at) {
            if dst_len == 0 {
                at += 4;
                ended = true;
                break;
            }
            let Some(src_len) = be32(data, at + 4) else {
                break;
            };
            let mut p = at + 8;
            let mut want_d = None;
            if h.flags & ADLER32_D != 0 {
                want_d = be32(data, p).map(|s| (s, false));
                p += 4;
            }
            if h.flags & CRC32_D != 0 {
                want_d = be32(data, p).map(|s| (s, true));
                p += 4;
            }
            let compressed = src_len < dst_len;
            if compressed && h.flags & (ADLER32_C | CRC32_C) != 0 {
                p += 4;
            }
            if dst_len > MAX_BLOCK || src_len > dst_len {
                out.notes.push(Problem::Error(format!(
                    "lzop: block at {at:#x} declares {src_len} bytes in, {dst_len} out; reading stops"
                )));
                break;
            }
            let Some(src) = data.get(p..p + src_len as usize) else {
                out.notes.push(Problem::Error(format!(
                    "lzop: block at {at:#x} needs {src_len} bytes, {} present; file truncated",
                    data.len().saturating_sub(p)
                )));
                break;
            };
            let n = u64::from(dst_len);
            let bound = if file.len() as u64 + n > budget.limits.max_file_size {
                Err(crate::unpack::limits::Exceeded::FileSize(
                    budget.limits.max_file_size,
                ))
            } else {
                budget.charge(n)
            };
            if let Err(bound) = bound {
                out.notes.push(Problem::Limit(format!(
                    "lzop: output past {} bytes reaches {bound}; stopped",
                    file.len()
                )));
                break;
            }
            let start = file.len();
            if compressed {
                file.resize(start + dst_len as usize, 0);
                match lzokay::decompress::decompress(src, &mut file[start..]) {
                    Ok(got) if got == dst_len as usize => {}
                    Ok(got) => {
                        out.notes.push(Problem::Error(format!(
                            "lzop: block at {at:#x} decodes to {got} bytes, not {dst_len}"
                        )));
                        file.truncate(start + got);
                        break;
                    }
                    Err(e) => {
                        out.notes.push(Problem::Error(format!(
                            "lzop: block at {at:#x} is corrupt: {e:?}"
                        )));
                        file.truncate(start);
                        break;
                    }
                }
            } else {
                file.extend_from_slice(src);
            }
            if let Some((sum, crc)) = want_d {
                let block = &file[start..];
                let got = if crc {
                    crc32fast::hash(block)
                } else {
                    adler32(block)
                };
                if got != sum {
                    out.notes.push(Problem::Error(format!(
                        "lzop: block at {at:#x}: output checksum {got:#010x} does not match {sum:#010x}"
                    )));
                }
            }
            at = p + src_len as usize;
        }
        if !ended && out.notes.is_empty() {
            out.notes.push(Problem::Error(format!(
                "lzop: file ends at {:#x} without its end marker",
                data.len()
            )));
        }
        out.size = at.min(data.len()) as u64;
        let method = ["", "LZO1X-1", "LZO1X-1(15)", "LZO1X-999"][usize::from(h.method)];
        out.detail = Some(format!("lzop, {method}"));
        out.entries.push(Entry {
            path: if h.name.is_empty() || h.name == "." || h.name == ".." {
                "data".into()
            } else {
                h.name
            },
            kind: EntryKind::File,
            data: file,
            meta: None,
        });
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unpack::limits::Limits;

    /// `lzop -9` of text.txt, `lzop -1 --crc32` of 300 KiB (two blocks),
    /// and `lzop` of 2 KiB of random bytes (one stored block) (make.sh).
    const TEXT_LZO: &[u8] = include_bytes!("../../../tests/fixtures/text.txt.lzo");
    const BIG_LZO: &[u8] = include_bytes!("../../../tests/fixtures/blocks.bin.lzo");
    const RANDOM_LZO: &[u8] = include_bytes!("../../../tests/fixtures/random.bin.lzo");
    const TEXT: &[u8] = include_bytes!("../../../tests/fixtures/text.txt");

    fn read(data: &[u8]) -> Result<Extracted, Rejection> {
        Lzop.extract(data, &mut Budget::new(Limits::default()))
    }

    #[test]
    fn real_lzop_output_decodes_with_its_checksums() {
        let out = read(TEXT_LZO).unwrap();
        assert!(out.notes.is_empty(), "{:?}", out.notes);
        assert_eq!(out.size as usize, TEXT_LZO.len());
        assert_eq!(out.entries[0].path, "text.txt");
        assert_eq!(out.entries[0].data, TEXT);
        assert_eq!(out.detail.as_deref(), Some("lzop, LZO1X-999"));
        let out = read(BIG_LZO).unwrap();
        assert!(out.notes.is_empty(), "{:?}", out.notes);
        assert_eq!(out.entries[0].path, "blocks.bin");
        assert_eq!(out.entries[0].data.len(), 300 << 10);
        assert!(out.entries[0].data.starts_with(TEXT));
        assert_eq!(out.detail.as_deref(), Some("lzop, LZO1X-1(15)"));
        let out = read(RANDOM_LZO).unwrap();
        assert!(out.notes.is_empty(), "{:?}", out.notes);
        assert_eq!(out.entries[0].data.len(), 2048);
        assert_eq!(out.size as usize, RANDOM_LZO.len());
    }

    #[test]
    fn truncation_and_flips_are_notes_never_a_panic() {
        for cut in 0..TEXT_LZO.len() {
            match read(&TEXT_LZO[..cut]) {
                Ok(out) => assert!(!out.notes.is_empty(), "cut {cut}"),
                Err(_) => assert!(cut < 60, "cut {cut}"),
            }
        }
        let mut data = TEXT_LZO.to_vec();
        for at in 0..data.len() {
            data[at] ^= 0x04;
            let _ = read(&data);
            data[at] ^= 0x04;
        }
    }
}
