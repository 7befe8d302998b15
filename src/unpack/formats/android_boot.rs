//! Android boot images (`ANDROID!`, header versions 0 to 4) and vendor boot
//! images (`VNDRBOOT`, versions 3 and 4), laid out as AOSP's
//! `include/bootimg/bootimg.h` says: a header page, then each part padded
//! to the page size. Boot images hold the kernel, ramdisk, second-stage
//! loader, recovery DTBO (v1-v2), DTB (v2) and boot signature (v4); vendor
//! boot images the vendor ramdisk (v4: a table of named ramdisks), the DTB
//! and the bootconfig. The header's OS version and security patch level
//! and the kernel command line are the layer's facts.
//!
//! Bounds: each part must lie inside the image (a truncated part is kept as
//! far as it goes, with a note); every part is drawn from the budget.

use super::{Entry, Extracted, Format, Problem, Rejection, le32, le64};
use crate::unpack::limits::Budget;
use crate::unpack::tree::EntryKind;

pub struct AndroidBoot;
pub struct AndroidVendorBoot;

/// v3 and v4 boot images have a fixed page size.
const V3_PAGE: u64 = 4096;
const MAX_RAMDISKS: u32 = 64;

/// `os_version`: A.B.C in the high 21 bits, patch level year and month below.
fn os_version(v: u32) -> Option<String> {
    if v == 0 {
        return None;
    }
    let (a, b, c) = ((v >> 25) & 0x7f, (v >> 18) & 0x7f, (v >> 11) & 0x7f);
    let (year, month) = (((v >> 4) & 0x7f) + 2000, v & 0xf);
    Some(format!(
        "OS {a}.{b}.{c}, security patch level {year}-{month:02}"
    ))
}

/// A NUL-terminated text field.
fn field(data: &[u8], at: usize, len: usize) -> String {
    let raw = data.get(at..at + len).unwrap_or_default();
    let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
    String::from_utf8_lossy(&raw[..end]).trim().to_string()
}

/// Cuts the parts (name, size) laid out one after another from `start`,
/// each padded to `page`, into entries.
struct Parts<'a> {
    data: &'a [u8],
    page: u64,
    at: u64,
    out: Extracted,
}

impl Parts<'_> {
    fn skip_pages(&mut self, size: u64) {
        self.at = self
            .at
            .saturating_add(size.div_ceil(self.page).saturating_mul(self.page));
    }

    /// The next part, `size` bytes at the current position.
    fn take(&mut self, name: &str, size: u64, budget: &mut Budget) {
        if size == 0 {
            return;
        }
        let from = self.at;
        self.skip_pages(size);
        self.cut(name, from, size, budget);
        self.out.size = self.out.size.max(self.at.min(self.data.len() as u64));
    }

    /// `size` bytes at `from` as entry `name`.
    fn cut(&mut self, name: &str, from: u64, size: u64, budget: &mut Budget) {
        let len = self.data.len() as u64;
        let end = from.saturating_add(size);
        if from >= len {
            self.out.notes.push(Problem::Error(format!(
                "{name}: {size} bytes at {from:#x} lie past the end of the {len}-byte image"
            )));
            return;
        }
        if end > len {
            self.out.notes.push(Problem::Error(format!(
                "{name}: {size} bytes at {from:#x} run past the end of the {len}-byte image; kept as far as it goes"
            )));
        }
        let bytes = &self.data[from as usize..end.min(len) as usize];
        let n = bytes.len() as u64;
        if let Err(bound) = budget.charge_file(n) {
            self.out.notes.push(Problem::Limit(format!(
                "{name}: {n} bytes reach {bound}; skipped"
            )));
            return;
        }
        self.out.entries.push(Entry {
            path: name.to_string(),
            kind: EntryKind::File,
            data: bytes.to_vec(),
            meta: None,
        });
    }
}

impl Format for AndroidBoot {
    fn name(&self) -> &'static str {
        "android-boot"
    }

    fn magics(&self) -> &'static [&'static [u8]] {
        &[b"ANDROID!"]
    }

    fn extract(&self, data: &[u8], budget: &mut Budget) -> Result<Extracted, Rejection> {
        let u = |at: usize| {
            le32(data, at)
                .map(u64::from)
                .ok_or(Rejection::NotThisFormat)
        };
        let mut version = u(40)?;
        // Before header versions this word was unused; Qualcomm's images put
        // the size of their device tree table (`dt.img`) there, after `second`.
        let mut qcom_dt = 0;
        if version > 4 {
            qcom_dt = version;
            version = 0;
        }
        let (page, kernel, ramdisk) = match version {
            0..=2 => (u(36)?, u(8)?, u(16)?),
            _ => (V3_PAGE, u(8)?, u(12)?),
        };
        if !(2048..=65536).contains(&page) || !page.is_power_of_two() {
            return Err(Rejection::NotThisFormat);
        }
        let os = u32::try_from(if version >= 3 { u(16)? } else { u(44)? }).unwrap_or(0);
        if qcom_dt > 0 && qcom_dt >= data.len() as u64 {
            return Err(Rejection::NotThisFormat);
        }
        let mut facts = vec![format!("Android boot image v{version}")];
        facts.extend(os_version(os));
        let cmdline = if version >= 3 {
            field(data, 44, 1536)
        } else {
            let name = field(data, 48, 16);
            if !name.is_empty() {
                facts.push(format!("board \"{name}\""));
            }
            field(data, 64, 512) + &field(data, 608, 1024)
        };
        if !cmdline.is_empty() {
            facts.push(format!("cmdline \"{cmdline}\""));
        }
        let mut parts = Parts {
            data,
            page,
            at: page,
            out: Extracted::default(),
        };
        parts.take("kernel", kernel, budget);
        parts.take("ramdisk", ramdisk, budget);
        match version {
            0..=2 => {
                parts.take("second", u(24)?, budget);
                parts.take("dt", qcom_dt, budget);
                if version >= 1 {
                    parts.take("recovery_dtbo", u(1632)?, budget);
                }
                if version == 2 {
                    parts.take("dtb", u(1648)?, budget);
                }
            }
            4 => parts.take("boot_signature", u(1580)?, budget),
            _ => {}
        }
        parts.out.size = parts.out.size.max(page.min(data.len() as u64));
        parts.out.detail = Some(facts.join(", "));
        Ok(parts.out)
    }
}

impl Format for AndroidVendorBoot {
    fn name(&self) -> &'static str {
        "android-vendor-boot"
    }

    fn magics(&self) -> &'static [&'static [u8]] {
        &[b"VNDRBOOT"]
    }

    fn extract(&self, data: &[u8], budget: &mut Budget) -> Result<Extracted, Rejection> {
        let u = |at: usize| {
            le32(data, at)
                .map(u64::from)
                .ok_or(Rejection::NotThisFormat)
        };
        let (version, page, header_size) = (u(8)?, u(12)?, u(2096)?);
        if !(3..=4).contains(&version)
            || !(2048..=65536).contains(&page)
            || !page.is_power_of_two()
            || !(2108..=16384).contains(&header_size)
        {
            return Err(Rejection::NotThisFormat);
        }
        let mut facts = vec![format!("Android vendor boot image v{version}")];
        let name = field(data, 2080, 16);
        if !name.is_empty() {
            facts.push(format!("board \"{name}\""));
        }
        let cmdline = field(data, 28, 2048);
        if !cmdline.is_empty() {
            facts.push(format!("cmdline \"{cmdline}\""));
        }
        let ramdisks = u(24)?;
        let dtb = u(2100)?;
        let _dtb_addr = le64(data, 2104);
        let mut parts = Parts {
            data,
            page,
            at: header_size.div_ceil(page) * page,
            out: Extracted::default(),
        };
        let ramdisk_at = parts.at;
        if version == 3 {
            parts.take("vendor_ramdisk", ramdisks, budget);
            parts.take("dtb", dtb, budget);
        } else {
            let (table, count, entry) = (u(2112)?, u(2116)?, u(2120)?);
            let bootconfig = u(2124)?;
            parts.skip_pages(ramdisks);
            parts.take("dtb", dtb, budget);
            let table_at = parts.at;
            parts.skip_pages(table);
            parts.take("bootconfig", bootconfig, budget);
            parts.out.size = parts.out.size.max(parts.at.min(data.len() as u64));
            if count > u64::from(MAX_RAMDISKS) || entry < 108 || count * entry > table {
                parts.out.notes.push(Problem::Error(format!(
                    "vendor ramdisk table: {count} entries of {entry} bytes do not fit its {table} bytes"
                )));
            } else {
                for i in 0..count {
                    let at = (table_at + i * entry) as usize;
                    let (Some(size), Some(offset)) = (le32(data, at), le32(data, at + 4)) else {
                        parts.out.notes.push(Problem::Error(format!(
                            "vendor ramdisk table entry {i} lies past the end of the image"
                        )));
                        break;
                    };
                    let label = field(data, at + 12, 32).replace('/', "_");
                    let label = if label.is_empty() {
                        format!("{i}")
                    } else {
                        label
                    };
                    if u64::from(offset) + u64::from(size) > ramdisks {
                        parts.out.notes.push(Problem::Error(format!(
                            "vendor ramdisk {label}: {size} bytes at {offset} lie outside the {ramdisks}-byte ramdisk section"
                        )));
                        continue;
                    }
                    parts.cut(
                        &format!("vendor_ramdisk/{label}"),
                        ramdisk_at + u64::from(offset),
                        u64::from(size),
                        budget,
                    );
                }
                facts.push(format!("{count} vendor ramdisks"));
            }
        }
        parts.out.size = parts.out.size.max(page.min(data.len() as u64));
        parts.out.detail = Some(facts.join(", "));
        Ok(parts.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unpack::formats::listing;
    use crate::unpack::limits::Limits;

    /// mkbootimg v0, v2 (DTB), v3 + vendor boot v3; android-v4.py v4 and
    /// vendor boot v4 (make.sh). Kernel: gzip'd text.txt (231 bytes);
    /// ramdisk: gzip'd newc cpio (187); DTB: plain.dtb (202).
    const V0: &[u8] = include_bytes!("../../../tests/fixtures/android-boot-v0.img");
    const V2: &[u8] = include_bytes!("../../../tests/fixtures/android-boot-v2.img");
    const V3: &[u8] = include_bytes!("../../../tests/fixtures/android-boot-v3.img");
    const V4: &[u8] = include_bytes!("../../../tests/fixtures/android-boot-v4.img");
    const VENDOR_V3: &[u8] = include_bytes!("../../../tests/fixtures/android-vendor-boot-v3.img");
    const VENDOR_V4: &[u8] = include_bytes!("../../../tests/fixtures/android-vendor-boot-v4.img");

    fn read(format: &dyn Format, data: &[u8]) -> Result<Extracted, Rejection> {
        format.extract(data, &mut Budget::new(Limits::default()))
    }

    #[test]
    fn every_header_version_lists_its_parts_and_facts() {
        let cases: [(&[u8], &[&str], &str); 4] = [
            (
                V0,
                &["kernel 231", "ramdisk 187"],
                "Android boot image v0, OS 11.0.0, security patch level 2021-03, board \"fixture\", \
                 cmdline \"console=ttyS0 quiet\"",
            ),
            (
                V2,
                &["dtb 202", "kernel 231", "ramdisk 187"],
                "Android boot image v2, OS 11.0.0, security patch level 2021-03, \
                 cmdline \"console=ttyS0 quiet\"",
            ),
            (
                V3,
                &["kernel 231", "ramdisk 187"],
                "Android boot image v3, OS 11.0.0, security patch level 2021-03, \
                 cmdline \"console=ttyS0 quiet\"",
            ),
            (
                V4,
                &["boot_signature 64", "kernel 231", "ramdisk 187"],
                "Android boot image v4, OS 13.0.0, security patch level 2023-06, \
                 cmdline \"console=ttyS0 v4\"",
            ),
        ];
        for (image, files, detail) in cases {
            let out = read(&AndroidBoot, image).unwrap();
            assert!(out.notes.is_empty(), "{:?}", out.notes);
            assert_eq!(listing(&out), files);
            assert_eq!(out.detail.as_deref(), Some(detail));
            assert_eq!(out.size as usize, image.len());
        }
        let out = read(&AndroidVendorBoot, VENDOR_V3).unwrap();
        assert!(out.notes.is_empty(), "{:?}", out.notes);
        assert_eq!(listing(&out), ["dtb 202", "vendor_ramdisk 187"]);
        assert_eq!(
            out.detail.as_deref(),
            Some(
                "Android vendor boot image v3, board \"fixture\", \
                 cmdline \"androidboot.hardware=fixture\""
            )
        );
        let out = read(&AndroidVendorBoot, VENDOR_V4).unwrap();
        assert!(out.notes.is_empty(), "{:?}", out.notes);
        assert_eq!(
            listing(&out),
            [
                "bootconfig 29",
                "dtb 202",
                "vendor_ramdisk/platform 187",
                "vendor_ramdisk/recovery 22"
            ]
        );
        assert_eq!(out.size as usize, VENDOR_V4.len());
    }

    #[test]
    fn truncation_and_flips_never_panic() {
        for (format, image) in [
            (&AndroidBoot as &dyn Format, V2),
            (&AndroidBoot, V4),
            (&AndroidVendorBoot, VENDOR_V4),
        ] {
            let whole = listing(&read(format, image).unwrap());
            for cut in (0..image.len()).step_by(97) {
                if let Ok(out) = read(format, &image[..cut]) {
                    // Only padding cut off: every part is whole.
                    assert!(!out.notes.is_empty() || listing(&out) == whole, "cut {cut}");
                }
            }
            let mut data = image.to_vec();
            let len = data.len();
            for at in (0..2200).chain(8192..8300).filter(|&at| at < len) {
                data[at] ^= 0x80;
                let _ = read(format, &data);
                data[at] ^= 0x80;
            }
        }
    }

    #[test]
    fn a_qualcomm_dt_size_in_the_version_word_is_a_dt_part() {
        // v0 with the device tree table's size where the version now is.
        let mut image = V0.to_vec();
        image[40..44].copy_from_slice(&100u32.to_le_bytes());
        image.extend_from_slice(&[0xd7; 2048]);
        let out = read(&AndroidBoot, &image).unwrap();
        assert_eq!(listing(&out), ["dt 100", "kernel 231", "ramdisk 187"]);
    }
}
