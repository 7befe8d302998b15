//! needs-patch, where, advisory and finding lookups on the sled indexes.
//! Each answers from the index trees; images are loaded only to describe
//! them.

use super::codec::{HitRef, severity_rank};
use super::{SledStore, from_json, key, split_key, storage};
use crate::fleet::queries::{PatchCollector, PatchFilter, PatchGroup, Scope, VersionReq, WhereHit};
use crate::fleet::record::FindingRow;
use crate::fleet::{AdvisoryImage, FleetOps, FleetStore, Page};
use crate::version::Scheme;
use rayon::prelude::*;
use std::collections::BTreeMap;

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

/// Devices needing a patch, grouped by the image they run. With
/// `--advisory`, the advisory index (ids and aliases) is read for that
/// id; otherwise the severity index from `--min-severity` up, so a
/// selective query reads only the findings it reports.
pub(super) fn needs_patch(
    store: &SledStore,
    filter: &PatchFilter,
) -> Result<Vec<PatchGroup>, String> {
    let mut collector = PatchCollector::new(filter);
    let (entries, image_of): (Entries, KeyImage) = match &filter.advisory {
        Some(id) => (
            Box::new(store.idx_advisory.scan_prefix(key(&[id, ""]))),
            advisory_key_image,
        ),
        None => (
            Box::new(
                store
                    .idx_severity
                    .range(vec![severity_rank(collector.min())]..),
            ),
            severity_key_image,
        ),
    };
    for item in entries {
        let (k, v) = item.map_err(|e| e.to_string())?;
        let Some(sha) = image_of(&k) else {
            continue;
        };
        let hit = HitRef::decode(&v)?;
        collector.add(
            sha,
            hit.severity,
            hit.advisory,
            hit.component,
            hit.first_fixed,
            hit.upgrade,
        );
    }
    // Each image's device table is read on its own: in parallel (a
    // fleet-wide answer reads thousands), kept in image order.
    let groups: Vec<Result<Option<PatchGroup>, String>> = collector
        .finish()
        .into_par_iter()
        .map(|(sha, upgrades)| {
            let (devices, device_count) = if filter.count_only && filter.admits_all() {
                (Vec::new(), store.device_count(&sha)?)
            } else if filter.count_only {
                let mut n = 0;
                store.visit_devices_on(&sha, &mut |_, model, tags| {
                    n += usize::from(filter.admits(model, tags))
                })?;
                (Vec::new(), n)
            } else {
                let ids = store.device_ids_on(&sha, &|model, tags| filter.admits(model, tags))?;
                let n = ids.len();
                (ids, n)
            };
            if device_count == 0 {
                return Ok(None);
            }
            let firmware_versions = store.firmware_versions(&sha)?;
            Ok(Some(PatchGroup {
                image: sha,
                firmware_versions,
                devices,
                upgrades,
                device_count,
            }))
        })
        .collect();
    let mut out = Vec::with_capacity(groups.len());
    for g in groups {
        out.extend(g?);
    }
    Ok(out)
}

/// Images (and their devices within `scope`) carrying component `name`,
/// optionally within a version requirement. With a restricted scope, an
/// image none of whose devices is visible is left out.
pub(super) fn where_component(
    store: &SledStore,
    name: &str,
    requirement: Option<&VersionReq>,
    scope: &Scope,
    count_only: bool,
) -> Result<Vec<WhereHit>, String> {
    let mut by_image: BTreeMap<(String, String), String> = BTreeMap::new();
    for item in store
        .idx_component
        .scan_prefix(key(&[&name.to_ascii_lowercase(), ""]))
    {
        let (k, v) = item.map_err(storage)?;
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
    let listed: Vec<Result<(Vec<String>, usize), String>> = images
        .par_iter()
        .map(|sha| devices_in_scope(store, sha, scope, count_only))
        .collect();
    let mut devices_of: BTreeMap<String, (Vec<String>, usize)> = BTreeMap::new();
    for (sha, ids) in images.into_iter().zip(listed) {
        devices_of.insert(sha, ids?);
    }
    let mut hits: Vec<WhereHit> = Vec::with_capacity(by_image.len());
    for ((image, version), ecosystem) in by_image {
        // The image's last hit takes its list; an earlier one copies it.
        let (devices, device_count) = match hits.last() {
            Some(prev) if prev.image == image => (prev.devices.clone(), prev.device_count),
            _ => devices_of.remove(&image).unwrap_or_default(),
        };
        if device_count == 0 && !scope.is_all() {
            continue;
        }
        hits.push(WhereHit {
            image,
            version,
            ecosystem,
            devices,
            device_count,
        });
    }
    Ok(hits)
}

/// The devices on `sha` within `scope` (ids sorted, unless `count_only`)
/// and how many there are.
pub(super) fn devices_in_scope(
    store: &SledStore,
    sha: &str,
    scope: &Scope,
    count_only: bool,
) -> Result<(Vec<String>, usize), String> {
    match (scope, count_only) {
        (Scope::All, true) => Ok((Vec::new(), store.device_count(sha)?)),
        (Scope::Tags(tags), true) if tags.len() == 1 => {
            let n = store
                .tag_images(&tags[0])?
                .into_iter()
                .find(|(s, _)| s == sha)
                .map_or(0, |(_, n)| n as usize);
            Ok((Vec::new(), n))
        }
        (_, true) => {
            let mut n = 0;
            store.visit_devices_on(sha, &mut |_, _, tags| n += usize::from(scope.admits(tags)))?;
            Ok((Vec::new(), n))
        }
        (_, false) => {
            let ids = store.device_ids_on(sha, &|_, tags| scope.admits(tags))?;
            let n = ids.len();
            Ok((ids, n))
        }
    }
}

/// Images an advisory (by id or alias) affects through an active
/// vulnerable finding, in image order, one entry per image and component.
pub(super) fn advisory_images(store: &SledStore, id: &str) -> Result<Vec<AdvisoryImage>, String> {
    let mut out: Vec<AdvisoryImage> = Vec::new();
    for item in store.idx_advisory.scan_prefix(key(&[id, ""])) {
        let (k, v) = item.map_err(storage)?;
        let Some(sha) = advisory_key_image(&k) else {
            continue;
        };
        let hit = HitRef::decode(&v)?;
        if out
            .last()
            .is_some_and(|l| l.image == sha && l.component == hit.component)
        {
            continue;
        }
        let full = super::codec::AdvisoryHit::decode(&v)?;
        out.push(AdvisoryImage {
            image: sha.to_string(),
            component: full.component,
            severity: full.severity,
            fixed_versions: full.fixed_versions,
            upgrade: full.upgrade,
        });
    }
    Ok(out)
}

/// Findings in (image, key) order from the findings index.
pub(super) fn findings(
    store: &SledStore,
    image: Option<&str>,
    page: &Page,
    keep: &mut dyn FnMut(&FindingRow) -> bool,
) -> Result<Vec<FindingRow>, String> {
    let prefix = image.map(|sha| key(&[sha, ""])).unwrap_or_default();
    let start = match page.after {
        Some((sha, k)) => {
            let mut s = key(&[sha, k]);
            s.push(0);
            s
        }
        None => prefix.clone(),
    };
    let mut out = Vec::new();
    for item in store.idx_finding.range(start..) {
        if out.len() >= page.limit {
            break;
        }
        let (k, v) = item.map_err(storage)?;
        if !k.starts_with(&prefix) {
            break;
        }
        let row: FindingRow = from_json("finding index entry", &v)?;
        if keep(&row) {
            out.push(row);
        }
    }
    Ok(out)
}
