//! PE version resources: the `VS_VERSIONINFO` block (resource type
//! `RT_VERSION`) that Windows executables and DLLs carry, found through the
//! `object` crate's PE resource directory reader and decoded here. Firmware
//! update bundles ship Windows flashing tools and drivers; their
//! `ProductName`, `CompanyName`, `FileVersion` and `ProductVersion` name what
//! they are.

use object::LittleEndian as LE;
use object::pe;
use object::read::pe::{ImageNtHeaders, PeFile, ResourceDirectory, ResourceNameOrId};
use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Largest version resource we decode: real ones are well under 4 KiB.
const VERSION_INFO_MAX: usize = 64 << 10;

/// Most resources of type `RT_VERSION` (names × languages) looked at.
const RESOURCES_MAX: usize = 16;

/// What a `VS_VERSIONINFO` resource says.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct VersionInfo {
    /// `StringFileInfo` values by key (`ProductName`, `FileVersion`, ...),
    /// from the first string table that has any.
    pub strings: BTreeMap<String, String>,
    /// `VS_FIXEDFILEINFO` file and product versions, `a.b.c.d`.
    pub file_version: Option<String>,
    pub product_version: Option<String>,
}

impl VersionInfo {
    /// A `StringFileInfo` value, if present and not blank.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.strings
            .get(key)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// The release it names: the leading version of `ProductVersion`, else of
    /// `FileVersion`, else the fixed product (file) version without a
    /// trailing `.0` build number.
    pub fn version(&self) -> Option<String> {
        for key in ["ProductVersion", "FileVersion"] {
            if let Some(v) = self.get(key).and_then(leading_version) {
                return Some(v);
            }
        }
        self.product_version
            .as_deref()
            .or(self.file_version.as_deref())
            .map(|v| v.strip_suffix(".0").unwrap_or(v).to_string())
    }

    /// The quoted facts, for evidence.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        for key in [
            "CompanyName",
            "ProductName",
            "FileDescription",
            "ProductVersion",
            "FileVersion",
            "OriginalFilename",
        ] {
            if let Some(v) = self.get(key) {
                parts.push(format!("{key} \"{v}\""));
            }
        }
        if parts.is_empty()
            && let Some(v) = &self.product_version
        {
            parts.push(format!("fixed ProductVersion {v}"));
        }
        parts.join(", ")
    }
}

/// `1.3.1` of `1.3.1`, `3.0.13` of `3.0.13 (Library: OpenSSL 3.0.13)`,
/// `1.1.1w` of `1.1.1w`; `None` when the text does not start with a number.
fn leading_version(text: &str) -> Option<String> {
    let text = text.trim_start_matches(['v', 'V']);
    let end = text
        .char_indices()
        .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '.'))
        .map_or(text.len(), |(i, _)| i);
    let candidate = text[..end].trim_end_matches('.');
    let starts_with_digit = candidate.starts_with(|c: char| c.is_ascii_digit());
    // Commas (`1, 3, 1, 0`) and words are not a version string.
    (starts_with_digit && candidate.contains('.')).then(|| candidate.to_string())
}

/// The version resource of the PE file `data`, if it has one.
pub fn version_info(data: &[u8]) -> Option<VersionInfo> {
    if !data.starts_with(b"MZ") {
        return None;
    }
    // `object` is a third-party parser: a panic costs this file's resource.
    catch_unwind(AssertUnwindSafe(|| match object::FileKind::parse(data) {
        Ok(object::FileKind::Pe32) => read::<pe::ImageNtHeaders32>(data),
        Ok(object::FileKind::Pe64) => read::<pe::ImageNtHeaders64>(data),
        _ => None,
    }))
    .ok()
    .flatten()
}

fn read<Pe: ImageNtHeaders>(data: &[u8]) -> Option<VersionInfo> {
    let file = PeFile::<Pe>::parse(data).ok()?;
    let sections = file.section_table();
    let directory: ResourceDirectory = file
        .data_directories()
        .resource_directory(data, &sections)
        .ok()??;
    let root = directory.root().ok()?;
    let versions = root
        .entries
        .iter()
        .find(|e| matches!(e.name_or_id(), ResourceNameOrId::Id(pe::RT_VERSION)))?;
    // Type → name → language → data.
    let names = versions.data(directory).ok()?.table()?;
    let mut seen = 0;
    for name in names.entries {
        let Some(languages) = name.data(directory).ok().and_then(|d| d.table()) else {
            continue;
        };
        for language in languages.entries {
            seen += 1;
            if seen > RESOURCES_MAX {
                return None;
            }
            let Some(entry) = language.data(directory).ok().and_then(|d| d.data()) else {
                continue;
            };
            let size = (entry.size.get(LE) as usize).min(VERSION_INFO_MAX);
            let Some(bytes) = sections
                .pe_data_at(data, entry.offset_to_data.get(LE))
                .and_then(|b| b.get(..size))
            else {
                continue;
            };
            if let Some(info) = parse_version_info(bytes) {
                return Some(info);
            }
        }
    }
    None
}

/// One `VS_VERSIONINFO`-style block: `wLength`, `wValueLength`, `wType`, a
/// NUL-terminated UTF-16 key, padding to 4 bytes, the value, padding, and
/// child blocks up to `wLength`.
struct Block<'a> {
    key: String,
    value: &'a [u8],
    /// `wType` 1: the value is UTF-16 text.
    text: bool,
    children: &'a [u8],
}

fn u16_at(data: &[u8], at: usize) -> Option<u16> {
    data.get(at..at + 2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// UTF-16LE text up to the first NUL (or the end); the number of bytes read,
/// NUL included.
fn utf16(data: &[u8]) -> (String, usize) {
    let units: Vec<u16> = data
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|&u| u != 0)
        .collect();
    let used = (units.len() * 2 + 2).min(data.len());
    (String::from_utf16_lossy(&units), used)
}

/// The block at the start of `data` and the bytes it spans (rounded to 4).
fn block(data: &[u8]) -> Option<(Block<'_>, usize)> {
    let length = u16_at(data, 0)? as usize;
    let value_length = u16_at(data, 2)? as usize;
    let kind = u16_at(data, 4)?;
    if length < 6 || length > data.len() {
        return None;
    }
    let data = &data[..length];
    let (key, used) = utf16(&data[6..]);
    let value_at = align4(6 + used).min(length);
    let text = kind == 1;
    // Text values count UTF-16 units (some tools write bytes: clamp).
    let value_bytes = if text { value_length * 2 } else { value_length };
    let value_end = (value_at + value_bytes).min(length);
    let value = &data[value_at..value_end];
    let children_at = align4(value_end).min(length);
    Some((
        Block {
            key,
            value,
            text,
            children: &data[children_at..],
        },
        align4(length),
    ))
}

/// The child blocks of a block.
fn children(mut data: &[u8]) -> Vec<Block<'_>> {
    let mut out = Vec::new();
    while let Some((child, span)) = block(data) {
        out.push(child);
        if span >= data.len() {
            break;
        }
        data = &data[span..];
    }
    out
}

/// Decodes a `VS_VERSIONINFO` resource.
pub fn parse_version_info(data: &[u8]) -> Option<VersionInfo> {
    let (root, _) = block(data)?;
    if root.key != "VS_VERSION_INFO" {
        return None;
    }
    let mut info = VersionInfo::default();
    // VS_FIXEDFILEINFO: signature 0xFEEF04BD, struct version, then the file
    // and product versions as two (MS, LS) pairs of 32-bit words.
    if root.value.len() >= 52 && root.value.starts_with(&0xFEEF_04BDu32.to_le_bytes()) {
        let word = |at: usize| {
            u32::from_le_bytes([
                root.value[at],
                root.value[at + 1],
                root.value[at + 2],
                root.value[at + 3],
            ])
        };
        let dotted =
            |ms: u32, ls: u32| format!("{}.{}.{}.{}", ms >> 16, ms & 0xffff, ls >> 16, ls & 0xffff);
        info.file_version = Some(dotted(word(8), word(12)));
        info.product_version = Some(dotted(word(16), word(20)));
    }
    for child in children(root.children) {
        if child.key != "StringFileInfo" {
            continue;
        }
        for table in children(child.children) {
            for entry in children(table.children) {
                let value = if entry.text {
                    utf16(entry.value).0
                } else {
                    String::from_utf8_lossy(entry.value)
                        .trim_end_matches('\0')
                        .to_string()
                };
                info.strings.entry(entry.key).or_insert(value);
            }
            if !info.strings.is_empty() {
                break;
            }
        }
    }
    Some(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A block as `windres` writes it.
    fn block_bytes(key: &str, value: &[u8], text: bool, children: &[Vec<u8>]) -> Vec<u8> {
        let mut out = vec![0, 0, 0, 0, text as u8, 0];
        for unit in key.encode_utf16().chain([0]) {
            out.extend_from_slice(&unit.to_le_bytes());
        }
        while out.len() % 4 != 0 {
            out.push(0);
        }
        out.extend_from_slice(value);
        while out.len() % 4 != 0 {
            out.push(0);
        }
        for child in children {
            out.extend_from_slice(child);
            while out.len() % 4 != 0 {
                out.push(0);
            }
        }
        let length = out.len() as u16;
        out[0..2].copy_from_slice(&length.to_le_bytes());
        let value_length = if text { value.len() / 2 } else { value.len() } as u16;
        out[2..4].copy_from_slice(&value_length.to_le_bytes());
        out
    }

    fn text(s: &str) -> Vec<u8> {
        s.encode_utf16()
            .chain([0])
            .flat_map(|u| u.to_le_bytes())
            .collect()
    }

    #[test]
    fn decodes_strings_and_fixed_versions() {
        let mut fixed = vec![0u8; 52];
        fixed[0..4].copy_from_slice(&0xFEEF_04BDu32.to_le_bytes());
        fixed[8..12].copy_from_slice(&((1u32 << 16) | 3).to_le_bytes());
        fixed[12..16].copy_from_slice(&(1u32 << 16).to_le_bytes());
        fixed[16..20].copy_from_slice(&((1u32 << 16) | 3).to_le_bytes());
        fixed[20..24].copy_from_slice(&(1u32 << 16).to_le_bytes());
        let strings = block_bytes(
            "040904b0",
            &[],
            true,
            &[
                block_bytes("ProductName", &text("zlib"), true, &[]),
                block_bytes("FileVersion", &text("1.3.1"), true, &[]),
            ],
        );
        let data = block_bytes(
            "VS_VERSION_INFO",
            &fixed,
            false,
            &[block_bytes("StringFileInfo", &[], true, &[strings])],
        );
        let info = parse_version_info(&data).unwrap();
        assert_eq!(info.get("ProductName"), Some("zlib"));
        assert_eq!(info.file_version.as_deref(), Some("1.3.1.0"));
        assert_eq!(info.version().as_deref(), Some("1.3.1"));
    }

    #[test]
    fn truncated_and_hostile_blocks_give_nothing_or_stop() {
        assert!(parse_version_info(b"").is_none());
        assert!(parse_version_info(&[0xff, 0xff, 0, 0, 0, 0]).is_none());
        // A zero-length child cannot loop forever.
        let data = block_bytes("VS_VERSION_INFO", &[], false, &[vec![0; 16]]);
        assert_eq!(parse_version_info(&data), Some(VersionInfo::default()));
        assert!(version_info(b"MZ\0\0garbage").is_none());
    }

    #[test]
    fn leading_versions() {
        assert_eq!(leading_version("3.0.13").as_deref(), Some("3.0.13"));
        assert_eq!(leading_version("1.1.1w").as_deref(), Some("1.1.1w"));
        assert_eq!(
            leading_version("v2.4.1 (build 7)").as_deref(),
            Some("2.4.1")
        );
        assert_eq!(leading_version("1, 3, 1, 0"), None);
        assert_eq!(leading_version("release"), None);
    }
}
