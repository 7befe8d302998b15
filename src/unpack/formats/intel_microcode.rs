//! Intel microcode updates (Intel SDM volume 3, "Microcode Update
//! Facilities"): a 48-byte header (header version 1, update revision, BCD
//! date, processor signature, checksum, loader revision 1, platform flags,
//! data and total size), the encrypted update data, and an optional extended
//! signature table naming more processor signatures the update fits.
//!
//! Found where Debian's `intel-microcode` puts them
//! (`/lib/firmware/intel-ucode/FF-MM-SS`, the early initramfs's
//! `GenuineIntel.bin`) and inside BIOS images (EDK II's microcode FFS file, a
//! raw microcode region): a run of updates back to back is one layer whose
//! detail names each update's signatures, platforms, revision, date and
//! checksum. The data is opaque (encrypted), so no file is extracted.
//!
//! The magic is only the header version, so a candidate must pass the
//! header's plausibility checks and, for the first update of a run, its
//! checksum before it is taken; a later update of the run whose checksum is
//! off is reported.

use super::{Extracted, Format, Notes, Problem, Rejection, le32};
use crate::unpack::limits::Budget;

pub struct IntelMicrocode;

const HEADER: usize = 48;
/// Extended signature table header: count, checksum, 12 reserved bytes.
const EXT_HEADER: usize = 20;
const EXT_SIGNATURE: usize = 12;
/// Larger than any update Intel has shipped (1.7 MB in 2025).
const MAX_TOTAL: u32 = 16 << 20;
/// Updates named in the detail; the rest are counted.
const MAX_LISTED: usize = 32;

/// One update's header, checked for plausibility.
#[derive(Debug)]
struct Header {
    revision: u32,
    date: String,
    signature: u32,
    checksum: u32,
    platforms: u32,
    data_size: usize,
    total_size: usize,
}

/// `yyyy-mm-dd` from the header's BCD `0xMMDDYYYY`, if it is a date.
fn bcd_date(d: u32) -> Option<String> {
    let digits = |v: u32, n: u32| -> Option<u32> {
        (0..n).rev().try_fold(0, |acc, i| {
            let digit = (v >> (4 * i)) & 0xf;
            (digit < 10).then_some(acc * 10 + digit)
        })
    };
    let (month, day, year) = (
        digits(d >> 24, 2)?,
        digits(d >> 16 & 0xff, 2)?,
        digits(d & 0xffff, 4)?,
    );
    ((1..=12).contains(&month) && (1..=31).contains(&day) && (1990..=2099).contains(&year))
        .then(|| format!("{year:04}-{month:02}-{day:02}"))
}

fn header(data: &[u8]) -> Option<Header> {
    if le32(data, 0)? != 1 || le32(data, 20)? != 1 {
        return None;
    }
    let date = bcd_date(le32(data, 8)?)?;
    // Sizes of zero mean the first updates' fixed 2000 data bytes.
    let (data_size, total_size) = match (le32(data, 28)?, le32(data, 32)?) {
        (0, _) => (2000, 2048),
        (d, t) => (d, t),
    };
    // In u64: a data size near 4 GiB wrapped past the total size in u32,
    // and the header then claimed more than the update holds.
    if total_size > MAX_TOTAL
        || total_size % 1024 != 0
        || data_size % 4 != 0
        || u64::from(data_size) + HEADER as u64 > u64::from(total_size)
    {
        return None;
    }
    Some(Header {
        revision: le32(data, 4)?,
        date,
        signature: le32(data, 12)?,
        checksum: le32(data, 16)?,
        platforms: le32(data, 24)?,
        data_size: data_size as usize,
        total_size: total_size as usize,
    })
}

/// The 32-bit sum of `data` as little-endian words (a whole number of them).
fn sum(data: &[u8]) -> u32 {
    data.chunks_exact(4).fold(0u32, |s, w| {
        s.wrapping_add(u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
    })
}

/// One update: its facts, and what is wrong with it.
struct Update {
    fact: String,
    problems: Vec<String>,
}

/// Checks the update at `data[0]` (`h` its header, `data` at least its
/// total size): the header-and-data checksum, the extended table's
/// checksum and each extended signature's.
fn update(h: &Header, data: &[u8]) -> Update {
    let mut problems = Vec::new();
    let main_ok = sum(&data[..HEADER + h.data_size]) == 0;
    if !main_ok {
        problems.push("header and data checksum is off".to_string());
    }
    let mut signatures = vec![(h.signature, h.platforms)];
    let ext = &data[HEADER + h.data_size..h.total_size];
    if ext.len() >= EXT_HEADER {
        let count = le32(ext, 0).unwrap_or(0) as usize;
        let table = count
            .checked_mul(EXT_SIGNATURE)
            .and_then(|n| n.checked_add(EXT_HEADER))
            .and_then(|n| ext.get(..n));
        match table {
            None => problems.push(format!(
                "extended signature table of {count} entries does not fit its {} bytes",
                ext.len()
            )),
            Some(table) => {
                if sum(table) != 0 {
                    problems.push("extended signature table checksum is off".into());
                }
                for entry in table[EXT_HEADER..].chunks_exact(EXT_SIGNATURE) {
                    let (sig, pf, cs) = (
                        le32(entry, 0).unwrap_or(0),
                        le32(entry, 4).unwrap_or(0),
                        le32(entry, 8).unwrap_or(0),
                    );
                    // The header checksum as it would be with this signature.
                    let same = h
                        .checksum
                        .wrapping_add(h.signature)
                        .wrapping_add(h.platforms)
                        == cs.wrapping_add(sig).wrapping_add(pf);
                    if !same {
                        problems.push(format!("extended signature {sig:#010x} checksum is off"));
                    }
                    signatures.push((sig, pf));
                }
            }
        }
    }
    let names: Vec<String> = signatures
        .iter()
        .map(|(sig, pf)| format!("{sig:#010x} platforms {pf:#04x}"))
        .collect();
    let checksum = if problems.is_empty() { "ok" } else { "bad" };
    Update {
        fact: format!(
            "cpu {} revision {:#x} {} checksum {checksum}",
            names.join(" + "),
            h.revision,
            h.date
        ),
        problems,
    }
}

impl Format for IntelMicrocode {
    fn name(&self) -> &'static str {
        "intel-microcode"
    }

    fn magics(&self) -> &'static [&'static [u8]] {
        &[&[1, 0, 0, 0]]
    }

    fn declared_len(&self, data: &[u8]) -> Option<u64> {
        header(data).map(|h| h.total_size as u64)
    }

    fn extract(&self, data: &[u8], _budget: &mut Budget) -> Result<Extracted, Rejection> {
        let first = header(data).ok_or(Rejection::NotThisFormat)?;
        // A chance header is not taken: the first update must be whole and
        // sum to zero.
        if data.len() < first.total_size || sum(&data[..HEADER + first.data_size]) != 0 {
            return Err(Rejection::NotThisFormat);
        }
        let mut notes = Notes::default();
        let mut facts = Vec::new();
        let mut at = 0;
        while let Some(h) = data.get(at..).and_then(header) {
            let Some(bytes) = data.get(at..at + h.total_size) else {
                notes.push(Problem::Error(format!(
                    "microcode update at {at:#x} declares {} bytes, {} left",
                    h.total_size,
                    data.len() - at
                )));
                break;
            };
            let u = update(&h, bytes);
            for p in u.problems {
                notes.push(Problem::Error(format!("microcode update at {at:#x}: {p}")));
            }
            facts.push(u.fact);
            at += h.total_size;
        }
        let count = facts.len();
        let more = count.saturating_sub(MAX_LISTED);
        facts.truncate(MAX_LISTED);
        let mut detail = format!("Intel microcode, {count} updates: {}", facts.join("; "));
        if more > 0 {
            detail += &format!("; and {more} more");
        }
        let mut out = Vec::new();
        notes.finish("intel-microcode", &mut out);
        Ok(Extracted {
            size: at as u64,
            entries: Vec::new(),
            filesystem: false,
            scanned_in_place: false,
            detail: Some(detail),
            notes: out,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unpack::limits::Limits;

    /// Debian's intel-microcode files (tests/data/intel-ucode/README.md);
    /// the expected signatures, platforms, dates and revisions are what
    /// Debian's `iucode_tool -L` lists for them.
    const TWO: &[u8] = include_bytes!("../../../tests/data/intel-ucode/0f-04-0a");
    const EXTENDED: &[u8] = include_bytes!("../../../tests/data/intel-ucode/06-c5-02");

    fn read(data: &[u8]) -> Result<Extracted, Rejection> {
        IntelMicrocode.extract(data, &mut Budget::new(Limits::default()))
    }

    #[test]
    fn two_updates_of_one_file() {
        let out = read(TWO).unwrap();
        assert!(out.notes.is_empty(), "{:?}", out.notes);
        assert_eq!(out.size, 4096);
        assert_eq!(
            out.detail.as_deref(),
            Some(
                "Intel microcode, 2 updates: cpu 0x00000f4a platforms 0x5d revision 0x2 \
                 2005-06-10 checksum ok; cpu 0x00000f4a platforms 0x5c revision 0x4 \
                 2005-12-14 checksum ok"
            )
        );
    }

    #[test]
    fn an_extended_signature_table() {
        let out = read(EXTENDED).unwrap();
        assert!(out.notes.is_empty(), "{:?}", out.notes);
        assert_eq!(out.size, 90112);
        assert_eq!(
            out.detail.as_deref(),
            Some(
                "Intel microcode, 1 updates: cpu 0x000c0662 platforms 0x82 + 0x000c0662 \
                 platforms 0x82 + 0x000c06a2 platforms 0x82 + 0x000c0652 platforms 0x82 + \
                 0x000c0664 platforms 0x82 revision 0x11a 2025-06-30 checksum ok"
            )
        );
    }

    #[test]
    fn a_bad_checksum_after_the_first_update_is_reported() {
        let mut data = TWO.to_vec();
        data[2048 + 100] ^= 0x40;
        let out = read(&data).unwrap();
        assert_eq!(
            out.notes,
            [Problem::Error(
                "microcode update at 0x800: header and data checksum is off".into()
            )]
        );
        assert!(out.detail.unwrap().ends_with("2005-12-14 checksum bad"));
        // The first update's checksum decides whether this is microcode at all.
        data[100] ^= 0x40;
        assert_eq!(read(&data).unwrap_err(), Rejection::NotThisFormat);
        // An extended table that does not sum to zero.
        let mut data = EXTENDED.to_vec();
        let table = data.len() - 20 - 4 * 12;
        data[table + 4] ^= 1;
        assert_eq!(
            read(&data).unwrap().notes,
            [Problem::Error(
                "microcode update at 0x0: extended signature table checksum is off".into()
            )]
        );
    }

    #[test]
    fn truncation_and_bit_flips_never_panic() {
        for cut in 0..TWO.len() {
            match read(&TWO[..cut]) {
                Ok(out) => {
                    assert!(cut >= 2048, "cut {cut}");
                    assert_eq!(out.size, 2048);
                    assert!(!out.notes.is_empty() || cut < 2048 + HEADER, "cut {cut}");
                }
                Err(e) => assert_eq!(e, Rejection::NotThisFormat, "cut {cut}"),
            }
        }
        for data in [TWO, &EXTENDED[..4096], &EXTENDED[EXTENDED.len() - 2048..]] {
            let mut data = data.to_vec();
            for at in 0..data.len() {
                for bit in [0x01, 0x80] {
                    data[at] ^= bit;
                    if let Ok(out) = read(&data) {
                        assert!(out.size <= data.len() as u64);
                    }
                    data[at] ^= bit;
                }
            }
        }
        let mut extended = EXTENDED.to_vec();
        for at in (0..HEADER).chain(extended.len() - 68..extended.len()) {
            extended[at] ^= 0x10;
            let _ = read(&extended);
            extended[at] ^= 0x10;
        }
    }

    /// Found by the fuzzer (kept in tests/fixtures/fuzz/): a data size of
    /// `0xffffffd0` and a total size of 0. The size check added them in
    /// 32 bits, the sum wrapped to 0, the header passed, and the checksum
    /// sliced 4 GiB out of a 12 KB input. A total size of 0 would also have
    /// kept the walk at one offset for ever.
    #[test]
    fn a_data_size_that_wraps_past_the_total_is_not_a_header() {
        let found =
            std::fs::read("tests/fixtures/fuzz/intel_microcode-data-size-wraps.bin").unwrap();
        assert_eq!(le32(&found, 28), Some(0xffff_ffd0));
        assert_eq!(le32(&found, 32), Some(0));
        assert!(header(&found).is_none());
        assert_eq!(read(&found).unwrap_err(), Rejection::NotThisFormat);
        // The same wrap with a plausible total size, after a valid update.
        let mut data = TWO.to_vec();
        data[2048 + 28..2048 + 32].copy_from_slice(&0xffff_ffd0u32.to_le_bytes());
        data[2048 + 32..2048 + 36].copy_from_slice(&1024u32.to_le_bytes());
        assert!(header(&data[2048..]).is_none());
        let out = read(&data).unwrap();
        assert_eq!(out.size, 2048);
    }

    #[test]
    fn dates_are_bcd() {
        assert_eq!(bcd_date(0x0630_2025).as_deref(), Some("2025-06-30"));
        assert_eq!(bcd_date(0x1330_2025), None);
        assert_eq!(bcd_date(0x063a_2025), None);
        assert_eq!(bcd_date(0x0630_1899), None);
    }
}
