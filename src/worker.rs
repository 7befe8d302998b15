//! `fwaudit worker`: claims queued jobs from the fleet database and runs
//! them, on any number of machines that reach the database and read the
//! images (a shared path named in the job; uploads relative to
//! `--uploads`). Each of `--concurrency` slots claims one job at a time
//! (see [`crate::fleet::pg_store::queue`]), renews its lease while it
//! works, scans on a blocking thread (never on the async runtime: a scan
//! is seconds of CPU) and stores the result and the job's completion in one
//! transaction. A lost database is waited for: every slot retries with
//! backoff and carries on where it was. SIGTERM or Ctrl-C stops claiming
//! and lets the running jobs finish.

use crate::advisory::Database;
use crate::fleet::FleetOps;
use crate::fleet::access::{Job, JobKind, JobState};
use crate::fleet::pg_store::PgStore;
use crate::fleet::pg_store::queue::{Claim, Finished};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// How `fwaudit worker` was started.
#[derive(Debug, Clone)]
pub struct Config {
    /// Jobs run at once.
    pub concurrency: usize,
    /// How long a claim holds without a heartbeat (renewed every third of it).
    pub lease: Duration,
    /// Where uploaded images are (a job naming a relative file).
    pub uploads: PathBuf,
    /// The data directory: the advisory database findings are judged by.
    pub data_dir: PathBuf,
    /// This worker's name in the jobs it holds.
    pub name: String,
    /// Wait between claims when the queue is empty.
    pub poll: Duration,
}

/// What a worker did before it stopped.
#[derive(Debug, Default)]
pub struct Summary {
    pub done: u64,
    pub failed: u64,
    pub lost: u64,
}

/// The default name: host and process id.
pub fn default_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "worker".into());
    format!("{host}:{}", std::process::id())
}

struct Shared {
    store: Arc<PgStore>,
    db: Arc<Database>,
    config: Config,
    stop: AtomicBool,
    done: AtomicU64,
    failed: AtomicU64,
    lost: AtomicU64,
}

/// Runs until SIGTERM or Ctrl-C (then finishes the jobs it holds).
pub fn run(store: PgStore, config: Config) -> Result<Summary, String> {
    let db = Arc::new(Database::load(&config.data_dir).map_err(|e| e.to_string())?);
    let store = Arc::new(store);
    let handle = store.handle();
    let shared = Arc::new(Shared {
        store,
        db,
        config,
        stop: AtomicBool::new(false),
        done: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        lost: AtomicU64::new(0),
    });
    eprintln!(
        "fwaudit: worker {} on {} ({} slots)",
        shared.config.name,
        crate::fleet::FleetStore::location(shared.store.as_ref()),
        shared.config.concurrency
    );
    let s = shared.clone();
    handle.block_on(async move {
        let stopper = s.clone();
        tokio::spawn(async move {
            shutdown_signal().await;
            eprintln!("fwaudit: worker: stopping after the jobs it holds");
            stopper.stop.store(true, Ordering::SeqCst);
        });
        let slots: Vec<_> = (0..s.config.concurrency.max(1))
            .map(|_| tokio::spawn(slot(s.clone())))
            .collect();
        for slot in slots {
            let _ = slot.await;
        }
    });
    Ok(Summary {
        done: shared.done.load(Ordering::SeqCst),
        failed: shared.failed.load(Ordering::SeqCst),
        lost: shared.lost.load(Ordering::SeqCst),
    })
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let term = async {
            if let Ok(mut s) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            {
                s.recv().await;
            }
        };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// One slot: claim, run, repeat.
async fn slot(s: Arc<Shared>) {
    let mut failures: u32 = 0;
    while !s.stop.load(Ordering::SeqCst) {
        let now = crate::date::now_utc();
        match s
            .store
            .claim(
                &s.config.name,
                &[JobKind::Scan, JobKind::Rematch],
                s.config.lease,
                &now,
            )
            .await
        {
            Ok(Some(claim)) => {
                failures = 0;
                run_job(&s, claim).await;
            }
            Ok(None) => {
                failures = 0;
                pause(&s, s.config.poll).await;
            }
            Err(e) => {
                // The database is away: say so once, then keep trying.
                if failures == 0 {
                    eprintln!("fwaudit: worker: {e} (retrying)");
                }
                failures += 1;
                pause(&s, crate::fleet::pg_store::backoff(failures.min(6))).await;
            }
        }
    }
}

/// Sleeps up to `d`, less when the worker is told to stop.
async fn pause(s: &Shared, d: Duration) {
    let step = Duration::from_millis(100);
    let mut left = d;
    while !left.is_zero() && !s.stop.load(Ordering::SeqCst) {
        let t = left.min(step);
        tokio::time::sleep(t).await;
        left -= t;
    }
}

/// Where a job's image is: an absolute path as given, a relative one
/// under the uploads directory.
fn image_path(s: &Shared, job: &Job) -> Option<PathBuf> {
    let file = job.file.as_deref()?;
    let path = Path::new(file);
    Some(if path.is_absolute() {
        path.to_path_buf()
    } else {
        s.config.uploads.join(path)
    })
}

async fn run_job(s: &Arc<Shared>, claim: Claim) {
    let lost = Arc::new(AtomicBool::new(false));
    let beat = {
        let store = s.store.clone();
        let claim = claim.clone();
        let lease = s.config.lease;
        let lost = lost.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(lease / 3).await;
                match store.heartbeat(&claim, lease).await {
                    Ok(true) => {}
                    Ok(false) => {
                        lost.store(true, Ordering::SeqCst);
                        return;
                    }
                    // The database is away: the next beat tries again.
                    Err(_) => {}
                }
            }
        })
    };
    let outcome = match claim.job.kind {
        JobKind::Scan => scan(s, &claim).await,
        JobKind::Rematch => rematch(s, &claim).await,
    };
    beat.abort();
    let now = crate::date::now_utc();
    let finished = match outcome {
        Ok(finished) => finished,
        Err(error) => {
            eprintln!("fwaudit: worker: job {}: {error}", claim.job.id);
            // Another try in a few seconds, on whichever worker claims it.
            s.store
                .fail_job(&claim, &error, Duration::from_secs(2), &now)
                .await
        }
    };
    match finished {
        Ok(Finished::Ok(JobState::Done)) => {
            s.done.fetch_add(1, Ordering::SeqCst);
            remove_upload(s, &claim.job);
        }
        Ok(Finished::Ok(JobState::Failed)) => {
            s.failed.fetch_add(1, Ordering::SeqCst);
            remove_upload(s, &claim.job);
        }
        Ok(Finished::Ok(_)) => {}
        Ok(Finished::LeaseLost) => {
            s.lost.fetch_add(1, Ordering::SeqCst);
            eprintln!(
                "fwaudit: worker: job {}: its lease ran out and another worker holds it now: result dropped",
                claim.job.id
            );
        }
        Err(e) => eprintln!("fwaudit: worker: job {}: {e}", claim.job.id),
    }
}

/// An uploaded image (relative to the uploads directory) is not needed
/// once its job is over; images on a shared path are the operator's.
fn remove_upload(s: &Shared, job: &Job) {
    if let Some(file) = job.file.as_deref()
        && Path::new(file).is_relative()
    {
        let _ = std::fs::remove_file(s.config.uploads.join(file));
    }
}

async fn scan(s: &Arc<Shared>, claim: &Claim) -> Result<Result<Finished, String>, String> {
    let path = image_path(s, &claim.job).ok_or_else(|| "scan job without a file".to_string())?;
    let db = s.db.clone();
    let scanned = tokio::task::spawn_blocking(move || {
        crate::scan::scan(&path, &db, &crate::serve::scan_options())
    })
    .await
    .map_err(|e| format!("the scan stopped: {e}"))??;
    let now = crate::date::now_utc();
    let (finished, summary) = match s.store.finish_scan(claim, &scanned, &now).await {
        Ok(v) => v,
        Err(e) => return Ok(Err(e)),
    };
    notify(s, &summary).await;
    Ok(Ok(finished))
}

/// Tells the webhooks what a job found; a delivery that failed every
/// attempt is in the delivery log, not a failed job.
async fn notify(s: &Shared, summary: &crate::fleet::RematchSummary) {
    let events = crate::serve::webhooks::rematch_events(summary);
    if events.is_empty() {
        return;
    }
    let client = reqwest::Client::new();
    crate::serve::webhooks::deliver(
        s.store.as_ref(),
        &client,
        &events,
        crate::serve::webhooks::RetryPolicy::default(),
    )
    .await;
}

async fn rematch(s: &Arc<Shared>, claim: &Claim) -> Result<Result<Finished, String>, String> {
    let store = s.store.clone();
    // The advisory database as it is now (it may have been updated).
    let data_dir = s.config.data_dir.clone();
    let summary = tokio::task::spawn_blocking(move || {
        let db = Database::load(&data_dir).map_err(|e| e.to_string())?;
        let now = crate::date::now_utc();
        store.rematch(&db, &crate::serve::scan_options(), &now)
    })
    .await
    .map_err(|e| format!("the rematch stopped: {e}"))??;
    let value = serde_json::to_value(&summary).map_err(|e| e.to_string())?;
    let now = crate::date::now_utc();
    let finished = s.store.finish_with(claim, value, &now).await;
    if matches!(finished, Ok(Finished::Ok(JobState::Done))) {
        notify(s, &summary).await;
    }
    Ok(finished)
}
