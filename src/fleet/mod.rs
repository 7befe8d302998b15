//! The fleet inventory: stored scans of every firmware image, the devices
//! that run them, and the questions a fleet operator asks of both.

pub mod buckets;
mod codec;
pub mod devices;
pub mod error;
pub mod keys;
pub mod queries;
pub mod store;
pub mod timing;

pub use error::FleetError;
pub use store::{Change, Device, Fleet};

use crate::advisory::Database;
use crate::scan::{self, Options};
use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::path::Path;

/// A stored image re-judged: its id, its record, its fresh findings.
type Judged = (String, store::ImageRecord, Vec<crate::model::Finding>);

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

fn describe(f: &crate::model::Finding) -> String {
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

impl Fleet {
    /// Re-judges every stored inventory against `db` without unpacking.
    pub fn rematch(
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
            for item in judged {
                let Some((sha, record, findings)) = item? else {
                    continue;
                };
                let change = self.replace_findings(&sha, record, &findings, now)?;
                let devices = self.device_count(&sha)?;
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
    pub fn resolve_firmware(&self, firmware: &str, base: &Path) -> Result<Option<String>, String> {
        let is_sha = firmware.len() == 64 && firmware.bytes().all(|b| b.is_ascii_hexdigit());
        if is_sha {
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
            let data = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            return Ok(Some(hex::encode(Sha256::digest(&data))));
        }
        self.image_for_version(firmware)
    }
}

/// A scan done through the store.
pub struct StoredScan {
    pub report: crate::scan::ScanReport,
    pub change: Change,
    /// True when the stored inventory was reused instead of unpacking again.
    pub cached: bool,
}

impl Fleet {
    /// Scans `path` unless an image with its SHA-256 is stored (then the
    /// stored inventory is re-judged), and records the result.
    pub fn scan_and_store(
        &self,
        path: &Path,
        db: &Database,
        options: &Options,
        rescan: bool,
        firmware_version: Option<&str>,
        now: &str,
    ) -> Result<StoredScan, String> {
        if path.is_file() && !rescan {
            let data = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let sha = hex::encode(Sha256::digest(&data));
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
    pub fn attach_device(
        &self,
        id: &str,
        firmware: &str,
        image: &str,
        now: &str,
    ) -> Result<(), String> {
        let old = self.device(id)?;
        self.upsert_device(&Device {
            id: id.to_string(),
            model: old.as_ref().map(|d| d.model.clone()).unwrap_or_default(),
            tags: old.map(|d| d.tags).unwrap_or_default(),
            firmware: firmware.to_string(),
            image: Some(image.to_string()),
            last_seen: now.to_string(),
        })
    }

    /// Upserts every good row of a device list; `base` resolves relative firmware paths.
    pub fn import_devices(&self, file: &Path, now: &str) -> Result<ImportSummary, String> {
        let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
        let parsed = devices::parse(&file.display().to_string(), &text);
        let base = file.parent().unwrap_or(Path::new("."));
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
                        let image = self.resolve_firmware(&row.firmware, base)?;
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
                });
            }
            self.upsert_devices(&batch)?;
            summary.imported += batch.len();
        }
        Ok(summary)
    }
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

impl Fleet {
    /// Scans the images in `images` not yet stored, imports `devices`, and
    /// re-matches everything, in that order (so device firmware paths
    /// resolve to freshly stored images).
    pub fn nightly(
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
            let data = match std::fs::read(path) {
                Ok(d) => d,
                Err(e) => {
                    summary.failed.push(format!("{}: {e}", path.display()));
                    continue;
                }
            };
            let sha = hex::encode(Sha256::digest(&data));
            drop(data);
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
}
