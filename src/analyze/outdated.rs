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
        out.push(Finding {
            kind: FindingKind::Outdated,
            component: Some(format!("{}@{}", up.name, up.version)),
            path: component.sources.first().map(|s| s.path.clone()),
            advisory: None,
            aliases: Vec::new(),
            severity,
            cvss: None,
            fixed_versions: latest.into_iter().collect(),
            summary,
            ..Finding::new(FindingKind::Vulnerable, Severity::Unknown, "")
        });
    }
    out
}

/// Today's UTC date as `YYYY-MM-DD`; `FWAUDIT_TODAY` overrides it so that
/// reports can be reproduced (and tests do not age).
pub fn today() -> String {
    if let Ok(fixed) = std::env::var("FWAUDIT_TODAY") {
        return fixed;
    }
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    civil_date((secs / 86_400) as i64)
}

/// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn civil_date(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_date(0), "1970-01-01");
        assert_eq!(civil_date(19_723), "2024-01-01");
        assert_eq!(civil_date(20_782), "2026-11-25");
    }
}
