//! Fleet operations that read and write through [`FleetStore`] alone, so
//! every back end runs them the same way: rematch, scans through the
//! store, device import, the nightly run.

use super::queries;
use super::record::{Change, Device, DeviceTag, ImageRecord};
use super::{FleetStore, devices};
use crate::advisory::Database;
use crate::scan::{self, Options};
use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::Path;

/// A stored image re-judged: its id, its record, its fresh findings.
type Judged = (String, ImageRecord, Vec<crate::model::Finding>);

/// New and resolved findings per image, with the devices they touch.
#[derive(Debug, Default, Serialize)]
pub struct RematchSummary {
    pub images: usize,
    pub new: Vec<ImageChange>,
    pub resolved: Vec<ImageChange>,
}

#[derive(Debug, Serialize)]
pub struct ImageChange {
    pub image: String,
    pub finding: String,
    pub severity: crate::model::Severity,
    pub devices: usize,
}

/// `kind component advisory-or-path`: how a change names its finding.
pub fn describe(f: &crate::model::Finding) -> String {
    format!(
        "{} {} {}",
        f.kind.as_str(),
        f.component.as_deref().unwrap_or("-"),
        f.advisory
            .as_deref()
            .or(f.rule.as_deref())
            .or(f.path.as_deref())
            .unwrap_or("-")
    )
}

/// What every fleet command does the same way on any back end, built on
/// [`FleetStore`]'s operations: rematch, scans through the store, device
/// import, the nightly run.
pub trait FleetOps: FleetStore {
    /// Re-judges every stored inventory against `db` without unpacking.
    fn rematch(
        &self,
        db: &Database,
        options: &Options,
        now: &str,
    ) -> Result<RematchSummary, String> {
        let mut summary = RematchSummary::default();
        let ids = self.image_ids()?;
        // Loading and judging is read-only and parallel; writes stay in order.
        for chunk in ids.chunks(64) {
            let judged: Vec<Result<Option<Judged>, String>> = chunk
                .par_iter()
                .map(|sha| {
                    let Some(record) = self.image(sha)? else {
                        return Ok(None);
                    };
                    let findings = scan::findings(
                        &record.report.components,
                        &record.report.libraries,
                        &record.report.posture_findings(),
                        db,
                        options,
                    );
                    Ok(Some((sha.clone(), record, findings)))
                })
                .collect();
            let mut batch = Vec::with_capacity(judged.len());
            for item in judged {
                batch.extend(item?);
            }
            for (sha, change, devices) in self.replace_findings_batch(batch, now)? {
                let entry = |f: &crate::model::Finding| ImageChange {
                    image: sha.clone(),
                    finding: describe(f),
                    severity: f.severity,
                    devices,
                };
                summary.new.extend(change.new.iter().map(entry));
                summary.resolved.extend(change.resolved.iter().map(entry));
                summary.images += 1;
            }
        }
        Ok(summary)
    }

    /// The image a device's `firmware` names: a SHA-256, a file (hashed), or
    /// a firmware version recorded with `scan --store --firmware-version`.
    fn resolve_firmware(&self, firmware: &str, base: &Path) -> Result<Option<String>, String> {
        if is_sha256(firmware) {
            return Ok(Some(firmware.to_ascii_lowercase()));
        }
        // A relative path is taken relative to the device list, then to the working directory.
        let beside = base.join(firmware);
        let path = if beside.is_file() {
            beside
        } else {
            Path::new(firmware).to_path_buf()
        };
        if path.is_file() {
            let sha = file_sha256(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            return Ok(Some(sha));
        }
        self.image_for_version(firmware)
    }

    /// Scans `path` unless an image with its SHA-256 is stored (then the
    /// stored inventory is re-judged), and records the result.
    fn scan_and_store(
        &self,
        path: &Path,
        db: &Database,
        options: &Options,
        rescan: bool,
        firmware_version: Option<&str>,
        now: &str,
    ) -> Result<StoredScan, String> {
        if path.is_file() && !rescan {
            let sha = file_sha256(path).map_err(|e| format!("{}: {e}", path.display()))?;
            if let Some(mut record) = self.image(&sha)? {
                if let Some(v) = firmware_version
                    && !record.firmware_versions.iter().any(|x| x == v)
                {
                    record.firmware_versions.push(v.to_string());
                }
                let mut report = record.report.clone();
                report.target.path = path.display().to_string();
                report.findings = scan::findings(
                    &report.components,
                    &report.libraries,
                    &report.posture_findings(),
                    db,
                    options,
                );
                // One read and one transaction: findings and any new version together.
                let change = self.replace_findings(&sha, record, &report.findings, now)?;
                return Ok(StoredScan {
                    report,
                    change,
                    cached: true,
                });
            }
        }
        let report = scan::scan(path, db, options)?;
        let change = self.store_image(&report, firmware_version, now)?;
        Ok(StoredScan {
            report,
            change,
            cached: false,
        })
    }

    /// Records that device `id` runs `image` (model and tags kept if known).
    fn attach_device(
        &self,
        id: &str,
        firmware: &str,
        image: &str,
        now: &str,
    ) -> Result<(), String> {
        let old = self.device(id)?;
        let old_facts = old.as_ref().map(|d| d.facts.clone()).unwrap_or_default();
        self.upsert_device(&Device {
            id: id.to_string(),
            model: old.as_ref().map(|d| d.model.clone()).unwrap_or_default(),
            tags: old.map(|d| d.tags).unwrap_or_default(),
            firmware: firmware.to_string(),
            image: Some(image.to_string()),
            last_seen: now.to_string(),
            facts: old_facts,
        })
    }

    /// Upserts every good row of a device list file; relative firmware
    /// paths are taken relative to it.
    fn import_devices(&self, file: &Path, now: &str) -> Result<ImportSummary, String> {
        let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
        let parsed = devices::parse(&file.display().to_string(), &text);
        let base = file.parent().unwrap_or(Path::new("."));
        self.import_rows(parsed, Some(base), now)
    }

    /// Upserts parsed device rows. With `base`, a firmware may name a file
    /// (hashed); without (rows from the API), only a SHA-256 or a stored
    /// firmware version, so no file on the server is ever read.
    fn import_rows(
        &self,
        parsed: devices::Parsed,
        base: Option<&Path>,
        now: &str,
    ) -> Result<ImportSummary, String> {
        let mut summary = ImportSummary {
            errors: parsed.errors,
            ..ImportSummary::default()
        };
        // A firmware file named by many rows is hashed once.
        let mut resolved: std::collections::HashMap<String, Option<String>> =
            std::collections::HashMap::new();
        for rows in parsed.rows.chunks(IMPORT_BATCH) {
            let mut batch = Vec::with_capacity(rows.len());
            for row in rows {
                let image = match resolved.get(&row.firmware) {
                    Some(image) => image.clone(),
                    None => {
                        let image = match base {
                            Some(base) => self.resolve_firmware(&row.firmware, base)?,
                            None => self.resolve_firmware_id(&row.firmware)?,
                        };
                        resolved.insert(row.firmware.clone(), image.clone());
                        image
                    }
                };
                if image.is_none() {
                    summary.unresolved.push(format!(
                        "{}: firmware {:?} matches no stored image or file",
                        row.id, row.firmware
                    ));
                }
                batch.push(Device {
                    id: row.id.clone(),
                    model: row.model.clone(),
                    tags: row.tags.clone(),
                    firmware: row.firmware.clone(),
                    image,
                    last_seen: now.to_string(),
                    facts: Default::default(),
                });
            }
            self.upsert_devices(&batch)?;
            summary.imported += batch.len();
        }
        Ok(summary)
    }

    /// Scans the images in `images` not yet stored, imports `devices`, and
    /// re-matches everything, in that order (so device firmware paths
    /// resolve to freshly stored images).
    fn nightly(
        &self,
        devices_file: &Path,
        images: &Path,
        db: &Database,
        options: &Options,
        now: &str,
        progress: &dyn Fn(&str),
    ) -> Result<NightlySummary, String> {
        let mut summary = NightlySummary::default();
        let mut files: Vec<_> = std::fs::read_dir(images)
            .map_err(|e| format!("{}: {e}", images.display()))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        let mut first_findings = Vec::new();
        for (i, path) in files.iter().enumerate() {
            progress(&format!("[{}/{}] {}", i + 1, files.len(), path.display()));
            let sha = match file_sha256(path) {
                Ok(sha) => sha,
                Err(e) => {
                    summary.failed.push(format!("{}: {e}", path.display()));
                    continue;
                }
            };
            if self.has_image(&sha)? {
                summary.already_stored += 1;
                continue;
            }
            match scan::scan(path, db, options) {
                Ok(report) if !report.incomplete() || !report.components.is_empty() => {
                    let change = self.store_image(&report, None, now)?;
                    first_findings.extend(change.new.into_iter().map(|f| (sha.clone(), f)));
                    summary.scanned.push(path.display().to_string());
                }
                Ok(report) => summary.failed.push(format!(
                    "{}: {}",
                    path.display(),
                    report
                        .notes
                        .first()
                        .map_or("nothing readable", |n| n.message.as_str())
                )),
                Err(e) => summary.failed.push(e.to_string()),
            }
        }
        summary.devices = self.import_devices(devices_file, now)?;
        summary.rematch = self.rematch(db, options, now)?;
        for (sha, f) in first_findings {
            let devices = self.device_count(&sha)?;
            summary.rematch.new.push(ImageChange {
                image: sha,
                finding: describe(&f),
                severity: f.severity,
                devices,
            });
        }
        self.flush()?;
        Ok(summary)
    }
    /// The image a firmware names without reading any file: a SHA-256 (as
    /// given, lowercased) or a version stored with `--firmware-version`.
    fn resolve_firmware_id(&self, firmware: &str) -> Result<Option<String>, String> {
        if is_sha256(firmware) {
            return Ok(Some(firmware.to_ascii_lowercase()));
        }
        self.image_for_version(firmware)
    }

    /// Inserts or replaces one device.
    fn upsert_device(&self, device: &Device) -> Result<(), String> {
        self.upsert_devices(std::slice::from_ref(device))
    }

    /// Ids of the devices running `sha` whose model and tags pass `keep`, sorted.
    fn device_ids_on(
        &self,
        sha: &str,
        keep: &dyn Fn(&str, &[&str]) -> bool,
    ) -> Result<Vec<String>, String> {
        let mut ids = Vec::new();
        self.visit_devices_on(sha, &mut |id, model, tags| {
            if keep(model, tags) {
                ids.push(id.to_string());
            }
        })?;
        ids.sort_unstable();
        Ok(ids)
    }

    /// Devices running `sha` (id, model, tags), sorted by id.
    fn devices_on(&self, sha: &str) -> Result<Vec<(String, DeviceTag)>, String> {
        let mut out = Vec::new();
        self.visit_devices_on(sha, &mut |id, model, tags| {
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

    /// Components and findings that differ between two stored images.
    fn diff(&self, a: &str, b: &str) -> Result<queries::Diff, String> {
        let load = |sha: &str| -> Result<ImageRecord, String> {
            self.image(sha)?
                .ok_or_else(|| format!("image {sha} is not in the fleet store"))
        };
        Ok(queries::diff(&load(a)?, &load(b)?))
    }
}

impl<T: FleetStore + ?Sized> FleetOps for T {}

/// True for 64 hex digits.
pub fn is_sha256(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A scan done through the store.
pub struct StoredScan {
    pub report: crate::scan::ScanReport,
    pub change: Change,
    /// True when the stored inventory was reused instead of unpacking again.
    pub cached: bool,
}

/// Devices written per transaction by `fleet import`: each batch is all or
/// nothing, and a device table touched by many rows of one batch is
/// written once.
const IMPORT_BATCH: usize = 256;

#[derive(Debug, Default, Serialize)]
pub struct ImportSummary {
    pub imported: usize,
    /// Devices stored without an image: their firmware is not known yet.
    pub unresolved: Vec<String>,
    /// Rows skipped, with file and line.
    pub errors: Vec<String>,
}

/// What a nightly run did.
#[derive(Debug, Default, Serialize)]
pub struct NightlySummary {
    /// Images scanned and stored by this run.
    pub scanned: Vec<String>,
    /// Images skipped because their SHA-256 was already stored.
    pub already_stored: usize,
    /// Images that could not be read, with the reason.
    pub failed: Vec<String>,
    pub devices: ImportSummary,
    /// New and resolved findings: first findings of new images plus the rematch.
    pub rematch: RematchSummary,
}

/// A file's SHA-256, read in pieces: an image is hashed to find it in the
/// store before anything decides whether (and under which budget) it is
/// read whole, so hashing must not hold it in memory.
pub fn file_sha256(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}
