//! `fleet nightly --database URL`: the day's new images go to the job
//! queue, for however many `fwaudit worker`s there are; the command waits
//! for them, then imports the devices and rematches, as the embedded
//! store's nightly does in-process.

use super::PgStore;
use crate::advisory::Database;
use crate::fleet::access::{Job, JobKind, JobState};
use crate::fleet::ops::{ImageChange, NightlySummary};
use crate::fleet::{FleetOps, FleetStore};
use crate::scan::Options;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::time::{Duration, Instant};

/// Where a nightly run stands, for a progress bar.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    pub total: u64,
    pub finished: u64,
    pub running: u64,
    pub message: String,
}

/// With no job running for this long, the run says that it is waiting
/// for a worker.
const IDLE_HINT: Duration = Duration::from_secs(30);

impl PgStore {
    /// Queues a scan of every image in `images` not yet stored, waits for
    /// the workers to finish them, imports `devices_file` and rematches.
    pub fn nightly_queued(
        &self,
        devices_file: &Path,
        images: &Path,
        db: &Database,
        options: &Options,
        now: &str,
        progress: &dyn Fn(&Progress),
    ) -> Result<NightlySummary, String> {
        let mut summary = NightlySummary::default();
        let mut files: Vec<_> = std::fs::read_dir(images)
            .map_err(|e| format!("{}: {e}", images.display()))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        let mut jobs = Vec::new();
        // Job id -> the path as given (the job holds it absolute).
        let mut given = std::collections::HashMap::new();
        for path in &files {
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
            // Workers on other machines read it at the same path.
            let absolute =
                std::path::absolute(path).map_err(|e| format!("{}: {e}", path.display()))?;
            // Claimed in the images' order (same time: by id).
            let id = format!("n{:06}{}", jobs.len(), crate::fleet::access::random_hex(6)?);
            given.insert(id.clone(), path.display().to_string());
            jobs.push(Job {
                id,
                kind: JobKind::Scan,
                state: JobState::Queued,
                created: now.to_string(),
                started: None,
                finished: None,
                file: Some(absolute.display().to_string()),
                size: std::fs::metadata(path).ok().map(|m| m.len()),
                firmware_version: None,
                error: None,
                result: None,
                attempts: 0,
                worker: None,
            });
        }
        self.run(|| self.enqueue(&jobs))?;
        let ids: Vec<String> = jobs.iter().map(|j| j.id.clone()).collect();
        let total = ids.len() as u64;
        let mut last_change = Instant::now();
        let mut last_finished = u64::MAX;
        let finished_jobs = loop {
            let states = self.run(|| self.jobs_by_id(&ids))?;
            let finished = states
                .iter()
                .filter(|j| matches!(j.state, JobState::Done | JobState::Failed))
                .count() as u64;
            let running = states
                .iter()
                .filter(|j| j.state == JobState::Running)
                .count() as u64;
            if finished != last_finished || running > 0 {
                last_change = Instant::now();
                last_finished = finished;
            }
            let mut workers: Vec<&str> = states
                .iter()
                .filter(|j| j.state == JobState::Running)
                .filter_map(|j| j.worker.as_deref())
                .collect();
            workers.sort_unstable();
            workers.dedup();
            let message = if finished == total {
                "scans done".to_string()
            } else if last_change.elapsed() > IDLE_HINT {
                format!(
                    "{} queued, none running for {} s: is `fwaudit worker --database ...` running?",
                    total - finished,
                    last_change.elapsed().as_secs()
                )
            } else {
                format!(
                    "{} queued, {running} scanning on {}",
                    total - finished - running,
                    if workers.is_empty() {
                        "no worker yet".to_string()
                    } else {
                        workers.join(", ")
                    }
                )
            };
            progress(&Progress {
                total,
                finished,
                running,
                message,
            });
            if finished == total {
                break states;
            }
            std::thread::sleep(Duration::from_millis(500));
        };
        let mut first_findings = Vec::new();
        for job in finished_jobs {
            let file = given.remove(&job.id).unwrap_or_default();
            match job.state {
                JobState::Done => {
                    summary.scanned.push(file);
                    let result = job.result.unwrap_or_default();
                    let sha = result["image"].as_str().unwrap_or_default().to_string();
                    for new in result["new"].as_array().into_iter().flatten() {
                        let severity = serde_json::from_value(new["severity"].clone())
                            .unwrap_or(crate::model::Severity::Unknown);
                        let finding = new["finding"].as_str().unwrap_or_default().to_string();
                        first_findings.push((sha.clone(), finding, severity));
                    }
                }
                _ => summary.failed.push(format!(
                    "{file}: {}",
                    job.error.as_deref().unwrap_or("failed")
                )),
            }
        }
        summary.devices = self.import_devices(devices_file, now)?;
        summary.rematch = self.rematch(db, options, now)?;
        for (sha, finding, severity) in first_findings {
            let devices = self.device_count(&sha)?;
            summary.rematch.new.push(ImageChange {
                image: sha,
                finding,
                severity,
                devices,
            });
        }
        Ok(summary)
    }
}
