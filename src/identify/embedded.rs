//! Exact component lists that build tools embed in executables:
//! cargo-auditable's `.dep-v0` section, Go build info, and the systemd
//! package-metadata note (`.note.package`). Unlike version strings these are
//! written by the build itself, so each entry becomes a component as is.

use crate::model::{Component, Evidence};
use flate2::read::ZlibDecoder;
use object::{Object, ObjectSection, ObjectSegment};
use serde::Deserialize;
use std::io::Read;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Largest decompressed `.dep-v0` we accept: real ones are a few KiB, a
/// zlib bomb must not cost more than this.
const DEP_V0_MAX: u64 = 8 << 20;

/// Largest Go version or module-info string we read.
const GO_STRING_MAX: u64 = 1 << 20;

/// Go build info starts with this, 16-byte aligned (`debug/buildinfo`).
const GO_MAGIC: &[u8] = b"\xff Go buildinf:";

/// Owner and type of the systemd package-metadata note.
const PACKAGE_NOTE_OWNER: &[u8] = b"FDO";
const PACKAGE_NOTE_TYPE: u32 = 0xcafe_1a7e;

/// Components from every kind of embedded metadata in the ELF file `data`.
pub fn components(path: &str, data: &[u8]) -> Vec<Component> {
    // `object` is a third-party parser: a panic on hostile input costs this
    // file's metadata, not the scan.
    catch_unwind(AssertUnwindSafe(|| {
        let Ok(file) = object::File::parse(data) else {
            return Vec::new();
        };
        let mut found = cargo_auditable(path, &file);
        found.extend(go_buildinfo(path, &file, data));
        found.extend(package_note(path, &file));
        found
    }))
    .unwrap_or_default()
}

#[derive(Deserialize)]
struct DepV0 {
    packages: Vec<DepPackage>,
}

#[derive(Deserialize)]
struct DepPackage {
    name: String,
    version: String,
    source: String,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    root: bool,
}

/// Crates recorded by `cargo auditable` (zlib-compressed JSON in `.dep-v0`).
fn cargo_auditable(path: &str, file: &object::File) -> Vec<Component> {
    let Some(section) = file.section_by_name(".dep-v0") else {
        return Vec::new();
    };
    let Ok(compressed) = section.data() else {
        return Vec::new();
    };
    decode_dep_v0(compressed)
        .map(|deps| dep_v0_components(path, deps))
        .unwrap_or_default()
}

fn decode_dep_v0(compressed: &[u8]) -> Option<DepV0> {
    let mut json = Vec::new();
    ZlibDecoder::new(compressed)
        .take(DEP_V0_MAX)
        .read_to_end(&mut json)
        .ok()?;
    serde_json::from_slice(&json).ok()
}

fn dep_v0_components(path: &str, deps: DepV0) -> Vec<Component> {
    deps.packages
        .into_iter()
        // The root is the binary itself; build-only crates are not shipped.
        .filter(|p| !p.root && p.kind.as_deref() != Some("build"))
        .map(|p| {
            let ecosystem = if p.source == "crates.io" {
                "crates.io".to_string()
            } else {
                p.source.clone()
            };
            Found {
                purl: crate::purl::build("cargo", None, &p.name, &p.version, &[]),
                cpe: None,
                evidence: Evidence {
                    method: "cargo-auditable".to_string(),
                    path: path.to_string(),
                    offset: None,
                    evidence: format!("{} {} ({})", p.name, p.version, p.source),
                    ..Evidence::default()
                },
                name: p.name,
                version: p.version,
                ecosystem,
            }
            .into()
        })
        .collect()
}

/// A component with its one piece of evidence.
struct Found {
    name: String,
    version: String,
    purl: String,
    cpe: Option<String>,
    ecosystem: String,
    evidence: Evidence,
}

impl From<Found> for Component {
    fn from(c: Found) -> Component {
        Component {
            name: c.name,
            version: c.version,
            purl: c.purl,
            cpe: c.cpe,
            ecosystem: c.ecosystem,
            upstream: None,
            sources: vec![c.evidence],
            ..Component::default()
        }
    }
}

/// Go build info: the toolchain version and every module linked in.
fn go_buildinfo(path: &str, file: &object::File, data: &[u8]) -> Vec<Component> {
    let Some((version, modinfo)) = read_go_buildinfo(file, data) else {
        return Vec::new();
    };
    go_components(path, &version, &modinfo)
}

/// `(runtime.buildVersion, modinfo)` from the build-info header.
fn read_go_buildinfo(file: &object::File, data: &[u8]) -> Option<(String, String)> {
    let header = match file.section_by_name(".go.buildinfo") {
        Some(section) => section.data().ok()?,
        // Go writes the header into its own section; only a binary stripped
        // of its section headers needs a search (16-byte aligned), and that
        // search is memchr's, not a loop over every 16th byte.
        None if file.sections().next().is_some() => return None,
        None => {
            let start = memchr::memmem::find_iter(data, GO_MAGIC)
                .find(|&i| i % 16 == 0 && i + 32 <= data.len())?;
            &data[start..]
        }
    };
    parse_go_header(header, |address, size| read_address(file, address, size))
}

/// Parses the 32-byte header and what it points to; `read(address, size)`
/// reads memory of the pre-1.18 pointer format.
fn parse_go_header(
    header: &[u8],
    read: impl Fn(u64, u64) -> Option<Vec<u8>>,
) -> Option<(String, String)> {
    if !header.starts_with(GO_MAGIC) || header.len() < 32 {
        return None;
    }
    let ptr_size = header[14] as usize;
    let flags = header[15];
    let big_endian = flags & 1 != 0;
    let (version, modinfo) = if flags & 2 != 0 {
        // Go 1.18+: two varint-length-prefixed strings follow the header.
        let (version, rest) = read_varint_string(&header[32..])?;
        let (modinfo, _) = read_varint_string(rest)?;
        (version.to_vec(), modinfo.to_vec())
    } else {
        if ptr_size != 4 && ptr_size != 8 {
            return None;
        }
        let word = |bytes: &[u8]| -> Option<u64> {
            let bytes = bytes.get(..ptr_size)?;
            let mut value = 0u64;
            for i in 0..ptr_size {
                let b = if big_endian {
                    bytes[i]
                } else {
                    bytes[ptr_size - 1 - i]
                };
                value = (value << 8) | u64::from(b);
            }
            Some(value)
        };
        // Each pointer leads to a Go string header (data pointer, length).
        let string_at = |address: u64| -> Option<Vec<u8>> {
            let header = read(address, 2 * ptr_size as u64)?;
            let data = word(&header)?;
            let len = word(header.get(ptr_size..)?)?;
            if len > GO_STRING_MAX {
                return None;
            }
            read(data, len)
        };
        let version = string_at(word(&header[16..])?)?;
        let modinfo = string_at(word(&header[16 + ptr_size..])?).unwrap_or_default();
        (version, modinfo)
    };
    let mut modinfo = modinfo.as_slice();
    // Module info is wrapped in 16-byte sentinels (`debug/buildinfo`).
    if modinfo.len() >= 33 && modinfo[modinfo.len() - 17] == b'\n' {
        modinfo = &modinfo[16..modinfo.len() - 16];
    } else {
        modinfo = &[];
    }
    Some((
        String::from_utf8_lossy(&version).into_owned(),
        String::from_utf8_lossy(modinfo).into_owned(),
    ))
}

fn read_varint_string(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut len = 0u64;
    let mut shift = 0;
    let mut used = 0usize;
    for &b in data.iter().take(10) {
        used += 1;
        len |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    if len > GO_STRING_MAX {
        return None;
    }
    let end = used.checked_add(len as usize)?;
    Some((data.get(used..end)?, data.get(end..)?))
}

/// Bytes at a virtual address, through the segment that maps it.
fn read_address(file: &object::File, address: u64, size: u64) -> Option<Vec<u8>> {
    file.segments()
        .find_map(|s| s.data_range(address, size).ok().flatten())
        .map(<[u8]>::to_vec)
}

/// Components from a Go version (`go1.19.8`) and module info lines.
fn go_components(path: &str, version: &str, modinfo: &str) -> Vec<Component> {
    let mut found = Vec::new();
    let evidence = |text: String| Evidence {
        method: "go-buildinfo".to_string(),
        path: path.to_string(),
        offset: None,
        evidence: text,
        ..Evidence::default()
    };
    if let Some(go) = version.strip_prefix("go") {
        let go = go.split([' ', '\t']).next().unwrap_or(go);
        if !go.is_empty() {
            found.push(
                Found {
                    name: "go".to_string(),
                    version: go.to_string(),
                    purl: crate::purl::generic("go", go),
                    cpe: super::catalog::cpe("go", go),
                    ecosystem: "generic".to_string(),
                    evidence: evidence(format!("built with {version}")),
                }
                .into(),
            );
        }
    }
    let mut modules: Vec<(String, String, String)> = Vec::new();
    for line in modinfo.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        match fields.as_slice() {
            ["mod" | "dep", module, version, ..] => {
                modules.push((module.to_string(), version.to_string(), line.to_string()));
            }
            // A replacement applies to the module listed just before it. A
            // local directory (no version) keeps the declared version, and the
            // evidence says it was replaced.
            ["=>", module, version, ..] => {
                if let Some(last) = modules.last_mut() {
                    if version.is_empty() || *version == "(devel)" {
                        last.2 = format!("{} {}", last.2, line.trim_end());
                    } else {
                        *last = (module.to_string(), version.to_string(), line.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    for (module, version, line) in modules {
        // The main module built from a work tree has no version.
        if version.is_empty() || version == "(devel)" {
            continue;
        }
        found.push(
            Found {
                purl: crate::purl::golang(&module, &version),
                name: module,
                version,
                cpe: None,
                ecosystem: "Go".to_string(),
                evidence: evidence(line.replace('\t', " ")),
            }
            .into(),
        );
    }
    found
}

#[derive(Deserialize)]
struct PackageNote {
    #[serde(rename = "type")]
    kind: String,
    name: String,
    version: String,
    #[serde(default)]
    os: Option<String>,
    #[serde(default)]
    architecture: Option<String>,
}

/// The package a binary was built for, from systemd's `.note.package`.
fn package_note(path: &str, file: &object::File) -> Vec<Component> {
    let Some(section) = file.section_by_name(".note.package") else {
        return Vec::new();
    };
    let Ok(data) = section.data() else {
        return Vec::new();
    };
    let little = file.is_little_endian();
    parse_notes(data, little)
        .into_iter()
        .filter(|(owner, kind, _)| *owner == PACKAGE_NOTE_OWNER && *kind == PACKAGE_NOTE_TYPE)
        .filter_map(|(_, _, desc)| {
            let json = desc.split(|&b| b == 0).next().unwrap_or(desc);
            let note: PackageNote = serde_json::from_slice(json).ok()?;
            Some(
                Found {
                    purl: crate::purl::build(
                        &note.kind,
                        note.os.as_deref(),
                        &note.name,
                        &note.version,
                        &[("arch", note.architecture.as_deref().unwrap_or_default())],
                    ),
                    evidence: evidence_note(path, json),
                    name: note.name,
                    version: note.version,
                    cpe: None,
                    ecosystem: note.kind,
                }
                .into(),
            )
        })
        .collect()
}

fn evidence_note(path: &str, json: &[u8]) -> Evidence {
    Evidence {
        method: "package-note".to_string(),
        path: path.to_string(),
        offset: None,
        evidence: String::from_utf8_lossy(json).into_owned(),
        ..Evidence::default()
    }
}

/// ELF notes as (owner without NUL, type, descriptor).
fn parse_notes(data: &[u8], little: bool) -> Vec<(&[u8], u32, &[u8])> {
    let word = |b: &[u8]| -> Option<u32> {
        let b: [u8; 4] = b.get(..4)?.try_into().ok()?;
        Some(if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    };
    let align4 = |n: usize| n.checked_add(3).map(|n| n & !3);
    let mut notes = Vec::new();
    let mut at = 0usize;
    while let (Some(namesz), Some(descsz), Some(kind)) = (
        data.get(at..).and_then(word),
        data.get(at + 4..).and_then(word),
        data.get(at + 8..).and_then(word),
    ) {
        let name_start = at + 12;
        let Some(desc_start) = align4(name_start + namesz as usize) else {
            break;
        };
        let Some(next) = align4(desc_start + descsz as usize) else {
            break;
        };
        let (Some(name), Some(desc)) = (
            data.get(name_start..name_start + namesz as usize),
            data.get(desc_start..desc_start + descsz as usize),
        ) else {
            break;
        };
        let owner = name.strip_suffix(b"\0").unwrap_or(name);
        notes.push((owner, kind, desc));
        at = next;
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_inline_header_with_modules() {
        let mut header = GO_MAGIC.to_vec();
        header.extend_from_slice(&[8, 2]);
        header.resize(32, 0);
        let version = b"go1.19.8";
        header.push(version.len() as u8);
        header.extend_from_slice(version);
        let body = "path\texample.com/hello\nmod\texample.com/hello\t(devel)\t\ndep\tgolang.org/x/text\tv0.3.7\th1:abc\ndep\tgithub.com/a/b\tv1.0.0\th1:x\n=>\tgithub.com/c/b\tv1.0.1\th1:y\n";
        let mut modinfo = vec![b'0'; 16];
        modinfo.extend_from_slice(body.as_bytes());
        modinfo.extend_from_slice(&[b'1'; 16]);
        // Varint of the length (two bytes when >= 128).
        let len = modinfo.len();
        assert!(len >= 128);
        header.push((len as u8 & 0x7f) | 0x80);
        header.push((len >> 7) as u8);
        header.extend_from_slice(&modinfo);
        let (v, m) = parse_go_header(&header, |_, _| None).unwrap();
        assert_eq!(v, "go1.19.8");
        let found = go_components("bin", &v, &m);
        let purls: Vec<&str> = found.iter().map(|c| c.purl.as_str()).collect();
        assert_eq!(
            purls,
            [
                "pkg:generic/go@1.19.8",
                "pkg:golang/golang.org/x/text@v0.3.7",
                "pkg:golang/github.com/c/b@v1.0.1"
            ]
        );
        assert_eq!(found[1].ecosystem, "Go");
    }

    #[test]
    fn go_pointer_header_reads_through_addresses() {
        // Pre-1.18 layout: two pointers to Go string headers, 4-byte little endian.
        let mut header = GO_MAGIC.to_vec();
        header.extend_from_slice(&[4, 0]);
        header.extend_from_slice(&0x1000u32.to_le_bytes());
        header.extend_from_slice(&0x2000u32.to_le_bytes());
        header.resize(32, 0);
        let body = "path\tx\nmod\tx\t(devel)\t\ndep\tgithub.com/pkg/errors\tv0.9.1\th1:z\n";
        let mut modinfo = vec![b'0'; 16];
        modinfo.extend_from_slice(body.as_bytes());
        modinfo.extend_from_slice(&[b'1'; 16]);
        let modinfo_len = modinfo.len() as u32;
        let read = move |address: u64, size: u64| -> Option<Vec<u8>> {
            let memory: Vec<(u64, Vec<u8>)> = vec![
                (
                    0x1000,
                    [0x3000u32.to_le_bytes(), 9u32.to_le_bytes()].concat(),
                ),
                (
                    0x2000,
                    [0x4000u32.to_le_bytes(), modinfo_len.to_le_bytes()].concat(),
                ),
                (0x3000, b"go1.16.15".to_vec()),
                (0x4000, modinfo.clone()),
            ];
            memory
                .into_iter()
                .find(|(a, _)| *a == address)
                .and_then(|(_, d)| d.get(..size as usize).map(<[u8]>::to_vec))
        };
        let (v, m) = parse_go_header(&header, read).unwrap();
        assert_eq!(v, "go1.16.15");
        let found = go_components("bin", &v, &m);
        assert_eq!(found.len(), 2);
        assert_eq!(found[1].purl, "pkg:golang/github.com/pkg/errors@v0.9.1");
    }

    #[test]
    fn hostile_go_headers_are_rejected() {
        let mut header = GO_MAGIC.to_vec();
        header.extend_from_slice(&[8, 2]);
        header.resize(32, 0);
        header.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
        assert!(parse_go_header(&header, |_, _| None).is_none());
        assert!(parse_go_header(&GO_MAGIC[..10], |_, _| None).is_none());
    }

    #[test]
    fn dep_v0_json_becomes_cargo_components() {
        let json = br#"{"packages":[
            {"name":"hello","version":"0.1.0","source":"local","root":true,"dependencies":[1]},
            {"name":"itoa","version":"1.0.11","source":"crates.io"},
            {"name":"cc","version":"1.0.0","source":"crates.io","kind":"build"}]}"#;
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut z, json).unwrap();
        let deps = decode_dep_v0(&z.finish().unwrap()).unwrap();
        let found = dep_v0_components("bin", deps);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].purl, "pkg:cargo/itoa@1.0.11");
        assert_eq!(found[0].ecosystem, "crates.io");
        assert!(decode_dep_v0(b"not zlib").is_none());
    }

    #[test]
    fn notes_parse_and_stop_at_truncation() {
        let desc = br#"{"type":"deb","os":"debian","name":"hello","version":"1.0-1","architecture":"amd64"}"#;
        let mut data = Vec::new();
        data.extend_from_slice(&4u32.to_le_bytes());
        data.extend_from_slice(&(desc.len() as u32).to_le_bytes());
        data.extend_from_slice(&PACKAGE_NOTE_TYPE.to_le_bytes());
        data.extend_from_slice(b"FDO\0");
        data.extend_from_slice(desc);
        let notes = parse_notes(&data, true);
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0].0, b"FDO");
        assert_eq!(notes[0].1, PACKAGE_NOTE_TYPE);
        assert!(parse_notes(&data[..20], true).is_empty());
    }
}
