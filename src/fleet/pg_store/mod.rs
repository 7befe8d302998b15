//! The fleet on PostgreSQL, for fleets that outgrow one machine: many API
//! nodes (`serve`), many scan workers (`fwaudit worker`) and the fleet
//! commands share one database. Chosen with `--database postgres://...`
//! (or `FWAUDIT_DATABASE_URL`); the same [`FleetStore`] as the embedded
//! store, the same answers (tests/postgres.rs compares them byte for byte).
//!
//! **Sync trait, async driver.** [`FleetStore`] is synchronous: the fleet
//! commands, rayon's parallel rematch and `serve`'s `spawn_blocking` calls
//! all use it from plain threads. The store owns a small tokio runtime (two
//! threads) that drives tokio-postgres connections from a deadpool pool;
//! each trait method runs its async body with [`PgStore::run`], which
//! blocks the calling thread, never an async task: called from inside a
//! multi-threaded runtime it first leaves it with `block_in_place`, from
//! inside a single-threaded one it hands the work to a scoped thread, so a
//! nested runtime can never panic. Making the trait async instead would
//! make every caller (rayon, the CLI, sled's synchronous transactions)
//! carry a runtime for a store that does not need one; the worker, which
//! is async by nature, uses the async functions ([`queue`]) directly.
//!
//! **Consistency.** Every write that touches an image (store, rematch,
//! triage) runs in one transaction holding a transaction-scoped advisory
//! lock on that image, reads the record under it, and writes the record
//! and every row derived from it ([`crate::fleet::derived`]); a rematch
//! whose record was triaged meanwhile re-evaluates on the fresh record, so
//! no triage is lost. Device writes lock device rows in id order and keep
//! per-image and per-tag counts in the same transaction. A deadlock or
//! serialization failure, or a connection lost before commit, is retried.
//!
//! Tables: see `migrations/`; migrations are applied when the store is
//! opened (one at a time across processes), and a database whose schema is
//! newer than this binary is refused.

mod devices;
mod images;
pub mod nightly;
mod queries;
pub mod queue;
mod records;
mod schema;
mod transfer;

pub use schema::SCHEMA;

use super::access::{ApiKey, AuditEntry, Delivery, DeviceToken, Hook, Job, TriageDecision, User};
use super::queries::{PatchFilter, PatchGroup, Scope, VersionReq, WhereHit};
use super::record::{Change, DayCounts, Device, FindingRow, FirmwareSeen, ImageRecord};
use super::{AdvisoryImage, FleetStore, Page};
use crate::model::Finding;
use crate::scan::ScanReport;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use std::future::Future;
use std::time::Duration;
use tokio_postgres::NoTls;
use tokio_postgres::config::SslMode;

/// Connections per process: enough for serve's concurrent requests and a
/// rematch's parallel loads on two cores.
const POOL_SIZE: usize = 16;

/// How often an operation is tried when the connection is lost or the
/// transaction lost a deadlock: with the backoff below, about 20 s, enough
/// for a database restart.
const RETRIES: u32 = 14;

/// What went wrong in an operation: the database's error, or ours.
#[derive(Debug)]
pub(crate) enum E {
    Pg(tokio_postgres::Error),
    Pool(String, bool),
    Msg(String),
}

impl From<tokio_postgres::Error> for E {
    fn from(e: tokio_postgres::Error) -> E {
        E::Pg(e)
    }
}

impl From<String> for E {
    fn from(e: String) -> E {
        E::Msg(e)
    }
}

pub(crate) type R<T> = Result<T, E>;

/// A PostgreSQL error as one line: the server's message and SQLSTATE, or
/// the client's error and its cause.
pub(crate) fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut text = format!("{} (SQLSTATE {})", db.message(), db.code().code());
        if let Some(detail) = db.detail() {
            text.push_str(": ");
            text.push_str(detail);
        }
        return text;
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

impl E {
    /// True for what trying again may cure: a lost or refused connection,
    /// a server shutting down or starting up, a deadlock, a serialization
    /// failure.
    pub(crate) fn retryable(&self) -> bool {
        match self {
            E::Pg(e) => match e.code() {
                Some(code) => {
                    let c = code.code();
                    c == "40001" || c == "40P01" || c.starts_with("08") || c.starts_with("57P")
                }
                // No server answer: the connection broke or never opened.
                None => e.is_closed() || e.as_db_error().is_none(),
            },
            E::Pool(_, retry) => *retry,
            E::Msg(_) => false,
        }
    }

    fn text(&self) -> String {
        match self {
            E::Pg(e) => describe(e),
            E::Pool(m, _) | E::Msg(m) => m.clone(),
        }
    }
}

/// The wait before try `attempt` (1, 2, ...): 50 ms doubling to 2 s.
pub(crate) fn backoff(attempt: u32) -> Duration {
    Duration::from_millis((50u64 << attempt.min(6)).min(2000))
}

/// Runs `$body` (an expression using `$client`, a pooled connection, and
/// `?`) until it succeeds or fails for good: a lost connection, deadlock
/// or serialization failure is tried again with backoff.
macro_rules! retrying {
    ($store:expr, $client:ident => $body:expr) => {{
        let mut attempt: u32 = 0;
        loop {
            let result: $crate::fleet::pg_store::R<_> = async {
                #[allow(unused_mut)]
                let mut $client = $store.client().await?;
                $body
            }
            .await;
            match result {
                Err(e) if e.retryable() && attempt < $crate::fleet::pg_store::RETRIES_PUB => {
                    attempt += 1;
                    tokio::time::sleep($crate::fleet::pg_store::backoff(attempt)).await;
                }
                other => break other.map_err(|e| $store.fail(e)),
            }
        }
    }};
}
pub(crate) use retrying;

#[doc(hidden)]
pub(crate) const RETRIES_PUB: u32 = RETRIES;

/// The open PostgreSQL store.
pub struct PgStore {
    /// Drives the connections (see the module's doc); dropped without
    /// waiting, so that dropping the store inside async code is safe.
    rt: Option<tokio::runtime::Runtime>,
    pool: Pool,
    /// `postgresql://user@host:port/db`, no password: for messages.
    location: String,
    migrated_from: Option<u32>,
}

impl Drop for PgStore {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// The environment variable naming a PEM file of CA certificates to trust
/// for the database's TLS certificate, beside the system's (a managed
/// database's own CA, for example).
pub const CA_ENV: &str = "FWAUDIT_DATABASE_CA";

/// TLS to the database: the system's CA certificates and those of
/// [`CA_ENV`], rustls with aws-lc-rs (the provider already in the tree).
fn tls_config() -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        // A system certificate rustls cannot use is skipped, as TLS clients do.
        let _ = roots.add(cert);
    }
    if let Some(path) = std::env::var_os(CA_ENV) {
        use rustls::pki_types::pem::PemObject;
        let path = std::path::PathBuf::from(path);
        let certs = rustls::pki_types::CertificateDer::pem_file_iter(&path)
            .map_err(|e| format!("{CA_ENV}={}: {e}", path.display()))?;
        for cert in certs {
            let cert = cert.map_err(|e| format!("{CA_ENV}={}: {e}", path.display()))?;
            roots
                .add(cert)
                .map_err(|e| format!("{CA_ENV}={}: {e}", path.display()))?;
        }
    }
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS to the database: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// True for a `--database` value naming PostgreSQL.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Where a configuration points, without its password.
fn location_of(config: &tokio_postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "postgresql://{}@{host}:{port}/{}",
        config.get_user().unwrap_or(""),
        config.get_dbname().unwrap_or("")
    )
}

impl PgStore {
    /// Connects to the database at `url` (a `postgres://` URL or a
    /// key=value string), applies pending migrations and refuses a schema
    /// newer than this binary's.
    pub fn open(url: &str) -> Result<PgStore, String> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| format!("--database: not a PostgreSQL URL: {e}"))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        config.application_name("fwaudit");
        let location = location_of(&config);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("fwaudit-pg")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the database runtime: {e}"))?;
        let manager_config = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = match config.get_ssl_mode() {
            SslMode::Disable => Manager::from_config(config, NoTls, manager_config),
            // `prefer` (the default) and `require`: TLS when the server
            // offers it (required with `require`), its certificate checked
            // against the system's roots and FWAUDIT_DATABASE_CA.
            _ => Manager::from_config(
                config,
                tokio_postgres_rustls::MakeRustlsConnect::new(tls_config()?),
                manager_config,
            ),
        };
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(60)))
            .create_timeout(Some(Duration::from_secs(10)))
            .build()
            .map_err(|e| format!("{location}: {e}"))?;
        let mut store = PgStore {
            rt: Some(rt),
            pool,
            location,
            migrated_from: None,
        };
        store.migrated_from = store.run(|| schema::migrate(&store))?;
        Ok(store)
    }

    /// Runs an async body to completion on the store's runtime, blocking
    /// the calling thread (see the module's doc for why this never nests
    /// runtimes). `make` builds the future where it will run.
    pub fn run<T: Send, F: Future<Output = T>>(&self, make: impl FnOnce() -> F + Send) -> T {
        let Some(rt) = self.rt.as_ref() else {
            unreachable!("the runtime lives as long as the store")
        };
        use tokio::runtime::{Handle, RuntimeFlavor};
        match Handle::try_current() {
            Err(_) => rt.block_on(make()),
            Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| rt.block_on(make()))
            }
            Ok(_) => std::thread::scope(|s| {
                match s.spawn(|| rt.block_on(make())).join() {
                    Ok(v) => v,
                    // The body panicked: let the caller see it as it would.
                    Err(p) => std::panic::resume_unwind(p),
                }
            }),
        }
    }

    /// The runtime's handle, for the worker's tasks.
    pub fn handle(&self) -> tokio::runtime::Handle {
        match self.rt.as_ref() {
            Some(rt) => rt.handle().clone(),
            None => unreachable!("the runtime lives as long as the store"),
        }
    }

    pub(crate) async fn client(&self) -> R<deadpool_postgres::Object> {
        use deadpool_postgres::PoolError;
        self.pool.get().await.map_err(|e| match e {
            PoolError::Backend(e) => E::Pg(e),
            PoolError::Timeout(_) => E::Pool(
                format!("no database connection within the time allowed ({e})"),
                true,
            ),
            other => E::Pool(other.to_string(), false),
        })
    }

    /// An error as the trait reports it: where, and what.
    pub(crate) fn fail(&self, e: E) -> String {
        match e {
            E::Msg(m) => m,
            other => format!("fleet database {}: {}", self.location, other.text()),
        }
    }

    /// Bumps the generation after a commit that changed findings or
    /// device placement (after, so that no reader caches an answer under
    /// the new number from before the change).
    pub(crate) async fn bump(&self) -> R<()> {
        let client = self.client().await?;
        client
            .execute("SELECT nextval('fleet_generation')", &[])
            .await?;
        Ok(())
    }
}

impl FleetStore for PgStore {
    fn location(&self) -> String {
        self.location.clone()
    }

    fn migrated_from(&self) -> Option<u32> {
        self.migrated_from
    }

    fn flush(&self) -> Result<(), String> {
        // Every write is committed before its call returns.
        Ok(())
    }

    fn verify(&self) -> Result<Vec<String>, String> {
        self.run(|| images::verify(self))
    }

    fn image(&self, sha: &str) -> Result<Option<ImageRecord>, String> {
        self.run(|| async { retrying!(self, c => images::image(&**c, sha).await) })
    }

    fn has_image(&self, sha: &str) -> Result<bool, String> {
        self.run(|| async {
            retrying!(self, c => {
                Ok(c.query_opt("SELECT 1 FROM images WHERE sha = $1", &[&sha]).await?.is_some())
            })
        })
    }

    fn image_ids(&self) -> Result<Vec<String>, String> {
        self.run(|| async {
            retrying!(self, c => {
                let rows = c.query("SELECT sha FROM images ORDER BY sha", &[]).await?;
                Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
            })
        })
    }

    fn image_for_version(&self, version: &str) -> Result<Option<String>, String> {
        self.run(|| async {
            retrying!(self, c => {
                let row = c
                    .query_opt("SELECT image FROM firmware_versions WHERE version = $1", &[&version])
                    .await?;
                Ok(row.map(|r| r.get::<_, String>(0)))
            })
        })
    }

    fn firmware_versions(&self, sha: &str) -> Result<Vec<String>, String> {
        self.run(|| async {
            retrying!(self, c => {
                let row = c
                    .query_opt("SELECT firmware_versions FROM images WHERE sha = $1", &[&sha])
                    .await?;
                Ok(row
                    .map(|r| r.get::<_, String>(0).lines().map(str::to_string).collect())
                    .unwrap_or_default())
            })
        })
    }

    fn store_image(
        &self,
        report: &ScanReport,
        firmware_version: Option<&str>,
        now: &str,
    ) -> Result<Change, String> {
        self.run(|| async {
            let change = retrying!(self, c => {
                let tx = c.transaction().await?;
                let change = images::store_image(&tx, report, firmware_version, now).await?;
                tx.commit().await?;
                Ok(change)
            })?;
            self.bump().await.map_err(|e| self.fail(e))?;
            Ok(change)
        })
    }

    fn replace_findings(
        &self,
        sha: &str,
        old: ImageRecord,
        findings: &[Finding],
        now: &str,
    ) -> Result<Change, String> {
        let mut out =
            self.replace_findings_batch(vec![(sha.to_string(), old, findings.to_vec())], now)?;
        Ok(out.pop().map(|(_, change, _)| change).unwrap_or_default())
    }

    fn replace_findings_batch(
        &self,
        batch: Vec<(String, ImageRecord, Vec<Finding>)>,
        now: &str,
    ) -> Result<Vec<(String, Change, usize)>, String> {
        self.run(|| async {
            let changes = retrying!(self, c => {
                let tx = c.transaction().await?;
                let changes = images::replace_batch(&tx, &batch, now).await?;
                tx.commit().await?;
                Ok(changes)
            })?;
            self.bump().await.map_err(|e| self.fail(e))?;
            let shas: Vec<&str> = changes.iter().map(|(s, _)| s.as_str()).collect();
            let counts = retrying!(self, c => devices::counts(&**c, &shas).await)?;
            Ok(changes
                .into_iter()
                .map(|(sha, change)| {
                    let n = counts.get(&sha).copied().unwrap_or(0);
                    (sha, change, n)
                })
                .collect())
        })
    }

    fn image_trends(&self) -> Result<Vec<(String, Vec<DayCounts>)>, String> {
        self.run(|| async { retrying!(self, c => records::image_trends(&**c).await) })
    }

    fn device(&self, id: &str) -> Result<Option<Device>, String> {
        self.run(|| async { retrying!(self, c => devices::device(&**c, id).await) })
    }

    fn upsert_devices(&self, list: &[Device]) -> Result<(), String> {
        self.run(|| devices::upsert(self, list, None))
    }

    fn devices_after(
        &self,
        after: Option<&str>,
        limit: usize,
        keep: &mut dyn FnMut(&Device) -> bool,
    ) -> Result<Vec<Device>, String> {
        devices::devices_after(self, after, limit, keep)
    }

    fn device_count(&self, sha: &str) -> Result<usize, String> {
        self.run(|| async {
            retrying!(self, c => {
                Ok(devices::counts(&**c, &[sha]).await?.get(sha).copied().unwrap_or(0))
            })
        })
    }

    fn visit_devices_on(
        &self,
        sha: &str,
        f: &mut dyn FnMut(&str, &str, &[&str]),
    ) -> Result<(), String> {
        let rows =
            self.run(|| async { retrying!(self, c => devices::on_image(&**c, sha).await) })?;
        for (id, model, tags) in &rows {
            let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
            f(id, model, &tags);
        }
        Ok(())
    }

    fn devices_on_page(
        &self,
        sha: &str,
        after: Option<&str>,
        limit: usize,
        keep: &dyn Fn(&[String]) -> bool,
    ) -> Result<Vec<(String, crate::fleet::DeviceTag)>, String> {
        devices::page_on_image(self, sha, after, limit, keep)
    }

    fn tag_images(&self, tag: &str) -> Result<Vec<(String, u64)>, String> {
        self.run(|| async {
            retrying!(self, c => {
                let rows = c
                    .query("SELECT image, n FROM tag_counts WHERE tag = $1 ORDER BY image", &[&tag])
                    .await?;
                Ok(rows
                    .iter()
                    .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1).max(0) as u64))
                    .collect())
            })
        })
    }

    fn check_in(&self, device: &Device, seen: Option<&FirmwareSeen>) -> Result<(), String> {
        self.run(|| devices::upsert(self, std::slice::from_ref(device), seen))
    }

    fn firmware_history(&self, id: &str) -> Result<Vec<FirmwareSeen>, String> {
        self.run(|| async { retrying!(self, c => devices::history(&**c, id).await) })
    }

    fn needs_patch(&self, filter: &PatchFilter) -> Result<Vec<PatchGroup>, String> {
        self.run(|| async { retrying!(self, c => queries::needs_patch(&**c, filter).await) })
    }

    fn where_component(
        &self,
        name: &str,
        requirement: Option<&VersionReq>,
        scope: &Scope,
        count_only: bool,
    ) -> Result<Vec<WhereHit>, String> {
        self.run(|| async {
            retrying!(self, c => {
                queries::where_component(&**c, name, requirement, scope, count_only).await
            })
        })
    }

    fn advisory_images(&self, id: &str) -> Result<Vec<AdvisoryImage>, String> {
        self.run(|| async { retrying!(self, c => queries::advisory_images(&**c, id).await) })
    }

    fn findings(
        &self,
        image: Option<&str>,
        page: &Page,
        keep: &mut dyn FnMut(&FindingRow) -> bool,
    ) -> Result<Vec<FindingRow>, String> {
        queries::findings(self, image, page, keep)
    }

    fn triage(&self, decision: &TriageDecision) -> Result<AuditEntry, String> {
        self.run(|| async {
            let entry = retrying!(self, c => {
                let tx = c.transaction().await?;
                let entry = images::triage(&tx, decision).await?;
                tx.commit().await?;
                Ok(entry)
            })?;
            self.bump().await.map_err(|e| self.fail(e))?;
            Ok(entry)
        })
    }

    fn decisions(&self, image: &str) -> Result<Vec<TriageDecision>, String> {
        self.run(|| async { retrying!(self, c => images::decisions(&**c, image).await) })
    }

    fn audit_log(&self, after: Option<u64>, limit: usize) -> Result<Vec<AuditEntry>, String> {
        self.run(|| async { retrying!(self, c => records::audit_log(&**c, after, limit).await) })
    }

    fn put_key(&self, key: &ApiKey) -> Result<(), String> {
        self.run(|| async {
            retrying!(self, c => records::put(&**c, "api_keys", "id", &key.id, key).await)
        })
    }

    fn key(&self, id: &str) -> Result<Option<ApiKey>, String> {
        self.run(|| async {
            retrying!(self, c => records::get(&**c, "api_keys", "id", id, "key").await)
        })
    }

    fn keys(&self) -> Result<Vec<ApiKey>, String> {
        self.run(|| async {
            retrying!(self, c => records::all(&**c, "api_keys", "id", "key").await)
        })
    }

    fn put_user(&self, user: &User) -> Result<(), String> {
        self.run(|| async {
            retrying!(self, c => records::put(&**c, "users", "name", &user.name, user).await)
        })
    }

    fn user(&self, name: &str) -> Result<Option<User>, String> {
        self.run(|| async {
            retrying!(self, c => records::get(&**c, "users", "name", name, "user").await)
        })
    }

    fn put_device_token(&self, token: &DeviceToken) -> Result<(), String> {
        self.run(|| async { retrying!(self, c => records::put_device_token(&**c, token).await) })
    }

    fn device_token(&self, device: &str) -> Result<Option<DeviceToken>, String> {
        self.run(|| async {
            retrying!(self, c => records::get(&**c, "device_tokens", "device", device, "device token").await)
        })
    }

    fn device_token_hashes(&self) -> Result<Vec<String>, String> {
        self.run(|| async {
            retrying!(self, c => {
                let rows = c.query("SELECT hash FROM device_tokens ORDER BY device", &[]).await?;
                Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
            })
        })
    }

    fn put_hook(&self, hook: &Hook) -> Result<(), String> {
        self.run(|| async {
            retrying!(self, c => records::put(&**c, "hooks", "id", &hook.id, hook).await)
        })
    }

    fn hooks(&self) -> Result<Vec<Hook>, String> {
        self.run(|| async {
            retrying!(self, c => records::all(&**c, "hooks", "id", "webhook").await)
        })
    }

    fn remove_hook(&self, id: &str) -> Result<bool, String> {
        self.run(|| async {
            retrying!(self, c => Ok(c.execute("DELETE FROM hooks WHERE id = $1", &[&id]).await? > 0))
        })
    }

    fn log_delivery(&self, delivery: &Delivery) -> Result<u64, String> {
        self.run(|| async { retrying!(self, c => records::log_delivery(&**c, delivery).await) })
    }

    fn deliveries(&self, hook: &str, limit: usize) -> Result<Vec<Delivery>, String> {
        self.run(|| async { retrying!(self, c => records::deliveries(&**c, hook, limit).await) })
    }

    fn put_job(&self, job: &Job) -> Result<(), String> {
        self.run(|| async { retrying!(self, c => queue::put_job(&**c, job).await) })
    }

    fn job(&self, id: &str) -> Result<Option<Job>, String> {
        self.run(|| async { retrying!(self, c => queue::job(&**c, id).await) })
    }

    fn jobs(&self, limit: usize) -> Result<Vec<Job>, String> {
        self.run(|| async { retrying!(self, c => queue::jobs(&**c, limit).await) })
    }

    fn generation(&self) -> Result<Option<u64>, String> {
        self.run(|| async {
            retrying!(self, c => {
                let row = c.query_one("SELECT last_value, is_called FROM fleet_generation", &[]).await?;
                let (v, called): (i64, bool) = (row.get(0), row.get(1));
                Ok(Some(if called { v.max(0) as u64 } else { 0 }))
            })
        })
    }

    fn shared_queue(&self) -> bool {
        true
    }

    fn users(&self) -> Result<Vec<User>, String> {
        self.run(|| async {
            retrying!(self, c => records::all(&**c, "users", "name", "user").await)
        })
    }

    fn device_tokens(&self) -> Result<Vec<DeviceToken>, String> {
        self.run(|| async {
            retrying!(self, c => records::all(&**c, "device_tokens", "device", "device token").await)
        })
    }

    fn is_empty(&self) -> Result<bool, String> {
        self.run(|| async {
            retrying!(self, c => {
                let row = c
                    .query_one(
                        "SELECT NOT EXISTS (SELECT 1 FROM images) AND NOT EXISTS (SELECT 1 FROM devices) \
                         AND NOT EXISTS (SELECT 1 FROM api_keys) AND NOT EXISTS (SELECT 1 FROM users) \
                         AND NOT EXISTS (SELECT 1 FROM hooks) AND NOT EXISTS (SELECT 1 FROM jobs)",
                        &[],
                    )
                    .await?;
                Ok(row.get::<_, bool>(0))
            })
        })
    }

    fn load(&self, items: Vec<crate::fleet::transfer::Item>) -> Result<(), String> {
        self.run(|| transfer::load(self, items))
    }
}
