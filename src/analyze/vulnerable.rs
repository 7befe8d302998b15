//! Components matched against the advisory database.

use crate::advisory::version;
use crate::advisory::{Affects, Database};
use crate::model::{Component, Finding, FindingKind, Severity};
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
                suppressed: None,
                upgrade: None,
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
