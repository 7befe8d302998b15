//! Background jobs: scans of uploaded images and rematches run on one
//! worker thread (never on the async runtime: a scan is seconds of CPU),
//! one at a time, in the order they were queued. Each job's state is kept
//! in the store; a job left queued or running by a stopped server runs
//! again when the next one starts (both kinds are idempotent).

use super::state::AppState;
use super::webhooks::{self, Event};
use crate::advisory::Database;
use crate::fleet::access::{Job, JobKind, JobState};
use crate::fleet::{FleetOps, FleetStore};
use std::path::{Path, PathBuf};
use std::sync::mpsc::Receiver;

/// Where uploads wait for their scan, under the data directory.
pub fn upload_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("uploads")
}

/// Jobs a stopped server left unfinished, oldest first.
pub fn unfinished(store: &dyn FleetStore) -> Result<Vec<String>, String> {
    let mut jobs = store.jobs(usize::MAX)?;
    jobs.retain(|j| matches!(j.state, JobState::Queued | JobState::Running));
    jobs.sort_by(|a, b| a.created.cmp(&b.created).then(a.id.cmp(&b.id)));
    Ok(jobs.into_iter().map(|j| j.id).collect())
}

/// Runs jobs as their ids arrive until every sender is gone.
pub fn worker(state: AppState, ids: Receiver<String>) {
    for id in ids {
        if let Err(e) = run(&state, &id) {
            eprintln!("fwaudit: serve: job {id}: {e}");
        }
    }
}

fn run(state: &AppState, id: &str) -> Result<(), String> {
    let store = state.store.as_ref();
    let Some(mut job) = store.job(id)? else {
        return Ok(());
    };
    job.state = JobState::Running;
    job.started = Some(crate::date::now_utc());
    store.put_job(&job)?;
    let now = crate::date::now_utc();
    let outcome = match job.kind {
        JobKind::Rematch => rematch(state, &now),
        JobKind::Scan => scan(state, &job, &now),
    };
    job.finished = Some(crate::date::now_utc());
    match outcome {
        Ok((result, events)) => {
            job.state = JobState::Done;
            job.result = Some(result);
            store.put_job(&job)?;
            state.changed();
            state.notify(events);
        }
        Err(e) => {
            job.state = JobState::Failed;
            job.error = Some(e);
            store.put_job(&job)?;
        }
    }
    Ok(())
}

type Outcome = Result<(serde_json::Value, Vec<Event>), String>;

fn rematch(state: &AppState, now: &str) -> Outcome {
    // The advisory database may have been updated since the server started.
    let db = Database::load(&state.config.data_dir).map_err(|e| e.to_string())?;
    let summary = state.store.rematch(&db, &super::scan_options(), now)?;
    let events = webhooks::rematch_events(&summary);
    let value = serde_json::to_value(&summary).map_err(|e| e.to_string())?;
    Ok((value, events))
}

fn scan(state: &AppState, job: &Job, now: &str) -> Outcome {
    let file = job
        .file
        .as_deref()
        .ok_or_else(|| "scan job without a file".to_string())?;
    let path = upload_dir(&state.config.data_dir).join(file);
    let db = Database::load(&state.config.data_dir).map_err(|e| e.to_string())?;
    let result = state.store.scan_and_store(
        &path,
        &db,
        &super::scan_options(),
        false,
        job.firmware_version.as_deref(),
        now,
    );
    // The upload is not needed once its inventory is stored (or failed).
    let _ = std::fs::remove_file(&path);
    let stored = result?;
    let sha = stored.report.target.sha256.clone().unwrap_or_default();
    let devices = state.store.device_count(&sha)?;
    let summary = crate::fleet::RematchSummary {
        images: 1,
        new: stored
            .change
            .new
            .iter()
            .map(|f| crate::fleet::ImageChange {
                image: sha.clone(),
                finding: crate::fleet::ops::describe(f),
                severity: f.severity,
                devices,
            })
            .collect(),
        resolved: Vec::new(),
    };
    let events = webhooks::rematch_events(&summary);
    let value = serde_json::json!({
        "image": sha,
        "cached": stored.cached,
        "components": stored.report.components.len(),
        "findings": stored.report.findings.len(),
        "new_findings": summary.new.len(),
        "notes": stored.report.notes.iter().map(|n| n.message.clone()).collect::<Vec<_>>(),
    });
    Ok((value, events))
}
