//! Loading a copied fleet (`fleet migrate`, `fleet import-store`) into the
//! embedded store: records as they are, every index derived anew, and the
//! id generator moved past the sequence numbers the copy brings (audit
//! entries, deliveries), so that new entries never reuse one.

use super::{SledStore, key, lists, records, storage, to_json};
use crate::fleet::transfer::Item;

pub(super) fn load(store: &SledStore, items: Vec<Item>) -> Result<(), String> {
    let mut devices = Vec::new();
    let mut top_seq = 0u64;
    for item in items {
        match item {
            Item::Device { device } => devices.push(device),
            other => {
                // Devices go in one transaction per batch, before what follows them.
                if !devices.is_empty() {
                    lists::upsert_devices(store, &std::mem::take(&mut devices), None)?;
                }
                load_one(store, other, &mut top_seq)?;
            }
        }
    }
    if !devices.is_empty() {
        lists::upsert_devices(store, &devices, None)?;
    }
    // Past every copied sequence number (sled hands out increasing ids).
    while top_seq > 0 && store.db.generate_id().map_err(storage)? <= top_seq {}
    Ok(())
}

fn load_one(store: &SledStore, item: Item, top_seq: &mut u64) -> Result<(), String> {
    match item {
        Item::Image { sha, record, trend } => {
            let old = records::image(store, &sha)?;
            records::write_image(store, &sha, old.as_ref(), &record, &record.scanned_at, None)?;
            store
                .image_trend
                .insert(sha.as_bytes(), to_json(&trend)?)
                .map_err(storage)?;
        }
        Item::Device { device } => lists::upsert_devices(store, &[device], None)?,
        Item::History { device, entries } => {
            for seen in entries {
                let mut k = key(&[&device, &seen.at, ""]);
                k.extend_from_slice(&store.db.generate_id().map_err(storage)?.to_be_bytes());
                store
                    .device_history
                    .insert(k, to_json(&seen)?)
                    .map_err(storage)?;
            }
        }
        Item::Decision { decision } => {
            store
                .triage
                .insert(
                    key(&[&decision.image, &decision.finding]),
                    to_json(&decision)?,
                )
                .map_err(storage)?;
        }
        Item::Audit { entry } => {
            *top_seq = (*top_seq).max(entry.seq);
            store
                .audit
                .insert(entry.seq.to_be_bytes(), to_json(&entry)?)
                .map_err(storage)?;
        }
        Item::Key { key } => lists::put(&store.keys, &key.id, &key)?,
        Item::User { user } => lists::put(&store.users, &user.name, &user)?,
        Item::DeviceToken { token } => lists::put(&store.device_tokens, &token.device, &token)?,
        Item::Hook { hook } => lists::put(&store.hooks, &hook.id, &hook)?,
        Item::Delivery { delivery } => {
            *top_seq = (*top_seq).max(delivery.seq);
            let mut k = key(&[&delivery.hook, ""]);
            k.extend_from_slice(&delivery.seq.to_be_bytes());
            store
                .deliveries
                .insert(k, to_json(&delivery)?)
                .map_err(storage)?;
        }
        Item::Job { job } => lists::put(&store.jobs, &job.id, &job)?,
    }
    Ok(())
}
