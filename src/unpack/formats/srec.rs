//! Motorola S-records (`objcopy -O srec`, microcontroller firmware): text
//! records `S<type><count><address><data><checksum>`: S0 header (a module
//! name), S1/S2/S3 data with 16/24/32-bit addresses, S5/S6 record counts,
//! S7/S8/S9 start address. Read back into the memory image they describe,
//! one entry per run of memory, as [`super::ihex`] does.

use super::ihex::{Memory, hex_bytes, line};
use super::{Extracted, Format, Problem, Rejection};
use crate::unpack::limits::Budget;

pub struct Srec;

/// A parsed record: type digit, address, data.
fn record(text: &[u8]) -> Option<(u8, u64, Vec<u8>)> {
    let rest = text.strip_prefix(b"S")?;
    let kind = (*rest.first()? as char).to_digit(10)? as u8;
    let bytes = hex_bytes(&rest[1..])?;
    let (&count, body) = bytes.split_first()?;
    if body.len() != count as usize || bytes.iter().fold(0u8, |s, &b| s.wrapping_add(b)) != 0xff {
        return None;
    }
    let width = match kind {
        0 | 1 | 5 | 9 => 2,
        2 | 6 | 8 => 3,
        3 | 7 => 4,
        _ => return None,
    };
    let address = body
        .get(..width)?
        .iter()
        .fold(0u64, |a, &b| a << 8 | u64::from(b));
    let data = body.get(width..body.len().checked_sub(1)?)?.to_vec();
    Some((kind, address, data))
}

impl Format for Srec {
    fn name(&self) -> &'static str {
        "srec"
    }

    fn magics(&self) -> &'static [&'static [u8]] {
        // objcopy starts with an S0 header; S1/S2/S3 of 16 data bytes each.
        &[b"S00", b"S113", b"S214", b"S315"]
    }

    fn extract(&self, data: &[u8], budget: &mut Budget) -> Result<Extracted, Rejection> {
        if record(line(data, 0).0).is_none() {
            return Err(Rejection::NotThisFormat);
        }
        let mut memory = Memory::default();
        let mut notes = Vec::new();
        let (mut header, mut start, mut records, mut data_records, mut ended) =
            (None, None, 0usize, 0u64, false);
        let (mut at, mut size) = (0, 0);
        while at < data.len() {
            let (text, next) = line(data, at);
            if text.is_empty() {
                at = next;
                continue;
            }
            let Some((kind, address, bytes)) = record(text) else {
                notes.push(Problem::Error(format!(
                    "S-record at {at:#x} is malformed or fails its checksum; reading stops"
                )));
                break;
            };
            records += 1;
            size = next;
            at = next;
            match kind {
                0 => header = Some(String::from_utf8_lossy(&bytes).trim().to_string()),
                1..=3 => {
                    data_records += 1;
                    memory.add(address, bytes);
                }
                5 | 6 if address != data_records => notes.push(Problem::Error(format!(
                    "S-record count {address} does not match the {data_records} data records before it"
                ))),
                5 | 6 => {}
                _ => {
                    start = Some(address);
                    ended = true;
                    break;
                }
            }
        }
        if records < 2 {
            return Err(Rejection::NotThisFormat);
        }
        if !ended && notes.is_empty() {
            notes.push(Problem::Error(format!(
                "S-records: no termination record; the text ends at {size:#x}"
            )));
        }
        let data_bytes = memory.data_bytes();
        let entries = memory.into_entries(budget, &mut notes);
        let mut detail = "Motorola S-records".to_string();
        if let Some(h) = header.filter(|h| !h.is_empty()) {
            detail += &format!(" \"{h}\"");
        }
        detail += &format!(
            ", {records} records, {data_bytes} data bytes in {} runs",
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

    /// `objcopy -O srec` of the object `ihex`'s test reads (make.sh).
    const SREC: &[u8] = include_bytes!("../../../tests/fixtures/mcu.srec");
    const TEXT: &[u8] = include_bytes!("../../../tests/fixtures/mcu-text.bin");
    const DATA: &[u8] = include_bytes!("../../../tests/fixtures/mcu-data.bin");

    fn read(data: &[u8]) -> Result<Extracted, Rejection> {
        Srec.extract(data, &mut Budget::new(Limits::default()))
    }

    #[test]
    fn objcopy_output_reads_back_to_the_sections() {
        let out = read(SREC).unwrap();
        assert!(out.notes.is_empty(), "{:?}", out.notes);
        assert_eq!(out.size as usize, SREC.len());
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
                .starts_with("Motorola S-records \"mcu.srec\","),
            "{:?}",
            out.detail
        );
        assert!(
            out.detail
                .as_deref()
                .unwrap()
                .ends_with("in 2 runs, start address 0x08000101")
        );
    }

    /// Found by the fuzzer (fuzz/RESULTS.md; the input is
    /// tests/fixtures/fuzz/srec-empty-record-after-a-run.srec): a record with
    /// no data at the end of one run was placed by the next run, before that
    /// run's start, and the offset wrapped (a panic).
    #[test]
    fn an_empty_record_at_the_end_of_a_run_is_ignored() {
        // S3: count, 32-bit address, data, checksum (ones' complement of the sum).
        let s3 = |address: u32, data: &[u8]| {
            let mut bytes = vec![(4 + data.len() + 1) as u8];
            bytes.extend_from_slice(&address.to_be_bytes());
            bytes.extend_from_slice(data);
            let sum = bytes.iter().fold(0u8, |s, &b| s.wrapping_add(b));
            bytes.push(!sum);
            let hex: String = bytes.iter().map(|b| format!("{b:02X}")).collect();
            format!("S3{hex}\n")
        };
        let text = [
            s3(0x1000, b"ABCD"),
            s3(0x1004, b""),
            s3(0x2000_0000, b"EF"),
            "S70500000000FA\n".to_string(),
        ]
        .concat();
        let out = read(text.as_bytes()).unwrap();
        assert_eq!(listing(&out), ["0x00001000.bin 4", "0x20000000.bin 2"]);
        assert_eq!(out.entries[0].data, b"ABCD");
        let found =
            std::fs::read("tests/fixtures/fuzz/srec-empty-record-after-a-run.srec").unwrap();
        let _ = read(&found);
    }

    #[test]
    fn truncation_and_flips_never_panic() {
        for cut in 0..SREC.len() {
            if let Ok(out) = read(&SREC[..cut]) {
                assert!(!out.notes.is_empty() || cut + 2 >= SREC.len(), "cut {cut}");
            }
        }
        let mut data = SREC.to_vec();
        for at in (0..data.len()).step_by(3) {
            data[at] ^= 0x01;
            let _ = read(&data);
            data[at] ^= 0x01;
        }
    }
}
