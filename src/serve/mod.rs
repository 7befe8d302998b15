//! `fwaudit serve`: the fleet store behind an authenticated HTTP API
//! (`/api/v1`, see [`api`]), a server-rendered dashboard ([`pages`]),
//! device check-in, background scan and rematch jobs ([`jobs`]) and
//! webhooks ([`webhooks`]). axum on tokio; TLS through rustls.
//!
//! The service owns the store while it runs (sled allows one process):
//! fleet commands run meanwhile are told that `serve` holds it and where
//! its API is (a `serve.json` mark beside the store says so).

pub mod api;
pub mod auth;
pub mod error;
pub mod input;
pub mod jobs;
pub mod overview;
pub mod pages;
pub mod state;
pub mod webhooks;

use crate::fleet::FleetStore;
use crate::fleet::sled_store::SERVE_MARK;
use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
pub use state::{AppState, Config};
use std::collections::HashSet;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// Largest JSON body (triage, keys, check-ins); device imports take more.
pub const JSON_LIMIT: usize = 64 << 10;

/// The Content-Security-Policy of every answer: only this origin's own
/// script and style files, no inline code, no framing, forms post here.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                       connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Scan options of jobs the service runs (today's date for end-of-life).
pub fn scan_options() -> crate::scan::Options {
    crate::scan::Options {
        today: crate::date::today(),
        ..crate::scan::Options::default()
    }
}

/// The whole application: API, dashboard, security headers.
pub fn app(state: AppState) -> Router {
    let tls = state.config.tls.is_some();
    Router::new()
        .merge(api::router())
        .merge(pages::router())
        .layer(axum::extract::DefaultBodyLimit::max(JSON_LIMIT))
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            headers(req, next, tls)
        }))
        .with_state(state)
}

async fn headers(req: Request, next: Next, tls: bool) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !path.starts_with("/assets/") {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if tls {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    // Server errors are logged: method and path only (no query, no
    // headers: nothing that could hold a secret).
    if res.status().is_server_error() {
        eprintln!("fwaudit: serve: {method} {path} -> {}", res.status());
    }
    res
}

/// Builds the shared state around an open store and starts the job
/// worker thread and the webhook notifier task (on the current runtime).
pub fn start(store: Arc<dyn FleetStore>, config: Config) -> Result<AppState, String> {
    let (job_tx, job_rx) = std::sync::mpsc::channel();
    let (event_tx, mut event_rx) = tokio::sync::mpsc::unbounded_channel::<Vec<webhooks::Event>>();
    // Device tokens are few (one per device) and small: kept in memory to
    // tell another device's token from an unknown one.
    let tokens: HashSet<String> = store.device_token_hashes()?.into_iter().collect();
    let state = AppState {
        store: store.clone(),
        limiter: Arc::new(auth::Limiter::new(config.rate_limit)),
        sessions: Arc::new(auth::Sessions::new(config.session_lifetime)),
        device_tokens: Arc::new(RwLock::new(tokens)),
        jobs: job_tx,
        events: event_tx,
        generation: Arc::new(AtomicU64::new(0)),
        overview_cache: Arc::new(Mutex::new(Default::default())),
        patch_cache: Arc::new(Mutex::new(Default::default())),
        where_cache: Arc::new(Mutex::new(Default::default())),
        config: Arc::new(config),
    };
    // With a shared queue (PostgreSQL), `fwaudit worker` processes claim
    // the jobs this service queues; otherwise it runs them itself.
    if !store.shared_queue() {
        let worker_state = state.clone();
        std::thread::Builder::new()
            .name("fwaudit-jobs".into())
            .spawn(move || jobs::worker(worker_state, job_rx))
            .map_err(|e| format!("cannot start the job worker: {e}"))?;
        for id in jobs::unfinished(store.as_ref())? {
            let _ = state.jobs.send(id);
        }
    }
    // Events are gathered for a moment so that a burst of check-ins goes
    // out as one batch per hook.
    let notifier_store = store;
    let retry = state.config.retry;
    tokio::spawn(async move {
        let client = reqwest::Client::new();
        while let Some(mut events) = event_rx.recv().await {
            tokio::time::sleep(Duration::from_millis(200)).await;
            while let Ok(more) = event_rx.try_recv() {
                events.extend(more);
            }
            let store = notifier_store.clone();
            let client = client.clone();
            tokio::spawn(async move {
                webhooks::deliver(store.as_ref(), &client, &events, retry).await;
            });
        }
    });
    Ok(state)
}

/// Runs the service until Ctrl-C or SIGTERM.
pub fn run(config: Config) -> Result<(), String> {
    let store = crate::fleet::open::open(config.database.as_deref(), &config.data_dir, false)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let store: Arc<dyn FleetStore> = store.shared();
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let url = format!("{scheme}://{}", config.listen);
    // The embedded store has one owner, which says so beside it; any
    // number of services share a database.
    let mark = config
        .database
        .is_none()
        .then(|| config.data_dir.join(SERVE_MARK));
    let result = runtime.block_on(async {
        let state = start(store.clone(), config.clone())?;
        let app = app(state);
        let handle = axum_server::Handle::new();
        let stop = handle.clone();
        tokio::spawn(async move {
            shutdown_signal().await;
            stop.graceful_shutdown(Some(Duration::from_secs(5)));
        });
        let listener = std::net::TcpListener::bind(config.listen)
            .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
        let local = listener
            .local_addr()
            .map_err(|e| format!("{}: {e}", config.listen))?;
        let url = format!("{scheme}://{local}");
        if let Some(mark) = &mark {
            let _ = std::fs::write(
                mark,
                serde_json::json!({"pid": std::process::id(), "url": url}).to_string(),
            );
        }
        eprintln!("fwaudit: serving {} on {url}", store.location());
        let served = match &config.tls {
            Some((cert, key)) => {
                let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
                    .await
                    .map_err(|e| {
                        format!(
                            "TLS certificate {} / key {}: {e}",
                            cert.display(),
                            key.display()
                        )
                    })?;
                axum_server::from_tcp_rustls(listener, tls)
                    .map_err(|e| format!("{url}: {e}"))?
                    .handle(handle)
                    .serve(app.into_make_service())
                    .await
            }
            None => {
                axum_server::from_tcp(listener)
                    .map_err(|e| format!("{url}: {e}"))?
                    .handle(handle)
                    .serve(app.into_make_service())
                    .await
            }
        };
        served.map_err(|e| format!("{url}: {e}"))
    });
    if let Some(mark) = &mark {
        let _ = std::fs::remove_file(mark);
    }
    let _ = url;
    store.flush()?;
    result
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
