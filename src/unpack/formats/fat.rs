//! FAT12, FAT16 and FAT32 file systems (Microsoft's FAT specification 1.03):
//! the BIOS parameter block in the boot sector, the first FAT, the root
//! directory (a fixed region, or a cluster chain on FAT32) and cluster
//! chains for everything else. Long file names (VFAT) are joined and their
//! checksum checked; 8.3 names honour the lower-case flags Windows sets.
//!
//! Bounds: every chain is at most as long as the volume has clusters (a
//! loop is a note), a file's chain must cover its size, directories are
//! visited once and at most [`MAX_DEPTH`] deep, and file data is drawn from
//! the budget before it is allocated.

use super::{Entry, Extracted, Format, Notes, Problem, Rejection, le16, le32};
use crate::unpack::limits::Budget;
use crate::unpack::tree::EntryKind;
use std::collections::HashSet;

pub struct Fat;

const MAX_DEPTH: usize = 64;
const ATTR_DIR: u8 = 0x10;
const ATTR_VOLUME: u8 = 0x08;
const ATTR_LFN: u8 = 0x0f;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Fat12,
    Fat16,
    Fat32,
}

struct Volume {
    kind: Kind,
    cluster: u64,
    fat_at: u64,
    root_at: u64,
    root_len: u64,
    root_cluster: u32,
    data_at: u64,
    clusters: u32,
    total: u64,
    label: String,
}

fn volume(d: &[u8]) -> Option<Volume> {
    if d.get(510..512)? != [0x55, 0xaa] || !matches!(d[0], 0xeb | 0xe9) {
        return None;
    }
    let sector = u64::from(le16(d, 11)?);
    let per_cluster = u64::from(d[13]);
    let reserved = u64::from(le16(d, 14)?);
    let fats = u64::from(d[16]);
    let root_entries = u64::from(le16(d, 17)?);
    let total = match le16(d, 19)? {
        0 => u64::from(le32(d, 32)?),
        n => u64::from(n),
    };
    let fat_sectors = match le16(d, 22)? {
        0 => u64::from(le32(d, 36)?),
        n => u64::from(n),
    };
    if !matches!(sector, 512 | 1024 | 2048 | 4096)
        || !per_cluster.is_power_of_two()
        || reserved == 0
        || !(1..=2).contains(&fats)
        || fat_sectors == 0
        || !(d[21] == 0xf0 || d[21] >= 0xf8)
    {
        return None;
    }
    let root_sectors = (root_entries * 32).div_ceil(sector);
    let data_sector = reserved + fats * fat_sectors + root_sectors;
    let clusters = u32::try_from(total.checked_sub(data_sector)? / per_cluster).ok()?;
    let kind = if clusters < 4085 {
        Kind::Fat12
    } else if clusters < 65525 {
        Kind::Fat16
    } else {
        Kind::Fat32
    };
    if (kind == Kind::Fat32) != (root_entries == 0) {
        return None;
    }
    let label_at = if kind == Kind::Fat32 { 71 } else { 43 };
    let label = String::from_utf8_lossy(d.get(label_at..label_at + 11)?)
        .trim()
        .to_string();
    Some(Volume {
        kind,
        cluster: per_cluster * sector,
        fat_at: reserved * sector,
        root_at: (reserved + fats * fat_sectors) * sector,
        root_len: root_sectors * sector,
        root_cluster: if kind == Kind::Fat32 { le32(d, 44)? } else { 0 },
        data_at: data_sector * sector,
        clusters,
        total: total * sector,
        label,
    })
}

struct Reader<'a, 'b> {
    data: &'a [u8],
    v: Volume,
    budget: &'b mut Budget,
    entries: Vec<Entry>,
    notes: Notes,
    visited: HashSet<u32>,
    full: bool,
}

impl Reader<'_, '_> {
    fn next(&self, c: u32) -> Option<u32> {
        let fat = self.v.fat_at as usize;
        let raw = match self.v.kind {
            Kind::Fat12 => {
                let at = fat + (c as usize * 3 / 2);
                let v = le16(self.data, at)?;
                u32::from(if c % 2 == 1 { v >> 4 } else { v & 0xfff })
            }
            Kind::Fat16 => u32::from(le16(self.data, fat + c as usize * 2)?),
            Kind::Fat32 => le32(self.data, fat + c as usize * 4)? & 0x0fff_ffff,
        };
        let end = match self.v.kind {
            Kind::Fat12 => 0xff8,
            Kind::Fat16 => 0xfff8,
            Kind::Fat32 => 0x0fff_fff8,
        };
        (raw >= 2 && raw < end).then_some(raw)
    }

    /// The bytes of the chain from `first`, at most `limit` of them.
    fn chain(&self, first: u32, limit: u64) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        let mut c = first;
        let mut steps = 0u32;
        while (out.len() as u64) < limit {
            if c < 2 || c - 2 >= self.v.clusters {
                return Err(format!("cluster {c} is outside the volume"));
            }
            steps += 1;
            if steps > self.v.clusters {
                return Err("cluster chain loops".into());
            }
            let at = self.v.data_at + u64::from(c - 2) * self.v.cluster;
            let n = self.v.cluster.min(limit - out.len() as u64);
            let bytes = usize::try_from(at)
                .ok()
                .and_then(|a| self.data.get(a..a + n as usize))
                .ok_or_else(|| format!("cluster {c} lies past the end of the image"))?;
            out.extend_from_slice(bytes);
            match self.next(c) {
                Some(n) => c = n,
                None => break,
            }
        }
        Ok(out)
    }

    fn push(&mut self, path: String, kind: EntryKind, data: Vec<u8>) {
        if let Err(bound) = self.budget.entry() {
            if !self.full {
                self.notes.push(Problem::Limit(format!(
                    "FAT volume: {bound} reached; the rest of its entries were skipped"
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

    fn dir(&mut self, listing: &[u8], path: &str, depth: usize) {
        let mut lfn: Vec<(u8, Vec<u16>)> = Vec::new();
        let mut lfn_sum = 0u8;
        for e in listing.chunks_exact(32) {
            if self.full {
                return;
            }
            match e[0] {
                0 => return,
                0xe5 => {
                    lfn.clear();
                    continue;
                }
                _ => {}
            }
            let attr = e[11];
            if attr & 0x3f == ATTR_LFN {
                if e[0] & 0x40 != 0 {
                    lfn.clear();
                    lfn_sum = e[13];
                }
                let units = [(1, 10), (14, 12), (28, 4)]
                    .iter()
                    .flat_map(|&(at, n)| e[at..at + n].chunks_exact(2))
                    .map(|c| u16::from_le_bytes([c[0], c[1]]))
                    .collect();
                lfn.push((e[0] & 0x1f, units));
                continue;
            }
            if attr & ATTR_VOLUME != 0 {
                lfn.clear();
                continue;
            }
            let short = &e[..11];
            let sum = short
                .iter()
                .fold(0u8, |s, &b| s.rotate_right(1).wrapping_add(b));
            let name = if !lfn.is_empty() && sum == lfn_sum {
                lfn.sort_by_key(|(n, _)| *n);
                let units: Vec<u16> = lfn
                    .iter()
                    .flat_map(|(_, u)| u.iter().copied())
                    .take_while(|&u| u != 0 && u != 0xffff)
                    .collect();
                String::from_utf16_lossy(&units)
            } else {
                short_name(e)
            };
            lfn.clear();
            let name = name.replace(['/', '\\'], "_");
            if name == "." || name == ".." || name.is_empty() {
                continue;
            }
            let child = if path.is_empty() {
                name
            } else {
                format!("{path}/{name}")
            };
            let first = u32::from(le16(e, 26).unwrap_or(0))
                | if self.v.kind == Kind::Fat32 {
                    u32::from(le16(e, 20).unwrap_or(0)) << 16
                } else {
                    0
                };
            let size = u64::from(le32(e, 28).unwrap_or(0));
            if attr & ATTR_DIR != 0 {
                self.push(child.clone(), EntryKind::Dir, Vec::new());
                self.subdir(first, &child, depth + 1);
                continue;
            }
            if let Err(bound) = self.budget.charge_file(size) {
                self.notes.push(Problem::Limit(format!(
                    "FAT: /{child}: {size} bytes reach {bound}; skipped"
                )));
                continue;
            }
            let data = if size == 0 {
                Ok(Vec::new())
            } else {
                self.chain(first, size)
            };
            match data {
                Ok(d) if d.len() as u64 == size => self.push(child, EntryKind::File, d),
                Ok(d) => {
                    self.notes.push(Problem::Error(format!(
                        "FAT: /{child}: cluster chain holds {} of its {size} bytes; kept as far as it goes",
                        d.len()
                    )));
                    self.push(child, EntryKind::File, d);
                }
                Err(e) => self
                    .notes
                    .push(Problem::Error(format!("FAT: /{child}: {e}"))),
            }
        }
    }

    fn subdir(&mut self, first: u32, path: &str, depth: usize) {
        if depth > MAX_DEPTH {
            self.notes.push(Problem::Limit(format!(
                "FAT: directories nest deeper than {MAX_DEPTH} at /{path}"
            )));
            return;
        }
        if !self.visited.insert(first) {
            self.notes.push(Problem::Error(format!(
                "FAT: directory /{path} (cluster {first}) is reached twice; not walked again"
            )));
            return;
        }
        // A directory is at most the volume; charged, as it is held while
        // the walk goes deeper.
        let most = self.v.total;
        match self.chain(first, most) {
            Ok(listing) if self.budget.take(listing.len() as u64) => {
                self.dir(&listing, path, depth)
            }
            Ok(_) => self.notes.push(Problem::Limit(format!(
                "FAT: directory /{path}: total size bound reached"
            ))),
            Err(e) => self
                .notes
                .push(Problem::Error(format!("FAT: directory /{path}: {e}"))),
        }
    }
}

/// `NAME    TXT` -> `NAME.TXT`, lower-cased where byte 12 says so.
fn short_name(e: &[u8]) -> String {
    let mut base = String::from_utf8_lossy(&e[..8]).trim_end().to_string();
    let mut ext = String::from_utf8_lossy(&e[8..11]).trim_end().to_string();
    if base.starts_with('\u{5}') {
        base.replace_range(..1, "\u{e5}");
    }
    if e[12] & 0x08 != 0 {
        base = base.to_lowercase();
    }
    if e[12] & 0x10 != 0 {
        ext = ext.to_lowercase();
    }
    if ext.is_empty() {
        base
    } else {
        format!("{base}.{ext}")
    }
}

impl Format for Fat {
    fn name(&self) -> &'static str {
        "fat"
    }

    fn magics(&self) -> &'static [&'static [u8]] {
        &[&[0x55, 0xaa]]
    }

    fn magic_offset(&self) -> usize {
        510
    }

    fn declared_len(&self, data: &[u8]) -> Option<u64> {
        volume(data).map(|v| v.total)
    }

    fn extract(&self, data: &[u8], budget: &mut Budget) -> Result<Extracted, Rejection> {
        let v = volume(data).ok_or(Rejection::NotThisFormat)?;
        let mut notes = Vec::new();
        if v.total > data.len() as u64 {
            notes.push(Problem::Error(format!(
                "FAT volume truncated: boot sector says {} bytes, only {} present",
                v.total,
                data.len()
            )));
        }
        let detail = format!(
            "{:?}, {} clusters of {} bytes{}",
            v.kind,
            v.clusters,
            v.cluster,
            if v.label.is_empty() || v.label == "NO NAME" {
                String::new()
            } else {
                format!(", label \"{}\"", v.label)
            }
        )
        .replace("Fat", "FAT");
        let (kind, root_at, root_len, root_cluster, total) =
            (v.kind, v.root_at, v.root_len, v.root_cluster, v.total);
        let mut r = Reader {
            data,
            v,
            budget,
            entries: Vec::new(),
            notes: Notes::default(),
            visited: HashSet::new(),
            full: false,
        };
        if kind == Kind::Fat32 {
            r.subdir(root_cluster, "", 0);
        } else {
            match data.get(root_at as usize..(root_at + root_len) as usize) {
                Some(root) => r.dir(root, "", 0),
                None => r.notes.push(Problem::Error(format!(
                    "FAT: root directory ({root_len} bytes at {root_at:#x}) lies past the end of the image"
                ))),
            }
        }
        r.notes.finish("FAT", &mut notes);
        Ok(Extracted {
            size: total.min(data.len() as u64),
            entries: r.entries,
            filesystem: true,
            scanned_in_place: false,
            detail: Some(detail),
            notes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unpack::formats::{gunzip, listing};
    use crate::unpack::limits::Limits;

    /// `mkfs.vfat -F 12` and `-F 32` images filled by `mcopy -s -m` from one
    /// tree (cluster counts as `fsck.fat -v` reports them):
    /// long and short names, a deep directory, a directory of 60
    /// entries spanning clusters, a multi-cluster file (make.sh), gzip'd.
    const FAT12_GZ: &[u8] = include_bytes!("../../../tests/fixtures/fat12.img.gz");
    const FAT32_GZ: &[u8] = include_bytes!("../../../tests/fixtures/fat32.img.gz");

    fn read(data: &[u8]) -> Result<Extracted, Rejection> {
        Fat.extract(data, &mut Budget::new(Limits::default()))
    }

    fn expected() -> Vec<String> {
        let mut v: Vec<String> = [
            "A Long File Name.txt 7",
            "README.TXT 6",
            "a/",
            "a/b/",
            "a/b/c/",
            "a/b/c/deep.txt 5",
            "etc/",
            "etc/hostname 7",
            "etc/motd 3720",
            "many/",
            "usr/",
            "usr/share/",
            "usr/share/big.txt 11160",
        ]
        .map(String::from)
        .into();
        v.extend((1..=60).map(|i| format!("many/entry-with-a-longish-name-{i:02} 3")));
        v.sort();
        v
    }

    #[test]
    fn fat12_and_fat32_of_mtools_output() {
        for (gz, detail) in [
            (
                FAT12_GZ,
                "FAT12, 1004 clusters of 1024 bytes, label \"FWAUDIT\"",
            ),
            (
                FAT32_GZ,
                "FAT32, 68528 clusters of 512 bytes, label \"FWAUDIT\"",
            ),
        ] {
            let image = gunzip(gz);
            let out = read(&image).unwrap();
            assert!(out.notes.is_empty(), "{:?}", out.notes);
            assert_eq!(listing(&out), expected());
            assert_eq!(out.detail.as_deref(), Some(detail));
            let motd = out.entries.iter().find(|e| e.path == "etc/motd").unwrap();
            assert_eq!(
                motd.data,
                include_bytes!("../../../tests/fixtures/text.txt")
            );
        }
    }

    #[test]
    fn truncation_and_flips_never_panic() {
        let image = gunzip(FAT12_GZ);
        for cut in (0..image.len()).step_by(4099) {
            let _ = read(&image[..cut]);
        }
        let mut data = image.clone();
        for at in (0..40 << 10).step_by(37) {
            data[at] ^= 0x02;
            let _ = read(&data);
            data[at] ^= 0x02;
        }
    }
}
