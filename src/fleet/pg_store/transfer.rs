//! Loading a copied fleet (`fleet migrate`, `fleet import-store`) into
//! PostgreSQL: records as they are, every derived row written anew, the
//! sequences moved past the numbers the copy brings.

use super::{PgStore, devices, images, queue, records, retrying};
use crate::fleet::transfer::Item;

pub(super) async fn load(store: &PgStore, items: Vec<Item>) -> Result<(), String> {
    let mut batch = Vec::new();
    for item in items {
        match item {
            Item::Device { device } => batch.push(device),
            other => {
                if !batch.is_empty() {
                    devices::upsert(store, &std::mem::take(&mut batch), None).await?;
                }
                load_one(store, &other).await?;
            }
        }
    }
    if !batch.is_empty() {
        devices::upsert(store, &batch, None).await?;
    }
    retrying!(store, c => {
        c.batch_execute(
            "SELECT setval(pg_get_serial_sequence('audit', 'seq'), greatest(1, (SELECT max(seq) FROM audit))); \
             SELECT setval(pg_get_serial_sequence('deliveries', 'seq'), greatest(1, (SELECT max(seq) FROM deliveries))); \
             SELECT nextval('fleet_generation')",
        )
        .await?;
        Ok(())
    })
}

async fn load_one(store: &PgStore, item: &Item) -> Result<(), String> {
    retrying!(store, c => {
        match item {
            Item::Image { sha, record, trend } => {
                let tx = c.transaction().await?;
                images::load_image(&tx, sha, record, trend).await?;
                tx.commit().await?;
            }
            Item::Device { device } => {
                return devices::upsert(store, std::slice::from_ref(device), None)
                    .await
                    .map_err(super::E::Msg);
            }
            Item::History { device, entries } => {
                let tx = c.transaction().await?;
                for seen in entries {
                    tx.execute(
                        "INSERT INTO device_history (device, at, entry) VALUES ($1, $2, $3)",
                        &[device, &seen.at, &images::json(seen)?],
                    )
                    .await?;
                }
                tx.commit().await?;
            }
            Item::Decision { decision } => {
                c.execute(
                    "INSERT INTO triage (image, finding, decision) VALUES ($1, $2, $3) \
                     ON CONFLICT (image, finding) DO UPDATE SET decision = excluded.decision",
                    &[&decision.image, &decision.finding, &images::json(decision)?],
                )
                .await?;
            }
            Item::Audit { entry } => {
                let seq = entry.seq.min(i64::MAX as u64) as i64;
                c.execute(
                    "INSERT INTO audit (seq, entry) VALUES ($1, $2) ON CONFLICT (seq) DO UPDATE SET entry = excluded.entry",
                    &[&seq, &images::json(entry)?],
                )
                .await?;
            }
            Item::Key { key } => records::put(&**c, "api_keys", "id", &key.id, key).await?,
            Item::User { user } => records::put(&**c, "users", "name", &user.name, user).await?,
            Item::DeviceToken { token } => records::put_device_token(&**c, token).await?,
            Item::Hook { hook } => records::put(&**c, "hooks", "id", &hook.id, hook).await?,
            Item::Delivery { delivery } => {
                let seq = delivery.seq.min(i64::MAX as u64) as i64;
                c.execute(
                    "INSERT INTO deliveries (seq, hook, record) VALUES ($1, $2, $3) \
                     ON CONFLICT (seq) DO UPDATE SET hook = excluded.hook, record = excluded.record",
                    &[&seq, &delivery.hook, &images::json(delivery)?],
                )
                .await?;
            }
            Item::Job { job } => queue::put_job(&**c, job).await?,
        }
        Ok(())
    })
}
