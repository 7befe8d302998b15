//! `fwaudit serve`, `keys`, `users`, `webhooks`: argument wiring and
//! rendering only; the work is in `fwaudit::serve` and `fwaudit::fleet`.

use crate::cli::{KeysCommand, ScopeArg, ServeArgs, UsersCommand, WebhooksCommand};
use crate::{emit, severity_of};
use fwaudit::date::now_utc;
use fwaudit::fleet::access::{DeviceToken, EventKind, Role, User};
use fwaudit::fleet::open::{Store, open};
use fwaudit::serve::{self, auth};
use std::fmt::Write;
use std::io::Read;
use std::path::Path;
use std::time::Duration;

fn role(s: ScopeArg) -> Role {
    match s {
        ScopeArg::Read => Role::Read,
        ScopeArg::Triage => Role::Triage,
        ScopeArg::Write => Role::Write,
        ScopeArg::Admin => Role::Admin,
    }
}

fn json<T: serde::Serialize>(value: &T) -> Result<String, String> {
    serde_json::to_string_pretty(value)
        .map(|s| s + "\n")
        .map_err(|e| e.to_string())
}

pub fn run_serve(args: ServeArgs, data_dir: &Path, database: Option<&str>) -> Result<u8, String> {
    let tls = match (args.tls_cert, args.tls_key) {
        (Some(c), Some(k)) => Some((c, k)),
        _ => None,
    };
    serve::run(serve::Config {
        listen: args.listen,
        tls,
        data_dir: data_dir.to_path_buf(),
        database: database.map(str::to_string),
        rate_limit: args.rate_limit,
        max_upload: args.max_upload,
        session_lifetime: Duration::from_secs(args.session_hours * 3600),
        retry: serve::webhooks::RetryPolicy {
            base: Duration::from_secs(args.webhook_backoff),
            ..serve::webhooks::RetryPolicy::default()
        },
        overview_ttl: Duration::from_secs(30),
    })?;
    Ok(0)
}

pub fn run_keys(
    command: KeysCommand,
    data_dir: &Path,
    database: Option<&str>,
) -> Result<u8, String> {
    let fleet = open(database, data_dir, false)?;
    let now = now_utc();
    match command {
        KeysCommand::Create {
            name,
            scope,
            tags,
            format,
        } => {
            let (key, token) = auth::new_key(&name, role(scope), &tags, &now)?;
            fleet.put_key(&key)?;
            emit(
                &if format.is_json() {
                    json(
                        &serde_json::json!({"id": key.id, "name": key.name, "scope": key.scope, "tags": key.tags, "token": token}),
                    )?
                } else {
                    format!(
                        "{token}\n(key {} \"{}\", scope {}{}; shown once: only its hash is kept)\n",
                        key.id,
                        key.name,
                        key.scope.as_str(),
                        if key.tags.is_empty() {
                            String::new()
                        } else {
                            format!(", tags {}", key.tags.join(","))
                        }
                    )
                },
                None,
            )?;
        }
        KeysCommand::List { format } => {
            let keys: Vec<serde_json::Value> = fleet
                .keys()?
                .into_iter()
                .map(|k| {
                    serde_json::json!({"id": k.id, "name": k.name, "scope": k.scope, "tags": k.tags,
                                       "created": k.created, "revoked": k.revoked})
                })
                .collect();
            let text = if format.is_json() {
                json(&keys)?
            } else {
                let mut t = String::new();
                for k in &keys {
                    let _ = writeln!(
                        t,
                        "{} {:<20} {:<7} {:<12} {}",
                        k["id"].as_str().unwrap_or(""),
                        k["name"].as_str().unwrap_or(""),
                        k["scope"].as_str().unwrap_or(""),
                        k["tags"]
                            .as_array()
                            .map(|a| a
                                .iter()
                                .filter_map(|t| t.as_str())
                                .collect::<Vec<_>>()
                                .join(","))
                            .unwrap_or_default(),
                        k["revoked"]
                            .as_str()
                            .map(|r| format!("revoked {r}"))
                            .unwrap_or_default()
                    );
                }
                t
            };
            emit(&text, None)?;
        }
        KeysCommand::Revoke { id } => {
            let mut key = fleet.key(&id)?.ok_or_else(|| format!("no key {id:?}"))?;
            if key.revoked.is_none() {
                key.revoked = Some(now);
                fleet.put_key(&key)?;
            }
            emit(&format!("key {id} revoked\n"), None)?;
        }
        KeysCommand::DeviceToken { device } => {
            if fleet.device(&device)?.is_none() {
                return Err(format!("no device {device:?} in the fleet store"));
            }
            let (hash, token) = auth::new_device_token()?;
            fleet.put_device_token(&DeviceToken {
                device: device.clone(),
                hash,
                created: now,
            })?;
            emit(
                &format!("{token}\n(check-in token of device {device}; shown once)\n"),
                None,
            )?;
        }
    }
    fleet.close(true)?;
    Ok(0)
}

pub fn run_users(
    command: UsersCommand,
    data_dir: &Path,
    database: Option<&str>,
) -> Result<u8, String> {
    let UsersCommand::Add { name, scope, tags } = command;
    let mut password = String::new();
    std::io::stdin()
        .read_to_string(&mut password)
        .map_err(|e| format!("standard input: {e}"))?;
    let password = password.trim_end_matches(['\r', '\n']);
    if password.chars().count() < 12 {
        return Err(
            "the password (read from standard input) must have at least 12 characters".into(),
        );
    }
    let user = User {
        name: name.clone(),
        password_hash: auth::hash_password(password)?,
        scope: role(scope),
        tags,
        created: now_utc(),
    };
    let fleet = open(database, data_dir, false)?;
    fleet.put_user(&user)?;
    fleet.close(true)?;
    emit(&format!("user {name} saved\n"), None)?;
    Ok(0)
}

pub fn run_webhooks(
    command: WebhooksCommand,
    data_dir: &Path,
    database: Option<&str>,
) -> Result<u8, String> {
    let fleet = open(database, data_dir, false)?;
    match command {
        WebhooksCommand::Add {
            url,
            events,
            min_severity,
            format,
        } => {
            let kinds = events
                .iter()
                .map(|e| {
                    EventKind::parse(e.trim()).ok_or_else(|| {
                        format!("--events: unknown event {e:?} (new-finding, resolved, new-device-firmware)")
                    })
                })
                .collect::<Result<Vec<_>, String>>()?;
            let hook = serve::api::new_hook(&url, kinds, min_severity.map(severity_of))
                .map_err(|e| format!("{}: {}", e.field.unwrap_or_default(), e.message))?;
            fleet.put_hook(&hook)?;
            emit(
                &if format.is_json() {
                    json(&hook)?
                } else {
                    format!(
                        "webhook {} added\nsecret (shown once; X-Fwaudit-Signature is its HMAC-SHA256 of each body): {}\n",
                        hook.id, hook.secret
                    )
                },
                None,
            )?;
        }
        WebhooksCommand::List { format } => {
            let hooks: Vec<serde_json::Value> = fleet
                .hooks()?
                .into_iter()
                .map(|h| serde_json::json!({"id": h.id, "url": h.url, "events": h.events, "min_severity": h.min_severity}))
                .collect();
            let text = if format.is_json() {
                json(&hooks)?
            } else {
                let mut t = String::new();
                for h in &hooks {
                    let _ = writeln!(
                        t,
                        "{} {} {} {}",
                        h["id"].as_str().unwrap_or(""),
                        h["url"].as_str().unwrap_or(""),
                        h["events"],
                        h["min_severity"]
                    );
                }
                t
            };
            emit(&text, None)?;
        }
        WebhooksCommand::Remove { id } => {
            if !fleet.remove_hook(&id)? {
                return Err(format!("no webhook {id:?}"));
            }
            emit(&format!("webhook {id} removed\n"), None)?;
        }
        WebhooksCommand::Deliveries { id, format } => {
            let log = fleet.deliveries(&id, 200)?;
            let text = if format.is_json() {
                json(&log)?
            } else {
                let mut t = String::new();
                for d in &log {
                    let _ = writeln!(
                        t,
                        "{} batch {} attempt {}: {} ({} events, {} ms){}",
                        d.at,
                        d.batch,
                        d.attempt,
                        if d.delivered { "delivered" } else { "failed" },
                        d.events,
                        d.duration_ms,
                        d.error
                            .as_deref()
                            .map(|e| format!(": {e}"))
                            .unwrap_or_default()
                    );
                }
                t
            };
            emit(&text, None)?;
        }
    }
    fleet.close(true)?;
    Ok(0)
}

pub fn run_worker(
    args: crate::cli::WorkerArgs,
    data_dir: &Path,
    database: Option<&str>,
) -> Result<u8, String> {
    let Some(url) = database else {
        return Err(
            "fwaudit worker needs the fleet database: --database postgres://... (or FWAUDIT_DATABASE_URL)"
                .into(),
        );
    };
    let Store::Postgres(store) = open(Some(url), data_dir, false)? else {
        return Err("fwaudit worker needs a PostgreSQL fleet database".into());
    };
    let summary = fwaudit::worker::run(
        store,
        fwaudit::worker::Config {
            concurrency: args.concurrency.max(1),
            lease: Duration::from_secs(args.lease.max(3)),
            uploads: args
                .uploads
                .unwrap_or_else(|| fwaudit::serve::jobs::upload_dir(data_dir)),
            data_dir: data_dir.to_path_buf(),
            name: args.name.unwrap_or_else(fwaudit::worker::default_name),
            poll: Duration::from_millis(args.poll.max(10)),
        },
    )?;
    eprintln!(
        "fwaudit: worker stopped: {} jobs done, {} failed, {} lost to an expired lease",
        summary.done, summary.failed, summary.lost
    );
    Ok(0)
}
