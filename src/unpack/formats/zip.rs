//! zip archives (OTA bundles, wheels, vendor update packages), read with the
//! `zip` crate. The carver finds a local file header; we check it, then find
//! the end-of-central-directory record whose directory ends right before it
//! (so a zip embedded at any offset is bounded exactly), and let the crate
//! read only those bytes. Entries form a namespace (rootfs zips exist).

use super::{Entry, Extracted, Format, Problem, Rejection, le16, le32};
use crate::unpack::limits::{Budget, EocdMemo};
use crate::unpack::tree::{EntryKind, Meta};
use std::io::{Cursor, Read};
use std::panic::{AssertUnwindSafe, catch_unwind};

pub struct Zip;

const EOCD: &[u8] = b"PK\x05\x06";
const EOCD_LEN: usize = 22;

/// End records tried per local header: enough for zips stored inside zips.
const MAX_EOCD_TRIES: usize = 1024;

/// Where this zip's end-of-central-directory record ends, if found.
fn archive_end(data: &[u8], memo: &mut EocdMemo) -> Option<usize> {
    let start = data.as_ptr() as usize;
    let end = start + data.len();
    if memo.end != end || memo.from > start {
        let finder = memchr::memmem::Finder::new(EOCD);
        memo.found = finder.find_iter(data).map(|at| start + at).collect();
        memo.end = end;
        memo.from = start;
        memo.reported_missing = false;
    }
    let first = memo.found.partition_point(|&abs| abs < start);
    for &abs in memo.found[first..].iter().take(MAX_EOCD_TRIES) {
        let at = abs - start;
        let (Some(cd_size), Some(cd_offset), Some(comment)) = (
            le32(data, at + 12),
            le32(data, at + 16),
            le16(data, at + 20),
        ) else {
            return None;
        };
        // ZIP64 keeps the real values elsewhere; the crate checks them.
        let zip64 = cd_offset == u32::MAX || cd_size == u32::MAX;
        let fits = (cd_offset as usize).checked_add(cd_size as usize) == Some(at);
        if zip64 || fits {
            return Some((at + EOCD_LEN + comment as usize).min(data.len()));
        }
    }
    None
}

impl Format for Zip {
    fn name(&self) -> &'static str {
        "zip"
    }

    fn magics(&self) -> &'static [&'static [u8]] {
        &[b"PK\x03\x04"]
    }

    fn extract(&self, data: &[u8], budget: &mut Budget) -> Result<Extracted, Rejection> {
        // Local header: version needed (<= 6.3), a known method, a name.
        let (Some(version), Some(method), Some(name_len)) =
            (le16(data, 4), le16(data, 8), le16(data, 26))
        else {
            return Err(Rejection::NotThisFormat);
        };
        if version > 63 || !matches!(method, 0 | 8 | 9 | 12 | 14 | 93 | 95 | 99) || name_len == 0 {
            return Err(Rejection::NotThisFormat);
        }
        let Some(end) = archive_end(data, &mut budget.eocd_memo) else {
            if std::mem::replace(&mut budget.eocd_memo.reported_missing, true) {
                return Err(Rejection::NotThisFormat);
            }
            return Err(Rejection::Corrupt(
                "zip: no end-of-central-directory record matches this archive (truncated?)".into(),
            ));
        };
        let image = &data[..end];
        match catch_unwind(AssertUnwindSafe(|| read_all(image, budget))) {
            Ok(result) => result,
            Err(_) => Err(Rejection::Corrupt(
                "zip reader failed on a malformed directory".into(),
            )),
        }
    }
}

fn read_all(image: &[u8], budget: &mut Budget) -> Result<Extracted, Rejection> {
    let mut archive = zip::ZipArchive::new(Cursor::new(image))
        .map_err(|e| Rejection::Corrupt(format!("zip: central directory unreadable: {e}")))?;
    let mut out = Extracted {
        size: image.len() as u64,
        filesystem: true,
        detail: Some(format!("zip, {} entries", archive.len())),
        ..Default::default()
    };
    if let Some(why) = overlap(&mut archive) {
        return Err(Rejection::Corrupt(why));
    }
    for i in 0..archive.len() {
        if let Err(bound) = budget.entry() {
            out.notes.push(Problem::Limit(format!(
                "zip: {bound} reached; the rest of its entries were skipped"
            )));
            break;
        }
        let mut file = match archive.by_index(i) {
            Ok(file) => file,
            Err(e) => {
                out.notes
                    .push(Problem::Error(format!("zip: entry {i}: {e}")));
                continue;
            }
        };
        let raw = file.name().to_string();
        let path = raw
            .trim_start_matches("./")
            .trim_start_matches('/')
            .to_string();
        if path.is_empty() {
            continue;
        }
        let at = file.header_start();
        let declared = file.size();
        let cap = budget.output_cap(file.compressed_size().max(1));
        if declared > cap {
            out.notes.push(Problem::Limit(format!(
                "/{path}: declares {declared} bytes from {} compressed, past {}; skipped",
                file.compressed_size(),
                budget.output_cap_cause(file.compressed_size().max(1))
            )));
            continue;
        }
        let is_dir = file.is_dir();
        let is_link = file.is_symlink();
        // Zip keeps a Unix mode (no owner) only when made on Unix.
        let meta = file.unix_mode().map(|mode| Meta::new(mode, 0, 0));
        let mut contents = Vec::new();
        if !is_dir {
            // The declared size is reserved before reading, and never
            // trusted: at most that much is read, and one byte more is an error.
            let reservation = match budget.reserve(declared) {
                Ok(r) => r,
                Err(bound) => {
                    out.notes.push(Problem::Limit(format!(
                        "/{path}: {declared} bytes reach {bound}; skipped"
                    )));
                    continue;
                }
            };
            contents.reserve_exact(declared as usize);
            let read = (&mut file)
                .take(declared)
                .read_to_end(&mut contents)
                .and_then(|_| file.read(&mut [0u8; 1]));
            match read {
                Err(e) => {
                    out.notes.push(Problem::Error(format!(
                        "zip: /{path} (local header at {at:#x}): {e}"
                    )));
                    continue;
                }
                Ok(1..) => {
                    out.notes.push(Problem::Error(format!(
                        "zip: /{path} (local header at {at:#x}) inflates past the {declared} bytes its header declares; skipped"
                    )));
                    continue;
                }
                Ok(0) => {}
            }
            if let Err(bound) = budget.keep(reservation, contents.len() as u64) {
                out.notes.push(Problem::Limit(format!(
                    "/{path}: {} bytes reach {bound}; skipped",
                    contents.len()
                )));
                continue;
            }
        }
        let kind = if is_dir {
            EntryKind::Dir
        } else if is_link {
            EntryKind::Symlink(String::from_utf8_lossy(&std::mem::take(&mut contents)).into_owned())
        } else {
            EntryKind::File
        };
        out.entries.push(Entry {
            path: path.trim_end_matches('/').to_string(),
            kind,
            data: contents,
            meta,
        });
    }
    Ok(out)
}

/// The first member whose name `pick` accepts, read with the same zip
/// reader as the layer (only that member is inflated, at most `cap`
/// bytes): for manifest readers that need one file of an archive (a
/// wheel's METADATA). `Ok(None)` when no member is picked.
pub fn member(
    image: &[u8],
    pick: impl Fn(&str) -> bool,
    cap: u64,
) -> Result<Option<(String, Vec<u8>)>, String> {
    let mut archive = zip::ZipArchive::new(Cursor::new(image))
        .map_err(|e| format!("zip: central directory unreadable: {e}"))?;
    let Some(index) = (0..archive.len()).find(|&i| archive.name_for_index(i).is_some_and(&pick))
    else {
        return Ok(None);
    };
    let mut file = archive
        .by_index(index)
        .map_err(|e| format!("zip: entry {index}: {e}"))?;
    let name = file.name().to_string();
    let at = file.header_start();
    if file.size() > cap {
        return Err(format!(
            "zip: {name} (local header at {at:#x}) declares {} bytes, more than {cap}",
            file.size()
        ));
    }
    let mut contents = Vec::new();
    let read = (&mut file)
        .take(cap + 1)
        .read_to_end(&mut contents)
        .map_err(|e| format!("zip: {name} (local header at {at:#x}): {e}"))?;
    if read as u64 > cap {
        return Err(format!(
            "zip: {name} (local header at {at:#x}) inflates past {cap} bytes"
        ));
    }
    Ok(Some((name, contents)))
}

/// Why the archive is refused when two entries share bytes: the local
/// header and data of each must lie apart. Overlapping entries are how a
/// small zip claims many copies of one large stream (David Fifield's
/// "better zip bomb"); no archiver writes them. Checked on the central
/// directory and local headers alone, before anything is inflated.
fn overlap<R: std::io::Read + std::io::Seek>(archive: &mut zip::ZipArchive<R>) -> Option<String> {
    let mut spans: Vec<(u64, u64, usize)> = Vec::with_capacity(archive.len());
    for i in 0..archive.len() {
        // An entry that cannot be opened is reported when it is read.
        let Ok(file) = archive.by_index_raw(i) else {
            continue;
        };
        let end = file.data_start().saturating_add(file.compressed_size());
        spans.push((file.header_start(), end, i));
    }
    spans.sort_unstable();
    spans.windows(2).find(|w| w[1].0 < w[0].1).map(|w| {
        format!(
            "zip entries {} (local header at {:#x}) and {} (at {:#x}) overlap: a zip bomb construction; archive refused",
            w[0].2, w[0].0, w[1].2, w[1].0
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unpack::limits::Limits;

    /// `zip -r -y` of the fixture tree (symlink kept as a link), see make.sh.
    const FIXTURE: &[u8] = include_bytes!("../../../tests/fixtures/tree.zip");

    #[test]
    fn reads_real_zip_output_at_an_offset_with_trailing_data() {
        let mut data = FIXTURE.to_vec();
        data.extend_from_slice(&[0xffu8; 100]);
        let out = Zip
            .extract(&data, &mut Budget::new(Limits::default()))
            .unwrap();
        assert_eq!(out.size, FIXTURE.len() as u64);
        assert!(out.notes.is_empty(), "{:?}", out.notes);
        let find = |p: &str| out.entries.iter().find(|e| e.path == p).unwrap();
        assert_eq!(find("etc/hostname").data, b"router\n");
        assert_eq!(find("bin/sh").kind, EntryKind::Symlink("busybox".into()));
        assert_eq!(find("bin").kind, EntryKind::Dir);
    }

    #[test]
    fn a_flood_of_fake_local_headers_scans_once() {
        // 200k chance headers and no end record: linear, not quadratic.
        let mut data = Vec::new();
        for _ in 0..200_000 {
            data.extend_from_slice(b"PK\x03\x04\x14\0\0\0\x08\0");
            data.extend_from_slice(&[0u8; 16]);
            data.extend_from_slice(&[1, 0, 0, 0]);
        }
        data.extend_from_slice(&[b'P', b'K', 5, 6]);
        data.extend_from_slice(&[0u8; 18]);
        let out = crate::unpack::unpack_bytes("flood", data, &Limits::default());
        assert!(out.layers.is_empty());
        assert_eq!(out.notes.len(), 1, "one note, not one per header");
    }

    #[test]
    fn truncation_is_corrupt_never_a_panic() {
        for cut in 0..FIXTURE.len() {
            match Zip.extract(&FIXTURE[..cut], &mut Budget::new(Limits::default())) {
                Ok(out) => assert!(!out.notes.is_empty() || cut == FIXTURE.len()),
                Err(Rejection::NotThisFormat) => assert!(cut < 30),
                Err(Rejection::Corrupt(_)) | Err(Rejection::Limit(_)) => {}
            }
        }
    }
}
