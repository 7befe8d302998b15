//! The embedded fleet store: one sled database under `DATA_DIR/fleet`.
//! Every change that touches several trees is one sled transaction, so a
//! crash leaves either the old or the new state, never a mix.
//!
//! Trees and keys (`\0` separates key parts):
//! - `images`: sha256 -> [`ImageRecord`] (zstd-compressed JSON; schema 1
//!   stored plain JSON, which is still read)
//! - `devices`: device id -> [`Device`] (JSON)
//! - `versions`: firmware version -> sha256
//! - `idx_component`: `name\0version\0sha256` -> ecosystem
//! - `idx_advisory`: `id\0sha256\0finding key` -> [`AdvisoryHit`] (compact),
//!   for every name (id and aliases) of every active vulnerable finding
//! - `idx_severity`: `severity rank (1 byte) sha256\0finding key` ->
//!   [`AdvisoryHit`] (compact), once per active vulnerable finding, so
//!   `needs-patch --min-severity S` reads only the findings at or above S
//! - `idx_finding`: `sha256\0finding key` -> [`FindingRow`] (JSON), every
//!   finding of every image in any state, so findings are listed, filtered
//!   and counted across the fleet without loading image records
//! - `idx_tag`: `tag\0sha256` -> how many devices with that tag run the
//!   image (u64 big-endian), so a tag-bound key's images are a prefix scan
//! - `image_devices`: per image, its device count and its devices (id,
//!   model, tags) packed in buckets; see [`buckets`]
//! - `image_versions`: sha256 -> firmware versions (newline-separated), so
//!   queries name an image's releases without loading its record
//! - `image_trend`: sha256 -> [`DayCounts`] list (JSON): the image's active
//!   findings by severity on each day they changed
//! - `device_history`: `device id\0time` -> [`FirmwareSeen`] (JSON)
//! - `triage`: `sha256\0finding key` -> [`TriageDecision`] (JSON)
//! - `audit`: seq (u64 big-endian) -> [`AuditEntry`] (JSON)
//! - `keys`, `users`, `device_tokens`, `hooks`, `jobs`: id -> JSON record
//! - `deliveries`: `hook id\0seq (u64 big-endian)` -> [`Delivery`] (JSON)
//! - `meta`: `schema` -> u32 (big-endian); `migrating` -> the schema a
//!   migration started from, while it runs
//!
//! Schema history: 1 had JSON image records and index values and one
//! `idx_image_devices` entry per device; 2 added `idx_severity`, packed
//! devices per image, and compressed image records; 3 (this one) adds
//! `idx_finding`, `idx_tag` and `image_trend` (and the service's trees,
//! which start empty). Opening an older store migrates it (see [`schema`]).

pub mod buckets;
mod codec;
mod lists;
mod queries;
mod records;
mod schema;
mod transfer;

pub use codec::{AdvisoryHit, HitRef, severity_rank};
pub(crate) use codec::{decode_record, encode_record};

use super::access::{ApiKey, AuditEntry, Delivery, DeviceToken, Hook, Job, TriageDecision, User};
use super::queries::{PatchFilter, PatchGroup, Scope, VersionReq, WhereHit};
use super::record::{Change, DayCounts, Device, FindingRow, FirmwareSeen, ImageRecord};
use super::{AdvisoryImage, FleetError, FleetStore, Page};
use crate::model::Finding;
use crate::scan::ScanReport;
use serde::{Deserialize, Serialize};
use sled::Tree;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use std::path::{Path, PathBuf};

/// Bumped when the layout changes; opening migrates older stores and
/// refuses newer ones.
pub const SCHEMA: u32 = 3;

/// The open sled store.
pub struct SledStore {
    db: sled::Db,
    meta: Tree,
    pub(crate) images: Tree,
    pub(crate) devices: Tree,
    pub(crate) versions: Tree,
    pub(crate) idx_component: Tree,
    pub(crate) idx_advisory: Tree,
    pub(crate) idx_severity: Tree,
    pub(crate) idx_finding: Tree,
    pub(crate) idx_tag: Tree,
    pub(crate) image_devices: Tree,
    pub(crate) image_versions: Tree,
    pub(crate) image_trend: Tree,
    pub(crate) device_history: Tree,
    pub(crate) triage: Tree,
    pub(crate) audit: Tree,
    pub(crate) keys: Tree,
    pub(crate) users: Tree,
    pub(crate) device_tokens: Tree,
    pub(crate) hooks: Tree,
    pub(crate) deliveries: Tree,
    pub(crate) jobs: Tree,
    /// The schema the store had when it was opened, if opening migrated it.
    pub migrated_from: Option<u32>,
    /// The data directory the store lives in (`data_dir/fleet`).
    data_dir: PathBuf,
    /// `data_dir/fleet.lock`, locked while the store is open (dropped last).
    _lock: std::fs::File,
}

pub(crate) type TxResult<T> = Result<T, ConflictableTransactionError<String>>;

pub(crate) fn abort<T>(message: String) -> TxResult<T> {
    Err(ConflictableTransactionError::Abort(message))
}

pub(crate) fn tx_error(e: TransactionError<String>) -> String {
    match e {
        TransactionError::Abort(m) => m,
        TransactionError::Storage(e) => format!("fleet store: {e}"),
    }
}

pub(crate) fn key(parts: &[&str]) -> Vec<u8> {
    parts.join("\0").into_bytes()
}

pub(crate) fn split_key(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes)
        .split('\0')
        .map(str::to_string)
        .collect()
}

pub(crate) fn storage(e: sled::Error) -> String {
    format!("fleet store: {e}")
}

pub(crate) fn to_json<T: Serialize>(value: &T) -> Result<Vec<u8>, String> {
    serde_json::to_vec(value).map_err(|e| e.to_string())
}

pub(crate) fn from_json<T: for<'de> Deserialize<'de>>(
    what: &str,
    bytes: &[u8],
) -> Result<T, String> {
    serde_json::from_slice(bytes).map_err(|e| format!("fleet store: corrupt {what}: {e}"))
}

/// The file `serve` writes beside the store while it holds it, so that a
/// command finding the store busy can say who holds it and where.
pub const SERVE_MARK: &str = "serve.json";

/// Who holds a busy store, when `serve` says so (its mark names a live
/// process): the end of the "busy" message.
fn busy_holder(data_dir: &Path) -> Option<String> {
    let mark = std::fs::read_to_string(data_dir.join(SERVE_MARK)).ok()?;
    let mark = serde_json::from_str::<serde_json::Value>(&mark).ok()?;
    let pid = mark["pid"].as_u64().unwrap_or(0);
    let alive = pid != 0 && Path::new(&format!("/proc/{pid}")).exists();
    alive.then(|| {
        format!(
            "`fwaudit serve` (pid {pid}) holds it: use its API at {} or stop the server first",
            mark["url"].as_str().unwrap_or("?")
        )
    })
}

/// Takes `data_dir/fleet.lock`, held as long as the store is open: sled's
/// own lock error carries its cause only in its message, so "busy" is
/// decided here, by kind. The lock file sits beside `fleet/`, so a
/// compaction's swap keeps it.
fn lock(data_dir: &Path, dir: &Path) -> Result<std::fs::File, FleetError> {
    let lock_path = data_dir.join("fleet.lock");
    let lock = std::fs::create_dir_all(data_dir)
        .and_then(|()| {
            std::fs::File::options()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&lock_path)
        })
        .map_err(|source| FleetError::Lock {
            path: lock_path.clone(),
            source,
        })?;
    match lock.try_lock() {
        Ok(()) => Ok(lock),
        Err(std::fs::TryLockError::WouldBlock) => Err(FleetError::Busy {
            dir: dir.to_path_buf(),
            holder: busy_holder(data_dir),
        }),
        Err(std::fs::TryLockError::Error(source)) => Err(FleetError::Lock {
            path: lock_path,
            source,
        }),
    }
}

/// Opens sled's database in `dir`, `fleet.lock` already held. No other
/// fwaudit can then have the store open, so sled's own lock can only be held
/// by a store this process has just closed whose background threads are
/// still winding down: dropping a `sled::Db` does not wait for its thread
/// pool, and a segment truncation there (`set_len` + `sync_all` in sled
/// 0.34's `pagecache/segment.rs`) holds a clone of the config, and with it
/// the locked file, for seconds while the disk writes back a build (the
/// reopen right after a close failed in CI). That lock is waited for, up to
/// 30 seconds, instead of failing at once. `flush_every_ms` is sled's
/// background flush period (`None`: no flusher thread).
fn open_sled(dir: &Path, flush_every_ms: Option<u64>) -> sled::Result<sled::Db> {
    wait_for_sled_lock(&dir.join("db"), SLED_LOCK_WAIT);
    sled::Config::new()
        .path(dir)
        .flush_every_ms(flush_every_ms)
        .open()
}

/// How long a just-closed store's sled threads are given to let go of its
/// `db` file (see [`open_sled`]).
const SLED_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Waits until nothing holds the `flock` sled 0.34 takes on its `db` file,
/// or until `limit` has passed. The wait is done here, by the lock's error
/// kind, because sled reports a held lock as `ErrorKind::Other` with the
/// cause only in its message (`config.rs`, `try_lock`): a retry on sled's
/// error never saw `WouldBlock` and so never retried. The probe lock is
/// released at once; what still blocks after `limit` is left for sled to
/// report.
fn wait_for_sled_lock(db: &Path, limit: std::time::Duration) {
    // No file yet (a new store): nothing can hold its lock.
    let Ok(file) = std::fs::File::open(db) else {
        return;
    };
    let start = std::time::Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => {
                let _ = file.unlock();
                return;
            }
            Err(std::fs::TryLockError::WouldBlock) if start.elapsed() < limit => {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(_) => return,
        }
    }
}

impl SledStore {
    /// Opens (or creates) the store under `data_dir/fleet`. A store another
    /// fwaudit holds open gives a "busy" error rather than a second writer.
    /// A store of an older schema is migrated (its indexes rebuilt from the
    /// primary data); one of a newer schema is refused.
    pub fn open(data_dir: &Path) -> Result<SledStore, FleetError> {
        Self::open_with(data_dir, Some(500))
    }

    /// [`SledStore::open`] for a command that only reads: sled's background
    /// flusher is not started (it would fsync the free segments sled zeroes
    /// on every open). Whatever opening writes (a migration, a first
    /// schema mark) is flushed by `flush` as usual.
    pub fn open_to_read(data_dir: &Path) -> Result<SledStore, FleetError> {
        Self::open_with(data_dir, None)
    }

    fn open_with(data_dir: &Path, flush_every_ms: Option<u64>) -> Result<SledStore, FleetError> {
        let dir = data_dir.join("fleet");
        super::timing::mark("store: opening");
        let lock = lock(data_dir, &dir)?;
        let db = open_sled(&dir, flush_every_ms)
            .map_err(|e| format!("{}: cannot open fleet store: {e}", dir.display()))?;
        super::timing::mark("store: sled open");
        // What an interrupted `fleet compact` left: a copy never swapped in,
        // or the old store after the swap. Nothing else uses it: a
        // compaction holds this store's lock until the swap.
        let _ = std::fs::remove_dir_all(data_dir.join("fleet.compact"));
        let tree = |name: &str| db.open_tree(name).map_err(storage);
        let mut fleet = SledStore {
            meta: tree("meta")?,
            images: tree("images")?,
            devices: tree("devices")?,
            versions: tree("versions")?,
            idx_component: tree("idx_component")?,
            idx_advisory: tree("idx_advisory")?,
            idx_severity: tree("idx_severity")?,
            idx_finding: tree("idx_finding")?,
            idx_tag: tree("idx_tag")?,
            image_devices: tree("image_devices")?,
            image_versions: tree("image_versions")?,
            image_trend: tree("image_trend")?,
            device_history: tree("device_history")?,
            triage: tree("triage")?,
            audit: tree("audit")?,
            keys: tree("keys")?,
            users: tree("users")?,
            device_tokens: tree("device_tokens")?,
            hooks: tree("hooks")?,
            deliveries: tree("deliveries")?,
            jobs: tree("jobs")?,
            migrated_from: None,
            data_dir: data_dir.to_path_buf(),
            db,
            _lock: lock,
        };
        schema::check(&mut fleet, &dir)?;
        super::timing::mark("store: trees open, schema checked");
        Ok(fleet)
    }

    /// Writes everything to disk (sled also does this in the background).
    pub fn flush_all(&self) -> Result<(), String> {
        self.db.flush().map(|_| ()).map_err(storage)
    }

    /// Closes a store this process has written to so that the next open is
    /// fast: sled writes its snapshot (the page table) only when it opens a
    /// store, after replaying the log written since the last one, so a big
    /// write (an import, a rematch) would make the next command pay that
    /// replay (0.6 s on the benchmark fleet). The writer pays it instead:
    /// the store is flushed, closed, opened once more and closed.
    pub fn close(self) -> Result<(), String> {
        self.flush_all()?;
        let data_dir = self.data_dir.clone();
        drop(self);
        super::timing::mark("store: closed");
        // The work is done and on disk: if another fwaudit got the store
        // first (busy), it does the replay instead, and any other problem
        // is for the next open to report, not a reason to fail this command.
        if let Ok(again) = SledStore::open_to_read(&data_dir) {
            super::timing::mark("store: reopened (snapshot written)");
            let _ = again.flush_all();
        }
        Ok(())
    }

    /// Closes a store this process only read, without sled's teardown
    /// (freeing its page table and caches, which a process about to exit
    /// need not do). Everything is flushed first; the file lock goes with
    /// the process.
    pub fn leave(self) -> Result<(), String> {
        self.flush_all()?;
        std::mem::forget(self);
        Ok(())
    }

    /// The store's size on disk, in bytes (sled's files under `fleet/`).
    pub fn size_on_disk(&self) -> Result<u64, String> {
        self.db.size_on_disk().map_err(storage)
    }

    /// Rewrites the store into a fresh directory, so that it takes only
    /// the space its data needs: sled keeps every segment that still holds
    /// a live page, so after big writes the file is several times its data
    /// and every open zeroes its free segments. The copy is written to
    /// `fleet.compact` while this store stays open (and locked), flushed,
    /// opened once (so its snapshot exists), then the two directories are
    /// swapped in one atomic `renameat2(RENAME_EXCHANGE)`: a crash leaves
    /// either the old store or the new one under `fleet`, and a leftover
    /// `fleet.compact` is removed by the next compaction.
    pub fn compact(self) -> Result<CompactSummary, String> {
        self.flush_all()?;
        let before = self.size_on_disk()?;
        let dir = self.data_dir.join("fleet");
        let copy = self.data_dir.join("fleet.compact");
        remove_dir(&copy)?;
        let mut entries = 0u64;
        {
            let new = open_sled(&copy, None).map_err(|e| format!("{}: {e}", copy.display()))?;
            for name in self.db.tree_names() {
                let from = self.db.open_tree(&name).map_err(storage)?;
                let to = new.open_tree(&name).map_err(storage)?;
                let mut batch = sled::Batch::default();
                let mut in_batch = 0;
                for item in from.iter() {
                    let (k, v) = item.map_err(storage)?;
                    batch.insert(k, v);
                    in_batch += 1;
                    entries += 1;
                    if in_batch == 4096 {
                        to.apply_batch(std::mem::take(&mut batch))
                            .map_err(storage)?;
                        in_batch = 0;
                    }
                }
                to.apply_batch(batch).map_err(storage)?;
                if to.len() != from.len() {
                    return Err(format!(
                        "fleet compact: tree {} copied incompletely",
                        String::from_utf8_lossy(&name)
                    ));
                }
            }
            new.flush().map_err(storage)?;
        }
        // Opened once more so the copy has its snapshot (a fast first open).
        // The copy just closed can still be locked by sled's I/O pool (see
        // `open_sled`): this open failed in CI while the wait could not
        // see sled's lock error.
        let after = {
            let new = open_sled(&copy, None).map_err(|e| format!("{}: {e}", copy.display()))?;
            new.flush().map_err(storage)?;
            new.size_on_disk().map_err(storage)?
        };
        exchange(&dir, &copy)?;
        // `fleet.compact` is now the old store, still open here. Another
        // fwaudit that opens the new store may remove it too. Its threads
        // are let finish first, so none writes into the directory while it
        // is removed (which would leave it behind, not empty).
        drop(self);
        wait_for_sled_lock(&copy.join("db"), SLED_LOCK_WAIT);
        let _ = std::fs::remove_dir_all(&copy);
        Ok(CompactSummary {
            entries,
            bytes_before: before,
            bytes_after: after,
        })
    }
}

/// What `fleet compact` did.
#[derive(Debug, Clone, Serialize)]
pub struct CompactSummary {
    /// Keys copied, over every tree.
    pub entries: u64,
    pub bytes_before: u64,
    pub bytes_after: u64,
}

fn remove_dir(path: &Path) -> Result<(), String> {
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(format!("{}: {e}", path.display()))
        }
        _ => Ok(()),
    }
}

/// Swaps two directories atomically (Linux `renameat2` with `RENAME_EXCHANGE`).
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> Result<(), String> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE)
        .map_err(|e| format!("cannot swap {} and {}: {e}", a.display(), b.display()))
}

#[cfg(not(target_os = "linux"))]
fn exchange(a: &Path, _b: &Path) -> Result<(), String> {
    Err(format!(
        "{}: fleet compact needs Linux (an atomic directory swap)",
        a.display()
    ))
}

impl FleetStore for SledStore {
    fn location(&self) -> String {
        self.data_dir.join("fleet").display().to_string()
    }

    fn migrated_from(&self) -> Option<u32> {
        self.migrated_from
    }

    fn flush(&self) -> Result<(), String> {
        self.flush_all()
    }

    fn verify(&self) -> Result<Vec<String>, String> {
        records::verify(self)
    }

    fn image(&self, sha: &str) -> Result<Option<ImageRecord>, String> {
        records::image(self, sha)
    }

    fn has_image(&self, sha: &str) -> Result<bool, String> {
        self.images.contains_key(sha).map_err(storage)
    }

    fn image_ids(&self) -> Result<Vec<String>, String> {
        self.images
            .iter()
            .keys()
            .map(|k| {
                k.map(|k| String::from_utf8_lossy(&k).into_owned())
                    .map_err(storage)
            })
            .collect()
    }

    fn image_for_version(&self, version: &str) -> Result<Option<String>, String> {
        Ok(self
            .versions
            .get(version)
            .map_err(storage)?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    fn firmware_versions(&self, sha: &str) -> Result<Vec<String>, String> {
        Ok(self
            .image_versions
            .get(sha)
            .map_err(storage)?
            .map(|v| {
                String::from_utf8_lossy(&v)
                    .lines()
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default())
    }

    fn store_image(
        &self,
        report: &ScanReport,
        firmware_version: Option<&str>,
        now: &str,
    ) -> Result<Change, String> {
        records::store_image(self, report, firmware_version, now)
    }

    fn replace_findings(
        &self,
        sha: &str,
        old: ImageRecord,
        findings: &[Finding],
        now: &str,
    ) -> Result<Change, String> {
        records::replace_findings(self, sha, old, findings, now)
    }

    fn image_trends(&self) -> Result<Vec<(String, Vec<DayCounts>)>, String> {
        let mut out = Vec::new();
        for item in self.image_trend.iter() {
            let (k, v) = item.map_err(storage)?;
            out.push((
                String::from_utf8_lossy(&k).into_owned(),
                from_json("image trend", &v)?,
            ));
        }
        Ok(out)
    }

    fn device(&self, id: &str) -> Result<Option<Device>, String> {
        match self.devices.get(id).map_err(storage)? {
            Some(bytes) => from_json("device", &bytes).map(Some),
            None => Ok(None),
        }
    }

    fn upsert_devices(&self, list: &[Device]) -> Result<(), String> {
        lists::upsert_devices(self, list, None)
    }

    fn devices_after(
        &self,
        after: Option<&str>,
        limit: usize,
        keep: &mut dyn FnMut(&Device) -> bool,
    ) -> Result<Vec<Device>, String> {
        lists::devices_after(self, after, limit, keep)
    }

    fn device_count(&self, sha: &str) -> Result<usize, String> {
        match self
            .image_devices
            .get(buckets::header_key(sha))
            .map_err(storage)?
        {
            Some(v) => Ok(buckets::Header::decode(&v)?.count as usize),
            None => Ok(0),
        }
    }

    fn visit_devices_on(
        &self,
        sha: &str,
        f: &mut dyn FnMut(&str, &str, &[&str]),
    ) -> Result<(), String> {
        for item in self.image_devices.scan_prefix(buckets::bucket_prefix(sha)) {
            let (_, v) = item.map_err(storage)?;
            buckets::visit_bucket(&v, &mut *f)?;
        }
        Ok(())
    }

    fn tag_images(&self, tag: &str) -> Result<Vec<(String, u64)>, String> {
        lists::tag_images(self, tag)
    }

    fn check_in(&self, device: &Device, seen: Option<&FirmwareSeen>) -> Result<(), String> {
        lists::upsert_devices(self, std::slice::from_ref(device), seen)
    }

    fn firmware_history(&self, id: &str) -> Result<Vec<FirmwareSeen>, String> {
        lists::firmware_history(self, id)
    }

    fn needs_patch(&self, filter: &PatchFilter) -> Result<Vec<PatchGroup>, String> {
        queries::needs_patch(self, filter)
    }

    fn where_component(
        &self,
        name: &str,
        requirement: Option<&VersionReq>,
        scope: &Scope,
        count_only: bool,
    ) -> Result<Vec<WhereHit>, String> {
        queries::where_component(self, name, requirement, scope, count_only)
    }

    fn advisory_images(&self, id: &str) -> Result<Vec<AdvisoryImage>, String> {
        queries::advisory_images(self, id)
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
        records::triage(self, decision)
    }

    fn decisions(&self, image: &str) -> Result<Vec<TriageDecision>, String> {
        records::decisions(self, image)
    }

    fn audit_log(&self, after: Option<u64>, limit: usize) -> Result<Vec<AuditEntry>, String> {
        let start = after.map_or(0, |a| a.saturating_add(1));
        let mut out = Vec::new();
        for item in self.audit.range(start.to_be_bytes()..).take(limit) {
            let (_, v) = item.map_err(storage)?;
            out.push(from_json("audit entry", &v)?);
        }
        Ok(out)
    }

    fn put_key(&self, key: &ApiKey) -> Result<(), String> {
        lists::put(&self.keys, &key.id, key)
    }

    fn key(&self, id: &str) -> Result<Option<ApiKey>, String> {
        lists::get(&self.keys, "key", id)
    }

    fn keys(&self) -> Result<Vec<ApiKey>, String> {
        lists::all(&self.keys, "key")
    }

    fn put_user(&self, user: &User) -> Result<(), String> {
        lists::put(&self.users, &user.name, user)
    }

    fn user(&self, name: &str) -> Result<Option<User>, String> {
        lists::get(&self.users, "user", name)
    }

    fn put_device_token(&self, token: &DeviceToken) -> Result<(), String> {
        lists::put(&self.device_tokens, &token.device, token)
    }

    fn device_token(&self, device: &str) -> Result<Option<DeviceToken>, String> {
        lists::get(&self.device_tokens, "device token", device)
    }

    fn put_hook(&self, hook: &Hook) -> Result<(), String> {
        lists::put(&self.hooks, &hook.id, hook)
    }

    fn hooks(&self) -> Result<Vec<Hook>, String> {
        lists::all(&self.hooks, "webhook")
    }

    fn remove_hook(&self, id: &str) -> Result<bool, String> {
        Ok(self.hooks.remove(id).map_err(storage)?.is_some())
    }

    fn log_delivery(&self, delivery: &Delivery) -> Result<u64, String> {
        let seq = self.db.generate_id().map_err(storage)?;
        let mut k = key(&[&delivery.hook, ""]);
        k.extend_from_slice(&seq.to_be_bytes());
        let entry = Delivery {
            seq,
            ..delivery.clone()
        };
        self.deliveries
            .insert(k, to_json(&entry)?)
            .map_err(storage)?;
        Ok(seq)
    }

    fn deliveries(&self, hook: &str, limit: usize) -> Result<Vec<Delivery>, String> {
        let mut out = Vec::new();
        for item in self
            .deliveries
            .scan_prefix(key(&[hook, ""]))
            .rev()
            .take(limit)
        {
            let (_, v) = item.map_err(storage)?;
            out.push(from_json("delivery", &v)?);
        }
        Ok(out)
    }

    fn put_job(&self, job: &Job) -> Result<(), String> {
        lists::put(&self.jobs, &job.id, job)
    }

    fn job(&self, id: &str) -> Result<Option<Job>, String> {
        lists::get(&self.jobs, "job", id)
    }

    fn jobs(&self, limit: usize) -> Result<Vec<Job>, String> {
        let mut all: Vec<Job> = lists::all(&self.jobs, "job")?;
        all.sort_by(|a, b| b.created.cmp(&a.created).then(b.id.cmp(&a.id)));
        all.truncate(limit);
        Ok(all)
    }

    fn users(&self) -> Result<Vec<User>, String> {
        lists::all(&self.users, "user")
    }

    fn device_tokens(&self) -> Result<Vec<DeviceToken>, String> {
        lists::all(&self.device_tokens, "device token")
    }

    fn device_token_hashes(&self) -> Result<Vec<String>, String> {
        Ok(self.device_tokens()?.into_iter().map(|t| t.hash).collect())
    }

    fn is_empty(&self) -> Result<bool, String> {
        Ok(self.images.is_empty()
            && self.devices.is_empty()
            && self.keys.is_empty()
            && self.users.is_empty()
            && self.hooks.is_empty()
            && self.jobs.is_empty())
    }

    fn load(&self, items: Vec<crate::fleet::transfer::Item>) -> Result<(), String> {
        transfer::load(self, items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sled's own open of `dir`, without the wait: its error, if any.
    fn sled_open_error(dir: &Path) -> Option<String> {
        sled::Config::new()
            .path(dir)
            .flush_every_ms(None)
            .open()
            .err()
            .map(|e| e.to_string())
    }

    /// A store created and closed in `home`, and a file holding the kind of
    /// lock sled takes on its `db` (standing in for a closing store's
    /// winding-down thread).
    fn store_locked_by_another(home: &Path) -> (PathBuf, std::fs::File) {
        let dir = home.join("fleet");
        drop(open_sled(&dir, None).unwrap());
        let holder = std::fs::File::open(dir.join("db")).unwrap();
        holder.lock().unwrap();
        let direct = sled_open_error(&dir).unwrap_or_default();
        assert!(direct.contains("could not acquire lock"), "{direct}");
        (dir, holder)
    }

    /// A lock held by a closing store's thread is waited for: the store
    /// opens as soon as the holder lets go, not with sled's lock error.
    #[test]
    fn a_sled_lock_released_while_opening_is_waited_for() {
        let home = tempfile::tempdir().unwrap();
        let (dir, holder) = store_locked_by_another(home.path());
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(300));
            drop(holder);
        });
        let start = std::time::Instant::now();
        let db = open_sled(&dir, None).unwrap();
        assert!(start.elapsed() >= std::time::Duration::from_millis(250));
        releaser.join().unwrap();
        drop(db);
    }

    /// A lock that is never released ends in sled's own error once the
    /// wait is over, not in a hang.
    #[test]
    fn a_sled_lock_held_past_the_wait_is_reported() {
        let home = tempfile::tempdir().unwrap();
        let (dir, _holder) = store_locked_by_another(home.path());
        let start = std::time::Instant::now();
        wait_for_sled_lock(&dir.join("db"), std::time::Duration::from_millis(200));
        assert!(start.elapsed() >= std::time::Duration::from_millis(200));
        let err = sled_open_error(&dir).unwrap_or_default();
        assert!(err.contains("could not acquire lock"), "{err}");
    }
}
