//! Devices: records, the per-image and per-tag counts kept with them,
//! firmware history, and pages of devices in id order.

use super::{E, PgStore, R, retrying};
use crate::fleet::record::{Device, DeviceTag, FirmwareSeen};
use std::collections::{BTreeMap, HashMap};
use tokio_postgres::GenericClient;

const COLUMNS: &str = "id, model, tags, firmware, image, last_seen, facts";

fn device_of(row: &tokio_postgres::Row) -> R<Device> {
    let facts: Option<String> = row.get(6);
    let id: String = row.get(0);
    Ok(Device {
        facts: match facts {
            Some(text) => serde_json::from_str(&text)
                .map_err(|e| E::Msg(format!("fleet store: corrupt facts of device {id}: {e}")))?,
            None => BTreeMap::new(),
        },
        id,
        model: row.get(1),
        tags: row.get(2),
        firmware: row.get(3),
        image: row.get(4),
        last_seen: row.get(5),
    })
}

pub(super) async fn device(c: &impl GenericClient, id: &str) -> R<Option<Device>> {
    match c
        .query_opt(
            &format!("SELECT {COLUMNS} FROM devices WHERE id = $1"),
            &[&id],
        )
        .await?
    {
        Some(row) => device_of(&row).map(Some),
        None => Ok(None),
    }
}

/// Where a device sits for the counts: its image, model and tags.
type Place = (Option<String>, String, Vec<String>);

/// Inserts or replaces devices in one transaction (rows locked in id
/// order), moving each between the per-image and per-tag counts when its
/// image, model or tags change; `seen` appends to the (single) device's
/// firmware history. Bumps the generation when a device moved.
pub(super) async fn upsert(
    store: &PgStore,
    list: &[Device],
    seen: Option<&FirmwareSeen>,
) -> Result<(), String> {
    if list.is_empty() {
        return Ok(());
    }
    let mut ids: Vec<&str> = list.iter().map(|d| d.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let history = match (seen, list.first()) {
        (Some(s), Some(d)) => Some((
            d.id.clone(),
            s.at.clone(),
            serde_json::to_string(s).map_err(|e| e.to_string())?,
        )),
        _ => None,
    };
    let moved = retrying!(store, c => {
        let tx = c.transaction().await?;
        let mut place: HashMap<String, Place> = HashMap::new();
        for row in tx
            .query(
                "SELECT id, image, model, tags FROM devices WHERE id = ANY($1) ORDER BY id FOR UPDATE",
                &[&ids],
            )
            .await?
        {
            place.insert(row.get(0), (row.get(1), row.get(2), row.get(3)));
        }
        // Replayed in the list's order, as one device after another.
        let mut images: BTreeMap<String, i64> = BTreeMap::new();
        let mut tags: BTreeMap<(String, String), i64> = BTreeMap::new();
        let mut last: BTreeMap<&str, &Device> = BTreeMap::new();
        let mut moved = false;
        for d in list {
            let now: Place = (d.image.clone(), d.model.clone(), d.tags.clone());
            let old = place.insert(d.id.clone(), now.clone());
            last.insert(&d.id, d);
            if old.as_ref() == Some(&now) {
                continue;
            }
            moved = true;
            if let Some((Some(sha), _, old_tags)) = &old {
                *images.entry(sha.clone()).or_default() -= 1;
                for t in old_tags {
                    *tags.entry((t.clone(), sha.clone())).or_default() -= 1;
                }
            }
            if let Some(sha) = &d.image {
                *images.entry(sha.clone()).or_default() += 1;
                for t in &d.tags {
                    *tags.entry((t.clone(), sha.clone())).or_default() += 1;
                }
            }
        }
        let devices: Vec<&Device> = last.into_values().collect();
        let mut facts = Vec::with_capacity(devices.len());
        let mut tag_lists = Vec::with_capacity(devices.len());
        for d in &devices {
            facts.push(if d.facts.is_empty() {
                None
            } else {
                Some(serde_json::to_string(&d.facts).map_err(|e| E::Msg(e.to_string()))?)
            });
            tag_lists.push(serde_json::to_string(&d.tags).map_err(|e| E::Msg(e.to_string()))?);
        }
        let col = |f: fn(&Device) -> &str| -> Vec<&str> { devices.iter().map(|d| f(d)).collect() };
        let image_col: Vec<Option<&str>> = devices.iter().map(|d| d.image.as_deref()).collect();
        tx.execute(
            "INSERT INTO devices (id, model, tags, firmware, image, last_seen, facts) \
             SELECT u.id, u.model, ARRAY(SELECT jsonb_array_elements_text(u.tags::jsonb)), \
               u.firmware, u.image, u.last_seen, u.facts \
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) \
               AS u(id, model, tags, firmware, image, last_seen, facts) \
             ON CONFLICT (id) DO UPDATE SET model = excluded.model, tags = excluded.tags, \
               firmware = excluded.firmware, image = excluded.image, last_seen = excluded.last_seen, \
               facts = excluded.facts",
            &[
                &col(|d| &d.id),
                &col(|d| &d.model),
                &tag_lists,
                &col(|d| &d.firmware),
                &image_col,
                &col(|d| &d.last_seen),
                &facts,
            ],
        )
        .await?;
        images.retain(|_, n| *n != 0);
        tags.retain(|_, n| *n != 0);
        if !images.is_empty() {
            let (shas, deltas): (Vec<String>, Vec<i64>) = images.into_iter().unzip();
            tx.execute(
                "INSERT INTO image_counts (image, n) SELECT * FROM unnest($1::text[], $2::bigint[]) \
                 ON CONFLICT (image) DO UPDATE SET n = image_counts.n + excluded.n",
                &[&shas, &deltas],
            )
            .await?;
            tx.execute(
                "DELETE FROM image_counts WHERE image = ANY($1) AND n <= 0",
                &[&shas],
            )
            .await?;
        }
        if !tags.is_empty() {
            let mut t = Vec::new();
            let mut s = Vec::new();
            let mut n = Vec::new();
            for ((tag, sha), delta) in tags {
                t.push(tag);
                s.push(sha);
                n.push(delta);
            }
            tx.execute(
                "INSERT INTO tag_counts (tag, image, n) SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]) \
                 ON CONFLICT (tag, image) DO UPDATE SET n = tag_counts.n + excluded.n",
                &[&t, &s, &n],
            )
            .await?;
            tx.execute(
                "DELETE FROM tag_counts t USING unnest($1::text[], $2::text[]) AS d(tag, image) \
                 WHERE t.tag = d.tag AND t.image = d.image AND t.n <= 0",
                &[&t, &s],
            )
            .await?;
        }
        if let Some((device, at, entry)) = &history {
            tx.execute(
                "INSERT INTO device_history (device, at, entry) VALUES ($1, $2, $3)",
                &[device, at, entry],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(moved)
    })?;
    if moved {
        retrying!(store, c => {
            c.execute("SELECT nextval('fleet_generation')", &[]).await?;
            Ok(())
        })?;
    }
    Ok(())
}

/// Devices per image, from the counts.
pub(super) async fn counts(c: &impl GenericClient, shas: &[&str]) -> R<HashMap<String, usize>> {
    let rows = c
        .query(
            "SELECT image, n FROM image_counts WHERE image = ANY($1)",
            &[&shas],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1).max(0) as usize))
        .collect())
}

/// Devices on one image: id, model, tags.
pub(super) async fn on_image(
    c: &impl GenericClient,
    sha: &str,
) -> R<Vec<(String, String, Vec<String>)>> {
    let rows = c
        .query(
            "SELECT id, model, tags FROM devices WHERE image = $1",
            &[&sha],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}

pub(super) async fn history(c: &impl GenericClient, id: &str) -> R<Vec<FirmwareSeen>> {
    let rows = c
        .query(
            "SELECT entry FROM device_history WHERE device = $1 ORDER BY at, seq",
            &[&id],
        )
        .await?;
    rows.iter()
        .map(|r| {
            serde_json::from_str(r.get(0)).map_err(|e| {
                E::Msg(format!(
                    "fleet store: corrupt firmware history entry of {id}: {e}"
                ))
            })
        })
        .collect()
}

/// Rows read per step while a page of devices fills.
const CHUNK: i64 = 1000;

/// Devices in id order after `after`, those `keep` passes, at most `limit`.
pub(super) fn devices_after(
    store: &PgStore,
    after: Option<&str>,
    limit: usize,
    keep: &mut dyn FnMut(&Device) -> bool,
) -> Result<Vec<Device>, String> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = after.map(str::to_string);
    while out.len() < limit {
        let chunk: Vec<Device> = store.run(|| async {
            retrying!(store, c => {
                let rows = match &cursor {
                    Some(a) => {
                        c.query(
                            &format!("SELECT {COLUMNS} FROM devices WHERE id > $1 ORDER BY id LIMIT $2"),
                            &[a, &CHUNK],
                        )
                        .await?
                    }
                    None => {
                        c.query(
                            &format!("SELECT {COLUMNS} FROM devices ORDER BY id LIMIT $1"),
                            &[&CHUNK],
                        )
                        .await?
                    }
                };
                rows.iter().map(device_of).collect::<R<Vec<_>>>()
            })
        })?;
        let done = (chunk.len() as i64) < CHUNK;
        for d in chunk {
            if out.len() >= limit {
                return Ok(out);
            }
            cursor = Some(d.id.clone());
            if keep(&d) {
                out.push(d);
            }
        }
        if done {
            break;
        }
    }
    Ok(out)
}

/// A keyset page of the devices on one image (the `devices_image` index,
/// read in chunks until `limit` pass `keep`).
pub(super) fn page_on_image(
    store: &PgStore,
    sha: &str,
    after: Option<&str>,
    limit: usize,
    keep: &dyn Fn(&[String]) -> bool,
) -> Result<Vec<(String, DeviceTag)>, String> {
    let mut out = Vec::new();
    let mut cursor = after.unwrap_or("").to_string();
    let chunk = (limit.saturating_add(1)).clamp(16, CHUNK as usize) as i64;
    while out.len() < limit {
        let rows: Vec<(String, String, Vec<String>)> = store.run(|| async {
            retrying!(store, c => {
                let rows = c
                    .query(
                        "SELECT id, model, tags FROM devices WHERE image = $1 AND id > $2 ORDER BY id LIMIT $3",
                        &[&sha, &cursor, &chunk],
                    )
                    .await?;
                Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect())
            })
        })?;
        let done = (rows.len() as i64) < chunk;
        for (id, model, tags) in rows {
            cursor = id.clone();
            if keep(&tags) {
                out.push((id, DeviceTag { model, tags }));
                if out.len() >= limit {
                    break;
                }
            }
        }
        if done {
            break;
        }
    }
    Ok(out)
}
