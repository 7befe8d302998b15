//! `/api/v1`: JSON over HTTP, documented in `openapi.yaml` (served at
//! `/api/v1/openapi.json`). Every handler states the scope it needs and
//! answers only within the caller's tags; store work runs on the blocking
//! pool, never on the async workers.

use super::auth::{self, Caller};
use super::error::{ApiError, ApiResult};
use super::input::{self, JsonBody, Params};
use super::overview::visible_images;
use super::state::AppState;
use super::webhooks::Event;
use crate::fleet::access::{
    ApiKey, AuditEntry, DeviceToken, EventKind, Hook, Job, JobKind, JobState, Role, TriageAction,
    TriageDecision,
};
use crate::fleet::devices::{DeviceRow, Parsed};
use crate::fleet::queries::{PatchFilter, Scope, VersionReq};
use crate::fleet::record::{Device, FindingRow, FindingState, FirmwareSeen};
use crate::fleet::{FleetOps, FleetStore, Page};
use crate::model::{FindingKind, Severity};
use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tokio::io::AsyncWriteExt;

/// The OpenAPI document, as written (YAML), converted to JSON once.
const OPENAPI: &str = include_str!("openapi.yaml");

pub fn openapi_json() -> Result<serde_json::Value, String> {
    serde_yaml_ng::from_str(OPENAPI).map_err(|e| format!("openapi.yaml: {e}"))
}

/// Device lists can be long; everything else is small.
const IMPORT_LIMIT: usize = 8 << 20;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/overview", get(overview))
        .route(
            "/api/v1/devices",
            get(list_devices)
                .post(import_devices)
                .layer(DefaultBodyLimit::max(IMPORT_LIMIT)),
        )
        .route("/api/v1/devices/{id}", get(one_device))
        .route("/api/v1/devices/{id}/checkin", post(checkin))
        .route("/api/v1/devices/{id}/token", post(device_token))
        .route("/api/v1/images", get(list_images))
        .route("/api/v1/images/{sha}", get(one_image))
        .route("/api/v1/images/{sha}/devices", get(image_devices))
        .route("/api/v1/findings", get(list_findings))
        .route("/api/v1/findings/triage", post(triage))
        .route("/api/v1/audit", get(audit))
        .route("/api/v1/needs-patch", get(needs_patch))
        .route("/api/v1/where", get(where_component))
        .route("/api/v1/diff", get(diff))
        .route("/api/v1/advisories/{id}", get(advisory))
        .route("/api/v1/advisories/{id}/devices", get(advisory_devices))
        .route("/api/v1/rematch", post(rematch))
        .route(
            "/api/v1/scans",
            post(upload).layer(DefaultBodyLimit::disable()),
        )
        .route("/api/v1/jobs", get(list_jobs))
        .route("/api/v1/jobs/{id}", get(one_job))
        .route("/api/v1/keys", get(list_keys).post(create_key))
        .route("/api/v1/keys/{id}", delete(revoke_key))
        .route("/api/v1/webhooks", get(list_hooks).post(create_hook))
        .route("/api/v1/webhooks/{id}", delete(remove_hook))
        .route("/api/v1/webhooks/{id}/deliveries", get(deliveries))
}

/// Runs store work on the blocking pool.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("worker: {e}")))?
}

/// A list and where the next page starts (absent on the last page).
#[derive(Serialize)]
pub struct Paged<T> {
    pub items: Vec<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Whether `scope` sees image `sha`.
pub fn sees_image(store: &dyn FleetStore, scope: &Scope, sha: &str) -> ApiResult<bool> {
    Ok(match scope {
        Scope::All => true,
        Scope::Tags(tags) => {
            for t in tags {
                if store.tag_images(t)?.iter().any(|(s, _)| s == sha) {
                    return Ok(true);
                }
            }
            false
        }
    })
}

fn image_not_found(sha: &str) -> ApiError {
    ApiError::not_found(format!("no image {sha} (or not within this key's tags)"))
}

async fn openapi() -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(openapi_json()?))
}

async fn overview(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    caller.require(Role::Read)?;
    // The trend is written with the clock of the store's writes.
    let today = crate::date::now_utc()[..10].to_string();
    let o = blocking(move || Ok(state.overview(&caller.scope, &today)?)).await?;
    Ok(Json(o.as_ref().clone()).into_response())
}

// ---- devices

async fn list_devices(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Paged<Device>>> {
    caller.require(Role::Read)?;
    let p = Params::parse(q.as_deref(), &["model", "tag", "image", "cursor", "limit"])?;
    let limit = p.limit(100)?;
    let model = p.str("model").map(str::to_string);
    let tag = p.str("tag").map(str::to_string);
    let image = p.sha256("image")?;
    let after = p.cursor()?.and_then(|c| c.into_iter().next());
    blocking(move || {
        let store = state.store.as_ref();
        let mut keep = |d: &Device| {
            model.as_ref().is_none_or(|m| &d.model == m)
                && tag.as_ref().is_none_or(|t| d.tags.contains(t))
                && image.as_ref().is_none_or(|i| d.image.as_ref() == Some(i))
                && caller.scope.admits(&d.tags)
        };
        let items = match &image {
            // One image: its table has the ids, so only its devices are read.
            Some(sha) => {
                let mut ids = store.device_ids_on(sha, &|_, tags| caller.scope.admits(tags))?;
                ids.retain(|id| after.as_ref().is_none_or(|a| id > a));
                let mut out = Vec::new();
                for id in ids {
                    if out.len() > limit {
                        break;
                    }
                    if let Some(d) = store.device(&id)?
                        && keep(&d)
                    {
                        out.push(d);
                    }
                }
                out
            }
            None => store.devices_after(after.as_deref(), limit + 1, &mut keep)?,
        };
        Ok(Json(page(items, limit, |d| input::cursor(&[&d.id]))))
    })
    .await
}

/// The first `limit` items, and a cursor when there were more.
fn page<T>(mut items: Vec<T>, limit: usize, cursor: impl Fn(&T) -> String) -> Paged<T> {
    let more = items.len() > limit;
    items.truncate(limit);
    let next_cursor = if more { items.last().map(cursor) } else { None };
    Paged { items, next_cursor }
}

#[derive(Serialize)]
struct DeviceAnswer {
    device: Device,
    firmware_history: Vec<FirmwareSeen>,
    has_token: bool,
}

async fn one_device(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<DeviceAnswer>> {
    caller.require(Role::Read)?;
    blocking(move || {
        let store = state.store.as_ref();
        let device = store
            .device(&id)?
            .filter(|d| caller.scope.admits(&d.tags))
            .ok_or_else(|| {
                ApiError::not_found(format!("no device {id:?} (or not within this key's tags)"))
            })?;
        Ok(Json(DeviceAnswer {
            firmware_history: store.firmware_history(&id)?,
            has_token: store.device_token(&id)?.is_some(),
            device,
        }))
    })
    .await
}

async fn import_devices(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(rows): JsonBody<Vec<DeviceRow>>,
) -> ApiResult<Json<crate::fleet::ImportSummary>> {
    caller.require(Role::Write)?;
    let mut parsed = Parsed::default();
    for (i, row) in rows.into_iter().enumerate() {
        input::name(&format!("[{i}].id"), &row.id)?;
        if row.firmware.trim().is_empty() {
            return Err(ApiError::invalid(
                &format!("[{i}].firmware"),
                "must not be empty",
            ));
        }
        // A tag-bound key may only place devices within its tags.
        if !caller.scope.admits(&row.tags) {
            return Err(ApiError::forbidden(format!(
                "device {:?}: a tag-bound key can only import devices carrying one of its tags",
                row.id
            )));
        }
        parsed.rows.push(row);
    }
    let now = crate::date::now_utc();
    blocking(move || {
        let store = state.store.as_ref();
        for row in &parsed.rows {
            if let Some(old) = store.device(&row.id)?
                && !caller.scope.admits(&old.tags)
            {
                return Err(ApiError::forbidden(format!(
                    "device {:?} is outside this key's tags",
                    row.id
                )));
            }
        }
        let summary = store.import_rows(parsed, None, &now)?;
        state.changed();
        Ok(Json(summary))
    })
    .await
}

/// What a device reports at check-in.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckIn {
    /// The SHA-256 of the firmware image it runs, or
    #[serde(default)]
    sha256: Option<String>,
    /// the firmware version it runs.
    #[serde(default)]
    version: Option<String>,
    /// Anything else it reports about itself (uptime, model, ...).
    #[serde(default)]
    facts: BTreeMap<String, serde_json::Value>,
}

#[derive(Serialize)]
struct CheckInAnswer {
    device: String,
    image: Option<String>,
    /// True when the firmware matches a stored image.
    known: bool,
    /// True when the device reported other firmware than last time.
    changed: bool,
}

async fn checkin(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<CheckIn>,
) -> ApiResult<Json<CheckInAnswer>> {
    let firmware = match (&body.sha256, &body.version) {
        (Some(sha), None) => input::sha256("sha256", sha)?,
        (None, Some(v)) => input::name("version", v)?,
        _ => {
            return Err(ApiError::invalid(
                "sha256",
                "give exactly one of sha256 and version",
            ));
        }
    };
    if body.facts.len() > 32 || serde_json::to_vec(&body.facts).map_or(true, |b| b.len() > 4096) {
        return Err(ApiError::invalid("facts", "at most 32 facts, 4 KiB in all"));
    }
    let now = crate::date::now_utc();
    let s = state.clone();
    let (answer, event) = blocking(move || {
        auth::check_device(&s, &headers, &id)?;
        let store = s.store.as_ref();
        let mut device = store
            .device(&id)?
            .ok_or_else(|| ApiError::not_found(format!("no device {id:?}")))?;
        let image = store.resolve_firmware_id(&firmware)?;
        let changed = device.firmware != firmware;
        let seen = changed.then(|| FirmwareSeen {
            at: now.clone(),
            firmware: firmware.clone(),
            image: image.clone(),
        });
        let previous = device.firmware.clone();
        let moved = device.image != image;
        if let Some(model) = body.facts.get("model").and_then(|m| m.as_str()) {
            device.model = input::name("facts.model", model)?;
        }
        device.firmware = firmware.clone();
        device.image = image.clone();
        device.last_seen = now;
        device.facts = body.facts;
        store.check_in(&device, seen.as_ref())?;
        if moved {
            s.changed();
        }
        let event = changed.then(|| {
            Event::device_firmware(&id, &firmware, image.as_deref(), Some(previous.as_str()))
        });
        Ok((
            CheckInAnswer {
                device: id,
                known: image.is_some(),
                image,
                changed,
            },
            event,
        ))
    })
    .await?;
    if let Some(e) = event {
        state.notify(vec![e]);
    }
    Ok(Json(answer))
}

#[derive(Serialize)]
struct TokenAnswer {
    device: String,
    /// Shown once: the store keeps only its hash.
    token: String,
}

async fn device_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<TokenAnswer>)> {
    caller.require(Role::Admin)?;
    blocking(move || {
        let store = state.store.as_ref();
        store
            .device(&id)?
            .filter(|d| caller.scope.admits(&d.tags))
            .ok_or_else(|| ApiError::not_found(format!("no device {id:?}")))?;
        let (hash, token) = issue_device_token(&state, &id)?;
        let _ = hash;
        Ok((StatusCode::CREATED, Json(TokenAnswer { device: id, token })))
    })
    .await
}

/// Stores a new token for `device` (replacing any) and remembers its hash.
pub fn issue_device_token(state: &AppState, device: &str) -> ApiResult<(String, String)> {
    let (hash, token) = auth::new_device_token()?;
    let store = state.store.as_ref();
    if let Some(old) = store.device_token(device)?
        && let Ok(mut set) = state.device_tokens.write()
    {
        set.remove(&old.hash);
    }
    store.put_device_token(&DeviceToken {
        device: device.to_string(),
        hash: hash.clone(),
        created: crate::date::now_utc(),
    })?;
    if let Ok(mut set) = state.device_tokens.write() {
        set.insert(hash.clone());
    }
    Ok((hash, token))
}

// ---- images

#[derive(Serialize)]
struct ImageItem {
    image: String,
    firmware_versions: Vec<String>,
    devices: usize,
    /// Active findings by severity.
    active: BTreeMap<Severity, u64>,
}

async fn list_images(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Paged<ImageItem>>> {
    caller.require(Role::Read)?;
    let p = Params::parse(q.as_deref(), &["cursor", "limit"])?;
    let limit = p.limit(100)?;
    let after = p.cursor()?.and_then(|c| c.into_iter().next());
    blocking(move || {
        let store = state.store.as_ref();
        let visible = visible_images(store, &caller.scope)?;
        let trends: BTreeMap<String, _> = store.image_trends()?.into_iter().collect();
        let mut items = Vec::new();
        for sha in store.image_ids()? {
            if after.as_ref().is_some_and(|a| &sha <= a)
                || visible.as_ref().is_some_and(|v| !v.contains(&sha))
            {
                continue;
            }
            if items.len() > limit {
                break;
            }
            let (_, devices) = scoped_devices(store, &sha, &caller.scope)?;
            let mut active = BTreeMap::new();
            if let Some(last) = trends.get(&sha).and_then(|t: &Vec<_>| t.last()) {
                let last: &crate::fleet::record::DayCounts = last;
                for (i, n) in last.counts.iter().enumerate() {
                    if *n > 0 {
                        active.insert(crate::fleet::record::SEVERITIES[i], *n);
                    }
                }
            }
            items.push(ImageItem {
                firmware_versions: store.firmware_versions(&sha)?,
                image: sha,
                devices,
                active,
            });
        }
        Ok(Json(page(items, limit, |i| input::cursor(&[&i.image]))))
    })
    .await
}

/// Device ids on `sha` within `scope` (sorted), and how many.
pub fn scoped_devices(
    store: &dyn FleetStore,
    sha: &str,
    scope: &Scope,
) -> ApiResult<(Vec<String>, usize)> {
    if scope.is_all() {
        return Ok((Vec::new(), store.device_count(sha)?));
    }
    let ids = store.device_ids_on(sha, &|_, tags| scope.admits(tags))?;
    let n = ids.len();
    Ok((ids, n))
}

#[derive(Serialize)]
pub struct ImageAnswer {
    pub image: String,
    pub path: String,
    pub size: u64,
    pub scanned_at: String,
    pub firmware_versions: Vec<String>,
    pub devices: usize,
    pub layers: Vec<crate::unpack::Layer>,
    pub components: Vec<crate::model::Component>,
    pub unused_libraries: Vec<crate::analyze::unused::Library>,
    pub findings: Vec<crate::fleet::FindingRecord>,
}

/// An image as the API and the image page show it.
pub fn image_answer(store: &dyn FleetStore, scope: &Scope, sha: &str) -> ApiResult<ImageAnswer> {
    if !sees_image(store, scope, sha)? {
        return Err(image_not_found(sha));
    }
    let record = store.image(sha)?.ok_or_else(|| image_not_found(sha))?;
    let (_, devices) = scoped_devices(store, sha, scope)?;
    Ok(ImageAnswer {
        image: sha.to_string(),
        path: record.report.target.path.clone(),
        size: record.report.target.size,
        scanned_at: record.scanned_at.clone(),
        firmware_versions: record.firmware_versions.clone(),
        devices,
        layers: record.report.layers.clone(),
        components: record.report.components.clone(),
        unused_libraries: record
            .report
            .libraries
            .iter()
            .filter(|l| l.unused)
            .cloned()
            .collect(),
        findings: record.findings,
    })
}

async fn one_image(
    State(state): State<AppState>,
    caller: Caller,
    Path(sha): Path<String>,
) -> ApiResult<Json<ImageAnswer>> {
    caller.require(Role::Read)?;
    let sha = input::sha256("sha", &sha)?;
    blocking(move || {
        Ok(Json(image_answer(
            state.store.as_ref(),
            &caller.scope,
            &sha,
        )?))
    })
    .await
}

#[derive(Serialize)]
pub struct DeviceOnImage {
    pub id: String,
    pub model: String,
    pub tags: Vec<String>,
}

async fn image_devices(
    State(state): State<AppState>,
    caller: Caller,
    Path(sha): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Paged<DeviceOnImage>>> {
    caller.require(Role::Read)?;
    let sha = input::sha256("sha", &sha)?;
    let p = Params::parse(q.as_deref(), &["cursor", "limit"])?;
    let limit = p.limit(100)?;
    let after = p.cursor()?.and_then(|c| c.into_iter().next());
    blocking(move || {
        let store = state.store.as_ref();
        if !sees_image(store, &caller.scope, &sha)? || !store.has_image(&sha)? {
            return Err(image_not_found(&sha));
        }
        let mut items: Vec<DeviceOnImage> = store
            .devices_on_page(&sha, after.as_deref(), limit + 1, &|tags| {
                caller.scope.admits(tags)
            })?
            .into_iter()
            .map(|(id, t)| DeviceOnImage {
                id,
                model: t.model,
                tags: t.tags,
            })
            .collect();
        items.truncate(limit + 1);
        Ok(Json(page(items, limit, |d| input::cursor(&[&d.id]))))
    })
    .await
}

// ---- findings and triage

/// Filters of the findings list (API and dashboard).
#[derive(Debug, Clone, Default)]
pub struct FindingFilter {
    pub severity: Option<Severity>,
    pub state: Option<FindingState>,
    pub kind: Option<FindingKind>,
    pub component: Option<String>,
    pub advisory: Option<String>,
    pub image: Option<String>,
}

impl FindingFilter {
    pub const PARAMS: [&'static str; 8] = [
        "severity",
        "state",
        "kind",
        "component",
        "advisory",
        "image",
        "cursor",
        "limit",
    ];

    pub fn parse(p: &Params) -> ApiResult<FindingFilter> {
        Ok(FindingFilter {
            severity: p.severity("severity")?,
            state: p
                .str("state")
                .map(|s| {
                    FindingState::parse(s).ok_or_else(|| {
                        ApiError::invalid(
                            "state",
                            "must be one of active, resolved, suppressed, fixed, not_affected",
                        )
                    })
                })
                .transpose()?,
            kind: p
                .str("kind")
                .map(|k| {
                    serde_json::from_value(serde_json::Value::String(k.to_string())).map_err(|_| {
                        ApiError::invalid(
                            "kind",
                            "must be one of vulnerable, outdated, unused, hardening, secret, credential, config, informational",
                        )
                    })
                })
                .transpose()?,
            component: p.str("component").map(str::to_string),
            advisory: p.str("advisory").map(str::to_string),
            image: p.sha256("image")?,
        })
    }

    pub fn keeps(&self, r: &FindingRow) -> bool {
        self.severity.is_none_or(|s| r.severity == s)
            && self.state.is_none_or(|s| r.state == s)
            && self.kind.is_none_or(|k| r.kind == k)
            && self.component.as_ref().is_none_or(|c| {
                r.component
                    .as_deref()
                    .is_some_and(|rc| rc == c || rc.split('@').next() == Some(c.as_str()))
            })
            && self
                .advisory
                .as_ref()
                .is_none_or(|a| r.advisory.as_deref() == Some(a.as_str()))
    }
}

/// A page of findings within `scope`.
pub fn find(
    store: &dyn FleetStore,
    scope: &Scope,
    filter: &FindingFilter,
    after: Option<(String, String)>,
    limit: usize,
) -> ApiResult<Paged<FindingRow>> {
    let visible = visible_images(store, scope)?;
    let page_spec = Page {
        after: after.as_ref().map(|(a, b)| (a.as_str(), b.as_str())),
        limit: limit + 1,
    };
    let items = store.findings(filter.image.as_deref(), &page_spec, &mut |r| {
        visible.as_ref().is_none_or(|v| v.contains(&r.image)) && filter.keeps(r)
    })?;
    Ok(page(items, limit, |r| input::cursor(&[&r.image, &r.key])))
}

async fn list_findings(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Paged<FindingRow>>> {
    caller.require(Role::Read)?;
    let p = Params::parse(q.as_deref(), &FindingFilter::PARAMS)?;
    let filter = FindingFilter::parse(&p)?;
    let limit = p.limit(100)?;
    let after = match p.cursor()? {
        Some(c) if c.len() == 2 => Some((c[0].clone(), c[1].clone())),
        Some(_) => return Err(ApiError::invalid("cursor", "not a findings cursor")),
        None => None,
    };
    blocking(move || {
        Ok(Json(find(
            state.store.as_ref(),
            &caller.scope,
            &filter,
            after,
            limit,
        )?))
    })
    .await
}

/// A triage request (API body and dashboard form).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriageRequest {
    pub image: String,
    pub finding: String,
    pub action: TriageAction,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub expires: Option<String>,
}

/// Checks and applies a triage request for `caller`.
pub fn apply_triage(
    state: &AppState,
    caller: &Caller,
    req: TriageRequest,
) -> ApiResult<AuditEntry> {
    caller.require(Role::Triage)?;
    let image = input::sha256("image", &req.image)?;
    if req.finding.is_empty() || req.finding.len() > 1000 {
        return Err(ApiError::invalid("finding", "must be a finding key"));
    }
    let reason = req.reason.trim().to_string();
    if req.action != TriageAction::Reopen && reason.is_empty() {
        return Err(ApiError::invalid(
            "reason",
            "say why (it goes to the audit log)",
        ));
    }
    if reason.len() > 2000 {
        return Err(ApiError::invalid("reason", "at most 2000 characters"));
    }
    let now = crate::date::now_utc();
    let expires = match req
        .expires
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        None => None,
        Some(e) => {
            if !crate::date::is_date(e) {
                return Err(ApiError::invalid("expires", "must be a date, YYYY-MM-DD"));
            }
            if e <= &now[..10] {
                return Err(ApiError::invalid("expires", "must be after today"));
            }
            Some(e.to_string())
        }
    };
    let store = state.store.as_ref();
    if !sees_image(store, &caller.scope, &image)? {
        return Err(image_not_found(&image));
    }
    let decision = TriageDecision {
        image,
        finding: req.finding,
        action: req.action,
        reason,
        expires,
        by: caller.who.clone(),
        at: now,
    };
    let entry = store.triage(&decision).map_err(|e| {
        if e.contains("is not on image") || e.contains("not in the fleet store") {
            ApiError::not_found(e)
        } else if e.contains("is resolved") {
            ApiError::new(StatusCode::CONFLICT, "conflict", e)
        } else {
            ApiError::internal(e)
        }
    })?;
    state.changed();
    Ok(entry)
}

async fn triage(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(req): JsonBody<TriageRequest>,
) -> ApiResult<Json<AuditEntry>> {
    caller.require(Role::Triage)?;
    blocking(move || Ok(Json(apply_triage(&state, &caller, req)?))).await
}

async fn audit(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Paged<AuditEntry>>> {
    caller.require(Role::Read)?;
    let p = Params::parse(q.as_deref(), &["cursor", "limit"])?;
    let limit = p.limit(100)?;
    let after = match p.cursor()? {
        Some(c) => Some(
            c.first()
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or_else(|| ApiError::invalid("cursor", "not an audit cursor"))?,
        ),
        None => None,
    };
    blocking(move || {
        let store = state.store.as_ref();
        let visible = visible_images(store, &caller.scope)?;
        let mut items = Vec::new();
        let mut from = after;
        // Entries outside the scope are skipped, so read on until the page is full.
        loop {
            let batch = store.audit_log(from, 500)?;
            let Some(last) = batch.last() else { break };
            from = Some(last.seq);
            items.extend(
                batch
                    .into_iter()
                    .filter(|e| visible.as_ref().is_none_or(|v| v.contains(&e.image))),
            );
            if items.len() > limit {
                break;
            }
        }
        Ok(Json(page(items, limit, |e| {
            input::cursor(&[&e.seq.to_string()])
        })))
    })
    .await
}

// ---- answers

#[derive(Serialize)]
struct PatchItem {
    image: String,
    firmware_versions: Vec<String>,
    devices: usize,
    upgrades: Vec<crate::fleet::queries::Upgrade>,
}

async fn needs_patch(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Paged<PatchItem>>> {
    caller.require(Role::Read)?;
    let p = Params::parse(
        q.as_deref(),
        &[
            "advisory",
            "min_severity",
            "model",
            "tag",
            "cursor",
            "limit",
        ],
    )?;
    let filter = PatchFilter {
        advisory: p.str("advisory").map(str::to_string),
        min_severity: p.severity("min_severity")?,
        model: p.str("model").map(str::to_string),
        tag: p.str("tag").map(str::to_string),
        scope: caller.scope.clone(),
        count_only: true,
    };
    let limit = p.limit(100)?;
    let after = p.cursor()?.and_then(|c| c.into_iter().next());
    blocking(move || {
        let groups = state.needs_patch(&filter)?;
        let items = groups
            .iter()
            .filter(|g| after.as_ref().is_none_or(|a| &g.image > a))
            .take(limit + 1)
            .map(|g| PatchItem {
                image: g.image.clone(),
                firmware_versions: g.firmware_versions.clone(),
                devices: g.device_count,
                upgrades: g.upgrades.clone(),
            })
            .collect();
        Ok(Json(page(items, limit, |i: &PatchItem| {
            input::cursor(&[&i.image])
        })))
    })
    .await
}

#[derive(Serialize)]
struct WhereItem {
    image: String,
    version: String,
    ecosystem: String,
    devices: usize,
}

async fn where_component(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Vec<WhereItem>>> {
    caller.require(Role::Read)?;
    let p = Params::parse(q.as_deref(), &["component", "version"])?;
    let name = p
        .str("component")
        .ok_or_else(|| ApiError::invalid("component", "name the component"))?
        .to_string();
    let req = p
        .str("version")
        .map(|v| VersionReq::parse(v).map_err(|e| ApiError::invalid("version", e)))
        .transpose()?;
    blocking(move || {
        let hits = state.where_component(&name, req.as_ref(), &caller.scope)?;
        Ok(Json(
            hits.iter()
                .map(|h| WhereItem {
                    image: h.image.clone(),
                    version: h.version.clone(),
                    ecosystem: h.ecosystem.clone(),
                    devices: h.device_count,
                })
                .collect(),
        ))
    })
    .await
}

async fn diff(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<crate::fleet::queries::Diff>> {
    caller.require(Role::Read)?;
    let p = Params::parse(q.as_deref(), &["a", "b"])?;
    let a = p
        .sha256("a")?
        .ok_or_else(|| ApiError::invalid("a", "name the first image"))?;
    let b = p
        .sha256("b")?
        .ok_or_else(|| ApiError::invalid("b", "name the second image"))?;
    blocking(move || {
        let store = state.store.as_ref();
        for sha in [&a, &b] {
            if !sees_image(store, &caller.scope, sha)? || !store.has_image(sha)? {
                return Err(image_not_found(sha));
            }
        }
        Ok(Json(store.diff(&a, &b)?))
    })
    .await
}

#[derive(Serialize)]
pub struct AdvisoryAnswer {
    pub advisory: String,
    /// Devices affected, within the caller's tags.
    pub devices: usize,
    pub images: Vec<AdvisoryImageItem>,
}

#[derive(Serialize)]
pub struct AdvisoryImageItem {
    pub image: String,
    pub firmware_versions: Vec<String>,
    pub component: String,
    pub severity: Severity,
    pub fixed_versions: Vec<String>,
    /// The version to ship: the smallest that fixes this advisory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    pub devices: usize,
}

/// An advisory's affected images within `scope` (API and dashboard).
pub fn advisory_answer(
    store: &dyn FleetStore,
    scope: &Scope,
    id: &str,
) -> ApiResult<AdvisoryAnswer> {
    let visible = visible_images(store, scope)?;
    let mut images = Vec::new();
    let mut devices = 0;
    let mut counted = std::collections::BTreeSet::new();
    for hit in store.advisory_images(id)? {
        if visible.as_ref().is_some_and(|v| !v.contains(&hit.image)) {
            continue;
        }
        let (_, n) = scoped_devices(store, &hit.image, scope)?;
        if counted.insert(hit.image.clone()) {
            devices += n;
        }
        images.push(AdvisoryImageItem {
            firmware_versions: store.firmware_versions(&hit.image)?,
            fix: hit.fixed_versions.first().cloned(),
            image: hit.image,
            component: hit.component,
            severity: hit.severity,
            fixed_versions: hit.fixed_versions,
            devices: n,
        });
    }
    if images.is_empty() {
        return Err(ApiError::not_found(format!(
            "no stored image is affected by {id} (within this key's tags)"
        )));
    }
    Ok(AdvisoryAnswer {
        advisory: id.to_string(),
        devices,
        images,
    })
}

async fn advisory(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<AdvisoryAnswer>> {
    caller.require(Role::Read)?;
    let id = input::name("id", &id)?;
    blocking(move || {
        Ok(Json(advisory_answer(
            state.store.as_ref(),
            &caller.scope,
            &id,
        )?))
    })
    .await
}

#[derive(Serialize)]
pub struct AffectedDevice {
    pub device: String,
    pub model: String,
    pub image: String,
    pub component: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// A page of the devices an advisory affects, in (image, device) order.
pub fn affected_devices(
    store: &dyn FleetStore,
    scope: &Scope,
    id: &str,
    after: Option<(String, String)>,
    limit: usize,
) -> ApiResult<Paged<AffectedDevice>> {
    let visible = visible_images(store, scope)?;
    let mut items = Vec::new();
    let mut last_image = String::new();
    for hit in store.advisory_images(id)? {
        if hit.image == last_image
            || visible.as_ref().is_some_and(|v| !v.contains(&hit.image))
            || after.as_ref().is_some_and(|(a, _)| &hit.image < a)
        {
            continue;
        }
        last_image = hit.image.clone();
        let start = after
            .as_ref()
            .filter(|(a, _)| *a == hit.image)
            .map(|(_, d)| d.as_str());
        let devices =
            store.devices_on_page(&hit.image, start, limit + 1 - items.len(), &|tags| {
                scope.admits(tags)
            })?;
        for (dev, t) in devices {
            items.push(AffectedDevice {
                device: dev,
                model: t.model,
                image: hit.image.clone(),
                component: hit.component.clone(),
                fix: hit.fixed_versions.first().cloned(),
            });
            if items.len() > limit {
                return Ok(page(items, limit, |d| {
                    input::cursor(&[&d.image, &d.device])
                }));
            }
        }
    }
    Ok(page(items, limit, |d| {
        input::cursor(&[&d.image, &d.device])
    }))
}

async fn advisory_devices(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Paged<AffectedDevice>>> {
    caller.require(Role::Read)?;
    let id = input::name("id", &id)?;
    let p = Params::parse(q.as_deref(), &["cursor", "limit"])?;
    let limit = p.limit(100)?;
    let after = match p.cursor()? {
        Some(c) if c.len() == 2 => Some((c[0].clone(), c[1].clone())),
        Some(_) => return Err(ApiError::invalid("cursor", "not a device cursor")),
        None => None,
    };
    blocking(move || {
        Ok(Json(affected_devices(
            state.store.as_ref(),
            &caller.scope,
            &id,
            after,
            limit,
        )?))
    })
    .await
}

// ---- jobs

fn new_job(kind: JobKind) -> ApiResult<Job> {
    Ok(Job {
        id: auth::random_hex(8)?,
        kind,
        state: JobState::Queued,
        created: crate::date::now_utc(),
        started: None,
        finished: None,
        file: None,
        size: None,
        firmware_version: None,
        error: None,
        result: None,
        attempts: 0,
        worker: None,
    })
}

fn queue(state: &AppState, job: &Job) -> ApiResult<()> {
    state.store.put_job(job)?;
    if state.store.shared_queue() {
        // `fwaudit worker` processes claim it from the store.
        return Ok(());
    }
    state
        .jobs
        .send(job.id.clone())
        .map_err(|_| ApiError::internal("the job worker has stopped"))
}

async fn rematch(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<(StatusCode, Json<Job>)> {
    caller.require(Role::Write)?;
    if !caller.scope.is_all() {
        return Err(ApiError::forbidden(
            "a rematch re-judges every image: a tag-bound key cannot start one",
        ));
    }
    let job = new_job(JobKind::Rematch)?;
    blocking(move || {
        queue(&state, &job)?;
        Ok((StatusCode::ACCEPTED, Json(job)))
    })
    .await
}

async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(q): RawQuery,
    body: Body,
) -> ApiResult<(StatusCode, Json<Job>)> {
    caller.require(Role::Write)?;
    let p = Params::parse(q.as_deref(), &["firmware_version"])?;
    let mut job = new_job(JobKind::Scan)?;
    job.firmware_version = p
        .str("firmware_version")
        .map(|v| input::name("firmware_version", v))
        .transpose()?;
    let dir = super::jobs::upload_dir(&state.config.data_dir);
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| ApiError::internal(format!("{}: {e}", dir.display())))?;
    let name = format!("upload-{}.bin", job.id);
    let path = dir.join(&name);
    let limit = state.config.max_upload;
    // Streamed to disk: memory use does not grow with the upload.
    let written = async {
        let mut file = tokio::fs::File::create(&path)
            .await
            .map_err(|e| ApiError::internal(format!("{}: {e}", path.display())))?;
        let mut size: u64 = 0;
        let mut stream = body.into_data_stream();
        while let Some(chunk) = stream.next().await {
            let chunk =
                chunk.map_err(|e| ApiError::invalid("body", format!("upload broke off: {e}")))?;
            size += chunk.len() as u64;
            if size > limit {
                return Err(ApiError::too_large("body", limit));
            }
            file.write_all(&chunk)
                .await
                .map_err(|e| ApiError::internal(format!("{}: {e}", path.display())))?;
        }
        file.flush()
            .await
            .map_err(|e| ApiError::internal(format!("{}: {e}", path.display())))?;
        if size == 0 {
            return Err(ApiError::invalid("body", "the upload is empty"));
        }
        Ok(size)
    }
    .await;
    let size = match written {
        Ok(s) => s,
        Err(e) => {
            let _ = tokio::fs::remove_file(&path).await;
            return Err(e);
        }
    };
    job.file = Some(name);
    job.size = Some(size);
    blocking(move || {
        queue(&state, &job)?;
        Ok((StatusCode::ACCEPTED, Json(job)))
    })
    .await
}

async fn list_jobs(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<Job>>> {
    caller.require(Role::Write)?;
    blocking(move || Ok(Json(state.store.jobs(100)?))).await
}

async fn one_job(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Job>> {
    caller.require(Role::Write)?;
    blocking(move || {
        state
            .store
            .job(&id)?
            .map(Json)
            .ok_or_else(|| ApiError::not_found(format!("no job {id:?}")))
    })
    .await
}

// ---- keys and webhooks (admin)

#[derive(Serialize)]
struct KeyItem {
    id: String,
    name: String,
    scope: Role,
    tags: Vec<String>,
    created: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    revoked: Option<String>,
}

impl From<ApiKey> for KeyItem {
    fn from(k: ApiKey) -> KeyItem {
        KeyItem {
            id: k.id,
            name: k.name,
            scope: k.scope,
            tags: k.tags,
            created: k.created,
            revoked: k.revoked,
        }
    }
}

async fn list_keys(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<KeyItem>>> {
    admin_everywhere(&caller)?;
    blocking(move || {
        Ok(Json(
            state.store.keys()?.into_iter().map(KeyItem::from).collect(),
        ))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKey {
    name: String,
    scope: Role,
    #[serde(default)]
    tags: Vec<String>,
}

#[derive(Serialize)]
struct CreatedKey {
    key: KeyItem,
    /// Shown once: the store keeps only its hash.
    token: String,
}

async fn create_key(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(req): JsonBody<NewKey>,
) -> ApiResult<(StatusCode, Json<CreatedKey>)> {
    caller.require(Role::Admin)?;
    let name = input::name("name", &req.name)?;
    for (i, t) in req.tags.iter().enumerate() {
        input::name(&format!("tags[{i}]"), t)?;
    }
    // A tag-bound admin cannot mint a key that sees more than it does.
    if let Scope::Tags(mine) = &caller.scope
        && (req.tags.is_empty() || req.tags.iter().any(|t| !mine.contains(t)))
    {
        return Err(ApiError::forbidden(
            "a tag-bound key can only create keys bound to its own tags",
        ));
    }
    let now = crate::date::now_utc();
    let (key, token) = auth::new_key(&name, req.scope, &req.tags, &now)?;
    blocking(move || {
        state.store.put_key(&key)?;
        Ok((
            StatusCode::CREATED,
            Json(CreatedKey {
                key: key.into(),
                token,
            }),
        ))
    })
    .await
}

async fn revoke_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<KeyItem>> {
    admin_everywhere(&caller)?;
    blocking(move || {
        let store = state.store.as_ref();
        let mut key = store
            .key(&id)?
            .ok_or_else(|| ApiError::not_found(format!("no key {id:?}")))?;
        if key.revoked.is_none() {
            key.revoked = Some(crate::date::now_utc());
            store.put_key(&key)?;
        }
        Ok(Json(key.into()))
    })
    .await
}

#[derive(Serialize)]
struct HookItem {
    id: String,
    url: String,
    events: Vec<EventKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    min_severity: Option<Severity>,
    created: String,
}

impl From<&Hook> for HookItem {
    fn from(h: &Hook) -> HookItem {
        HookItem {
            id: h.id.clone(),
            url: h.url.clone(),
            events: h.events.clone(),
            min_severity: h.min_severity,
            created: h.created.clone(),
        }
    }
}

fn admin_everywhere(caller: &Caller) -> ApiResult<()> {
    caller.require(Role::Admin)?;
    if caller.scope.is_all() {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "this concerns the whole fleet: a tag-bound key cannot do it",
        ))
    }
}

async fn list_hooks(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<HookItem>>> {
    admin_everywhere(&caller)?;
    blocking(move || {
        Ok(Json(
            state.store.hooks()?.iter().map(HookItem::from).collect(),
        ))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewHook {
    url: String,
    events: Vec<EventKind>,
    #[serde(default)]
    min_severity: Option<Severity>,
}

#[derive(Serialize)]
struct CreatedHook {
    hook: HookItem,
    /// Shown once: the HMAC key of `X-Fwaudit-Signature`.
    secret: String,
}

/// A new webhook record and its secret (checks the URL and events).
pub fn new_hook(
    url: &str,
    events: Vec<EventKind>,
    min_severity: Option<Severity>,
) -> Result<Hook, ApiError> {
    let parsed = reqwest::Url::parse(url).map_err(|e| ApiError::invalid("url", e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(ApiError::invalid("url", "must be an http or https URL"));
    }
    if events.is_empty() {
        return Err(ApiError::invalid(
            "events",
            "name at least one of new-finding, resolved, new-device-firmware",
        ));
    }
    Ok(Hook {
        id: auth::random_hex(6)?,
        url: url.to_string(),
        events,
        min_severity,
        secret: auth::random_hex(32)?,
        created: crate::date::now_utc(),
    })
}

async fn create_hook(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(req): JsonBody<NewHook>,
) -> ApiResult<(StatusCode, Json<CreatedHook>)> {
    admin_everywhere(&caller)?;
    let hook = new_hook(&req.url, req.events, req.min_severity)?;
    blocking(move || {
        state.store.put_hook(&hook)?;
        Ok((
            StatusCode::CREATED,
            Json(CreatedHook {
                hook: (&hook).into(),
                secret: hook.secret.clone(),
            }),
        ))
    })
    .await
}

async fn remove_hook(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    admin_everywhere(&caller)?;
    blocking(move || {
        if state.store.remove_hook(&id)? {
            Ok(StatusCode::NO_CONTENT)
        } else {
            Err(ApiError::not_found(format!("no webhook {id:?}")))
        }
    })
    .await
}

async fn deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<crate::fleet::access::Delivery>>> {
    admin_everywhere(&caller)?;
    blocking(move || {
        if !state.store.hooks()?.iter().any(|h| h.id == id) {
            return Err(ApiError::not_found(format!("no webhook {id:?}")));
        }
        Ok(Json(state.store.deliveries(&id, 200)?))
    })
    .await
}

/// `Content-Type: application/json` on a body already serialised.
pub fn json_bytes(bytes: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], bytes).into_response()
}
