//! Components matched against the advisory database.

use crate::advisory::Database;
use crate::model::{Component, Finding, FindingKind, Severity};
use std::collections::BTreeSet;

/// OSV ecosystems whose advisories name packages as lockfiles do.
const LANGUAGE: &[&str] = &[
    "crates.io",
    "npm",
    "PyPI",
    "Go",
    "Maven",
    "RubyGems",
    "NuGet",
];

/// One finding per (advisory, upstream product, version), however many
/// packages or files carry that version.
pub fn findings(components: &[Component], db: &Database) -> Vec<Finding> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for component in components {
        let upstream = component.upstream();
        let mut matches = db.matches("Generic", &upstream.name, &upstream.version);
        // Language packages are also matched in their own ecosystem, by the
        // package name and version as published (distribution ecosystems
        // name source packages and releases, so they stay upstream-only).
        if let Some(eco) = component
            .ecosystem_osv
            .as_deref()
            .filter(|e| LANGUAGE.contains(e))
            && !component.unpinned
        {
            let version = match eco {
                "Go" => component.version.trim_start_matches('v'),
                _ => component.version.as_str(),
            };
            matches.extend(db.matches(eco, &component.name, version));
        }
        for m in matches {
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
            out.push(Finding {
                kind: FindingKind::Vulnerable,
                component: Some(format!("{}@{}", upstream.name, upstream.version)),
                path: component.sources.first().map(|s| s.path.clone()),
                advisory: Some(m.advisory.id.clone()),
                aliases: m.advisory.aliases.clone(),
                severity: m.advisory.severity.unwrap_or(Severity::Info),
                cvss: m.advisory.cvss.clone(),
                fixed_versions: m.fixed_versions.clone(),
                summary: format!("{} ({fix})", m.advisory.summary),
            });
        }
    }
    out
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
        db.add(serde_json::from_str::<osv::Record>(SMALLVEC).unwrap());
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
