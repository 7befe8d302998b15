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
