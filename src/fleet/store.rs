//! The fleet store: images (keyed by SHA-256) with their inventory and
//! findings, devices, and the index trees that make "which devices carry X"
//! a lookup. One sled database under `DATA_DIR/fleet`; every change that
//! touches several trees is one sled transaction, so a crash leaves either
//! the old or the new state, never a mix.
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
//! - `image_devices`: per image, its device count and its devices (id,
//!   model, tags) packed in buckets; see [`super::buckets`]
//! - `image_versions`: sha256 -> firmware versions (newline-separated), so
//!   queries name an image's releases without loading its record
//! - `meta`: `schema` -> u32 (big-endian); `migrating` -> the schema a
//!   migration started from, while it runs
//!
//! Schema history: 1 had JSON image records and index values and one
//! `idx_image_devices` entry per device; 2 (this one) adds `idx_severity`,
//! packs devices per image, and compresses image records. Opening a
//! schema-1 store migrates it (see [`Fleet::open`]).

use super::buckets::{self, Header, Member};
use super::codec::{Reader, Writer, decode_record, encode_record};
use super::error::FleetError;
use crate::model::{Finding, FindingKind, Severity};
use crate::scan::ScanReport;
use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use sled::{Transactional, Tree};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Bumped when the layout changes; [`Fleet::open`] migrates older stores
/// and refuses newer ones.
pub const SCHEMA: u32 = 2;

/// A stored firmware image.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageRecord {
    /// The scan result; its `findings` are the last evaluation, see `findings`.
    pub report: ScanReport,
    pub findings: Vec<FindingRecord>,
    pub scanned_at: String,
    #[serde(default)]
    pub firmware_versions: Vec<String>,
}

/// A finding with its history on one image.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FindingRecord {
    pub key: String,
    pub finding: Finding,
    pub state: FindingState,
    pub first_seen: String,
    pub last_seen: String,
}

/// A finding's place in an image's history: the scan's own state
/// ([`crate::model::FindingState`]) while the finding is present, and
/// `resolved` once a later evaluation no longer raises it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FindingState {
    Active,
    Resolved,
    Suppressed,
    Fixed,
    NotAffected,
}

/// A device of the fleet.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Device {
    pub id: String,
    pub model: String,
    #[serde(default)]
    pub tags: Vec<String>,
    /// The firmware as given: a path, a SHA-256 or a version.
    pub firmware: String,
    /// The image it resolved to, if any stored image matches.
    pub image: Option<String>,
    pub last_seen: String,
}

/// A device's model and tags, as the image's device table keeps them, so
/// queries filter without loading device records.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeviceTag {
    pub model: String,
    pub tags: Vec<String>,
}

/// What the advisory index keeps, so `needs-patch` answers without loading images.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AdvisoryHit {
    pub advisory: String,
    pub component: String,
    pub severity: Severity,
    pub fixed_versions: Vec<String>,
    #[serde(default)]
    pub upgrade: Option<String>,
}

impl AdvisoryHit {
    /// `rank advisory component fixed-versions upgrade?`, length-prefixed.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.uint(u64::from(severity_rank(self.severity)));
        w.str(&self.advisory);
        w.str(&self.component);
        w.strs(&self.fixed_versions);
        match &self.upgrade {
            Some(u) => {
                w.uint(1);
                w.str(u);
            }
            None => w.uint(0),
        }
        w.bytes
    }

    pub fn decode(bytes: &[u8]) -> Result<AdvisoryHit, String> {
        let mut fixed_versions = Vec::new();
        let hit = HitRef::parse(bytes, |f| fixed_versions.push(f.to_string()))?;
        Ok(AdvisoryHit {
            advisory: hit.advisory.to_string(),
            component: hit.component.to_string(),
            severity: hit.severity,
            fixed_versions,
            upgrade: hit.upgrade.map(str::to_string),
        })
    }
}

/// An [`AdvisoryHit`] read in place: what a query needs, borrowed from
/// the index value (a fleet-wide query reads tens of thousands).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HitRef<'a> {
    pub severity: Severity,
    pub advisory: &'a str,
    pub component: &'a str,
    /// The first of the advisory's fixed versions.
    pub first_fixed: Option<&'a str>,
    pub upgrade: Option<&'a str>,
}

impl<'a> HitRef<'a> {
    pub fn decode(bytes: &'a [u8]) -> Result<HitRef<'a>, String> {
        Self::parse(bytes, |_| {})
    }

    fn parse(bytes: &'a [u8], mut fixed: impl FnMut(&'a str)) -> Result<HitRef<'a>, String> {
        let mut r = Reader::new(bytes, "advisory index entry");
        let severity = u8::try_from(r.uint()?)
            .ok()
            .and_then(severity_of_rank)
            .ok_or_else(|| r.corrupt())?;
        let advisory = r.str()?;
        let component = r.str()?;
        let mut first_fixed = None;
        for _ in 0..r.len()? {
            let f = r.str()?;
            first_fixed.get_or_insert(f);
            fixed(f);
        }
        let upgrade = match r.uint()? {
            0 => None,
            1 => Some(r.str()?),
            _ => return Err(r.corrupt()),
        };
        if !r.is_empty() {
            return Err(r.corrupt());
        }
        Ok(HitRef {
            severity,
            advisory,
            component,
            first_fixed,
            upgrade,
        })
    }
}

/// A severity's rank on disk: the first byte of `idx_severity` keys, in
/// the order of [`Severity`]'s `Ord` (so a range scan from a rank reads
/// that severity and every worse one). Part of the layout: fixed here,
/// not taken from the enum's declaration order.
pub fn severity_rank(s: Severity) -> u8 {
    match s {
        Severity::Info => 0,
        Severity::Unknown => 1,
        Severity::Low => 2,
        Severity::Medium => 3,
        Severity::High => 4,
        Severity::Critical => 5,
    }
}

fn severity_of_rank(rank: u8) -> Option<Severity> {
    Some(match rank {
        0 => Severity::Info,
        1 => Severity::Unknown,
        2 => Severity::Low,
        3 => Severity::Medium,
        4 => Severity::High,
        5 => Severity::Critical,
        _ => return None,
    })
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

/// New and resolved findings of one evaluation.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Change {
    pub new: Vec<Finding>,
    pub resolved: Vec<Finding>,
}

/// The open fleet store.
pub struct Fleet {
    db: sled::Db,
    meta: Tree,
    pub(crate) images: Tree,
    pub(crate) devices: Tree,
    pub(crate) versions: Tree,
    pub(crate) idx_component: Tree,
    pub(crate) idx_advisory: Tree,
    pub(crate) idx_severity: Tree,
    pub(crate) image_devices: Tree,
    pub(crate) image_versions: Tree,
    /// The schema the store had when [`Fleet::open`] migrated it, if it did.
    pub migrated_from: Option<u32>,
    /// The data directory the store lives in (`data_dir/fleet`).
    data_dir: std::path::PathBuf,
    /// `data_dir/fleet.lock`, locked while the store is open (dropped last).
    _lock: std::fs::File,
}

type TxResult<T> = Result<T, ConflictableTransactionError<String>>;

fn abort<T>(message: String) -> TxResult<T> {
    Err(ConflictableTransactionError::Abort(message))
}

fn tx_error(e: TransactionError<String>) -> String {
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

fn storage(e: sled::Error) -> String {
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

/// Stable identity of a finding on an image, across evaluations.
pub fn finding_key(f: &Finding) -> String {
    // A posture finding is named by its rule and the line or offset that
    // shows it (one rule can fire twice in one file).
    let place = match f.evidence.first() {
        Some(e) if f.rule.is_some() => match (e.line, e.offset) {
            (Some(l), _) => format!(":{l}"),
            (None, Some(o)) if o > 0 => format!("@{o}"),
            _ => String::new(),
        },
        _ => String::new(),
    };
    format!(
        "{}|{}|{}|{}{place}",
        f.kind.as_str(),
        f.advisory.as_deref().or(f.rule.as_deref()).unwrap_or("-"),
        f.component.as_deref().unwrap_or("-"),
        if f.kind == FindingKind::Vulnerable {
            "-"
        } else {
            f.path.as_deref().unwrap_or("-")
        }
    )
}

impl Fleet {
    /// Opens (or creates) the store under `data_dir/fleet`. A store another
    /// fwaudit holds open gives a "busy" error rather than a second writer.
    /// A store of an older schema is migrated (its indexes rebuilt from the
    /// primary data); one of a newer schema is refused.
    pub fn open(data_dir: &Path) -> Result<Fleet, FleetError> {
        Self::open_with(data_dir, Some(500))
    }

    /// [`Fleet::open`] for a command that only reads: sled's background
    /// flusher is not started (it would fsync the free segments sled zeroes
    /// on every open). Whatever opening writes (a migration, a first
    /// schema mark) is flushed by [`Fleet::flush`] as usual.
    pub fn open_to_read(data_dir: &Path) -> Result<Fleet, FleetError> {
        Self::open_with(data_dir, None)
    }

    fn open_with(data_dir: &Path, flush_every_ms: Option<u64>) -> Result<Fleet, FleetError> {
        let dir = data_dir.join("fleet");
        super::timing::mark("store: opening");
        // Our own lock, taken first and held as long as the store is open:
        // sled's own lock error carries its cause only in its message. The
        // lock file sits beside `fleet/`, so a compaction's swap keeps it.
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
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(FleetError::Busy { dir }),
            Err(std::fs::TryLockError::Error(source)) => {
                return Err(FleetError::Lock {
                    path: lock_path,
                    source,
                });
            }
        }
        let config = sled::Config::new()
            .path(&dir)
            .flush_every_ms(flush_every_ms);
        let db = config
            .open()
            .map_err(|e| format!("{}: cannot open fleet store: {e}", dir.display()))?;
        super::timing::mark("store: sled open");
        // What an interrupted `fleet compact` left: a copy never swapped in,
        // or the old store after the swap. Nothing else uses it: a
        // compaction holds this store's lock until the swap.
        let _ = std::fs::remove_dir_all(data_dir.join("fleet.compact"));
        let tree = |name: &str| db.open_tree(name).map_err(storage);
        let mut fleet = Fleet {
            meta: tree("meta")?,
            images: tree("images")?,
            devices: tree("devices")?,
            versions: tree("versions")?,
            idx_component: tree("idx_component")?,
            idx_advisory: tree("idx_advisory")?,
            idx_severity: tree("idx_severity")?,
            image_devices: tree("image_devices")?,
            image_versions: tree("image_versions")?,
            migrated_from: None,
            data_dir: data_dir.to_path_buf(),
            db,
            _lock: lock,
        };
        let read_u32 = |key: &str| -> Result<Option<u32>, String> {
            Ok(fleet.meta.get(key).map_err(storage)?.map(|v| {
                v.as_ref()
                    .try_into()
                    .map(u32::from_be_bytes)
                    .unwrap_or(u32::MAX)
            }))
        };
        let stored = read_u32("schema")?;
        let interrupted = read_u32("migrating")?;
        match (stored, interrupted) {
            (Some(v), _) if v > SCHEMA => {
                return Err(FleetError::NewerSchema {
                    dir,
                    found: v,
                    known: SCHEMA,
                });
            }
            (Some(v), _) if v < SCHEMA => fleet.migrate(v)?,
            // A migration that did not finish starts again.
            (Some(_), Some(from)) => fleet.migrate(from)?,
            (Some(_), None) => {}
            (None, _) => {
                fleet
                    .meta
                    .insert("schema", &SCHEMA.to_be_bytes())
                    .map_err(storage)?;
            }
        }
        super::timing::mark("store: trees open, schema checked");
        Ok(fleet)
    }

    /// Brings an older store to [`SCHEMA`]: every index that changed is
    /// rebuilt from the primary data (images and devices) and image records
    /// are re-encoded. The store is marked `schema = SCHEMA, migrating =
    /// from` first, so an older fwaudit refuses it from then on and an
    /// interrupted migration runs again on the next open; each step clears
    /// what it rebuilds, so running it twice is harmless.
    fn migrate(&mut self, from: u32) -> Result<(), String> {
        let mut mark = sled::Batch::default();
        mark.insert("schema", &SCHEMA.to_be_bytes());
        mark.insert("migrating", &from.to_be_bytes());
        self.meta.apply_batch(mark).map_err(storage)?;
        self.meta.flush().map_err(storage)?;

        // Devices: one packed table per image (was one entry per device).
        self.image_devices.clear().map_err(storage)?;
        let mut by_image: BTreeMap<String, Vec<Member>> = BTreeMap::new();
        for item in self.devices.iter() {
            let (_, v) = item.map_err(storage)?;
            // A corrupt record is left for `fleet verify` to report.
            if let Ok(d) = from_json::<Device>("device", &v)
                && let Some(sha) = d.image
            {
                by_image.entry(sha).or_default().push(Member {
                    id: d.id,
                    model: d.model,
                    tags: d.tags,
                });
            }
        }
        for (sha, mut members) in by_image {
            let mut batch = sled::Batch::default();
            let shape = Header::for_count(members.len() as u64);
            for (k, v) in buckets::layout(&sha, shape, &mut members) {
                batch.insert(k, v);
            }
            self.image_devices.apply_batch(batch).map_err(storage)?;
        }

        // Images: compressed records, compact advisory and severity indexes.
        self.idx_advisory.clear().map_err(storage)?;
        self.idx_severity.clear().map_err(storage)?;
        for sha in self.image_ids()? {
            let Some(bytes) = self.images.get(&sha).map_err(storage)? else {
                continue;
            };
            let Ok(record) = decode_record::<ImageRecord>("image", &bytes) else {
                continue;
            };
            let packed = encode_record(&record)?;
            if packed != bytes.as_ref() {
                self.images
                    .insert(sha.as_bytes(), packed)
                    .map_err(storage)?;
            }
            let (advisories, severities) = finding_entries(&record);
            let mut batch = sled::Batch::default();
            for (k, v) in advisories {
                batch.insert(k, v);
            }
            self.idx_advisory.apply_batch(batch).map_err(storage)?;
            let mut batch = sled::Batch::default();
            for (k, v) in severities {
                batch.insert(k, v);
            }
            self.idx_severity.apply_batch(batch).map_err(storage)?;
        }
        if from < 2 {
            self.db.drop_tree("idx_image_devices").map_err(storage)?;
        }

        self.meta.remove("migrating").map_err(storage)?;
        self.db.flush().map_err(storage)?;
        self.migrated_from = Some(from);
        Ok(())
    }

    /// Writes everything to disk (sled also does this in the background).
    pub fn flush(&self) -> Result<(), String> {
        self.db.flush().map(|_| ()).map_err(storage)
    }

    /// Closes a store this process has written to so that the next open is
    /// fast: sled writes its snapshot (the page table) only when it opens a
    /// store, after replaying the log written since the last one, so a big
    /// write (an import, a rematch) would make the next command pay that
    /// replay (0.6 s on the benchmark fleet). The writer pays it instead:
    /// the store is flushed, closed, opened once more and closed.
    pub fn close(self) -> Result<(), String> {
        self.flush()?;
        let data_dir = self.data_dir.clone();
        drop(self);
        super::timing::mark("store: closed");
        // The work is done and on disk: if another fwaudit got the store
        // first (busy), it does the replay instead, and any other problem
        // is for the next open to report, not a reason to fail this command.
        if let Ok(again) = Fleet::open_to_read(&data_dir) {
            super::timing::mark("store: reopened (snapshot written)");
            let _ = again.flush();
        }
        Ok(())
    }

    /// Closes a store this process only read, without sled's teardown
    /// (freeing its page table and caches, which a process about to exit
    /// need not do). Everything is flushed first; the file lock goes with
    /// the process.
    pub fn leave(self) -> Result<(), String> {
        self.flush()?;
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
        self.flush()?;
        let before = self.size_on_disk()?;
        let dir = self.data_dir.join("fleet");
        let copy = self.data_dir.join("fleet.compact");
        remove_dir(&copy)?;
        let mut entries = 0u64;
        {
            let new = sled::Config::new()
                .path(&copy)
                .flush_every_ms(None)
                .open()
                .map_err(|e| format!("{}: {e}", copy.display()))?;
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
        let after = {
            let new = sled::Config::new()
                .path(&copy)
                .flush_every_ms(None)
                .open()
                .map_err(|e| format!("{}: {e}", copy.display()))?;
            new.flush().map_err(storage)?;
            new.size_on_disk().map_err(storage)?
        };
        exchange(&dir, &copy)?;
        // `fleet.compact` is now the old store, still open here. Another
        // fwaudit that opens the new store may remove it too.
        drop(self);
        let _ = std::fs::remove_dir_all(&copy);
        Ok(CompactSummary {
            entries,
            bytes_before: before,
            bytes_after: after,
        })
    }

    pub fn image(&self, sha: &str) -> Result<Option<ImageRecord>, String> {
        match self.images.get(sha).map_err(storage)? {
            Some(bytes) => decode_record("image", &bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Whether an image is stored, without loading it.
    pub fn has_image(&self, sha: &str) -> Result<bool, String> {
        self.images.contains_key(sha).map_err(storage)
    }

    /// Every stored image's SHA-256.
    pub fn image_ids(&self) -> Result<Vec<String>, String> {
        self.images
            .iter()
            .keys()
            .map(|k| {
                k.map(|k| String::from_utf8_lossy(&k).into_owned())
                    .map_err(storage)
            })
            .collect()
    }

    pub fn device(&self, id: &str) -> Result<Option<Device>, String> {
        match self.devices.get(id).map_err(storage)? {
            Some(bytes) => from_json("device", &bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Stores a scan of an image and evaluates its findings, keeping history
    /// if the image was stored before.
    pub fn store_image(
        &self,
        report: &ScanReport,
        firmware_version: Option<&str>,
        now: &str,
    ) -> Result<Change, String> {
        let sha = report.target.sha256.clone().ok_or_else(|| {
            format!(
                "{}: only image files can be stored (a directory has no SHA-256)",
                report.target.path
            )
        })?;
        let old = self.image(&sha)?;
        let mut versions: Vec<String> = old
            .as_ref()
            .map(|o| o.firmware_versions.clone())
            .unwrap_or_default();
        if let Some(v) = firmware_version
            && !versions.iter().any(|x| x == v)
        {
            versions.push(v.to_string());
        }
        let mut stored_report = report.clone();
        // Advisory findings are re-drawn from the inventory on every
        // rematch; posture findings (a rule id) only come from the tree.
        stored_report.findings.retain(|f| f.rule.is_some());
        let previous = old.as_ref().map(|o| o.findings.as_slice()).unwrap_or(&[]);
        let (findings, change) = evaluate(previous, &report.findings, now);
        let record = ImageRecord {
            report: stored_report,
            findings,
            scanned_at: now.to_string(),
            firmware_versions: versions,
        };
        self.write_image(&sha, old.as_ref(), &record)?;
        Ok(change)
    }

    /// Replaces the findings of a stored image with a fresh evaluation.
    pub fn set_findings(
        &self,
        sha: &str,
        findings: &[Finding],
        now: &str,
    ) -> Result<Change, String> {
        let old = self
            .image(sha)?
            .ok_or_else(|| format!("image {sha} is not in the fleet store"))?;
        self.replace_findings(sha, old, findings, now)
    }

    /// [`Fleet::set_findings`] for a record already loaded.
    pub fn replace_findings(
        &self,
        sha: &str,
        old: ImageRecord,
        findings: &[Finding],
        now: &str,
    ) -> Result<Change, String> {
        let (records, change) = evaluate(&old.findings, findings, now);
        let mut record = old.clone();
        record.findings = records;
        self.write_image(sha, Some(&old), &record)?;
        Ok(change)
    }

    /// Firmware versions an image was stored under, without loading it.
    pub fn firmware_versions(&self, sha: &str) -> Result<Vec<String>, String> {
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

    /// One transaction: the image record and the index entries derived from
    /// it. Only entries that change are written: an old entry the new
    /// record lacks is removed, a new or different one inserted.
    fn write_image(
        &self,
        sha: &str,
        old: Option<&ImageRecord>,
        new: &ImageRecord,
    ) -> Result<(), String> {
        let bytes = encode_record(new)?;
        let old_components = old.map(component_keys).unwrap_or_default();
        let new_components = component_keys(new);
        let (old_advisories, old_severities) = old.map(finding_entries).unwrap_or_default();
        let (new_advisories, new_severities) = finding_entries(new);
        let versions = new.firmware_versions.clone();
        let version_list = versions.join("\n");
        let versions_changed = old.is_none_or(|o| o.firmware_versions != versions);
        (
            &self.images,
            &self.idx_component,
            &self.idx_advisory,
            &self.idx_severity,
            &self.versions,
            &self.image_versions,
        )
            .transaction(
                |(
                    images,
                    idx_component,
                    idx_advisory,
                    idx_severity,
                    version_tree,
                    image_versions,
                )| {
                    images.insert(sha.as_bytes(), bytes.as_slice())?;
                    if versions_changed {
                        image_versions.insert(sha.as_bytes(), version_list.as_bytes())?;
                    }
                    sync(idx_component, &old_components, &new_components)?;
                    sync(idx_advisory, &old_advisories, &new_advisories)?;
                    sync(idx_severity, &old_severities, &new_severities)?;
                    for v in &versions {
                        version_tree.insert(v.as_bytes(), sha.as_bytes())?;
                    }
                    Ok(())
                },
            )
            .map_err(tx_error)
    }

    /// Inserts or replaces a device, moving it between images' device tables.
    pub fn upsert_device(&self, device: &Device) -> Result<(), String> {
        self.upsert_devices(std::slice::from_ref(device))
    }

    /// [`Fleet::upsert_device`] for several devices in one transaction.
    pub fn upsert_devices(&self, list: &[Device]) -> Result<(), String> {
        let encoded = list
            .iter()
            .map(|d| to_json(d).map(|bytes| (d, bytes)))
            .collect::<Result<Vec<_>, String>>()?;
        (&self.devices, &self.image_devices)
            .transaction(
                |(devices, tables): &(TransactionalTree, TransactionalTree)| {
                    for (device, bytes) in &encoded {
                        if let Some(old) = devices.get(device.id.as_bytes())? {
                            let old: Device = match from_json("device", &old) {
                                Ok(d) => d,
                                Err(e) => return abort(e),
                            };
                            if let Some(sha) = &old.image {
                                buckets::remove(tables, sha, &old.id)?;
                            }
                        }
                        devices.insert(device.id.as_bytes(), bytes.as_slice())?;
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
                        }
                    }
                    Ok(())
                },
            )
            .map_err(tx_error)
    }

    /// The image a firmware version was stored under.
    pub fn image_for_version(&self, version: &str) -> Result<Option<String>, String> {
        Ok(self
            .versions
            .get(version)
            .map_err(storage)?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// How many devices run `sha`, from its table's header alone.
    pub fn device_count(&self, sha: &str) -> Result<usize, String> {
        match self
            .image_devices
            .get(buckets::header_key(sha))
            .map_err(storage)?
        {
            Some(v) => Ok(Header::decode(&v)?.count as usize),
            None => Ok(0),
        }
    }

    /// Calls `f(id, model, tags)` for every device running `sha`, in no
    /// particular order, straight from the packed table.
    pub fn visit_devices_on(
        &self,
        sha: &str,
        mut f: impl FnMut(&str, &str, &[&str]),
    ) -> Result<(), String> {
        for item in self.image_devices.scan_prefix(buckets::bucket_prefix(sha)) {
            let (_, v) = item.map_err(storage)?;
            buckets::visit_bucket(&v, &mut f)?;
        }
        Ok(())
    }

    /// Ids of the devices running `sha` whose model and tags pass `keep`, sorted.
    pub fn device_ids_on(
        &self,
        sha: &str,
        keep: impl Fn(&str, &[&str]) -> bool,
    ) -> Result<Vec<String>, String> {
        let mut ids = Vec::new();
        self.visit_devices_on(sha, |id, model, tags| {
            if keep(model, tags) {
                ids.push(id.to_string());
            }
        })?;
        ids.sort_unstable();
        Ok(ids)
    }

    /// Devices running `sha`: (id, model and tags), sorted by id, from the
    /// image's device table alone.
    pub fn devices_on(&self, sha: &str) -> Result<Vec<(String, DeviceTag)>, String> {
        let mut out = Vec::new();
        self.visit_devices_on(sha, |id, model, tags| {
            out.push((
                id.to_string(),
                DeviceTag {
                    model: model.to_string(),
                    tags: tags.iter().map(|t| t.to_string()).collect(),
                },
            ))
        })?;
        out.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Checks that every index entry agrees with the primary data and that
    /// nothing is missing: what a crash must never break.
    pub fn verify(&self) -> Result<Vec<String>, String> {
        let mut problems = Vec::new();
        let mut want_components = BTreeMap::new();
        let mut want_advisories = BTreeMap::new();
        let mut want_severities = BTreeMap::new();
        for item in self.images.iter() {
            let (k, v) = item.map_err(storage)?;
            let sha = String::from_utf8_lossy(&k).into_owned();
            match decode_record::<ImageRecord>("image", &v) {
                Ok(record) => {
                    want_components.extend(component_keys(&record));
                    let (advisories, severities) = finding_entries(&record);
                    want_advisories.extend(advisories);
                    want_severities.extend(severities);
                    if record.report.target.sha256.as_deref() != Some(sha.as_str()) {
                        problems.push(format!(
                            "image {sha}: record is for {:?}",
                            record.report.target.sha256
                        ));
                    }
                }
                Err(e) => problems.push(format!("image {sha}: {e}")),
            }
        }
        compare_index(
            &self.idx_component,
            &want_components
                .into_iter()
                .map(|(k, v)| (k, v.into_bytes()))
                .collect(),
            "idx_component",
            &mut problems,
        )?;
        compare_index(
            &self.idx_advisory,
            &want_advisories,
            "idx_advisory",
            &mut problems,
        )?;
        compare_index(
            &self.idx_severity,
            &want_severities,
            "idx_severity",
            &mut problems,
        )?;
        let mut by_image: BTreeMap<String, Vec<Member>> = BTreeMap::new();
        for item in self.devices.iter() {
            let (_, v) = item.map_err(storage)?;
            match from_json::<Device>("device", &v) {
                Ok(d) => {
                    if let Some(sha) = d.image {
                        by_image.entry(sha).or_default().push(Member {
                            id: d.id,
                            model: d.model,
                            tags: d.tags,
                        });
                    }
                }
                Err(e) => problems.push(e),
            }
        }
        // Which bucket a device belongs in depends on its table's shape:
        // take the stored shape, and expect every device where it says.
        let mut want_tables = BTreeMap::new();
        for (sha, mut members) in by_image {
            let stored = self
                .image_devices
                .get(buckets::header_key(&sha))
                .map_err(storage)?;
            let shape = match stored.as_deref().map(Header::decode) {
                Some(Ok(h)) => h,
                Some(Err(e)) => {
                    problems.push(format!("image_devices: {sha}: {e}"));
                    Header::for_count(members.len() as u64)
                }
                None => Header::for_count(members.len() as u64),
            };
            if members.len() as u64 > buckets::LOAD * shape.buckets() {
                problems.push(format!(
                    "image_devices: {sha}: {} devices in {} buckets",
                    members.len(),
                    shape.buckets()
                ));
            }
            want_tables.extend(buckets::layout(&sha, shape, &mut members));
        }
        compare_index(
            &self.image_devices,
            &want_tables,
            "image_devices",
            &mut problems,
        )?;
        Ok(problems)
    }
}

/// Brings an index tree from `old` to `new` inside a transaction, writing
/// only what differs.
fn sync(
    tree: &TransactionalTree,
    old: &BTreeMap<Vec<u8>, impl AsRef<[u8]>>,
    new: &BTreeMap<Vec<u8>, impl AsRef<[u8]>>,
) -> TxResult<()> {
    for k in old.keys().filter(|k| !new.contains_key(*k)) {
        tree.remove(k.as_slice())?;
    }
    for (k, v) in new {
        if old.get(k).map(AsRef::as_ref) != Some(v.as_ref()) {
            tree.insert(k.as_slice(), v.as_ref())?;
        }
    }
    Ok(())
}

fn compare_index(
    tree: &Tree,
    want: &BTreeMap<Vec<u8>, Vec<u8>>,
    name: &str,
    problems: &mut Vec<String>,
) -> Result<(), String> {
    let mut have = BTreeSet::new();
    for item in tree.iter() {
        let (k, v) = item.map_err(storage)?;
        match want.get(k.as_ref()) {
            None => problems.push(format!("{name}: stale entry {:?}", split_key(&k))),
            Some(w) if w.as_slice() != v.as_ref() => {
                problems.push(format!("{name}: entry {:?} disagrees", split_key(&k)))
            }
            Some(_) => {}
        }
        have.insert(k.to_vec());
    }
    for k in want.keys().filter(|k| !have.contains(*k)) {
        problems.push(format!("{name}: missing entry {:?}", split_key(k)));
    }
    Ok(())
}

fn component_keys(record: &ImageRecord) -> BTreeMap<Vec<u8>, String> {
    let sha = record.report.target.sha256.as_deref().unwrap_or("");
    let mut out = BTreeMap::new();
    for c in &record.report.components {
        out.insert(
            key(&[&c.name.to_ascii_lowercase(), &c.version, sha]),
            c.ecosystem.clone(),
        );
        if let Some(up) = &c.upstream {
            out.insert(
                key(&[&up.name.to_ascii_lowercase(), &up.version, sha]),
                "upstream".to_string(),
            );
        }
    }
    out
}

/// A `idx_severity` key: rank byte, then `sha256\0finding key`.
pub(crate) fn severity_key(severity: Severity, sha: &str, finding: &str) -> Vec<u8> {
    let mut k = vec![severity_rank(severity)];
    k.extend_from_slice(&key(&[sha, finding]));
    k
}

/// `idx_advisory` and `idx_severity` entries of a record's active
/// vulnerable findings.
type FindingEntries = (BTreeMap<Vec<u8>, Vec<u8>>, BTreeMap<Vec<u8>, Vec<u8>>);

fn finding_entries(record: &ImageRecord) -> FindingEntries {
    let sha = record.report.target.sha256.as_deref().unwrap_or("");
    let mut advisories = BTreeMap::new();
    let mut severities = BTreeMap::new();
    for r in record
        .findings
        .iter()
        .filter(|r| r.state == FindingState::Active)
    {
        let f = &r.finding;
        let (Some(id), Some(component)) = (&f.advisory, &f.component) else {
            continue;
        };
        if f.kind != FindingKind::Vulnerable {
            continue;
        }
        let hit = AdvisoryHit {
            advisory: id.clone(),
            component: component.clone(),
            severity: f.severity,
            fixed_versions: f.fixed_versions.clone(),
            upgrade: f.upgrade.clone(),
        };
        let value = hit.encode();
        for name in std::iter::once(id).chain(f.aliases.iter()) {
            advisories.insert(key(&[name, sha, &r.key]), value.clone());
        }
        severities.insert(severity_key(f.severity, sha, &r.key), value);
    }
    (advisories, severities)
}

/// Merges a fresh evaluation into the stored history.
fn evaluate(
    previous: &[FindingRecord],
    fresh: &[Finding],
    now: &str,
) -> (Vec<FindingRecord>, Change) {
    let mut change = Change::default();
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for f in fresh {
        let key = finding_key(f);
        if !seen.insert(key.clone()) {
            continue;
        }
        let state = match f.state {
            crate::model::FindingState::Active => FindingState::Active,
            crate::model::FindingState::Suppressed => FindingState::Suppressed,
            crate::model::FindingState::Fixed => FindingState::Fixed,
            crate::model::FindingState::NotAffected => FindingState::NotAffected,
        };
        let before = previous.iter().find(|p| p.key == key);
        let was_active = before.is_some_and(|b| b.state == FindingState::Active);
        if state == FindingState::Active && !was_active {
            change.new.push(f.clone());
        }
        out.push(FindingRecord {
            key,
            finding: f.clone(),
            state,
            first_seen: before.map_or_else(|| now.to_string(), |b| b.first_seen.clone()),
            last_seen: now.to_string(),
        });
    }
    for p in previous.iter().filter(|p| !seen.contains(&p.key)) {
        if p.state == FindingState::Active {
            change.resolved.push(p.finding.clone());
        }
        out.push(FindingRecord {
            state: FindingState::Resolved,
            ..p.clone()
        });
    }
    (out, change)
}
