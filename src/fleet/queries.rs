//! Questions asked of the fleet store: which devices need patching, where a
//! component is, what changed between two releases. Each answers from the
//! index trees; images are loaded only to describe them.

use super::store::{Fleet, HitRef, ImageRecord, severity_rank, split_key};
use crate::model::{FindingKind, Severity};
use crate::version::{self, Scheme};
use rayon::prelude::*;
use serde::Serialize;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

/// Filters for `fleet needs-patch`.
#[derive(Debug, Default, Clone)]
pub struct PatchFilter {
    pub advisory: Option<String>,
    pub min_severity: Option<Severity>,
    pub model: Option<String>,
    pub tag: Option<String>,
}

/// Devices on one firmware image that need patching, and what to upgrade.
#[derive(Debug, Serialize)]
pub struct PatchGroup {
    pub image: String,
    pub firmware_versions: Vec<String>,
    pub devices: Vec<String>,
    pub upgrades: Vec<Upgrade>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Upgrade {
    /// `name@version` as found.
    pub component: String,
    /// Smallest version fixing every listed advisory, if there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    pub advisories: Vec<String>,
    pub max_severity: Severity,
}

/// Per component while collecting: advisories, worst severity, upgrade.
type Pending = (BTreeSet<String>, Severity, Option<String>);

fn device_matches(model: &str, tags: &[&str], filter: &PatchFilter) -> bool {
    filter.model.as_ref().is_none_or(|m| model == m)
        && filter
            .tag
            .as_ref()
            .is_none_or(|t| tags.contains(&t.as_str()))
}

/// Index entries as sled iterates them.
type Entries = Box<dyn Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>>;

/// Reads the image id out of an index key.
type KeyImage = fn(&[u8]) -> Option<&str>;

/// The image id in a `idx_advisory` key (`id\0sha256\0finding key`).
fn advisory_key_image(k: &[u8]) -> Option<&str> {
    let mut parts = k.split(|&b| b == 0);
    parts.next()?;
    std::str::from_utf8(parts.next()?).ok()
}

/// The image id in a `idx_severity` key (`rank sha256\0finding key`).
fn severity_key_image(k: &[u8]) -> Option<&str> {
    let rest = k.get(1..)?;
    std::str::from_utf8(rest.split(|&b| b == 0).next()?).ok()
}

impl Fleet {
    /// Devices needing a patch, grouped by the image they run. With
    /// `--advisory`, the advisory index (ids and aliases) is read for that
    /// id; otherwise the severity index from `--min-severity` up, so a
    /// selective query reads only the findings it reports.
    pub fn needs_patch(&self, filter: &PatchFilter) -> Result<Vec<PatchGroup>, String> {
        let min = filter.min_severity.unwrap_or(Severity::Info);
        // image -> component -> (advisories, worst severity, upgrade)
        let mut by_image: BTreeMap<String, BTreeMap<String, Pending>> = BTreeMap::new();
        let (entries, image_of): (Entries, KeyImage) = match &filter.advisory {
            Some(id) => (
                Box::new(self.idx_advisory.scan_prefix(super::store::key(&[id, ""]))),
                advisory_key_image,
            ),
            None => (
                Box::new(self.idx_severity.range(vec![severity_rank(min)]..)),
                severity_key_image,
            ),
        };
        for item in entries {
            let (k, v) = item.map_err(|e| e.to_string())?;
            let Some(sha) = image_of(&k) else {
                continue;
            };
            let hit = HitRef::decode(&v)?;
            if hit.severity < min {
                continue;
            }
            // Strings are copied once per image, component and advisory,
            // not once per index entry.
            if !by_image.contains_key(sha) {
                by_image.insert(sha.to_string(), BTreeMap::new());
            }
            let Some(components) = by_image.get_mut(sha) else {
                continue;
            };
            if !components.contains_key(hit.component) {
                components.insert(
                    hit.component.to_string(),
                    (
                        BTreeSet::new(),
                        hit.severity,
                        hit.upgrade.map(str::to_string),
                    ),
                );
            }
            let Some(entry) = components.get_mut(hit.component) else {
                continue;
            };
            if !entry.0.contains(hit.advisory) {
                entry.0.insert(hit.advisory.to_string());
            }
            entry.1 = entry.1.max(hit.severity);
            if filter.advisory.is_some() {
                // Only this advisory matters: its own fix is the upgrade.
                entry.2 = hit.first_fixed.map(str::to_string);
            }
        }
        // Each image's device table is read on its own: in parallel (a
        // fleet-wide answer reads thousands), kept in image order.
        let by_image: Vec<_> = by_image.into_iter().collect();
        let groups: Vec<Result<Option<PatchGroup>, String>> = by_image
            .into_par_iter()
            .map(|(sha, components)| {
                let devices =
                    self.device_ids_on(&sha, |model, tags| device_matches(model, tags, filter))?;
                if devices.is_empty() {
                    return Ok(None);
                }
                let firmware_versions = self.firmware_versions(&sha)?;
                let upgrades = components
                    .into_iter()
                    .map(|(component, (advisories, max_severity, to))| Upgrade {
                        component,
                        to,
                        advisories: advisories.into_iter().collect(),
                        max_severity,
                    })
                    .collect();
                Ok(Some(PatchGroup {
                    image: sha,
                    firmware_versions,
                    devices,
                    upgrades,
                }))
            })
            .collect();
        let mut out = Vec::with_capacity(groups.len());
        for g in groups {
            out.extend(g?);
        }
        Ok(out)
    }

    /// Images (and their devices) carrying component `name`, optionally
    /// within a version requirement.
    pub fn where_component(
        &self,
        name: &str,
        requirement: Option<&VersionReq>,
    ) -> Result<Vec<WhereHit>, String> {
        let mut by_image: BTreeMap<(String, String), String> = BTreeMap::new();
        for item in self
            .idx_component
            .scan_prefix(super::store::key(&[&name.to_ascii_lowercase(), ""]))
        {
            let (k, v) = item.map_err(|e| e.to_string())?;
            let parts = split_key(&k);
            let (Some(version), Some(sha)) = (parts.get(1), parts.get(2)) else {
                continue;
            };
            let ecosystem = String::from_utf8_lossy(&v).into_owned();
            // Package versions compare by their packaging's rules (`1:1.35.0-4` is dpkg's).
            let scheme = Scheme::for_ecosystem(&ecosystem);
            if requirement.is_none_or(|r| r.matches_in(scheme, version)) {
                by_image.insert((sha.clone(), version.clone()), ecosystem);
            }
        }
        // Each image's devices are listed once (one image often carries a
        // name twice: a package and its upstream), in parallel.
        let mut images: Vec<String> = by_image.keys().map(|(sha, _)| sha.clone()).collect();
        images.dedup();
        let listed: Vec<Result<Vec<String>, String>> = images
            .par_iter()
            .map(|sha| self.device_ids_on(sha, |_, _| true))
            .collect();
        let mut devices_of: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (sha, ids) in images.into_iter().zip(listed) {
            devices_of.insert(sha, ids?);
        }
        let mut hits: Vec<WhereHit> = Vec::with_capacity(by_image.len());
        for ((image, version), ecosystem) in by_image {
            // The image's last hit takes its list; an earlier one copies it.
            let devices = match hits.last() {
                Some(prev) if prev.image == image => prev.devices.clone(),
                _ => devices_of.remove(&image).unwrap_or_default(),
            };
            hits.push(WhereHit {
                image,
                version,
                ecosystem,
                devices,
            });
        }
        Ok(hits)
    }

    /// Components and findings that differ between two stored images.
    pub fn diff(&self, a: &str, b: &str) -> Result<Diff, String> {
        let load = |sha: &str| -> Result<ImageRecord, String> {
            self.image(sha)?
                .ok_or_else(|| format!("image {sha} is not in the fleet store"))
        };
        let (ra, rb) = (load(a)?, load(b)?);
        let versions = |r: &ImageRecord| -> BTreeMap<String, BTreeSet<String>> {
            let mut m: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            for c in r
                .report
                .components
                .iter()
                .filter(|c| c.ecosystem == "generic" || c.upstream.is_none())
            {
                m.entry(c.name.clone())
                    .or_default()
                    .insert(c.version.clone());
            }
            m
        };
        let (va, vb) = (versions(&ra), versions(&rb));
        let mut diff = Diff::default();
        for (name, old) in &va {
            match vb.get(name) {
                None => diff
                    .removed
                    .extend(old.iter().map(|v| format!("{name}@{v}"))),
                Some(new) if new != old => {
                    let from = old.iter().next_back().cloned().unwrap_or_default();
                    let to = new.iter().next_back().cloned().unwrap_or_default();
                    let entry = format!("{name}: {from} -> {to}");
                    if version::compare(&to, &from) == Ordering::Less {
                        diff.downgraded.push(entry);
                    } else {
                        diff.upgraded.push(entry);
                    }
                }
                _ => {}
            }
        }
        for (name, new) in &vb {
            if !va.contains_key(name) {
                diff.added.extend(new.iter().map(|v| format!("{name}@{v}")));
            }
        }
        // (advisory, product): a finding is fixed when the advisory no
        // longer applies to that product, whatever its version now.
        let active = |r: &ImageRecord| -> BTreeSet<(String, String)> {
            r.findings
                .iter()
                .filter(|f| {
                    f.state == super::store::FindingState::Active
                        && f.finding.kind == FindingKind::Vulnerable
                })
                .filter_map(|f| {
                    let product = f
                        .finding
                        .component
                        .as_deref()?
                        .split('@')
                        .next()?
                        .to_string();
                    Some((f.finding.advisory.clone()?, product))
                })
                .collect()
        };
        let (fa, fb) = (active(&ra), active(&rb));
        diff.fixed = fa
            .difference(&fb)
            .map(|(a, p)| format!("{a} {p}"))
            .collect();
        diff.introduced = fb
            .difference(&fa)
            .map(|(a, p)| format!("{a} {p}"))
            .collect();
        Ok(diff)
    }
}

#[derive(Debug, Serialize)]
pub struct WhereHit {
    pub image: String,
    pub version: String,
    /// `generic` (found in the bytes), a package ecosystem (`deb`, `opkg`),
    /// or `upstream` (the upstream product a package carries).
    pub ecosystem: String,
    pub devices: Vec<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct Diff {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub upgraded: Vec<String>,
    pub downgraded: Vec<String>,
    pub fixed: Vec<String>,
    pub introduced: Vec<String>,
}

/// `NAME@REQ` version requirements: `=1.2.3`, `<1.2.13`, `<=`, `>`, `>=`,
/// comma-separated for a range (`>=3.0,<3.0.8`); a bare version means `=`.
#[derive(Debug, Clone)]
pub struct VersionReq {
    bounds: Vec<(Ordering, bool, String)>,
}

impl VersionReq {
    pub fn parse(text: &str) -> Result<VersionReq, String> {
        let mut bounds = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (op, v) = if let Some(v) = part.strip_prefix(">=") {
                ((Ordering::Greater, true), v)
            } else if let Some(v) = part.strip_prefix("<=") {
                ((Ordering::Less, true), v)
            } else if let Some(v) = part.strip_prefix('>') {
                ((Ordering::Greater, false), v)
            } else if let Some(v) = part.strip_prefix('<') {
                ((Ordering::Less, false), v)
            } else {
                (
                    (Ordering::Equal, true),
                    part.strip_prefix('=').unwrap_or(part),
                )
            };
            let v = v.trim();
            if v.is_empty() {
                return Err(format!(
                    "version requirement {text:?}: {part:?} has no version"
                ));
            }
            bounds.push((op.0, op.1, v.to_string()));
        }
        if bounds.is_empty() {
            return Err(format!("version requirement {text:?} is empty"));
        }
        Ok(VersionReq { bounds })
    }

    pub fn matches(&self, version: &str) -> bool {
        self.matches_in(Scheme::Upstream, version)
    }

    pub fn matches_in(&self, scheme: Scheme, version: &str) -> bool {
        self.bounds.iter().all(|(dir, inclusive, bound)| {
            let ord = scheme.compare(version, bound);
            ord == *dir || (*inclusive && ord == Ordering::Equal)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_requirements() {
        let r = VersionReq::parse(">=3.0,<3.0.8").unwrap();
        assert!(
            r.matches("3.0.7") && r.matches("3.0") && !r.matches("3.0.8") && !r.matches("1.1.1w")
        );
        assert!(VersionReq::parse("1.0.2k").unwrap().matches("1.0.2k"));
        assert!(!VersionReq::parse("=1.0.2k").unwrap().matches("1.0.2l"));
        assert!(VersionReq::parse("<1.2.13").unwrap().matches("1.2.11"));
        assert!(VersionReq::parse(">=").is_err());
    }
}
