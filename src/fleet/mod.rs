//! The fleet inventory: stored scans of every firmware image, the devices
//! that run them, and the questions a fleet operator asks of both.
//!
//! Everything the fleet keeps goes through one trait, [`FleetStore`]: the
//! command line and `serve` use nothing else, so a second back end
//! (PostgreSQL, for fleets that outgrow one machine) is one more
//! implementation. [`sled_store`] is the embedded default. Operations built
//! only on the trait (rematch, import, nightly) are in [`ops`].

pub mod access;
pub mod derived;
pub mod devices;
pub mod error;
pub mod history;
pub mod keys;
pub mod open;
pub mod ops;
pub mod pg_store;
pub mod queries;
pub mod record;
pub mod sled_store;
pub mod timing;
pub mod transfer;

pub use error::FleetError;
pub use ops::{FleetOps, ImageChange, ImportSummary, NightlySummary, RematchSummary, StoredScan};
pub use pg_store::PgStore;
pub use record::{Change, Device, DeviceTag, FindingRecord, FindingState, ImageRecord};
pub use sled_store::SledStore;

/// The embedded store under the data directory (the default back end).
pub type Fleet = SledStore;

use access::{ApiKey, AuditEntry, Delivery, DeviceToken, Hook, Job, TriageDecision, User};
use queries::{PatchFilter, PatchGroup, Scope, VersionReq, WhereHit};
use record::{DayCounts, FindingRow, FirmwareSeen};
use serde::Serialize;

/// An image an advisory affects, from the advisory index alone.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AdvisoryImage {
    pub image: String,
    /// `name@version` as found.
    pub component: String,
    pub severity: crate::model::Severity,
    pub fixed_versions: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<String>,
}

/// A page of findings: where to start (after this image and finding key)
/// and how many to return.
#[derive(Debug, Clone, Default)]
pub struct Page<'a> {
    pub after: Option<(&'a str, &'a str)>,
    pub limit: usize,
}

/// The fleet's operations, whatever stores them. Errors are messages that
/// name what failed (`fleet store: corrupt image ...`).
pub trait FleetStore: Send + Sync {
    /// Where the store lives, for messages.
    fn location(&self) -> String;
    /// The schema the store had when opening migrated it, if it did.
    fn migrated_from(&self) -> Option<u32>;
    /// Writes everything to durable storage.
    fn flush(&self) -> Result<(), String>;
    /// Checks every index against the primary records; one line per problem.
    fn verify(&self) -> Result<Vec<String>, String>;

    // Images.
    fn image(&self, sha: &str) -> Result<Option<ImageRecord>, String>;
    fn has_image(&self, sha: &str) -> Result<bool, String>;
    /// Every stored image's SHA-256, sorted.
    fn image_ids(&self) -> Result<Vec<String>, String>;
    /// The image a firmware version was stored under.
    fn image_for_version(&self, version: &str) -> Result<Option<String>, String>;
    /// Firmware versions an image was stored under, without loading it.
    fn firmware_versions(&self, sha: &str) -> Result<Vec<String>, String>;
    /// Stores a scan of an image and evaluates its findings, keeping
    /// history (and triage decisions) if the image was stored before.
    fn store_image(
        &self,
        report: &crate::scan::ScanReport,
        firmware_version: Option<&str>,
        now: &str,
    ) -> Result<Change, String>;
    /// Replaces the findings of a stored image (loaded as `old`) with a
    /// fresh evaluation.
    fn replace_findings(
        &self,
        sha: &str,
        old: ImageRecord,
        findings: &[crate::model::Finding],
        now: &str,
    ) -> Result<Change, String>;
    /// Each image's active findings by severity, per day they changed.
    fn image_trends(&self) -> Result<Vec<(String, Vec<DayCounts>)>, String>;

    // Devices.
    fn device(&self, id: &str) -> Result<Option<Device>, String>;
    /// Inserts or replaces devices (one transaction), moving each between
    /// its images' device tables.
    fn upsert_devices(&self, list: &[Device]) -> Result<(), String>;
    /// Devices in id order after `after`, those `keep` passes, at most `limit`.
    fn devices_after(
        &self,
        after: Option<&str>,
        limit: usize,
        keep: &mut dyn FnMut(&Device) -> bool,
    ) -> Result<Vec<Device>, String>;
    /// How many devices run `sha`.
    fn device_count(&self, sha: &str) -> Result<usize, String>;
    /// Calls `f(id, model, tags)` for every device running `sha`, in no
    /// particular order.
    fn visit_devices_on(
        &self,
        sha: &str,
        f: &mut dyn FnMut(&str, &str, &[&str]),
    ) -> Result<(), String>;
    /// Images run by devices carrying `tag`, with how many such devices.
    fn tag_images(&self, tag: &str) -> Result<Vec<(String, u64)>, String>;
    /// Records a device's check-in: the device as it now is and, when its
    /// firmware changed, the firmware history entry; one transaction.
    fn check_in(&self, device: &Device, seen: Option<&FirmwareSeen>) -> Result<(), String>;
    /// The firmware a device reported over time, oldest first.
    fn firmware_history(&self, id: &str) -> Result<Vec<FirmwareSeen>, String>;

    // Answers from the indexes.
    /// Devices needing a patch, grouped by the image they run.
    fn needs_patch(&self, filter: &PatchFilter) -> Result<Vec<PatchGroup>, String>;
    /// Images (and their devices within `scope`) carrying component
    /// `name`, optionally within a version requirement.
    fn where_component(
        &self,
        name: &str,
        requirement: Option<&VersionReq>,
        scope: &Scope,
        count_only: bool,
    ) -> Result<Vec<WhereHit>, String>;
    /// Images an advisory (by id or alias) affects through an active finding.
    fn advisory_images(&self, id: &str) -> Result<Vec<AdvisoryImage>, String>;
    /// Findings of every image (or of `image`) in (image, key) order
    /// after `page.after`, those `keep` passes, at most `page.limit`.
    fn findings(
        &self,
        image: Option<&str>,
        page: &Page,
        keep: &mut dyn FnMut(&FindingRow) -> bool,
    ) -> Result<Vec<FindingRow>, String>;

    // Triage.
    /// Applies a decision to the finding it names (one transaction: the
    /// image record, its indexes, the decision and the audit entry).
    fn triage(&self, decision: &TriageDecision) -> Result<AuditEntry, String>;
    /// Decisions recorded for an image.
    fn decisions(&self, image: &str) -> Result<Vec<TriageDecision>, String>;
    /// Audit entries after `after` (a `seq`), oldest first.
    fn audit_log(&self, after: Option<u64>, limit: usize) -> Result<Vec<AuditEntry>, String>;

    // Keys, users, device tokens.
    fn put_key(&self, key: &ApiKey) -> Result<(), String>;
    fn key(&self, id: &str) -> Result<Option<ApiKey>, String>;
    fn keys(&self) -> Result<Vec<ApiKey>, String>;
    fn put_user(&self, user: &User) -> Result<(), String>;
    fn user(&self, name: &str) -> Result<Option<User>, String>;
    fn put_device_token(&self, token: &DeviceToken) -> Result<(), String>;
    fn device_token(&self, device: &str) -> Result<Option<DeviceToken>, String>;

    // Webhooks.
    fn put_hook(&self, hook: &Hook) -> Result<(), String>;
    fn hooks(&self) -> Result<Vec<Hook>, String>;
    /// Removes a hook; false when there was none.
    fn remove_hook(&self, id: &str) -> Result<bool, String>;
    /// Appends to the delivery log; returns the entry's `seq`.
    fn log_delivery(&self, delivery: &Delivery) -> Result<u64, String>;
    /// A hook's deliveries, newest first.
    fn deliveries(&self, hook: &str, limit: usize) -> Result<Vec<Delivery>, String>;

    // Jobs.
    fn put_job(&self, job: &Job) -> Result<(), String>;
    fn job(&self, id: &str) -> Result<Option<Job>, String>;
    /// The newest jobs first.
    fn jobs(&self, limit: usize) -> Result<Vec<Job>, String>;

    // Moving a fleet between stores (see [`transfer`]).
    /// Every dashboard user, by name.
    fn users(&self) -> Result<Vec<User>, String>;
    /// Every device token, by device.
    fn device_tokens(&self) -> Result<Vec<DeviceToken>, String>;
    /// True when the store holds no image, device, key, user, webhook or job.
    fn is_empty(&self) -> Result<bool, String>;
    /// Writes copied items as they are (records, history, sequence
    /// numbers) and derives every index from them.
    fn load(&self, items: Vec<transfer::Item>) -> Result<(), String>;

    // Sharing the store between processes.
    /// A number that changes after every write that changes findings or
    /// device placement, whichever process made it; None when only this
    /// process writes (the embedded store), which then counts its own.
    fn generation(&self) -> Result<Option<u64>, String> {
        Ok(None)
    }
    /// True when `fwaudit worker` processes claim the store's queued jobs;
    /// false when `serve` runs them itself.
    fn shared_queue(&self) -> bool {
        false
    }
    /// The hashes of every device token.
    fn device_token_hashes(&self) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        for d in self.devices_after(None, usize::MAX, &mut |_| true)? {
            if let Some(t) = self.device_token(&d.id)? {
                out.push(t.hash);
            }
        }
        Ok(out)
    }
    /// A keyset page of the devices on `sha`: in id order after `after`,
    /// those whose tags `keep` passes, at most `limit` (API pages of an
    /// image's 50,000 devices read one page, not the table).
    fn devices_on_page(
        &self,
        sha: &str,
        after: Option<&str>,
        limit: usize,
        keep: &dyn Fn(&[String]) -> bool,
    ) -> Result<Vec<(String, DeviceTag)>, String> {
        let mut out = Vec::new();
        self.visit_devices_on(sha, &mut |id, model, tags| {
            if after.is_none_or(|a| id > a) {
                out.push((
                    id.to_string(),
                    DeviceTag {
                        model: model.to_string(),
                        tags: tags.iter().map(|t| t.to_string()).collect(),
                    },
                ));
            }
        })?;
        out.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        out.retain(|(_, t)| keep(&t.tags));
        out.truncate(limit);
        Ok(out)
    }
    /// Writes re-judged images (a rematch's batch: id, record as loaded,
    /// fresh findings) and returns each one's change and device count.
    fn replace_findings_batch(
        &self,
        batch: Vec<(String, ImageRecord, Vec<crate::model::Finding>)>,
        now: &str,
    ) -> Result<Vec<(String, Change, usize)>, String> {
        let mut out = Vec::with_capacity(batch.len());
        for (sha, record, findings) in batch {
            let change = self.replace_findings(&sha, record, &findings, now)?;
            let devices = self.device_count(&sha)?;
            out.push((sha, change, devices));
        }
        Ok(out)
    }
}
