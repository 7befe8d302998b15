//! What every request handler shares: the store, the caller checks, the
//! job queue, the notification queue and the dashboard's cached numbers.

use super::auth::{Authority, Limiter, Sessions};
use super::overview::Overview;
use super::webhooks::{Event, RetryPolicy};
use crate::fleet::FleetStore;
use crate::fleet::queries::Scope;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// How `fwaudit serve` was started.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: std::net::SocketAddr,
    /// Certificate and key (PEM) for TLS; plain HTTP without.
    pub tls: Option<(PathBuf, PathBuf)>,
    pub data_dir: PathBuf,
    /// The fleet database (PostgreSQL URL); None: the embedded store.
    pub database: Option<String>,
    /// Requests a second per key, device or user (0: no limit).
    pub rate_limit: u32,
    /// Largest image upload, in bytes.
    pub max_upload: u64,
    pub session_lifetime: Duration,
    pub retry: RetryPolicy,
    /// How long the dashboard's numbers are reused when nothing changed.
    pub overview_ttl: Duration,
}

/// The dashboard's numbers per scope: the write generation and time they
/// were computed at.
pub type OverviewCache = Mutex<HashMap<String, (u64, Instant, Arc<Overview>)>>;

/// needs-patch answers by filter, with the write generation they were
/// computed at: the API pages through one answer instead of computing it
/// again for every page and every caller.
pub type PatchCache = Mutex<HashMap<String, (u64, Arc<Vec<crate::fleet::queries::PatchGroup>>)>>;

/// where answers (device counts only) by component, version requirement
/// and scope, kept as needs-patch answers are: until the next write.
pub type WhereCache = Mutex<HashMap<String, (u64, Arc<Vec<crate::fleet::queries::WhereHit>>)>>;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn FleetStore>,
    pub config: Arc<Config>,
    pub limiter: Arc<Limiter>,
    pub sessions: Arc<Sessions>,
    /// Hashes of every device token, to tell "another device's token"
    /// (403) from "no token at all" (401).
    pub device_tokens: Arc<RwLock<HashSet<String>>>,
    /// Job ids for the worker thread.
    pub jobs: std::sync::mpsc::Sender<String>,
    /// Events for the notifier task.
    pub events: tokio::sync::mpsc::UnboundedSender<Vec<Event>>,
    /// Bumped by every write that changes findings or device placement.
    pub generation: Arc<AtomicU64>,
    pub overview_cache: Arc<OverviewCache>,
    pub patch_cache: Arc<PatchCache>,
    pub where_cache: Arc<WhereCache>,
}

impl Authority for AppState {
    fn store(&self) -> &dyn FleetStore {
        self.store.as_ref()
    }

    fn limiter(&self) -> &Limiter {
        &self.limiter
    }

    fn device_tokens(&self) -> &RwLock<HashSet<String>> {
        &self.device_tokens
    }
}

impl AppState {
    /// Something the dashboard counts has changed.
    pub fn changed(&self) {
        self.generation.fetch_add(1, Ordering::Relaxed);
    }

    /// The write generation cached answers are kept under: this process's
    /// own writes, plus the store's count of everyone's (a shared store),
    /// read before the answer is computed.
    pub fn generation(&self) -> Result<u64, String> {
        let own = self.generation.load(Ordering::Relaxed);
        Ok(own.wrapping_add(self.store.generation()?.unwrap_or(0)))
    }

    /// Queues events for the webhooks.
    pub fn notify(&self, events: Vec<Event>) {
        if !events.is_empty() {
            let _ = self.events.send(events);
        }
    }

    /// needs-patch for `filter` (counts only), reused while nothing changed.
    pub fn needs_patch(
        &self,
        filter: &crate::fleet::queries::PatchFilter,
    ) -> Result<Arc<Vec<crate::fleet::queries::PatchGroup>>, String> {
        let key = format!("{filter:?}");
        let generation = self.generation()?;
        if let Ok(cache) = self.patch_cache.lock()
            && let Some((g, groups)) = cache.get(&key)
            && *g == generation
        {
            return Ok(groups.clone());
        }
        let fresh = Arc::new(self.store.needs_patch(filter)?);
        if let Ok(mut cache) = self.patch_cache.lock() {
            // A bounded cache: old generations and rare filters go.
            cache.retain(|_, (g, _)| *g == generation);
            if cache.len() >= 256 {
                cache.clear();
            }
            cache.insert(key, (generation, fresh.clone()));
        }
        Ok(fresh)
    }

    /// Where `name` (within `requirement`) is shipped, with device counts
    /// in `scope`, reused while nothing changed: every write that adds an
    /// image, moves a device or changes findings bumps the generation.
    pub fn where_component(
        &self,
        name: &str,
        requirement: Option<&crate::fleet::queries::VersionReq>,
        scope: &Scope,
    ) -> Result<Arc<Vec<crate::fleet::queries::WhereHit>>, String> {
        let key = format!("{name}\0{requirement:?}\0{scope:?}");
        let generation = self.generation()?;
        if let Ok(cache) = self.where_cache.lock()
            && let Some((g, hits)) = cache.get(&key)
            && *g == generation
        {
            return Ok(hits.clone());
        }
        let fresh = Arc::new(self.store.where_component(name, requirement, scope, true)?);
        if let Ok(mut cache) = self.where_cache.lock() {
            cache.retain(|_, (g, _)| *g == generation);
            if cache.len() >= 256 {
                cache.clear();
            }
            cache.insert(key, (generation, fresh.clone()));
        }
        Ok(fresh)
    }

    /// The dashboard's numbers for `scope`, reused while nothing changed
    /// and they are younger than the configured time.
    pub fn overview(&self, scope: &Scope, today: &str) -> Result<Arc<Overview>, String> {
        let key = match scope {
            Scope::All => String::new(),
            Scope::Tags(t) => t.join("\0"),
        };
        let generation = self.generation()?;
        if let Ok(cache) = self.overview_cache.lock()
            && let Some((g, at, o)) = cache.get(&key)
            && *g == generation
            && at.elapsed() < self.config.overview_ttl
        {
            return Ok(o.clone());
        }
        let fresh = Arc::new(super::overview::compute(self.store.as_ref(), scope, today)?);
        if let Ok(mut cache) = self.overview_cache.lock() {
            cache.insert(key, (generation, Instant::now(), fresh.clone()));
        }
        Ok(fresh)
    }
}
