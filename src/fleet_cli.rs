//! `fwaudit fleet ...`: argument wiring and rendering only; the work is in
//! `fwaudit::fleet`.

use crate::cli::FleetCommand;
use crate::cli::{Judging, LimitArgs, VexArgs};
use crate::{EXIT_ERROR, Outcome, Ui, check_db_age, emit, exit_code, limits, severity_of};
use fwaudit::advisory::Database;
use fwaudit::config::Config;
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

/// How stored inventories are judged: with the configuration's triage,
/// exactly as `scan` judges a target, so that a rematch never re-activates
/// what `scan --store` suppressed (the configuration's VEX documents
/// and `--vex` included). `bounds` are the unpacking bounds of the
/// commands that scan new images.
fn options(config: &Config, vex: &VexArgs, bounds: Option<&LimitArgs>) -> Result<Options, String> {
    let mut vex_files = config.triage.vex_paths();
    vex_files.extend(vex.vex.iter().cloned());
    Ok(Options {
        today: fwaudit::date::today(),
        triage: config.triage.clone(),
        vex: fwaudit::vex::VexSet::load(&vex_files)?,
        limits: bounds.map(limits).unwrap_or_default(),
        ..Options::default()
    })
}

pub fn run(
    command: FleetCommand,
    data_dir: &Path,
    database: Option<&str>,
    config: &Config,
    ui: Ui,
) -> Outcome {
    timing::mark("fleet command start");
    // Queries open the store without sled's background flusher and leave
    // it without sled's teardown; commands that write close it so that the
    // next command opens it fast (see `Fleet::close`).
    let reads_only = matches!(
        command,
        FleetCommand::NeedsPatch { .. }
            | FleetCommand::Where { .. }
            | FleetCommand::Keys { .. }
            | FleetCommand::Verify { .. }
            | FleetCommand::Migrate { .. }
            | FleetCommand::Export { .. }
    );
    let fleet = open(database, data_dir, reads_only)?;
    crate::note_migration(&fleet, ui);
    let now = fwaudit::date::now_utc();
    let code = match command {
        FleetCommand::Import { file, format } => {
            let bar = ui.spinner();
            bar.set_message(format!("importing devices from {}", file.display()));
            let summary = fleet.import_devices(&file, &now);
            bar.finish_and_clear();
            let summary = summary?;
            let text = if format.is_json() {
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
            exit_code(false, !summary.errors.is_empty())
        }
        FleetCommand::Rematch {
            format,
            judging: Judging { db_age, vex },
        } => {
            check_db_age(data_dir, &db_age, ui)?;
            let db = Database::load(data_dir)?;
            let options = options(config, &vex, None)?;
            let bar = ui.spinner();
            bar.set_message("re-matching stored inventories");
            let summary = fleet.rematch(&db, &options, &now);
            bar.finish_and_clear();
            let summary = summary?;
            notify(&*fleet, &summary);
            emit(
                &if format.is_json() {
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
            format,
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
            let text = if format.is_json() {
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
                        short(&g.image),
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
        FleetCommand::Where { spec, format } => {
            let (name, req) = match spec.split_once('@') {
                Some((n, r)) => (n.to_string(), Some(VersionReq::parse(r)?)),
                None => (spec.clone(), None),
            };
            let hits = fleet.where_component(&name, req.as_ref(), &Scope::All, false)?;
            timing::mark("query");
            let text = if format.is_json() {
                json(&hits)?
            } else {
                let mut t = String::new();
                for h in &hits {
                    let _ = writeln!(
                        t,
                        "{name} {} in {}: {} devices {}",
                        h.version,
                        short(&h.image),
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
            format,
            vex,
            limits,
        } => {
            let db = Database::load(data_dir)?;
            let options = options(config, &vex, Some(&limits))?;
            let a = image_id(&*fleet, &image_a, &db, &options, &now)?;
            let b = image_id(&*fleet, &image_b, &db, &options, &now)?;
            let diff = fleet.diff(&a, &b)?;
            let text = if format.is_json() {
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
            format,
            judging: Judging { db_age, vex },
            limits,
        } => {
            check_db_age(data_dir, &db_age, ui)?;
            let db = Database::load(data_dir)?;
            let options = options(config, &vex, Some(&limits))?;
            let summary = match &fleet {
                // Scans go to the job queue, for the workers.
                Store::Postgres(pg) => {
                    let bar = ui.bar(Some(0));
                    bar.enable_steady_tick(std::time::Duration::from_millis(250));
                    let summary = pg.nightly_queued(&devices, &images, &db, &options, &now, &|p| {
                        bar.set_length(p.total);
                        bar.set_position(p.finished);
                        bar.set_message(p.message.clone());
                    });
                    bar.finish_and_clear();
                    summary
                }
                Store::Sled(_) => {
                    let bar = ui.spinner();
                    let summary = fleet.nightly(&devices, &images, &db, &options, &now, &|m| {
                        bar.set_message(m.to_string())
                    });
                    bar.finish_and_clear();
                    summary
                }
            };
            let summary = summary?;
            notify(&*fleet, &summary.rematch);
            let text = if format.is_json() {
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
            let reached =
                threshold.is_some_and(|t| summary.rematch.new.iter().any(|c| c.severity >= t));
            let incomplete = !summary.failed.is_empty() || !summary.devices.errors.is_empty();
            exit_code(reached, incomplete)
        }
        FleetCommand::Compact { format } => {
            // Compaction consumes the store and swaps it out: nothing to close.
            let Store::Sled(fleet) = fleet else {
                return Err("fleet compact is for the embedded store (PostgreSQL reclaims space with VACUUM, which autovacuum runs)".into());
            };
            let bar = ui.spinner();
            bar.set_message("compacting the fleet store");
            let summary = fleet.compact();
            bar.finish_and_clear();
            let summary = summary?;
            let mib = |b: u64| b as f64 / 1048576.0;
            emit(
                &if format.is_json() {
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
        FleetCommand::Keys { shared, format } => {
            let keys = fwaudit::fleet::keys::keys(&*fleet, shared)?;
            if format.is_json() {
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
        FleetCommand::Migrate { to, format } => {
            let target = if fwaudit::fleet::pg_store::is_postgres_url(&to) {
                open(Some(&to), data_dir, false)?
            } else {
                open(None, Path::new(&to), false)?
            };
            if target.location() == fleet.location() {
                return Err(format!("fleet migrate: {to} is the store being copied").into());
            }
            let bar = ui.spinner();
            let counts = transfer::copy(&*fleet, &*target, &|c| {
                bar.set_message(format!("copying: {}", count_text(c)))
            });
            bar.finish_and_clear();
            let counts = counts?;
            let code = checked_copy(&*fleet, &*target, &counts, format.is_json())?;
            target.close(true)?;
            code
        }
        FleetCommand::Export { file, format } => {
            let counts = transfer::export(&*fleet, &file)?;
            emit(
                &if format.is_json() {
                    json(&counts)?
                } else {
                    format!("exported {} to {}\n", count_text(&counts), file.display())
                },
                None,
            )?;
            0
        }
        FleetCommand::ImportStore { file, format } => {
            let bar = ui.spinner();
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
                &if format.is_json() {
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
        FleetCommand::Verify { format } => {
            let problems = fleet.verify()?;
            if format.is_json() {
                emit(&json(&serde_json::json!({ "problems": problems }))?, None)?;
            } else {
                for p in &problems {
                    eprintln!("fwaudit: error: {p}");
                }
                emit(&format!("{} problems\n", problems.len()), None)?;
            }
            exit_code(false, !problems.is_empty())
        }
    };
    timing::mark("output written");
    fleet.close(!reads_only)?;
    timing::mark("store closed");
    Ok(code)
}

/// The first 12 characters of an image's SHA-256, as a human-readable line
/// shows it; a key from a damaged store may be shorter (or not ASCII) and
/// is then shown whole.
fn short(image: &str) -> &str {
    image.get(..12).unwrap_or(image)
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
    options: &Options,
    now: &str,
) -> Result<String, String> {
    if spec.len() == 64 && spec.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(spec.to_ascii_lowercase());
    }
    let stored = fleet.scan_and_store(Path::new(spec), db, options, false, None, now)?;
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
                short(&c.image),
                c.devices
            );
        }
    }
    t
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_short_or_odd_image_key_is_shown_whole() {
        assert_eq!(super::short("868e0e80a421efc7885af9f9"), "868e0e80a421");
        assert_eq!(super::short("868e"), "868e");
        assert_eq!(super::short("aéééééé"), "aéééééé");
    }
}
