//! Components matched against the advisory database.

use crate::advisory::{Affects, Database};
use crate::model::{Component, Finding, FindingKind, Severity};
use crate::version;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

/// One finding per (vulnerability, upstream product, version), however many
/// packages, files or advisory sources name it.
pub fn findings(components: &[Component], db: &Database) -> Vec<Finding> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for component in components {
        let upstream = component.upstream();
        for m in db.matches_component(component) {
            let key = (
                m.advisory.id.clone(),
                upstream.name.clone(),
                upstream.version.clone(),
            );
            if !seen.insert(key) {
                continue;
            }
            let fix = match m.fixed_versions.first() {
                Some(f) => format!("fixed in {f}"),
                None => "no fixed version".to_string(),
            };
            let informational = match &m.advisory.affects {
                Affects::Rustsec(r) => r.informational.clone(),
                _ => None,
            };
            let summary = match &informational {
                Some(kind) => format!("{kind}: {}", m.advisory.summary),
                None => format!("{} ({fix})", m.advisory.summary),
            };
            out.push(Finding {
                kind: if informational.is_some() {
                    FindingKind::Informational
                } else {
                    FindingKind::Vulnerable
                },
                component: Some(format!("{}@{}", upstream.name, upstream.version)),
                path: component.sources.first().map(|s| s.path.clone()),
                advisory: Some(m.advisory.id.clone()),
                aliases: m.aliases.clone(),
                severity: m.advisory.severity.unwrap_or(Severity::Unknown),
                cvss: m.advisory.cvss.clone(),
                fixed_versions: m.fixed_versions.clone(),
                summary,
                ..Finding::new(FindingKind::Vulnerable, Severity::Unknown, "")
            });
        }
    }
    set_upgrades(&mut out);
    out
}

/// Per component, the highest first-fix among its advisories: the one
/// upgrade that clears them all (none if any advisory is unfixed).
fn set_upgrades(findings: &mut [Finding]) {
    let mut best: BTreeMap<String, Option<String>> = BTreeMap::new();
    for f in findings.iter() {
        let Some(component) = &f.component else {
            continue;
        };
        let fix = f.fixed_versions.first().cloned();
        let entry = best.entry(component.clone()).or_insert_with(|| fix.clone());
        *entry = match (entry.take(), fix) {
            (Some(a), Some(b)) => Some(if version::compare(&a, &b) == Ordering::Less {
                b
            } else {
                a
            }),
            _ => None,
        };
    }
    for f in findings.iter_mut() {
        f.upgrade = f
            .component
            .as_ref()
            .and_then(|c| best.get(c).cloned().flatten());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::advisory::osv;
    use crate::manifest::cargo_lock;

    /// RUSTSEC-2021-0003 as OSV, written from the RustSec advisory's facts.
    const SMALLVEC: &str = r#"{"id": "RUSTSEC-2021-0003", "modified": "2021-01-08T00:00:00Z",
        "aliases": ["CVE-2021-25900", "GHSA-43w2-9j62-hq99"],
        "summary": "Buffer overflow in SmallVec::insert_many",
        "affected": [{"package": {"ecosystem": "crates.io", "name": "smallvec"},
            "ranges": [{"type": "SEMVER", "events": [{"introduced": "0.6.3"}, {"fixed": "0.6.14"},
                {"introduced": "1.0.0"}, {"fixed": "1.6.1"}]}]}]}"#;

    #[test]
    fn lockfile_packages_match_in_their_own_ecosystem() {
        let mut db = Database::default();
        db.add(crate::advisory::Advisory::from_osv(
            serde_json::from_str::<osv::Record>(SMALLVEC).unwrap(),
            "osv",
        ));
        let lock = include_str!("../../tests/fixtures/manifests/cargo-lock/Cargo.lock");
        let components = cargo_lock::parse("Cargo.lock", lock).unwrap();
        let found: Vec<String> = findings(&components, &db)
            .iter()
            .map(|f| {
                format!(
                    "{} {} {:?}",
                    f.component.as_deref().unwrap_or("-"),
                    f.advisory.as_deref().unwrap_or("-"),
                    f.fixed_versions
                )
            })
            .collect();
        assert_eq!(found, ["smallvec@1.6.0 RUSTSEC-2021-0003 [\"1.6.1\"]"]);
        // A crates.io advisory never matches a same-named upstream C project.
        let generic = Component {
            name: "smallvec".into(),
            version: "1.6.0".into(),
            ecosystem: "generic".into(),
            ..Component::default()
        };
        assert!(findings(&[generic], &db).is_empty());
    }
}
