//! The fleet store: images (keyed by SHA-256) with their inventory and
//! findings, devices, and the index trees that make "which devices carry X"
//! a lookup. One sled database under `DATA_DIR/fleet`; every change that
//! touches several trees is one sled transaction, so a crash leaves either
//! the old or the new state, never a mix.
//!
//! Trees and keys (`\0` separates key parts):
//! - `images`: sha256 -> [`ImageRecord`] (JSON)
//! - `devices`: device id -> [`Device`] (JSON)
//! - `versions`: firmware version -> sha256
//! - `idx_component`: `name\0version\0sha256` -> ecosystem
//! - `idx_advisory`: `id\0sha256\0finding key` -> [`AdvisoryHit`] (JSON), for
//!   every name (id and aliases) of every active vulnerable finding
//! - `idx_image_devices`: `sha256\0device id` -> [`DeviceTag`] (compact)
//! - `image_versions`: sha256 -> firmware versions (newline-separated), so
//!   queries name an image's releases without loading its record
//! - `meta`: `schema` -> u32 (big-endian)

use crate::model::{Finding, FindingKind, Severity};
use crate::scan::ScanReport;
use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use sled::{Transactional, Tree};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Bumped when the layout changes; [`Fleet::open`] migrates older stores
/// and refuses newer ones.
pub const SCHEMA: u32 = 1;

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

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum FindingState {
    Active,
    Resolved,
    Suppressed,
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

/// What the image-to-device index keeps, so queries filter without loading devices.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeviceTag {
    pub model: String,
    pub tags: Vec<String>,
}

/// Field separator of the compact [`DeviceTag`] encoding (ASCII unit separator).
const UNIT: char = '\u{1f}';

impl DeviceTag {
    /// `model US tag US tag ...`: read 100,000 times by a fleet-wide query,
    /// so it is not JSON.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.model.clone();
        for t in &self.tags {
            out.push(UNIT);
            out.push_str(t);
        }
        out.into_bytes()
    }

    pub fn decode(bytes: &[u8]) -> DeviceTag {
        let text = String::from_utf8_lossy(bytes);
        let mut parts = text.split(UNIT).map(str::to_string);
        DeviceTag {
            model: parts.next().unwrap_or_default(),
            tags: parts.collect(),
        }
    }
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

/// New and resolved findings of one evaluation.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Change {
    pub new: Vec<Finding>,
    pub resolved: Vec<Finding>,
}

/// The open fleet store.
pub struct Fleet {
    db: sled::Db,
    pub(crate) images: Tree,
    pub(crate) devices: Tree,
    pub(crate) versions: Tree,
    pub(crate) idx_component: Tree,
    pub(crate) idx_advisory: Tree,
    pub(crate) idx_image_devices: Tree,
    pub(crate) image_versions: Tree,
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
    format!(
        "{}|{}|{}|{}",
        f.kind.as_str(),
        f.advisory.as_deref().unwrap_or("-"),
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
    pub fn open(data_dir: &Path) -> Result<Fleet, String> {
        let dir = data_dir.join("fleet");
        let db = sled::Config::new().path(&dir).open().map_err(|e| {
            let text = e.to_string();
            if text.contains("lock")
                || text.contains("WouldBlock")
                || text.contains("temporarily unavailable")
            {
                format!(
                    "fleet store busy: another fwaudit is using {} (try again when it finishes)",
                    dir.display()
                )
            } else {
                format!("{}: cannot open fleet store: {text}", dir.display())
            }
        })?;
        let tree = |name: &str| db.open_tree(name).map_err(|e| format!("fleet store: {e}"));
        let meta = tree("meta")?;
        let fleet = Fleet {
            images: tree("images")?,
            devices: tree("devices")?,
            versions: tree("versions")?,
            idx_component: tree("idx_component")?,
            idx_advisory: tree("idx_advisory")?,
            idx_image_devices: tree("idx_image_devices")?,
            image_versions: tree("image_versions")?,
            db,
        };
        let stored = meta
            .get("schema")
            .map_err(|e| format!("fleet store: {e}"))?
            .map(|v| {
                v.as_ref()
                    .try_into()
                    .map(u32::from_be_bytes)
                    .unwrap_or(u32::MAX)
            });
        match stored {
            Some(v) if v > SCHEMA => {
                return Err(format!(
                    "{}: fleet store written by a newer fwaudit (schema {v}, this one knows up to {SCHEMA})",
                    dir.display()
                ));
            }
            // Migrations from older schemas go here, one step per version.
            Some(_) => {}
            None => {
                meta.insert("schema", &SCHEMA.to_be_bytes())
                    .map_err(|e| format!("fleet store: {e}"))?;
            }
        }
        Ok(fleet)
    }

    /// Writes everything to disk (sled also does this in the background).
    pub fn flush(&self) -> Result<(), String> {
        self.db
            .flush()
            .map(|_| ())
            .map_err(|e| format!("fleet store: {e}"))
    }

    pub fn image(&self, sha: &str) -> Result<Option<ImageRecord>, String> {
        match self.images.get(sha).map_err(|e| e.to_string())? {
            Some(bytes) => from_json("image", &bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Every stored image's SHA-256.
    pub fn image_ids(&self) -> Result<Vec<String>, String> {
        self.images
            .iter()
            .keys()
            .map(|k| {
                k.map(|k| String::from_utf8_lossy(&k).into_owned())
                    .map_err(|e| e.to_string())
            })
            .collect()
    }

    pub fn device(&self, id: &str) -> Result<Option<Device>, String> {
        match self.devices.get(id).map_err(|e| e.to_string())? {
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
        stored_report.findings.clear();
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
            .map_err(|e| e.to_string())?
            .map(|v| {
                String::from_utf8_lossy(&v)
                    .lines()
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default())
    }

    /// One transaction: the image record and the index entries derived from
    /// it (old entries removed, new ones added).
    fn write_image(
        &self,
        sha: &str,
        old: Option<&ImageRecord>,
        new: &ImageRecord,
    ) -> Result<(), String> {
        let bytes = to_json(new)?;
        let old_components = old.map(component_keys).unwrap_or_default();
        let new_components = component_keys(new);
        let old_advisories = old.map(advisory_entries).unwrap_or_default();
        let new_advisories = advisory_entries(new);
        let versions = new.firmware_versions.clone();
        let version_list = versions.join("\n");
        (
            &self.images,
            &self.idx_component,
            &self.idx_advisory,
            &self.versions,
            &self.image_versions,
        )
            .transaction(
                |(images, idx_component, idx_advisory, version_tree, image_versions)| {
                    images.insert(sha.as_bytes(), bytes.as_slice())?;
                    image_versions.insert(sha.as_bytes(), version_list.as_bytes())?;
                    for (k, _) in old_components
                        .iter()
                        .filter(|(k, _)| !new_components.contains_key(*k))
                    {
                        idx_component.remove(k.as_slice())?;
                    }
                    for (k, v) in &new_components {
                        idx_component.insert(k.as_slice(), v.as_bytes())?;
                    }
                    for k in old_advisories
                        .keys()
                        .filter(|k| !new_advisories.contains_key(*k))
                    {
                        idx_advisory.remove(k.as_slice())?;
                    }
                    for (k, v) in &new_advisories {
                        idx_advisory.insert(k.as_slice(), v.as_slice())?;
                    }
                    for v in &versions {
                        version_tree.insert(v.as_bytes(), sha.as_bytes())?;
                    }
                    Ok(())
                },
            )
            .map_err(tx_error)
    }

    /// Inserts or replaces a device, moving it in the image-to-device index.
    pub fn upsert_device(&self, device: &Device) -> Result<(), String> {
        let bytes = to_json(device)?;
        let tag = DeviceTag {
            model: device.model.clone(),
            tags: device.tags.clone(),
        }
        .encode();
        (&self.devices, &self.idx_image_devices)
            .transaction(
                |(devices, index): &(TransactionalTree, TransactionalTree)| {
                    if let Some(old) = devices.get(device.id.as_bytes())? {
                        let old: Device = match from_json("device", &old) {
                            Ok(d) => d,
                            Err(e) => return abort(e),
                        };
                        if let Some(sha) = &old.image {
                            index.remove(key(&[sha, &old.id]))?;
                        }
                    }
                    devices.insert(device.id.as_bytes(), bytes.as_slice())?;
                    if let Some(sha) = &device.image {
                        index.insert(key(&[sha, &device.id]), tag.as_slice())?;
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
            .map_err(|e| e.to_string())?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// Devices running `sha`: (id, model, tags), from the index alone.
    pub fn devices_on(&self, sha: &str) -> Result<Vec<(String, DeviceTag)>, String> {
        let prefix = key(&[sha, ""]);
        self.idx_image_devices
            .scan_prefix(prefix)
            .map(|kv| {
                let (k, v) = kv.map_err(|e| e.to_string())?;
                let id = split_key(&k).pop().unwrap_or_default();
                Ok((id, DeviceTag::decode(&v)))
            })
            .collect()
    }

    /// Checks that every index entry agrees with the primary data and that
    /// nothing is missing: what a crash must never break.
    pub fn verify(&self) -> Result<Vec<String>, String> {
        let mut problems = Vec::new();
        let mut want_components = BTreeMap::new();
        let mut want_advisories = BTreeMap::new();
        for item in self.images.iter() {
            let (k, v) = item.map_err(|e| e.to_string())?;
            let sha = String::from_utf8_lossy(&k).into_owned();
            match from_json::<ImageRecord>("image", &v) {
                Ok(record) => {
                    want_components.extend(component_keys(&record));
                    want_advisories.extend(advisory_entries(&record));
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
        let mut want_devices = BTreeMap::new();
        for item in self.devices.iter() {
            let (_, v) = item.map_err(|e| e.to_string())?;
            match from_json::<Device>("device", &v) {
                Ok(d) => {
                    if let Some(sha) = &d.image {
                        let tag = DeviceTag {
                            model: d.model.clone(),
                            tags: d.tags.clone(),
                        }
                        .encode();
                        want_devices.insert(key(&[sha, &d.id]), tag);
                    }
                }
                Err(e) => problems.push(e),
            }
        }
        compare_index(
            &self.idx_image_devices,
            &want_devices,
            "idx_image_devices",
            &mut problems,
        )?;
        Ok(problems)
    }
}

fn compare_index(
    tree: &Tree,
    want: &BTreeMap<Vec<u8>, Vec<u8>>,
    name: &str,
    problems: &mut Vec<String>,
) -> Result<(), String> {
    let mut have = BTreeSet::new();
    for item in tree.iter() {
        let (k, v) = item.map_err(|e| e.to_string())?;
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

fn advisory_entries(record: &ImageRecord) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let sha = record.report.target.sha256.as_deref().unwrap_or("");
    let mut out = BTreeMap::new();
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
        let value = serde_json::to_vec(&hit).unwrap_or_default();
        for name in std::iter::once(id).chain(f.aliases.iter()) {
            out.insert(key(&[name, sha, &r.key]), value.clone());
        }
    }
    out
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
        let state = if f.suppressed.is_some() {
            FindingState::Suppressed
        } else {
            FindingState::Active
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
