//! `db import`: recognises what each path holds (OSV JSON file, directory or
//! zip export; NVD API 2.0 JSON; RustSec advisory-db directory; the Debian
//! Security Tracker's JSON) and reads it. OSV records of distribution
//! ecosystems become distribution fix data ([`super::distro`]).

use super::distro::{self, ReleaseFeed};
use super::{Advisory, debian_tracker, nvd, osv, rustsec_db};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

/// Advisories read from a set of paths, by source, plus per-file errors.
#[derive(Debug, Default)]
pub struct Imported {
    pub by_source: BTreeMap<String, Vec<Advisory>>,
    pub origins: BTreeMap<String, Vec<String>>,
    /// A file that could not be read: the others are still imported.
    pub errors: Vec<String>,
    /// (source, id) -> position in `by_source[source]`.
    positions: std::collections::HashMap<(String, String), usize>,
    /// Distribution fix data per source (`debian-tracker`, `osv`), per release.
    pub feeds: BTreeMap<String, BTreeMap<String, ReleaseFeed>>,
}

/// Largest single JSON file or zip member we read (the NVD yearly feeds are ~100 MB).
const MAX_FILE: u64 = 1 << 30;

pub fn import(paths: &[&Path]) -> Imported {
    let mut out = Imported::default();
    for path in paths {
        let display = path.display().to_string();
        if path.is_dir() {
            if path.join("crates").is_dir() {
                match rustsec_db::load(path) {
                    Ok(list) => out.add("rustsec", &display, list),
                    Err(e) => out.errors.push(e),
                }
            } else {
                import_dir(path, &mut out);
            }
        } else if display.ends_with(".zip") {
            import_zip(path, &mut out);
        } else {
            match read_limited(path) {
                Ok(text) => import_json(&display, &text, &mut out),
                Err(e) => out.errors.push(e),
            }
        }
    }
    out
}

impl Imported {
    /// Adds distribution fix data; a later file's entry for the same
    /// package and vulnerability replaces an earlier one.
    fn add_feeds(&mut self, source: &str, origin: &str, feeds: Vec<ReleaseFeed>) {
        let stored = self.feeds.entry(source.to_string()).or_default();
        for feed in feeds {
            match stored.get_mut(&feed.ecosystem) {
                Some(existing) => {
                    for (package, fixes) in feed.packages {
                        for fix in fixes {
                            existing.insert(&package, fix);
                        }
                    }
                    existing.descriptions.extend(feed.descriptions);
                }
                None => {
                    stored.insert(feed.ecosystem.clone(), feed);
                }
            }
        }
        let key = format!("distro:{source}");
        let origins = self.origins.entry(key).or_default();
        if !origins.iter().any(|o| o == origin) {
            origins.push(origin.to_string());
        }
    }

    /// True when nothing at all was read.
    pub fn is_empty(&self) -> bool {
        self.by_source.is_empty() && self.feeds.is_empty()
    }

    /// Adds `list`; a record whose id this source already has (the same CVE
    /// filed under two products' files) replaces the earlier copy.
    fn add(&mut self, source: &str, origin: &str, list: Vec<Advisory>) {
        let stored = self.by_source.entry(source.to_string()).or_default();
        for advisory in list {
            let key = (source.to_string(), advisory.id.clone());
            match self.positions.get(&key) {
                Some(&at) => stored[at] = advisory,
                None => {
                    self.positions.insert(key, stored.len());
                    stored.push(advisory);
                }
            }
        }
        let origins = self.origins.entry(source.to_string()).or_default();
        if !origins.iter().any(|o| o == origin) {
            origins.push(origin.to_string());
        }
    }
}

fn read_limited(path: &Path) -> Result<String, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.len() > MAX_FILE {
        return Err(format!(
            "{}: {} bytes is larger than the {MAX_FILE}-byte import bound",
            path.display(),
            meta.len()
        ));
    }
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn import_dir(dir: &Path, out: &mut Imported) {
    let mut pending = vec![dir.to_path_buf()];
    let mut files = Vec::new();
    while let Some(d) = pending.pop() {
        match std::fs::read_dir(&d) {
            Ok(entries) => {
                for e in entries.filter_map(Result::ok) {
                    let p = e.path();
                    match e.file_type() {
                        Ok(t) if t.is_dir() => pending.push(p),
                        Ok(t) if t.is_file() && p.extension().is_some_and(|x| x == "json") => {
                            files.push(p)
                        }
                        _ => {}
                    }
                }
            }
            Err(e) => out.errors.push(format!("{}: {e}", d.display())),
        }
    }
    files.sort();
    for f in files {
        match read_limited(&f) {
            Ok(text) => import_json(&f.display().to_string(), &text, out),
            Err(e) => out.errors.push(e),
        }
    }
}

fn import_zip(path: &Path, out: &mut Imported) {
    let display = path.display().to_string();
    match std::fs::File::open(path) {
        Ok(f) => import_zip_reader(&display, f, out),
        Err(e) => out.errors.push(format!("{display}: {e}")),
    }
}

/// Every `.json` member of a zip (an OSV ecosystem export) as OSV or NVD data.
pub fn import_zip_reader(display: &str, reader: impl Read + std::io::Seek, out: &mut Imported) {
    let mut archive = match zip::ZipArchive::new(reader) {
        Ok(a) => a,
        Err(e) => {
            return out
                .errors
                .push(format!("{display}: not a readable zip: {e}"));
        }
    };
    for i in 0..archive.len() {
        let mut member = match archive.by_index(i) {
            Ok(m) => m,
            Err(e) => {
                out.errors.push(format!("{display}: member {i}: {e}"));
                continue;
            }
        };
        if !member.name().ends_with(".json") {
            continue;
        }
        let name = format!("{display}:{}", member.name());
        let mut text = String::new();
        let read = (&mut member).take(MAX_FILE + 1).read_to_string(&mut text);
        match read {
            Ok(n) if n as u64 > MAX_FILE => out
                .errors
                .push(format!("{name}: larger than the import bound")),
            Ok(_) => import_json(&name, &text, out),
            Err(e) => out.errors.push(format!("{name}: {e}")),
        }
    }
}

/// One JSON document: OSV record(s) or NVD record(s), told apart by shape.
pub fn import_json(name: &str, text: &str, out: &mut Imported) {
    if debian_tracker::looks_like_tracker(text) {
        match debian_tracker::parse(text) {
            Ok(feeds) => out.add_feeds("debian-tracker", name, feeds),
            Err(e) => out.errors.push(format!("{name}: {e}")),
        }
        return;
    }
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            return out.errors.push(format!(
                "{name}: invalid JSON at line {}, column {}: {e}",
                e.line(),
                e.column()
            ));
        }
    };
    if super::cve5::looks_like_cve5(&value) {
        let records = match value {
            Value::Array(items) => items,
            v => vec![v],
        };
        let list: Vec<Advisory> = records.iter().filter_map(super::cve5::advisory).collect();
        if list.is_empty() {
            out.errors
                .push(format!("{name}: no CVE 5 record names a known product"));
        } else {
            out.add("cve5", name, list);
        }
        return;
    }
    let is_nvd = nvd::looks_like_nvd(&value);
    if is_nvd {
        match nvd::parse_document(text) {
            Ok(records) => {
                let list = records.into_iter().map(nvd_advisory).collect();
                out.add("nvd", name, list);
            }
            Err(e) => out.errors.push(format!("{name}: {e}")),
        }
        return;
    }
    let records: Result<Vec<osv::Record>, _> = match value {
        Value::Array(items) => items.into_iter().map(serde_json::from_value).collect(),
        v => serde_json::from_value(v).map(|r| vec![r]),
    };
    match records {
        Ok(records) if !records.is_empty() => {
            let feeds = distro::from_osv(&records);
            if !feeds.is_empty() {
                out.add_feeds("osv", name, feeds);
            }
            // Records of upstream or language ecosystems are advisories;
            // a distribution's own records are only fix data.
            let list: Vec<Advisory> = records
                .into_iter()
                .filter(|r| {
                    r.affected.iter().any(|a| {
                        a.package
                            .as_ref()
                            .is_none_or(|p| !distro::is_distro_ecosystem(&p.ecosystem))
                    }) || r.affected.is_empty()
                })
                .map(|r| Advisory::from_osv(r, "osv"))
                .collect();
            if !list.is_empty() {
                out.add("osv", name, list);
            }
        }
        Ok(_) => out.errors.push(format!("{name}: no advisories in file")),
        Err(e) => out
            .errors
            .push(format!("{name}: not an OSV or NVD record: {e}")),
    }
}

fn nvd_advisory(r: nvd::NvdRecord) -> Advisory {
    Advisory {
        id: r.id,
        source: "nvd".to_string(),
        aliases: Vec::new(),
        summary: r.summary,
        severity: r.severity,
        cvss: r.cvss,
        affects: super::Affects::Nvd(r.configurations),
    }
}

/// What one `db import` did.
#[derive(Debug, serde::Serialize)]
pub struct ImportSummary {
    /// Advisories stored per source by this import.
    pub imported: BTreeMap<String, usize>,
    pub errors: Vec<String>,
}

/// Reads `paths` and replaces the matching sources in the store under
/// `data_dir`. Files that fail are listed and skipped; nothing is written
/// when no file could be read.
pub fn import_into_store(data_dir: &Path, paths: &[&Path]) -> Result<ImportSummary, String> {
    let imported = import(paths);
    if imported.is_empty() {
        let why = if imported.errors.is_empty() {
            "no advisories found".to_string()
        } else {
            imported.errors.join("\n")
        };
        return Err(format!("nothing imported:\n{why}"));
    }
    let mut store = super::store::load(data_dir)?.unwrap_or_default();
    let now = super::store::now_utc();
    let mut counts = BTreeMap::new();
    for (source, list) in imported.by_source {
        counts.insert(source.clone(), list.len());
        let origins = imported.origins.get(&source).cloned().unwrap_or_default();
        store.replace_source(&source, list, origins, now.clone());
    }
    for (source, feeds) in imported.feeds {
        let feeds: Vec<ReleaseFeed> = feeds.into_values().collect();
        let count = distro::save(data_dir, &source, &feeds)?;
        let key = format!("distro:{source}");
        counts.insert(key.clone(), count);
        let origins = imported.origins.get(&key).cloned().unwrap_or_default();
        store.record_source(&key, origins, now.clone(), count);
    }
    store.save(data_dir)?;
    Ok(ImportSummary {
        imported: counts,
        errors: imported.errors,
    })
}
