//! Components on a release line that reached end of life, or behind the
//! latest release of a supported line.

use crate::advisory::eol::{EolData, behind};
use crate::model::{Component, Finding, FindingKind, Severity};
use std::collections::BTreeSet;

/// `today` is an ISO date (`2026-11-25`); ISO dates compare as strings.
pub fn findings(components: &[Component], eol: &EolData, today: &str) -> Vec<Finding> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for component in components {
        let up = component.upstream();
        let Some(cycle) = eol.cycle(&up.name, &up.version) else {
            continue;
        };
        if !seen.insert((up.name.clone(), up.version.clone())) {
            continue;
        }
        let latest = cycle.latest.clone();
        let (severity, summary) = match cycle.eol_date() {
            Some(date) if date <= today => (
                Severity::Medium,
                format!(
                    "release line {} reached end of life on {date}: no more security fixes",
                    cycle.cycle
                ),
            ),
            _ => match &latest {
                Some(l) if behind(&up.version, l) => (
                    Severity::Low,
                    format!("behind {l}, the latest release of its line {}", cycle.cycle),
                ),
                _ => continue,
            },
        };
        // Every component carrying this release line is concerned.
        let purls = components
            .iter()
            .filter(|c| c.upstream() == up)
            .map(|c| c.purl.clone())
            .collect();
        out.push(Finding {
            component: Some(format!("{}@{}", up.name, up.version)),
            path: component.sources.first().map(|s| s.path.clone()),
            purls,
            fixed_versions: latest.into_iter().collect(),
            ..Finding::new(FindingKind::Outdated, severity, summary)
        });
    }
    out
}
