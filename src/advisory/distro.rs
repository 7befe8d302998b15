//! Distribution fix data: what a distribution says about a vulnerability in
//! one of its source packages, per release. For a package a distribution
//! installed, this decides over upstream version ranges: Debian backports
//! fixes without moving to the upstream release that has them (curl
//! 7.88.1-10+deb12u4 fixes CVE-2023-38545, "fixed in 8.4.0" upstream).
//!
//! Two sources fill it: the Debian Security Tracker's JSON
//! ([`super::debian_tracker`]) and OSV records of distribution ecosystems
//! (`Debian:12`, `Alpine:v3.20`, `Ubuntu:22.04:LTS`; ids `DEBIAN-CVE-*`,
//! `DSA-*`, `DLA-*`, `ALPINE-CVE-*`, `USN-*`). Each is kept per release in
//! its own file under `<data dir>/distro/`, read only when a target of that
//! release is scanned (the tracker is tens of MB; most scans need one
//! release of it, many none).

use crate::version::Scheme;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Where a distribution stands on one vulnerability in one source package
/// of one release.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Fix {
    /// The vulnerability (`CVE-2023-38545`).
    pub cve: String,
    pub status: Status,
    /// The first revision with the fix; `0` means the release never had
    /// the vulnerable code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed: Option<String>,
    /// The distribution's own urgency (`low`, `medium`, `high`,
    /// `unimportant`, `not yet assigned`, `end-of-life`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urgency: Option<String>,
    /// Set when the distribution will not issue an advisory for it
    /// (Debian `nodsa`: `postponed`, `ignored`, or empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodsa: Option<String>,
    /// The distribution's advisory ids for it (`DSA-5587-1`, `DEBIAN-CVE-…`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ids: Vec<String>,
}

/// The tracker's status words; OSV records give `resolved` (a fixed
/// event) or `open` (no fix yet).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Resolved,
    Open,
    Undetermined,
}

/// What the distribution's data means for an installed revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The installed revision has the fix (first fixed in `fixed`).
    Fixed { fixed: String },
    /// The release never had the vulnerable code, or the distribution
    /// rates it `unimportant` (not a security problem in this build).
    NotAffected { reason: String },
    /// Still exposed; `fixed` is the revision to upgrade to, if there is one.
    Open { fixed: Option<String> },
}

impl Fix {
    /// The verdict for `installed` (a version of the package's own scheme).
    pub fn verdict(&self, installed: &str, scheme: Scheme) -> Verdict {
        if self
            .urgency
            .as_deref()
            .is_some_and(|u| u.trim_end_matches('*') == "unimportant")
        {
            return Verdict::NotAffected {
                reason: "rated unimportant".to_string(),
            };
        }
        match (self.status, self.fixed.as_deref()) {
            (Status::Resolved, Some("0")) => Verdict::NotAffected {
                reason: "never affected".to_string(),
            },
            (Status::Resolved, Some(fixed))
                if scheme.compare(installed, fixed) != std::cmp::Ordering::Less =>
            {
                Verdict::Fixed {
                    fixed: fixed.to_string(),
                }
            }
            (_, fixed) => Verdict::Open {
                fixed: fixed.filter(|f| *f != "0").map(str::to_string),
            },
        }
    }

    /// The urgency as the distribution writes it, without the tracker's
    /// `**` mark (urgency taken over from NVD rather than set by a person).
    pub fn urgency(&self) -> Option<&str> {
        self.urgency.as_deref().map(|u| u.trim_end_matches('*'))
    }
}

/// One release's fix data from one source.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReleaseFeed {
    /// OSV ecosystem of the release (`Debian:12`).
    pub ecosystem: String,
    /// `debian-tracker` or `osv`.
    pub source: String,
    /// Source package -> its vulnerabilities, in id order.
    pub packages: BTreeMap<String, Vec<Fix>>,
    /// One line per vulnerability, for findings only this feed knows.
    #[serde(default)]
    pub descriptions: BTreeMap<String, String>,
}

impl ReleaseFeed {
    /// Adds `fix` for `package`, replacing an entry for the same id.
    pub fn insert(&mut self, package: &str, fix: Fix) {
        let list = self.packages.entry(package.to_string()).or_default();
        match list.binary_search_by(|f| f.cve.cmp(&fix.cve)) {
            Ok(at) => list[at] = fix,
            Err(at) => list.insert(at, fix),
        }
    }

    pub fn len(&self) -> usize {
        self.packages.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.packages.is_empty()
    }
}

/// The file holding `source`'s data for `ecosystem` under `dir`.
fn feed_path(dir: &Path, source: &str, ecosystem: &str) -> PathBuf {
    let slug: String = ecosystem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    dir.join(format!("{source}.{slug}.json"))
}

/// `<data dir>/distro`.
pub fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join("distro")
}

/// Replaces everything `source` stored with `feeds`: each release file is
/// written beside its old one and renamed into place, then files of
/// releases the new data no longer has are removed.
pub fn save(data_dir: &Path, source: &str, feeds: &[ReleaseFeed]) -> Result<usize, String> {
    let dir = dir(data_dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut written = Vec::new();
    for feed in feeds {
        let file = feed_path(&dir, source, &feed.ecosystem);
        let tmp = file.with_extension(format!("json.{}.tmp", std::process::id()));
        let text = serde_json::to_vec(feed).map_err(|e| e.to_string())?;
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&text)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &file)
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            format!("{}: {e}", file.display())
        })?;
        written.push(file);
    }
    let prefix = format!("{source}.");
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for e in entries.filter_map(Result::ok) {
            let name = e.file_name().to_string_lossy().to_string();
            if name.starts_with(&prefix) && name.ends_with(".json") && !written.contains(&e.path())
            {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    Ok(feeds.iter().map(ReleaseFeed::len).sum())
}

/// One release feed as loaded: each package's list stays raw JSON until a
/// scan asks for that package (a scan of a Debian image reads a dozen of
/// the tracker's thousands of packages).
#[derive(Debug, Deserialize)]
struct Loaded {
    source: String,
    packages: HashMap<String, Box<RawValue>>,
    #[serde(default)]
    descriptions: HashMap<String, Box<RawValue>>,
}

impl Loaded {
    fn from_feed(feed: &ReleaseFeed) -> Option<Loaded> {
        Some(Loaded {
            source: feed.source.clone(),
            packages: feed
                .packages
                .iter()
                .map(|(k, v)| Some((k.clone(), serde_json::value::to_raw_value(v).ok()?)))
                .collect::<Option<_>>()?,
            descriptions: feed
                .descriptions
                .iter()
                .map(|(k, v)| Some((k.clone(), serde_json::value::to_raw_value(v).ok()?)))
                .collect::<Option<_>>()?,
        })
    }
}

/// Fix data for the releases scanned, loaded from the data directory on
/// first use and kept for the rest of the run.
#[derive(Debug, Default)]
pub struct Feeds {
    dir: Option<PathBuf>,
    /// Feeds given in memory (tests, `db import` of a file for one scan).
    extra: Vec<ReleaseFeed>,
    loaded: Mutex<HashMap<String, Arc<Vec<Loaded>>>>,
    /// Files that could not be read, reported once.
    pub errors: Mutex<Vec<String>>,
}

impl Feeds {
    /// Feeds stored under `data_dir`.
    pub fn in_dir(data_dir: &Path) -> Feeds {
        Feeds {
            dir: Some(dir(data_dir)),
            ..Feeds::default()
        }
    }

    /// Adds a feed held in memory.
    pub fn add(&mut self, feed: ReleaseFeed) {
        self.extra.push(feed);
        if let Ok(mut loaded) = self.loaded.lock() {
            loaded.clear();
        }
    }

    /// Every feed of `ecosystem` (`Debian:12`), the tracker's first.
    fn for_release(&self, ecosystem: &str) -> Arc<Vec<Loaded>> {
        let Ok(mut loaded) = self.loaded.lock() else {
            return Arc::new(Vec::new());
        };
        if let Some(feeds) = loaded.get(ecosystem) {
            return feeds.clone();
        }
        let mut feeds: Vec<Loaded> = self
            .extra
            .iter()
            .filter(|f| f.ecosystem == ecosystem)
            .filter_map(Loaded::from_feed)
            .collect();
        if let Some(dir) = &self.dir {
            for source in ["debian-tracker", "osv"] {
                let file = feed_path(dir, source, ecosystem);
                match std::fs::read(&file) {
                    Ok(bytes) => match serde_json::from_slice::<Loaded>(&bytes) {
                        Ok(feed) => feeds.push(feed),
                        Err(e) => self.report(format!("{}: corrupt: {e}", file.display())),
                    },
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => self.report(format!("{}: {e}", file.display())),
                }
            }
        }
        feeds.sort_by_key(|f| u8::from(f.source != "debian-tracker"));
        let feeds = Arc::new(feeds);
        loaded.insert(ecosystem.to_string(), feeds.clone());
        feeds
    }

    fn report(&self, message: String) {
        if let Ok(mut errors) = self.errors.lock() {
            errors.push(message);
        }
    }

    /// What the release's feeds say about `package`: the first feed that
    /// knows a vulnerability decides it. Each item is the fix, the
    /// description (for what is still open) and the feed's source.
    pub fn fixes(&self, ecosystem: &str, package: &str) -> Vec<(Fix, Option<String>, String)> {
        let feeds = self.for_release(ecosystem);
        let mut out: Vec<(Fix, Option<String>, String)> = Vec::new();
        for feed in feeds.iter() {
            let Some(raw) = feed.packages.get(package) else {
                continue;
            };
            let fixes: Vec<Fix> = match serde_json::from_str(raw.get()) {
                Ok(f) => f,
                Err(e) => {
                    self.report(format!(
                        "{} feed, package {package}: corrupt: {e}",
                        feed.source
                    ));
                    continue;
                }
            };
            for fix in fixes {
                if out.iter().any(|(f, _, _)| f.cve == fix.cve) {
                    continue;
                }
                let description = feed
                    .descriptions
                    .get(&fix.cve)
                    .and_then(|d| serde_json::from_str::<String>(d.get()).ok());
                out.push((fix, description, feed.source.clone()));
            }
        }
        out
    }

    /// True when some feed covers the release at all.
    pub fn covers(&self, ecosystem: &str) -> bool {
        !self.for_release(ecosystem).is_empty()
    }
}

/// True for OSV ecosystems of distributions whose packages are matched by
/// source package and release (`Debian:12`, `Ubuntu:22.04:LTS`, `Alpine:v3.20`).
pub fn is_distro_ecosystem(ecosystem: &str) -> bool {
    let base = ecosystem.split(':').next().unwrap_or("");
    ["Debian", "Ubuntu", "Alpine"].contains(&base) && ecosystem.contains(':')
}

/// The distribution parts of OSV records as feeds: one [`Fix`] per
/// upstream vulnerability a record is about (its `upstream` ids, else its
/// CVE aliases, else its own id), per release and source package.
pub fn from_osv(records: &[super::osv::Record]) -> Vec<ReleaseFeed> {
    let mut feeds: BTreeMap<String, ReleaseFeed> = BTreeMap::new();
    for record in records {
        let mut cves: Vec<&str> = record.upstream.iter().map(String::as_str).collect();
        if cves.is_empty() {
            cves = record
                .aliases
                .iter()
                .map(String::as_str)
                .filter(|a| a.starts_with("CVE-"))
                .collect();
        }
        if cves.is_empty() {
            cves.push(record.id.as_str());
        }
        for affected in &record.affected {
            let Some(package) = &affected.package else {
                continue;
            };
            if !is_distro_ecosystem(&package.ecosystem) {
                continue;
            }
            let fixed = affected
                .ranges
                .iter()
                .flat_map(|r| &r.events)
                .find_map(|e| e.fixed.clone());
            let urgency = affected
                .ecosystem_specific
                .as_ref()
                .and_then(|v| v.get("urgency"))
                .and_then(|u| u.as_str())
                .map(str::to_string);
            let feed = feeds
                .entry(package.ecosystem.clone())
                .or_insert_with(|| ReleaseFeed {
                    ecosystem: package.ecosystem.clone(),
                    source: "osv".to_string(),
                    ..ReleaseFeed::default()
                });
            for cve in &cves {
                let mut ids = vec![record.id.clone()];
                // A second record on the same vulnerability (a DSA beside
                // the DEBIAN-CVE record) adds its id; a fix wins over none.
                if let Some(old) = feed
                    .packages
                    .get(&package.name)
                    .and_then(|l| l.iter().find(|f| f.cve == *cve))
                {
                    if old.fixed.is_some() && fixed.is_none() {
                        continue;
                    }
                    ids.extend(old.ids.iter().filter(|i| **i != record.id).cloned());
                }
                if fixed.is_none()
                    && let Some(summary) = record.summary.as_ref().or(record.details.as_ref())
                {
                    feed.descriptions
                        .insert(cve.to_string(), summary.chars().take(240).collect());
                }
                feed.insert(
                    &package.name,
                    Fix {
                        cve: cve.to_string(),
                        status: if fixed.is_some() {
                            Status::Resolved
                        } else {
                            Status::Open
                        },
                        fixed: fixed.clone(),
                        urgency: urgency.clone(),
                        nodsa: None,
                        ids,
                    },
                );
            }
        }
    }
    feeds.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn osv_distribution_records_become_feeds() {
        // DEBIAN-CVE-2023-38545 and DSA-5526-1 as OSV publishes them (trimmed).
        let records: Vec<super::super::osv::Record> = serde_json::from_str(
            r#"[{"id": "DEBIAN-CVE-2023-38545", "upstream": ["CVE-2023-38545"],
                 "affected": [{"package": {"ecosystem": "Debian:12", "name": "curl"},
                   "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "7.88.1-10+deb12u4"}]}],
                   "ecosystem_specific": {"urgency": "not yet assigned"}}]},
                {"id": "DSA-5526-1", "upstream": ["CVE-2023-38545", "CVE-2023-38546"],
                 "affected": [{"package": {"ecosystem": "Debian:12", "name": "curl"},
                   "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "7.88.1-10+deb12u4"}]}]}]},
                {"id": "ALPINE-CVE-2024-0001", "upstream": ["CVE-2024-0001"],
                 "affected": [{"package": {"ecosystem": "Alpine:v3.20", "name": "zlib"},
                   "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]}]}]"#,
        )
        .unwrap();
        let feeds = from_osv(&records);
        assert_eq!(
            feeds
                .iter()
                .map(|f| f.ecosystem.as_str())
                .collect::<Vec<_>>(),
            ["Alpine:v3.20", "Debian:12"]
        );
        let curl = &feeds[1].packages["curl"];
        assert_eq!(curl.len(), 2);
        assert_eq!(curl[0].cve, "CVE-2023-38545");
        assert_eq!(curl[0].ids, ["DSA-5526-1", "DEBIAN-CVE-2023-38545"]);
        assert_eq!(
            curl[0].verdict("7.88.1-10+deb12u15", Scheme::Dpkg),
            Verdict::Fixed {
                fixed: "7.88.1-10+deb12u4".into()
            }
        );
        assert_eq!(
            feeds[0].packages["zlib"][0].verdict("1.3.1-r0", Scheme::Apk),
            Verdict::Open { fixed: None }
        );
        assert!(is_distro_ecosystem("Ubuntu:22.04:LTS"));
        assert!(!is_distro_ecosystem("Debian"));
        assert!(!is_distro_ecosystem("PyPI"));
    }

    fn fix(status: Status, fixed: Option<&str>, urgency: &str) -> Fix {
        Fix {
            cve: "CVE-1".into(),
            status,
            fixed: fixed.map(str::to_string),
            urgency: Some(urgency.into()),
            nodsa: None,
            ids: Vec::new(),
        }
    }

    #[test]
    fn verdicts_follow_the_tracker_rules() {
        let d = Scheme::Dpkg;
        let resolved = fix(Status::Resolved, Some("7.88.1-10+deb12u4"), "high");
        assert_eq!(
            resolved.verdict("7.88.1-10+deb12u15", d),
            Verdict::Fixed {
                fixed: "7.88.1-10+deb12u4".into()
            }
        );
        assert_eq!(
            resolved.verdict("7.88.1-10+deb12u4", d),
            Verdict::Fixed {
                fixed: "7.88.1-10+deb12u4".into()
            }
        );
        assert_eq!(
            resolved.verdict("7.88.1-10+deb12u3", d),
            Verdict::Open {
                fixed: Some("7.88.1-10+deb12u4".into())
            }
        );
        assert!(matches!(
            fix(Status::Resolved, Some("0"), "low").verdict("1", d),
            Verdict::NotAffected { .. }
        ));
        assert!(matches!(
            fix(Status::Open, None, "unimportant").verdict("1", d),
            Verdict::NotAffected { .. }
        ));
        assert_eq!(
            fix(Status::Open, None, "low**").verdict("1", d),
            Verdict::Open { fixed: None }
        );
        assert_eq!(fix(Status::Open, None, "low**").urgency(), Some("low"));
    }

    #[test]
    fn feeds_round_trip_through_the_data_directory() {
        let dir = tempfile::tempdir().unwrap();
        let mut feed = ReleaseFeed {
            ecosystem: "Debian:12".into(),
            source: "debian-tracker".into(),
            ..ReleaseFeed::default()
        };
        feed.insert(
            "curl",
            fix(Status::Resolved, Some("7.88.1-10+deb12u4"), "high"),
        );
        assert_eq!(
            save(dir.path(), "debian-tracker", &[feed.clone()]).unwrap(),
            1
        );
        let feeds = Feeds::in_dir(dir.path());
        assert!(feeds.covers("Debian:12"));
        assert!(!feeds.covers("Debian:11"));
        assert_eq!(feeds.fixes("Debian:12", "curl").len(), 1);
        // A later import without that release removes its file.
        save(dir.path(), "debian-tracker", &[]).unwrap();
        assert!(!Feeds::in_dir(dir.path()).covers("Debian:12"));
    }
}
