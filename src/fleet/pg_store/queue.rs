//! The job queue in the `jobs` table, for `fwaudit worker`s on any number
//! of machines. A worker claims the oldest claimable job with
//! `SELECT ... FOR UPDATE SKIP LOCKED` (workers never wait on each other)
//! and holds it under a lease it renews; a job whose lease ran out (its
//! worker died) is claimed again. The result is stored in the same
//! transaction that marks the job done, and only by the holder of the
//! job's current lease token: a job is done exactly once. A job that
//! failed [`MAX_ATTEMPTS`] times (a lost lease counts) is marked failed
//! with its last error.

use super::{E, PgStore, R, retrying};
use crate::fleet::access::{Job, JobKind, JobState};
use crate::fleet::ops::describe;
use crate::fleet::{ImageChange, RematchSummary};
use crate::scan::ScanReport;
use std::time::Duration;
use tokio_postgres::GenericClient;

/// Claims of one job before it is marked failed.
pub const MAX_ATTEMPTS: i32 = 3;

fn kind_str(kind: JobKind) -> &'static str {
    match kind {
        JobKind::Scan => "scan",
        JobKind::Rematch => "rematch",
    }
}

fn state_str(state: JobState) -> &'static str {
    match state {
        JobState::Queued => "queued",
        JobState::Running => "running",
        JobState::Done => "done",
        JobState::Failed => "failed",
    }
}

fn state_of(text: &str) -> R<JobState> {
    Ok(match text {
        "queued" => JobState::Queued,
        "running" => JobState::Running,
        "done" => JobState::Done,
        "failed" => JobState::Failed,
        other => return Err(E::Msg(format!("fleet store: corrupt job state {other:?}"))),
    })
}

const JOB_COLUMNS: &str = "record, state, attempts, lease_owner";

/// A job from its row: the record, with the columns' state, attempts and worker.
fn job_of(row: &tokio_postgres::Row) -> R<Job> {
    let mut job: Job = serde_json::from_str(row.get(0))
        .map_err(|e| E::Msg(format!("fleet store: corrupt job: {e}")))?;
    job.state = state_of(row.get(1))?;
    job.attempts = row.get::<_, i32>(2).max(0) as u32;
    job.worker = row.get(3);
    Ok(job)
}

pub(super) async fn put_job(c: &impl GenericClient, job: &Job) -> R<()> {
    let record = super::images::json(job)?;
    c.execute(
        "INSERT INTO jobs (id, kind, state, created, record) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (id) DO UPDATE SET state = excluded.state, record = excluded.record",
        &[
            &job.id,
            &kind_str(job.kind),
            &state_str(job.state),
            &job.created,
            &record,
        ],
    )
    .await?;
    Ok(())
}

pub(super) async fn job(c: &impl GenericClient, id: &str) -> R<Option<Job>> {
    match c
        .query_opt(
            &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"),
            &[&id],
        )
        .await?
    {
        Some(row) => job_of(&row).map(Some),
        None => Ok(None),
    }
}

pub(super) async fn jobs(c: &impl GenericClient, limit: usize) -> R<Vec<Job>> {
    let limit = limit.min(i64::MAX as usize) as i64;
    let rows = c
        .query(
            &format!("SELECT {JOB_COLUMNS} FROM jobs ORDER BY created DESC, id DESC LIMIT $1"),
            &[&limit],
        )
        .await?;
    rows.iter().map(job_of).collect()
}

/// A job a worker holds, and the token that proves it.
#[derive(Debug, Clone)]
pub struct Claim {
    pub job: Job,
    pub token: String,
}

/// How finishing a job went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finished {
    /// Stored and marked done (or failed, or queued again).
    Ok(JobState),
    /// The lease ran out and another worker holds the job now: nothing
    /// was stored.
    LeaseLost,
}

impl PgStore {
    /// Claims the oldest job of one of `kinds` that is queued, or running
    /// under an expired lease, for `worker`; first marks failed the jobs
    /// whose lease expired for the last time.
    pub async fn claim(
        &self,
        worker: &str,
        kinds: &[JobKind],
        lease: Duration,
        now: &str,
    ) -> Result<Option<Claim>, String> {
        let kinds: Vec<&str> = kinds.iter().map(|k| kind_str(*k)).collect();
        let token = crate::fleet::access::random_hex(16).map_err(|e| e.to_string())?;
        let secs = lease.as_secs_f64();
        retrying!(self, c => {
            c.execute(
                "UPDATE jobs SET state = 'failed', lease_token = NULL, lease_until = NULL, \
                   record = (record::jsonb || jsonb_build_object('error', \
                     'its worker stopped or lost the database ' || attempts || ' times (lease expired)', \
                     'finished', $2::text))::text \
                 WHERE state = 'running' AND lease_until < now() AND attempts >= $1",
                &[&MAX_ATTEMPTS, &now],
            )
            .await?;
            let row = c
                .query_opt(
                    &format!(
                        "WITH next AS ( \
                           SELECT id FROM jobs \
                           WHERE state IN ('queued', 'running') AND kind = ANY($4) AND not_before <= now() \
                             AND (state = 'queued' OR (lease_until < now() AND attempts < $5)) \
                           ORDER BY created, id LIMIT 1 FOR UPDATE SKIP LOCKED) \
                         UPDATE jobs j SET state = 'running', attempts = j.attempts + 1, lease_owner = $1, \
                           lease_token = $2, lease_until = now() + make_interval(secs => $3), \
                           record = (j.record::jsonb || jsonb_build_object('started', $6::text))::text \
                         FROM next WHERE j.id = next.id \
                         RETURNING j.{}",
                        JOB_COLUMNS.replace(", ", ", j.")
                    ),
                    &[&worker, &token, &secs, &kinds, &MAX_ATTEMPTS, &now],
                )
                .await?;
            match row {
                Some(row) => Ok(Some(Claim {
                    job: job_of(&row)?,
                    token: token.clone(),
                })),
                None => Ok(None),
            }
        })
    }

    /// Renews a lease; false when the job is no longer this claim's.
    pub async fn heartbeat(&self, claim: &Claim, lease: Duration) -> Result<bool, String> {
        let secs = lease.as_secs_f64();
        retrying!(self, c => {
            let n = c
                .execute(
                    "UPDATE jobs SET lease_until = now() + make_interval(secs => $3) \
                     WHERE id = $1 AND lease_token = $2 AND state = 'running'",
                    &[&claim.job.id, &claim.token, &secs],
                )
                .await?;
            Ok(n == 1)
        })
    }

    /// Stores a scan job's report and marks the job done, in one
    /// transaction, if the claim still holds the job; with the findings
    /// the image raised for the first time (for the webhooks).
    pub async fn finish_scan(
        &self,
        claim: &Claim,
        report: &ScanReport,
        now: &str,
    ) -> Result<(Finished, RematchSummary), String> {
        let (finished, summary) = retrying!(self, c => {
            let tx = c.transaction().await?;
            if let Some(done) = check_lease(&tx, claim).await? {
                return Ok((done, RematchSummary::default()));
            }
            let change = super::images::store_image(
                &tx,
                report,
                claim.job.firmware_version.as_deref(),
                now,
            )
            .await?;
            let sha = report.target.sha256.clone().unwrap_or_default();
            let new: Vec<serde_json::Value> = change
                .new
                .iter()
                .map(|f| serde_json::json!({"finding": describe(f), "severity": f.severity}))
                .collect();
            let result = serde_json::json!({
                "image": sha,
                "cached": false,
                "components": report.components.len(),
                "findings": report.findings.len(),
                "new_findings": change.new.len(),
                "new": new,
                "notes": report.notes.iter().map(|n| n.message.clone()).collect::<Vec<_>>(),
            });
            mark_done(&tx, claim, result, now).await?;
            let devices = super::devices::counts(&*tx, &[sha.as_str()])
                .await?
                .get(&sha)
                .copied()
                .unwrap_or(0);
            tx.commit().await?;
            let summary = RematchSummary {
                images: 1,
                new: change
                    .new
                    .iter()
                    .map(|f| ImageChange {
                        image: sha.clone(),
                        finding: describe(f),
                        severity: f.severity,
                        devices,
                    })
                    .collect(),
                resolved: Vec::new(),
            };
            Ok((Finished::Ok(JobState::Done), summary))
        })?;
        if finished == Finished::Ok(JobState::Done) {
            self.bump().await.map_err(|e| self.fail(e))?;
        }
        Ok((finished, summary))
    }

    /// Marks a job done with `result` if the claim still holds it.
    pub async fn finish_with(
        &self,
        claim: &Claim,
        result: serde_json::Value,
        now: &str,
    ) -> Result<Finished, String> {
        retrying!(self, c => {
            let tx = c.transaction().await?;
            if let Some(done) = check_lease(&tx, claim).await? {
                return Ok(done);
            }
            mark_done(&tx, claim, result.clone(), now).await?;
            tx.commit().await?;
            Ok(Finished::Ok(JobState::Done))
        })
    }

    /// Records a failed attempt: the job is queued again (after `retry_in`)
    /// or, at its [`MAX_ATTEMPTS`]th, marked failed with `error`.
    pub async fn fail_job(
        &self,
        claim: &Claim,
        error: &str,
        retry_in: Duration,
        now: &str,
    ) -> Result<Finished, String> {
        let secs = retry_in.as_secs_f64();
        retrying!(self, c => {
            let row = c
                .query_opt(
                    "UPDATE jobs SET \
                       state = CASE WHEN attempts >= $4 THEN 'failed' ELSE 'queued' END, \
                       lease_until = NULL, lease_token = NULL, \
                       not_before = now() + make_interval(secs => $5), \
                       record = (record::jsonb || jsonb_build_object('error', $3::text) || \
                         CASE WHEN attempts >= $4 THEN jsonb_build_object('finished', $6::text) \
                              ELSE '{}'::jsonb END)::text \
                     WHERE id = $1 AND lease_token = $2 AND state = 'running' RETURNING state",
                    &[&claim.job.id, &claim.token, &error, &MAX_ATTEMPTS, &secs, &now],
                )
                .await?;
            match row {
                Some(row) => Ok(Finished::Ok(state_of(row.get(0))?)),
                None => Ok(Finished::LeaseLost),
            }
        })
    }

    /// Queues jobs (one statement).
    pub async fn enqueue(&self, jobs: &[Job]) -> Result<(), String> {
        retrying!(self, c => {
            let tx = c.transaction().await?;
            for job in jobs {
                put_job(&*tx, job).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// The jobs of these ids as they stand.
    pub async fn jobs_by_id(&self, ids: &[String]) -> Result<Vec<Job>, String> {
        retrying!(self, c => {
            let rows = c
                .query(
                    &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ANY($1) ORDER BY created, id"),
                    &[&ids],
                )
                .await?;
            rows.iter().map(job_of).collect::<R<Vec<_>>>()
        })
    }

    /// How many times each job's result was stored (the exactly-once check).
    pub async fn completions(&self) -> Result<Vec<(String, i32, i32)>, String> {
        retrying!(self, c => {
            let rows = c
                .query("SELECT id, completions, attempts FROM jobs ORDER BY id", &[])
                .await?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect())
        })
    }
}

/// Locks the job's row: None when the claim still holds it; the outcome
/// to report when it does not (done already by this very claim, its
/// commit retried after a lost connection; or lost to another worker).
async fn check_lease(tx: &tokio_postgres::Transaction<'_>, claim: &Claim) -> R<Option<Finished>> {
    let row = tx
        .query_opt(
            "SELECT state, lease_token FROM jobs WHERE id = $1 FOR UPDATE",
            &[&claim.job.id],
        )
        .await?;
    let Some(row) = row else {
        return Ok(Some(Finished::LeaseLost));
    };
    let (state, token): (String, Option<String>) = (row.get(0), row.get(1));
    if token.as_deref() != Some(claim.token.as_str()) {
        return Ok(Some(Finished::LeaseLost));
    }
    match state.as_str() {
        "running" => Ok(None),
        "done" => Ok(Some(Finished::Ok(JobState::Done))),
        _ => Ok(Some(Finished::LeaseLost)),
    }
}

async fn mark_done(
    tx: &tokio_postgres::Transaction<'_>,
    claim: &Claim,
    result: serde_json::Value,
    now: &str,
) -> R<()> {
    let mut job = claim.job.clone();
    job.state = JobState::Done;
    job.finished = Some(now.to_string());
    job.error = None;
    job.result = Some(result);
    let record = super::images::json(&job)?;
    tx.execute(
        "UPDATE jobs SET state = 'done', completions = completions + 1, lease_until = NULL, \
           record = $2 WHERE id = $1",
        &[&job.id, &record],
    )
    .await?;
    Ok(())
}
