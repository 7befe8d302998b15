//! OSV records (schema 1.6): the subset fwaudit reads, and the range walk
//! that decides whether a version is affected.

use crate::model::Severity;
use crate::version::Scheme;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub details: Option<String>,
    #[serde(default)]
    pub aliases: Vec<String>,
    /// OSV 1.6 `upstream`: the vulnerabilities a distribution record is
    /// about (`DEBIAN-CVE-2023-38545` names `CVE-2023-38545`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upstream: Vec<String>,
    #[serde(default)]
    pub severity: Vec<SeverityEntry>,
    #[serde(default)]
    pub affected: Vec<Affected>,
    #[serde(default)]
    pub database_specific: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeverityEntry {
    #[serde(rename = "type")]
    pub kind: String,
    pub score: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Affected {
    #[serde(default)]
    pub package: Option<Package>,
    #[serde(default)]
    pub ranges: Vec<Range>,
    #[serde(default)]
    pub versions: Vec<String>,
    /// Distribution records carry their urgency here (`{"urgency": "high"}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecosystem_specific: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Package {
    pub ecosystem: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Range {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub events: Vec<Event>,
}

/// One range event; OSV gives exactly one of these keys per event.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Event {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introduced: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_affected: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
}

impl Record {
    /// Worst severity the record states: a CVSS vector's base score first,
    /// else the qualitative rating in `database_specific.severity`.
    pub fn severity(&self) -> (Option<Severity>, Option<String>) {
        let scored = self.severity.iter().filter_map(|s| {
            let score = super::cvss_base_score(&s.score)?;
            Some((Severity::from_cvss_score(score), s.score.clone()))
        });
        if let Some((sev, vector)) = scored.max_by_key(|(sev, _)| *sev) {
            return (Some(sev), Some(vector));
        }
        let rated = self
            .database_specific
            .as_ref()
            .and_then(|d| d.get("severity"))
            .and_then(|s| s.as_str())
            .and_then(Severity::parse);
        (rated, None)
    }
}

/// Whether `version` falls in `range`, and the fix for its line if there is one.
///
/// Events are walked in version order: `introduced` opens an affected span,
/// `fixed` (exclusive) and `last_affected` (inclusive) close it.
pub fn range_affects(range: &Range, version: &str, scheme: Scheme) -> Option<Option<String>> {
    let scheme = if range.kind == "SEMVER" {
        Scheme::Semver
    } else {
        scheme
    };
    if range.kind == "GIT" {
        return None; // commit ranges need the source history
    }
    // OSV does not promise event order; the walk needs ascending versions.
    let key = |e: &Event| -> String {
        let v = [&e.introduced, &e.fixed, &e.last_affected, &e.limit];
        v.into_iter().flatten().next().cloned().unwrap_or_default()
    };
    let mut events: Vec<&Event> = range.events.iter().collect();
    events.sort_by(|a, b| match (key(a).as_str(), key(b).as_str()) {
        ("0", "0") => Ordering::Equal,
        ("0", _) => Ordering::Less,
        (_, "0") => Ordering::Greater,
        (x, y) => scheme.compare(x, y),
    });
    let mut affected = false;
    let mut fix: Option<String> = None;
    for event in events {
        if let Some(intro) = &event.introduced {
            if intro == "0" || scheme.compare(version, intro) != Ordering::Less {
                affected = true;
                fix = None;
            } else {
                break;
            }
        } else if let Some(fixed) = &event.fixed {
            if affected {
                if scheme.compare(version, fixed) == Ordering::Less {
                    fix = Some(fixed.clone());
                    break;
                }
                affected = false;
            }
        } else if let Some(last) = &event.last_affected {
            if affected && scheme.compare(version, last) == Ordering::Greater {
                affected = false;
            } else if affected {
                break;
            }
        } else if let Some(limit) = &event.limit
            && scheme.compare(version, limit) != Ordering::Less
        {
            affected = false;
            break;
        }
    }
    affected.then_some(fix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range_affects_up(r: &Range, v: &str) -> Option<Option<String>> {
        range_affects(r, v, Scheme::Upstream)
    }

    fn range(events: &[(&str, &str)]) -> Range {
        Range {
            kind: "ECOSYSTEM".into(),
            events: events
                .iter()
                .map(|(k, v)| {
                    let v = Some(v.to_string());
                    Event {
                        introduced: (*k == "introduced").then(|| v.clone()).flatten(),
                        fixed: (*k == "fixed").then(|| v.clone()).flatten(),
                        last_affected: (*k == "last_affected").then(|| v.clone()).flatten(),
                        limit: None,
                    }
                })
                .collect(),
        }
    }

    #[test]
    fn walks_several_release_lines() {
        let r = range(&[
            ("introduced", "1.0.2"),
            ("fixed", "1.0.2zd"),
            ("introduced", "1.1.1"),
            ("fixed", "1.1.1n"),
            ("introduced", "3.0.0"),
            ("fixed", "3.0.2"),
        ]);
        assert_eq!(range_affects_up(&r, "1.0.2k"), Some(Some("1.0.2zd".into())));
        assert_eq!(range_affects_up(&r, "1.0.2zd"), None);
        assert_eq!(range_affects_up(&r, "1.1.0l"), None);
        assert_eq!(range_affects_up(&r, "1.1.1m"), Some(Some("1.1.1n".into())));
        assert_eq!(range_affects_up(&r, "3.0.1"), Some(Some("3.0.2".into())));
        assert_eq!(range_affects_up(&r, "3.0.2"), None);
        assert_eq!(range_affects_up(&r, "1.0.1"), None);
    }

    #[test]
    fn last_affected_is_inclusive_and_open_ranges_stay_open() {
        let r = range(&[("introduced", "0"), ("last_affected", "2.89")]);
        assert_eq!(range_affects_up(&r, "2.89"), Some(None));
        assert_eq!(range_affects_up(&r, "2.90"), None);
        let open = range(&[("introduced", "5.8")]);
        assert_eq!(range_affects_up(&open, "6.1.0"), Some(None));
        assert_eq!(range_affects_up(&open, "5.4"), None);
    }

    #[test]
    fn severity_from_vector_or_rating() {
        let mut rec: Record = serde_json::from_str(
            r#"{"id":"X","severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]}"#,
        )
        .unwrap();
        assert_eq!(rec.severity().0, Some(Severity::Critical));
        rec.severity = vec![SeverityEntry {
            kind: "CVSS_V2".into(),
            score: "AV:N/AC:L/Au:N/C:P/I:N/A:N".into(),
        }];
        assert_eq!(rec.severity().0, Some(Severity::Medium));
        rec.severity.clear();
        rec.database_specific = Some(serde_json::json!({"severity": "LOW"}));
        assert_eq!(rec.severity(), (Some(Severity::Low), None));
    }
}
