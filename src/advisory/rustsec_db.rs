//! RustSec advisory-db directories, read with the `rustsec` crate (no git).

use super::{Advisory, Affects};
use crate::model::Severity;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A crate and the version requirements RustSec marks as safe.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CrateRanges {
    pub package: String,
    pub patched: Vec<String>,
    pub unaffected: Vec<String>,
    /// `unmaintained`, `unsound`, `notice`: advisories that are not vulnerabilities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub informational: Option<String>,
}

impl CrateRanges {
    /// Affected unless a patched or unaffected requirement holds; the fixed
    /// versions are the lower bounds of the patched requirements.
    pub fn affects(&self, version: &str) -> Option<Vec<String>> {
        let v = semver::Version::parse(version).ok()?;
        let holds = |reqs: &[String]| {
            reqs.iter()
                .filter_map(|r| semver::VersionReq::parse(r).ok())
                .any(|r| r.matches(&v))
        };
        if holds(&self.patched) || holds(&self.unaffected) {
            return None;
        }
        let mut fixes: Vec<semver::Version> = self
            .patched
            .iter()
            .filter_map(|r| semver::VersionReq::parse(r).ok())
            .flat_map(|r| r.comparators)
            .filter(|c| {
                matches!(
                    c.op,
                    semver::Op::GreaterEq | semver::Op::Caret | semver::Op::Tilde
                )
            })
            .map(|c| semver::Version::new(c.major, c.minor.unwrap_or(0), c.patch.unwrap_or(0)))
            .filter(|f| *f > v)
            .collect();
        fixes.sort();
        fixes.dedup();
        Some(fixes.into_iter().take(1).map(|f| f.to_string()).collect())
    }
}

/// Every advisory (withdrawn ones left out) in an advisory-db checkout.
pub fn load(path: &Path) -> Result<Vec<Advisory>, String> {
    let db = rustsec::Database::open(path)
        .map_err(|e| format!("{}: not a RustSec advisory-db: {e}", path.display()))?;
    Ok(db
        .iter()
        .filter(|a| !a.withdrawn())
        .map(|a| {
            let m = &a.metadata;
            let cvss = m.cvss.as_ref().map(|c| c.to_string());
            let severity = match (&m.informational, &m.cvss) {
                (Some(_), _) => Some(Severity::Info),
                (None, Some(c)) => Some(Severity::from_cvss_score(c.score())),
                (None, None) => None,
            };
            Advisory {
                id: m.id.to_string(),
                source: "rustsec".to_string(),
                aliases: m.aliases.iter().map(|a| a.to_string()).collect(),
                summary: m.title.clone(),
                severity,
                cvss,
                affects: Affects::Rustsec(CrateRanges {
                    package: m.package.to_string(),
                    patched: a.versions.patched().iter().map(|r| r.to_string()).collect(),
                    unaffected: a
                        .versions
                        .unaffected()
                        .iter()
                        .map(|r| r.to_string())
                        .collect(),
                    informational: m.informational.as_ref().map(|i| i.as_str().to_string()),
                }),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patched_and_unaffected_requirements() {
        let r = CrateRanges {
            package: "smallvec".into(),
            patched: vec![">=0.6.10".into()],
            unaffected: vec!["<0.6.5".into()],
            informational: None,
        };
        assert_eq!(r.affects("0.6.9"), Some(vec!["0.6.10".to_string()]));
        assert_eq!(r.affects("0.6.10"), None);
        assert_eq!(r.affects("0.6.4"), None);
        assert_eq!(r.affects("not-semver"), None);
    }
}
