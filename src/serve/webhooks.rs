//! Notifications: after a rematch, a scan job, a nightly run or device
//! check-ins, one POST per event batch to every webhook that wants some of
//! the events. The body is JSON; `X-Fwaudit-Signature: sha256=<hex>` is
//! the HMAC-SHA256 of the body under the hook's secret. A failed delivery
//! (no answer, or not 2xx) is retried with exponential backoff; every
//! attempt goes to the hook's delivery log.

use crate::fleet::access::{Delivery, EventKind, Hook};
use crate::fleet::{FleetStore, RematchSummary};
use crate::model::Severity;
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;
use std::time::{Duration, Instant};

/// One thing that happened.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Event {
    #[serde(rename = "type")]
    pub kind: EventKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// `kind component advisory-or-path`, for finding events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finding: Option<String>,
    /// Devices running the image (finding events) or the device that
    /// checked in (firmware events).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub devices: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub firmware: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_firmware: Option<String>,
}

impl Event {
    fn finding(kind: EventKind, c: &crate::fleet::ImageChange) -> Event {
        Event {
            kind,
            severity: Some(c.severity),
            image: Some(c.image.clone()),
            finding: Some(c.finding.clone()),
            devices: Some(c.devices),
            device: None,
            firmware: None,
            previous_firmware: None,
        }
    }

    /// A device now runs firmware it did not run before.
    pub fn device_firmware(
        device: &str,
        firmware: &str,
        image: Option<&str>,
        previous: Option<&str>,
    ) -> Event {
        Event {
            kind: EventKind::NewDeviceFirmware,
            severity: None,
            image: image.map(str::to_string),
            finding: None,
            devices: None,
            device: Some(device.to_string()),
            firmware: Some(firmware.to_string()),
            previous_firmware: previous.map(str::to_string),
        }
    }
}

/// The events of a rematch (or a nightly run, or a scan's first findings).
pub fn rematch_events(summary: &RematchSummary) -> Vec<Event> {
    let mut out: Vec<Event> = summary
        .new
        .iter()
        .map(|c| Event::finding(EventKind::NewFinding, c))
        .collect();
    out.extend(
        summary
            .resolved
            .iter()
            .map(|c| Event::finding(EventKind::Resolved, c)),
    );
    out
}

/// How deliveries are retried: `attempts` in all, waiting `base`, then
/// twice that, and so on, between them.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub base: Duration,
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            attempts: 5,
            base: Duration::from_secs(2),
            timeout: Duration::from_secs(10),
        }
    }
}

/// The events a hook asked for.
pub fn select<'a>(hook: &Hook, events: &'a [Event]) -> Vec<&'a Event> {
    events
        .iter()
        .filter(|e| hook.events.contains(&e.kind))
        .filter(|e| match (hook.min_severity, e.severity) {
            (Some(min), Some(s)) => s >= min,
            _ => true,
        })
        .collect()
}

/// `sha256=<hex HMAC-SHA256 of body under secret>`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    // HMAC takes a key of any length: this never fails.
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[derive(Serialize)]
struct Batch<'a> {
    batch: &'a str,
    sent_at: &'a str,
    events: Vec<&'a Event>,
}

/// Delivers `events` to every hook that wants some of them (hooks in
/// parallel, each batch's attempts in order). Returns the log entries.
pub async fn deliver(
    store: &dyn FleetStore,
    client: &reqwest::Client,
    events: &[Event],
    policy: RetryPolicy,
) -> Vec<Delivery> {
    if events.is_empty() {
        return Vec::new();
    }
    let hooks = match store.hooks() {
        Ok(h) => h,
        Err(e) => {
            eprintln!("fwaudit: serve: webhooks: {e}");
            return Vec::new();
        }
    };
    let tasks = hooks.iter().filter_map(|hook| {
        let chosen = select(hook, events);
        (!chosen.is_empty()).then(|| deliver_one(store, client, hook, chosen, policy))
    });
    futures_util::future::join_all(tasks)
        .await
        .into_iter()
        .flatten()
        .collect()
}

async fn deliver_one(
    store: &dyn FleetStore,
    client: &reqwest::Client,
    hook: &Hook,
    events: Vec<&Event>,
    policy: RetryPolicy,
) -> Vec<Delivery> {
    let batch = super::auth::random_hex(8).unwrap_or_else(|_| "batch".into());
    let sent_at = crate::date::now_utc();
    let count = events.len();
    let body = serde_json::to_vec(&Batch {
        batch: &batch,
        sent_at: &sent_at,
        events,
    })
    .unwrap_or_default();
    let signature = signature(&hook.secret, &body);
    let mut log = Vec::new();
    for attempt in 1..=policy.attempts.max(1) {
        let start = Instant::now();
        let result = client
            .post(&hook.url)
            .timeout(policy.timeout)
            .header("content-type", "application/json")
            .header("x-fwaudit-signature", &signature)
            .header("x-fwaudit-batch", &batch)
            .body(body.clone())
            .send()
            .await;
        let (status, error) = match result {
            Ok(r) if r.status().is_success() => (Some(r.status().as_u16()), None),
            Ok(r) => (
                Some(r.status().as_u16()),
                Some(format!("answered {}", r.status())),
            ),
            // The error names the host, never the body or the secret.
            Err(e) => (None, Some(e.without_url().to_string())),
        };
        let delivered = error.is_none();
        let entry = Delivery {
            seq: 0,
            hook: hook.id.clone(),
            batch: batch.clone(),
            attempt,
            at: crate::date::now_utc(),
            events: count,
            status,
            error,
            delivered,
            duration_ms: start.elapsed().as_millis() as u64,
        };
        if let Err(e) = store.log_delivery(&entry) {
            eprintln!("fwaudit: serve: webhook {}: delivery log: {e}", hook.id);
        }
        log.push(entry);
        if delivered {
            break;
        }
        if attempt < policy.attempts {
            tokio::time::sleep(policy.base * 2u32.saturating_pow(attempt - 1)).await;
        }
    }
    log
}

/// [`deliver`] from a command (no runtime running): a small one for the
/// duration of the deliveries.
pub fn deliver_blocking(store: &dyn FleetStore, events: &[Event]) -> Result<Vec<Delivery>, String> {
    if events.is_empty() || store.hooks()?.is_empty() {
        return Ok(Vec::new());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("webhooks: {e}"))?;
    let client = reqwest::Client::new();
    Ok(runtime.block_on(deliver(store, &client, events, RetryPolicy::default())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_rfc_4231_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn hooks_get_the_events_they_asked_for() {
        let hook = Hook {
            id: "h".into(),
            url: "http://127.0.0.1:9/".into(),
            events: vec![EventKind::NewFinding, EventKind::NewDeviceFirmware],
            min_severity: Some(Severity::High),
            secret: "s".into(),
            created: "t".into(),
        };
        let change = |s| crate::fleet::ImageChange {
            image: "i".into(),
            finding: "f".into(),
            severity: s,
            devices: 1,
        };
        let summary = RematchSummary {
            images: 1,
            new: vec![change(Severity::Critical), change(Severity::Medium)],
            resolved: vec![change(Severity::Critical)],
        };
        let mut events = rematch_events(&summary);
        events.push(Event::device_firmware("d", "1.0", None, Some("0.9")));
        let chosen = select(&hook, &events);
        assert_eq!(chosen.len(), 2);
        assert_eq!(chosen[0].severity, Some(Severity::Critical));
        assert_eq!(chosen[1].kind, EventKind::NewDeviceFirmware);
    }
}
