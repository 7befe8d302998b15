//! The Debian Security Tracker's JSON, as the tracker publishes it at
//! `/tracker/data/json`:
//! `{source-package: {CVE-id: {description?, scope?, debianbug?,
//! releases: {codename: {status, repositories, fixed_version?, urgency,
//! nodsa?, nodsa_reason?}}}}}`. Recognised by its shape, whatever the file
//! is called; read into one [`ReleaseFeed`] per Debian release.

use super::distro::{Fix, ReleaseFeed, Status};
use crate::model::debian_version_id;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};

/// Longest description kept for a vulnerability the tracker alone reports.
const DESCRIPTION_CHARS: usize = 240;

#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    description: Option<String>,
    #[serde(default, deserialize_with = "releases")]
    releases: HashMap<String, Release>,
}

/// `releases` is an object, or `[]` for an entry with no release data.
fn releases<'de, D: serde::Deserializer<'de>>(d: D) -> Result<HashMap<String, Release>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Map(HashMap<String, Release>),
        Empty([(); 0]),
    }
    Ok(match Either::deserialize(d)? {
        Either::Map(m) => m,
        Either::Empty(_) => HashMap::new(),
    })
}

#[derive(Deserialize)]
struct Release {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    fixed_version: Option<String>,
    #[serde(default)]
    urgency: Option<String>,
    #[serde(default)]
    nodsa: Option<String>,
    #[serde(default)]
    nodsa_reason: Option<String>,
}

/// True when `text` starts the way the tracker's JSON does: an object of
/// source packages whose first member is an object keyed by CVE (or
/// `TEMP-`) ids. Only the first bytes are looked at.
pub fn looks_like_tracker(text: &str) -> bool {
    let head: String = text
        .chars()
        .take(4096)
        .filter(|c| !c.is_whitespace())
        .collect();
    let Some(rest) = head.strip_prefix("{\"") else {
        return false;
    };
    let Some((_, rest)) = rest.split_once("\":{\"") else {
        return false;
    };
    (rest.starts_with("CVE-") || rest.starts_with("TEMP-")) && head.contains("\"releases\":")
}

/// One feed per Debian release the document names (code names Debian has
/// not numbered, such as `sid`, are left out: no system reports them).
pub fn parse(text: &str) -> Result<Vec<ReleaseFeed>, String> {
    let doc: BTreeMap<String, BTreeMap<String, Entry>> =
        serde_json::from_str(text).map_err(|e| {
            format!(
                "not Debian Security Tracker JSON at line {}, column {}: {e}",
                e.line(),
                e.column()
            )
        })?;
    let mut feeds: BTreeMap<&'static str, ReleaseFeed> = BTreeMap::new();
    for (package, cves) in &doc {
        for (cve, entry) in cves {
            for (codename, release) in &entry.releases {
                let Some(number) = debian_version_id(codename) else {
                    continue;
                };
                let status = match release.status.as_deref() {
                    Some("resolved") => Status::Resolved,
                    Some("open") => Status::Open,
                    _ => Status::Undetermined,
                };
                let feed = feeds.entry(number).or_insert_with(|| ReleaseFeed {
                    ecosystem: format!("Debian:{number}"),
                    source: "debian-tracker".to_string(),
                    ..ReleaseFeed::default()
                });
                if status != Status::Resolved
                    && let Some(d) = &entry.description
                {
                    feed.descriptions
                        .entry(cve.clone())
                        .or_insert_with(|| d.chars().take(DESCRIPTION_CHARS).collect());
                }
                feed.insert(
                    package,
                    Fix {
                        cve: cve.clone(),
                        status,
                        fixed: release.fixed_version.clone(),
                        urgency: release.urgency.clone(),
                        nodsa: release
                            .nodsa_reason
                            .clone()
                            .or_else(|| release.nodsa.clone()),
                        ids: Vec::new(),
                    },
                );
            }
        }
    }
    Ok(feeds.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::advisory::distro::Verdict;
    use crate::version::Scheme;

    /// The shape of the tracker's document, with real bookworm facts for
    /// curl (CVE-2023-38545 fixed by DSA-5526-1 in 7.88.1-10+deb12u4) and
    /// an entry with no release data, as the tracker writes them.
    const DOC: &str = r#"{
      "curl": {
        "CVE-2023-38545": {"scope": "remote", "description": "SOCKS5 heap buffer overflow",
          "releases": {"bookworm": {"status": "resolved", "repositories": {"bookworm": "7.88.1-10+deb12u15"},
             "fixed_version": "7.88.1-10+deb12u4", "urgency": "not yet assigned"},
           "sid": {"status": "resolved", "repositories": {"sid": "8.14.1-2"}, "fixed_version": "8.3.0-3", "urgency": "not yet assigned"}}},
        "CVE-2024-2379": {"description": "QUIC certificate check bypass with wolfSSL",
          "releases": {"bookworm": {"status": "resolved", "repositories": {"bookworm": "7.88.1-10+deb12u15"},
             "fixed_version": "0", "urgency": "not yet assigned"}}},
        "CVE-2025-0001": {"description": "an open one",
          "releases": {"bookworm": {"status": "open", "repositories": {"bookworm": "7.88.1-10+deb12u15"},
             "urgency": "low**", "nodsa": "Minor issue", "nodsa_reason": "postponed"}}}
      },
      "chromium-browser": {"CVE-2022-0358": {"releases": []}}
    }"#;

    #[test]
    fn reads_releases_statuses_and_nodsa() {
        assert!(looks_like_tracker(DOC));
        assert!(!looks_like_tracker(r#"{"id": "CVE-1", "affected": []}"#));
        assert!(!looks_like_tracker(r#"[{"curl": {"CVE-1": {}}}]"#));
        let feeds = parse(DOC).unwrap();
        assert_eq!(feeds.len(), 1, "sid is not a numbered release");
        let feed = &feeds[0];
        assert_eq!(feed.ecosystem, "Debian:12");
        assert_eq!(feed.len(), 3);
        let curl = &feed.packages["curl"];
        let installed = "7.88.1-10+deb12u15";
        assert_eq!(
            curl[0].verdict(installed, Scheme::Dpkg),
            Verdict::Fixed {
                fixed: "7.88.1-10+deb12u4".into()
            }
        );
        assert!(matches!(
            curl[1].verdict(installed, Scheme::Dpkg),
            Verdict::NotAffected { .. }
        ));
        assert_eq!(
            curl[2].verdict(installed, Scheme::Dpkg),
            Verdict::Open { fixed: None }
        );
        assert_eq!(curl[2].nodsa.as_deref(), Some("postponed"));
        assert_eq!(curl[2].urgency(), Some("low"));
        // Descriptions are kept only for what is still open.
        assert_eq!(
            feed.descriptions.keys().collect::<Vec<_>>(),
            ["CVE-2025-0001"]
        );
    }

    #[test]
    fn errors_name_the_place() {
        let err =
            parse(r#"{"curl": {"CVE-1": {"releases": {"bookworm": {"status": 3}}}}}"#).unwrap_err();
        assert!(
            err.starts_with("not Debian Security Tracker JSON at line 1"),
            "{err}"
        );
    }
}
