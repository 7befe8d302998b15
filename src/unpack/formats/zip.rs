//! zip archives (OTA bundles, wheels, vendor update packages), read with the
//! `zip` crate. The carver finds a local file header; we check it, then find
//! the end-of-central-directory record whose directory ends right before it
//! (so a zip embedded at any offset is bounded exactly), and let the crate
//! read only those bytes. Entries form a namespace (rootfs zips exist).

use super::{Entry, Extracted, Format, Problem, Rejection, le16, le32};
use crate::unpack::limits::{Budget, EocdMemo, Exceeded};
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
            // A cut archive: its local headers still lead from member to member.
            return salvage(data, budget);
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

/// Reads a zip whose end (central directory) is missing from its local
/// headers alone: every member whose data is whole (and whose CRC-32
/// matches) is kept, and a note names where the archive was cut. A member
/// with a data descriptor is read when deflated (the stream ends itself).
fn salvage(data: &[u8], budget: &mut Budget) -> Result<Extracted, Rejection> {
    let mut out = Extracted {
        filesystem: true,
        ..Default::default()
    };
    let mut at = 0usize;
    let cut = loop {
        if data.get(at..at + 4) != Some(b"PK\x03\x04") {
            break match data.get(at..at + 4) {
                // The central directory starts: only its end is missing.
                Some(b"PK\x01\x02") => format!("in the central directory at {at:#x}"),
                _ => format!("at {at:#x}, where no member header follows"),
            };
        }
        let (
            Some(flags),
            Some(method),
            Some(crc),
            Some(csize),
            Some(usize_),
            Some(name_len),
            Some(extra_len),
        ) = (
            le16(data, at + 6),
            le16(data, at + 8),
            le32(data, at + 14),
            le32(data, at + 18),
            le32(data, at + 22),
            le16(data, at + 26),
            le16(data, at + 28),
        )
        else {
            break format!("inside the member header at {at:#x}");
        };
        let name_at = at + 30;
        let body_at = name_at + name_len as usize + extra_len as usize;
        let Some(name) = data.get(name_at..name_at + name_len as usize) else {
            break format!("inside the member header at {at:#x}");
        };
        let name = String::from_utf8_lossy(name).into_owned();
        if let Err(bound) = budget.entry() {
            out.notes.push(Problem::Limit(format!(
                "zip: {bound} reached; the rest of its members were skipped"
            )));
            break String::new();
        }
        let descriptor = flags & 8 != 0;
        // ZIP64 keeps the sizes in an extra field (id 1) when the header says 0xffffffff.
        let extra = data
            .get(name_at + name_len as usize..body_at)
            .unwrap_or_default();
        let zip64 = zip64_sizes(extra);
        let (csize, usize_) = match zip64 {
            Some((u, c)) if csize == u32::MAX || usize_ == u32::MAX => (
                u32::try_from(c).unwrap_or(u32::MAX - 1),
                u32::try_from(u).unwrap_or(u32::MAX - 1),
            ),
            _ => (csize, usize_),
        };
        let (contents, used) =
            match salvage_member(data, body_at, method, descriptor, csize, usize_, budget) {
                Ok(m) => m,
                Err(Cut::Short) => break format!("inside member {name} (header at {at:#x})"),
                Err(Cut::Skip(why)) => {
                    out.notes.push(Problem::Error(format!(
                        "zip: {name} (header at {at:#x}): {why}"
                    )));
                    at = body_at + csize as usize;
                    continue;
                }
                Err(Cut::Stop(why)) => {
                    out.notes.push(Problem::Error(format!(
                        "zip: {name} (header at {at:#x}): {why}"
                    )));
                    break format!("after member {name}, whose end cannot be found");
                }
            };
        let mut next = body_at + used;
        let mut want_crc = crc;
        if descriptor {
            // Optional signature, CRC-32, sizes (8-byte with ZIP64).
            let d = if le32(data, next) == Some(0x0807_4b50) {
                next + 4
            } else {
                next
            };
            let len = if zip64.is_some() { 20 } else { 12 };
            match le32(data, d) {
                Some(c) if d + len <= data.len() => {
                    want_crc = c;
                    next = d + len;
                }
                _ => break format!("inside the data descriptor of member {name}"),
            }
        }
        if crc32fast::hash(&contents) != want_crc {
            out.notes.push(Problem::Error(format!(
                "zip: {name} (header at {at:#x}): CRC-32 does not match; skipped"
            )));
        } else if !name.is_empty() {
            let path = name.trim_start_matches("./").trim_start_matches('/');
            if !path.is_empty() {
                let is_dir = path.ends_with('/');
                out.entries.push(Entry {
                    path: path.trim_end_matches('/').to_string(),
                    kind: if is_dir {
                        EntryKind::Dir
                    } else {
                        EntryKind::File
                    },
                    data: contents,
                    meta: None,
                });
            }
        }
        at = next;
    };
    if out.entries.is_empty() {
        return Err(Rejection::Corrupt(format!(
            "zip: no end-of-central-directory record matches this archive and no member is whole: cut {cut}"
        )));
    }
    out.size = at as u64;
    out.detail = Some(format!(
        "zip without its central directory, {} whole members salvaged",
        out.entries.len()
    ));
    if !cut.is_empty() {
        out.notes.push(Problem::Error(format!(
            "zip is truncated: no end-of-central-directory record; cut {cut}; {} whole members kept",
            out.entries.len()
        )));
    }
    Ok(out)
}

/// The (uncompressed, compressed) sizes of a ZIP64 extra field in a local header.
fn zip64_sizes(extra: &[u8]) -> Option<(u64, u64)> {
    let mut at = 0;
    while at + 4 <= extra.len() {
        let id = le16(extra, at)?;
        let len = le16(extra, at + 2)? as usize;
        if id == 1 {
            return Some((super::le64(extra, at + 4)?, super::le64(extra, at + 12)?));
        }
        at += 4 + len;
    }
    None
}

/// Why a salvaged member was not kept.
enum Cut {
    /// Its data runs past the end of the input.
    Short,
    /// Unreadable, but its size is known: the next member can be found.
    Skip(String),
    /// Unreadable and of unknown size: nothing after it can be found.
    Stop(String),
}

/// One salvaged member's contents and how many input bytes its data took.
fn salvage_member(
    data: &[u8],
    body_at: usize,
    method: u16,
    descriptor: bool,
    csize: u32,
    usize_: u32,
    budget: &mut Budget,
) -> Result<(Vec<u8>, usize), Cut> {
    let sized = !descriptor || csize != 0;
    let body = data.get(body_at..).ok_or(Cut::Short)?;
    if sized && body.len() < csize as usize {
        return Err(Cut::Short);
    }
    let cap = budget.output_cap(u64::from(csize.max(1)));
    // Memory is reserved before the output grows into it, and kept with
    // the member.
    let bounded = |bound: Exceeded| Cut::Skip(format!("{bound} reached; skipped"));
    let mut held = budget.reserve(0).map_err(bounded)?;
    let (contents, used) = match method {
        0 if sized => {
            held.grow(u64::from(csize)).map_err(bounded)?;
            (body[..csize as usize].to_vec(), csize as usize)
        }
        0 => return Err(Cut::Stop("stored with a data descriptor".into())),
        8 => {
            use flate2::{Decompress, FlushDecompress, Status};
            let input = if sized { &body[..csize as usize] } else { body };
            let mut z = Decompress::new(false);
            let want = if sized { u64::from(usize_) } else { cap };
            if want > cap {
                return Err(Cut::Skip(format!(
                    "declares {want} bytes (size/ratio bound); skipped"
                )));
            }
            let first = want.min(1 << 20) as usize;
            held.grow(first as u64).map_err(bounded)?;
            let mut out = Vec::with_capacity(first);
            loop {
                if out.len() == out.capacity() {
                    let more = (out.capacity().max(4096)).min(cap as usize + 1 - out.len());
                    held.grow(more as u64).map_err(bounded)?;
                    out.reserve_exact(more);
                }
                let in_pos = z.total_in() as usize;
                let before = out.len();
                match z.decompress_vec(&input[in_pos..], &mut out, FlushDecompress::None) {
                    Ok(Status::StreamEnd) => break,
                    Ok(_) if out.len() as u64 > cap => {
                        return Err(Cut::Skip(format!("inflates past {cap} bytes; skipped")));
                    }
                    Ok(_) if out.len() == before && z.total_in() as usize == in_pos => {
                        return Err(if in_pos >= input.len() && !sized {
                            Cut::Short
                        } else if sized && in_pos >= input.len() {
                            Cut::Skip("deflate stream ends early; skipped".into())
                        } else {
                            Cut::Stop("deflate stream stalls".into())
                        });
                    }
                    Ok(_) => {}
                    Err(e) if sized => return Err(Cut::Skip(format!("deflate: {e}; skipped"))),
                    Err(e) => return Err(Cut::Stop(format!("deflate: {e}"))),
                }
            }
            let used = if sized {
                csize as usize
            } else {
                z.total_in() as usize
            };
            (out, used)
        }
        m if sized => return Err(Cut::Skip(format!("method {m} is not salvaged; skipped"))),
        m => return Err(Cut::Stop(format!("method {m} with a data descriptor"))),
    };
    budget.keep(held, contents.len() as u64).map_err(bounded)?;
    Ok((contents, used))
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

    /// Cut before its central directory, or inside any member, the fixture
    /// zip still gives every member whose data is whole, and a note names the cut.
    #[test]
    fn a_cut_zip_keeps_its_whole_members() {
        let whole = Zip
            .extract(FIXTURE, &mut Budget::new(Limits::default()))
            .unwrap();
        let cd = memchr::memmem::find(FIXTURE, b"PK\x01\x02").unwrap();
        let out = Zip
            .extract(&FIXTURE[..cd + 10], &mut Budget::new(Limits::default()))
            .unwrap();
        assert_eq!(out.size, cd as u64);
        // The salvage cannot tell symlinks (their mode is in the central directory).
        let names = |o: &Extracted| {
            o.entries
                .iter()
                .map(|e| (e.path.clone(), e.data.clone()))
                .collect::<Vec<_>>()
        };
        let mut expected = names(&whole);
        for (path, data) in &mut expected {
            if path == "bin/sh" {
                *data = b"busybox".to_vec(); // the link's target, as a file
            }
        }
        assert_eq!(names(&out), expected);
        assert_eq!(
            out.notes,
            [Problem::Error(format!(
                "zip is truncated: no end-of-central-directory record; cut in the central directory at {cd:#x}; {} whole members kept",
                whole.entries.len()
            ))]
        );
        // Cut inside the third member: the first two stay.
        let third = memchr::memmem::find_iter(FIXTURE, b"PK\x03\x04")
            .nth(2)
            .unwrap();
        let out = Zip
            .extract(&FIXTURE[..third + 40], &mut Budget::new(Limits::default()))
            .unwrap();
        assert_eq!(names(&out), expected[..2]);
        assert!(
            matches!(&out.notes[..], [Problem::Error(m)] if m.contains(&format!(" at {third:#x}")) && m.ends_with("; 2 whole members kept")),
            "{:?}",
            out.notes
        );
    }

    /// `zip -` output (data descriptor, ZIP64 extra, see salvage.sh) without
    /// its central directory: the deflate stream's own end bounds the member.
    #[test]
    fn a_streamed_member_is_salvaged_through_its_data_descriptor() {
        let data = include_bytes!("../../../tests/fixtures/streamed.zip");
        let cd = memchr::memmem::find(data, b"PK\x01\x02").unwrap();
        let out = Zip
            .extract(&data[..cd], &mut Budget::new(Limits::default()))
            .unwrap();
        let text: String = (1..=200)
            .map(|i| format!("streamed line {i:03}\n"))
            .collect();
        assert_eq!(out.entries.len(), 1);
        assert_eq!(
            (out.entries[0].path.as_str(), &out.entries[0].data[..]),
            ("-", text.as_bytes())
        );
        assert_eq!(out.size, cd as u64);
        // A flipped byte in the stream: the CRC-32 catches it.
        let mut bad = data[..cd].to_vec();
        bad[80] ^= 0x10;
        match Zip.extract(&bad, &mut Budget::new(Limits::default())) {
            Ok(out) => assert!(out.entries.is_empty() || out.entries[0].data != text.as_bytes()),
            Err(Rejection::Corrupt(m)) => assert!(m.contains("no member is whole"), "{m}"),
            Err(e) => panic!("{e:?}"),
        }
    }
}
