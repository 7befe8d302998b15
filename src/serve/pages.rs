//! The dashboard: server-rendered pages (askama templates under
//! `templates/`, compiled into the binary), one small script and one style
//! sheet served from the binary. A browser logs in with an API key or a
//! user's password and gets a session cookie (HttpOnly, SameSite=Strict,
//! Secure under TLS); every form carries the session's CSRF token. Every
//! number is computed within the session's scope, like the API's.

// A page that fails answers with the error page itself: the `Err` of a
// page result is a whole response, by design.
#![allow(clippy::result_large_err)]

use super::api::{self, FindingFilter, TriageRequest, blocking};
use super::auth::{self, Caller, LOGIN_COOKIE, SESSION_COOKIE, Session};
use super::error::{ApiError, ApiResult};
use super::input::{self, Params};
use super::overview::{Overview, TrendPoint};
use super::state::AppState;
use crate::fleet::FleetOps;
use crate::fleet::access::{Role, TriageAction};
use crate::fleet::record::{Device, FindingRow, FirmwareSeen};
use askama::Template;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};

const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(overview))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/devices", get(devices))
        .route("/devices/{id}", get(device))
        .route("/vulnerabilities/{id}", get(vulnerability))
        .route("/images/{sha}", get(image))
        .route("/findings", get(findings))
        .route("/findings/triage", post(triage))
        .route("/assets/app.js", get(|| asset(APP_JS, "text/javascript")))
        .route("/assets/app.css", get(|| asset(APP_CSS, "text/css")))
}

async fn asset(body: &'static str, kind: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// What every page shows around its content.
pub struct Chrome {
    /// Who is logged in (empty on the login page).
    pub who: String,
    pub role: String,
    pub csrf: String,
}

impl Chrome {
    fn of(s: &Session) -> Chrome {
        Chrome {
            who: s.caller.who.clone(),
            role: s.caller.role.as_str().to_string(),
            csrf: s.csrf.clone(),
        }
    }
}

/// A page's outcome: the page, or where to go instead.
type PageResult = Result<Response, Response>;

fn render(t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("template: {e}")).into_response(),
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    chrome: Chrome,
    status: u16,
    message: String,
}

fn error_page(session: Option<&Session>, e: ApiError) -> Response {
    let page = ErrorPage {
        chrome: session.map(Chrome::of).unwrap_or(Chrome {
            who: String::new(),
            role: String::new(),
            csrf: String::new(),
        }),
        status: e.status.as_u16(),
        message: e.message,
    };
    (e.status, render(&page)).into_response()
}

/// The session of a request, or a redirect to the login page.
fn session(state: &AppState, headers: &HeaderMap) -> Result<Session, Response> {
    let s = auth::cookie(headers, SESSION_COOKIE)
        .and_then(|id| state.sessions.get(id))
        .ok_or_else(|| Redirect::to("/login").into_response())?;
    state
        .limiter
        .check(&s.caller.limit_id)
        .map_err(|e| error_page(Some(&s), e))?;
    Ok(s)
}

/// Form fields of a POST, and a check of its CSRF token.
fn form(body: &str, csrf: &str) -> ApiResult<Vec<(String, String)>> {
    let fields = input::pairs(body);
    let sent = fields
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    if csrf.is_empty() || !auth::same_digest(sent, csrf) {
        return Err(ApiError::forbidden(
            "the form's CSRF token is missing or stale: reload the page and try again",
        ));
    }
    Ok(fields)
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

// ---- login

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    chrome: Chrome,
    error: String,
}

async fn login_form(State(state): State<AppState>) -> ApiResult<Response> {
    let csrf = auth::random_hex(32)?;
    let mut res = render(&LoginPage {
        chrome: Chrome {
            who: String::new(),
            role: String::new(),
            csrf: csrf.clone(),
        },
        error: String::new(),
    });
    set_cookie(
        &mut res,
        &auth::set_cookie(LOGIN_COOKIE, &csrf, state.config.tls.is_some(), Some(600)),
    );
    Ok(res)
}

fn set_cookie(res: &mut Response, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
}

async fn login(State(state): State<AppState>, headers: HeaderMap, body: String) -> Response {
    let pre = auth::cookie(&headers, LOGIN_COOKIE)
        .unwrap_or("")
        .to_string();
    let fields = match form(&body, &pre) {
        Ok(f) => f,
        Err(e) => return error_page(None, e),
    };
    let token = field(&fields, "token").trim().to_string();
    let user = field(&fields, "user").trim().to_string();
    let password = field(&fields, "password").to_string();
    let ip_limit = format!("login:{}", if user.is_empty() { "key" } else { &user });
    if let Err(e) = state.limiter.check(&ip_limit) {
        return error_page(None, e);
    }
    let s = state.clone();
    let found = blocking(move || {
        let store = s.store.as_ref();
        Ok(if !token.is_empty() {
            auth::check_key(store, &token)?.map(|k| Caller::of_key(&k))
        } else {
            auth::check_user(store, &user, &password)?.map(|u| Caller::of_user(&u))
        })
    })
    .await;
    let caller = match found {
        Ok(Some(c)) => c,
        Ok(None) => {
            let csrf = pre;
            let page = LoginPage {
                chrome: Chrome {
                    who: String::new(),
                    role: String::new(),
                    csrf,
                },
                error: "That key, or that user and password, is not known.".into(),
            };
            return (StatusCode::UNAUTHORIZED, render(&page)).into_response();
        }
        Err(e) => return error_page(None, e),
    };
    let id = match state.sessions.start(caller) {
        Ok(id) => id,
        Err(e) => return error_page(None, ApiError::internal(e)),
    };
    let tls = state.config.tls.is_some();
    let mut res = Redirect::to("/").into_response();
    set_cookie(
        &mut res,
        &auth::set_cookie(
            SESSION_COOKIE,
            &id,
            tls,
            Some(state.config.session_lifetime.as_secs()),
        ),
    );
    set_cookie(&mut res, &auth::set_cookie(LOGIN_COOKIE, "", tls, Some(0)));
    res
}

async fn logout(State(state): State<AppState>, headers: HeaderMap, body: String) -> Response {
    let Ok(s) = session(&state, &headers) else {
        return Redirect::to("/login").into_response();
    };
    if let Err(e) = form(&body, &s.csrf) {
        return error_page(Some(&s), e);
    }
    if let Some(id) = auth::cookie(&headers, SESSION_COOKIE) {
        state.sessions.end(id);
    }
    let mut res = Redirect::to("/login").into_response();
    set_cookie(
        &mut res,
        &auth::set_cookie(SESSION_COOKIE, "", state.config.tls.is_some(), Some(0)),
    );
    res
}

// ---- overview

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    chrome: Chrome,
    o: Overview,
    trend: TrendChart,
    /// Widest model bar, for scaling.
    model_max: usize,
}

/// The trend drawn as SVG: polylines in a 600 x 160 box.
pub struct TrendChart {
    pub active: String,
    pub high: String,
    pub max: u64,
    pub first: String,
    pub last: String,
}

fn chart(points: &[TrendPoint]) -> TrendChart {
    let max = points.iter().map(|p| p.active).max().unwrap_or(0).max(1);
    let n = points.len().max(2) - 1;
    let line = |f: &dyn Fn(&TrendPoint) -> u64| -> String {
        points
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let x = 40.0 + 550.0 * i as f64 / n as f64;
                let y = 150.0 - 140.0 * f(p) as f64 / max as f64;
                format!("{x:.1},{y:.1}")
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    TrendChart {
        active: line(&|p| p.active),
        high: line(&|p| p.high_or_worse),
        max,
        first: points.first().map(|p| p.day.clone()).unwrap_or_default(),
        last: points.last().map(|p| p.day.clone()).unwrap_or_default(),
    }
}

async fn overview(State(state): State<AppState>, headers: HeaderMap) -> PageResult {
    let s = session(&state, &headers)?;
    let scope = s.caller.scope.clone();
    let st = state.clone();
    // The trend is written with the clock of the store's writes.
    let today = crate::date::now_utc()[..10].to_string();
    let o = blocking(move || Ok(st.overview(&scope, &today)?))
        .await
        .map_err(|e| error_page(Some(&s), e))?;
    let o = o.as_ref().clone();
    Ok(render(&OverviewPage {
        chrome: Chrome::of(&s),
        trend: chart(&o.trend),
        model_max: o
            .patch_by_model
            .iter()
            .map(|m| m.devices)
            .max()
            .unwrap_or(1)
            .max(1),
        o,
    }))
}

// ---- devices

#[derive(Template)]
#[template(path = "devices.html")]
struct DevicesPage {
    chrome: Chrome,
    model: String,
    tag: String,
    image: String,
    devices: Vec<Device>,
    next: String,
}

async fn devices(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> PageResult {
    let s = session(&state, &headers)?;
    let fail = |e| error_page(Some(&s), e);
    let p = Params::parse(q.as_deref(), &["model", "tag", "image", "cursor"]).map_err(fail)?;
    let model = p.str("model").unwrap_or("").to_string();
    let tag = p.str("tag").unwrap_or("").to_string();
    let image = p.sha256("image").map_err(fail)?.unwrap_or_default();
    let after = p.cursor().map_err(fail)?.and_then(|c| c.into_iter().next());
    let scope = s.caller.scope.clone();
    let st = state.clone();
    let (m, t, i) = (model.clone(), tag.clone(), image.clone());
    let list = blocking(move || {
        let store = st.store.as_ref();
        let limit = 100;
        let mut keep = |d: &Device| {
            (m.is_empty() || d.model == m)
                && (t.is_empty() || d.tags.contains(&t))
                && (i.is_empty() || d.image.as_deref() == Some(i.as_str()))
                && scope.admits(&d.tags)
        };
        Ok(store.devices_after(after.as_deref(), limit + 1, &mut keep)?)
    })
    .await
    .map_err(fail)?;
    let mut devices = list;
    let next = if devices.len() > 100 {
        devices.truncate(100);
        let mut q = vec![];
        for (k, v) in [("model", &model), ("tag", &tag), ("image", &image)] {
            if !v.is_empty() {
                q.push(format!("{k}={}", enc(v)));
            }
        }
        q.push(format!(
            "cursor={}",
            input::cursor(&[&devices.last().map(|d| d.id.clone()).unwrap_or_default()])
        ));
        format!("/devices?{}", q.join("&"))
    } else {
        String::new()
    };
    Ok(render(&DevicesPage {
        chrome: Chrome::of(&s),
        model,
        tag,
        image,
        devices,
        next,
    }))
}

/// Percent-encodes a query value.
fn enc(v: &str) -> String {
    form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

#[derive(Template)]
#[template(path = "device.html")]
struct DevicePage {
    chrome: Chrome,
    device: Device,
    history: Vec<FirmwareSeen>,
    facts: Vec<(String, String)>,
}

async fn device(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> PageResult {
    let s = session(&state, &headers)?;
    let scope = s.caller.scope.clone();
    let st = state.clone();
    let (device, history) = blocking(move || {
        let store = st.store.as_ref();
        let d = store
            .device(&id)?
            .filter(|d| scope.admits(&d.tags))
            .ok_or_else(|| ApiError::not_found(format!("no device {id:?}")))?;
        Ok((d, store.firmware_history(&id)?))
    })
    .await
    .map_err(|e| error_page(Some(&s), e))?;
    let facts = device
        .facts
        .iter()
        .map(|(k, v)| (k.clone(), v.to_string()))
        .collect();
    Ok(render(&DevicePage {
        chrome: Chrome::of(&s),
        device,
        history,
        facts,
    }))
}

// ---- vulnerability

#[derive(Template)]
#[template(path = "vulnerability.html")]
struct VulnerabilityPage {
    chrome: Chrome,
    a: api::AdvisoryAnswer,
    devices: Vec<api::AffectedDevice>,
    next: String,
    /// The versions to ship, per component.
    ship: Vec<(String, String)>,
}

async fn vulnerability(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> PageResult {
    let s = session(&state, &headers)?;
    let fail = |e| error_page(Some(&s), e);
    let p = Params::parse(q.as_deref(), &["cursor"]).map_err(fail)?;
    let after = match p.cursor().map_err(fail)? {
        Some(c) if c.len() == 2 => Some((c[0].clone(), c[1].clone())),
        _ => None,
    };
    let scope = s.caller.scope.clone();
    let st = state.clone();
    let key = id.clone();
    let (a, page) = blocking(move || {
        let store = st.store.as_ref();
        Ok((
            api::advisory_answer(store, &scope, &key)?,
            api::affected_devices(store, &scope, &key, after, 100)?,
        ))
    })
    .await
    .map_err(fail)?;
    let mut ship: Vec<(String, String)> = Vec::new();
    for i in &a.images {
        let name = i.component.split('@').next().unwrap_or("").to_string();
        let fix = i.fix.clone().unwrap_or_else(|| "no fixed version".into());
        if !ship.iter().any(|(n, f)| *n == name && *f == fix) {
            ship.push((name, fix));
        }
    }
    let next = page
        .next_cursor
        .map(|c| format!("/vulnerabilities/{}?cursor={c}", enc(&id)))
        .unwrap_or_default();
    Ok(render(&VulnerabilityPage {
        chrome: Chrome::of(&s),
        a,
        devices: page.items,
        next,
        ship,
    }))
}

// ---- image

#[derive(Template)]
#[template(path = "image.html")]
struct ImagePage {
    chrome: Chrome,
    i: api::ImageAnswer,
    can_triage: bool,
    back: String,
    other: String,
    diff: Option<crate::fleet::queries::Diff>,
}

async fn image(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(sha): Path<String>,
    RawQuery(q): RawQuery,
) -> PageResult {
    let s = session(&state, &headers)?;
    let fail = |e| error_page(Some(&s), e);
    let sha = input::sha256("sha", &sha).map_err(fail)?;
    let p = Params::parse(q.as_deref(), &["diff"]).map_err(fail)?;
    let other = p.sha256("diff").map_err(fail)?;
    let scope = s.caller.scope.clone();
    let st = state.clone();
    let (sha2, other2) = (sha.clone(), other.clone());
    let (i, diff) = blocking(move || {
        let store = st.store.as_ref();
        let i = api::image_answer(store, &scope, &sha2)?;
        let diff = match &other2 {
            Some(o) => {
                if !api::sees_image(store, &scope, o)? || !store.has_image(o)? {
                    return Err(ApiError::not_found(format!("no image {o}")));
                }
                Some(store.diff(o, &sha2)?)
            }
            None => None,
        };
        Ok((i, diff))
    })
    .await
    .map_err(fail)?;
    Ok(render(&ImagePage {
        can_triage: s.caller.role >= Role::Triage,
        chrome: Chrome::of(&s),
        back: format!("/images/{sha}"),
        other: other.unwrap_or_default(),
        i,
        diff,
    }))
}

// ---- findings and triage

#[derive(Template)]
#[template(path = "findings.html")]
struct FindingsPage {
    chrome: Chrome,
    rows: Vec<FindingRow>,
    state: String,
    severity: String,
    kind: String,
    advisory: String,
    component: String,
    can_triage: bool,
    back: String,
    next: String,
}

async fn findings(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> PageResult {
    let s = session(&state, &headers)?;
    let fail = |e| error_page(Some(&s), e);
    let p = Params::parse(q.as_deref(), &FindingFilter::PARAMS).map_err(fail)?;
    let filter = FindingFilter::parse(&p).map_err(fail)?;
    let after = match p.cursor().map_err(fail)? {
        Some(c) if c.len() == 2 => Some((c[0].clone(), c[1].clone())),
        _ => None,
    };
    let scope = s.caller.scope.clone();
    let st = state.clone();
    let f = filter.clone();
    let page = blocking(move || api::find(st.store.as_ref(), &scope, &f, after, 100))
        .await
        .map_err(fail)?;
    let text = |k: &str| p.str(k).unwrap_or("").to_string();
    let mut query: Vec<String> = FindingFilter::PARAMS[..6]
        .iter()
        .filter_map(|k| p.str(k).map(|v| format!("{k}={}", enc(v))))
        .collect();
    let back = if query.is_empty() {
        "/findings".to_string()
    } else {
        format!("/findings?{}", query.join("&"))
    };
    let next = match &page.next_cursor {
        Some(c) => {
            query.push(format!("cursor={c}"));
            format!("/findings?{}", query.join("&"))
        }
        None => String::new(),
    };
    Ok(render(&FindingsPage {
        can_triage: s.caller.role >= Role::Triage,
        chrome: Chrome::of(&s),
        rows: page.items,
        state: text("state"),
        severity: text("severity"),
        kind: text("kind"),
        advisory: text("advisory"),
        component: text("component"),
        back,
        next,
    }))
}

async fn triage(State(state): State<AppState>, headers: HeaderMap, body: String) -> PageResult {
    let s = session(&state, &headers)?;
    let fail = |e| error_page(Some(&s), e);
    let fields = form(&body, &s.csrf).map_err(fail)?;
    let action = TriageAction::parse(field(&fields, "action")).ok_or_else(|| {
        fail(ApiError::invalid(
            "action",
            "choose suppress, not_affected or reopen",
        ))
    })?;
    let req = TriageRequest {
        image: field(&fields, "image").to_string(),
        finding: field(&fields, "finding").to_string(),
        action,
        reason: field(&fields, "reason").to_string(),
        expires: Some(field(&fields, "expires").to_string()),
    };
    // Back to the page the form was on (only a path on this site).
    let back = field(&fields, "back");
    let back = if back.starts_with('/') && !back.starts_with("//") && !back.contains('\\') {
        back.to_string()
    } else {
        "/findings".to_string()
    };
    let caller = s.caller.clone();
    let st = state.clone();
    blocking(move || api::apply_triage(&st, &caller, req))
        .await
        .map_err(fail)?;
    Ok(Redirect::to(&back).into_response())
}
