//! coreboot's CBFS (coreboot `commonlib/bsd/include/commonlib/bsd/cbfs_serialized.h`):
//! files back to back, each a big-endian header (`LARCHIVE`, data length,
//! type, attributes offset, data offset), its name, attributes (compression,
//! stage header, hash, ...) and its data, the next one 64-byte aligned. The
//! region is found at its first file, wherever it lies: after the legacy
//! layout's bootblock, whose master header (`ORBC`) a pointer in the ROM's
//! last 4 bytes finds, or in the FMAP's `COREBOOT` area (see [`super::fmap`]).
//!
//! Every file becomes an entry named by its CBFS name: raw files, option
//! ROMs and the like as stored or decompressed (LZMA, LZ4); stages as their
//! loaded image (the stage header in an attribute, or the older
//! little-endian header before the data); SELF payloads as one file per
//! code and data segment. Sizes are checked against the region, declared
//! decompressed sizes against the output, and every byte is drawn from the
//! budget.

use super::{Entry, Extracted, Format, Notes, Problem, Rejection, be32, be64, le32, le64};
use crate::unpack::compress::{self, Codec};
use crate::unpack::limits::Budget;
use crate::unpack::tree::EntryKind;
use std::collections::{BTreeMap, BTreeSet};

pub struct Cbfs;

const MAGIC: &[u8] = b"LARCHIVE";
const FILE_HEADER: usize = 24;
const ALIGN: usize = 64;
/// Longest name plus attributes a header may claim: CBFS names are short
/// paths, attributes a few dozen bytes each.
const MAX_METADATA: u32 = 4096;

const TYPE_DELETED: u32 = 0;
const TYPE_NULL: u32 = 0xffff_ffff;
/// Stages before coreboot 4.14: a little-endian header before the data.
const TYPE_LEGACY_STAGE: u32 = 0x10;
/// Stages since: the header is an attribute.
const TYPE_STAGE: u32 = 0x11;
const TYPE_SELF: u32 = 0x20;

const TAG_COMPRESSION: u32 = 0x4243_5a4c;
const TAG_STAGEHEADER: u32 = 0x5374_6748;

/// File types by name, as `cbfstool print` shows them.
fn type_name(kind: u32) -> Option<&'static str> {
    Some(match kind {
        0x01 => "bootblock",
        0x02 => "cbfs header",
        TYPE_LEGACY_STAGE | TYPE_STAGE => "stage",
        TYPE_SELF => "simple elf",
        0x21 => "fit",
        0x30 => "optionrom",
        0x40 => "bootsplash",
        0x50 => "raw",
        0x51 => "vsa",
        0x52 => "mbi",
        0x53 => "microcode",
        0x54 => "fsp",
        0x55 => "mrc",
        0x56 => "mma",
        0x57 => "efi",
        0x58 => "struct",
        0x60 => "spd",
        0x61 => "mrc_cache",
        0xaa => "cmos_default",
        0x1aa => "cmos_layout",
        _ => return None,
    })
}

/// One file's header, checked against the bytes after it.
struct FileHeader {
    len: usize,
    kind: u32,
    /// Where attributes start and data start, from the header's start.
    attributes: usize,
    data: usize,
    name: String,
}

fn file_header(data: &[u8]) -> Option<FileHeader> {
    if !data.starts_with(MAGIC) {
        return None;
    }
    let (len, kind, attributes, offset) = (
        be32(data, 8)?,
        be32(data, 12)?,
        be32(data, 16)?,
        be32(data, 20)?,
    );
    let attributes = if attributes == 0 { offset } else { attributes };
    if offset < FILE_HEADER as u32
        || offset > MAX_METADATA
        || attributes < FILE_HEADER as u32
        || attributes > offset
    {
        return None;
    }
    let name = data.get(FILE_HEADER..attributes as usize)?;
    let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
    Some(FileHeader {
        len: len as usize,
        kind,
        attributes: attributes as usize,
        data: offset as usize,
        name: String::from_utf8_lossy(name).into_owned(),
    })
}

/// The attributes of one file: tag, then the bytes after tag and size.
fn attributes(meta: &[u8]) -> Vec<(u32, &[u8])> {
    let mut out = Vec::new();
    let mut at = 0;
    while let (Some(tag), Some(size)) = (be32(meta, at), be32(meta, at + 4)) {
        let size = size as usize;
        if size < 8 || at + size > meta.len() {
            break;
        }
        out.push((tag, &meta[at + 8..at + size]));
        at += size;
    }
    out
}

fn codec(compression: u32) -> Result<Option<(Codec, &'static str)>, String> {
    match compression {
        0 => Ok(None),
        1 => Ok(Some((Codec::LzmaAlone, "LZMA"))),
        2 => Ok(Some((Codec::Lz4Frame, "LZ4"))),
        other => Err(format!("unknown compression {other}")),
    }
}

/// What one walk over a CBFS region collects.
struct Walk<'b> {
    budget: &'b mut Budget,
    entries: Vec<Entry>,
    notes: Notes,
    codecs: BTreeSet<&'static str>,
    types: BTreeMap<String, usize>,
    facts: Vec<String>,
    full: bool,
}

impl Walk<'_> {
    fn error(&mut self, message: String) {
        self.notes.push(Problem::Error(message));
    }

    /// Keeps `data` as `path`; `charged` when it was decoded under the budget.
    fn push(&mut self, path: String, data: Vec<u8>, charged: bool) {
        if self.full {
            return;
        }
        if let Err(bound) = self.budget.entry() {
            self.full = true;
            self.notes.push(Problem::Limit(format!(
                "CBFS: {bound} reached; the rest of its files were skipped"
            )));
            return;
        }
        if !charged && let Err(bound) = self.budget.charge_file(data.len() as u64) {
            self.notes.push(Problem::Limit(format!(
                "CBFS: {path}: {} bytes reach {bound}; skipped",
                data.len()
            )));
            return;
        }
        self.entries.push(Entry {
            path,
            kind: EntryKind::File,
            data,
            meta: None,
        });
    }

    /// `raw` as stored or decompressed; `declared` is the decompressed size
    /// the file says. `None` (with a note) when it cannot be had.
    fn data(
        &mut self,
        raw: &[u8],
        compression: u32,
        declared: Option<u64>,
        what: &str,
    ) -> Option<(Vec<u8>, bool)> {
        let (codec, label) = match codec(compression) {
            Ok(None) => return Some((raw.to_vec(), false)),
            Ok(Some(c)) => c,
            Err(e) => {
                self.error(format!("CBFS: {what}: {e}; kept as stored"));
                return Some((raw.to_vec(), false));
            }
        };
        self.codecs.insert(label);
        let mut decoded = match declared {
            Some(n) => compress::decode_at_most(codec, raw, self.budget, n),
            None => compress::decode(codec, raw, self.budget),
        };
        let len = decoded.data.len() as u64;
        if let Some(e) = &decoded.error {
            self.error(format!(
                "CBFS: {what}: {label} data is corrupt after {len} output bytes: {e}"
            ));
        } else if let Some(n) = declared
            && decoded.capped
            && len == n
        {
            self.error(format!(
                "CBFS: {what}: {label} data goes on past the {n} decompressed bytes it declares"
            ));
        } else if decoded.stopped() {
            self.notes.push(Problem::Limit(format!(
                "CBFS: {what}: {label} data stopped at {len} bytes: {}",
                super::gzip::stop_cause(&decoded, raw.len(), self.budget)
            )));
        } else if let Some(n) = declared
            && len != n
        {
            self.error(format!(
                "CBFS: {what}: declares {n} decompressed bytes, {label} data holds {len}"
            ));
        }
        if let Err(bound) = decoded.keep(self.budget) {
            self.notes.push(Problem::Limit(format!(
                "CBFS: {what}: {} decompressed bytes reach {bound}; dropped",
                decoded.data.len()
            )));
            return None;
        }
        Some((decoded.data, true))
    }

    fn file(&mut self, h: &FileHeader, meta: &[u8], body: &[u8], at: usize) {
        let path = match h.name.trim_start_matches('/') {
            "" => format!("unnamed-{at:#x}"),
            name => name.to_string(),
        };
        let type_label =
            type_name(h.kind).map_or_else(|| format!("type {:#x}", h.kind), String::from);
        *self.types.entry(type_label).or_default() += 1;
        let attrs = attributes(meta);
        let compression = attrs
            .iter()
            .find(|(tag, _)| *tag == TAG_COMPRESSION)
            .and_then(|(_, a)| Some((be32(a, 0)?, be32(a, 4)?)));
        let stage = attrs
            .iter()
            .find(|(tag, _)| *tag == TAG_STAGEHEADER)
            .and_then(|(_, a)| Some((be64(a, 0)?, be32(a, 8)?, be32(a, 12)?)));
        match h.kind {
            TYPE_SELF => self.payload(&path, body),
            TYPE_LEGACY_STAGE if stage.is_none() => self.legacy_stage(&path, body),
            _ => {
                if let Some((load, entry, memlen)) = stage {
                    self.facts.push(format!(
                        "{path}: load {load:#x}, entry {:#x}, memlen {memlen}",
                        load.wrapping_add(u64::from(entry))
                    ));
                }
                let (kind, declared) =
                    compression.map_or((0, None), |(c, n)| (c, Some(u64::from(n))));
                if let Some((data, charged)) = self.data(body, kind, declared, &path) {
                    self.push(path, data, charged);
                }
            }
        }
    }

    /// A stage from before coreboot 4.14: a little-endian header
    /// (compression, entry, load, length, memlen), then its data.
    fn legacy_stage(&mut self, path: &str, body: &[u8]) {
        let (Some(compression), Some(entry), Some(load), Some(len), Some(memlen)) = (
            le32(body, 0),
            le64(body, 4),
            le64(body, 12),
            le32(body, 20),
            le32(body, 24),
        ) else {
            self.error(format!("CBFS: {path}: stage header is truncated"));
            return;
        };
        self.facts.push(format!(
            "{path}: load {load:#x}, entry {entry:#x}, memlen {memlen}"
        ));
        let Some(raw) = body.get(28..28usize.saturating_add(len as usize)) else {
            self.error(format!(
                "CBFS: {path}: stage declares {len} bytes, {} stored",
                body.len().saturating_sub(28)
            ));
            return;
        };
        if let Some((data, charged)) = self.data(raw, compression, None, path) {
            self.push(path.to_string(), data, charged);
        }
    }

    /// A SELF payload: 28-byte big-endian segment headers up to the entry
    /// segment; code and data segments become `<name>/<n>-code-<load>.bin`.
    fn payload(&mut self, path: &str, body: &[u8]) {
        let mut at = 0;
        let mut n = 0;
        loop {
            let (Some(kind), Some(compression), Some(offset), Some(load), Some(len), Some(memlen)) = (
                be32(body, at),
                be32(body, at + 4),
                be32(body, at + 8),
                be64(body, at + 12),
                be32(body, at + 20),
                be32(body, at + 24),
            ) else {
                self.error(format!(
                    "CBFS: {path}: payload segment table at {at:#x} has no entry segment"
                ));
                return;
            };
            at += 28;
            n += 1;
            let label = match &kind.to_be_bytes() {
                b"CODE" => "code",
                b"DATA" => "data",
                b"BSS " | b"PARA" => continue,
                b"ENTR" => {
                    self.facts.push(format!("{path}: payload entry {load:#x}"));
                    return;
                }
                _ => {
                    self.error(format!(
                        "CBFS: {path}: payload segment {n} has unknown type {kind:#010x}"
                    ));
                    return;
                }
            };
            let what = format!("{path}/{n}-{label}-{load:#x}.bin");
            let Some(raw) =
                body.get(offset as usize..(offset as usize).saturating_add(len as usize))
            else {
                self.error(format!(
                    "CBFS: {what}: segment of {len} bytes at {offset:#x} lies outside the payload's {} bytes",
                    body.len()
                ));
                continue;
            };
            if let Some((data, charged)) = self.data(raw, compression, None, &what) {
                if data.len() as u64 > u64::from(memlen) {
                    self.error(format!(
                        "CBFS: {what}: {} bytes, more than the segment's memlen {memlen}",
                        data.len()
                    ));
                }
                self.push(what, data, charged);
            }
        }
    }
}

/// The legacy master header, when the buffer is the whole ROM: its last 4
/// bytes point (relative to the end) at `ORBC`, whose `offset` field is
/// where this CBFS starts (`data` starts there).
fn master_header(data: &[u8]) -> Option<String> {
    let end = data.len();
    let rel = i32::from_le_bytes(data.get(end.checked_sub(4)?..)?.try_into().ok()?);
    let at = end.checked_add_signed(rel as isize)?;
    let h = data.get(at..at + 32)?;
    if &h[..4] != b"ORBC" {
        return None;
    }
    let (rom, align, offset, arch) = (be32(h, 8)?, be32(h, 16)?, be32(h, 20)?, be32(h, 24)?);
    // This region starts `rom - end` bytes into a ROM of `rom` bytes.
    if u64::from(rom) < end as u64 || u64::from(offset) != u64::from(rom) - end as u64 {
        return None;
    }
    let arch = match arch {
        1 => "x86".to_string(),
        0x10 => "arm".to_string(),
        other => format!("architecture {other:#x}"),
    };
    Some(format!(
        "master header: ROM {rom} bytes, {arch}, alignment {align}"
    ))
}

impl Format for Cbfs {
    fn name(&self) -> &'static str {
        "cbfs"
    }

    fn magics(&self) -> &'static [&'static [u8]] {
        &[MAGIC]
    }

    fn extract(&self, data: &[u8], budget: &mut Budget) -> Result<Extracted, Rejection> {
        let first = file_header(data).ok_or(Rejection::NotThisFormat)?;
        budget.bound_layer(data.len() as u64);
        let mut walk = Walk {
            budget,
            entries: Vec::new(),
            notes: Notes::default(),
            codecs: BTreeSet::new(),
            types: BTreeMap::new(),
            facts: Vec::new(),
            full: false,
        };
        let mut at = 0;
        let mut next = Some(first);
        let mut files = 0;
        while let Some(h) = next.take() {
            let start = at + h.data;
            let Some(body) = data.get(start..start.saturating_add(h.len)) else {
                walk.error(format!(
                    "CBFS file {:?} at {at:#x} declares {} bytes, {} left",
                    h.name,
                    h.len,
                    data.len().saturating_sub(start)
                ));
                at = data.len();
                break;
            };
            if !matches!(h.kind, TYPE_NULL | TYPE_DELETED) && !walk.full {
                files += 1;
                let meta = &data[at + h.attributes..start];
                walk.file(&h, meta, body, at);
            }
            at = (start + h.len).next_multiple_of(ALIGN).min(data.len());
            next = file_header(&data[at..]);
            let rest = &data[at..];
            if next.is_none() && !rest.is_empty() && MAGIC.starts_with(&rest[..rest.len().min(8)]) {
                walk.error(format!(
                    "CBFS file header at {at:#x} is truncated or damaged"
                ));
            }
        }
        let mut detail = format!("coreboot CBFS, {files} files");
        if !walk.types.is_empty() {
            let types: Vec<String> = walk.types.iter().map(|(t, n)| format!("{n} {t}")).collect();
            detail += &format!(" ({})", types.join(", "));
        }
        if !walk.codecs.is_empty() {
            let codecs: Vec<&str> = walk.codecs.iter().copied().collect();
            detail += &format!(", {} compressed", codecs.join(" and "));
        }
        if let Some(master) = master_header(data) {
            detail += &format!(", {master}");
        }
        for fact in &walk.facts {
            detail += &format!("; {fact}");
        }
        let mut notes = Vec::new();
        walk.notes.finish("CBFS", &mut notes);
        Ok(Extracted {
            size: at as u64,
            entries: walk.entries,
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
    use crate::unpack::formats::{gunzip, listing};
    use crate::unpack::limits::Limits;

    /// Made by Debian 12's cbfstool (tests/fixtures/fwuefi/make.sh; what
    /// `cbfstool print -v` says of them is beside them, `*.print`).
    const LEGACY: &[u8] = include_bytes!("../../../tests/fixtures/fwuefi/cbfs-legacy.rom.gz");
    const FMAP: &[u8] = include_bytes!("../../../tests/fixtures/fwuefi/cbfs-fmap.rom.gz");

    fn read(data: &[u8]) -> Result<Extracted, Rejection> {
        Cbfs.extract(data, &mut Budget::new(Limits::default()))
    }

    const RAW: &str = "hello cbfs raw file\n";

    #[test]
    fn every_file_of_the_legacy_layout() {
        let data = gunzip(LEGACY);
        let out = read(&data).unwrap();
        assert!(out.notes.is_empty(), "{:?}", out.notes);
        assert_eq!(out.size, 0x3ffc0);
        assert_eq!(
            listing(&out),
            [
                "config/raw.txt 1000",
                "fallback/lz4stage 3784",
                "fallback/payload/1-code-0x100000.bin 3784",
                "fallback/ramstage 3784",
                "fallback/romstage 3784",
                "img/lz4payload/1-code-0x100000.bin 3784",
                "raw-lz4 1000",
                "raw-lzma 1000",
            ]
        );
        for e in &out.entries {
            if e.path.starts_with("raw-") || e.path.starts_with("config/") {
                assert_eq!(e.data, RAW.repeat(50).as_bytes(), "{}", e.path);
            } else {
                assert_eq!(e.data, out.entries[3].data, "{}", e.path);
            }
        }
        assert_eq!(
            out.detail.as_deref(),
            Some(
                "coreboot CBFS, 8 files (3 raw, 2 simple elf, 3 stage), LZ4 and LZMA compressed, \
                 master header: ROM 262144 bytes, x86, alignment 64; fallback/romstage: load \
                 0x100000, entry 0x100000, memlen 20192; fallback/ramstage: load 0x100000, entry \
                 0x100000, memlen 20192; fallback/lz4stage: load 0x100000, entry 0x100000, memlen \
                 20192; fallback/payload: payload entry 0x100000; img/lz4payload: payload entry 0x100000"
            )
        );
    }

    #[test]
    fn the_coreboot_area_of_an_fmap_image() {
        let data = gunzip(FMAP);
        assert_eq!(read(&data).unwrap_err(), Rejection::NotThisFormat);
        let out = read(&data[0x5000..]).unwrap();
        assert!(out.notes.is_empty(), "{:?}", out.notes);
        assert_eq!(out.size, 0x3b000);
        assert_eq!(listing(&out), ["config 1000", "fallback/romstage 3784"]);
        assert_eq!(
            out.detail.as_deref(),
            Some(
                "coreboot CBFS, 2 files (1 raw, 1 stage), LZ4 and LZMA compressed; \
                 fallback/romstage: load 0x100000, entry 0x100000, memlen 20192"
            )
        );
    }

    #[test]
    fn damaged_data_is_a_note() {
        let mut data = gunzip(LEGACY);
        // The LZMA raw file's compression attribute: 1001 bytes declared.
        let tag = 0x440 + memchr::memmem::find(&data[0x440..], b"BCZL").unwrap();
        data[tag + 15] = 0xe9;
        // The stored stage's length, past the region's end.
        data[0x640 + 8] = 0x7f;
        let out = read(&data).unwrap();
        assert_eq!(
            out.notes,
            [
                Problem::Error(
                    "CBFS: raw-lzma: declares 1001 decompressed bytes, LZMA data holds 1000".into()
                ),
                Problem::Error(
                    "CBFS file \"fallback/ramstage\" at 0x640 declares 2130710216 bytes, 260476 left"
                        .into()
                ),
            ]
        );
        assert_eq!(out.size, 0x40000);
        assert_eq!(out.entries.len(), 4);
    }

    #[test]
    fn truncation_and_bit_flips_never_panic() {
        let data = gunzip(LEGACY);
        let used = &data[..0x1900];
        for cut in 0..used.len() {
            if let Ok(out) = read(&used[..cut]) {
                // A cut at a file's end cannot be told from the region's end.
                assert!(
                    !out.notes.is_empty() || out.size as usize == cut,
                    "cut {cut}"
                );
            }
        }
        let mut data = used.to_vec();
        for at in 0..data.len() {
            let bit = if at % 2 == 0 { 0x01 } else { 0x80 };
            data[at] ^= bit;
            if let Ok(out) = read(&data) {
                assert!(out.size <= data.len() as u64);
            }
            data[at] ^= bit;
        }
    }

    /// A stage as cbfstool wrote it before coreboot 4.14 (type 0x10; `struct
    /// cbfs_stage` of that release's cbfs_serialized.h, little-endian, before
    /// the data). No packaged cbfstool writes it any more (Debian 11 has no
    /// coreboot-utils), so it is built here: the legacy ROM's stored stage
    /// moved into the old header.
    #[test]
    fn a_stage_of_the_old_layout() {
        let data = gunzip(LEGACY);
        let image = &data[0x640 + 0x54..0x640 + 0x54 + 3784];
        let mut body = Vec::new();
        body.extend(0u32.to_le_bytes()); // compression: none
        body.extend(0x10_0000u64.to_le_bytes()); // entry
        body.extend(0x10_0000u64.to_le_bytes()); // load
        body.extend((image.len() as u32).to_le_bytes());
        body.extend(20192u32.to_le_bytes()); // memlen
        body.extend(image);
        let mut file = b"LARCHIVE".to_vec();
        for field in [body.len() as u32, TYPE_LEGACY_STAGE, 0, 0x38] {
            file.extend(field.to_be_bytes());
        }
        file.extend(b"fallback/romstage\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0");
        file.extend(&body);
        let out = read(&file).unwrap();
        assert!(out.notes.is_empty(), "{:?}", out.notes);
        assert_eq!(listing(&out), ["fallback/romstage 3784"]);
        assert_eq!(out.entries[0].data, image);
        assert_eq!(
            out.detail.as_deref(),
            Some(
                "coreboot CBFS, 1 files (1 stage); fallback/romstage: load 0x100000, entry \
                 0x100000, memlen 20192"
            )
        );
        for cut in 0x38..file.len() {
            let out = read(&file[..cut]).unwrap();
            assert!(!out.notes.is_empty(), "cut {cut}");
        }
    }

    #[test]
    fn entries_are_bounded() {
        let limits = Limits {
            max_entries: 3,
            ..Limits::default()
        };
        let out = Cbfs
            .extract(&gunzip(LEGACY), &mut Budget::new(limits))
            .unwrap();
        assert_eq!(out.entries.len(), 3);
        assert!(matches!(&out.notes[..], [Problem::Limit(m)] if m.contains("--max-entries")));
    }
}
