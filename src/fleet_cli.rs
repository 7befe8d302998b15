//! `fwaudit fleet ...`: argument wiring and rendering only; the work is in
//! `fwaudit::fleet`.

use crate::cli::FleetCommand;
use crate::{EXIT_ERROR, EXIT_FINDINGS, emit, progress, progress_bar, severity_of};
use fwaudit::advisory::Database;
use fwaudit::advisory::store::now_utc;
use fwaudit::fleet::open::{Store, open};
use fwaudit::fleet::queries::{PatchFilter, Scope, VersionReq};
use fwaudit::fleet::timing;
use fwaudit::fleet::transfer;
use fwaudit::fleet::{FleetOps, FleetStore, RematchSummary};
use fwaudit::scan::Options;
use serde::Serialize;
use std::fmt::Write;
use std::path::Path;

fn json<T: Serialize>(value: &T) -> Result<String, String> {
    serde_json::to_string_pretty(value)
        .map(|s| s + "\n")
        .map_err(|e| e.to_string())
}

fn options() -> Options {
    Options {
        today: fwaudit::analyze::outdated::today(),
        ..Options::default()
    }
}

pub fn run(command: FleetCommand, data_dir: &Path, database: Option<&str>) -> Result<u8, String> {
    timing::mark("fleet command start");
    // Queries open the store without sled's background flusher and leave
    // it without sled's teardown; commands that write close it so that the
    // next command opens it fast (see `Fleet::close`).
    let reads_only = matches!(
        command,
        FleetCommand::NeedsPatch { .. }
            | FleetCommand::Where { .. }
            | FleetCommand::Keys { .. }
            | FleetCommand::Verify
            | FleetCommand::Migrate { .. }
            | FleetCommand::Export { .. }
    );
    let fleet = open(database, data_dir, reads_only)?;
    crate::note_migration(&fleet);
    let now = now_utc();
    let code = match command {
        FleetCommand::Import {
            file,
            json: as_json,
        } => {
            let summary = fleet.import_devices(&file, &now)?;
            let text = if as_json {
                json(&summary)?
            } else {
                let mut t = format!("imported {} devices\n", summary.imported);
                for u in &summary.unresolved {
                    let _ = writeln!(t, "unresolved: {u}");
                }
                t
            };
            emit(&text, None)?;
            for e in &summary.errors {
                eprintln!("fwaudit: error: {e} (row skipped)");
            }
            if summary.errors.is_empty() {
                0
            } else {
                EXIT_ERROR
            }
        }
        FleetCommand::Rematch { json: as_json } => {
            let db = Database::load(data_dir)?;
            let summary = fleet.rematch(&db, &options(), &now)?;
            notify(&*fleet, &summary);
            emit(
                &if as_json {
                    json(&summary)?
                } else {
                    render_rematch(&summary)
                },
                None,
            )?;
            0
        }
        FleetCommand::NeedsPatch {
            advisory,
            min_severity,
            model,
            tag,
            json: as_json,
        } => {
            let filter = PatchFilter {
                advisory,
                min_severity: min_severity.map(severity_of),
                model,
                tag,
                ..PatchFilter::default()
            };
            let groups = fleet.needs_patch(&filter)?;
            timing::mark("query");
            let text = if as_json {
                json(&groups)?
            } else {
                let mut t = String::new();
                for g in &groups {
                    let versions = if g.firmware_versions.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", g.firmware_versions.join(", "))
                    };
                    let _ = writeln!(
                        t,
                        "firmware {}{versions}: {} devices: {}",
                        &g.image[..12],
                        g.devices.len(),
                        id_list(&g.devices)
                    );
                    for u in &g.upgrades {
                        let to = u.to.as_deref().map_or("no fixed version".to_string(), |v| {
                            format!("upgrade to {v}")
                        });
                        let _ = writeln!(
                            t,
                            "  {:<22} {:<8} {to}  [{}]",
                            u.component,
                            u.max_severity.as_str(),
                            u.advisories.join(" ")
                        );
                    }
                }
                if groups.is_empty() {
                    t.push_str("no device needs patching for this selection\n");
                }
                t
            };
            timing::mark("rendered");
            emit(&text, None)?;
            0
        }
        FleetCommand::Where {
            spec,
            json: as_json,
        } => {
            let (name, req) = match spec.split_once('@') {
                Some((n, r)) => (n.to_string(), Some(VersionReq::parse(r)?)),
                None => (spec.clone(), None),
            };
            let hits = fleet.where_component(&name, req.as_ref(), &Scope::All, false)?;
            timing::mark("query");
            let text = if as_json {
                json(&hits)?
            } else {
                let mut t = String::new();
                for h in &hits {
                    let _ = writeln!(
                        t,
                        "{name} {} in {}: {} devices {}",
                        h.version,
                        &h.image[..12],
                        h.devices.len(),
                        id_list(&h.devices)
                    );
                }
                t
            };
            timing::mark("rendered");
            emit(&text, None)?;
            0
        }
        FleetCommand::Diff {
            image_a,
            image_b,
            json: as_json,
        } => {
            let db = Database::load(data_dir)?;
            let a = image_id(&*fleet, &image_a, &db, &now)?;
            let b = image_id(&*fleet, &image_b, &db, &now)?;
            let diff = fleet.diff(&a, &b)?;
            let text = if as_json {
                json(&diff)?
            } else {
                let mut t = String::new();
                for (label, list) in [
                    ("added", &diff.added),
                    ("removed", &diff.removed),
                    ("upgraded", &diff.upgraded),
                    ("downgraded", &diff.downgraded),
                    ("fixed", &diff.fixed),
                    ("introduced", &diff.introduced),
                ] {
                    for item in list {
                        let _ = writeln!(t, "{label:<10} {item}");
                    }
                }
                t
            };
            emit(&text, None)?;
            0
        }
        FleetCommand::Nightly {
            devices,
            images,
            fail_on,
            json: as_json,
        } => {
            let db = Database::load(data_dir)?;
            let summary = match &fleet {
                // Scans go to the job queue, for the workers.
                Store::Postgres(pg) => {
                    let bar = progress_bar();
                    let summary =
                        pg.nightly_queued(&devices, &images, &db, &options(), &now, &|p| {
                            bar.set_length(p.total);
                            bar.set_position(p.finished);
                            bar.set_message(p.message.clone());
                        });
                    bar.finish_and_clear();
                    summary
                }
                Store::Sled(_) => {
                    let bar = progress();
                    let summary = fleet.nightly(&devices, &images, &db, &options(), &now, &|m| {
                        bar.set_message(m.to_string())
                    });
                    bar.finish_and_clear();
                    summary
                }
            };
            let summary = summary?;
            notify(&*fleet, &summary.rematch);
            let text = if as_json {
                json(&summary)?
            } else {
                format!(
                    "scanned {} new images ({} already stored, {} failed); {} devices imported ({} rows skipped)\n{}",
                    summary.scanned.len(),
                    summary.already_stored,
                    summary.failed.len(),
                    summary.devices.imported,
                    summary.devices.errors.len(),
                    render_rematch(&summary.rematch)
                )
            };
            emit(&text, None)?;
            for e in summary.failed.iter().chain(&summary.devices.errors) {
                eprintln!("fwaudit: error: {e}");
            }
            let threshold = fail_on.map(severity_of);
            if threshold.is_some_and(|t| summary.rematch.new.iter().any(|c| c.severity >= t)) {
                EXIT_FINDINGS
            } else if !summary.failed.is_empty() || !summary.devices.errors.is_empty() {
                EXIT_ERROR
            } else {
                0
            }
        }
        FleetCommand::Compact { json: as_json } => {
            // Compaction consumes the store and swaps it out: nothing to close.
            let Store::Sled(fleet) = fleet else {
                return Err("fleet compact is for the embedded store (PostgreSQL reclaims space with VACUUM, which autovacuum runs)".into());
            };
            let summary = fleet.compact()?;
            let mib = |b: u64| b as f64 / 1048576.0;
            emit(
                &if as_json {
                    json(&summary)?
                } else {
                    format!(
                        "fleet store compacted: {:.1} MiB -> {:.1} MiB ({} entries copied)\n",
                        mib(summary.bytes_before),
                        mib(summary.bytes_after),
                        summary.entries
                    )
                },
                None,
            )?;
            return Ok(0);
        }
        FleetCommand::Keys { shared, json } => {
            let keys = fwaudit::fleet::keys::keys(&*fleet, shared)?;
            if json {
                emit(
                    &(serde_json::to_string_pretty(&keys).map_err(|e| e.to_string())? + "\n"),
                    None,
                )?;
            } else {
                let mut out = String::new();
                for k in &keys {
                    out.push_str(&format!(
                        "{} {}{} in {} images, {} models ({} devices){}\n",
                        k.fingerprint,
                        k.algorithm,
                        k.bits.map(|b| format!("-{b}")).unwrap_or_default(),
                        k.images.len(),
                        k.models.len(),
                        k.devices,
                        if k.shared() { "  SHARED" } else { "" }
                    ));
                    for p in &k.paths {
                        out.push_str(&format!("  {p}\n"));
                    }
                }
                out.push_str(&format!("{} private keys\n", keys.len()));
                emit(&out, None)?;
            }
            0
        }
        FleetCommand::Migrate { to, json: as_json } => {
            let target = if fwaudit::fleet::pg_store::is_postgres_url(&to) {
                open(Some(&to), data_dir, false)?
            } else {
                open(None, Path::new(&to), false)?
            };
            if target.location() == fleet.location() {
                return Err(format!("fleet migrate: {to} is the store being copied"));
            }
            let bar = progress();
            let counts = transfer::copy(&*fleet, &*target, &|c| {
                bar.set_message(format!("copying: {}", count_text(c)))
            });
            bar.finish_and_clear();
            let counts = counts?;
            let code = checked_copy(&*fleet, &*target, &counts, as_json)?;
            target.close(true)?;
            code
        }
        FleetCommand::Export {
            file,
            json: as_json,
        } => {
            let counts = transfer::export(&*fleet, &file)?;
            emit(
                &if as_json {
                    json(&counts)?
                } else {
                    format!("exported {} to {}\n", count_text(&counts), file.display())
                },
                None,
            )?;
            0
        }
        FleetCommand::ImportStore {
            file,
            json: as_json,
        } => {
            let bar = progress();
            let counts = transfer::import(&*fleet, &file, &|c| {
                bar.set_message(format!("loading: {}", count_text(c)))
            });
            bar.finish_and_clear();
            let counts = counts?;
            let problems = fleet.verify()?;
            for p in &problems {
                eprintln!("fwaudit: error: {p}");
            }
            emit(
                &if as_json {
                    json(&serde_json::json!({"loaded": counts, "problems": problems.len()}))?
                } else {
                    format!(
                        "loaded {} into {}; verify: {} problems\n",
                        count_text(&counts),
                        fleet.location(),
                        problems.len()
                    )
                },
                None,
            )?;
            if problems.is_empty() { 0 } else { EXIT_ERROR }
        }
        FleetCommand::Verify => {
            let problems = fleet.verify()?;
            for p in &problems {
                eprintln!("fwaudit: error: {p}");
            }
            emit(&format!("{} problems\n", problems.len()), None)?;
            if problems.is_empty() { 0 } else { EXIT_ERROR }
        }
    };
    timing::mark("output written");
    fleet.close(!reads_only)?;
    timing::mark("store closed");
    Ok(code)
}

/// Tells the webhooks (if any) what a rematch or nightly run found; a
/// delivery that failed every attempt is a warning, not a failed command.
fn notify(fleet: &dyn FleetStore, summary: &RematchSummary) {
    let events = fwaudit::serve::webhooks::rematch_events(summary);
    match fwaudit::serve::webhooks::deliver_blocking(fleet, &events) {
        Ok(log) => {
            let mut failed: Vec<&str> = log
                .iter()
                .filter(|d| !d.delivered)
                .map(|d| d.hook.as_str())
                .collect();
            failed.dedup();
            for hook in failed {
                if !log.iter().any(|d| d.hook == hook && d.delivered) {
                    eprintln!(
                        "fwaudit: warning: webhook {hook}: not delivered (see `fwaudit webhooks deliveries {hook}`)"
                    );
                }
            }
        }
        Err(e) => eprintln!("fwaudit: warning: webhooks: {e}"),
    }
}

/// `12 images, 3 devices, ...`
fn count_text(counts: &transfer::Counts) -> String {
    if counts.is_empty() {
        return "nothing".into();
    }
    counts
        .iter()
        .map(|(k, n)| format!("{n} {k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// After a copy: `fleet verify` on both sides, and what the copy holds
/// counted again from the copy itself.
fn checked_copy(
    from: &dyn FleetStore,
    to: &dyn FleetStore,
    copied: &transfer::Counts,
    as_json: bool,
) -> Result<u8, String> {
    let source = from.verify()?;
    let target = to.verify()?;
    let mut again = transfer::Counts::new();
    transfer::dump(to, &mut |item| {
        *again.entry(item.kind()).or_default() += 1;
        Ok(())
    })?;
    for p in &source {
        eprintln!("fwaudit: error: {}: {p}", from.location());
    }
    for p in &target {
        eprintln!("fwaudit: error: {}: {p}", to.location());
    }
    let same = &again == copied;
    if !same {
        eprintln!(
            "fwaudit: error: the copy holds {} (copied {})",
            count_text(&again),
            count_text(copied)
        );
    }
    emit(
        &if as_json {
            json(&serde_json::json!({
                "to": to.location(),
                "copied": copied,
                "problems": {"source": source.len(), "target": target.len()},
                "counts_agree": same,
            }))?
        } else {
            format!(
                "copied {} to {}\nverify: {} problems in the source, {} in the copy; counts {}\n",
                count_text(copied),
                to.location(),
                source.len(),
                target.len(),
                if same { "agree" } else { "DIFFER" }
            )
        },
        None,
    )?;
    Ok(if source.is_empty() && target.is_empty() && same {
        0
    } else {
        EXIT_ERROR
    })
}

/// Device ids a human-readable line lists before "… and N more".
const LISTED_IDS: usize = 10;

/// `a, b, c`, or the first [`LISTED_IDS`] and how many more there are.
fn id_list(ids: &[String]) -> String {
    if ids.len() <= LISTED_IDS {
        return ids.join(", ");
    }
    format!(
        "{} … and {} more (use --json for the full list)",
        ids[..LISTED_IDS].join(", "),
        ids.len() - LISTED_IDS
    )
}

/// A stored image's SHA-256 from a SHA-256 or a file path (scanned and stored if new).
fn image_id(
    fleet: &dyn FleetStore,
    spec: &str,
    db: &Database,
    now: &str,
) -> Result<String, String> {
    if spec.len() == 64 && spec.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(spec.to_ascii_lowercase());
    }
    let stored = fleet.scan_and_store(Path::new(spec), db, &options(), false, None, now)?;
    stored
        .report
        .target
        .sha256
        .ok_or_else(|| format!("{spec}: not an image file"))
}

fn render_rematch(s: &RematchSummary) -> String {
    let mut t = format!(
        "{} images re-matched: {} new findings, {} resolved\n",
        s.images,
        s.new.len(),
        s.resolved.len()
    );
    for (label, list) in [("new", &s.new), ("resolved", &s.resolved)] {
        for c in list {
            let _ = writeln!(
                t,
                "{label:<8} {:<8} {} on {} ({} devices)",
                c.severity.as_str(),
                c.finding,
                &c.image[..12],
                c.devices
            );
        }
    }
    t
}
