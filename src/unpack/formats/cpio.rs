//! cpio archives: "newc" (`070701`), "crc" (`070702`, newc plus a byte-sum
//! checksum) and portable "odc" (`070707`, octal). An initramfs is a cpio, so
//! entries form a file system namespace. Ends at the `TRAILER!!!` entry.

use super::{Entry, Extracted, Format, Problem, Rejection};
use crate::unpack::limits::Budget;
use crate::unpack::tree::{EntryKind, Meta};
use std::collections::HashMap;

pub struct Cpio;

/// Longest name accepted (PATH_MAX); a longer one is corruption.
const MAX_NAME: usize = 4096;
const S_IFMT: u32 = 0o170000;
const S_IFREG: u32 = 0o100000;
const S_IFDIR: u32 = 0o040000;
const S_IFLNK: u32 = 0o120000;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Variant {
    Newc,
    Crc,
    Odc,
}

/// One parsed header, before the name and data are read.
struct Header {
    /// Device and inode: newc/crc hard links share them.
    inode: (u32, u32, u32),
    nlink: u32,
    mode: u32,
    uid: u32,
    gid: u32,
    file_size: usize,
    name_size: usize,
    check: u32,
    /// Bytes of the fixed header.
    len: usize,
}

fn number(field: &[u8], radix: u32) -> Option<u64> {
    let text = std::str::from_utf8(field).ok()?;
    if text.is_empty() || !text.bytes().all(|b| (b as char).is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(text, radix).ok()
}

fn header(data: &[u8]) -> Option<(Variant, Header)> {
    let variant = match data.get(..6)? {
        b"070701" => Variant::Newc,
        b"070702" => Variant::Crc,
        b"070707" => Variant::Odc,
        _ => return None,
    };
    if variant == Variant::Odc {
        let h = data.get(..76)?;
        let field = |at: usize, len: usize| number(&h[at..at + len], 8);
        return Some((
            variant,
            Header {
                inode: (0, 0, 0),
                nlink: 1,
                mode: u32::try_from(field(18, 6)?).ok()?,
                uid: u32::try_from(field(24, 6)?).ok()?,
                gid: u32::try_from(field(30, 6)?).ok()?,
                name_size: usize::try_from(field(59, 6)?).ok()?,
                file_size: usize::try_from(field(65, 11)?).ok()?,
                check: 0,
                len: 76,
            },
        ));
    }
    let h = data.get(..110)?;
    // Thirteen 8-digit hex fields after the magic; all must be hex.
    let mut fields = [0u32; 13];
    for (i, f) in fields.iter_mut().enumerate() {
        *f = u32::try_from(number(&h[6 + i * 8..14 + i * 8], 16)?).ok()?;
    }
    Some((
        variant,
        Header {
            inode: (fields[7], fields[8], fields[0]),
            nlink: fields[4],
            mode: fields[1],
            uid: fields[2],
            gid: fields[3],
            file_size: fields[6] as usize,
            name_size: fields[11] as usize,
            check: fields[12],
            len: 110,
        },
    ))
}

fn align(at: usize, variant: Variant) -> usize {
    if variant == Variant::Odc {
        at
    } else {
        at.div_ceil(4) * 4
    }
}

impl Format for Cpio {
    fn name(&self) -> &'static str {
        "cpio"
    }

    fn magics(&self) -> &'static [&'static [u8]] {
        &[b"070701", b"070702", b"070707"]
    }

    fn extract(&self, data: &[u8], budget: &mut Budget) -> Result<Extracted, Rejection> {
        // The first header must parse, or this is a chance match.
        let (first, _) = header(data).ok_or(Rejection::NotThisFormat)?;
        let mut out = Extracted {
            filesystem: true,
            detail: Some(
                match first {
                    Variant::Newc => "cpio newc",
                    Variant::Crc => "cpio crc",
                    Variant::Odc => "cpio odc",
                }
                .to_string(),
            ),
            ..Default::default()
        };
        let mut at = 0;
        let mut ended = false;
        // newc/crc store a hard-linked file's data once, on its last link:
        // earlier links (empty) wait here for it.
        let mut waiting: HashMap<(u32, u32, u32), Vec<usize>> = HashMap::new();
        while at < data.len() {
            let Some((variant, h)) = header(&data[at..]) else {
                out.notes.push(Problem::Error(format!(
                    "cpio: no valid entry header at {at:#x}; archive truncated or corrupt"
                )));
                break;
            };
            let name_start = at + h.len;
            let name_end = name_start.saturating_add(h.name_size);
            let data_start = align(name_end, variant);
            let data_end = data_start.saturating_add(h.file_size);
            if h.name_size == 0 || h.name_size > MAX_NAME || data_end > data.len() {
                out.notes.push(Problem::Error(format!(
                    "cpio: entry at {at:#x} (name {} bytes, data {} bytes) runs past the end of the archive",
                    h.name_size, h.file_size
                )));
                break;
            }
            let raw_name = &data[name_start..name_end];
            let Some((&0, name)) = raw_name.split_last() else {
                out.notes.push(Problem::Error(format!(
                    "cpio: entry name at {name_start:#x} is not NUL-terminated"
                )));
                break;
            };
            let name = String::from_utf8_lossy(name).into_owned();
            at = align(data_end, variant);
            out.size = at.min(data.len()) as u64;
            if name == "TRAILER!!!" {
                ended = true;
                break;
            }
            let body = &data[data_start..data_end];
            // cpio sums regular files only (links and devices carry 0).
            if variant == Variant::Crc && h.mode & S_IFMT == S_IFREG {
                let sum = body.iter().fold(0u32, |s, &b| s.wrapping_add(u32::from(b)));
                if sum != h.check {
                    out.notes.push(Problem::Error(format!(
                        "cpio: {name}: data checksum {sum:#x} does not match header {:#x} (entry at {:#x})",
                        h.check, name_start - h.len
                    )));
                }
            }
            let path = name.trim_start_matches("./").trim_start_matches('/');
            if path.is_empty() || path == "." {
                continue;
            }
            if let Err(bound) = budget.entry() {
                out.notes.push(Problem::Limit(format!(
                    "cpio: {bound} reached; the rest of its entries were skipped"
                )));
                break;
            }
            let kind = match h.mode & S_IFMT {
                S_IFREG => EntryKind::File,
                S_IFDIR => EntryKind::Dir,
                S_IFLNK => EntryKind::Symlink(String::from_utf8_lossy(body).into_owned()),
                _ => EntryKind::Special,
            };
            let contents = if kind == EntryKind::File {
                let len = body.len() as u64;
                if let Err(bound) = budget.charge_file(len) {
                    out.notes.push(Problem::Limit(format!(
                        "/{path}: {len} bytes reach {bound}; skipped"
                    )));
                    continue;
                }
                body.to_vec()
            } else {
                Vec::new()
            };
            if kind == EntryKind::File && h.nlink > 1 && variant != Variant::Odc {
                let links = waiting.entry(h.inode).or_default();
                if contents.is_empty() {
                    links.push(out.entries.len());
                } else {
                    for i in std::mem::take(links) {
                        if let Err(bound) = budget.charge(contents.len() as u64) {
                            out.notes.push(Problem::Limit(format!(
                                "/{path}: hard link copies of {} bytes reach {bound}",
                                contents.len()
                            )));
                            break;
                        }
                        out.entries[i].data = contents.clone();
                    }
                }
            }
            out.entries.push(Entry {
                path: path.to_string(),
                kind,
                data: contents,
                meta: Some(Meta::new(h.mode, h.uid, h.gid)),
            });
        }
        if !ended && out.notes.is_empty() {
            out.notes.push(Problem::Error(format!(
                "cpio: archive ends at {:#x} without a TRAILER!!! entry",
                data.len()
            )));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unpack::formats::listing;
    use crate::unpack::limits::Limits;

    /// `cpio -o -H newc`, `-H crc` and `-H odc` of the same tree (see make.sh):
    /// `etc/hostname`, `bin/sh -> busybox`, `bin/busybox`, dirs.
    const NEWC: &[u8] = include_bytes!("../../../tests/fixtures/tree.newc.cpio");
    const CRC: &[u8] = include_bytes!("../../../tests/fixtures/tree.crc.cpio");
    const ODC: &[u8] = include_bytes!("../../../tests/fixtures/tree.odc.cpio");

    #[test]
    fn reads_all_three_variants_of_real_cpio_output() {
        for (fixture, detail) in [(NEWC, "cpio newc"), (CRC, "cpio crc"), (ODC, "cpio odc")] {
            let out = Cpio
                .extract(fixture, &mut Budget::new(Limits::default()))
                .unwrap();
            assert_eq!(out.detail.as_deref(), Some(detail));
            assert!(out.notes.is_empty(), "{detail}: {:?}", out.notes);
            assert_eq!(
                listing(&out),
                [
                    "bin/",
                    "bin/busybox 17",
                    "bin/sh -> busybox",
                    "etc/",
                    "etc/hostname 7"
                ],
                "{detail}"
            );
            assert!(out.size <= fixture.len() as u64 && out.size > 0);
            let hostname = out.entries.iter().find(|e| e.path == "etc/hostname");
            assert_eq!(hostname.unwrap().data, b"router\n");
        }
    }

    #[test]
    fn newc_hard_links_share_the_last_links_data() {
        /// `cpio -o -H newc` of `a` and its hard link `b` (make.sh).
        const LINKS: &[u8] = include_bytes!("../../../tests/fixtures/links.newc.cpio");
        let out = Cpio
            .extract(LINKS, &mut Budget::new(Limits::default()))
            .unwrap();
        assert!(out.notes.is_empty(), "{:?}", out.notes);
        assert_eq!(listing(&out), ["a 7", "b 7"]);
    }

    #[test]
    fn crc_mismatch_is_noted() {
        let mut data = CRC.to_vec();
        let at = data.windows(7).position(|w| w == b"router\n").unwrap();
        data[at] = b'R';
        let out = Cpio
            .extract(&data, &mut Budget::new(Limits::default()))
            .unwrap();
        assert!(
            matches!(&out.notes[..], [Problem::Error(m)] if m.contains("checksum")),
            "{:?}",
            out.notes
        );
    }

    #[test]
    fn truncation_is_an_error_note_never_a_panic() {
        let full = Cpio
            .extract(NEWC, &mut Budget::new(Limits::default()))
            .unwrap()
            .size as usize;
        for cut in 0..full {
            match Cpio.extract(&NEWC[..cut], &mut Budget::new(Limits::default())) {
                Err(Rejection::NotThisFormat) => assert!(cut < 110),
                Err(e) => panic!("{e:?}"),
                Ok(out) => assert!(!out.notes.is_empty(), "cut {cut}"),
            }
        }
    }

    #[test]
    fn chance_magic_is_rejected() {
        assert_eq!(
            Cpio.extract(b"070701 is a number", &mut Budget::new(Limits::default()))
                .unwrap_err(),
            Rejection::NotThisFormat
        );
    }

    #[test]
    fn entry_count_is_bounded() {
        let limits = Limits {
            max_entries: 2,
            ..Limits::default()
        };
        let out = Cpio.extract(NEWC, &mut Budget::new(limits)).unwrap();
        assert_eq!(out.entries.len(), 2);
        assert!(matches!(&out.notes[..], [Problem::Limit(_)]));
    }
}
