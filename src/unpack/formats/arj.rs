//! ARJ archives (Robert Jung's ARJ, documented in its `technote.txt`; the
//! open-source ARJ 3.10 Debian ships): a main header, then one local header
//! per member followed by its data, ended by a header of size 0. Every
//! header starts `60 EA`, a 2-byte size, the basic header (fixed fields,
//! then the name and comment, NUL-terminated) and its CRC-32, then
//! extended headers (size, bytes, CRC-32) until a size of 0.
//!
//! Methods: 0 stored; 1-3 LZ77 with static Huffman blocks (the bit stream of
//! LHA's `-lh7-`, decoded by `delharc`; ARJ's window is 26 KiB); 4 ARJ's
//! own "fast" coding (`decode_f`: unary-prefixed lengths and distances),
//! decoded here. Each member's CRC-32 is checked. Garbled (password)
//! members and members split across volumes are listed in notes, not
//! decoded.
//!
//! Bounds: headers are at most 2600 bytes and CRC-checked; every member's
//! data must lie inside the input; a member's output is charged to the
//! budget before it is decoded.

use super::{Entry, Extracted, Format, Problem, Rejection, le16, le32};
use crate::unpack::limits::Budget;
use crate::unpack::tree::EntryKind;

pub struct Arj;

const MAGIC: [u8; 2] = [0x60, 0xea];
/// The largest basic header ARJ writes (`HEADERSIZE_MAX`).
const HEADER_MAX: usize = 2600;
/// The fixed fields of a basic header (`FIRST_HDR_SIZE`).
const FIXED: usize = 30;
const GARBLED: u8 = 0x01;
/// The member goes on in the next volume.
const VOLUME: u8 = 0x04;
/// The member started in the previous volume.
const EXTFILE: u8 = 0x08;
const TYPE_DIRECTORY: u8 = 3;
const TYPE_MAIN: u8 = 2;

/// One header: its fixed fields, name, and where the next thing starts.
struct Header<'a> {
    flags: u8,
    method: u8,
    kind: u8,
    compressed: u32,
    original: u32,
    crc: u32,
    name: String,
    comment: &'a [u8],
    /// Where the data (or the next header) starts.
    end: usize,
}

/// The header at `at`: `Ok(None)` for the end-of-archive header (size 0).
fn header(data: &[u8], at: usize) -> Result<Option<Header<'_>>, String> {
    if data.get(at..at + 2) != Some(&MAGIC[..]) {
        return Err(format!("no header id at {at:#x}"));
    }
    let size =
        usize::from(le16(data, at + 2).ok_or_else(|| format!("header at {at:#x} is truncated"))?);
    if size == 0 {
        return Ok(None);
    }
    if !(FIXED..=HEADER_MAX).contains(&size) {
        return Err(format!("header at {at:#x} claims {size} bytes"));
    }
    let basic = data
        .get(at + 4..at + 4 + size)
        .ok_or_else(|| format!("header at {at:#x} is truncated"))?;
    let crc = le32(data, at + 4 + size).ok_or_else(|| format!("header at {at:#x} is truncated"))?;
    if crc32fast::hash(basic) != crc {
        return Err(format!("header at {at:#x}: CRC-32 does not match"));
    }
    let first = usize::from(basic[0]);
    if first < FIXED || first > size {
        return Err(format!("header at {at:#x}: fixed part of {first} bytes"));
    }
    let strings = &basic[first..];
    let mut parts = strings.splitn(3, |&b| b == 0);
    let raw_name = parts.next().unwrap_or_default();
    let comment = parts.next().unwrap_or_default();
    let name = String::from_utf8_lossy(raw_name).replace('\\', "/");
    // Extended headers: size, bytes, CRC-32, until a size of 0.
    let mut end = at + 4 + size + 4;
    loop {
        let ext = usize::from(
            le16(data, end).ok_or_else(|| format!("extended header at {end:#x} is truncated"))?,
        );
        end += 2;
        if ext == 0 {
            break;
        }
        end = end
            .checked_add(ext + 4)
            .filter(|&e| e <= data.len())
            .ok_or_else(|| format!("extended header at {:#x} is truncated", end - 2))?;
    }
    Ok(Some(Header {
        flags: basic[4],
        method: basic[5],
        kind: basic[6],
        compressed: le32(basic, 12).unwrap_or(0),
        original: le32(basic, 16).unwrap_or(0),
        crc: le32(basic, 20).unwrap_or(0),
        name,
        comment,
        end,
    }))
}

/// A path made safe for the tree: no empty, `.` or `..` components.
fn clean(name: &str) -> String {
    name.split('/')
        .filter(|c| !c.is_empty() && *c != "." && *c != "..")
        .collect::<Vec<_>>()
        .join("/")
}

impl Format for Arj {
    fn name(&self) -> &'static str {
        "arj"
    }

    fn magics(&self) -> &'static [&'static [u8]] {
        &[&MAGIC]
    }

    fn extract(&self, data: &[u8], budget: &mut Budget) -> Result<Extracted, Rejection> {
        // Two magic bytes match by chance: only a main header whose CRC-32
        // matches is an ARJ archive.
        let main = match header(data, 0) {
            Ok(Some(h)) if h.kind == TYPE_MAIN => h,
            _ => return Err(Rejection::NotThisFormat),
        };
        let mut out = Extracted::default();
        let mut facts = vec![format!("ARJ archive \"{}\"", main.name)];
        if !main.comment.is_empty() {
            facts.push(format!(
                "comment \"{}\"",
                String::from_utf8_lossy(main.comment)
                    .chars()
                    .take(80)
                    .collect::<String>()
            ));
        }
        if main.flags & VOLUME != 0 {
            facts.push("multi-volume (this volume continues in the next)".into());
        }
        let mut at = main.end;
        let mut ended = false;
        while at < data.len() {
            let h = match header(data, at) {
                Ok(Some(h)) => h,
                Ok(None) => {
                    at += 4;
                    ended = true;
                    break;
                }
                Err(e) => {
                    out.notes
                        .push(Problem::Error(format!("ARJ: {e}; the rest is not read")));
                    break;
                }
            };
            let body_end = h
                .end
                .checked_add(h.compressed as usize)
                .filter(|&e| e <= data.len());
            let Some(body_end) = body_end else {
                out.notes.push(Problem::Error(format!(
                    "ARJ member {}: {} bytes of data at {:#x} run past the end of the input",
                    h.name, h.compressed, h.end
                )));
                break;
            };
            let body = &data[h.end..body_end];
            at = body_end;
            self.member(&h, body, budget, &mut out);
        }
        if !ended && out.notes.is_empty() {
            out.notes.push(Problem::Error(
                "ARJ archive ends without its end-of-archive header (truncated)".into(),
            ));
        }
        out.size = at.min(data.len()) as u64;
        out.detail = Some(facts.join(", "));
        Ok(out)
    }
}

impl Arj {
    /// Decodes one member onto `out`, or says why not.
    fn member(&self, h: &Header<'_>, body: &[u8], budget: &mut Budget, out: &mut Extracted) {
        let path = clean(&h.name);
        if path.is_empty() {
            out.notes.push(Problem::Error(format!(
                "ARJ member {:?} has no usable name; skipped",
                h.name
            )));
            return;
        }
        let problem = |m: String| Problem::Error(format!("ARJ member {path}: {m}"));
        if h.flags & GARBLED != 0 {
            out.notes
                .push(problem("garbled (password-protected); not decoded".into()));
            return;
        }
        if h.flags & (VOLUME | EXTFILE) != 0 {
            let how = match (h.flags & EXTFILE != 0, h.flags & VOLUME != 0) {
                (true, true) => "continues from the previous volume and in the next",
                (true, false) => "continues from the previous volume",
                _ => "continues in the next volume",
            };
            out.notes.push(problem(format!("{how}; not decoded")));
            return;
        }
        if let Err(bound) = budget.entry() {
            out.notes.push(Problem::Limit(format!(
                "ARJ: {bound} reached; the rest of its members were skipped"
            )));
            return;
        }
        if h.kind == TYPE_DIRECTORY {
            out.entries.push(Entry {
                path,
                kind: EntryKind::Dir,
                data: Vec::new(),
                meta: None,
            });
            return;
        }
        let size = u64::from(h.original);
        if let Err(bound) = budget.charge_file(size) {
            out.notes.push(Problem::Limit(format!(
                "ARJ member {path}: {size} bytes reach {bound}; skipped"
            )));
            return;
        }
        // delharc's window and trees (64 KiB, ~10 KiB), held while it decodes.
        let _window = match h.method {
            1..=3 => match budget.reserve(80 << 10) {
                Ok(r) => Some(r),
                Err(bound) => {
                    out.notes.push(Problem::Limit(format!(
                        "ARJ member {path}: its decoder's window reaches {bound}; skipped"
                    )));
                    return;
                }
            },
            _ => None,
        };
        let decoded = match h.method {
            0 => (body.len() == h.original as usize)
                .then(|| body.to_vec())
                .ok_or_else(|| format!("stored with {} bytes for {size}", body.len())),
            1..=3 => lzh(body, h.original as usize),
            4 => fast(body, h.original as usize),
            m => Err(format!("method {m} is unknown")),
        };
        match decoded {
            Ok(d) if crc32fast::hash(&d) == h.crc => out.entries.push(Entry {
                path,
                kind: EntryKind::File,
                data: d,
                meta: None,
            }),
            Ok(d) => {
                out.notes
                    .push(problem("CRC-32 does not match; kept".into()));
                out.entries.push(Entry {
                    path,
                    kind: EntryKind::File,
                    data: d,
                    meta: None,
                });
            }
            Err(e) => out.notes.push(problem(format!("method {}: {e}", h.method))),
        }
    }
}

/// Methods 1-3: LHA's `-lh7-` bit stream (blocks of a 16-bit command count,
/// the code-length, command and offset trees), to `len` bytes.
fn lzh(body: &[u8], len: usize) -> Result<Vec<u8>, String> {
    use delharc::decode::{Decoder, Lh7Decoder};
    let mut out = vec![0u8; len];
    let mut decoder = Lh7Decoder::new(body);
    decoder
        .fill_buffer(&mut out)
        .map_err(|e| format!("LZ77/Huffman data is corrupt or truncated ({e})"))?;
    Ok(out)
}

/// Most-significant-bit-first bits of a byte slice; zeros past its end, as
/// ARJ's own reader gives (a short stream then fails its CRC).
struct Bits<'a> {
    data: &'a [u8],
    at: usize,
}

impl Bits<'_> {
    fn bit(&mut self) -> Result<u32, String> {
        let byte = *self
            .data
            .get(self.at / 8)
            .ok_or("method 4 data ends early")?;
        let b = (byte >> (7 - self.at % 8)) & 1;
        self.at += 1;
        Ok(u32::from(b))
    }

    fn bits(&mut self, n: u32) -> Result<u32, String> {
        let mut v = 0;
        for _ in 0..n {
            v = v << 1 | self.bit()?;
        }
        Ok(v)
    }

    /// ARJ's unary-prefixed number: up to `stop - start` one bits each
    /// adding a power of two from `2^start`, then `width` plain bits.
    fn prefixed(&mut self, start: u32, stop: u32) -> Result<u32, String> {
        let (mut plus, mut power, mut width) = (0, 1 << start, start);
        while width < stop {
            if self.bit()? == 0 {
                break;
            }
            plus += power;
            power <<= 1;
            width += 1;
        }
        Ok(if width == 0 { 0 } else { self.bits(width)? } + plus)
    }
}

/// Method 4 (`decode_f`): a length (0 for a literal byte of 8 bits, else
/// a match of length + 2) and, for a match, a distance back.
fn fast(body: &[u8], len: usize) -> Result<Vec<u8>, String> {
    let mut bits = Bits { data: body, at: 0 };
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        let n = bits.prefixed(0, 7)?;
        if n == 0 {
            out.push(bits.bits(8)? as u8);
            continue;
        }
        let count = (n + 2) as usize;
        let distance = bits.prefixed(9, 13)? as usize + 1;
        if distance > out.len() {
            return Err(format!(
                "a match {distance} bytes back at output byte {} points before the start",
                out.len()
            ));
        }
        for _ in 0..count.min(len - out.len()) {
            out.push(out[out.len() - distance]);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unpack::formats::listing;
    use crate::unpack::limits::Limits;

    fn read(data: &[u8]) -> Result<Extracted, Rejection> {
        Arj.extract(data, &mut Budget::new(Limits::default()))
    }

    const TEXT: &[u8] = include_bytes!("../../../tests/fixtures/text.txt");

    /// `arj a -r -a1 -mN` (ARJ 3.10, Debian's `arj`) of one tree, N = 1..4.
    const METHODS: [&[u8]; 4] = [
        include_bytes!("../../../tests/fixtures/arj/m1.arj"),
        include_bytes!("../../../tests/fixtures/arj/m2.arj"),
        include_bytes!("../../../tests/fixtures/arj/m3.arj"),
        include_bytes!("../../../tests/fixtures/arj/m4.arj"),
    ];

    #[test]
    fn every_method_of_arj_3_10_decodes_with_its_crc() {
        for (i, archive) in METHODS.iter().enumerate() {
            let out = read(archive).unwrap();
            assert!(out.notes.is_empty(), "m{}: {:?}", i + 1, out.notes);
            assert_eq!(
                listing(&out),
                [
                    "etc/",
                    "etc/hostname 7",
                    "etc/motd 3720",
                    "usr/",
                    "usr/share/",
                    "usr/share/log.txt 30450",
                    "usr/share/random.bin 3000",
                ],
                "m{}",
                i + 1
            );
            let motd = out.entries.iter().find(|e| e.path == "etc/motd").unwrap();
            assert_eq!(motd.data, TEXT);
            assert_eq!(out.size as usize, archive.len());
        }
    }

    #[test]
    fn stored_garbled_and_split_members() {
        let out = read(include_bytes!("../../../tests/fixtures/arj/m0.arj")).unwrap();
        assert!(out.notes.is_empty(), "{:?}", out.notes);
        assert_eq!(listing(&out), ["etc/hostname 7", "etc/motd 3720"]);
        let out = read(include_bytes!("../../../tests/fixtures/arj/garbled.arj")).unwrap();
        assert!(out.entries.is_empty());
        assert_eq!(
            out.notes,
            [
                Problem::Error(
                    "ARJ member etc/motd: garbled (password-protected); not decoded".into()
                ),
                Problem::Error(
                    "ARJ member etc/hostname: garbled (password-protected); not decoded".into()
                ),
            ]
        );
        let out = read(include_bytes!("../../../tests/fixtures/arj/vol.arj")).unwrap();
        assert!(out.entries.is_empty());
        assert_eq!(
            out.notes,
            [Problem::Error(
                "ARJ member usr/share/log.txt: continues in the next volume; not decoded".into()
            )]
        );
        let out = read(include_bytes!("../../../tests/fixtures/arj/vol.a01")).unwrap();
        assert_eq!(
            out.notes,
            [Problem::Error(
                "ARJ member usr/share/log.txt: continues from the previous volume and in the next; not decoded".into()
            )]
        );
    }

    #[test]
    fn a_flipped_bit_in_data_fails_the_crc_and_cuts_never_panic() {
        for archive in METHODS {
            for cut in (0..archive.len()).step_by(97) {
                if let Ok(out) = read(&archive[..cut]) {
                    assert!(!out.notes.is_empty(), "cut {cut}");
                }
            }
            let mut data = archive.to_vec();
            for at in (0..data.len()).step_by(7) {
                data[at] ^= 0x04;
                let _ = read(&data);
                data[at] ^= 0x04;
            }
        }
        // A bit of motd's compressed data (after the main and its local header).
        let mut data = METHODS[3].to_vec();
        let main_end = header(&data, 0).unwrap().unwrap().end;
        let first_end = header(&data, main_end).unwrap().unwrap().end;
        data[first_end + 40] ^= 0x10;
        let out = read(&data).unwrap();
        assert!(
            out.notes
                .iter()
                .any(|p| matches!(p, Problem::Error(m) if m.contains("etc/motd"))),
            "{:?}",
            out.notes
        );
    }

    #[test]
    fn a_chance_magic_is_not_an_archive() {
        assert_eq!(
            read(b"\x60\xea\x30\x00rest").unwrap_err(),
            Rejection::NotThisFormat
        );
        assert_eq!(read(b"\x60\xea").unwrap_err(), Rejection::NotThisFormat);
    }
}
