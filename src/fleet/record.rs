//! What the fleet keeps, whatever stores it: image records with their
//! findings' history, devices, and the changes an evaluation makes. Every
//! back end reads and writes these types; their JSON is the store's
//! record format and part of the API's answers.

use crate::model::Finding;
use crate::scan::ScanReport;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A stored firmware image.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageRecord {
    /// The scan result; its `findings` are the last evaluation, see `findings`.
    pub report: ScanReport,
    pub findings: Vec<FindingRecord>,
    pub scanned_at: String,
    #[serde(default)]
    pub firmware_versions: Vec<String>,
    /// Which write of the record this is, where the store counts them
    /// (PostgreSQL: a rematch tells a record triaged since it was read).
    #[serde(skip)]
    pub revision: u64,
}

/// A finding with its history on one image.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FindingRecord {
    pub key: String,
    pub finding: Finding,
    pub state: FindingState,
    pub first_seen: String,
    pub last_seen: String,
    /// The finding as the scan judged it, when a triage decision changed
    /// it (so that reopening restores it without scanning again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scanned: Option<Finding>,
}

/// A finding's place in an image's history: the scan's own state
/// ([`crate::model::FindingState`]) while the finding is present, and
/// `resolved` once a later evaluation no longer raises it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum FindingState {
    Active,
    Resolved,
    Suppressed,
    Fixed,
    NotAffected,
}

impl FindingState {
    pub fn as_str(self) -> &'static str {
        match self {
            FindingState::Active => "active",
            FindingState::Resolved => "resolved",
            FindingState::Suppressed => "suppressed",
            FindingState::Fixed => "fixed",
            FindingState::NotAffected => "not_affected",
        }
    }

    pub fn parse(text: &str) -> Option<FindingState> {
        Some(match text {
            "active" => FindingState::Active,
            "resolved" => FindingState::Resolved,
            "suppressed" => FindingState::Suppressed,
            "fixed" => FindingState::Fixed,
            "not_affected" => FindingState::NotAffected,
            _ => return None,
        })
    }

    /// The store's state for a scan's own verdict.
    pub fn of(state: crate::model::FindingState) -> FindingState {
        match state {
            crate::model::FindingState::Active => FindingState::Active,
            crate::model::FindingState::Suppressed => FindingState::Suppressed,
            crate::model::FindingState::Fixed => FindingState::Fixed,
            crate::model::FindingState::NotAffected => FindingState::NotAffected,
        }
    }
}

/// A device of the fleet.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
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
    /// What the device said about itself at its last check-in (uptime, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub facts: BTreeMap<String, serde_json::Value>,
}

/// A device's model and tags, as the image's device table keeps them, so
/// queries filter without loading device records.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeviceTag {
    pub model: String,
    pub tags: Vec<String>,
}

/// One firmware a device reported, and when it first did.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FirmwareSeen {
    pub at: String,
    pub firmware: String,
    #[serde(default)]
    pub image: Option<String>,
}

/// New and resolved findings of one evaluation.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Change {
    pub new: Vec<Finding>,
    pub resolved: Vec<Finding>,
}

/// One finding of one image as the findings index keeps it: enough to
/// list, filter and count findings across the fleet without loading an
/// image record.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FindingRow {
    pub image: String,
    pub key: String,
    pub kind: crate::model::FindingKind,
    pub state: FindingState,
    pub severity: crate::model::Severity,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advisory: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub summary: String,
    /// When the finding was first raised on the image (its last sighting
    /// is in the image record: kept out of the index so that a rematch
    /// rewrites only the rows whose state changed).
    pub first_seen: String,
}

impl FindingRow {
    pub fn of(image: &str, r: &FindingRecord) -> FindingRow {
        let f = &r.finding;
        FindingRow {
            image: image.to_string(),
            key: r.key.clone(),
            kind: f.kind,
            state: r.state,
            severity: f.severity,
            component: f.component.clone(),
            advisory: f.advisory.clone(),
            rule: f.rule.clone(),
            path: f.path.clone(),
            summary: f.summary.clone(),
            first_seen: r.first_seen.clone(),
        }
    }
}

/// Active findings of one image by severity rank (info .. critical), as
/// it stood from `day` on: the image's trend, one entry per day it changed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DayCounts {
    pub day: String,
    pub counts: [u64; 6],
}

/// Active findings by severity rank of a record.
pub fn active_counts(record: &ImageRecord) -> [u64; 6] {
    let mut counts = [0u64; 6];
    for r in record
        .findings
        .iter()
        .filter(|r| r.state == FindingState::Active)
    {
        counts[severity_index(r.finding.severity)] += 1;
    }
    counts
}

/// A severity's position in [`DayCounts::counts`], in `Severity`'s order.
pub fn severity_index(s: crate::model::Severity) -> usize {
    use crate::model::Severity;
    match s {
        Severity::Info => 0,
        Severity::Unknown => 1,
        Severity::Low => 2,
        Severity::Medium => 3,
        Severity::High => 4,
        Severity::Critical => 5,
    }
}

/// The severities in [`DayCounts::counts`] order.
pub const SEVERITIES: [crate::model::Severity; 6] = [
    crate::model::Severity::Info,
    crate::model::Severity::Unknown,
    crate::model::Severity::Low,
    crate::model::Severity::Medium,
    crate::model::Severity::High,
    crate::model::Severity::Critical,
];
