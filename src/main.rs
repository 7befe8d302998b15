//! Entry point: parse the command line, run the command, map the outcome to
//! the contract's exit codes (see [`exit_code`]).

mod cli;
mod fleet_cli;
mod service_cli;

use clap::Parser;
use cli::{
    Cli, Command, DbAge, DbCommand, FailOn, LimitArgs, OutputFormat, ScanArgs, UnpackArgs,
    UpdateSource,
};
use fwaudit::advisory::Database;
use fwaudit::advisory::update;
use fwaudit::analyze::posture;
use fwaudit::analyze::rules::Checks;
use fwaudit::config::Config;
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

/// A command's exit code, or the error that stopped it (printed, exit 2).
pub(crate) type Outcome = Result<u8, Box<dyn std::error::Error>>;

pub(crate) const EXIT_FINDINGS: u8 = 1;
pub(crate) const EXIT_ERROR: u8 = 2;

/// The one rule for the exit code of every command that judges findings
/// (`scan`, `fleet nightly`): a finding at or above `--fail-on` gives 1,
/// even when part of the input could not be read (a release gate must not
/// read "incomplete" as "tool trouble" and let a known vulnerability
/// through; the notes say what was missed); otherwise anything incomplete
/// or unreadable gives 2; otherwise 0. Usage errors, and errors before any
/// input was read, give 2 through `Err`.
pub(crate) fn exit_code(reached: bool, incomplete: bool) -> u8 {
    if reached {
        EXIT_FINDINGS
    } else if incomplete {
        EXIT_ERROR
    } else {
        0
    }
}

/// How much to say on stderr besides the report.
#[derive(Clone, Copy)]
pub(crate) struct Ui {
    pub quiet: bool,
}

impl Ui {
    /// A warning or notice (not an error): silent with `-q`.
    pub fn say(&self, message: &str) {
        if !self.quiet {
            eprintln!("fwaudit: {message}");
        }
    }

    /// A progress spinner with a message, drawn only when a person is
    /// watching (stderr is a terminal and no `-q`).
    pub fn spinner(&self) -> ProgressBar {
        let bar = self.bar(None);
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar
    }

    /// A progress bar over `len` steps (drawn as [`Ui::spinner`] is).
    pub fn bar(&self, len: Option<u64>) -> ProgressBar {
        if self.quiet || !std::io::stderr().is_terminal() {
            return ProgressBar::with_draw_target(len, ProgressDrawTarget::hidden());
        }
        let (bar, template) = match len {
            Some(n) => (
                ProgressBar::new(n),
                "{spinner} {elapsed} [{bar:30}] {pos}/{len} {msg}",
            ),
            None => (ProgressBar::new_spinner(), "{spinner} {elapsed} {msg}"),
        };
        bar.set_style(
            ProgressStyle::with_template(template)
                .unwrap_or_else(|_| ProgressStyle::default_spinner())
                .progress_chars("=> "),
        );
        bar
    }
}

fn main() -> ExitCode {
    fwaudit::fleet::timing::start();
    match run(Cli::parse()) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("fwaudit: error: {error}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn run(cli: Cli) -> Outcome {
    let ui = Ui { quiet: cli.quiet };
    let data_dir = || fwaudit::datadir::resolve(cli.data_dir.clone());
    let config = cli.config.as_deref();
    let database = fwaudit::fleet::open::database_url(cli.database.clone());
    let database = database.as_deref();
    match cli.command {
        Command::Scan(args) => {
            let config = Config::find(args.ignore.as_deref().or(config))?;
            run_scan(args, &data_dir()?, database, &config, ui)
        }
        Command::Unpack(args) => run_unpack(args, ui),
        Command::Fleet(command) => {
            let config = Config::find(config)?;
            fleet_cli::run(command, &data_dir()?, database, &config, ui)
        }
        Command::Serve(args) => Ok(service_cli::run_serve(args, &data_dir()?, database)?),
        Command::Keys(command) => Ok(service_cli::run_keys(command, &data_dir()?, database)?),
        Command::Users(command) => Ok(service_cli::run_users(command, &data_dir()?, database)?),
        Command::Webhooks(command) => {
            Ok(service_cli::run_webhooks(command, &data_dir()?, database)?)
        }
        Command::Worker(args) => Ok(service_cli::run_worker(args, &data_dir()?, database)?),
        Command::Db(DbCommand::Import { paths }) => run_db_import(&paths, &data_dir()?, ui),
        Command::Db(DbCommand::Status { format, max_db_age }) => {
            run_db_status(format.is_json(), max_db_age, &data_dir()?, ui)
        }
        Command::Db(DbCommand::Update {
            sources,
            url,
            ecosystems,
            timeout,
            nvd_page_delay,
            full,
        }) => {
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
            run_db_update(&options, &data_dir()?, ui)
        }
    }
}

/// The default bounds with the command line's overrides.
pub(crate) fn limits(args: &LimitArgs) -> Limits {
    let d = Limits::default();
    Limits {
        max_depth: args.max_depth.unwrap_or(d.max_depth),
        max_total_bytes: args.max_total_bytes.unwrap_or(d.max_total_bytes),
        max_file_size: args.max_file_size.unwrap_or(d.max_file_size),
        max_ratio: args.max_ratio.unwrap_or(d.max_ratio),
        max_entries: args.max_entries.unwrap_or(d.max_entries),
        max_memory: args.max_memory.unwrap_or(d.max_memory),
    }
}

/// Says on stderr that opening the fleet store migrated it.
fn note_migration(fleet: &Store, ui: Ui) {
    if let Some(from) = fleet.migrated_from() {
        ui.say(&format!(
            "fleet store migrated from schema {from} to {}",
            fleet.schema()
        ));
    }
}

/// Checks the advisory database's age before judging anything: a source
/// imported more than `--max-db-age` days ago (or, with nothing imported,
/// the bundled set) is a warning, and with `--fail-on-stale-db` an error.
pub(crate) fn check_db_age(
    data_dir: &Path,
    age: &DbAge,
    ui: Ui,
) -> Result<(), Box<dyn std::error::Error>> {
    let status = fwaudit::advisory::store::status(data_dir)?;
    let today = fwaudit::date::today();
    let mut stale = status.stale(age.max_db_age);
    if status.sources.is_empty()
        && let Some(date) = fwaudit::advisory::bundled_date()
        && let Some(days) = fwaudit::date::days_between(&date, &today)
        && days > age.max_db_age as i64
    {
        stale.push(("bundled".to_string(), days as u64));
    }
    if stale.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = stale
        .iter()
        .map(|(source, days)| format!("{source} ({days} days)"))
        .collect();
    let message = format!(
        "advisory data older than --max-db-age {}: {}; run `fwaudit db update`",
        age.max_db_age,
        list.join(", ")
    );
    if age.fail_on_stale_db {
        return Err(message.into());
    }
    ui.say(&format!("warning: {message}"));
    Ok(())
}

fn run_scan(
    args: ScanArgs,
    data_dir: &Path,
    database: Option<&str>,
    config: &Config,
    ui: Ui,
) -> Outcome {
    check_db_age(data_dir, &args.db_age, ui)?;
    let db = Database::load(data_dir)?;
    let mut vex_files = config.triage.vex_paths();
    vex_files.extend(args.vex.vex.iter().cloned());
    let options = scan::Options {
        limits: limits(&args.limits),
        triage: config.triage.clone(),
        today: fwaudit::date::today(),
        vex: fwaudit::vex::VexSet::load(&vex_files)?,
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
        note_migration(&fleet, ui);
        Some(fleet)
    } else {
        None
    };
    let now = fwaudit::date::now_utc();
    let bar = if args.targets.len() > 1 {
        ui.bar(Some(args.targets.len() as u64))
    } else {
        ui.spinner()
    };
    let mut reports: Vec<ScanReport> = Vec::new();
    let mut failed = false;
    for target in &args.targets {
        bar.set_message(format!("scanning {}", target.display()));
        let result = match &fleet {
            None => scan::scan(target, &db, &options).map_err(String::from),
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
                            ui.say(&format!(
                                "{}: inventory reused from the fleet store",
                                target.display()
                            ))
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
        bar.inc(1);
    }
    if let Some(fleet) = fleet {
        // Flushed, and left so that the next command opens it fast.
        fleet.close(true)?;
    }
    bar.finish_and_clear();
    let text = match args.format {
        OutputFormat::Table => report::table::render(&reports),
        OutputFormat::Json if args.json_array => report::json::render_array(&reports),
        OutputFormat::Json => report::json::render(&reports),
        OutputFormat::Sarif => report::sarif::render(&reports),
        OutputFormat::Cyclonedx => report::cyclonedx::render(&reports),
        OutputFormat::Spdx => report::spdx::render(&reports),
    };
    emit(&text, args.output.as_deref())?;
    // Notes are printed once: the table and the JSON carry them; the
    // SBOM and SARIF formats have no place for them, so they go to stderr.
    let notes: Vec<&fwaudit::unpack::Note> = reports.iter().flat_map(|r| &r.notes).collect();
    let in_report = matches!(args.format, OutputFormat::Table | OutputFormat::Json);
    if !in_report {
        for n in &notes {
            print_note(n);
        }
    } else if args.output.is_some() {
        let problems = notes
            .iter()
            .filter(|n| n.level != fwaudit::unpack::Level::Note)
            .count();
        if problems > 0 {
            ui.say(&format!(
                "{problems} problems met (parts of the input not read); see the report"
            ));
        }
    }
    let threshold = args.fail_on.map(severity_of);
    let reached = threshold.is_some_and(|t| {
        reports
            .iter()
            .flat_map(|r| &r.findings)
            .any(|f| f.severity >= t && f.is_active())
    });
    let incomplete = failed || reports.iter().any(ScanReport::incomplete);
    Ok(exit_code(reached, incomplete))
}

fn print_note(n: &fwaudit::unpack::Note) {
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

#[derive(Serialize)]
struct UnpackListing<'a> {
    layers: &'a [fwaudit::unpack::Layer],
    files: Vec<fwaudit::unpack::listing::FileEntry<'a>>,
    notes: &'a [fwaudit::unpack::Note],
}

fn run_unpack(args: UnpackArgs, ui: Ui) -> Outcome {
    use fwaudit::unpack::listing;
    let json = args.format.is_json();
    let bar = ui.spinner();
    bar.set_message(format!("unpacking {}", args.image.display()));
    let (target, unpacked) = scan::load_unhashed(&args.image, &limits(&args.limits))?;
    // The listing is made while the files are written: both only read the tree.
    let (extracted, files) = match &args.extract {
        Some(dir) => {
            let (summary, files) = rayon::join(
                || fwaudit::unpack::extract::extract(&unpacked, &target.path, dir),
                || listing::files(&unpacked, json),
            );
            (Some((dir, summary?)), files)
        }
        None => (None, listing::files(&unpacked, json)),
    };
    bar.finish_and_clear();
    let mut notes = unpacked.notes.clone();
    if let Some((dir, summary)) = extracted {
        if !json {
            ui.say(&format!(
                "extracted {} files, {} directories, {} symlinks to {} ({} refused, {} device nodes/fifos skipped)",
                summary.files,
                summary.dirs,
                summary.symlinks,
                dir.display(),
                summary.refused.len(),
                summary.special
            ));
        }
        notes.extend(summary.refused);
    }
    let text = if json {
        let listing = UnpackListing {
            layers: &unpacked.layers,
            files,
            notes: &notes,
        };
        serde_json::to_string_pretty(&listing).map_err(|e| e.to_string())? + "\n"
    } else {
        listing::text(&unpacked, &files)
    };
    emit(&text, None)?;
    // Printed once: in the JSON, or (the text listing has no place) on stderr.
    if !json {
        notes.iter().for_each(print_note);
    }
    Ok(exit_code(false, !notes.is_empty()))
}

pub(crate) fn severity_of(f: FailOn) -> Severity {
    match f {
        FailOn::Info => Severity::Info,
        FailOn::Low => Severity::Low,
        FailOn::Medium => Severity::Medium,
        FailOn::High => Severity::High,
        FailOn::Critical => Severity::Critical,
    }
}

fn run_db_import(paths: &[PathBuf], data_dir: &Path, ui: Ui) -> Outcome {
    let paths: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    let bar = ui.spinner();
    bar.set_message(format!("importing {} paths", paths.len()));
    let summary = fwaudit::advisory::import::import_into_store(data_dir, &paths);
    bar.finish_and_clear();
    let summary = summary?;
    for (source, count) in &summary.imported {
        println!("imported {count} {source} advisories");
    }
    for e in &summary.errors {
        eprintln!("fwaudit: error: {e}");
    }
    Ok(exit_code(false, !summary.errors.is_empty()))
}

fn run_db_update(options: &update::Options, data_dir: &Path, ui: Ui) -> Outcome {
    let bar = ui.spinner();
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

fn run_db_status(json: bool, max_db_age: u64, data_dir: &Path, ui: Ui) -> Outcome {
    let status = fwaudit::advisory::store::status(data_dir)?;
    for (source, age) in &status.stale(max_db_age) {
        ui.say(&format!(
            "warning: source {source} was last updated {age} days ago (older than {max_db_age})"
        ));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finding_wins_over_an_incomplete_input() {
        assert_eq!(exit_code(true, true), EXIT_FINDINGS);
        assert_eq!(exit_code(true, false), EXIT_FINDINGS);
        assert_eq!(exit_code(false, true), EXIT_ERROR);
        assert_eq!(exit_code(false, false), 0);
    }
}
