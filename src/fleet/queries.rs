//! Questions asked of the fleet, whatever stores it: the filters, the
//! answers' shapes, version requirements, and the diff of two images
//! (computed from their records). Back ends answer needs-patch and where
//! from their own indexes (`sled_store::queries`).

use super::record::{FindingState, ImageRecord};
use crate::model::{FindingKind, Severity};
use crate::version::{self, Scheme};
use serde::Serialize;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

/// Which devices a caller may see: all, or those carrying one of a key's
/// tags (and so the images they run and those images' findings).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Scope {
    #[default]
    All,
    Tags(Vec<String>),
}

impl Scope {
    /// The scope of a key or user bound to `tags` (none: everything).
    pub fn of_tags(tags: &[String]) -> Scope {
        if tags.is_empty() {
            Scope::All
        } else {
            Scope::Tags(tags.to_vec())
        }
    }

    /// Whether a device with these tags is visible.
    pub fn admits<S: AsRef<str>>(&self, tags: &[S]) -> bool {
        match self {
            Scope::All => true,
            Scope::Tags(want) => tags.iter().any(|t| want.iter().any(|w| w == t.as_ref())),
        }
    }

    pub fn is_all(&self) -> bool {
        matches!(self, Scope::All)
    }
}

/// Filters for `fleet needs-patch`.
#[derive(Debug, Default, Clone)]
pub struct PatchFilter {
    pub advisory: Option<String>,
    pub min_severity: Option<Severity>,
    pub model: Option<String>,
    pub tag: Option<String>,
    /// Devices the caller may see.
    pub scope: Scope,
    /// Count each image's devices instead of listing them (the API lists
    /// them page by page).
    pub count_only: bool,
}

impl PatchFilter {
    /// Whether a device with this model and tags is asked about.
    pub fn admits(&self, model: &str, tags: &[&str]) -> bool {
        self.model.as_ref().is_none_or(|m| model == m)
            && self.tag.as_ref().is_none_or(|t| tags.contains(&t.as_str()))
            && self.scope.admits(tags)
    }

    /// True when every device on an image passes, so its count is the
    /// table's count.
    pub fn admits_all(&self) -> bool {
        self.model.is_none() && self.tag.is_none() && self.scope.is_all()
    }
}

/// Devices on one firmware image that need patching, and what to upgrade.
#[derive(Debug, Clone, Serialize)]
pub struct PatchGroup {
    pub image: String,
    pub firmware_versions: Vec<String>,
    pub devices: Vec<String>,
    pub upgrades: Vec<Upgrade>,
    /// Devices on the image that pass the filter (with `count_only`, the
    /// only device information filled in).
    #[serde(skip)]
    pub device_count: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
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

/// Gathers needs-patch's advisory hits per image and component, in the
/// order a back end reads them (by severity rank, image and finding key;
/// with `--advisory`, by image and finding key): which advisories, the
/// worst severity, and what to upgrade to. Both back ends feed it the same
/// hits in the same order, so they give the same answer.
#[derive(Debug, Default)]
pub struct PatchCollector {
    min: Option<Severity>,
    by_advisory: bool,
    by_image: BTreeMap<String, BTreeMap<String, Pending>>,
}

impl PatchCollector {
    pub fn new(filter: &PatchFilter) -> PatchCollector {
        PatchCollector {
            min: filter.min_severity,
            by_advisory: filter.advisory.is_some(),
            by_image: BTreeMap::new(),
        }
    }

    /// The least severity asked about.
    pub fn min(&self) -> Severity {
        self.min.unwrap_or(Severity::Info)
    }

    /// One active vulnerable finding of image `sha`.
    pub fn add(
        &mut self,
        sha: &str,
        severity: Severity,
        advisory: &str,
        component: &str,
        first_fixed: Option<&str>,
        upgrade: Option<&str>,
    ) {
        if severity < self.min() {
            return;
        }
        // Strings are copied once per image, component and advisory,
        // not once per hit.
        if !self.by_image.contains_key(sha) {
            self.by_image.insert(sha.to_string(), BTreeMap::new());
        }
        let Some(components) = self.by_image.get_mut(sha) else {
            return;
        };
        if !components.contains_key(component) {
            components.insert(
                component.to_string(),
                (BTreeSet::new(), severity, upgrade.map(str::to_string)),
            );
        }
        let Some(entry) = components.get_mut(component) else {
            return;
        };
        if !entry.0.contains(advisory) {
            entry.0.insert(advisory.to_string());
        }
        entry.1 = entry.1.max(severity);
        if self.by_advisory {
            // Only this advisory matters: its own fix is the upgrade.
            entry.2 = first_fixed.map(str::to_string);
        }
    }

    /// Each image with a hit, in image order, and its upgrades.
    pub fn finish(self) -> Vec<(String, Vec<Upgrade>)> {
        self.by_image
            .into_iter()
            .map(|(sha, components)| {
                let upgrades = components
                    .into_iter()
                    .map(|(component, (advisories, max_severity, to))| Upgrade {
                        component,
                        to,
                        advisories: advisories.into_iter().collect(),
                        max_severity,
                    })
                    .collect();
                (sha, upgrades)
            })
            .collect()
    }
}

/// Components and findings that differ between two stored images. that differ between two stored images.
pub fn diff(ra: &ImageRecord, rb: &ImageRecord) -> Diff {
    let versions = |r: &ImageRecord| -> BTreeMap<String, BTreeSet<String>> {
        let mut m: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        // Products by their upstream identity: a package carrying a product
        // counts as that product at its upstream release (the binary found
        // in it is the same thing, not a second one).
        for c in &r.report.components {
            let up = c.upstream();
            m.entry(up.name).or_default().insert(up.version);
        }
        m
    };
    let (va, vb) = (versions(ra), versions(rb));
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
                f.state == FindingState::Active && f.finding.kind == FindingKind::Vulnerable
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
    let (fa, fb) = (active(ra), active(rb));
    diff.fixed = fa
        .difference(&fb)
        .map(|(a, p)| format!("{a} {p}"))
        .collect();
    diff.introduced = fb
        .difference(&fa)
        .map(|(a, p)| format!("{a} {p}"))
        .collect();
    diff
}

#[derive(Debug, Serialize)]
pub struct WhereHit {
    pub image: String,
    pub version: String,
    /// `generic` (found in the bytes), a package ecosystem (`deb`, `opkg`),
    /// or `upstream` (the upstream product a package carries).
    pub ecosystem: String,
    pub devices: Vec<String>,
    /// How many devices run the image (within the scope); with
    /// `count_only` the only device information filled in.
    #[serde(skip)]
    pub device_count: usize,
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
