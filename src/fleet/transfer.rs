//! Moving a fleet between stores: `fleet migrate --to URL|DIR` copies
//! everything the current store keeps into an empty one (embedded to
//! PostgreSQL and back), `fleet export FILE` writes it as JSON Lines and
//! `fleet import-store FILE` reads that into an empty store. The copy is
//! read through [`FleetStore`]'s reads and written with
//! [`FleetStore::load`], which keeps records as they are (history,
//! first-seen times, triage, audit numbers) and derives every index anew;
//! both sides are then checked with `fleet verify` and by counting.

use super::FleetStore;
use super::access::{ApiKey, AuditEntry, Delivery, DeviceToken, Hook, Job, TriageDecision, User};
use super::record::{DayCounts, Device, FirmwareSeen, ImageRecord};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, Write};
use std::path::Path;

/// One thing a store keeps, as the copy carries it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Item {
    Image {
        sha: String,
        record: Box<ImageRecord>,
        trend: Vec<DayCounts>,
    },
    Device {
        device: Device,
    },
    History {
        device: String,
        entries: Vec<FirmwareSeen>,
    },
    Decision {
        decision: TriageDecision,
    },
    Audit {
        entry: AuditEntry,
    },
    Key {
        key: ApiKey,
    },
    User {
        user: User,
    },
    DeviceToken {
        token: DeviceToken,
    },
    Hook {
        hook: Hook,
    },
    Delivery {
        delivery: Delivery,
    },
    Job {
        job: Job,
    },
}

impl Item {
    /// The kind, for counts.
    pub fn kind(&self) -> &'static str {
        match self {
            Item::Image { .. } => "images",
            Item::Device { .. } => "devices",
            Item::History { .. } => "firmware histories",
            Item::Decision { .. } => "triage decisions",
            Item::Audit { .. } => "audit entries",
            Item::Key { .. } => "keys",
            Item::User { .. } => "users",
            Item::DeviceToken { .. } => "device tokens",
            Item::Hook { .. } => "webhooks",
            Item::Delivery { .. } => "deliveries",
            Item::Job { .. } => "jobs",
        }
    }
}

/// How many of each kind were copied.
pub type Counts = BTreeMap<&'static str, u64>;

/// Items a store loads at once (one transaction for the devices of a batch).
const BATCH: usize = 256;

/// Everything `from` keeps, in an order a store can load it in (images
/// before their decisions, devices before their histories).
pub fn dump(
    from: &dyn FleetStore,
    sink: &mut dyn FnMut(Item) -> Result<(), String>,
) -> Result<(), String> {
    let trends: HashMap<String, Vec<DayCounts>> = from.image_trends()?.into_iter().collect();
    let ids = from.image_ids()?;
    for sha in &ids {
        let Some(record) = from.image(sha)? else {
            continue;
        };
        sink(Item::Image {
            sha: sha.clone(),
            record: Box::new(record),
            trend: trends.get(sha).cloned().unwrap_or_default(),
        })?;
    }
    let mut after: Option<String> = None;
    loop {
        let page = from.devices_after(after.as_deref(), 1000, &mut |_| true)?;
        let Some(last) = page.last() else {
            break;
        };
        after = Some(last.id.clone());
        for device in page {
            let entries = from.firmware_history(&device.id)?;
            let id = device.id.clone();
            sink(Item::Device { device })?;
            if !entries.is_empty() {
                sink(Item::History {
                    device: id,
                    entries,
                })?;
            }
        }
    }
    for sha in &ids {
        for decision in from.decisions(sha)? {
            sink(Item::Decision { decision })?;
        }
    }
    let mut seq = None;
    loop {
        let page = from.audit_log(seq, 1000)?;
        let Some(last) = page.last() else {
            break;
        };
        seq = Some(last.seq);
        for entry in page {
            sink(Item::Audit { entry })?;
        }
    }
    for key in from.keys()? {
        sink(Item::Key { key })?;
    }
    for user in from.users()? {
        sink(Item::User { user })?;
    }
    for token in from.device_tokens()? {
        sink(Item::DeviceToken { token })?;
    }
    for hook in from.hooks()? {
        let id = hook.id.clone();
        sink(Item::Hook { hook })?;
        let mut deliveries = from.deliveries(&id, usize::MAX)?;
        deliveries.reverse();
        for delivery in deliveries {
            sink(Item::Delivery { delivery })?;
        }
    }
    let mut jobs = from.jobs(usize::MAX)?;
    jobs.reverse();
    for job in jobs {
        sink(Item::Job { job })?;
    }
    Ok(())
}

/// Loads items into `to` in batches, counting them.
struct Loader<'a> {
    to: &'a dyn FleetStore,
    batch: Vec<Item>,
    counts: Counts,
    progress: &'a dyn Fn(&Counts),
}

impl Loader<'_> {
    fn add(&mut self, item: Item) -> Result<(), String> {
        *self.counts.entry(item.kind()).or_default() += 1;
        self.batch.push(item);
        if self.batch.len() >= BATCH {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), String> {
        if !self.batch.is_empty() {
            self.to.load(std::mem::take(&mut self.batch))?;
            (self.progress)(&self.counts);
        }
        Ok(())
    }
}

fn refuse_unless_empty(to: &dyn FleetStore) -> Result<(), String> {
    if !to.is_empty()? {
        return Err(format!(
            "{} already holds a fleet: copy only into an empty store",
            to.location()
        ));
    }
    Ok(())
}

/// Copies everything `from` keeps into the empty store `to`.
pub fn copy(
    from: &dyn FleetStore,
    to: &dyn FleetStore,
    progress: &dyn Fn(&Counts),
) -> Result<Counts, String> {
    refuse_unless_empty(to)?;
    let mut loader = Loader {
        to,
        batch: Vec::new(),
        counts: Counts::new(),
        progress,
    };
    dump(from, &mut |item| loader.add(item))?;
    loader.flush()?;
    to.flush()?;
    Ok(loader.counts)
}

/// Writes everything `from` keeps to `path`, one JSON item per line.
pub fn export(from: &dyn FleetStore, path: &Path) -> Result<Counts, String> {
    let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = std::io::BufWriter::new(file);
    let mut counts = Counts::new();
    dump(from, &mut |item| {
        *counts.entry(item.kind()).or_default() += 1;
        serde_json::to_writer(&mut out, &item).map_err(|e| format!("{}: {e}", path.display()))?;
        out.write_all(b"\n")
            .map_err(|e| format!("{}: {e}", path.display()))
    })?;
    out.flush()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(counts)
}

/// Reads an export into the empty store `to`; a line that is not an item
/// stops the import with its line number (what was loaded stays).
pub fn import(
    to: &dyn FleetStore,
    path: &Path,
    progress: &dyn Fn(&Counts),
) -> Result<Counts, String> {
    refuse_unless_empty(to)?;
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut loader = Loader {
        to,
        batch: Vec::new(),
        counts: Counts::new(),
        progress,
    };
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| format!("{}: {e}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let item: Item = serde_json::from_str(&line).map_err(|e| {
            format!(
                "{} line {}: not a fleet export item: {e}",
                path.display(),
                n + 1
            )
        })?;
        loader.add(item)?;
    }
    loader.flush()?;
    to.flush()?;
    Ok(loader.counts)
}
