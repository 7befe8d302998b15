//! The service's plain records (keys, users, device tokens, webhooks and
//! their deliveries), the triage audit log and image trends: JSON in a
//! text column, keyed as the embedded store keys them.

use super::{E, R};
use crate::fleet::access::{AuditEntry, Delivery, DeviceToken};
use crate::fleet::record::DayCounts;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio_postgres::GenericClient;

fn parse<T: DeserializeOwned>(what: &str, text: &str) -> R<T> {
    serde_json::from_str(text).map_err(|e| E::Msg(format!("fleet store: corrupt {what}: {e}")))
}

/// Inserts or replaces the record of `id` in `table` (whose key column is `key`).
pub(super) async fn put<T: Serialize + Sync>(
    c: &impl GenericClient,
    table: &'static str,
    key: &'static str,
    id: &str,
    value: &T,
) -> R<()> {
    let text = super::images::json(value)?;
    c.execute(
        &format!(
            "INSERT INTO {table} ({key}, record) VALUES ($1, $2) \
             ON CONFLICT ({key}) DO UPDATE SET record = excluded.record"
        ),
        &[&id, &text],
    )
    .await?;
    Ok(())
}

pub(super) async fn get<T: DeserializeOwned>(
    c: &impl GenericClient,
    table: &'static str,
    key: &'static str,
    id: &str,
    what: &str,
) -> R<Option<T>> {
    match c
        .query_opt(
            &format!("SELECT record FROM {table} WHERE {key} = $1"),
            &[&id],
        )
        .await?
    {
        Some(row) => parse(what, row.get(0)).map(Some),
        None => Ok(None),
    }
}

/// Every record of `table`, in key order.
pub(super) async fn all<T: DeserializeOwned>(
    c: &impl GenericClient,
    table: &'static str,
    key: &'static str,
    what: &str,
) -> R<Vec<T>> {
    let rows = c
        .query(&format!("SELECT record FROM {table} ORDER BY {key}"), &[])
        .await?;
    rows.iter().map(|r| parse(what, r.get(0))).collect()
}

pub(super) async fn put_device_token(c: &impl GenericClient, token: &DeviceToken) -> R<()> {
    let text = super::images::json(token)?;
    c.execute(
        "INSERT INTO device_tokens (device, hash, record) VALUES ($1, $2, $3) \
         ON CONFLICT (device) DO UPDATE SET hash = excluded.hash, record = excluded.record",
        &[&token.device, &token.hash, &text],
    )
    .await?;
    Ok(())
}

pub(super) async fn audit_log(
    c: &impl GenericClient,
    after: Option<u64>,
    limit: usize,
) -> R<Vec<AuditEntry>> {
    let start = after
        .map_or(0, |a| a.saturating_add(1))
        .min(i64::MAX as u64) as i64;
    let limit = limit.min(i64::MAX as usize) as i64;
    let rows = c
        .query(
            "SELECT entry FROM audit WHERE seq >= $1 ORDER BY seq LIMIT $2",
            &[&start, &limit],
        )
        .await?;
    rows.iter()
        .map(|r| parse("audit entry", r.get(0)))
        .collect()
}

pub(super) async fn log_delivery(c: &impl GenericClient, delivery: &Delivery) -> R<u64> {
    let seq: i64 = c
        .query_one(
            "SELECT nextval(pg_get_serial_sequence('deliveries', 'seq'))",
            &[],
        )
        .await?
        .get(0);
    let entry = Delivery {
        seq: seq.max(0) as u64,
        ..delivery.clone()
    };
    c.execute(
        "INSERT INTO deliveries (seq, hook, record) VALUES ($1, $2, $3)",
        &[&seq, &entry.hook, &super::images::json(&entry)?],
    )
    .await?;
    Ok(entry.seq)
}

pub(super) async fn deliveries(
    c: &impl GenericClient,
    hook: &str,
    limit: usize,
) -> R<Vec<Delivery>> {
    let limit = limit.min(i64::MAX as usize) as i64;
    let rows = c
        .query(
            "SELECT record FROM deliveries WHERE hook = $1 ORDER BY seq DESC LIMIT $2",
            &[&hook, &limit],
        )
        .await?;
    rows.iter().map(|r| parse("delivery", r.get(0))).collect()
}

pub(super) async fn image_trends(c: &impl GenericClient) -> R<Vec<(String, Vec<DayCounts>)>> {
    let rows = c
        .query("SELECT sha, trend FROM images ORDER BY sha", &[])
        .await?;
    rows.iter()
        .map(|r| Ok((r.get::<_, String>(0), parse("image trend", r.get(1))?)))
        .collect()
}
