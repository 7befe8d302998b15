//! Intel HEX (`objcopy -O ihex`, microcontroller firmware): text records
//! `:LLAAAATT<data>CC`, each with its own checksum; type 00 data, 01 end of
//! file, 02/04 extended segment/linear address, 03/05 start address. The
//! records are read back into the memory image they describe: one entry per
//! run of contiguous memory, named by its address (`0x08000000.bin`), gaps up
//! to [`MAX_GAP`] filled with erased-flash 0xFF.
//!
//! [`Memory`] is shared with the Motorola S-record reader.

use super::{Entry, Extracted, Format, Problem, Rejection};
use crate::unpack::limits::Budget;
use crate::unpack::tree::EntryKind;

pub struct IntelHex;

/// Gaps up to this long join two runs into one entry.
pub const MAX_GAP: u64 = 4096;

/// Data records by address, folded into runs of memory.
#[derive(Default)]
pub struct Memory {
    chunks: Vec<(u64, Vec<u8>)>,
    bytes: u64,
}

impl Memory {
    pub fn add(&mut self, address: u64, data: Vec<u8>) {
        self.bytes += data.len() as u64;
        self.chunks.push((address, data));
    }

    pub fn data_bytes(&self) -> u64 {
        self.bytes
    }

    /// One entry per run (`0x%08x.bin`), later records overwriting earlier
    /// ones where they overlap, every byte (gap fill included) drawn from
    /// the budget before it is allocated.
    pub fn into_entries(mut self, budget: &mut Budget, notes: &mut Vec<Problem>) -> Vec<Entry> {
        // A record without data adds nothing, and one at the end of a run
        // would be left for the next run to place before its start.
        self.chunks.retain(|(_, d)| !d.is_empty());
        // Stable: for one address the record written later wins below.
        self.chunks.sort_by_key(|(a, _)| *a);
        let mut runs: Vec<(u64, u64)> = Vec::new();
        for (a, d) in &self.chunks {
            let end = a + d.len() as u64;
            match runs.last_mut() {
                Some((_, e)) if *a <= e.saturating_add(MAX_GAP) => *e = (*e).max(end),
                _ => runs.push((*a, end)),
            }
        }
        let mut out = Vec::new();
        let mut chunks = self.chunks.into_iter().peekable();
        for (start, end) in runs {
            let len = end - start;
            if let Err(bound) = budget.charge_file(len) {
                notes.push(Problem::Limit(format!(
                    "{len} bytes at {start:#x} reach {bound}; skipped"
                )));
                while chunks.next_if(|(a, _)| *a < end).is_some() {}
                continue;
            }
            let mut image = vec![0xffu8; len as usize];
            while let Some((a, d)) = chunks.next_if(|(a, _)| *a < end) {
                let at = (a - start) as usize;
                image[at..at + d.len()].copy_from_slice(&d);
            }
            out.push(Entry {
                path: format!("{start:#010x}.bin"),
                kind: EntryKind::File,
                data: image,
                meta: None,
            });
        }
        out
    }
}

/// Two hex digits.
pub fn hex_byte(pair: &[u8]) -> Option<u8> {
    let digit = |c: u8| (c as char).to_digit(16);
    Some((digit(*pair.first()?)? * 16 + digit(*pair.get(1)?)?) as u8)
}

/// The bytes of one record's hex digits.
pub fn hex_bytes(digits: &[u8]) -> Option<Vec<u8>> {
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    digits.chunks(2).map(hex_byte).collect()
}

/// One line at `at`: its text without the line ending, and where the next starts.
pub fn line(data: &[u8], at: usize) -> (&[u8], usize) {
    let rest = &data[at..];
    let end = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
    let text = rest[..end].strip_suffix(b"\r").unwrap_or(&rest[..end]);
    (text, at + (end + 1).min(rest.len()))
}

/// A parsed record: type, 16-bit address, data.
fn record(text: &[u8]) -> Option<(u8, u16, Vec<u8>)> {
    let bytes = hex_bytes(text.strip_prefix(b":")?)?;
    let (&len, rest) = bytes.split_first()?;
    if bytes.len() != 5 + len as usize || bytes.iter().fold(0u8, |s, &b| s.wrapping_add(b)) != 0 {
        return None;
    }
    let address = u16::from_be_bytes([rest[0], rest[1]]);
    Some((rest[2], address, rest[3..3 + len as usize].to_vec()))
}

impl Format for IntelHex {
    fn name(&self) -> &'static str {
        "ihex"
    }

    fn magics(&self) -> &'static [&'static [u8]] {
        &[b":10", b":20", b":02000004", b":02000002"]
    }

    fn extract(&self, data: &[u8], budget: &mut Budget) -> Result<Extracted, Rejection> {
        // The first record must be whole and its checksum right.
        if record(line(data, 0).0).is_none() {
            return Err(Rejection::NotThisFormat);
        }
        let mut memory = Memory::default();
        let mut notes = Vec::new();
        let (mut base, mut start, mut records, mut ended) = (0u64, None, 0usize, false);
        let mut at = 0;
        let mut size = 0;
        while at < data.len() {
            let (text, next) = line(data, at);
            if text.is_empty() {
                at = next;
                continue;
            }
            let Some((kind, address, bytes)) = record(text) else {
                notes.push(Problem::Error(format!(
                    "Intel HEX: record at {at:#x} is malformed or fails its checksum; reading stops"
                )));
                break;
            };
            records += 1;
            size = next;
            at = next;
            match (kind, bytes.len()) {
                (0, _) => memory.add(base + u64::from(address), bytes),
                (1, _) => {
                    ended = true;
                    break;
                }
                (2, 2) => base = u64::from(u16::from_be_bytes([bytes[0], bytes[1]])) << 4,
                (4, 2) => base = u64::from(u16::from_be_bytes([bytes[0], bytes[1]])) << 16,
                (3 | 5, 4) => {
                    start = Some(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
                }
                _ => notes.push(Problem::Error(format!(
                    "Intel HEX: record at {at:#x} has unknown type {kind:#04x} or length {}",
                    bytes.len()
                ))),
            }
        }
        if records < 2 {
            return Err(Rejection::NotThisFormat);
        }
        if !ended && notes.is_empty() {
            notes.push(Problem::Error(format!(
                "Intel HEX: no end-of-file record; the text ends at {size:#x}"
            )));
        }
        let data_bytes = memory.data_bytes();
        let entries = memory.into_entries(budget, &mut notes);
        let mut detail = format!(
            "Intel HEX, {records} records, {data_bytes} data bytes in {} runs",
            entries.len()
        );
        if let Some(s) = start {
            detail += &format!(", start address {s:#010x}");
        }
        Ok(Extracted {
            size: size as u64,
            entries,
            detail: Some(detail),
            notes,
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unpack::formats::listing;
    use crate::unpack::limits::Limits;

    /// `objcopy -O ihex` of an object with `.text` at 0x08000000 and `.data`
    /// at 0x20000000, and `-O binary` of each section (make.sh).
    const HEX: &[u8] = include_bytes!("../../../tests/fixtures/mcu.hex");
    const TEXT: &[u8] = include_bytes!("../../../tests/fixtures/mcu-text.bin");
    const DATA: &[u8] = include_bytes!("../../../tests/fixtures/mcu-data.bin");

    fn read(data: &[u8]) -> Result<Extracted, Rejection> {
        IntelHex.extract(data, &mut Budget::new(Limits::default()))
    }

    #[test]
    fn objcopy_output_reads_back_to_the_sections() {
        let out = read(HEX).unwrap();
        assert!(out.notes.is_empty(), "{:?}", out.notes);
        assert_eq!(out.size as usize, HEX.len());
        assert_eq!(
            listing(&out),
            [
                format!("0x08000000.bin {}", TEXT.len()),
                format!("0x20000000.bin {}", DATA.len())
            ]
        );
        assert_eq!(out.entries[0].data, TEXT);
        assert_eq!(out.entries[1].data, DATA);
        assert!(
            out.detail
                .as_deref()
                .unwrap()
                .ends_with("in 2 runs, start address 0x08000101"),
            "{:?}",
            out.detail
        );
    }

    #[test]
    fn truncation_and_flips_never_panic() {
        for cut in 0..HEX.len() {
            if let Ok(out) = read(&HEX[..cut]) {
                assert!(!out.notes.is_empty() || cut + 2 >= HEX.len(), "cut {cut}");
            }
        }
        let mut data = HEX.to_vec();
        for at in (0..data.len()).step_by(3) {
            data[at] ^= 0x01;
            let _ = read(&data);
            data[at] ^= 0x01;
        }
        assert_eq!(
            read(b"at 12:10 the meeting").unwrap_err(),
            Rejection::NotThisFormat
        );
    }

    #[test]
    fn far_apart_records_do_not_fill_the_gap() {
        // A byte at 0 and a byte at 4 GiB - 1: two runs of one byte.
        let hex = b":0100000011EE\n:02000004FFFFFC\n:01FFFF0022DF\n:00000001FF\n";
        let out = read(hex).unwrap();
        assert!(out.notes.is_empty(), "{:?}", out.notes);
        assert_eq!(listing(&out), ["0x00000000.bin 1", "0xffffffff.bin 1"]);
    }
}
