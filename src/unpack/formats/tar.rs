//! tar archives: POSIX ustar, GNU (long names and links) and pax (extended
//! headers), read with the `tar` crate from memory. The carver finds the
//! `ustar` magic at offset 257 of a header; the header checksum is verified
//! before the archive is trusted. Rootfs tarballs are file systems, so the
//! entries form a namespace.

use super::{Entry, Extracted, Format, Problem, Rejection};
use crate::unpack::limits::Budget;
use crate::unpack::tree::{EntryKind, Meta, normalize};
use std::collections::HashMap;
use std::io::Read;
use std::panic::{AssertUnwindSafe, catch_unwind};

pub struct Tar;

const BLOCK: usize = 512;

/// Octal field as tar writes it (digits, optional leading spaces, NUL/space end).
fn octal(field: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(field).ok()?;
    let text = text.trim_matches(|c: char| c == ' ' || c == '\0');
    if text.is_empty() || !text.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return None;
    }
    u64::from_str_radix(text, 8).ok()
}

/// True when `block` is a ustar/GNU header whose checksum matches.
pub fn header_is_valid(block: &[u8]) -> bool {
    let Some(block) = block.get(..BLOCK) else {
        return false;
    };
    let magic = &block[257..265];
    if magic != b"ustar\x0000" && magic != b"ustar  \x00" {
        return false;
    }
    let Some(stored) = octal(&block[148..156]) else {
        return false;
    };
    let sum: u64 = block
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u64::from(b)
            }
        })
        .sum();
    sum == stored
}

impl Format for Tar {
    fn name(&self) -> &'static str {
        "tar"
    }

    fn magics(&self) -> &'static [&'static [u8]] {
        &[b"ustar"]
    }

    fn magic_offset(&self) -> usize {
        257
    }

    fn extract(&self, data: &[u8], budget: &mut Budget) -> Result<Extracted, Rejection> {
        if !header_is_valid(data) {
            return Err(Rejection::NotThisFormat);
        }
        // The tar crate is third-party code on hostile input: a panic costs
        // this layer, not the scan.
        match catch_unwind(AssertUnwindSafe(|| read_all(data, budget))) {
            Ok(out) => Ok(out),
            Err(_) => Err(Rejection::Corrupt(
                "tar reader failed on a malformed header".into(),
            )),
        }
    }
}

fn read_all(data: &[u8], budget: &mut Budget) -> Extracted {
    let mut out = Extracted {
        filesystem: true,
        detail: Some("tar".into()),
        ..Default::default()
    };
    let mut archive = tar::Archive::new(data);
    // Hard links point at an earlier entry: its index by normalised path.
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut end = 0u64;
    let entries = match archive.entries() {
        Ok(entries) => entries,
        Err(e) => {
            out.notes
                .push(Problem::Error(format!("tar: unreadable: {e}")));
            return out;
        }
    };
    for entry in entries {
        let mut entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                out.notes.push(Problem::Error(format!(
                    "tar: entry header after {end:#x} unreadable: {e}"
                )));
                break;
            }
        };
        let at = entry.raw_header_position();
        let size = entry.size();
        let data_at = entry.raw_file_position();
        end = data_at.saturating_add(size.div_ceil(BLOCK as u64) * BLOCK as u64);
        if data_at.saturating_add(size) > data.len() as u64 {
            out.notes.push(Problem::Error(format!(
                "tar: entry at {at:#x} declares {size} bytes but the archive ends at {:#x}",
                data.len()
            )));
            end = data.len() as u64;
            break;
        }
        // Metadata records (a pax global header from `git archive`, say)
        // are not files.
        if matches!(
            entry.header().entry_type(),
            tar::EntryType::XGlobalHeader
                | tar::EntryType::XHeader
                | tar::EntryType::GNULongName
                | tar::EntryType::GNULongLink
        ) {
            continue;
        }
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let path = raw
            .trim_start_matches("./")
            .trim_start_matches('/')
            .to_string();
        if path.is_empty() || path == "." {
            continue;
        }
        if let Err(bound) = budget.entry() {
            out.notes.push(Problem::Limit(format!(
                "tar: {bound} reached; the rest of its entries were skipped"
            )));
            break;
        }
        let link = entry
            .link_name_bytes()
            .map(|l| String::from_utf8_lossy(l.as_ref()).into_owned());
        let (kind, contents) = match entry.header().entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                if let Err(bound) = budget.charge_file(size) {
                    out.notes.push(Problem::Limit(format!(
                        "/{path}: {size} bytes reach {bound}; skipped"
                    )));
                    continue;
                }
                let mut contents = Vec::with_capacity(size as usize);
                if let Err(e) = entry.read_to_end(&mut contents) {
                    out.notes.push(Problem::Error(format!(
                        "tar: /{path} (entry at {at:#x}): data unreadable: {e}"
                    )));
                    continue;
                }
                (EntryKind::File, contents)
            }
            tar::EntryType::Directory => (EntryKind::Dir, Vec::new()),
            tar::EntryType::Symlink => (EntryKind::Symlink(link.unwrap_or_default()), Vec::new()),
            // A hard link shares an earlier entry's data: copy it.
            tar::EntryType::Link => {
                let target = link.unwrap_or_default();
                let earlier = seen
                    .get(&normalize(target.trim_start_matches("./")))
                    .map(|&i| &out.entries[i]);
                match earlier {
                    Some(e) if e.kind == EntryKind::File => {
                        let len = e.data.len() as u64;
                        if let Err(bound) = budget.charge(len) {
                            out.notes.push(Problem::Limit(format!(
                                "/{path}: hard link copy of {len} bytes reaches {bound}; skipped"
                            )));
                            continue;
                        }
                        (EntryKind::File, e.data.clone())
                    }
                    _ => {
                        out.notes.push(Problem::Error(format!(
                            "tar: /{path} (entry at {at:#x}) is a hard link to {target}, which is not an earlier file"
                        )));
                        continue;
                    }
                }
            }
            _ => (EntryKind::Special, Vec::new()),
        };
        seen.insert(normalize(&path), out.entries.len());
        let header = entry.header();
        let meta = match (header.mode(), header.uid(), header.gid()) {
            (Ok(mode), Ok(uid), Ok(gid)) => Some(Meta::new(
                mode,
                u32::try_from(uid).unwrap_or(u32::MAX),
                u32::try_from(gid).unwrap_or(u32::MAX),
            )),
            _ => None,
        };
        out.entries.push(Entry {
            path,
            kind,
            data: contents,
            meta,
        });
    }
    // The end-of-archive marker is two zero blocks, when present.
    let marker = end as usize..(end as usize).saturating_add(2 * BLOCK);
    if data.get(marker).is_some_and(|z| z.iter().all(|&b| b == 0)) {
        end += 2 * BLOCK as u64;
    } else if out.notes.is_empty() {
        out.notes.push(Problem::Error(format!(
            "tar: no end-of-archive marker at {end:#x}; archive truncated"
        )));
    }
    out.size = end.clamp(BLOCK as u64, data.len() as u64);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unpack::formats::listing;
    use crate::unpack::limits::Limits;

    /// GNU tar `--format=gnu`, `--format=pax` and `--format=ustar` of a tree
    /// with a 130-byte path, a symlink and a hard link (see make.sh).
    const GNU: &[u8] = include_bytes!("../../../tests/fixtures/tree.gnu.tar");
    const PAX: &[u8] = include_bytes!("../../../tests/fixtures/tree.pax.tar");
    const USTAR: &[u8] = include_bytes!("../../../tests/fixtures/tree.ustar.tar");

    #[test]
    fn reads_gnu_pax_and_ustar_output_with_long_names_and_links() {
        let long = format!("{}/{}/deep.txt", "d".repeat(60), "e".repeat(60));
        for fixture in [GNU, PAX, USTAR] {
            let out = Tar
                .extract(fixture, &mut Budget::new(Limits::default()))
                .unwrap();
            assert!(out.notes.is_empty(), "{:?}", out.notes);
            let l = listing(&out);
            assert!(l.contains(&"bin/sh -> busybox".to_string()), "{l:?}");
            assert!(l.contains(&"bin/busybox 17".to_string()), "{l:?}");
            assert!(l.contains(&"bin/ash 17".to_string()), "hard link: {l:?}");
            assert!(l.contains(&"etc/hostname 7".to_string()), "{l:?}");
            assert!(l.contains(&format!("{long} 5")), "{l:?}");
            assert!(out.size <= fixture.len() as u64);
        }
    }

    #[test]
    fn truncation_is_an_error_note_never_a_panic() {
        let full = Tar
            .extract(GNU, &mut Budget::new(Limits::default()))
            .unwrap()
            .size as usize;
        for cut in (0..full).step_by(7) {
            match Tar.extract(&GNU[..cut], &mut Budget::new(Limits::default())) {
                Err(Rejection::NotThisFormat) => assert!(cut < BLOCK),
                Err(e) => panic!("{e:?}"),
                Ok(out) => {
                    assert!(out.size as usize <= cut);
                    assert!(!out.notes.is_empty(), "cut {cut}");
                }
            }
        }
    }

    #[test]
    fn a_pax_global_header_is_not_an_entry() {
        /// `git archive --format=tar` starts with a pax global header.
        const GIT: &[u8] = include_bytes!("../../../tests/fixtures/git-archive.tar");
        let out = Tar
            .extract(GIT, &mut Budget::new(Limits::default()))
            .unwrap();
        assert!(out.notes.is_empty(), "{:?}", out.notes);
        assert_eq!(listing(&out), ["hello.txt 6"]);
    }

    #[test]
    fn bad_checksum_is_not_a_tar() {
        let mut data = GNU.to_vec();
        data[0] ^= 1;
        assert_eq!(
            Tar.extract(&data, &mut Budget::new(Limits::default()))
                .unwrap_err(),
            Rejection::NotThisFormat
        );
    }
}
