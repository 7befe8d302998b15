//! The store's schema mark and migrations: a store of an older schema is
//! brought up to [`SCHEMA`] when it is opened, one of a newer schema is
//! refused (an older fwaudit would not keep the newer indexes).

use super::buckets::{self, Header, Member};
use super::codec::{decode_record, encode_record};
use super::records::derived_entries;
use super::{SCHEMA, SledStore, from_json, storage, to_json};
use crate::fleet::FleetError;
use crate::fleet::derived::trend_after;
use crate::fleet::record::{Device, ImageRecord};
use std::collections::BTreeMap;
use std::path::Path;

/// Reads the schema mark; migrates, refuses or marks a new store.
pub(super) fn check(fleet: &mut SledStore, dir: &Path) -> Result<(), FleetError> {
    let read_u32 = |key: &str| -> Result<Option<u32>, String> {
        Ok(fleet.meta.get(key).map_err(storage)?.map(|v| {
            v.as_ref()
                .try_into()
                .map(u32::from_be_bytes)
                .unwrap_or(u32::MAX)
        }))
    };
    let stored = read_u32("schema")?;
    let interrupted = read_u32("migrating")?;
    match (stored, interrupted) {
        (Some(v), _) if v > SCHEMA => Err(FleetError::NewerSchema {
            dir: dir.to_path_buf(),
            found: v,
            known: SCHEMA,
        }),
        (Some(v), _) if v < SCHEMA => Ok(migrate(fleet, v)?),
        // A migration that did not finish starts again.
        (Some(_), Some(from)) => Ok(migrate(fleet, from)?),
        (Some(_), None) => Ok(()),
        (None, _) => Ok(fleet
            .meta
            .insert("schema", &SCHEMA.to_be_bytes())
            .map(|_| ())
            .map_err(storage)?),
    }
}

/// Brings an older store to [`SCHEMA`]: every derived tree is rebuilt from
/// the primary data (image records and devices) and image records are
/// re-encoded. The store is marked `schema = SCHEMA, migrating = from`
/// first, so an older fwaudit refuses it from then on and an interrupted
/// migration runs again on the next open; each step clears what it
/// rebuilds, so running it twice is harmless.
fn migrate(fleet: &mut SledStore, from: u32) -> Result<(), String> {
    let mut mark = sled::Batch::default();
    mark.insert("schema", &SCHEMA.to_be_bytes());
    mark.insert("migrating", &from.to_be_bytes());
    fleet.meta.apply_batch(mark).map_err(storage)?;
    fleet.meta.flush().map_err(storage)?;

    // Devices: one packed table per image (schema 1 had one entry per
    // device) and the per-tag image counts (schema 3).
    fleet.image_devices.clear().map_err(storage)?;
    fleet.idx_tag.clear().map_err(storage)?;
    let mut by_image: BTreeMap<String, Vec<Member>> = BTreeMap::new();
    let mut tag_counts: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
    for item in fleet.devices.iter() {
        let (_, v) = item.map_err(storage)?;
        // A corrupt record is left for `fleet verify` to report.
        if let Ok(d) = from_json::<Device>("device", &v)
            && let Some(sha) = d.image
        {
            for t in &d.tags {
                *tag_counts.entry(super::key(&[t, &sha])).or_default() += 1;
            }
            by_image.entry(sha).or_default().push(Member {
                id: d.id,
                model: d.model,
                tags: d.tags,
            });
        }
    }
    for (sha, mut members) in by_image {
        let mut batch = sled::Batch::default();
        let shape = Header::for_count(members.len() as u64);
        for (k, v) in buckets::layout(&sha, shape, &mut members) {
            batch.insert(k, v);
        }
        fleet.image_devices.apply_batch(batch).map_err(storage)?;
    }
    let mut batch = sled::Batch::default();
    for (k, n) in tag_counts {
        batch.insert(k, &n.to_be_bytes());
    }
    fleet.idx_tag.apply_batch(batch).map_err(storage)?;

    // Images: compressed records and every index derived from them.
    for tree in [
        &fleet.idx_component,
        &fleet.idx_advisory,
        &fleet.idx_severity,
        &fleet.idx_finding,
    ] {
        tree.clear().map_err(storage)?;
    }
    for item in fleet.images.iter() {
        let (k, bytes) = item.map_err(storage)?;
        let Ok(record) = decode_record::<ImageRecord>("image", &bytes) else {
            continue;
        };
        let packed = encode_record(&record)?;
        if packed != bytes.as_ref() {
            fleet.images.insert(&k, packed).map_err(storage)?;
        }
        let entries = derived_entries(&record)?;
        for (tree, map) in [
            (&fleet.idx_component, entries.components),
            (&fleet.idx_advisory, entries.advisories),
            (&fleet.idx_severity, entries.severities),
            (&fleet.idx_finding, entries.findings),
        ] {
            let mut batch = sled::Batch::default();
            for (k, v) in map {
                batch.insert(k, v);
            }
            tree.apply_batch(batch).map_err(storage)?;
        }
        // An image's trend starts on the day it was last evaluated.
        if !fleet.image_trend.contains_key(&k).map_err(storage)? {
            let trend = trend_after(&[], &record, &record.scanned_at);
            fleet
                .image_trend
                .insert(&k, to_json(&trend)?)
                .map_err(storage)?;
        }
    }
    if from < 2 {
        fleet.db.drop_tree("idx_image_devices").map_err(storage)?;
    }

    fleet.meta.remove("migrating").map_err(storage)?;
    fleet.db.flush().map_err(storage)?;
    fleet.migrated_from = Some(from);
    Ok(())
}
