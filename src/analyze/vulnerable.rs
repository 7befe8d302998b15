//! Components matched against the advisory database.

use crate::advisory::{Affects, Database};
use crate::model::{Component, Finding, FindingKind, Severity};
use std::collections::BTreeSet;

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
                suppressed: None,
            });
        }
    }
    out
}
