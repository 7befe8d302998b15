//! Devices (records, per-image tables, per-tag counts, firmware history)
//! and the service's plain records (keys, users, tokens, hooks, jobs).

use super::buckets::{self, Member};
use super::{SledStore, TxResult, abort, from_json, key, storage, to_json, tx_error};
use crate::fleet::record::{Device, FirmwareSeen};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sled::Transactional;
use sled::Tree;
use sled::transaction::TransactionalTree;

/// Adds `delta` to the count of devices with `tag` on image `sha`.
fn bump_tag(tree: &TransactionalTree, tag: &str, sha: &str, delta: i64) -> TxResult<()> {
    let k = key(&[tag, sha]);
    let now = match tree.get(&k)? {
        Some(v) => match <[u8; 8]>::try_from(v.as_ref()) {
            Ok(b) => u64::from_be_bytes(b),
            Err(_) => return abort("fleet store: corrupt tag count".into()),
        },
        None => 0,
    };
    let next = now.saturating_add_signed(delta);
    if next == 0 {
        tree.remove(k)?;
    } else {
        tree.insert(k, &next.to_be_bytes())?;
    }
    Ok(())
}

/// Inserts or replaces devices in one transaction, moving each between
/// images' device tables and tag counts (untouched when its image, model
/// and tags stay the same, as on most check-ins); `seen` appends to the
/// (single) device's firmware history.
pub(super) fn upsert_devices(
    store: &SledStore,
    list: &[Device],
    seen: Option<&FirmwareSeen>,
) -> Result<(), String> {
    let encoded = list
        .iter()
        .map(|d| to_json(d).map(|bytes| (d, bytes)))
        .collect::<Result<Vec<_>, String>>()?;
    // Keyed by time, then a sequence number: two check-ins in one second
    // are two entries, in order.
    let history = match (seen, list.first()) {
        (Some(s), Some(d)) => {
            let mut k = key(&[&d.id, &s.at, ""]);
            k.extend_from_slice(&store.db.generate_id().map_err(storage)?.to_be_bytes());
            Some((k, to_json(s)?))
        }
        _ => None,
    };
    (
        &store.devices,
        &store.image_devices,
        &store.idx_tag,
        &store.device_history,
    )
        .transaction(|(devices, tables, tags, hist)| {
            for (device, bytes) in &encoded {
                let old: Option<Device> = match devices.get(device.id.as_bytes())? {
                    Some(old) => match from_json("device", &old) {
                        Ok(d) => Some(d),
                        Err(e) => return abort(e),
                    },
                    None => None,
                };
                devices.insert(device.id.as_bytes(), bytes.as_slice())?;
                let same_place = old.as_ref().is_some_and(|o| {
                    o.image == device.image && o.model == device.model && o.tags == device.tags
                });
                if same_place {
                    continue;
                }
                if let Some(old) = &old
                    && let Some(sha) = &old.image
                {
                    buckets::remove(tables, sha, &old.id)?;
                    for t in &old.tags {
                        bump_tag(tags, t, sha, -1)?;
                    }
                }
                if let Some(sha) = &device.image {
                    buckets::insert(
                        tables,
                        sha,
                        Member {
                            id: device.id.clone(),
                            model: device.model.clone(),
                            tags: device.tags.clone(),
                        },
                    )?;
                    for t in &device.tags {
                        bump_tag(tags, t, sha, 1)?;
                    }
                }
            }
            if let Some((k, v)) = &history {
                hist.insert(k.as_slice(), v.as_slice())?;
            }
            Ok(())
        })
        .map_err(tx_error)
}

/// Devices in id order after `after`, those `keep` passes, at most `limit`.
pub(super) fn devices_after(
    store: &SledStore,
    after: Option<&str>,
    limit: usize,
    keep: &mut dyn FnMut(&Device) -> bool,
) -> Result<Vec<Device>, String> {
    let mut out = Vec::new();
    let range = match after {
        Some(a) => store.devices.range::<&[u8], _>((
            std::ops::Bound::Excluded(a.as_bytes()),
            std::ops::Bound::Unbounded,
        )),
        None => store.devices.iter(),
    };
    for item in range {
        if out.len() >= limit {
            break;
        }
        let (_, v) = item.map_err(storage)?;
        let d: Device = from_json("device", &v)?;
        if keep(&d) {
            out.push(d);
        }
    }
    Ok(out)
}

pub(super) fn tag_images(store: &SledStore, tag: &str) -> Result<Vec<(String, u64)>, String> {
    let prefix = key(&[tag, ""]);
    let mut out = Vec::new();
    for item in store.idx_tag.scan_prefix(&prefix) {
        let (k, v) = item.map_err(storage)?;
        let sha = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
        let n = <[u8; 8]>::try_from(v.as_ref())
            .map(u64::from_be_bytes)
            .map_err(|_| "fleet store: corrupt tag count".to_string())?;
        out.push((sha, n));
    }
    Ok(out)
}

pub(super) fn firmware_history(store: &SledStore, id: &str) -> Result<Vec<FirmwareSeen>, String> {
    let mut out = Vec::new();
    for item in store.device_history.scan_prefix(key(&[id, ""])) {
        let (_, v) = item.map_err(storage)?;
        out.push(from_json("firmware history entry", &v)?);
    }
    Ok(out)
}

pub(super) fn put<T: Serialize>(tree: &Tree, id: &str, value: &T) -> Result<(), String> {
    tree.insert(id.as_bytes(), to_json(value)?)
        .map(|_| ())
        .map_err(storage)
}

pub(super) fn get<T: DeserializeOwned>(
    tree: &Tree,
    what: &str,
    id: &str,
) -> Result<Option<T>, String> {
    match tree.get(id.as_bytes()).map_err(storage)? {
        Some(v) => from_json(what, &v).map(Some),
        None => Ok(None),
    }
}

pub(super) fn all<T: DeserializeOwned>(tree: &Tree, what: &str) -> Result<Vec<T>, String> {
    let mut out = Vec::new();
    for item in tree.iter() {
        let (_, v) = item.map_err(storage)?;
        out.push(from_json(what, &v)?);
    }
    Ok(out)
}
