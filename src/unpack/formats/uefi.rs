//! UEFI firmware volumes (PI specification volume 3): an `_FVH` header, then
//! FFS files (v2, and v3 large files), each holding sections. Encapsulation
//! sections are opened in place: compression (EFI or Tiano, see
//! [`crate::unpack::tiano`]), GUID-defined (LZMA, Tiano, CRC32, signed), and
//! firmware volume image sections, which are walked as nested volumes.
//!
//! Each module becomes a directory named by its user-interface name (its
//! GUID when it has none) holding its executable (`PeiCore/PeiCore.efi`, `.te`
//! for terse executables), raw and free-form sections, and nested volumes
//! (`<file>/<volume name>/<module>/...`), so that identification sees every
//! PE file with a path a person recognises. An NV variable store volume
//! becomes one `nvram.bin`.
//!
//! Bounds: every size is checked against its container, encapsulation nests
//! at most [`MAX_NEST`] deep, every byte kept or decompressed is drawn from
//! the [`Budget`], and a volume holds at most `max_entries` entries.

use super::{Entry, Extracted, Format, Notes, Problem, Rejection, le16, le32, le64};
use crate::unpack::compress;
use crate::unpack::limits::Budget;
use crate::unpack::tiano;
use crate::unpack::tree::EntryKind;
use std::borrow::Cow;
use std::collections::{BTreeSet, HashSet};

pub struct UefiFv;

/// Where `_FVH` sits in the volume header.
const SIGNATURE_AT: usize = 40;
/// Fixed header fields plus one block map entry and its terminator.
const MIN_HEADER: usize = 0x48;
/// Volumes and encapsulation sections inside each other.
const MAX_NEST: usize = 16;
const ERASE_POLARITY: u32 = 0x800;

const FFS1: &str = "7a9354d9-0468-444a-81ce-0bf617d890df";
const FFS2: &str = "8c8ce578-8a3d-4f1c-9935-896185c32dd3";
const FFS3: &str = "5473c07a-3dcb-4dca-bd6f-1e9689e7349a";
const NVRAM: &str = "fff12b8d-7696-4c8b-a985-2747075b4f50";
/// EDK II's microcode file (IntelSiliconPkg): Intel updates back to back,
/// read by [`super::intel_microcode`] once extracted.
const MICROCODE_FILE: &str = "197db236-f856-4924-90f8-cdf12fb875f3";

const GUID_LZMA: &str = "ee4e5898-3914-4259-9d6e-dc7bd79403cf";
const GUID_LZMA_F86: &str = "d42ae6bd-1352-4bfb-909a-ca72a6eae889";
const GUID_TIANO: &str = "a31280ad-481e-41b6-95e8-127f4c984779";
const GUID_CRC32: &str = "fc1bcdb0-7d31-49aa-936a-a4600d9dd083";
const GUID_BROTLI: &str = "3d532050-5cda-4fd0-879e-0f7f630d5afb";
/// Signed sections: the data after the signature header are plain sections.
const GUID_RSA2048_SHA256: &str = "a7717414-c616-4977-9420-844712a735bf";
const GUID_PKCS7: &str = "4aafd29d-68df-49ee-8aa9-347d375665a7";

const SECTION_COMPRESSION: u8 = 0x01;
const SECTION_GUID_DEFINED: u8 = 0x02;
const SECTION_PE32: u8 = 0x10;
const SECTION_PIC: u8 = 0x11;
const SECTION_TE: u8 = 0x12;
const SECTION_DXE_DEPEX: u8 = 0x13;
const SECTION_VERSION: u8 = 0x14;
const SECTION_USER_INTERFACE: u8 = 0x15;
const SECTION_COMPATIBILITY16: u8 = 0x16;
const SECTION_FIRMWARE_VOLUME_IMAGE: u8 = 0x17;
const SECTION_FREEFORM_SUBTYPE_GUID: u8 = 0x18;
const SECTION_RAW: u8 = 0x19;
const SECTION_PEI_DEPEX: u8 = 0x1b;
const SECTION_MM_DEPEX: u8 = 0x1c;

const FILE_RAW: u8 = 0x01;
const FILE_PAD: u8 = 0xf0;
const FILE_LARGE: u8 = 0x01;

/// A GUID in its registry form (the first three fields little-endian).
pub fn guid(b: &[u8]) -> String {
    format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        b[3],
        b[2],
        b[1],
        b[0],
        b[5],
        b[4],
        b[7],
        b[6],
        b[8],
        b[9],
        b[10],
        b[11],
        b[12],
        b[13],
        b[14],
        b[15]
    )
}

/// The checked fields of a volume header.
#[derive(Debug)]
struct Volume {
    fs: String,
    /// Bytes the header declares for the whole volume.
    len: u64,
    attributes: u32,
    /// Where the first file may start.
    files_at: usize,
    /// The volume's own name, from its extended header.
    name: Option<String>,
    /// Why the header is not quite right (its checksum), when the files after it are.
    damaged: Option<String>,
}

/// Parses and checks a volume header at `data[0]`; `None` when this is not
/// one (a chance `_FVH`), `Err` when it is one whose header is damaged.
fn volume(data: &[u8]) -> Result<Option<Volume>, String> {
    if data.get(SIGNATURE_AT..SIGNATURE_AT + 4) != Some(b"_FVH") {
        return Ok(None);
    }
    let (Some(len), Some(attributes), Some(header_len), Some(ext_at)) = (
        le64(data, 0x20),
        le32(data, 0x2c),
        le16(data, 0x30),
        le16(data, 0x34),
    ) else {
        return Ok(None);
    };
    let revision = data.get(0x37).copied().unwrap_or(0);
    let header_len = usize::from(header_len);
    if !(1..=2).contains(&revision)
        || header_len < MIN_HEADER
        || header_len % 2 != 0
        || len < header_len as u64
    {
        return Ok(None);
    }
    let Some(header) = data.get(..header_len) else {
        return Ok(None);
    };
    let sum = header.chunks_exact(2).fold(0u16, |s, w| {
        s.wrapping_add(u16::from_le_bytes([w[0], w[1]]))
    });
    let fs = guid(&data[0x10..0x20]);
    // A driver that builds volumes carries a header template whose checksum
    // is not filled in: a damaged header is taken only when the first file
    // after it checks out.
    let damaged = (sum != 0).then(|| format!("volume header checksum is off by {sum:#06x}"));
    if damaged.is_some() && !first_file_checks_out(data, header_len.next_multiple_of(8)) {
        return Ok(None);
    }
    let mut files_at = header_len;
    let mut name = None;
    if ext_at != 0 {
        let ext_at = usize::from(ext_at);
        if ext_at < header_len || ext_at as u64 + 20 > len {
            return Err(format!(
                "extended header at {ext_at:#x} lies outside the volume"
            ));
        }
        // Past the end of a truncated volume: no name, and the truncation is noted.
        if let Some(e) = data.get(ext_at..ext_at + 20) {
            let ext_len = le32(e, 16).map_or(0, |l| l as usize);
            if ext_len < 20 || (ext_at + ext_len) as u64 > len {
                return Err(format!(
                    "extended header at {ext_at:#x} declares {ext_len} bytes, outside the volume"
                ));
            }
            name = Some(guid(&e[..16]));
            files_at = ext_at + ext_len;
        }
    }
    let files_at = files_at.next_multiple_of(8);
    Ok(Some(Volume {
        fs,
        len,
        attributes,
        files_at,
        name,
        damaged,
    }))
}

/// True when an FFS file header whose checksum matches sits at `at`.
fn first_file_checks_out(data: &[u8], at: usize) -> bool {
    data.get(at..at + 24)
        .is_some_and(|h| !h.iter().all(|&b| b == 0xff || b == 0) && header_sum(h) == 0)
}

/// The FFS header checksum: the header less the state byte and the file
/// checksum byte sums to zero.
fn header_sum(header: &[u8]) -> u8 {
    header
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 17 && *i != 23)
        .fold(0u8, |s, (_, &b)| s.wrapping_add(b))
}

/// One section that holds data (not an encapsulation), as found.
struct Leaf<'a> {
    kind: u8,
    data: Cow<'a, [u8]>,
    /// Already drawn from the budget (decompressed output).
    charged: bool,
}

/// What one walk over a volume (and its nested volumes) collects.
struct Walk<'b> {
    budget: &'b mut Budget,
    entries: Vec<Entry>,
    notes: Notes,
    /// Codecs met, for the layer's detail.
    codecs: BTreeSet<&'static str>,
    modules: usize,
    volumes: usize,
    full: bool,
    /// `(version (build N), module)` of every module with a version section.
    versions: Vec<(String, String)>,
}

impl Walk<'_> {
    fn error(&mut self, message: String) {
        self.notes.push(Problem::Error(message));
    }

    fn push(&mut self, path: String, data: &[u8], charged: bool) {
        if self.full {
            return;
        }
        if let Err(bound) = self.budget.entry() {
            self.full = true;
            self.notes.push(Problem::Limit(format!(
                "firmware volume: {bound} reached; the rest of its entries were skipped"
            )));
            return;
        }
        let len = data.len() as u64;
        if !charged && let Err(bound) = self.budget.charge_file(len) {
            self.notes.push(Problem::Limit(format!(
                "{path}: {len} bytes reach {bound}; skipped"
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

    /// Walks the files of the volume at `data[0]` (header already checked),
    /// naming entries under `prefix`.
    fn volume(&mut self, data: &[u8], v: &Volume, prefix: &str, charged: bool, depth: usize) {
        self.volumes += 1;
        let end = usize::try_from(v.len).unwrap_or(usize::MAX).min(data.len());
        let body = &data[..end];
        match v.fs.as_str() {
            FFS1 | FFS2 | FFS3 => {}
            NVRAM => {
                let store = &body[v.files_at.min(end)..];
                self.push(format!("{prefix}nvram.bin"), store, charged);
                return;
            }
            other => {
                self.error(format!(
                    "{}file system {other} is not an FFS; volume kept whole",
                    inside(prefix)
                ));
                let rest = &body[v.files_at.min(end)..];
                self.push(format!("{prefix}volume.bin"), rest, charged);
                return;
            }
        }
        let erased = if v.attributes & ERASE_POLARITY != 0 {
            0xff
        } else {
            0
        };
        let ffs3 = v.fs == FFS3;
        let mut names: HashSet<String> = HashSet::new();
        let mut at = v.files_at;
        while at + 24 <= end && !self.full {
            let h = &body[at..at + 24];
            if h.iter().all(|&b| b == erased) {
                break;
            }
            let name = guid(&h[..16]);
            let (kind, attributes) = (h[18], h[19]);
            let size24 = u32::from_le_bytes([h[20], h[21], h[22], 0]) as u64;
            let (size, header_len) = if attributes & FILE_LARGE != 0 && ffs3 {
                match le64(body, at + 24) {
                    Some(s) => (s, 32),
                    None => (0, 32),
                }
            } else {
                (size24, 24)
            };
            if size < header_len as u64 || size > (end - at) as u64 {
                self.error(format!(
                    "{}FFS file {name} at volume offset {at:#x} declares {size} bytes, {} left in the volume",
                    inside(prefix),
                    end - at
                ));
                break;
            }
            let size = size as usize;
            let header = &body[at..at + header_len];
            let sum = header_sum(header);
            if sum != 0 {
                self.error(format!(
                    "{}FFS file {name} at volume offset {at:#x}: header checksum is off by {sum:#04x}",
                    inside(prefix)
                ));
            }
            let state = if erased == 0xff { !h[23] } else { h[23] };
            let contents = &body[at + header_len..at + size];
            at = (at + size).next_multiple_of(8);
            // Deleted or invalid headers: superseded copies.
            if state & 0x30 != 0 || kind == FILE_PAD {
                continue;
            }
            self.file(contents, &name, kind, prefix, &mut names, charged, depth);
        }
    }

    /// One FFS file: its sections opened, its leaves named.
    #[allow(clippy::too_many_arguments)]
    fn file(
        &mut self,
        contents: &[u8],
        name: &str,
        kind: u8,
        prefix: &str,
        names: &mut HashSet<String>,
        charged: bool,
        depth: usize,
    ) {
        self.modules += 1;
        let mut leaves = Vec::new();
        if kind == FILE_RAW {
            leaves.push(Leaf {
                kind: SECTION_RAW,
                data: Cow::Borrowed(contents),
                charged,
            });
        } else {
            let what = format!("{prefix}{name}");
            self.sections(contents, &what, charged, depth, &mut leaves);
        }
        let ui = leaves
            .iter()
            .find(|l| l.kind == SECTION_USER_INTERFACE)
            .map(|l| ucs2(&l.data))
            .filter(|n| !n.is_empty());
        let mut base = ui.unwrap_or_else(|| name.to_string());
        for leaf in leaves.iter().filter(|l| l.kind == SECTION_VERSION) {
            self.versions.push((version_fact(&leaf.data), base.clone()));
        }
        if !names.insert(base.clone()) {
            base = format!("{base}-{name}");
            names.insert(base.clone());
        }
        let dir = format!("{prefix}{base}/");
        let mut used: HashSet<String> = HashSet::new();
        let mut unique = |wanted: String| -> String {
            if used.insert(wanted.clone()) {
                return wanted;
            }
            let (stem, ext) = match wanted.rsplit_once('.') {
                Some((s, e)) => (s.to_string(), format!(".{e}")),
                None => (wanted.clone(), String::new()),
            };
            let mut n = 1;
            loop {
                let candidate = format!("{stem}-{n}{ext}");
                if used.insert(candidate.clone()) {
                    return candidate;
                }
                n += 1;
            }
        };
        for leaf in leaves {
            let file = match leaf.kind {
                SECTION_PE32 => format!("{base}.efi"),
                SECTION_PIC => format!("{base}.pic"),
                SECTION_TE => format!("{base}.te"),
                SECTION_COMPATIBILITY16 => "csm16.bin".into(),
                SECTION_RAW if name == MICROCODE_FILE => "microcode.bin".into(),
                SECTION_RAW => "raw.bin".into(),
                SECTION_FREEFORM_SUBTYPE_GUID => match leaf.data.get(..16) {
                    Some(g) => format!("{}.bin", guid(g)),
                    None => "freeform.bin".into(),
                },
                SECTION_FIRMWARE_VOLUME_IMAGE => {
                    self.nested(&leaf.data, &dir, &mut unique, leaf.charged, depth);
                    continue;
                }
                SECTION_USER_INTERFACE
                | SECTION_VERSION
                | SECTION_DXE_DEPEX
                | SECTION_PEI_DEPEX
                | SECTION_MM_DEPEX => continue,
                other => format!("section-{other:#04x}.bin"),
            };
            let data = if leaf.kind == SECTION_FREEFORM_SUBTYPE_GUID {
                leaf.data.get(16..).unwrap_or_default()
            } else {
                &leaf.data[..]
            };
            let path = format!("{dir}{}", unique(file));
            self.push(path, data, leaf.charged);
        }
    }

    /// A firmware volume image section: walked as a volume named by its own
    /// name (or `fv`) inside the module directory.
    fn nested(
        &mut self,
        data: &[u8],
        dir: &str,
        unique: &mut dyn FnMut(String) -> String,
        charged: bool,
        depth: usize,
    ) {
        if depth + 1 > MAX_NEST {
            self.notes.push(Problem::Limit(format!(
                "{dir}: volumes nest deeper than {MAX_NEST}; inner volume not opened"
            )));
            return;
        }
        match volume(data) {
            Ok(Some(v)) => {
                let label = unique(v.name.clone().unwrap_or_else(|| "fv".into()));
                if let Some(why) = &v.damaged {
                    self.error(format!("{dir}{label}: {why}; files read anyway"));
                }
                if (data.len() as u64) < v.len {
                    self.error(format!(
                        "{dir}{label}: volume declares {} bytes, its section holds {}",
                        v.len,
                        data.len()
                    ));
                }
                self.volume(data, &v, &format!("{dir}{label}/"), charged, depth + 1);
            }
            Ok(None) | Err(_) => {
                self.error(format!(
                    "{dir}: firmware volume section holds no valid volume header; kept as fv.bin"
                ));
                let path = format!("{dir}{}", unique("fv.bin".into()));
                self.push(path, data, charged);
            }
        }
    }

    /// Opens the sections of `data` into `leaves`, encapsulations included.
    fn sections<'a>(
        &mut self,
        data: &'a [u8],
        what: &str,
        charged: bool,
        depth: usize,
        leaves: &mut Vec<Leaf<'a>>,
    ) {
        if depth > MAX_NEST {
            self.notes.push(Problem::Limit(format!(
                "{what}: sections nest deeper than {MAX_NEST}; not opened"
            )));
            return;
        }
        let mut at = 0;
        while at + 4 <= data.len() {
            let size24 = u32::from_le_bytes([data[at], data[at + 1], data[at + 2], 0]) as usize;
            let kind = data[at + 3];
            let (size, header) = if size24 == 0xff_ffff {
                (le32(data, at + 4).map_or(0, |s| s as usize), 8)
            } else {
                (size24, 4)
            };
            if size < header || size > data.len() - at {
                // Trailing erased or zero padding is not a section.
                if data[at..].iter().all(|&b| b == 0xff || b == 0) {
                    break;
                }
                self.error(format!(
                    "{what}: section at {at:#x} declares {size} bytes, {} left",
                    data.len() - at
                ));
                break;
            }
            let body = &data[at + header..at + size];
            at = (at + size).next_multiple_of(4);
            match kind {
                SECTION_COMPRESSION => self.compression(body, what, charged, depth, leaves),
                SECTION_GUID_DEFINED => self.guid_defined(body, what, charged, depth, leaves),
                _ => leaves.push(Leaf {
                    kind,
                    data: Cow::Borrowed(body),
                    charged,
                }),
            }
        }
    }

    fn compression<'a>(
        &mut self,
        body: &'a [u8],
        what: &str,
        charged: bool,
        depth: usize,
        leaves: &mut Vec<Leaf<'a>>,
    ) {
        let (Some(declared), Some(&kind)) = (le32(body, 0), body.get(4)) else {
            self.error(format!("{what}: compression section header is truncated"));
            return;
        };
        let data = &body[5..];
        match kind {
            0 => self.sections(data, what, charged, depth + 1, leaves),
            1 => {
                // The PI specification's "standard" compression is the EFI
                // algorithm; some vendors put Tiano streams there.
                let mut decoded = tiano::decode(data, tiano::Variant::Efi, self.budget);
                let mut codec = "EFI";
                if decoded.error.is_some() {
                    let tiano = tiano::decode(data, tiano::Variant::Tiano, self.budget);
                    if tiano.error.is_none() {
                        decoded = tiano;
                        codec = "Tiano";
                    }
                }
                self.codecs.insert(codec);
                if decoded.error.is_none() && decoded.data.len() as u64 != u64::from(declared) {
                    self.error(format!(
                        "{what}: compression section declares {declared} bytes, stream holds {}",
                        decoded.data.len()
                    ));
                }
                self.decoded(decoded, codec, what, depth, leaves);
            }
            other => self.error(format!("{what}: unknown compression type {other}")),
        }
    }

    fn guid_defined<'a>(
        &mut self,
        body: &'a [u8],
        what: &str,
        charged: bool,
        depth: usize,
        leaves: &mut Vec<Leaf<'a>>,
    ) {
        let (Some(g), Some(data_offset), Some(attributes)) =
            (body.get(..16), le16(body, 16), le16(body, 18))
        else {
            self.error(format!("{what}: GUID-defined section header is truncated"));
            return;
        };
        let id = guid(g);
        // The offset counts from the section's start, before its 4-byte header.
        let Some(data) = usize::from(data_offset)
            .checked_sub(4)
            .and_then(|o| body.get(o..))
            .filter(|_| data_offset >= 24)
        else {
            self.error(format!(
                "{what}: GUID-defined section {id}: data offset {data_offset} lies outside it"
            ));
            return;
        };
        match id.as_str() {
            GUID_LZMA => {
                self.codecs.insert("LZMA");
                let decoded = compress::decode(compress::Codec::LzmaAlone, data, self.budget);
                self.decoded(decoded, "LZMA", what, depth, leaves);
            }
            GUID_LZMA_F86 => {
                self.codecs.insert("LZMA (x86 BCJ)");
                let mut decoded = compress::decode(compress::Codec::LzmaAlone, data, self.budget);
                crate::unpack::bcj::x86_decode(&mut decoded.data);
                self.decoded(decoded, "LZMA (x86 BCJ)", what, depth, leaves);
            }
            GUID_TIANO => {
                self.codecs.insert("Tiano");
                let decoded = tiano::decode(data, tiano::Variant::Tiano, self.budget);
                self.decoded(decoded, "Tiano", what, depth, leaves);
            }
            GUID_CRC32 | GUID_RSA2048_SHA256 | GUID_PKCS7 => {
                self.sections(data, what, charged, depth + 1, leaves)
            }
            _ if attributes & 1 == 0 => self.sections(data, what, charged, depth + 1, leaves),
            GUID_BROTLI => {
                self.codecs.insert("Brotli");
                match brotli(data, self.budget) {
                    Ok(decoded) => self.decoded(decoded, "Brotli", what, depth, leaves),
                    Err(e) => self.error(format!("{what}: Brotli section {e}")),
                }
            }
            other => {
                self.error(format!(
                    "{what}: section {other} (an unknown GUID-defined encoding) is not supported yet; kept as it is"
                ));
                leaves.push(Leaf {
                    kind: SECTION_FREEFORM_SUBTYPE_GUID,
                    data: Cow::Owned([g, data].concat()),
                    charged: false,
                });
            }
        }
    }

    /// Sections from a decompressed stream, charged to the budget once.
    fn decoded(
        &mut self,
        mut decoded: compress::Decoded,
        codec: &str,
        what: &str,
        depth: usize,
        leaves: &mut Vec<Leaf<'_>>,
    ) {
        if let Some(e) = &decoded.error {
            self.error(format!(
                "{what}: {codec} section is corrupt after {} output bytes: {e}",
                decoded.data.len()
            ));
        }
        if decoded.stopped() {
            self.notes.push(Problem::Limit(format!(
                "{what}: {codec} section stopped at {} bytes: {}",
                decoded.data.len(),
                super::gzip::stop_cause(&decoded, decoded.consumed, self.budget)
            )));
        }
        if let Err(bound) = decoded.keep(self.budget) {
            self.notes.push(Problem::Limit(format!(
                "{what}: {} decoded bytes reach {bound}; section dropped",
                decoded.data.len()
            )));
            return;
        }
        let mut inner = Vec::new();
        self.sections(&decoded.data, what, true, depth + 1, &mut inner);
        leaves.extend(inner.into_iter().map(|l| Leaf {
            kind: l.kind,
            data: Cow::Owned(l.data.into_owned()),
            charged: true,
        }));
    }
}

/// EDK II's Brotli section (BrotliCustomDecompressLib): the decoded size and
/// the decoder's scratch size, each 8 bytes little-endian, then a bare Brotli
/// stream. The output is bounded by the declared size as well as the budget;
/// a stream that goes on past it, or ends short of it, is an error.
fn brotli(data: &[u8], budget: &Budget) -> Result<compress::Decoded, String> {
    let (Some(declared), Some(stream)) = (le64(data, 0), data.get(16..)) else {
        return Err(format!("header is truncated: {} of 16 bytes", data.len()));
    };
    let mut decoded = compress::decode_at_most(compress::Codec::Brotli, stream, budget, declared);
    let len = decoded.data.len() as u64;
    if decoded.error.is_none() && decoded.capped && len == declared {
        decoded.error = Some(format!(
            "declares {declared} decoded bytes, stream goes on past them"
        ));
        decoded.capped = false;
    } else if decoded.error.is_none() && !decoded.stopped() && len < declared {
        decoded.error = Some(format!(
            "declares {declared} decoded bytes, stream ends after {len}"
        ));
    }
    Ok(decoded)
}

/// `version (build N)` from a version section: a 16-bit build number and a
/// UCS-2 string.
fn version_fact(data: &[u8]) -> String {
    let build = le16(data, 0).unwrap_or(0);
    let text = ucs2(data.get(2..).unwrap_or_default());
    let text = if text.is_empty() {
        "(no string)"
    } else {
        &text
    };
    if build == 0 {
        text.to_string()
    } else {
        format!("{text} build {build}")
    }
}

/// At most this many distinct module versions are named in a volume's detail.
const MAX_VERSIONS: usize = 16;
/// A version that more modules than this carry is given with their count.
const NAMED_MODULES: usize = 3;

/// The versions of a volume's modules, grouped: `1.0 (120 modules), 4.0
/// (PcdPeim)` — most EDK II modules carry the default `1.0`, so the
/// modules that differ are the ones named.
fn versions_fact(versions: &[(String, String)]) -> String {
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    for (version, module) in versions {
        match groups.iter_mut().find(|(v, _)| v == version) {
            Some((_, modules)) => modules.push(module),
            None => groups.push((version, vec![module])),
        }
    }
    let more = groups.len().saturating_sub(MAX_VERSIONS);
    let mut out: Vec<String> = groups
        .iter()
        .take(MAX_VERSIONS)
        .map(|(version, modules)| {
            if modules.len() > NAMED_MODULES {
                format!("{version} ({} modules)", modules.len())
            } else {
                format!("{version} ({})", modules.join(", "))
            }
        })
        .collect();
    if more > 0 {
        out.push(format!("{more} more versions"));
    }
    out.join(", ")
}

/// `in <prefix>: ` for a message about a nested volume, nothing for the outer one.
fn inside(prefix: &str) -> String {
    if prefix.is_empty() {
        String::new()
    } else {
        format!("in {}: ", prefix.trim_end_matches('/'))
    }
}

/// A NUL-terminated UCS-2 string (UI and version sections), made safe as a
/// path component.
fn ucs2(data: &[u8]) -> String {
    let units: Vec<u16> = data
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|&u| u != 0)
        .collect();
    String::from_utf16_lossy(&units)
        .chars()
        .map(|c| if c == '/' || c.is_control() { '_' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

impl Format for UefiFv {
    fn name(&self) -> &'static str {
        "uefi-fv"
    }

    fn magics(&self) -> &'static [&'static [u8]] {
        &[b"_FVH"]
    }

    fn magic_offset(&self) -> usize {
        SIGNATURE_AT
    }

    fn declared_len(&self, data: &[u8]) -> Option<u64> {
        volume(data).ok().flatten().map(|v| v.len)
    }

    fn extract(&self, data: &[u8], budget: &mut Budget) -> Result<Extracted, Rejection> {
        let v = match volume(data) {
            Ok(Some(v)) => v,
            Ok(None) => return Err(Rejection::NotThisFormat),
            Err(e) => return Err(Rejection::Corrupt(format!("firmware volume: {e}"))),
        };
        let mut walk = Walk {
            budget,
            entries: Vec::new(),
            notes: Notes::default(),
            codecs: BTreeSet::new(),
            modules: 0,
            volumes: 0,
            full: false,
            versions: Vec::new(),
        };
        if let Some(why) = &v.damaged {
            walk.error(format!("firmware volume: {why}; files read anyway"));
        }
        if (data.len() as u64) < v.len {
            walk.error(format!(
                "firmware volume truncated: header says {} bytes, only {} present",
                v.len,
                data.len()
            ));
        }
        walk.volume(data, &v, "", false, 0);
        let kind = match v.fs.as_str() {
            FFS1 => "FFS v1",
            FFS2 => "FFS v2",
            FFS3 => "FFS v3",
            NVRAM => "NV variable store",
            _ => "unknown file system",
        };
        let mut detail = String::from("UEFI firmware volume");
        if let Some(name) = &v.name {
            detail += &format!(" {name}");
        }
        detail += &format!(", {kind}");
        if walk.modules > 0 {
            detail += &format!(", {} files", walk.modules);
        }
        if walk.volumes > 1 {
            detail += &format!(", {} nested volumes", walk.volumes - 1);
        }
        if !walk.codecs.is_empty() {
            let codecs: Vec<&str> = walk.codecs.iter().copied().collect();
            detail += &format!(", {} compressed sections", codecs.join(" and "));
        }
        if !walk.versions.is_empty() {
            detail += &format!(", module versions: {}", versions_fact(&walk.versions));
        }
        let mut notes = Vec::new();
        walk.notes.finish("firmware volume", &mut notes);
        Ok(Extracted {
            size: v.len.min(data.len() as u64),
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
    use crate::unpack::formats::listing;
    use crate::unpack::limits::Limits;

    /// A volume laid out per the PI specification by `tests/fixtures/fw-fixtures.py`
    /// and read back by uefi-firmware-parser (make.sh).
    const FV: &[u8] = include_bytes!("../../../tests/fixtures/uefi.fv");

    fn read(data: &[u8]) -> Result<Extracted, Rejection> {
        UefiFv.extract(data, &mut Budget::new(Limits::default()))
    }

    #[test]
    fn every_kind_of_section_of_the_fixture_volume() {
        let out = read(FV).unwrap();
        assert!(out.notes.is_empty(), "{:?}", out.notes);
        assert_eq!(out.size, 1024);
        assert_eq!(
            listing(&out),
            [
                "44444444-2222-4333-8444-555555555555/a5a5a5a5-0000-4000-8000-000000000001/InnerDxe/InnerDxe.efi 129",
                "55555555-2222-4333-8444-555555555555/raw.bin 15",
                "HelloDxe/HelloDxe.efi 129",
                "Logo/77777777-2222-4333-8444-555555555555.bin 17",
                "PackedDxe/PackedDxe.efi 130",
                "TianoPei/TianoPei.te 60",
            ]
        );
        assert_eq!(
            out.detail.as_deref(),
            Some(
                "UEFI firmware volume 5a5a5a5a-0000-4000-8000-000000000002, FFS v2, 7 files, \
                 1 nested volumes, EFI and LZMA and Tiano compressed sections, \
                 module versions: 1.0 build 1 (HelloDxe), 2.5 build 7 (PackedDxe)"
            )
        );
        let packed = out
            .entries
            .iter()
            .find(|e| e.path.starts_with("PackedDxe/"));
        assert!(packed.unwrap().data.starts_with(b"MZ"));
        let te = out
            .entries
            .iter()
            .find(|e| e.path.ends_with(".te"))
            .unwrap();
        assert!(te.data.ends_with(b"TianoPei terse image"));
    }

    #[test]
    fn truncation_is_a_note_or_a_refusal_never_a_panic() {
        for cut in 0..FV.len() {
            match read(&FV[..cut]) {
                Ok(out) => assert!(!out.notes.is_empty(), "cut {cut}"),
                Err(Rejection::NotThisFormat) => assert!(cut < MIN_HEADER, "cut {cut}"),
                Err(e) => panic!("cut {cut}: {e:?}"),
            }
        }
    }

    #[test]
    fn bit_flips_never_panic_and_stay_within_the_volume() {
        let mut data = FV.to_vec();
        for at in 0..data.len() {
            for bit in [0x01, 0x10, 0x80] {
                data[at] ^= bit;
                if let Ok(out) = read(&data) {
                    assert!(out.size <= 1024);
                }
                data[at] ^= bit;
            }
        }
    }

    #[test]
    fn a_damaged_header_checksum_is_noted_when_the_files_check_out() {
        let mut data = FV.to_vec();
        data[0x32] ^= 0xff;
        let out = read(&data).unwrap();
        assert_eq!(out.entries.len(), 6);
        assert!(
            matches!(&out.notes[..], [Problem::Error(m)] if m.contains("checksum is off")),
            "{:?}",
            out.notes
        );
        // A header template (a driver that builds volumes) is not a volume.
        let mut template = FV[..0x48].to_vec();
        template[0x32] ^= 0xff;
        template.extend_from_slice(&[0x90; 64]);
        assert_eq!(read(&template).unwrap_err(), Rejection::NotThisFormat);
    }

    /// Brotli sections laid out as EDK II's BrotliCustomDecompressLib reads
    /// them, by `tests/fixtures/fwuefi/uefi-more.py` (Python's `brotli`).
    const BROTLI_FV: &[u8] = include_bytes!("../../../tests/fixtures/fwuefi/uefi-brotli.fv");

    #[test]
    fn brotli_sections_are_decoded_and_their_declared_size_checked() {
        let out = read(BROTLI_FV).unwrap();
        assert_eq!(
            listing(&out),
            ["BrotliDxe/BrotliDxe.efi 450", "ShortBrotli/raw.bin 28"]
        );
        let efi = &out.entries[0].data;
        assert!(efi.starts_with(b"MZ") && efi.ends_with(&b"padding ".repeat(40)));
        assert_eq!(
            out.detail.as_deref(),
            Some(
                "UEFI firmware volume, FFS v2, 2 files, Brotli compressed sections, \
                 module versions: 3.1 build 42 (BrotliDxe)"
            )
        );
        assert_eq!(
            out.notes,
            [Problem::Error(
                "abababab-0000-4000-8000-000000000002: Brotli section is corrupt after 60 \
                 output bytes: declares 68 decoded bytes, stream ends after 60"
                    .into()
            )]
        );
    }

    #[test]
    fn brotli_sections_cut_flipped_or_bounded_never_panic() {
        for cut in 0..BROTLI_FV.len() {
            if let Ok(out) = read(&BROTLI_FV[..cut]) {
                assert!(!out.notes.is_empty(), "cut {cut}");
            }
        }
        let mut data = BROTLI_FV.to_vec();
        for at in 0x48..0x48 + 0xaf {
            for bit in [0x01, 0x20, 0x80] {
                data[at] ^= bit;
                let _ = read(&data);
                data[at] ^= bit;
            }
        }
        // The output is bounded by the budget, not by the declared size.
        let limits = Limits {
            max_memory: 64 << 10,
            ..Limits::default()
        };
        let out = UefiFv.extract(BROTLI_FV, &mut Budget::new(limits)).unwrap();
        assert!(
            out.notes
                .iter()
                .any(|n| matches!(n, Problem::Limit(m) if m.contains("memory bound"))),
            "{:?}",
            out.notes
        );
    }

    #[test]
    fn entries_are_bounded() {
        let limits = Limits {
            max_entries: 2,
            ..Limits::default()
        };
        let out = UefiFv.extract(FV, &mut Budget::new(limits)).unwrap();
        assert_eq!(out.entries.len(), 2);
        assert!(matches!(&out.notes[..], [Problem::Limit(_)]));
    }
}
