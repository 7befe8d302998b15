//! Which store a command works on: `--database URL` (else the
//! `FWAUDIT_DATABASE_URL` environment variable) names a PostgreSQL
//! database; without either, the embedded sled store under the data
//! directory. Everything else goes through [`FleetStore`].

use super::{FleetError, FleetStore, PgStore, SledStore};
use std::path::Path;
use std::sync::Arc;

/// The environment variable naming the fleet database.
pub const DATABASE_ENV: &str = "FWAUDIT_DATABASE_URL";

/// The database a command was given: the flag, else the environment.
pub fn database_url(flag: Option<String>) -> Option<String> {
    flag.or_else(|| std::env::var(DATABASE_ENV).ok())
        .filter(|u| !u.trim().is_empty())
}

/// An open store of either kind.
pub enum Store {
    Sled(SledStore),
    Postgres(PgStore),
}

impl std::ops::Deref for Store {
    type Target = dyn FleetStore;

    fn deref(&self) -> &Self::Target {
        match self {
            Store::Sled(s) => s,
            Store::Postgres(p) => p,
        }
    }
}

/// Opens the store `database` names (None: the embedded one under
/// `data_dir`). `read_only` opens the embedded store without its
/// background flusher (see [`SledStore::open_to_read`]).
pub fn open(database: Option<&str>, data_dir: &Path, read_only: bool) -> Result<Store, FleetError> {
    match database {
        Some(url) if super::pg_store::is_postgres_url(url) || url.contains("host=") => {
            PgStore::open(url)
                .map(Store::Postgres)
                .map_err(FleetError::Store)
        }
        Some(other) => Err(FleetError::Store(format!(
            "--database {:?}: not a postgres:// URL (the embedded store needs no --database; it lives under --data-dir)",
            other.split('@').next_back().unwrap_or(other)
        ))),
        None if read_only => SledStore::open_to_read(data_dir).map(Store::Sled),
        None => SledStore::open(data_dir).map(Store::Sled),
    }
}

impl Store {
    /// Finishes with the store: the embedded one is closed (after writes,
    /// so that the next open is fast) or left (after reads only).
    pub fn close(self, wrote: bool) -> Result<(), String> {
        match self {
            Store::Sled(s) if wrote || s.migrated_from.is_some() => s.close(),
            Store::Sled(s) => s.leave(),
            Store::Postgres(_) => Ok(()),
        }
    }

    /// The store shared between threads (serve).
    pub fn shared(self) -> Arc<dyn FleetStore> {
        match self {
            Store::Sled(s) => Arc::new(s),
            Store::Postgres(p) => Arc::new(p),
        }
    }

    /// The schema this binary writes for the store's kind.
    pub fn schema(&self) -> u32 {
        match self {
            Store::Sled(_) => super::sled_store::SCHEMA,
            Store::Postgres(_) => super::pg_store::SCHEMA,
        }
    }
}
