//! Components matched against the advisory database.

use crate::advisory::Database;
use crate::model::{Component, Finding, FindingKind, Severity};
use std::collections::BTreeSet;

/// One finding per (advisory, upstream product, version), however many
/// packages or files carry that version.
pub fn findings(components: &[Component], db: &Database) -> Vec<Finding> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for component in components {
        let upstream = component.upstream();
        for m in db.matches("Generic", &upstream.name, &upstream.version) {
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
