//! romfs (`-rom1fs-`), big-endian. The header's checksum over the first 512
//! bytes (or the whole image if smaller) must sum to zero, as the kernel
//! requires: a Linux kernel built with romfs carries the magic string, and that
//! chance match must not be taken for a file system.
//!
//! File headers are 16-byte aligned and chained by `next` pointers; a
//! directory's `spec.info` points at its first entry. Hard links (type 0)
//! point at another header: `.` and `..` are hard links to directories and
//! are skipped, a hard link to a file gets the file's data. Every header is
//! visited at most once, so a chain or directory loop ends with a note.

use super::{Entry, Extracted, Format, Notes, Problem, Rejection, be32};
use crate::unpack::limits::Budget;
use crate::unpack::tree::{EntryKind, Meta};
use std::collections::HashSet;

pub struct Romfs;

const MAGIC: &[u8] = b"-rom1fs-";
/// Hops along hard links to other hard links before giving up.
const MAX_LINK_HOPS: usize = 16;

/// Sum of big-endian words, which a valid header region makes zero.
fn checksum(bytes: &[u8]) -> u32 {
    bytes.chunks(4).fold(0u32, |sum, w| {
        let mut word = [0u8; 4];
        word[..w.len()].copy_from_slice(w);
        sum.wrapping_add(u32::from_be_bytes(word))
    })
}

fn align16(at: usize) -> usize {
    at.div_ceil(16) * 16
}

/// One file header.
struct Header {
    next: usize,
    kind: u32,
    /// The executable bit (`ROMFH_EXEC`), the only permission romfs stores.
    exec: bool,
    spec: u32,
    size: usize,
    name: Vec<u8>,
    /// Where the data starts (after the padded name).
    data_at: usize,
}

/// The header at `at` in `image`, if it fits.
fn header(image: &[u8], at: usize) -> Result<Header, String> {
    let word = |off: usize| {
        be32(image, at + off).ok_or_else(|| format!("file header at {at:#x} is past the end"))
    };
    let next = word(0)?;
    let spec = word(4)?;
    let size = word(8)? as usize;
    let name_area = image.get(at + 16..).unwrap_or_default();
    let Some(len) = name_area.iter().take(4096).position(|&b| b == 0) else {
        return Err(format!(
            "file header at {at:#x}: name is not NUL-terminated"
        ));
    };
    Ok(Header {
        next: (next & !15) as usize,
        kind: next & 7,
        exec: next & 8 != 0,
        spec,
        size,
        name: name_area[..len].to_vec(),
        data_at: align16(at + 16 + len + 1),
    })
}

impl Format for Romfs {
    fn name(&self) -> &'static str {
        "romfs"
    }

    fn magics(&self) -> &'static [&'static [u8]] {
        &[MAGIC]
    }

    fn extract(&self, data: &[u8], budget: &mut Budget) -> Result<Extracted, Rejection> {
        let full_size = be32(data, 8).ok_or(Rejection::NotThisFormat)? as usize;
        if !data.starts_with(MAGIC) || full_size < 32 {
            return Err(Rejection::NotThisFormat);
        }
        let checked = full_size.min(512);
        // Without the checksummed region there is nothing to tell a real
        // image from the magic string at the end of a kernel.
        let head = data.get(..checked).ok_or(Rejection::NotThisFormat)?;
        if checksum(head) != 0 {
            return Err(Rejection::NotThisFormat);
        }
        let volume = header(data, 0).map_err(|_| Rejection::NotThisFormat)?;
        let image = &data[..full_size.min(data.len())];
        let mut out = Extracted {
            size: image.len() as u64,
            filesystem: true,
            detail: Some(format!(
                "romfs, volume {:?}, {full_size} bytes",
                String::from_utf8_lossy(&volume.name)
            )),
            ..Default::default()
        };
        if full_size > data.len() {
            out.notes.push(Problem::Error(format!(
                "romfs image is truncated: header says {full_size} bytes, only {} present",
                data.len()
            )));
        }
        // The root directory's entries start right after the volume name.
        let first = volume.data_at;
        // Entries may share data (hard links): the image as a whole is held
        // to the ratio bound.
        budget.bound_layer(out.size);
        walk(image, first, budget, &mut out);
        Ok(out)
    }
}

fn walk(image: &[u8], first: usize, budget: &mut Budget, out: &mut Extracted) {
    let mut seen: HashSet<usize> = HashSet::new();
    let mut pending: Vec<(usize, String)> = vec![(first, String::new())];
    let mut notes = Notes::default();
    'dirs: while let Some((mut at, dir)) = pending.pop() {
        let mut subdirs = Vec::new();
        while at != 0 {
            if !seen.insert(at) {
                notes.push(Problem::Error(format!(
                    "romfs: {}/: the entry chain returns to the header at {at:#x} (a loop); rest of the directory skipped",
                    dir
                )));
                break;
            }
            let h = match header(image, at) {
                Ok(h) => h,
                Err(e) => {
                    notes.push(Problem::Error(format!("romfs: {dir}/: {e}")));
                    break;
                }
            };
            let meta_end = (at + 16 + h.name.len() + 1).min(image.len());
            if checksum(&image[at..align16(meta_end).min(image.len())]) != 0 {
                notes.push(Problem::Error(format!(
                    "romfs: header checksum of {dir}/{} at {at:#x} does not match",
                    String::from_utf8_lossy(&h.name)
                )));
            }
            at = h.next;
            if h.name == b"." || h.name == b".." {
                continue;
            }
            let name = String::from_utf8_lossy(&h.name).into_owned();
            if h.name.contains(&b'/') || h.name.is_empty() {
                notes.push(Problem::Error(format!(
                    "romfs: {dir}/: entry name {name:?} is empty or contains '/'; skipped"
                )));
                continue;
            }
            let path = format!("{dir}/{name}");
            if let Err(bound) = budget.entry() {
                notes.push(Problem::Limit(format!(
                    "romfs: {bound} reached; the rest of its entries were skipped"
                )));
                break 'dirs;
            }
            // A hard link takes the kind and data of what it points at.
            let exec = h.exec;
            let mut target = h;
            let mut hops = 0;
            while target.kind == 0 {
                hops += 1;
                let next = if hops > MAX_LINK_HOPS {
                    Err(format!(
                        "more than {MAX_LINK_HOPS} hard link hops (a loop?)"
                    ))
                } else {
                    header(image, target.spec as usize & !15)
                };
                match next {
                    Ok(t) => target = t,
                    Err(e) => {
                        notes.push(Problem::Error(format!("romfs: hard link {path}: {e}")));
                        target.kind = u32::MAX;
                        break;
                    }
                }
            }
            let body = image.get(target.data_at..target.data_at.saturating_add(target.size));
            let (kind, contents) = match (target.kind, body) {
                (u32::MAX, _) => continue,
                (1, _) => {
                    // A hard link to a directory (other than . and ..) is not descended.
                    if hops == 0 {
                        subdirs.push((target.spec as usize & !15, path.clone()));
                    }
                    (EntryKind::Dir, Vec::new())
                }
                (2, Some(body)) => {
                    let len = body.len() as u64;
                    if let Err(bound) = budget.charge_file(len) {
                        notes.push(Problem::Limit(format!(
                            "romfs: {path}: {len} bytes reach {bound}; skipped"
                        )));
                        continue;
                    }
                    (EntryKind::File, body.to_vec())
                }
                (3, Some(body)) => (
                    EntryKind::Symlink(String::from_utf8_lossy(body).into_owned()),
                    Vec::new(),
                ),
                (2 | 3, None) => {
                    notes.push(Problem::Error(format!(
                        "romfs: {path}: {} bytes of data at {:#x} run past the end of the image",
                        target.size, target.data_at
                    )));
                    continue;
                }
                _ => (EntryKind::Special, Vec::new()),
            };
            out.entries.push(Entry {
                path: path.trim_start_matches('/').to_string(),
                kind,
                data: contents,
                meta: Some(romfs_mode(target.kind, exec || target.exec)),
            });
        }
        pending.extend(subdirs.into_iter().rev());
    }
    notes.finish("romfs", &mut out.notes);
}

/// The mode the kernel gives a romfs entry (`romfs_modemap` in
/// fs/romfs/super.c, plus `S_IXUGO` for the exec bit); owner is root.
fn romfs_mode(kind: u32, exec: bool) -> Meta {
    let base = match kind {
        3 => 0o777,
        4 | 5 => 0o600,
        _ => 0o644,
    };
    Meta::new(if exec { base | 0o111 } else { base }, 0, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unpack::formats::listing;
    use crate::unpack::limits::Limits;

    const ROMFS: &[u8] = include_bytes!("../../../tests/fixtures/romfs.img");

    #[test]
    fn chance_magic_without_a_checksum_is_not_romfs() {
        let mut fake = b"-rom1fs-\0\0\x10\0\0\0\0\0name\0".to_vec();
        fake.resize(4096, 0);
        let err = Romfs.extract(&fake, &mut Budget::new(Limits::default()));
        assert_eq!(err.unwrap_err(), Rejection::NotThisFormat);
    }

    #[test]
    fn reads_genromfs_output() {
        let out = Romfs
            .extract(ROMFS, &mut Budget::new(Limits::default()))
            .unwrap();
        assert!(out.notes.is_empty(), "{:?}", out.notes);
        // genromfs pads the file to 1 KiB; the header gives the real size.
        assert_eq!(out.size, 21184);
        assert_eq!(ROMFS.len(), 21504);
        assert_eq!(
            listing(&out),
            crate::unpack::formats::fs_fixture_listing(false)
        );
        let file = |p: &str| &out.entries.iter().find(|e| e.path == p).unwrap().data;
        // `bin/busybox` is a hard link to `bin/ash` in genromfs' layout.
        assert_eq!(file("bin/busybox"), b"\x7fELF fake busybox");
        assert_eq!(file("usr/share/big.txt").len(), 11160);
        assert_eq!(file("etc/hostname"), b"router\n");
    }

    #[test]
    fn a_directory_that_contains_itself_is_read_once() {
        // Point `a`'s first entry at the root's first entry: a cycle.
        let mut image = ROMFS.to_vec();
        let a = 0x4ea0;
        assert_eq!(&image[a + 16..a + 18], b"a\0");
        image[a + 4..a + 8].copy_from_slice(&0x20u32.to_be_bytes());
        let out = Romfs
            .extract(&image, &mut Budget::new(Limits::default()))
            .unwrap();
        assert!(
            out.notes
                .iter()
                .any(|n| matches!(n, Problem::Error(m) if m.contains("a loop"))),
            "{:?}",
            out.notes
        );
    }

    #[test]
    fn hard_link_loops_end() {
        // `bin/busybox` (a hard link) made to point at itself.
        let mut image = ROMFS.to_vec();
        let at = 0x5280;
        assert_eq!(&image[at + 16..at + 23], b"busybox");
        image[at + 4..at + 8].copy_from_slice(&(at as u32).to_be_bytes());
        let out = Romfs
            .extract(&image, &mut Budget::new(Limits::default()))
            .unwrap();
        assert!(
            out.notes
                .iter()
                .any(|n| matches!(n, Problem::Error(m) if m.contains("hard link hops"))),
            "{:?}",
            out.notes
        );
        assert!(out.entries.iter().all(|e| e.path != "bin/busybox"));
    }
}
