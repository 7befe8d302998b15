//! ISO 9660 images (ECMA-119), as installers, recovery media and appliance
//! updates ship: volume descriptors from sector 16 (`CD001`), directory
//! records from the primary volume's root. Names come from Rock Ridge
//! (`NM`, with symlinks from `SL` and file types from `PX`, continuation
//! areas followed) when present, else from the Joliet tree (UCS-2), else
//! from the ISO names less their `;1` version. Multi-extent files are joined.
//!
//! Bounds: every extent is checked against the image; directories are
//! visited once by extent (a loop is a note) and at most [`MAX_DEPTH`] deep;
//! file data is drawn from the budget before it is allocated.

use super::{Entry, Extracted, Format, Notes, Problem, Rejection, le16, le32};
use crate::unpack::limits::Budget;
use crate::unpack::tree::EntryKind;
use std::collections::HashSet;

pub struct Iso9660;

const SECTOR: usize = 2048;
const FIRST_DESCRIPTOR: usize = 16 * SECTOR;
const MAX_DEPTH: usize = 64;
/// Continuation areas followed for one record at most.
const MAX_CONTINUATIONS: usize = 16;

/// A directory record's fields.
struct Record<'a> {
    extent: u64,
    len: u64,
    dir: bool,
    multi: bool,
    name: &'a [u8],
    system_use: &'a [u8],
}

fn record(r: &[u8]) -> Option<Record<'_>> {
    let len = usize::from(*r.first()?);
    let name_len = usize::from(*r.get(32)?);
    if len < 34 || len > r.len() || 33 + name_len > len {
        return None;
    }
    let su_at = (33 + name_len).next_multiple_of(2);
    Some(Record {
        extent: u64::from(le32(r, 2)?),
        len: u64::from(le32(r, 10)?),
        dir: r[25] & 2 != 0,
        multi: r[25] & 0x80 != 0,
        name: &r[33..33 + name_len],
        system_use: r.get(su_at..len).unwrap_or_default(),
    })
}

/// What Rock Ridge says of one record.
#[derive(Default)]
struct RockRidge {
    name: Option<String>,
    symlink: Option<String>,
    mode: Option<u32>,
    /// `RE`: a relocated directory, listed where its `CL` points instead.
    relocated: bool,
    /// `CL`: the extent of a directory moved elsewhere by relocation.
    child_link: Option<u64>,
}

struct Reader<'a, 'b> {
    data: &'a [u8],
    block: u64,
    budget: &'b mut Budget,
    entries: Vec<Entry>,
    notes: Notes,
    visited: HashSet<u64>,
    /// Bytes skipped at the start of each system use area (`SP`).
    skip: usize,
    rock_ridge: bool,
    joliet: bool,
    full: bool,
}

impl<'a> Reader<'a, '_> {
    fn extent(&self, lba: u64, len: u64) -> Option<&'a [u8]> {
        let at = usize::try_from(lba.checked_mul(self.block)?).ok()?;
        self.data
            .get(at..at.checked_add(usize::try_from(len).ok()?)?)
    }

    /// Rock Ridge fields of `su`, following `CE` continuation areas.
    fn rock_ridge(&self, su: &'a [u8]) -> RockRidge {
        let mut rr = RockRidge::default();
        let mut name = String::new();
        let mut link: Vec<String> = Vec::new();
        let mut link_part = String::new();
        let mut area = su.get(self.skip..).unwrap_or_default();
        for _ in 0..MAX_CONTINUATIONS {
            let mut next = None;
            let mut at = 0;
            while at + 4 <= area.len() {
                let (sig, len) = (&area[at..at + 2], usize::from(area[at + 2]));
                if len < 4 || at + len > area.len() {
                    break;
                }
                let body = &area[at + 4..at + len];
                match sig {
                    b"NM" if !body.is_empty() => {
                        name.push_str(&String::from_utf8_lossy(&body[1..]));
                        rr.name = Some(name.clone());
                    }
                    b"PX" => rr.mode = le32(body, 0),
                    b"RE" => rr.relocated = true,
                    b"CL" => rr.child_link = le32(body, 0).map(u64::from),
                    b"SL" if !body.is_empty() => {
                        let mut c = 1;
                        while c + 2 <= body.len() {
                            let (flags, n) = (body[c], usize::from(body[c + 1]));
                            let text = body.get(c + 2..c + 2 + n).unwrap_or_default();
                            if flags & 2 != 0 {
                                link.push(".".into());
                            } else if flags & 4 != 0 {
                                link.push("..".into());
                            } else if flags & 8 != 0 {
                                link.push(String::new());
                            } else {
                                link_part.push_str(&String::from_utf8_lossy(text));
                                if flags & 1 == 0 {
                                    link.push(std::mem::take(&mut link_part));
                                }
                            }
                            c += 2 + n;
                        }
                        let joined = link.join("/");
                        rr.symlink = Some(if joined.is_empty() {
                            "/".into()
                        } else {
                            joined
                        });
                    }
                    b"CE" => {
                        next = (|| {
                            let (lba, off, len) = (le32(body, 0)?, le32(body, 8)?, le32(body, 16)?);
                            let area =
                                self.extent(u64::from(lba), u64::from(off) + u64::from(len))?;
                            area.get(off as usize..)
                        })();
                    }
                    b"ST" => break,
                    _ => {}
                }
                at += len;
            }
            match next {
                Some(area2) => area = area2,
                None => break,
            }
        }
        rr
    }

    fn push(&mut self, path: String, kind: EntryKind, data: Vec<u8>) {
        if let Err(bound) = self.budget.entry() {
            if !self.full {
                self.notes.push(Problem::Limit(format!(
                    "ISO 9660 image: {bound} reached; the rest of its entries were skipped"
                )));
            }
            self.full = true;
            return;
        }
        self.entries.push(Entry {
            path,
            kind,
            data,
            meta: None,
        });
    }

    fn dir(&mut self, extent: u64, len: u64, path: &str, depth: usize) {
        if !self.visited.insert(extent) {
            self.notes.push(Problem::Error(format!(
                "ISO 9660: directory /{path} (extent {extent}) is reached twice; not walked again"
            )));
            return;
        }
        if depth > MAX_DEPTH {
            self.notes.push(Problem::Limit(format!(
                "ISO 9660: directories nest deeper than {MAX_DEPTH} at /{path}"
            )));
            return;
        }
        let Some(listing) = self.extent(extent, len) else {
            self.notes.push(Problem::Error(format!(
                "ISO 9660: directory /{path} ({len} bytes at block {extent}) lies outside the image"
            )));
            return;
        };
        // A file in several extents: its parts, until the last one.
        let mut pending: Option<(String, Vec<u8>)> = None;
        let mut at = 0;
        let mut first = true;
        while at < listing.len() && !self.full {
            if listing[at] == 0 {
                // Records never cross a sector: the rest of this one is padding.
                at = (at / SECTOR + 1) * SECTOR;
                continue;
            }
            let Some(r) = record(&listing[at..]) else {
                self.notes.push(Problem::Error(format!(
                    "ISO 9660: directory /{path} has a corrupt record at {at:#x}"
                )));
                return;
            };
            at += usize::from(listing[at]);
            let dot = r.name == [0] || r.name == [1];
            if first && self.rock_ridge && r.name == [0] && r.system_use.starts_with(b"SP") {
                self.skip = usize::from(r.system_use.get(6).copied().unwrap_or(0));
            }
            first = false;
            if dot {
                continue;
            }
            let rr = if self.rock_ridge {
                self.rock_ridge(r.system_use)
            } else {
                RockRidge::default()
            };
            if rr.relocated {
                continue;
            }
            let name = match &rr.name {
                Some(n) => n.clone(),
                None if self.joliet => {
                    let units: Vec<u16> = r
                        .name
                        .chunks_exact(2)
                        .map(|c| u16::from_be_bytes([c[0], c[1]]))
                        .collect();
                    strip_version(&String::from_utf16_lossy(&units))
                }
                None => strip_version(&String::from_utf8_lossy(r.name)),
            };
            let name = name.replace('/', "_");
            if name.is_empty() || name == "." || name == ".." {
                continue;
            }
            let child = if path.is_empty() {
                name
            } else {
                format!("{path}/{name}")
            };
            if let Some(target) = rr.symlink {
                self.push(child, EntryKind::Symlink(target), Vec::new());
                continue;
            }
            if let Some(moved) = rr.child_link {
                let Some(rec) = self.extent(moved, SECTOR as u64).and_then(record) else {
                    continue;
                };
                self.push(child.clone(), EntryKind::Dir, Vec::new());
                self.dir(moved, rec.len, &child, depth + 1);
                continue;
            }
            if r.dir {
                self.push(child.clone(), EntryKind::Dir, Vec::new());
                self.dir(r.extent, r.len, &child, depth + 1);
                continue;
            }
            if rr.mode.is_some_and(|m| m & 0o170000 != 0o100000) {
                self.push(child, EntryKind::Special, Vec::new());
                continue;
            }
            if let Err(bound) = self.budget.charge_file(r.len) {
                self.notes.push(Problem::Limit(format!(
                    "ISO 9660: /{child}: {} bytes reach {bound}; skipped",
                    r.len
                )));
                continue;
            }
            let Some(bytes) = self.extent(r.extent, r.len) else {
                self.notes.push(Problem::Error(format!(
                    "ISO 9660: /{child}: {} bytes at block {} lie outside the image",
                    r.len, r.extent
                )));
                continue;
            };
            let mut content = match pending.take() {
                Some((p, mut d)) if p == child => {
                    d.extend_from_slice(bytes);
                    d
                }
                other => {
                    if let Some((p, d)) = other {
                        self.push(p, EntryKind::File, d);
                    }
                    bytes.to_vec()
                }
            };
            if r.multi {
                pending = Some((child, std::mem::take(&mut content)));
            } else {
                self.push(child, EntryKind::File, content);
            }
        }
        if let Some((p, d)) = pending {
            self.push(p, EntryKind::File, d);
        }
    }
}

/// `NAME.TXT;1` -> `NAME.TXT`; `DIR.` -> `DIR`.
fn strip_version(name: &str) -> String {
    let base = name.split(';').next().unwrap_or_default();
    base.strip_suffix('.').unwrap_or(base).to_string()
}

impl Format for Iso9660 {
    fn name(&self) -> &'static str {
        "iso9660"
    }

    fn magics(&self) -> &'static [&'static [u8]] {
        &[b"CD001"]
    }

    fn magic_offset(&self) -> usize {
        FIRST_DESCRIPTOR + 1
    }

    fn extract(&self, data: &[u8], budget: &mut Budget) -> Result<Extracted, Rejection> {
        // Volume descriptors: the primary, and a Joliet supplementary one.
        let (mut primary, mut joliet) = (None, None);
        for i in 0..32 {
            let at = FIRST_DESCRIPTOR + i * SECTOR;
            let Some(d) = data.get(at..at + SECTOR) else {
                break;
            };
            if &d[1..6] != b"CD001" {
                break;
            }
            match d[0] {
                1 if primary.is_none() => primary = Some(d),
                2 if matches!(&d[88..91], b"%/@" | b"%/C" | b"%/E") => joliet = Some(d),
                255 => break,
                _ => {}
            }
        }
        let pvd = primary.ok_or(Rejection::NotThisFormat)?;
        let block = u64::from(le16(pvd, 128).ok_or(Rejection::NotThisFormat)?);
        let blocks = u64::from(le32(pvd, 80).ok_or(Rejection::NotThisFormat)?);
        if !matches!(block, 512 | 1024 | 2048) || blocks == 0 {
            return Err(Rejection::NotThisFormat);
        }
        let root = record(&pvd[156..190]).ok_or(Rejection::NotThisFormat)?;
        let label = String::from_utf8_lossy(&pvd[40..72]).trim().to_string();
        let mut r = Reader {
            data,
            block,
            budget,
            entries: Vec::new(),
            notes: Notes::default(),
            visited: HashSet::new(),
            skip: 0,
            rock_ridge: false,
            joliet: false,
            full: false,
        };
        // Rock Ridge announces itself with `SP` in the root's "." record.
        let first = r.extent(root.extent, 256).and_then(record);
        r.rock_ridge = first.is_some_and(|d| d.system_use.starts_with(b"SP"));
        let (extent, len, names) = match (r.rock_ridge, joliet.and_then(|j| record(&j[156..190]))) {
            (false, Some(j)) => {
                r.joliet = true;
                (j.extent, j.len, "Joliet")
            }
            (true, _) => (root.extent, root.len, "Rock Ridge"),
            (false, None) => (root.extent, root.len, "ISO 9660"),
        };
        r.dir(extent, len, "", 0);
        let declared = blocks.saturating_mul(block);
        let mut notes = Vec::new();
        if declared > data.len() as u64 {
            notes.push(Problem::Error(format!(
                "ISO 9660 image truncated: volume says {declared} bytes, only {} present",
                data.len()
            )));
        }
        r.notes.finish("ISO 9660", &mut notes);
        Ok(Extracted {
            size: declared.min(data.len() as u64),
            entries: r.entries,
            filesystem: true,
            scanned_in_place: false,
            detail: Some(format!("ISO 9660, volume \"{label}\", {names} names")),
            notes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unpack::formats::{fs_fixture_listing, gunzip, listing};
    use crate::unpack::limits::Limits;

    /// `xorriso -as mkisofs -R -J` and `-J` alone of the file system fixture
    /// tree (make.sh), gzip'd (an ISO is mostly padding).
    const RR_GZ: &[u8] = include_bytes!("../../../tests/fixtures/tree-rr.iso.gz");
    const JOLIET_GZ: &[u8] = include_bytes!("../../../tests/fixtures/tree-joliet.iso.gz");

    fn read(data: &[u8]) -> Result<Extracted, Rejection> {
        Iso9660.extract(data, &mut Budget::new(Limits::default()))
    }

    #[test]
    fn rock_ridge_names_links_and_devices_of_xorriso_output() {
        let image = gunzip(RR_GZ);
        let out = read(&image).unwrap();
        assert!(out.notes.is_empty(), "{:?}", out.notes);
        assert_eq!(listing(&out), fs_fixture_listing(false));
        assert_eq!(
            out.detail.as_deref(),
            Some("ISO 9660, volume \"FWAUDIT\", Rock Ridge names")
        );
    }

    #[test]
    fn joliet_names_without_rock_ridge() {
        let image = gunzip(JOLIET_GZ);
        let out = read(&image).unwrap();
        assert!(out.notes.is_empty(), "{:?}", out.notes);
        let names = listing(&out);
        assert!(names.contains(&"usr/share/many/entry-with-a-longish-name-01 3".to_string()));
        assert!(names.contains(&"etc/motd 3720".to_string()));
        assert_eq!(
            out.detail.as_deref(),
            Some("ISO 9660, volume \"FWAUDIT\", Joliet names")
        );
    }

    #[test]
    fn truncation_and_flips_never_panic() {
        let image = gunzip(RR_GZ);
        for cut in (FIRST_DESCRIPTOR..image.len()).step_by(997) {
            if let Ok(out) = read(&image[..cut]) {
                assert!(!out.notes.is_empty(), "cut {cut}");
            }
        }
        let mut data = image.clone();
        for at in (FIRST_DESCRIPTOR..data.len().min(FIRST_DESCRIPTOR + 40 * SECTOR)).step_by(11) {
            data[at] ^= 0x20;
            let _ = read(&data);
            data[at] ^= 0x20;
        }
    }
}
