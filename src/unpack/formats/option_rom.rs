//! PCI expansion ROMs (PCI Firmware Specification 3.0, chapter 5): a chain of
//! images, each a `55 AA` header whose pointer at 0x18 names a `PCIR` data
//! structure (vendor, device, class, image length in 512-byte units, code
//! type, and a last-image flag). Legacy x86 images (SeaBIOS's VGA BIOSes,
//! iPXE's PXE ROMs) are kept whole, with their PnP product name as a fact;
//! EFI images (code type 3) yield their PE driver, decompressed when the
//! header says EFI compression (`EfiRom -ec`, as iPXE's `efi-*.rom` are).
//!
//! Each image is a layer of its own (the next one is carved where it ends).
//! Bounds: every pointer and length is checked against the image it belongs to.

use super::{Entry, Extracted, Format, Problem, Rejection, le16, le32};
use crate::unpack::limits::Budget;
use crate::unpack::tiano;
use crate::unpack::tree::EntryKind;

pub struct OptionRom;

const CODE_X86: u8 = 0;
const CODE_OPEN_FIRMWARE: u8 = 1;
const CODE_EFI: u8 = 3;
const EFI_SIGNATURE: u32 = 0x0ef1;

/// The checked fields of one image's headers.
struct Image {
    len: usize,
    vendor: u16,
    device: u16,
    class: u32,
    code_revision: u16,
    code_type: u8,
    last: bool,
}

fn image(data: &[u8]) -> Option<Image> {
    if data.get(..2)? != [0x55, 0xaa] {
        return None;
    }
    let pcir = usize::from(le16(data, 0x18)?);
    if pcir < 0x1a || data.get(pcir..pcir + 4)? != b"PCIR" {
        return None;
    }
    let p = data.get(pcir..pcir + 0x18)?;
    let struct_len = le16(p, 0x0a)?;
    let units = usize::from(le16(p, 0x10)?);
    let len = units * 512;
    let vendor = le16(p, 4)?;
    if struct_len < 0x18 || units == 0 || pcir + 0x18 > len || vendor == 0xffff {
        return None;
    }
    Some(Image {
        len,
        vendor,
        device: le16(p, 6)?,
        class: u32::from(p[0x0d]) | u32::from(p[0x0e]) << 8 | u32::from(p[0x0f]) << 16,
        code_revision: le16(p, 0x12)?,
        code_type: p[0x14],
        last: p[0x15] & 0x80 != 0,
    })
}

/// A short printable NUL-terminated string at `at`.
fn c_string(data: &[u8], at: usize) -> Option<String> {
    let rest = data.get(at..)?;
    let end = rest.iter().take(80).position(|&b| b == 0)?;
    let s = &rest[..end];
    (!s.is_empty() && s.iter().all(|b| (0x20..0x7f).contains(b)))
        .then(|| String::from_utf8_lossy(s).into_owned())
}

/// The product (and manufacturer) a legacy image's PnP expansion header names.
fn pnp_name(img: &[u8]) -> Option<String> {
    let at = usize::from(le16(img, 0x1a)?);
    if img.get(at..at + 4)? != b"$PnP" {
        return None;
    }
    let product = c_string(img, usize::from(le16(img, at + 0x10)?));
    let maker = c_string(img, usize::from(le16(img, at + 0x0e)?));
    match (maker, product) {
        (Some(m), Some(p)) => Some(format!("{m} {p}")),
        (m, p) => m.or(p),
    }
}

fn machine(code: u16) -> String {
    match code {
        0x014c => "ia32".into(),
        0x0200 => "ia64".into(),
        0x0ebc => "ebc".into(),
        0x8664 => "x64".into(),
        0x01c2 => "arm".into(),
        0xaa64 => "aa64".into(),
        0x5032 => "riscv32".into(),
        0x5064 => "riscv64".into(),
        0x6264 => "loongarch64".into(),
        other => format!("machine-{other:#06x}"),
    }
}

impl Format for OptionRom {
    fn name(&self) -> &'static str {
        "option-rom"
    }

    fn magics(&self) -> &'static [&'static [u8]] {
        &[&[0x55, 0xaa]]
    }

    fn declared_len(&self, data: &[u8]) -> Option<u64> {
        image(data).map(|h| h.len as u64)
    }

    /// One image of the chain: the next one (`last` unset) is a candidate
    /// of its own where this one ends.
    fn extract(&self, data: &[u8], budget: &mut Budget) -> Result<Extracted, Rejection> {
        let h = image(data).ok_or(Rejection::NotThisFormat)?;
        let Some(img) = data.get(..h.len) else {
            return Err(Rejection::Corrupt(format!(
                "option ROM image declares {} bytes, only {} present",
                h.len,
                data.len()
            )));
        };
        let mut out = Extracted {
            size: h.len as u64,
            ..Default::default()
        };
        let revision = h.code_revision;
        let what = match h.code_type {
            CODE_EFI => match efi_image(img, budget, &mut out.notes) {
                Some((name, contents, fact)) => {
                    out.entries.push(Entry {
                        path: name,
                        kind: EntryKind::File,
                        data: contents,
                        meta: None,
                    });
                    fact
                }
                None => "EFI image, unreadable".into(),
            },
            CODE_X86 => {
                let product = pnp_name(img)
                    .map(|p| format!(" \"{p}\""))
                    .unwrap_or_default();
                format!("x86 image{product}")
            }
            CODE_OPEN_FIRMWARE => "Open Firmware image".into(),
            other => format!("code type {other}"),
        };
        // Code, not a wrapper: scanned where it is (an entry holding the
        // same bytes would be this ROM again).
        out.scanned_in_place = out.entries.is_empty();
        out.detail = Some(format!(
            "PCI option ROM {:04x}:{:04x}, class {:06x}, {what}, code revision {revision:#x}{}",
            h.vendor,
            h.device,
            h.class,
            if h.last { "" } else { "; more images follow" }
        ));
        Ok(out)
    }
}

/// An EFI image's driver: its name, its PE bytes (already charged), and a fact.
fn efi_image(
    img: &[u8],
    budget: &mut Budget,
    notes: &mut Vec<Problem>,
) -> Option<(String, Vec<u8>, String)> {
    if le32(img, 4)? != EFI_SIGNATURE {
        return None;
    }
    let init = usize::from(le16(img, 2)?) * 512;
    let subsystem = le16(img, 8)?;
    let arch = machine(le16(img, 0x0a)?);
    let compressed = le16(img, 0x0c)?;
    let start = usize::from(le16(img, 0x16)?);
    let end = init.min(img.len());
    let Some(body) = img.get(start..end).filter(|b| !b.is_empty()) else {
        notes.push(Problem::Error(format!(
            "EFI image at {start:#x} lies outside the {end}-byte image"
        )));
        return None;
    };
    let kind = match subsystem {
        10 => "application",
        11 => "boot service driver",
        12 => "runtime driver",
        _ => "image",
    };
    let name = format!("efi-{arch}.efi");
    match compressed {
        0 => {
            if let Err(bound) = budget.charge(body.len() as u64) {
                notes.push(Problem::Limit(format!(
                    "{} bytes reach {bound}; skipped",
                    body.len()
                )));
                return Some((name, Vec::new(), format!("EFI {arch} {kind}")));
            }
            Some((name, body.to_vec(), format!("EFI {arch} {kind}")))
        }
        1 => {
            let mut decoded = tiano::decode(body, tiano::Variant::Efi, budget);
            if let Some(e) = &decoded.error {
                notes.push(Problem::Error(format!(
                    "EFI-compressed driver is corrupt after {} output bytes: {e}",
                    decoded.data.len()
                )));
            }
            if decoded.stopped() {
                notes.push(Problem::Limit(format!(
                    "driver stopped at {} bytes: {}",
                    decoded.data.len(),
                    super::gzip::stop_cause(&decoded, decoded.consumed, budget)
                )));
            }
            let data = match decoded.keep(budget) {
                Ok(()) => decoded.data,
                Err(bound) => {
                    notes.push(Problem::Limit(format!(
                        "{} decoded bytes reach {bound}; driver dropped",
                        decoded.data.len()
                    )));
                    Vec::new()
                }
            };
            Some((name, data, format!("EFI {arch} {kind}, EFI-compressed")))
        }
        other => {
            notes.push(Problem::Error(format!(
                "unknown EFI compression type {other}; kept as it is"
            )));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unpack::limits::Limits;

    /// A legacy image then an EFI image with an EFI-compressed driver, laid
    /// out per the PCI Firmware Specification by `tests/fixtures/fw-fixtures.py`.
    const ROM: &[u8] = include_bytes!("../../../tests/fixtures/optionrom-efi.rom");
    const DRIVER: &[u8] = include_bytes!("../../../tests/fixtures/optionrom-efi.driver");

    fn read(data: &[u8]) -> Result<Extracted, Rejection> {
        OptionRom.extract(data, &mut Budget::new(Limits::default()))
    }

    #[test]
    fn a_legacy_image_is_scanned_in_place_and_an_efi_driver_decompressed() {
        let legacy = read(ROM).unwrap();
        assert_eq!(legacy.size, 1024);
        assert!(legacy.entries.is_empty() && legacy.scanned_in_place);
        assert_eq!(
            legacy.detail.as_deref(),
            Some(
                "PCI option ROM 8086:100e, class 020000, x86 image \"Fixture Inc FixtureBoot 1.2\", \
                 code revision 0x102; more images follow"
            )
        );
        let efi = read(&ROM[1024..]).unwrap();
        assert!(efi.notes.is_empty(), "{:?}", efi.notes);
        assert_eq!(efi.size, 512);
        assert_eq!(efi.entries.len(), 1);
        assert_eq!(efi.entries[0].path, "efi-x64.efi");
        assert_eq!(efi.entries[0].data, DRIVER);
        assert_eq!(
            efi.detail.as_deref(),
            Some(
                "PCI option ROM 8086:100e, class 020000, EFI x64 boot service driver, \
                 EFI-compressed, code revision 0x102"
            )
        );
    }

    #[test]
    fn truncation_and_bit_flips_never_panic() {
        for cut in 0..ROM.len() {
            let _ = read(&ROM[..cut]);
            let _ = read(&ROM[1024..][..cut.min(512)]);
        }
        let mut data = ROM.to_vec();
        for at in 0..data.len() {
            data[at] ^= 0x41;
            let _ = read(&data);
            let _ = read(&data[1024..]);
            data[at] ^= 0x41;
        }
        assert!(matches!(
            read(&ROM[1024..1500]),
            Err(Rejection::Corrupt(m)) if m.contains("declares 512 bytes")
        ));
    }

    #[test]
    fn a_chance_55_aa_is_not_a_rom() {
        assert_eq!(
            read(b"\x55\xaa some code bytes that are not a ROM header at all").unwrap_err(),
            Rejection::NotThisFormat
        );
    }
}
