//! Who may do what, and what the service remembers about it: API keys,
//! users, device tokens (hashes only), triage decisions with their audit
//! trail, webhooks with their delivery log, and background jobs. The
//! store keeps these records; `serve` checks and acts on them.

use crate::model::Severity;
use serde::{Deserialize, Serialize};

/// What a key or user may do; each scope includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read devices, images, findings and answers.
    Read,
    /// Also suppress, accept or reopen findings.
    Triage,
    /// Also import devices, upload images, start rematches.
    Write,
    /// Also manage keys, device tokens and webhooks.
    Admin,
}

impl Role {
    pub fn parse(text: &str) -> Option<Role> {
        Some(match text {
            "read" => Role::Read,
            "triage" => Role::Triage,
            "write" => Role::Write,
            "admin" => Role::Admin,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::Triage => "triage",
            Role::Write => "write",
            Role::Admin => "admin",
        }
    }
}

/// An API key. Only a SHA-256 of its secret is kept: the token is shown
/// once, when it is created.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ApiKey {
    /// Public part of the token (`fwk_<id>_<secret>`), the store's key.
    pub id: String,
    pub name: String,
    pub scope: Role,
    /// When not empty, the key sees only devices carrying one of these
    /// tags, and the images and findings those devices run.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Hex SHA-256 of the secret part.
    pub hash: String,
    pub created: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked: Option<String>,
}

/// A dashboard user: an argon2 hash of the password (PHC string).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub password_hash: String,
    pub scope: Role,
    #[serde(default)]
    pub tags: Vec<String>,
    pub created: String,
}

/// A device's check-in credential: the SHA-256 of its token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeviceToken {
    pub device: String,
    pub hash: String,
    pub created: String,
}

/// What a triage decision sets a finding to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriageAction {
    /// Accepted risk: the finding stays listed, marked suppressed.
    Suppress,
    /// The vulnerable code is not reachable on this firmware.
    NotAffected,
    /// Back to the scan's own verdict (the decision is removed).
    Reopen,
}

impl TriageAction {
    pub fn parse(text: &str) -> Option<TriageAction> {
        Some(match text {
            "suppress" => TriageAction::Suppress,
            "not_affected" => TriageAction::NotAffected,
            "reopen" => TriageAction::Reopen,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TriageAction::Suppress => "suppress",
            TriageAction::NotAffected => "not_affected",
            TriageAction::Reopen => "reopen",
        }
    }
}

/// A person's decision about one finding on one image; kept apart from
/// the image record so that every re-evaluation applies it again.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TriageDecision {
    pub image: String,
    /// The finding's stable key (see [`super::history::finding_key`]).
    pub finding: String,
    pub action: TriageAction,
    pub reason: String,
    /// `YYYY-MM-DD`; from that day on the decision no longer applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    pub by: String,
    pub at: String,
}

impl TriageDecision {
    /// True while the decision applies on `now` (an RFC 3339 time).
    pub fn applies(&self, now: &str) -> bool {
        let today = now.get(..10).unwrap_or(now);
        self.expires.as_deref().is_none_or(|e| e > today)
    }
}

/// One line of the triage audit log: who changed what, when, from what.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuditEntry {
    /// Position in the log (assigned by the store, increasing).
    #[serde(default)]
    pub seq: u64,
    pub at: String,
    pub by: String,
    pub action: TriageAction,
    pub image: String,
    pub finding: String,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    pub from_state: String,
    pub to_state: String,
}

/// What a webhook is told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    /// A finding became active on an image.
    NewFinding,
    /// A finding went away on an image.
    Resolved,
    /// A device reported firmware it did not run before.
    NewDeviceFirmware,
}

impl EventKind {
    pub fn parse(text: &str) -> Option<EventKind> {
        Some(match text {
            "new-finding" => EventKind::NewFinding,
            "resolved" => EventKind::Resolved,
            "new-device-firmware" => EventKind::NewDeviceFirmware,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::NewFinding => "new-finding",
            EventKind::Resolved => "resolved",
            EventKind::NewDeviceFirmware => "new-device-firmware",
        }
    }
}

/// A webhook: where events go and the secret their signature uses.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Hook {
    pub id: String,
    pub url: String,
    pub events: Vec<EventKind>,
    /// Finding events below this severity are not sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_severity: Option<Severity>,
    /// HMAC-SHA256 key for `X-Fwaudit-Signature`; shown once, at creation.
    pub secret: String,
    pub created: String,
}

/// One attempt to deliver one batch to one hook.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Delivery {
    #[serde(default)]
    pub seq: u64,
    pub hook: String,
    pub batch: String,
    pub attempt: u32,
    pub at: String,
    pub events: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub delivered: bool,
    pub duration_ms: u64,
}

/// What a background job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    Scan,
    Rematch,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    Queued,
    Running,
    Done,
    Failed,
}

/// A background job and its outcome.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Job {
    pub id: String,
    pub kind: JobKind,
    pub state: JobState,
    pub created: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished: Option<String>,
    /// For scans: the uploaded file (under the data directory) and its size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firmware_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What the job found: for a scan the image and its new findings, for
    /// a rematch the summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
    /// Times a worker claimed it (a claim whose worker died counts): the
    /// third failed one marks the job failed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub attempts: u32,
    /// The worker that holds it, or held it last (`fwaudit worker`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// `n` random bytes as hex: ids and secrets of the records kept here
/// (tokens, keys) and of the queue's jobs.
pub fn random_hex(n: usize) -> Result<String, String> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).map_err(|e| format!("no randomness: {e}"))?;
    Ok(hex::encode(buf))
}
