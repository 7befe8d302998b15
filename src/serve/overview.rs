//! The numbers on the dashboard's front page (and `GET /api/v1/overview`),
//! computed within the caller's scope: a tag-bound key's numbers count only
//! its devices and the images they run.

use crate::fleet::FleetStore;
use crate::fleet::queries::{PatchFilter, Scope};
use crate::fleet::record::{DayCounts, SEVERITIES};
use crate::model::Severity;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Days the trend covers, ending today.
pub const TREND_DAYS: u32 = 30;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Overview {
    /// Images the scope sees (run by at least one of its devices; every
    /// image for an unrestricted caller).
    pub images: usize,
    /// Devices running a stored image.
    pub devices: usize,
    /// Active findings (one per image and finding) by severity, worst first.
    pub by_severity: Vec<SeverityCount>,
    pub devices_needing_patch: usize,
    /// Devices needing a patch per model, most first.
    pub patch_by_model: Vec<ModelCount>,
    /// Vulnerabilities by devices affected, most first (at most 10).
    pub top_vulnerabilities: Vec<TopVulnerability>,
    /// Active findings per day, oldest first.
    pub trend: Vec<TrendPoint>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SeverityCount {
    pub severity: Severity,
    pub findings: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ModelCount {
    pub model: String,
    pub devices: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TopVulnerability {
    pub advisory: String,
    pub severity: Severity,
    pub devices: usize,
    pub images: usize,
    /// Components it is found in (`name@version`).
    pub components: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TrendPoint {
    pub day: String,
    pub active: u64,
    /// Of them, high or critical.
    pub high_or_worse: u64,
}

/// The images `scope` sees; `None` for every image.
pub fn visible_images(
    store: &dyn FleetStore,
    scope: &Scope,
) -> Result<Option<BTreeSet<String>>, String> {
    match scope {
        Scope::All => Ok(None),
        Scope::Tags(tags) => {
            let mut out = BTreeSet::new();
            for t in tags {
                out.extend(store.tag_images(t)?.into_iter().map(|(sha, _)| sha));
            }
            Ok(Some(out))
        }
    }
}

pub fn compute(store: &dyn FleetStore, scope: &Scope, today: &str) -> Result<Overview, String> {
    let visible = visible_images(store, scope)?;
    let sees = |sha: &str| visible.as_ref().is_none_or(|v| v.contains(sha));
    let trends: Vec<(String, Vec<DayCounts>)> = store
        .image_trends()?
        .into_iter()
        .filter(|(sha, _)| sees(sha))
        .collect();
    let images = match &visible {
        Some(v) => v.len(),
        None => store.image_ids()?.len(),
    };
    let mut devices = 0;
    for sha in match &visible {
        Some(v) => v.iter().cloned().collect::<Vec<_>>(),
        None => store.image_ids()?,
    } {
        devices += match scope {
            Scope::All => store.device_count(&sha)?,
            _ => {
                let mut n = 0;
                store.visit_devices_on(&sha, &mut |_, _, tags| {
                    n += usize::from(scope.admits(tags))
                })?;
                n
            }
        };
    }
    let mut totals = [0u64; 6];
    for (_, t) in &trends {
        if let Some(last) = t.last() {
            for (i, n) in last.counts.iter().enumerate() {
                totals[i] += n;
            }
        }
    }
    let by_severity = (0..6)
        .rev()
        .map(|i| SeverityCount {
            severity: SEVERITIES[i],
            findings: totals[i],
        })
        .collect();

    let groups = store.needs_patch(&PatchFilter {
        scope: scope.clone(),
        count_only: true,
        ..PatchFilter::default()
    })?;
    let mut by_model: BTreeMap<String, usize> = BTreeMap::new();
    let mut vulns: BTreeMap<String, TopVulnerability> = BTreeMap::new();
    let mut devices_needing_patch = 0;
    for g in &groups {
        devices_needing_patch += g.device_count;
        store.visit_devices_on(&g.image, &mut |_, model, tags| {
            if scope.admits(tags) {
                *by_model.entry(model.to_string()).or_default() += 1;
            }
        })?;
        let mut seen = BTreeSet::new();
        for u in &g.upgrades {
            for a in &u.advisories {
                let v = vulns.entry(a.clone()).or_insert_with(|| TopVulnerability {
                    advisory: a.clone(),
                    severity: u.max_severity,
                    devices: 0,
                    images: 0,
                    components: Vec::new(),
                });
                if seen.insert(a.clone()) {
                    v.devices += g.device_count;
                    v.images += 1;
                }
                if !v.components.contains(&u.component) {
                    v.components.push(u.component.clone());
                }
            }
        }
    }
    let mut patch_by_model: Vec<ModelCount> = by_model
        .into_iter()
        .map(|(model, devices)| ModelCount { model, devices })
        .collect();
    patch_by_model.sort_by(|a, b| b.devices.cmp(&a.devices).then(a.model.cmp(&b.model)));
    let mut top: Vec<TopVulnerability> = vulns.into_values().collect();
    top.sort_by(|a, b| {
        b.devices
            .cmp(&a.devices)
            .then(b.severity.cmp(&a.severity))
            .then(a.advisory.cmp(&b.advisory))
    });
    top.truncate(10);

    Ok(Overview {
        images,
        devices,
        by_severity,
        devices_needing_patch,
        patch_by_model,
        top_vulnerabilities: top,
        trend: trend(&trends, today),
    })
}

/// Active findings on each of the last [`TREND_DAYS`] days: each image
/// counts as its latest entry on or before the day says.
fn trend(trends: &[(String, Vec<DayCounts>)], today: &str) -> Vec<TrendPoint> {
    crate::date::days_ending(today, TREND_DAYS)
        .into_iter()
        .map(|day| {
            let mut active = 0;
            let mut high = 0;
            for (_, t) in trends {
                if let Some(e) = t.iter().rev().find(|e| e.day <= day) {
                    active += e.counts.iter().sum::<u64>();
                    high += e.counts[4] + e.counts[5];
                }
            }
            TrendPoint {
                day,
                active,
                high_or_worse: high,
            }
        })
        .collect()
}
