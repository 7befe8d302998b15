//! The flash map (FMAP, flashrom's and coreboot's `fmap.h`) of a coreboot
//! or ChromeOS firmware image: `__FMAP__`, version 1.x, the flash's base and
//! size, its name, and named areas (offset, size, flags). A layer of facts:
//! the areas say where the `COREBOOT` CBFS region, the read-only and
//! read-write sections and the caches lie. The areas' contents are carved
//! where they are (a CBFS region by its first file, see [`super::cbfs`]).

use super::{Extracted, Format, Rejection, le16, le32, le64};
use crate::unpack::limits::Budget;

pub struct Fmap;

const MAGIC: &[u8] = b"__FMAP__";
const HEADER: usize = 56;
const AREA: usize = 42;
/// Areas named in the detail; the rest are counted.
const MAX_LISTED: usize = 64;
const AREA_READ_ONLY: u16 = 4;

/// A NUL-padded 32-byte name, if it is printable ASCII.
fn name(field: &[u8]) -> Option<String> {
    let text = &field[..field.iter().position(|&b| b == 0).unwrap_or(field.len())];
    text.iter()
        .all(|b| b.is_ascii_graphic() || *b == b' ')
        .then(|| String::from_utf8_lossy(text).into_owned())
}

impl Format for Fmap {
    fn name(&self) -> &'static str {
        "fmap"
    }

    fn magics(&self) -> &'static [&'static [u8]] {
        &[MAGIC]
    }

    fn extract(&self, data: &[u8], _budget: &mut Budget) -> Result<Extracted, Rejection> {
        let (Some(&major), Some(&minor), Some(base), Some(size), Some(flash), Some(count)) = (
            data.get(8),
            data.get(9),
            le64(data, 10),
            le32(data, 18),
            data.get(22..54).and_then(name),
            le16(data, 54),
        ) else {
            return Err(Rejection::NotThisFormat);
        };
        if major != 1 || size == 0 {
            return Err(Rejection::NotThisFormat);
        }
        let count = usize::from(count);
        let Some(table) = data.get(HEADER..HEADER + count * AREA) else {
            return Err(Rejection::Corrupt(format!(
                "flash map {flash:?} lists {count} areas, {} bytes of the {} they take are present",
                data.len().saturating_sub(HEADER),
                count * AREA
            )));
        };
        let mut areas = Vec::new();
        for (i, area) in table.chunks_exact(AREA).enumerate() {
            let (Some(offset), Some(len), Some(label), Some(flags)) = (
                le32(area, 0),
                le32(area, 4),
                name(&area[8..40]),
                le16(area, 40),
            ) else {
                return Err(Rejection::Corrupt(format!(
                    "flash map {flash:?}: area {i} has an unprintable name"
                )));
            };
            if u64::from(offset) + u64::from(len) > u64::from(size) {
                return Err(Rejection::Corrupt(format!(
                    "flash map {flash:?}: area {label} ({offset:#x}+{len:#x}) lies outside the {size:#x}-byte flash"
                )));
            }
            let ro = if flags & AREA_READ_ONLY != 0 {
                " read-only"
            } else {
                ""
            };
            areas.push(format!("{label} {offset:#x}+{len:#x}{ro}"));
        }
        let more = areas.len().saturating_sub(MAX_LISTED);
        areas.truncate(MAX_LISTED);
        let mut detail = format!(
            "flash map {major}.{minor} {flash:?}, {size} bytes at {base:#x}, {count} areas: {}",
            areas.join(", ")
        );
        if more > 0 {
            detail += &format!(" and {more} more");
        }
        Ok(Extracted {
            size: (HEADER + count * AREA) as u64,
            entries: Vec::new(),
            filesystem: false,
            scanned_in_place: false,
            detail: Some(detail),
            notes: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unpack::limits::Limits;

    /// fmaptool's output for tests/fixtures/fwuefi/layout.fmd (make.sh).
    const FMAP: &[u8] = include_bytes!("../../../tests/fixtures/fwuefi/layout.fmap");

    fn read(data: &[u8]) -> Result<Extracted, Rejection> {
        Fmap.extract(data, &mut Budget::new(Limits::default()))
    }

    #[test]
    fn the_areas_of_fmaptools_map() {
        let out = read(FMAP).unwrap();
        assert_eq!(out.size, 224);
        assert_eq!(
            out.detail.as_deref(),
            Some(
                "flash map 1.1 \"FLASH\", 262144 bytes at 0x0, 4 areas: BIOS 0x0+0x40000, \
                 RW_MRC_CACHE 0x0+0x4000, FMAP 0x4000+0x1000, COREBOOT 0x5000+0x3b000"
            )
        );
    }

    #[test]
    fn truncation_and_bit_flips_never_panic() {
        for cut in 0..FMAP.len() {
            match read(&FMAP[..cut]) {
                Ok(_) => panic!("cut {cut} read"),
                Err(Rejection::NotThisFormat) => assert!(cut < HEADER, "cut {cut}"),
                Err(Rejection::Corrupt(m)) => assert!(m.contains("4 areas"), "{m}"),
                Err(e) => panic!("cut {cut}: {e:?}"),
            }
        }
        let mut data = FMAP.to_vec();
        for at in 0..data.len() {
            for bit in [0x01, 0x10, 0x80] {
                data[at] ^= bit;
                if let Ok(out) = read(&data) {
                    assert!(out.size <= data.len() as u64);
                }
                data[at] ^= bit;
            }
        }
    }
}
