//! Stage 2c: components declared by package databases and lockfiles found in
//! the target. One file per manifest kind; [`READERS`] says which in-tree
//! path each one reads, so a new format is one file plus one table row.

pub mod apk;
pub mod cargo_lock;
pub mod cargo_project;
pub mod changelog;
pub mod control;
pub mod cyclonedx;
pub mod dist_info;
pub mod dpkg;
pub mod gomod;
pub mod kernel_config;
pub mod npm;
pub mod opkg;
pub mod os_release;
pub mod package_file;
pub mod pipfile;
pub mod pnpm;
pub mod poetry;
pub mod requirements;
pub mod rpm;
pub mod spdx;
pub mod uv;
pub mod wheel;
pub mod yarn;

use crate::identify::catalog;
use crate::model::{Component, Distro, Evidence, Upstream};
use crate::unpack::{Level, Note, Unpacked};
use std::collections::HashMap;

/// Largest manifest read: lockfiles of real projects are a few MiB; anything
/// past this is treated as hostile rather than parsed.
pub const MAX_MANIFEST_BYTES: usize = 32 << 20;

/// One manifest handed to its reader.
pub struct Input<'a> {
    /// Provenance path, used in evidence and error notes.
    pub path: &'a str,
    /// Absolute path inside its file system (`/var/lib/dpkg/status`).
    pub fs_path: &'a str,
    pub data: &'a [u8],
    siblings: &'a dyn Fn(&str) -> Option<&'a [u8]>,
    /// The distribution of the file system the manifest is in, when it
    /// says (package PURLs carry it).
    pub distro: Option<&'a Distro>,
}

impl<'a> Input<'a> {
    /// The manifest as UTF-8 text.
    pub fn text(&self) -> Result<&'a str, String> {
        std::str::from_utf8(self.data).map_err(|e| {
            let line = line_of(self.data, e.valid_up_to());
            format!("line {line}: not UTF-8 text")
        })
    }

    /// Another regular file of the same file system, by absolute path
    /// (`-r` includes, `go.sum` next to `go.mod`).
    pub fn sibling(&self, fs_path: &str) -> Option<&'a [u8]> {
        (self.siblings)(fs_path)
    }

    /// Directory part of [`Input::fs_path`], with a trailing `/`.
    pub fn dir(&self) -> &'a str {
        let path: &'a str = self.fs_path;
        path.rfind('/').map_or("/", |i| &path[..=i])
    }
}

/// What a reader found.
#[derive(Debug, Default)]
pub struct Parsed {
    pub components: Vec<Component>,
    /// `(package, files)` from a files list (`dpkg/info/NAME.list`), joined
    /// to the package's component from the status database afterwards.
    pub owned: Vec<(String, Vec<String>)>,
    /// Problems that did not stop the reader (become error notes).
    pub errors: Vec<String>,
    /// Package-database relations by name, resolved to `depends_on` PURLs
    /// once every database file of the same file system has been read
    /// (opkg and distroless dpkg keep one package per file).
    pub relations: Vec<Relations>,
    /// `(source package, fixes)` from a package changelog, joined to the
    /// packages built from that source in the same file system.
    pub patched: Vec<(String, Vec<crate::model::Patched>)>,
}

/// What one package of a database depends on and provides, by name.
#[derive(Debug, Default, Clone)]
pub struct Relations {
    /// Index of the package in [`Parsed::components`].
    pub component: usize,
    pub provides: Vec<String>,
    /// Groups of alternatives; the first installed alternative is the edge.
    pub depends: Vec<Vec<String>>,
}

impl Parsed {
    fn with_relations(components: Vec<Component>, relations: Vec<Relations>) -> Parsed {
        Parsed {
            components,
            relations,
            ..Parsed::default()
        }
    }
}

impl From<Vec<Component>> for Parsed {
    fn from(components: Vec<Component>) -> Parsed {
        Parsed {
            components,
            ..Parsed::default()
        }
    }
}

/// A manifest reader: which in-tree paths it reads and how.
struct Reader {
    /// What the error note calls this kind of file.
    kind: &'static str,
    matches: fn(&str) -> bool,
    parse: fn(&Input) -> Result<Parsed, String>,
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The name of an entry directly inside `dir` (which ends in `/`), if `fs_path` is one.
pub(crate) fn entry_in<'a>(fs_path: &'a str, dir: &str) -> Option<&'a str> {
    fs_path
        .strip_prefix(dir)
        .filter(|name| !name.is_empty() && !name.contains('/'))
}

static READERS: &[Reader] = &[
    Reader {
        kind: "package database",
        matches: |p| p == "/var/lib/dpkg/status",
        parse: |i| dpkg::parse(i.path, i.text()?, i.distro),
    },
    Reader {
        kind: "package database",
        matches: dpkg::is_status_d,
        parse: |i| dpkg::parse_status_d(i.path, i.text()?, i.distro),
    },
    Reader {
        kind: "package files list",
        matches: dpkg::is_files_list,
        parse: |i| Ok(files_list(dpkg::list_package(i.fs_path), i.text()?)),
    },
    Reader {
        kind: "package database",
        matches: |p| p == "/usr/lib/opkg/status",
        parse: |i| opkg::parse(i.path, i.text()?, i.distro),
    },
    Reader {
        kind: "package database",
        matches: opkg::is_info_control,
        parse: |i| opkg::parse_control(i.path, i.text()?, i.distro),
    },
    Reader {
        kind: "package files list",
        matches: opkg::is_files_list,
        parse: |i| Ok(files_list(opkg::list_package(i.fs_path), i.text()?)),
    },
    Reader {
        kind: "package changelog",
        matches: changelog::is_changelog,
        parse: |i| changelog::parse(i.path, i.data),
    },
    Reader {
        kind: "package file",
        matches: package_file::is_package_file,
        parse: |i| package_file::parse(i.path, i.fs_path, i.data).map(Parsed::from),
    },
    Reader {
        kind: "package database",
        matches: |p| p == "/lib/apk/db/installed",
        parse: |i| apk::parse(i.path, i.text()?, i.distro),
    },
    Reader {
        kind: "package database",
        matches: |p| p == "/var/lib/rpm/rpmdb.sqlite" || p == "/usr/lib/sysimage/rpm/rpmdb.sqlite",
        parse: |i| rpm::parse(i.path, i.data, i.distro).map(Parsed::from),
    },
    Reader {
        kind: "Cargo.lock",
        matches: |p| file_name(p) == "Cargo.lock",
        parse: |i| cargo_lock::parse(i.path, i.text()?).map(Parsed::from),
    },
    Reader {
        kind: "package-lock.json",
        matches: |p| matches!(file_name(p), "package-lock.json" | "npm-shrinkwrap.json"),
        parse: |i| npm::parse_input(i).map(Parsed::from),
    },
    Reader {
        kind: "yarn.lock",
        matches: |p| file_name(p) == "yarn.lock",
        parse: |i| yarn::parse_input(i).map(Parsed::from),
    },
    Reader {
        kind: "pnpm-lock.yaml",
        matches: |p| file_name(p) == "pnpm-lock.yaml",
        parse: |i| pnpm::parse(i.path, i.text()?).map(Parsed::from),
    },
    Reader {
        kind: "requirements file",
        matches: requirements::is_requirements,
        parse: |i| requirements::parse(i).map(Parsed::from),
    },
    Reader {
        kind: "poetry.lock",
        matches: |p| file_name(p) == "poetry.lock",
        parse: |i| poetry::parse(i.path, i.text()?).map(Parsed::from),
    },
    Reader {
        kind: "Pipfile.lock",
        matches: |p| file_name(p) == "Pipfile.lock",
        parse: |i| pipfile::parse(i.path, i.text()?).map(Parsed::from),
    },
    Reader {
        kind: "uv.lock",
        matches: |p| file_name(p) == "uv.lock",
        parse: |i| uv::parse(i.path, i.text()?).map(Parsed::from),
    },
    Reader {
        kind: "Python package metadata",
        matches: dist_info::is_metadata,
        parse: |i| dist_info::parse(i).map(Parsed::from),
    },
    Reader {
        kind: "Python wheel",
        matches: wheel::is_wheel,
        parse: |i| wheel::parse(i.path, i.data).map(Parsed::from),
    },
    Reader {
        kind: "go.mod",
        matches: |p| file_name(p) == "go.mod",
        parse: gomod::parse,
    },
    Reader {
        kind: "CycloneDX SBOM",
        matches: cyclonedx::is_cyclonedx,
        parse: |i| cyclonedx::parse(i.path, i.text()?).map(Parsed::from),
    },
    Reader {
        kind: "SPDX SBOM",
        matches: spdx::is_spdx,
        parse: |i| spdx::parse(i.path, i.text()?).map(Parsed::from),
    },
];

/// True when a file at `fs_path` is one some reader understands: a single
/// such file given as the target is scanned as a manifest, not an image.
pub fn is_manifest(fs_path: &str) -> bool {
    READERS.iter().any(|r| (r.matches)(fs_path))
}

/// Components from every manifest found in `unpacked`; a malformed manifest
/// becomes an error note and the others are still read. Files lists are
/// joined to their packages, and components found by signature learn which
/// package owns the file they were found in.
pub fn components(unpacked: &Unpacked) -> (Vec<Component>, Vec<Note>) {
    let mut found: Vec<(Option<usize>, Component)> = Vec::new();
    let mut owned: HashMap<(Option<usize>, String), Vec<String>> = HashMap::new();
    let mut patched: HashMap<(Option<usize>, String), Vec<crate::model::Patched>> = HashMap::new();
    let mut notes = Vec::new();
    let mut relations: Vec<(usize, Relations)> = Vec::new();
    let bases: Vec<Option<Distro>> = distros(unpacked)
        .iter()
        .map(|d| d.as_ref().map(os_release::package_base))
        .collect();
    for file in unpacked.files.iter().filter(|f| f.is_regular()) {
        let Some(fs) = &file.fs else { continue };
        let Some(reader) = READERS.iter().find(|r| (r.matches)(&fs.path)) else {
            continue;
        };
        let error = |message: String| Note {
            level: Level::Error,
            path: file.path.clone(),
            offset: None,
            message: format!("malformed {}: {message}", reader.kind),
        };
        if file.data.len() > MAX_MANIFEST_BYTES {
            notes.push(error(format!(
                "{} bytes, over the {} MiB manifest limit; not read",
                file.data.len(),
                MAX_MANIFEST_BYTES >> 20
            )));
            continue;
        }
        let siblings = |path: &str| -> Option<&[u8]> {
            let namespace = &unpacked.filesystems.get(fs.fs)?.namespace;
            let index = namespace.resolve(&unpacked.files, path)?;
            let sibling = unpacked.files.get(index)?;
            sibling.is_regular().then_some(sibling.data.as_slice())
        };
        let input = Input {
            path: &file.path,
            fs_path: &fs.path,
            data: &file.data,
            siblings: &siblings,
            distro: bases.get(fs.fs).and_then(Option::as_ref),
        };
        // Third-party parsers (TOML, YAML, SQLite) stay behind catch_unwind
        // like the unpackers: a bug there costs one manifest, not the scan.
        let result =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (reader.parse)(&input)))
                .unwrap_or_else(|_| Err("parser failed on this input".to_string()));
        match result {
            Ok(parsed) => {
                notes.extend(parsed.errors.into_iter().map(&error));
                let offset = found.len();
                relations.extend(parsed.relations.into_iter().filter_map(|mut r| {
                    (r.component < parsed.components.len()).then(|| {
                        r.component += offset;
                        (fs.fs, r)
                    })
                }));
                found.extend(parsed.components.into_iter().map(|c| (Some(fs.fs), c)));
                for (source, fixes) in parsed.patched {
                    patched
                        .entry((Some(fs.fs), source))
                        .or_default()
                        .extend(fixes);
                }
                for (package, files) in parsed.owned {
                    owned
                        .entry((Some(fs.fs), package))
                        .or_default()
                        .extend(files);
                }
            }
            Err(message) => notes.push(error(message)),
        }
    }
    for (fs, component) in &mut found {
        if component.files.is_empty()
            && let Some(files) = owned.get(&(*fs, component.name.clone()))
            && matches!(component.ecosystem.as_str(), "deb" | "opkg")
        {
            component.files = files.clone();
        }
    }
    for (fs, component) in &mut found {
        let source = component
            .source_package
            .clone()
            .unwrap_or_else(|| component.name.clone());
        if matches!(component.ecosystem.as_str(), "deb" | "opkg")
            && let Some(fixes) = patched.get(&(*fs, source))
        {
            component.patched = fixes.clone();
            // Several binary packages ship copies of one changelog.
            component
                .patched
                .sort_by(|a, b| a.id.cmp(&b.id).then(a.path.cmp(&b.path)));
            component.patched.dedup_by(|a, b| a.id == b.id);
        }
    }
    resolve_relations(&mut found, &relations);
    // A file read both on its own and through another's `-r` include gives
    // the same component with the same evidence: keep one.
    let mut seen = std::collections::HashSet::new();
    let components: Vec<Component> = found
        .into_iter()
        .map(|(_, c)| c)
        .filter(|c| {
            seen.insert((
                c.purl.clone(),
                c.sources.first().cloned().unwrap_or_default(),
            ))
        })
        .collect();
    // A package archive (a wheel, an .ipk) is read as a package file and,
    // once unpacked, again from its own metadata under `archive@0x0:zip/...`:
    // the copy from inside the archive is the same component.
    let first_path = |c: &Component| {
        c.sources
            .first()
            .map(|s| s.path.clone())
            .unwrap_or_default()
    };
    let outer: Vec<(String, String)> = components
        .iter()
        .map(|c| (c.purl.clone(), first_path(c)))
        .collect();
    let components = components
        .into_iter()
        .filter(|c| {
            let path = first_path(c);
            !outer
                .iter()
                .any(|(purl, other)| *purl == c.purl && path.starts_with(&format!("{other}@")))
        })
        .collect();
    (components, notes)
}

/// Turns package-database relations into `depends_on` edges between the
/// packages installed in the same file system: a group of alternatives is
/// the first one installed (by name, else by what a package provides);
/// dependencies on packages that are not installed are left out.
fn resolve_relations(found: &mut [(Option<usize>, Component)], relations: &[(usize, Relations)]) {
    let key = |fs: usize, c: &Component, name: &str| (fs, c.ecosystem.clone(), name.to_string());
    let mut provider: HashMap<(usize, String, String), String> = HashMap::new();
    for (fs, r) in relations {
        let c = &found[r.component].1;
        provider.insert(key(*fs, c, &c.name), c.purl.clone());
    }
    for (fs, r) in relations {
        let c = &found[r.component].1;
        for name in &r.provides {
            provider
                .entry(key(*fs, c, name))
                .or_insert_with(|| c.purl.clone());
        }
    }
    for (fs, r) in relations {
        let c = &found[r.component].1;
        let mut edges: Vec<String> = r
            .depends
            .iter()
            .filter_map(|group| {
                group
                    .iter()
                    .find_map(|name| provider.get(&key(*fs, c, name)))
            })
            .filter(|purl| **purl != c.purl)
            .cloned()
            .collect();
        edges.sort();
        edges.dedup();
        found[r.component].1.depends_on = edges;
    }
}

/// The installed package that owns each file, by the file's provenance
/// path: every package's files list resolved in its own file system, links
/// followed (dpkg lists `/lib/x86_64-linux-gnu/libc.so.6`; on a merged-/usr
/// system the file is reached through `/lib -> usr/lib`). The value is the
/// package's index in `components`.
pub fn owners(components: &[Component], unpacked: &Unpacked) -> HashMap<String, usize> {
    let by_path: HashMap<&str, usize> = unpacked
        .files
        .iter()
        .filter_map(|f| Some((f.path.as_str(), f.fs.as_ref()?.fs)))
        .collect();
    let mut out: HashMap<String, usize> = HashMap::new();
    for (i, c) in components
        .iter()
        .enumerate()
        .filter(|(_, c)| !c.files.is_empty())
    {
        let Some(fs) = c
            .sources
            .first()
            .and_then(|s| by_path.get(s.path.as_str()).copied())
        else {
            continue;
        };
        let Some(filesystem) = unpacked.filesystems.get(fs) else {
            continue;
        };
        for f in &c.files {
            if let Some(index) = filesystem.namespace.resolve(&unpacked.files, f) {
                out.entry(unpacked.files[index].path.clone()).or_insert(i);
            }
        }
    }
    out
}

/// Marks each signature hit with the installed package whose files list
/// holds the file it was found in (`sources[].package`);
/// [`crate::inventory::merge`] then joins the hit to that package when it
/// carries the same product and version.
pub fn attribute(components: &mut [Component], unpacked: &Unpacked) {
    let owners = owners(components, unpacked);
    if owners.is_empty() {
        return;
    }
    let names: Vec<String> = components.iter().map(|c| c.name.clone()).collect();
    for component in components.iter_mut().filter(|c| c.files.is_empty()) {
        for source in &mut component.sources {
            if let Some(&package) = owners.get(&source.path) {
                source.package = Some(names[package].clone());
            }
        }
    }
}

/// A files list as the package `name` owns it. dpkg lists every directory
/// before its contents; directories are shared between packages, so an entry
/// followed by one inside it is dropped and only leaves are kept.
fn files_list(name: Option<String>, text: &str) -> Parsed {
    let Some(name) = name else {
        return Parsed::default();
    };
    let entries: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with('/') && *l != "/.")
        .collect();
    let files = entries
        .iter()
        .enumerate()
        .filter(|(i, e)| {
            entries
                .get(i + 1)
                .is_none_or(|next| !next.starts_with(&format!("{e}/")))
        })
        .map(|(_, e)| e.to_string())
        .collect();
    Parsed {
        owned: vec![(name, files)],
        ..Parsed::default()
    }
}

/// Line number (1-based) of byte `offset` in `data`.
pub fn line_of(data: &[u8], offset: usize) -> usize {
    1 + data[..offset.min(data.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
}

/// A serde_json error as `line N: message` (without serde's own position suffix).
pub fn json_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let message = text.split(" at line ").next().unwrap_or(&text);
    format!("line {}: {message}", e.line())
}

/// A TOML error as `line N: message`.
pub fn toml_error(text: &str, e: &toml::de::Error) -> String {
    let line = e
        .span()
        .map_or(1, |span| line_of(text.as_bytes(), span.start));
    format!("line {line}: {}", e.message().trim())
}

/// A YAML error as `line N: message`.
pub fn yaml_error(e: &serde_yaml_ng::Error) -> String {
    let line = e.location().map_or(1, |l| l.line());
    let text = e.to_string();
    let message = text.split(" at line ").next().unwrap_or(&text);
    format!("line {line}: {message}")
}

/// Parses JSON into `T`, errors as `line N: message`.
pub fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    serde_json::from_str(text).map_err(|e| json_error(&e))
}

/// Parses TOML into `T`, errors as `line N: message`.
pub fn from_toml<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    toml::from_str(text).map_err(|e| toml_error(text, &e))
}

/// Line (1-based) of the first line of `text` containing `needle`, or 1.
pub fn find_line(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map_or(1, |i| i + 1)
}

/// For every JSON key that starts a line and opens an object (`  "key": {`),
/// the first line it is on: one pass, so large lockfiles stay linear.
pub fn json_key_lines(text: &str) -> HashMap<&str, usize> {
    let mut out = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let Some(rest) = line.trim_start().strip_prefix('"') else {
            continue;
        };
        if let Some(end) = rest.find("\":")
            && rest[end + 2..].trim_start().starts_with('{')
        {
            out.entry(&rest[..end]).or_insert(n + 1);
        }
    }
    out
}

/// `value` of a `key = "value"` line.
fn toml_line_value<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let rest = line
        .trim()
        .strip_prefix(key)?
        .trim_start()
        .strip_prefix('=')?;
    Some(rest.trim().trim_matches('"'))
}

/// For every `[[package]]` of a TOML lockfile written one key per line
/// (`name = "x"` then `version = "1"`), the line of its `name`.
pub fn toml_package_lines(text: &str) -> HashMap<(&str, &str), usize> {
    let mut out = HashMap::new();
    let mut name: Option<(&str, usize)> = None;
    for (n, line) in text.lines().enumerate() {
        if let Some(v) = toml_line_value(line, "name") {
            name = Some((v, n + 1));
        } else if let (Some(v), Some((nm, at))) = (toml_line_value(line, "version"), name.take()) {
            out.entry((nm, v)).or_insert(at);
        }
    }
    out
}

/// PEP 503 normalized Python project name: lower-case, runs of `-_.` as `-`.
pub fn pypi_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
            continue;
        }
        if sep && !out.is_empty() {
            out.push('-');
        }
        sep = false;
        out.extend(c.to_lowercase());
    }
    out
}

/// The distribution of each file system (`/etc/os-release` and the
/// release files beside it), by file-system index.
pub fn distros(unpacked: &Unpacked) -> Vec<Option<Distro>> {
    unpacked
        .filesystems
        .iter()
        .map(|fs| {
            let read = |path: &str| -> Option<Vec<u8>> {
                let index = fs.namespace.resolve(&unpacked.files, path)?;
                let file = unpacked.files.get(index)?;
                (file.is_regular() && file.data.len() < 64 << 10).then(|| file.data.clone())
            };
            os_release::detect(&read)
        })
        .collect()
}

/// A language-ecosystem package as a component: `ecosystem` is the purl type
/// (`cargo`, `npm`, `pypi`, `golang`), `osv` the OSV ecosystem name.
pub struct Package<'a> {
    pub name: String,
    pub version: String,
    pub purl: String,
    pub ecosystem: &'a str,
    pub osv: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    pub line: usize,
}

impl Package<'_> {
    pub fn component(self) -> Component {
        Component {
            sources: vec![Evidence {
                sha256: None,
                method: self.method.to_string(),
                path: self.path.to_string(),
                offset: None,
                line: Some(self.line as u64),
                evidence: format!("line {}: {} {}", self.line, self.name, self.version),
                package: None,
            }],
            name: self.name,
            version: self.version,
            purl: self.purl,
            ecosystem: self.ecosystem.to_string(),
            ecosystem_osv: Some(self.osv.to_string()),
            ..Component::default()
        }
    }
}

/// A package-database entry as a component: `product` is the upstream
/// project it carries (if known), at `upstream_version`.
fn package_component(
    package: &control::Installed,
    ecosystem: &str,
    purl: String,
    method: &str,
    path: &str,
    product: Option<&str>,
    upstream_version: String,
) -> Component {
    let upstream = product.map(|name| Upstream {
        name: name.to_string(),
        version: upstream_version,
    });
    Component {
        name: package.name.clone(),
        version: package.version.clone(),
        purl,
        cpe: upstream
            .as_ref()
            .and_then(|u| catalog::cpe(&u.name, &u.version)),
        ecosystem: ecosystem.to_string(),
        upstream,
        source_package: Some(
            package
                .source
                .clone()
                .unwrap_or_else(|| package.name.clone()),
        ),
        sources: vec![Evidence {
            method: method.to_string(),
            path: path.to_string(),
            offset: None,
            line: Some(package.line as u64),
            sha256: None,
            evidence: format!(
                "line {}: Package: {}, Version: {}",
                package.line, package.name, package.version
            ),
            package: None,
        }],
        status: package.status.clone(),
        ..Component::default()
    }
}

/// Each component's PURL with the PURLs it depends on, for readers' tests.
#[cfg(test)]
pub(crate) fn edges(components: &[Component]) -> Vec<(&str, Vec<&str>)> {
    components
        .iter()
        .map(|c| {
            (
                c.purl.as_str(),
                c.depends_on.iter().map(String::as_str).collect(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every reader on every fixture, truncated, with bytes flipped and with
    /// multi-byte characters inserted: errors are fine, panics are not.
    #[test]
    fn mangled_fixtures_never_panic_a_reader() {
        let root =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/manifests");
        let mut pending = vec![root.clone()];
        let mut checked = 0;
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    pending.push(path);
                    continue;
                }
                let rel = path
                    .strip_prefix(&root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                let fs_path = format!("/{}", rel.split_once('/').map_or(rel.as_str(), |(_, r)| r));
                let Some(reader) = READERS.iter().find(|r| (r.matches)(&fs_path)) else {
                    continue;
                };
                let data = std::fs::read(&path).unwrap();
                for variant in mangled(&data) {
                    let none = |_: &str| -> Option<&[u8]> { None };
                    let input = Input {
                        path: &rel,
                        fs_path: &fs_path,
                        data: &variant,
                        siblings: &none,
                        distro: None,
                    };
                    let _ = (reader.parse)(&input);
                }
                checked += 1;
            }
        }
        assert!(checked >= 20, "{checked} fixtures");
    }

    fn mangled(data: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let step = (data.len() / 40).max(1);
        for cut in (0..data.len()).step_by(step).chain(0..data.len().min(24)) {
            out.push(data[..cut].to_vec());
            let mut flipped = data.to_vec();
            flipped[cut] ^= 0xff;
            out.push(flipped);
            if data[cut].is_ascii() {
                let mut wide = data[..cut].to_vec();
                wide.extend_from_slice("é".as_bytes());
                wide.extend_from_slice(&data[cut..]);
                out.push(wide);
            }
        }
        out
    }

    #[test]
    fn pep503_names() {
        assert_eq!(pypi_name("Foo.Bar__baz"), "foo-bar-baz");
        assert_eq!(pypi_name("requests"), "requests");
        assert_eq!(pypi_name("typing_extensions"), "typing-extensions");
    }

    #[test]
    fn npm_scopes_are_encoded() {
        assert_eq!(
            crate::purl::npm("@babel/core", "7.1.0"),
            "pkg:npm/%40babel/core@7.1.0"
        );
        assert_eq!(
            crate::purl::npm("lodash", "4.17.20"),
            "pkg:npm/lodash@4.17.20"
        );
    }
}
