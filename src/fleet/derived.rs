//! What an image record implies for the indexes, whatever keeps them: the
//! component entries, the advisory hits of its active vulnerable findings,
//! its trend. Both back ends derive their index entries from here, so that
//! they index (and answer) the same.

use super::record::{DayCounts, FindingState, ImageRecord, active_counts};
use crate::model::{FindingKind, Severity};
use std::collections::BTreeMap;

/// `(lowercased name, version) -> ecosystem` of every component of the
/// record, and of the upstream product a package carries (`upstream`). A
/// later entry for the same name and version replaces an earlier one.
pub fn components(record: &ImageRecord) -> BTreeMap<(String, String), String> {
    let mut out = BTreeMap::new();
    for c in &record.report.components {
        out.insert(
            (c.name.to_ascii_lowercase(), c.version.clone()),
            c.ecosystem.clone(),
        );
        if let Some(up) = &c.upstream {
            out.insert(
                (up.name.to_ascii_lowercase(), up.version.clone()),
                "upstream".to_string(),
            );
        }
    }
    out
}

/// An active vulnerable finding as needs-patch and advisory lookups see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchHit<'a> {
    /// The finding's key on its image.
    pub key: &'a str,
    /// The advisory id, then its aliases: every name it is found by.
    pub names: Vec<&'a str>,
    pub advisory: &'a str,
    pub component: &'a str,
    pub severity: Severity,
    pub fixed_versions: &'a [String],
    pub upgrade: Option<&'a str>,
}

/// The record's active vulnerable findings that name an advisory and a
/// component, in the record's order.
pub fn patch_hits(record: &ImageRecord) -> Vec<PatchHit<'_>> {
    record
        .findings
        .iter()
        .filter(|r| r.state == FindingState::Active && r.finding.kind == FindingKind::Vulnerable)
        .filter_map(|r| {
            let f = &r.finding;
            let (Some(id), Some(component)) = (&f.advisory, &f.component) else {
                return None;
            };
            Some(PatchHit {
                key: &r.key,
                names: std::iter::once(id.as_str())
                    .chain(f.aliases.iter().map(String::as_str))
                    .collect(),
                advisory: id,
                component,
                severity: f.severity,
                fixed_versions: &f.fixed_versions,
                upgrade: f.upgrade.as_deref(),
            })
        })
        .collect()
}

/// The image's trend after `record` was written on `now`'s day: a new
/// entry when its active counts changed (replacing one of the same day).
pub fn trend_after(old: &[DayCounts], record: &ImageRecord, now: &str) -> Vec<DayCounts> {
    let day = now.get(..10).unwrap_or(now).to_string();
    let counts = active_counts(record);
    let mut trend = old.to_vec();
    match trend.last_mut() {
        Some(last) if last.counts == counts => {}
        Some(last) if last.day == day => last.counts = counts,
        _ => trend.push(DayCounts { day, counts }),
    }
    trend
}

/// A severity's rank (info 0 .. critical 5), in the order of
/// [`Severity`]'s `Ord`: stored by both back ends, so fixed here rather
/// than taken from the enum's declaration order.
pub fn severity_rank(s: Severity) -> u8 {
    match s {
        Severity::Info => 0,
        Severity::Unknown => 1,
        Severity::Low => 2,
        Severity::Medium => 3,
        Severity::High => 4,
        Severity::Critical => 5,
    }
}

/// The severity of a rank [`severity_rank`] gave.
pub fn severity_of_rank(rank: u8) -> Option<Severity> {
    Some(match rank {
        0 => Severity::Info,
        1 => Severity::Unknown,
        2 => Severity::Low,
        3 => Severity::Medium,
        4 => Severity::High,
        5 => Severity::Critical,
        _ => return None,
    })
}
