//! Entry point: parse the command line, run the command, map the outcome to
//! the contract's exit codes (0 clean, 1 findings at/above --fail-on, 2 error).

mod cli;
mod fleet_cli;
mod service_cli;

use clap::Parser;
use cli::{
    Cli, Command, DbCommand, FailOn, LimitArgs, OutputFormat, ScanArgs, UnpackArgs, UpdateSource,
};
use fwaudit::advisory::Database;
use fwaudit::advisory::update;
use fwaudit::analyze::posture;
use fwaudit::analyze::rules::Checks;
use fwaudit::analyze::triage::TriageFile;
use fwaudit::fleet::FleetOps;
use fwaudit::fleet::open::{Store, open};
use fwaudit::model::Severity;
use fwaudit::report;
use fwaudit::scan::{self, ScanReport};
use fwaudit::unpack::limits::Limits;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// mimalloc keeps freed memory for reuse: glibc's malloc maps and unmaps
/// every large buffer (decompressed layers, sled pages), and the page faults
/// of mapping them again were a tenth of an unpack's CPU.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub(crate) const EXIT_FINDINGS: u8 = 1;
/// Triage file read from the working directory when `--ignore` is not given.
const DEFAULT_TRIAGE: &str = ".fwaudit.toml";
pub(crate) const EXIT_ERROR: u8 = 2;

fn main() -> ExitCode {
    fwaudit::fleet::timing::start();
    let cli = Cli::parse();
    let data_dir = fwaudit::datadir::resolve(cli.data_dir);
    let database = fwaudit::fleet::open::database_url(cli.database);
    let database = database.as_deref();
    let limits = limits(&cli.limits);
    let result = match cli.command {
        Command::Scan(args) => data_dir.and_then(|d| run_scan(args, &d, database, &limits)),
        Command::Unpack(args) => run_unpack(args, &limits),
        Command::Fleet(command) => data_dir.and_then(|d| fleet_cli::run(command, &d, database)),
        Command::Serve(args) => data_dir.and_then(|d| service_cli::run_serve(args, &d, database)),
        Command::Keys(command) => {
            data_dir.and_then(|d| service_cli::run_keys(command, &d, database))
        }
        Command::Users(command) => {
            data_dir.and_then(|d| service_cli::run_users(command, &d, database))
        }
        Command::Webhooks(command) => {
            data_dir.and_then(|d| service_cli::run_webhooks(command, &d, database))
        }
        Command::Worker(args) => data_dir.and_then(|d| service_cli::run_worker(args, &d, database)),
        Command::Db(DbCommand::Import { paths }) => {
            data_dir.and_then(|d| run_db_import(&paths, &d))
        }
        Command::Db(DbCommand::Status { json, max_age_days }) => {
            data_dir.and_then(|d| run_db_status(json, max_age_days, &d))
        }
        Command::Db(DbCommand::Update {
            sources,
            url,
            ecosystems,
            timeout,
            nvd_page_delay,
            full,
        }) => data_dir.and_then(|d| {
            let mut options = update::Options::default();
            if !sources.is_empty() {
                options.sources = sources
                    .iter()
                    .map(|s| match s {
                        UpdateSource::Osv => update::Source::Osv,
                        UpdateSource::Nvd => update::Source::Nvd,
                        UpdateSource::Rustsec => update::Source::Rustsec,
                        UpdateSource::Eol => update::Source::Eol,
                        UpdateSource::Debian => update::Source::Debian,
                    })
                    .collect();
            }
            if !ecosystems.is_empty() {
                options.ecosystems = ecosystems;
            }
            options.url = url;
            options.timeout = std::time::Duration::from_secs(timeout);
            if let Some(ms) = nvd_page_delay {
                options.nvd_page_delay = std::time::Duration::from_millis(ms);
            }
            options.nvd_full = full;
            run_db_update(&options, &d)
        }),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(message) => {
            eprintln!("fwaudit: error: {message}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// The default bounds with the command line's overrides.
fn limits(args: &LimitArgs) -> Limits {
    let d = Limits::default();
    Limits {
        max_depth: args.max_depth.unwrap_or(d.max_depth),
        max_total_bytes: args.max_total_bytes.unwrap_or(d.max_total_bytes),
        max_file_size: args.max_file_size.unwrap_or(d.max_file_size),
        max_ratio: args.max_ratio.unwrap_or(d.max_ratio),
        max_entries: args.max_entries.unwrap_or(d.max_entries),
    }
}

/// A spinner on stderr, only when a person is watching.
pub(crate) fn progress() -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
    }
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {elapsed} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

/// A progress bar on stderr (`[=====>   ] 12/40 message`), only when a
/// person is watching.
pub(crate) fn progress_bar() -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
    }
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{elapsed} [{bar:30}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(250));
    bar
}

/// Says on stderr that opening the fleet store migrated it.
fn note_migration(fleet: &Store) {
    if let Some(from) = fleet.migrated_from() {
        eprintln!(
            "fwaudit: fleet store migrated from schema {from} to {}",
            fleet.schema()
        );
    }
}

fn run_scan(
    args: ScanArgs,
    data_dir: &Path,
    database: Option<&str>,
    limits: &Limits,
) -> Result<u8, String> {
    let db = Database::load(data_dir)?;
    let triage = match &args.ignore {
        Some(path) => TriageFile::load(path)?,
        None if Path::new(DEFAULT_TRIAGE).exists() => TriageFile::load(Path::new(DEFAULT_TRIAGE))?,
        None => TriageFile::default(),
    };
    let mut vex_files = triage.vex_paths();
    vex_files.extend(args.vex.iter().cloned());
    let vex = fwaudit::vex::VexSet::load(&vex_files)?;
    let options = scan::Options {
        limits: limits.clone(),
        triage,
        today: fwaudit::analyze::outdated::today(),
        vex,
        posture: posture::Options {
            checks: Checks::parse(&args.checks)?,
            now: match &args.now {
                Some(when) => posture::parse_now(when)?,
                None => posture::default_now(),
            },
            show_secrets: args.show_secrets,
        },
    };
    let fleet = if args.store {
        let fleet = open(database, data_dir, false)?;
        note_migration(&fleet);
        Some(fleet)
    } else {
        None
    };
    let now = fwaudit::advisory::store::now_utc();
    let bar = progress();
    let mut reports: Vec<ScanReport> = Vec::new();
    let mut failed = false;
    for target in &args.targets {
        bar.set_message(format!("scanning {}", target.display()));
        let result = match &fleet {
            None => scan::scan(target, &db, &options),
            Some(fleet) => fleet
                .scan_and_store(
                    target,
                    &db,
                    &options,
                    args.rescan,
                    args.firmware_version.as_deref(),
                    &now,
                )
                .and_then(|stored| {
                    if stored.cached {
                        bar.suspend(|| {
                            eprintln!(
                                "fwaudit: {}: inventory reused from the fleet store",
                                target.display()
                            )
                        });
                    }
                    if let (Some(device), Some(sha)) = (&args.device, &stored.report.target.sha256)
                    {
                        fleet.attach_device(device, &target.display().to_string(), sha, &now)?;
                    }
                    Ok(stored.report)
                }),
        };
        match result {
            Ok(report) => reports.push(report),
            Err(message) => {
                bar.suspend(|| eprintln!("fwaudit: error: {message}"));
                failed = true;
            }
        }
    }
    if let Some(fleet) = fleet {
        // Flushed, and left so that the next command opens it fast.
        fleet.close(true)?;
    }
    bar.finish_and_clear();
    let text = match args.format {
        OutputFormat::Table => report::table::render(&reports),
        OutputFormat::Json => report::json::render(&reports),
        OutputFormat::Sarif => report::sarif::render(&reports),
        OutputFormat::Cyclonedx => report::cyclonedx::render(&reports),
        OutputFormat::Spdx => report::spdx::render(&reports),
    };
    emit(&text, args.output.as_deref())?;
    for r in &reports {
        for n in &r.notes {
            let at = n
                .offset
                .map(|o| format!(" at offset {o:#x}"))
                .unwrap_or_default();
            eprintln!(
                "fwaudit: {}: {}{at}: {}",
                n.level.as_str(),
                n.path,
                n.message
            );
        }
    }
    if failed || reports.iter().any(ScanReport::incomplete) {
        return Ok(EXIT_ERROR);
    }
    let threshold = args.fail_on.map(severity_of);
    let reached = threshold.is_some_and(|t| {
        reports
            .iter()
            .flat_map(|r| &r.findings)
            .any(|f| f.severity >= t && f.is_active())
    });
    Ok(if reached { EXIT_FINDINGS } else { 0 })
}

#[derive(Serialize)]
struct UnpackListing<'a> {
    layers: &'a [fwaudit::unpack::Layer],
    files: Vec<FileEntry<'a>>,
    notes: &'a [fwaudit::unpack::Note],
}

#[derive(Serialize)]
struct FileEntry<'a> {
    path: &'a str,
    size: usize,
    kind: fwaudit::unpack::tree::FileClass,
    #[serde(skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<&'a str>,
    /// Permission bits in octal (`"4755"`), when the container stores them.
    #[serde(skip_serializing_if = "Option::is_none")]
    mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gid: Option<u32>,
}

fn run_unpack(args: UnpackArgs, limits: &Limits) -> Result<u8, String> {
    use fwaudit::unpack::tree::EntryKind;
    use rayon::prelude::*;
    use sha2::{Digest, Sha256};
    let (target, unpacked) = scan::load_unhashed(&args.image, limits)?;
    // files[0] is the image itself; list what it contains. The listing (with
    // --json, a SHA-256 of every file; the text listing shows none, so none
    // is computed) is made while the files are written: both only read the tree.
    let skip = usize::from(unpacked.files.first().is_some_and(|f| f.fs.is_none()));
    let list = || -> Vec<FileEntry> {
        unpacked.files[skip..]
            .par_iter()
            .map(|f| FileEntry {
                path: &f.path,
                size: f.data.len(),
                kind: f.class(),
                sha256: (args.json && f.is_regular()).then(|| hex::encode(Sha256::digest(&f.data))),
                target: match &f.kind {
                    EntryKind::Symlink(t) => Some(t.as_str()),
                    _ => None,
                },
                mode: f.meta.map(|m| format!("{:04o}", m.mode)),
                uid: f.meta.map(|m| m.uid),
                gid: f.meta.map(|m| m.gid),
            })
            .collect()
    };
    let (extracted, files) = match &args.extract {
        Some(dir) => {
            let (summary, files) = rayon::join(
                || fwaudit::unpack::extract::extract(&unpacked, &target.path, dir),
                list,
            );
            (Some((dir, summary?)), files)
        }
        None => (None, list()),
    };
    let mut notes = unpacked.notes.clone();
    if let Some((dir, summary)) = extracted {
        if !args.json {
            eprintln!(
                "fwaudit: extracted {} files, {} directories, {} symlinks to {} ({} refused, {} device nodes/fifos skipped)",
                summary.files,
                summary.dirs,
                summary.symlinks,
                dir.display(),
                summary.refused.len(),
                summary.special
            );
        }
        notes.extend(summary.refused);
    }
    let text = if args.json {
        let listing = UnpackListing {
            layers: &unpacked.layers,
            files,
            notes: &notes,
        };
        serde_json::to_string_pretty(&listing).map_err(|e| e.to_string())? + "\n"
    } else {
        let mut out = String::new();
        for l in &unpacked.layers {
            out.push_str(&format!(
                "layer {:<9} {:>10} bytes  {}\n",
                l.format, l.size, l.path
            ));
        }
        for f in &files {
            let kind = serde_json::to_value(f.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            let link = f.target.map(|t| format!(" -> {t}")).unwrap_or_default();
            out.push_str(&format!("{kind:<8} {:>10}  {}{link}\n", f.size, f.path));
        }
        out
    };
    emit(&text, None)?;
    for n in &notes {
        eprintln!("fwaudit: {}: {}: {}", n.level.as_str(), n.path, n.message);
    }
    Ok(if notes.is_empty() { 0 } else { EXIT_ERROR })
}

pub(crate) fn severity_of(f: FailOn) -> Severity {
    match f {
        FailOn::Low => Severity::Low,
        FailOn::Medium => Severity::Medium,
        FailOn::High => Severity::High,
        FailOn::Critical => Severity::Critical,
    }
}

fn run_db_import(paths: &[PathBuf], data_dir: &Path) -> Result<u8, String> {
    let paths: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    let summary = fwaudit::advisory::import::import_into_store(data_dir, &paths)?;
    for (source, count) in &summary.imported {
        println!("imported {count} {source} advisories");
    }
    for e in &summary.errors {
        eprintln!("fwaudit: error: {e}");
    }
    Ok(if summary.errors.is_empty() {
        0
    } else {
        EXIT_ERROR
    })
}

fn run_db_update(options: &update::Options, data_dir: &Path) -> Result<u8, String> {
    let bar = progress();
    let summary = update::update(data_dir, options, &|msg| bar.set_message(msg.to_string()));
    bar.finish_and_clear();
    let summary = summary?;
    for (source, count) in &summary.updated {
        println!("updated {source}: {count} records");
    }
    for (source, delta) in &summary.incremental {
        println!(
            "updated {source} incrementally since {}: {} changed, {} removed, {} records",
            delta.since, delta.changed, delta.removed, delta.total
        );
    }
    for source in &summary.unchanged {
        println!("unchanged {source}: not modified since the last update");
    }
    Ok(0)
}

fn run_db_status(json: bool, max_age_days: u64, data_dir: &Path) -> Result<u8, String> {
    let status = fwaudit::advisory::store::status(data_dir)?;
    for (source, age) in &status.stale(max_age_days) {
        eprintln!(
            "fwaudit: warning: source {source} was last updated {age} days ago (older than {max_age_days})"
        );
    }
    if json {
        emit(
            &(serde_json::to_string_pretty(&status).map_err(|e| e.to_string())? + "\n"),
            None,
        )?;
        return Ok(0);
    }
    let mut out = format!(
        "data directory: {}\nbundled: {} advisories\n",
        status.data_dir, status.bundled
    );
    for (source, info) in &status.sources {
        let from = match info.origins.as_slice() {
            [one] => one.clone(),
            many => format!("{} files", many.len()),
        };
        out.push_str(&format!(
            "{source}: {} advisories, imported {} from {from}\n",
            info.count, info.updated
        ));
    }
    out.push_str(&format!("total: {}\n", status.total));
    emit(&out, None)?;
    Ok(0)
}

pub(crate) fn emit(text: &str, path: Option<&std::path::Path>) -> Result<(), String> {
    match path {
        Some(p) => std::fs::write(p, text).map_err(|e| format!("{}: {e}", p.display())),
        None => {
            let mut out = std::io::stdout().lock();
            // A closed pipe (`| head`) is not an error worth a message.
            match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.to_string()),
                _ => Ok(()),
            }
        }
    }
}
