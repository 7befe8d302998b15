//! UEFI capsules (UEFI specification chapter 23): an `EFI_CAPSULE_HEADER`
//! (capsule GUID, header size, flags, image size), then, by GUID:
//!
//! - the FMP capsule (`EFI_FIRMWARE_MANAGEMENT_CAPSULE_HEADER`): embedded
//!   drivers and payload items, each payload with its image type GUID,
//!   update image index and hardware instance; inside a payload EDK II puts
//!   the image authentication (monotonic count and a PKCS7 or RSA2048
//!   signature), a dependency expression and its FMP payload header
//!   (`MSS1`: firmware version and lowest supported version);
//! - the UX capsule: a BMP shown while the update runs (whole-capsule checksum);
//! - the plain EFI capsule: the rest is the payload.
//!
//! Each payload, driver and image becomes a file (a payload's firmware
//! volumes then open with [`super::uefi`]); the header values are facts in
//! the layer's detail. Every size is checked against the capsule and every
//! byte kept is drawn from the budget.

use super::uefi::guid;
use super::{Entry, Extracted, Format, Notes, Problem, Rejection, le16, le32, le64};
use crate::unpack::limits::Budget;
use crate::unpack::tree::EntryKind;

pub struct UefiCapsule;

const FMP: &str = "6dcbd5ed-e82d-4c44-bda1-7194199ad92a";
const UX: &str = "3b8c8162-188c-46a4-aec9-be43f1d65697";
const EFI: &str = "3b6686bd-0d76-4030-b70e-b5519e2fc5a0";

/// The GUIDs above as they sit in the header (first three fields little-endian).
const MAGICS: &[&[u8]] = &[
    &[
        0xed, 0xd5, 0xcb, 0x6d, 0x2d, 0xe8, 0x44, 0x4c, 0xbd, 0xa1, 0x71, 0x94, 0x19, 0x9a, 0xd9,
        0x2a,
    ],
    &[
        0x62, 0x81, 0x8c, 0x3b, 0x8c, 0x18, 0xa4, 0x46, 0xae, 0xc9, 0xbe, 0x43, 0xf1, 0xd6, 0x56,
        0x97,
    ],
    &[
        0xbd, 0x86, 0x66, 0x3b, 0x76, 0x0d, 0x30, 0x40, 0xb7, 0x0e, 0xb5, 0x51, 0x9e, 0x2f, 0xc5,
        0xa0,
    ],
];

/// `sizeof (EFI_CAPSULE_HEADER)`.
const HEADER: u32 = 28;
/// Flag bits the specification defines: the OEM's low 16, and
/// PersistAcrossReset, PopulateSystemTable, InitiateReset.
const KNOWN_FLAGS: u32 = 0x0007_ffff;
/// Items (drivers plus payloads) an FMP capsule may list: far more than any
/// real one, few enough that a hostile count costs nothing.
const MAX_ITEMS: usize = 1024;

const CERT_PKCS7: &str = "4aafd29d-68df-49ee-8aa9-347d375665a7";
const CERT_RSA2048_SHA256: &str = "a7717414-c616-4977-9420-844712a735bf";
/// `WIN_CERT_TYPE_EFI_GUID`, `WIN_CERT_REVISION` 2.0.
const WIN_CERT_TYPE_EFI_GUID: u16 = 0x0ef1;
const WIN_CERT_REVISION: u16 = 0x0200;
/// ImageCapsuleSupport bits (image header version 3).
const SUPPORT_AUTHENTICATION: u64 = 1;
const SUPPORT_DEPENDENCY: u64 = 2;

/// The checked capsule header.
struct Header {
    kind: &'static str,
    header_size: usize,
    flags: u32,
    /// What the header declares for the whole capsule.
    len: u64,
}

fn header(data: &[u8]) -> Option<Header> {
    let kind = match guid(data.get(..16)?).as_str() {
        FMP => FMP,
        UX => UX,
        EFI => EFI,
        _ => return None,
    };
    let (header_size, flags, len) = (le32(data, 16)?, le32(data, 20)?, le32(data, 24)?);
    if header_size < HEADER || header_size > len || flags & !KNOWN_FLAGS != 0 {
        return None;
    }
    Some(Header {
        kind,
        header_size: header_size as usize,
        flags,
        len: u64::from(len),
    })
}

/// The defined flags by name, and the OEM flags as a number.
fn flag_names(flags: u32) -> Vec<String> {
    let mut out: Vec<String> = [
        (0x1_0000, "PersistAcrossReset"),
        (0x2_0000, "PopulateSystemTable"),
        (0x4_0000, "InitiateReset"),
    ]
    .iter()
    .filter(|(bit, _)| flags & bit != 0)
    .map(|(_, name)| name.to_string())
    .collect();
    if flags & 0xffff != 0 {
        out.push(format!("OEM {:#06x}", flags & 0xffff));
    }
    out
}

/// What one capsule yields.
struct Reading<'b> {
    budget: &'b mut Budget,
    entries: Vec<Entry>,
    notes: Notes,
    facts: Vec<String>,
}

impl Reading<'_> {
    fn error(&mut self, message: String) {
        self.notes.push(Problem::Error(message));
    }

    fn push(&mut self, path: String, data: &[u8]) {
        if let Err(bound) = self.budget.entry() {
            self.notes.push(Problem::Limit(format!(
                "capsule: {bound} reached; {path} skipped"
            )));
            return;
        }
        if let Err(bound) = self.budget.charge_file(data.len() as u64) {
            self.notes.push(Problem::Limit(format!(
                "capsule: {path}: {} bytes reach {bound}; skipped",
                data.len()
            )));
            return;
        }
        self.entries.push(Entry {
            path,
            kind: EntryKind::File,
            data: data.to_vec(),
            meta: None,
        });
    }

    /// An FMP capsule body (at the end of the capsule header).
    fn fmp(&mut self, body: &[u8], at: usize) {
        let (Some(version), Some(drivers), Some(payloads)) =
            (le32(body, 0), le16(body, 4), le16(body, 6))
        else {
            self.error(format!(
                "FMP capsule header at {at:#x} is truncated: {} of 8 bytes",
                body.len()
            ));
            return;
        };
        if version != 1 {
            self.error(format!(
                "FMP capsule header at {at:#x}: version {version}, only 1 is defined; not read"
            ));
            return;
        }
        let (drivers, payloads) = (usize::from(drivers), usize::from(payloads));
        let count = drivers + payloads;
        self.facts
            .push(format!("{drivers} embedded drivers, {payloads} payloads"));
        if count > MAX_ITEMS {
            self.error(format!(
                "FMP capsule header at {at:#x} lists {count} items, more than {MAX_ITEMS}; not read"
            ));
            return;
        }
        let mut offsets = Vec::with_capacity(count);
        for i in 0..count {
            match le64(body, 8 + 8 * i) {
                Some(o) if o >= 8 + 8 * count as u64 && o < body.len() as u64 => {
                    offsets.push(o as usize)
                }
                Some(o) => {
                    self.error(format!(
                        "FMP capsule item {i} at offset {o:#x} lies outside the {} bytes after the header at {at:#x}",
                        body.len()
                    ));
                    return;
                }
                None => {
                    self.error(format!(
                        "FMP capsule item list at {at:#x} is truncated after {i} of {count} items"
                    ));
                    return;
                }
            }
        }
        // An item ends where the next begins (the last at the capsule's end).
        for (i, &start) in offsets.iter().enumerate() {
            let end = offsets.get(i + 1).copied().unwrap_or(body.len());
            let Some(item) = body.get(start..end.max(start)) else {
                continue;
            };
            if i < drivers {
                self.push(format!("driver{}.efi", i + 1), item);
            } else {
                self.payload(item, i - drivers + 1, at + start);
            }
        }
    }

    /// One FMP payload item: its image header, then the image (with its
    /// authentication, dependencies and FMP payload header), then vendor code.
    fn payload(&mut self, item: &[u8], n: usize, at: usize) {
        let (Some(version), Some(type_id), Some(&index), Some(size), Some(vendor)) = (
            le32(item, 0),
            item.get(4..20),
            item.get(20),
            le32(item, 24),
            le32(item, 28),
        ) else {
            self.error(format!(
                "FMP payload {n} at {at:#x}: image header is truncated ({} bytes)",
                item.len()
            ));
            return;
        };
        let header_len: usize = match version {
            1 => 32,
            2 => 40,
            3 => 48,
            other => {
                self.error(format!(
                    "FMP payload {n} at {at:#x}: image header version {other} is not 1 to 3; not read"
                ));
                return;
            }
        };
        let type_id = guid(type_id);
        let instance = if version >= 2 {
            le64(item, 32)
        } else {
            Some(0)
        };
        let support = if version >= 3 { le64(item, 40) } else { None };
        let mut fact = format!("payload {n}: image type {type_id}, index {index}");
        if let Some(i) = instance.filter(|&i| i != 0) {
            fact += &format!(", hardware instance {i:#x}");
        }
        let (size, vendor) = (size as usize, vendor as usize);
        let Some(image) = item.get(header_len..header_len.saturating_add(size)) else {
            self.facts.push(fact);
            self.error(format!(
                "FMP payload {n} at {at:#x}: image of {size} bytes, {} left in the item",
                item.len().saturating_sub(header_len)
            ));
            return;
        };
        let mut rest = image;
        let authenticated = support.map_or_else(
            || looks_authenticated(image),
            |s| s & SUPPORT_AUTHENTICATION != 0,
        );
        if authenticated {
            match authentication(image) {
                Ok((what, len)) => {
                    fact += &format!(", {what}");
                    rest = &image[len..];
                }
                Err(e) => {
                    self.facts.push(fact);
                    self.error(format!("FMP payload {n} at {at:#x}: {e}"));
                    return;
                }
            }
        }
        if support.is_some_and(|s| s & SUPPORT_DEPENDENCY != 0) {
            match dependency_len(rest) {
                Some(len) => {
                    fact += &format!(", dependency expression of {len} bytes");
                    rest = &rest[len..];
                }
                None => {
                    self.facts.push(fact);
                    self.error(format!(
                        "FMP payload {n} at {at:#x}: dependency expression has no end"
                    ));
                    return;
                }
            }
        }
        if rest.starts_with(b"MSS1")
            && let (Some(len), Some(fw), Some(lowest)) =
                (le32(rest, 4), le32(rest, 8), le32(rest, 12))
            && (16..=rest.len() as u64).contains(&u64::from(len))
        {
            fact += &format!(", firmware version {fw:#010x} (lowest supported {lowest:#010x})");
            rest = &rest[len as usize..];
        }
        self.facts.push(fact);
        self.push(format!("payload{n}-{type_id}.bin"), rest);
        let vendor_at = header_len + size;
        match item.get(vendor_at..vendor_at.saturating_add(vendor)) {
            Some([]) => {}
            Some(code) => self.push(format!("payload{n}-vendor-code.bin"), code),
            None => self.error(format!(
                "FMP payload {n} at {at:#x}: vendor code of {vendor} bytes, {} left in the item",
                item.len().saturating_sub(vendor_at)
            )),
        }
    }

    /// A UX capsule body: version, checksum, image type, mode and offsets,
    /// then the image.
    fn ux(&mut self, body: &[u8], capsule: &[u8], at: usize) {
        let (Some(&version), Some(&kind), Some(mode), Some(x), Some(y)) = (
            body.first(),
            body.get(2),
            le32(body, 4),
            le32(body, 8),
            le32(body, 12),
        ) else {
            self.error(format!(
                "UX capsule display header at {at:#x} is truncated: {} of 16 bytes",
                body.len()
            ));
            return;
        };
        let format = match kind {
            0 => "BMP",
            _ => "unknown",
        };
        self.facts.push(format!(
            "display payload version {version}, {format} image, mode {mode}, at ({x}, {y})"
        ));
        let sum = capsule.iter().fold(0u8, |s, &b| s.wrapping_add(b));
        if sum != 0 {
            self.error(format!("UX capsule checksum is off by {sum:#04x}"));
        }
        let name = if kind == 0 { "image.bmp" } else { "image.bin" };
        self.push(name.into(), &body[16..]);
    }
}

/// True when an image starts with `EFI_FIRMWARE_IMAGE_AUTHENTICATION`: a
/// monotonic count, then a `WIN_CERTIFICATE_UEFI_GUID` header. For image
/// headers before version 3, which do not say.
fn looks_authenticated(image: &[u8]) -> bool {
    le16(image, 12) == Some(WIN_CERT_REVISION) && le16(image, 14) == Some(WIN_CERT_TYPE_EFI_GUID)
}

/// What signs the image, and how many bytes its authentication takes.
fn authentication(image: &[u8]) -> Result<(String, usize), String> {
    let (Some(count), Some(len), Some(cert)) = (le64(image, 0), le32(image, 8), image.get(16..32))
    else {
        return Err(format!(
            "image authentication is truncated ({} bytes)",
            image.len()
        ));
    };
    if !looks_authenticated(image) {
        return Err("image authentication has no WIN_CERTIFICATE_UEFI_GUID header".into());
    }
    let total = 8usize.saturating_add(len as usize);
    if (len as usize) < 24 || total > image.len() {
        return Err(format!(
            "image authentication declares a {len}-byte certificate, {} bytes in the image",
            image.len() - 8
        ));
    }
    let scheme = match guid(cert).as_str() {
        CERT_PKCS7 => "PKCS7".to_string(),
        CERT_RSA2048_SHA256 => "RSA2048/SHA256".to_string(),
        other => format!("certificate type {other}"),
    };
    Ok((
        format!(
            "signed ({scheme}, {} certificate bytes), monotonic count {count}",
            len - 24
        ),
        total,
    ))
}

/// Bytes of an `EFI_FIRMWARE_IMAGE_DEP` expression, its `END` opcode
/// included; `None` when it has none.
fn dependency_len(data: &[u8]) -> Option<usize> {
    let mut at = 0;
    loop {
        let op = *data.get(at)?;
        at += match op {
            0x00 => 17,       // PUSH_GUID
            0x01 | 0x0e => 5, // PUSH_VERSION, DECLARE_LENGTH
            0x02 => {
                // DECLARE_VERSION_NAME: a NUL-terminated string
                let nul = data.get(at + 1..)?.iter().position(|&b| b == 0)?;
                nul + 2
            }
            0x03..=0x0c => 1,
            0x0d => return Some(at + 1), // END
            _ => return None,
        };
    }
}

impl Format for UefiCapsule {
    fn name(&self) -> &'static str {
        "uefi-capsule"
    }

    fn magics(&self) -> &'static [&'static [u8]] {
        MAGICS
    }

    fn declared_len(&self, data: &[u8]) -> Option<u64> {
        header(data).map(|h| h.len)
    }

    fn extract(&self, data: &[u8], budget: &mut Budget) -> Result<Extracted, Rejection> {
        let h = header(data).ok_or(Rejection::NotThisFormat)?;
        let end = usize::try_from(h.len).unwrap_or(usize::MAX).min(data.len());
        let Some(body) = data.get(h.header_size..end) else {
            return Err(Rejection::Corrupt(format!(
                "capsule header declares {} header bytes, only {} present",
                h.header_size,
                data.len()
            )));
        };
        let mut r = Reading {
            budget,
            entries: Vec::new(),
            notes: Notes::default(),
            facts: Vec::new(),
        };
        if (data.len() as u64) < h.len {
            r.error(format!(
                "capsule truncated: header says {} bytes, only {} present",
                h.len,
                data.len()
            ));
        }
        let what = match h.kind {
            FMP => {
                r.fmp(body, h.header_size);
                "UEFI FMP capsule"
            }
            UX => {
                r.ux(body, &data[..end], h.header_size);
                "UEFI UX capsule"
            }
            _ => {
                r.push("payload.bin".into(), body);
                "UEFI capsule"
            }
        };
        let mut detail = String::from(what);
        let flags = flag_names(h.flags);
        if !flags.is_empty() {
            detail += &format!(", flags {}", flags.join(" "));
        }
        for fact in &r.facts {
            detail += &format!("; {fact}");
        }
        let mut notes = Vec::new();
        r.notes.finish("capsule", &mut notes);
        Ok(Extracted {
            size: end as u64,
            entries: r.entries,
            filesystem: false,
            scanned_in_place: false,
            detail: Some(detail),
            notes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unpack::formats::listing;
    use crate::unpack::limits::Limits;

    /// By EDK II's GenerateCapsule (tests/fixtures/fwuefi/make.sh), payload ../uefi.fv.
    const FMP_CAP: &[u8] = include_bytes!("../../../tests/fixtures/fwuefi/fmp.cap");
    const SIGNED: &[u8] = include_bytes!("../../../tests/fixtures/fwuefi/fmp-signed.cap");
    const MULTI: &[u8] = include_bytes!("../../../tests/fixtures/fwuefi/fmp-multi.cap");
    /// After the UEFI specification by uefi-more.py.
    const UX_CAP: &[u8] = include_bytes!("../../../tests/fixtures/fwuefi/ux.cap");
    const FV: &[u8] = include_bytes!("../../../tests/fixtures/uefi.fv");

    fn read(data: &[u8]) -> Result<Extracted, Rejection> {
        UefiCapsule.extract(data, &mut Budget::new(Limits::default()))
    }

    #[test]
    fn the_magics_are_the_capsule_guids() {
        let guids: Vec<String> = MAGICS.iter().map(|m| guid(m)).collect();
        assert_eq!(guids, [FMP, UX, EFI]);
    }

    #[test]
    fn an_fmp_capsule_yields_its_volume_and_its_versions() {
        let out = read(FMP_CAP).unwrap();
        assert!(out.notes.is_empty(), "{:?}", out.notes);
        assert_eq!(out.size, 0x470);
        assert_eq!(
            listing(&out),
            ["payload1-11111111-2222-4333-8444-666666666666.bin 1024"]
        );
        assert_eq!(out.entries[0].data, FV);
        assert_eq!(
            out.detail.as_deref(),
            Some(
                "UEFI FMP capsule, flags PersistAcrossReset; 0 embedded drivers, 1 payloads; \
                 payload 1: image type 11111111-2222-4333-8444-666666666666, index 1, \
                 firmware version 0x00010203 (lowest supported 0x00010000)"
            )
        );
    }

    #[test]
    fn a_signed_payload_names_its_signature_and_count() {
        let out = read(SIGNED).unwrap();
        assert!(out.notes.is_empty(), "{:?}", out.notes);
        assert_eq!(out.entries.len(), 1);
        assert_eq!(out.entries[0].data, FV);
        assert_eq!(
            out.detail.as_deref(),
            Some(
                "UEFI FMP capsule; 0 embedded drivers, 1 payloads; payload 1: image type \
                 11111111-2222-4333-8444-777777777777, index 1, signed (PKCS7, 2773 certificate \
                 bytes), monotonic count 7, firmware version 0x00020001 (lowest supported 0x00020000)"
            )
        );
    }

    #[test]
    fn drivers_and_several_payloads() {
        let out = read(MULTI).unwrap();
        assert!(out.notes.is_empty(), "{:?}", out.notes);
        assert_eq!(
            listing(&out),
            [
                "driver1.efi 127",
                "payload1-11111111-2222-4333-8444-888888888888.bin 1024",
                "payload2-11111111-2222-4333-8444-999999999999.bin 156",
            ]
        );
        assert!(out.entries[0].data.starts_with(b"MZ"));
        assert_eq!(
            out.detail.as_deref(),
            Some(
                "UEFI FMP capsule; 1 embedded drivers, 2 payloads; payload 1: image type \
                 11111111-2222-4333-8444-888888888888, index 1, firmware version 0x00000105 \
                 (lowest supported 0x00000100); payload 2: image type \
                 11111111-2222-4333-8444-999999999999, index 2, firmware version 0x00000007 \
                 (lowest supported 0x00000001)"
            )
        );
    }

    #[test]
    fn a_ux_capsule_yields_its_image_and_checks_its_sum() {
        let out = read(UX_CAP).unwrap();
        assert!(out.notes.is_empty(), "{:?}", out.notes);
        assert_eq!(listing(&out), ["image.bmp 78"]);
        assert!(out.entries[0].data.starts_with(b"BM"));
        assert_eq!(
            out.detail.as_deref(),
            Some(
                "UEFI UX capsule, flags PersistAcrossReset InitiateReset; display payload \
                 version 1, BMP image, mode 0, at (16, 32)"
            )
        );
        let mut bad = UX_CAP.to_vec();
        bad[60] ^= 1;
        assert_eq!(
            read(&bad).unwrap().notes,
            [Problem::Error("UX capsule checksum is off by 0x01".into())]
        );
    }

    #[test]
    fn truncation_is_a_note_or_a_refusal_never_a_panic() {
        for capsule in [FMP_CAP, SIGNED, MULTI, UX_CAP] {
            for cut in 0..capsule.len() {
                match read(&capsule[..cut]) {
                    Ok(out) => assert!(!out.notes.is_empty(), "cut {cut}"),
                    Err(Rejection::NotThisFormat) => assert!(cut < 28, "cut {cut}"),
                    Err(Rejection::Corrupt(_)) => assert!(cut < 0x30, "cut {cut}"),
                    Err(e) => panic!("cut {cut}: {e:?}"),
                }
            }
        }
    }

    #[test]
    fn bit_flips_never_panic_and_stay_within_the_capsule() {
        for capsule in [FMP_CAP, SIGNED, MULTI, UX_CAP] {
            let mut data = capsule.to_vec();
            for at in 0..data.len().min(0x200) {
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

    #[test]
    fn entries_and_bytes_are_bounded() {
        let limits = Limits {
            max_entries: 1,
            ..Limits::default()
        };
        let out = UefiCapsule
            .extract(MULTI, &mut Budget::new(limits))
            .unwrap();
        assert_eq!(out.entries.len(), 1);
        assert_eq!(out.notes.len(), 2, "{:?}", out.notes);
        assert!(out.notes.iter().all(|n| matches!(n, Problem::Limit(_))));
        let limits = Limits {
            max_file_size: 1000,
            ..Limits::default()
        };
        let out = UefiCapsule
            .extract(FMP_CAP, &mut Budget::new(limits))
            .unwrap();
        assert!(out.entries.is_empty());
        assert!(matches!(&out.notes[..], [Problem::Limit(m)] if m.contains("--max-file-size")));
    }
}
