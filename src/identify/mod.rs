//! Stage 2b: which upstream components the bytes contain, with evidence.
//!
//! One pass of the signature automaton over every byte no container claimed
//! (see [`crate::unpack::tree::VirtualFile::scan`]), files in parallel; ELF
//! files additionally give up their embedded metadata ([`embedded`]) and their
//! DT_NEEDED list, which tells a shipped copy from a header version the file
//! was merely compiled against.

pub mod catalog;
pub mod embedded;
pub mod kernel;
pub mod pe;
pub mod signatures;
pub mod tables;

use crate::binary::ElfInfo;
use crate::model::{Component, Conflict, Evidence};
use crate::unpack::Unpacked;
use crate::unpack::tree::{FileClass, VirtualFile, classify};
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use signatures::{Hit, SIGNATURES};
use std::collections::{BTreeMap, HashMap};

/// What one file says about its components.
#[derive(Default)]
struct FileFacts {
    /// Version strings of components the file ships.
    ships: Vec<Hit>,
    /// Version strings of libraries the file only links against: (hit, DT_NEEDED entry).
    build_time: Vec<(Hit, String)>,
    /// File-name versions that may only corroborate.
    weak: Vec<Hit>,
    /// Exact components from embedded metadata.
    embedded: Vec<Component>,
    /// A PE file's version resource.
    pe: Option<pe::VersionInfo>,
    /// SHA-256 of the file, computed (in parallel) only when it is evidence.
    sha256: Option<String>,
}

/// Components found by version strings, file names and embedded metadata in
/// every file of `unpacked`; `elfs` are the parsed ELF files by file index.
pub fn components(unpacked: &Unpacked, elfs: &[(usize, ElfInfo)]) -> Vec<Component> {
    let elf_of: HashMap<usize, &ElfInfo> = elfs.iter().map(|(i, e)| (*i, e)).collect();
    let facts: Vec<(usize, FileFacts)> = unpacked
        .files
        .par_iter()
        .enumerate()
        .filter(|(_, f)| f.is_regular())
        .map(|(index, file)| (index, file_facts(file, elf_of.get(&index).copied())))
        .collect();

    // A module's vermagic never overrides a kernel banner found anywhere.
    let banner = facts
        .iter()
        .flat_map(|(_, f)| &f.ships)
        .any(|h| h.product == "linux" && !kernel::is_module_hit(&h.text));
    let mut grouped: BTreeMap<(String, String), Vec<Evidence>> = BTreeMap::new();
    let mut embedded: BTreeMap<String, Component> = BTreeMap::new();
    for (index, facts) in &facts {
        let path = &unpacked.files[*index].path;
        for hit in &facts.ships {
            if banner && hit.product == "linux" && kernel::is_module_hit(&hit.text) {
                continue;
            }
            let sources = grouped
                .entry((hit.product.clone(), hit.version.clone()))
                .or_default();
            // One piece of evidence per file: the first place the string occurs.
            if sources.iter().any(|e| &e.path == path) {
                continue;
            }
            sources.push(Evidence {
                sha256: facts.sha256.clone(),
                method: if hit.offset.is_some() {
                    "signature"
                } else {
                    "filename"
                }
                .to_string(),
                path: path.clone(),
                offset: hit.offset,
                evidence: hit.text.clone(),
                ..Evidence::default()
            });
        }
        for component in &facts.embedded {
            match embedded.get_mut(&component.purl) {
                Some(known) => known.sources.extend(component.sources.iter().cloned()),
                None => {
                    embedded.insert(component.purl.clone(), component.clone());
                }
            }
        }
    }
    // PE version resources: a catalogued product joins the components found
    // by signature; any other named product is a component of its own.
    for (index, facts) in &facts {
        let Some(info) = &facts.pe else { continue };
        let Some((name, version, product)) = pe_component(info) else {
            continue;
        };
        let file = &unpacked.files[*index];
        let evidence = Evidence {
            sha256: facts.sha256.clone(),
            method: "pe-version".to_string(),
            path: file.path.clone(),
            offset: None,
            evidence: info.describe(),
            ..Evidence::default()
        };
        if product {
            grouped.entry((name, version)).or_default().push(evidence);
        } else {
            let purl = crate::purl::generic(&name, &version);
            match embedded.get_mut(&purl) {
                Some(known) => known.sources.push(evidence),
                None => {
                    embedded.insert(
                        purl.clone(),
                        Component {
                            name,
                            version,
                            purl,
                            ecosystem: "generic".to_string(),
                            sources: vec![evidence],
                            ..Component::default()
                        },
                    );
                }
            }
        }
    }
    // Weak file-name versions only corroborate what bytes already showed.
    for (index, facts) in &facts {
        let path = &unpacked.files[*index].path;
        for hit in &facts.weak {
            if let Some(sources) = grouped.get_mut(&(hit.product.clone(), hit.version.clone()))
                && !sources
                    .iter()
                    .any(|e| &e.path == path && e.method == "soname")
            {
                sources.push(Evidence {
                    method: "soname".to_string(),
                    path: path.clone(),
                    offset: None,
                    evidence: hit.text.clone(),
                    ..Evidence::default()
                });
            }
        }
    }
    // Header versions a file was compiled against are evidence about the
    // file's own components, never components themselves.
    for (index, facts) in &facts {
        let path = &unpacked.files[*index].path;
        for (hit, needed) in &facts.build_time {
            let evidence = Evidence {
                method: "build-time".to_string(),
                path: path.clone(),
                offset: hit.offset,
                evidence: format!(
                    "compiled against {} {} ({}); loads {needed}",
                    hit.product, hit.version, hit.text
                ),
                ..Evidence::default()
            };
            let prefix = format!("compiled against {} {} ", hit.product, hit.version);
            for ((product, _), sources) in grouped.iter_mut() {
                if product != &hit.product
                    && sources
                        .iter()
                        .any(|e| &e.path == path && e.method == "signature")
                    && !sources.iter().any(|e| {
                        &e.path == path
                            && e.method == "build-time"
                            && e.evidence.starts_with(&prefix)
                    })
                {
                    sources.push(evidence.clone());
                }
            }
        }
    }
    let mut found: Vec<Component> = grouped
        .into_iter()
        .map(|((product, version), mut sources)| {
            sources.sort_by(|a, b| a.path.cmp(&b.path).then(a.method.cmp(&b.method)));
            let purl_type = catalog::product(&product)
                .map(|p| p.purl_type.clone())
                .unwrap_or_else(|| "generic".to_string());
            Component {
                purl: crate::purl::build(&purl_type, None, &product, &version, &[]),
                cpe: catalog::cpe(&product, &version),
                name: product,
                version,
                ecosystem: "generic".to_string(),
                upstream: None,
                sources,
                ..Component::default()
            }
        })
        .collect();
    found.extend(embedded.into_values().map(|mut c| {
        c.sources.sort_by(|a, b| a.path.cmp(&b.path));
        c.sources.dedup();
        c
    }));
    found
}

/// One file's signature hits, sorted into shipped / build-time / weak, plus
/// its embedded metadata.
fn file_facts(file: &VirtualFile, elf: Option<&ElfInfo>) -> FileFacts {
    // Documentation, change logs and scripts quote versions of everything;
    // only binary content is taken as shipping what it names.
    let scan = match classify(&file.data) {
        FileClass::Text | FileClass::Script => Default::default(),
        _ => SIGNATURES.scan_file(&file.data, &file.scan),
    };
    // A file's name: its path in its file system, or for a target given on
    // its own (`fwaudit scan libfreetype.so.6.18.3`) the name it was given;
    // a carved stream (`image.bin@0x40000:gzip`) has none.
    let named = match &file.fs {
        Some(fs) => Some(fs.path.as_str()),
        None => (!file.path.contains('@')).then_some(file.path.as_str()),
    };
    let base = named.and_then(|p| p.rsplit('/').next()).unwrap_or_default();
    let mut facts = FileFacts::default();
    if let Some((offset, text, version)) = kernel::bzimage(&file.data) {
        facts.ships.push(Hit {
            product: "linux".to_string(),
            version,
            offset: Some(offset as u64),
            text,
            weak: false,
        });
    }
    for hit in scan.hits {
        match elf.and_then(|e| linked_not_shipped(&hit, e, base, &scan.markers)) {
            Some(needed) => facts.build_time.push((hit, needed)),
            None => facts.ships.push(hit),
        }
    }
    if named.is_some() {
        for hit in SIGNATURES.scan_name(base) {
            // A version the bytes already name in the product's own text
            // keeps the file name as corroboration, not as a second proof.
            let said = facts
                .ships
                .iter()
                .any(|s| s.product == hit.product && s.version == hit.version);
            if !hit.weak {
                facts.ships.push(hit);
            } else if said {
                facts.weak.push(hit);
            } else if let Some(confirmed) = name_confirmed_by_bytes(&hit, base, file) {
                facts.ships.push(confirmed);
            } else {
                facts.weak.push(hit);
            }
        }
    }
    if elf.is_some() {
        facts.embedded = embedded::components(&file.path, &file.data);
    }
    drop_less_precise(&mut facts.ships);
    facts.pe = pe::version_info(&file.data);
    if !facts.ships.is_empty() || facts.pe.is_some() {
        facts.sha256 = Some(hex::encode(Sha256::digest(&file.data)));
    }
    facts
}

/// A library named with its release (`liblzma.so.5.4.5`, a wheel's
/// `liblzma-d1e41b3a.so.5.4.5`) that also carries that release as a whole
/// NUL-terminated string (liblzma's, jansson's bare version strings, which
/// no product text surrounds) ships it: two independent facts agree. Either
/// alone is not enough: a SONAME is only corroboration, and a bare "5.4.5"
/// could be anybody's. The string may follow a NUL or a non-text byte (the
/// end of a constant before it), never a letter, digit, dot or dash.
fn name_confirmed_by_bytes(hit: &Hit, base: &str, file: &VirtualFile) -> Option<Hit> {
    let needle = format!("{}\0", hit.version);
    let finder = memchr::memmem::Finder::new(needle.as_bytes());
    let whole = |region: &[u8], at: usize| {
        at > 0 && {
            let b = region[at - 1];
            !(b.is_ascii_alphanumeric() || b"._-+".contains(&b))
        }
    };
    file.scan.iter().find_map(|range| {
        let region = file.data.get(range.clone())?;
        let at = finder.find_iter(region).find(|&at| whole(region, at))?;
        Some(Hit {
            product: hit.product.clone(),
            version: hit.version.clone(),
            offset: Some((range.start + at) as u64),
            text: format!("{base} and the bare string \"{}\"", hit.version),
            weak: false,
        })
    })
}

/// Within one file, a version that only repeats the start of a fuller one
/// of the same product (bash's dist version "5.2" beside "5.2.15") is the
/// same release said less precisely: it is dropped.
fn drop_less_precise(hits: &mut Vec<Hit>) {
    let fuller: Vec<(String, String)> = hits
        .iter()
        .map(|h| (h.product.clone(), h.version.clone()))
        .collect();
    hits.retain(|h| {
        let prefix = format!("{}.", h.version);
        !fuller
            .iter()
            .any(|(p, v)| p == &h.product && v.starts_with(&prefix))
    });
}

/// The component a PE version resource names: (name, version, catalogued).
/// `ProductName` is matched against the catalogue's `pe` patterns, then
/// (lower-cased, spaces as `-`) against product names; any other product
/// keeps that spelling. No name or no version: nothing.
fn pe_component(info: &pe::VersionInfo) -> Option<(String, String, bool)> {
    let version = info.version()?;
    let product_name = info
        .get("ProductName")
        .or_else(|| info.get("FileDescription"))?;
    if let Some(product) = catalog::product_for_pe(product_name) {
        return Some((product.name.clone(), version, true));
    }
    let slug: String = product_name
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join("-")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-._+".contains(*c))
        .collect();
    if slug.is_empty() {
        return None;
    }
    let known = catalog::product(&slug).is_some();
    Some((slug, version, known))
}

/// The DT_NEEDED entry that loads `hit`'s product, when the hit is only the
/// version of the headers `elf` was compiled with: the file loads the
/// product's library, is not that library itself, and lacks the product's code.
fn linked_not_shipped(
    hit: &Hit,
    elf: &ElfInfo,
    base: &str,
    markers: &BTreeMap<String, usize>,
) -> Option<String> {
    let product = catalog::product(&hit.product)?;
    let needed = elf
        .needed
        .iter()
        .find(|n| product.is_needed(std::slice::from_ref(n)))?;
    let own = product.is_own_file(base)
        || product.is_own_file(elf.path.rsplit('/').next().unwrap_or_default())
        || elf
            .soname
            .as_deref()
            .is_some_and(|s| product.is_own_file(s));
    let static_copy = markers.get(&hit.product).copied().unwrap_or(0) >= product.static_min;
    (!own && !static_copy).then(|| needed.clone())
}

/// Products whose packaged upstream version (dpkg/opkg `upstream`) no
/// binary confirms while binaries show other versions: both components stay in
/// the inventory and a `conflict` note says which to trust less. A binary
/// that agrees with the manifest settles it (other versions are then static
/// copies elsewhere, reported as components of their own).
pub fn conflicts(components: &[Component]) -> Vec<Conflict> {
    let mut found = Vec::new();
    for packaged in components.iter().filter(|c| c.upstream.is_some()) {
        let Some(upstream) = &packaged.upstream else {
            continue;
        };
        let binaries: Vec<&Component> = components
            .iter()
            .filter(|c| c.upstream.is_none() && c.name == upstream.name)
            .filter(|c| c.sources.iter().any(|e| e.method == "signature"))
            .collect();
        if binaries.is_empty() || binaries.iter().any(|c| c.version == upstream.version) {
            continue;
        }
        let binary_versions: Vec<String> = binaries.iter().map(|c| c.version.clone()).collect();
        let mut binary_paths: Vec<String> = binaries
            .iter()
            .flat_map(|c| c.sources.iter().filter(|e| e.method == "signature"))
            .map(|e| e.path.clone())
            .collect();
        binary_paths.sort();
        binary_paths.dedup();
        let manifest = packaged
            .sources
            .first()
            .map(|e| e.path.clone())
            .unwrap_or_default();
        found.push(Conflict {
            kind: "conflict".to_string(),
            message: format!(
                "{} {} lists {} {}, but the binaries show {} {}",
                packaged.name,
                packaged.version,
                upstream.name,
                upstream.version,
                upstream.name,
                binary_versions.join(", ")
            ),
            product: upstream.name.clone(),
            package: packaged.name.clone(),
            package_version: upstream.version.clone(),
            manifest,
            binary_versions,
            binary_paths,
        });
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unpack::limits::Limits;

    #[test]
    fn groups_evidence_by_product_and_version() {
        let mut data = b"\0BusyBox v1.35.0 (x)\0".to_vec();
        data.extend_from_slice(b"pad BusyBox v1.35.0 (again)\0");
        let unpacked = crate::unpack::unpack_bytes("bb", data, &Limits::default());
        let found = components(&unpacked, &[]);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].purl, "pkg:generic/busybox@1.35.0");
        assert_eq!(
            found[0].cpe.as_deref(),
            Some("cpe:2.3:a:busybox:busybox:1.35.0:*:*:*:*:*:*:*")
        );
        assert_eq!(found[0].sources.len(), 1);
        assert_eq!(found[0].sources[0].offset, Some(1));
    }

    #[test]
    fn a_less_precise_version_of_the_same_release_is_dropped() {
        // Debian 12 bash: the sccsid "5.2.15" and dist_version "5.2".
        let data =
            b"\0@(#)Bash version 5.2.15(1) release GNU\0too many arguments\x005.2\0%s.%d(%d)-%s\0"
                .to_vec();
        let unpacked = crate::unpack::unpack_bytes("bash", data, &Limits::default());
        let found = components(&unpacked, &[]);
        let got: Vec<String> = found
            .iter()
            .map(|c| format!("{} {}", c.name, c.version))
            .collect();
        assert_eq!(got, ["bash 5.2.15"]);
    }

    /// Pillow 9.5.0's wheel: liblzma-72f7b2a5.so.5.4.2 whose only version
    /// text is a bare "5.4.2"; jansson 2.14 (mipsel) after a double constant.
    #[test]
    fn a_release_named_by_the_file_and_carried_bare_ships() {
        let found = |name: &str, data: &[u8]| -> Vec<String> {
            let unpacked = crate::unpack::unpack_bytes(name, data.to_vec(), &Limits::default());
            components(&unpacked, &[])
                .iter()
                .map(|c| format!("{} {}", c.name, c.version))
                .collect()
        };
        let lzma = b"\0\0\0\0\x005.4.2\0\0\0\r\x1d\xfd\xff";
        assert_eq!(found("liblzma-72f7b2a5.so.5.4.2", lzma), ["xz 5.4.2"]);
        let jansson = b"\0\0\xff\xff\xef\x7f2.14\0\0\0";
        assert_eq!(found("libjansson.so.4.14.0", jansson), ["jansson 2.14"]);
        // Either fact alone is nothing: the name without the string, the
        // string under another name, or the string inside a longer one.
        assert!(found("liblzma.so.5.4.2", b"\0\x005.4.1\0\0").is_empty());
        assert!(found("libfoo.so.1", lzma).is_empty());
        assert!(found("liblzma.so.5.4.2", b"\0v15.4.2\0\0").is_empty());
        assert!(found("liblzma.so.5.4.2", b"\0\x005.4.2.1\0").is_empty());
    }

    fn component(name: &str, version: &str, method: &str, upstream: Option<&str>) -> Component {
        Component {
            name: name.into(),
            version: version.into(),
            purl: String::new(),
            cpe: None,
            ecosystem: if upstream.is_some() { "deb" } else { "generic" }.into(),
            upstream: upstream.map(|v| crate::model::Upstream {
                name: "openssl".into(),
                version: v.into(),
            }),
            sources: vec![Evidence {
                method: method.into(),
                path: format!("fw/{name}"),
                offset: None,
                evidence: String::new(),
                ..Evidence::default()
            }],
            ..Component::default()
        }
    }

    #[test]
    fn manifest_and_binary_disagreeing_is_a_conflict() {
        let listed = component("libssl3", "3.0.20-1", "dpkg-status", Some("3.0.20"));
        let shipped = component("openssl", "3.0.9", "signature", None);
        let notes = conflicts(&[listed.clone(), shipped.clone()]);
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0].kind, "conflict");
        assert_eq!(notes[0].binary_versions, ["3.0.9"]);
        assert_eq!(
            notes[0].message,
            "libssl3 3.0.20-1 lists openssl 3.0.20, but the binaries show openssl 3.0.9"
        );
        // A binary agreeing with the manifest settles it.
        let agreeing = component("openssl", "3.0.20", "signature", None);
        assert!(conflicts(&[listed.clone(), shipped, agreeing]).is_empty());
        // No binary evidence at all is no conflict.
        assert!(conflicts(&[listed]).is_empty());
    }

    fn elf_needing(path: &str, needed: &[&str]) -> ElfInfo {
        ElfInfo {
            path: path.into(),
            arch: "x86_64".into(),
            bits: 64,
            endian: "little".to_string(),
            kind: crate::binary::ElfKind::Executable,
            interpreter: None,
            soname: None,
            needed: needed.iter().map(|s| s.to_string()).collect(),
            rpath: Vec::new(),
            runpath: Vec::new(),
            build_id: None,
            hardening: None,
            symbols: Default::default(),
        }
    }

    /// `proftpd` as Debian ships it: its own banner plus the OpenSSL header
    /// version (OPENSSL_VERSION_TEXT) it was compiled against, and DT_NEEDED libcrypto.
    fn proftpd_like(extra: &[u8]) -> Vec<u8> {
        let mut data = b"\x7fELF\0\0ProFTPD Version 1.3.8\0OpenSSL 3.0.19 27 Jan 2026\0".to_vec();
        data.extend_from_slice(extra);
        data
    }

    #[test]
    fn header_version_of_a_linked_library_is_build_time_evidence() {
        let unpacked =
            crate::unpack::unpack_bytes("proftpd", proftpd_like(b""), &Limits::default());
        let elfs = [(0, elf_needing("proftpd", &["libcrypto.so.3", "libc.so.6"]))];
        let found = components(&unpacked, &elfs);
        let names: Vec<&str> = found.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["proftpd"]);
        let methods: Vec<&str> = found[0].sources.iter().map(|e| e.method.as_str()).collect();
        assert_eq!(methods, ["build-time", "signature"]);
        assert_eq!(
            found[0].sources[0].evidence,
            "compiled against openssl 3.0.19 (OpenSSL 3.0.19 27 Jan 2026); loads libcrypto.so.3"
        );
    }

    #[test]
    fn symbol_versions_a_program_needs_are_build_time_evidence() {
        // A C++ program lists the GLIBCXX versions it needs from libstdc++.
        let data = b"\x7fELF\0\0BusyBox v1.35.0 (x)\0GLIBCXX_3.4.21\0GLIBCXX_3.4.30\0".to_vec();
        let unpacked = crate::unpack::unpack_bytes("prog", data.clone(), &Limits::default());
        let found = components(
            &unpacked,
            &[(0, elf_needing("prog", &["libstdc++.so.6", "libc.so.6"]))],
        );
        let names: Vec<&str> = found.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["busybox"]);
        assert_eq!(
            found[0].sources[0].evidence,
            "compiled against gcc 12.1.0 (GLIBCXX_3.4.30 (= gcc 12.1.0)); loads libstdc++.so.6"
        );
        // libstdc++ itself defines them: the highest is the runtime it ships.
        let unpacked = crate::unpack::unpack_bytes("libstdc++.so.6.0.30", data, &Limits::default());
        let found = components(
            &unpacked,
            &[(
                0,
                elf_needing("libstdc++.so.6.0.30", &["libm.so.6", "libc.so.6"]),
            )],
        );
        let names: Vec<String> = found
            .iter()
            .map(|c| format!("{} {}", c.name, c.version))
            .collect();
        assert_eq!(names, ["busybox 1.35.0", "gcc 12.1.0"]);
    }

    #[test]
    fn static_copy_with_library_code_is_a_component() {
        // Without DT_NEEDED libcrypto the version string means a static copy.
        let unpacked =
            crate::unpack::unpack_bytes("proftpd", proftpd_like(b""), &Limits::default());
        let found = components(&unpacked, &[(0, elf_needing("proftpd", &["libc.so.6"]))]);
        assert_eq!(found.len(), 2);
        // With DT_NEEDED but also libcrypto's own error strings: code was linked in.
        let code = b"wrong final block length\0bad decrypt\0crypto/evp/evp_enc.c\0";
        let unpacked =
            crate::unpack::unpack_bytes("proftpd", proftpd_like(code), &Limits::default());
        let found = components(
            &unpacked,
            &[(0, elf_needing("proftpd", &["libcrypto.so.3"]))],
        );
        let names: Vec<&str> = found.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["openssl", "proftpd"]);
        // The library itself is never "compiled against" itself.
        let unpacked =
            crate::unpack::unpack_bytes("libssl.so.3", proftpd_like(b""), &Limits::default());
        let found = components(
            &unpacked,
            &[(0, elf_needing("libssl.so.3", &["libcrypto.so.3"]))],
        );
        assert_eq!(found.len(), 2);
    }
}
