//! Schema migrations, in the binary and numbered: opening the store
//! applies those the database lacks, each recorded in `fwaudit_schema`,
//! all in one transaction under an advisory lock (two processes opening a
//! new database at once migrate it once). A database some newer fwaudit
//! migrated further is refused: this binary would not keep its new tables.

use super::{E, PgStore, R};

/// The schema this binary writes.
pub const SCHEMA: u32 = 1;

/// Every migration, in order: (version, SQL).
const MIGRATIONS: &[(u32, &str)] = &[(1, include_str!("migrations/0001_initial.sql"))];

/// The advisory lock migrations hold (an arbitrary constant: "fwau").
const MIGRATION_LOCK: i64 = 0x6677_6175;

/// Brings the database to [`SCHEMA`]; returns the schema it had when it
/// had one older than this (None for a new or current database).
pub(super) async fn migrate(store: &PgStore) -> Result<Option<u32>, String> {
    let result: R<Option<u32>> = async {
        let mut client = store.client().await?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS fwaudit_schema (
                version integer PRIMARY KEY,
                applied_at timestamptz NOT NULL DEFAULT now(),
                fwaudit text NOT NULL
            )",
        )
        .await?;
        let current: Option<i32> = tx
            .query_one("SELECT max(version) FROM fwaudit_schema", &[])
            .await?
            .get(0);
        let current = current.unwrap_or(0).max(0) as u32;
        if current > SCHEMA {
            return Err(E::Msg(format!(
                "fleet database {}: schema {current} was written by a newer fwaudit (this one knows up to {SCHEMA}): upgrade fwaudit",
                store.location
            )));
        }
        for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
            tx.batch_execute(sql).await.map_err(|e| {
                E::Msg(format!(
                    "fleet database {}: migration to schema {version} failed: {}",
                    store.location,
                    super::describe(&e)
                ))
            })?;
            tx.execute(
                "INSERT INTO fwaudit_schema (version, fwaudit) VALUES ($1, $2)",
                &[&(*version as i32), &env!("CARGO_PKG_VERSION")],
            )
            .await?;
        }
        tx.commit().await?;
        Ok((current > 0 && current < SCHEMA).then_some(current))
    }
    .await;
    result.map_err(|e| match e {
        E::Msg(m) => m,
        other => format!(
            "cannot open the fleet database {}: {}",
            store.location,
            other.text()
        ),
    })
}
