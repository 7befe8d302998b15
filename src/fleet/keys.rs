//! `fleet keys`: private keys by fingerprint across the stored images, and
//! which ones more than one image or device model ship (one stolen device
//! unlocks them all). Read from the stored reports' `crypto` inventory; no
//! index of its own (it loads every image record, in parallel), so it needs
//! nothing from the storage layer but `image_ids`, `image` and `visit_devices_on`.

use super::FleetStore;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// One private key found in one image: id, algorithm, bits, image, path.
type Found = (String, String, Option<u32>, String, String);

/// One private key and where the fleet ships it.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct KeyUse {
    /// `sha256:` of the key's SubjectPublicKeyInfo (or of an encrypted key's DER).
    pub fingerprint: String,
    pub algorithm: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bits: Option<u32>,
    /// Images (SHA-256) holding it, sorted.
    pub images: Vec<String>,
    /// Paths inside those images, sorted.
    pub paths: Vec<String>,
    /// Device models running those images, sorted.
    pub models: Vec<String>,
    pub devices: usize,
}

impl KeyUse {
    pub fn shared(&self) -> bool {
        self.images.len() > 1 || self.models.len() > 1
    }
}

/// Every private key the stored images ship (library test keys left out);
/// with `shared_only`, those in more than one image or model.
pub fn keys(store: &(impl FleetStore + ?Sized), shared_only: bool) -> Result<Vec<KeyUse>, String> {
    {
        let this = store;
        let ids = this.image_ids()?;
        let per_image: Vec<Result<Vec<Found>, String>> = ids
            .par_iter()
            .map(|sha| {
                let Some(record) = this.image(sha)? else {
                    return Ok(Vec::new());
                };
                Ok(record
                    .report
                    .crypto
                    .iter()
                    .filter(|a| a.is_private() && a.known_as.is_none())
                    .filter_map(|a| {
                        let id = a
                            .fingerprint
                            .clone()
                            .or_else(|| a.der_sha256.as_ref().map(|d| format!("der:{d}")))?;
                        Some((id, a.algorithm.clone(), a.bits, sha.clone(), a.path.clone()))
                    })
                    .collect())
            })
            .collect();
        let mut by_key: BTreeMap<String, KeyUse> = BTreeMap::new();
        let mut models: BTreeMap<String, (BTreeSet<String>, usize)> = BTreeMap::new();
        for found in per_image {
            for (id, algorithm, bits, sha, path) in found? {
                if !models.contains_key(&sha) {
                    let mut set = BTreeSet::new();
                    let mut count = 0;
                    this.visit_devices_on(&sha, &mut |_, model, _| {
                        count += 1;
                        if !model.is_empty() {
                            set.insert(model.to_string());
                        }
                    })?;
                    models.insert(sha.clone(), (set, count));
                }
                let entry = by_key.entry(id.clone()).or_insert_with(|| KeyUse {
                    fingerprint: id,
                    algorithm,
                    bits,
                    images: Vec::new(),
                    paths: Vec::new(),
                    models: Vec::new(),
                    devices: 0,
                });
                if !entry.images.contains(&sha) {
                    entry.images.push(sha);
                }
                if !entry.paths.contains(&path) {
                    entry.paths.push(path);
                }
            }
        }
        let mut out: Vec<KeyUse> = by_key
            .into_values()
            .map(|mut k| {
                k.images.sort();
                k.paths.sort();
                let mut m: BTreeSet<String> = BTreeSet::new();
                for sha in &k.images {
                    if let Some((set, n)) = models.get(sha) {
                        m.extend(set.iter().cloned());
                        k.devices += n;
                    }
                }
                k.models = m.into_iter().collect();
                k
            })
            .filter(|k| !shared_only || k.shared())
            .collect();
        out.sort_by(|a, b| {
            b.images
                .len()
                .cmp(&a.images.len())
                .then_with(|| a.fingerprint.cmp(&b.fingerprint))
        });
        Ok(out)
    }
}
