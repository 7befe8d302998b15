//! Command-line interface (the contract in DESIGN.md). Definitions only.
//!
//! Every command that reports takes `-f/--format` (`table` or `json`;
//! `scan` has the SBOM and SARIF formats too) and the older `--json` as an
//! alias; every argument has help text (a unit test checks it).

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "fwaudit",
    version,
    about = "Supply-chain and patch-level auditor for device firmware",
    after_help = "Exit codes: 0 nothing reached --fail-on; 1 a finding did (this wins, even when part of \
                  the input could not be read); 2 a usage or input error (unreadable, truncated or corrupt \
                  input, a bound reached, a stale database with --fail-on-stale-db)."
)]
pub struct Cli {
    /// Where the advisory database and fleet store live (else $FWAUDIT_HOME, else the XDG data dir).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Configuration file: triage of accepted findings (default: ./.fwaudit.toml when present).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print only the report and errors: no progress, warnings or notices.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// The fleet store on PostgreSQL (postgres://user@host/db; else $FWAUDIT_DATABASE_URL, else the
    /// embedded store under the data directory), for fleet commands, scan --store, serve and worker.
    #[arg(long, global = true, value_name = "URL")]
    pub database: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Unpack, fingerprint and audit firmware images or unpacked root file systems.
    Scan(ScanArgs),
    /// Show the layers and files inside an image without auditing it.
    Unpack(UnpackArgs),
    /// Manage the advisory database.
    #[command(subcommand)]
    Db(DbCommand),
    /// Query and maintain the fleet inventory.
    #[command(subcommand)]
    Fleet(FleetCommand),
    /// Serve the fleet store: HTTP API, dashboard, device check-in, webhooks.
    Serve(ServeArgs),
    /// Manage API keys and device check-in tokens.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Manage dashboard users (argon2-hashed passwords).
    #[command(subcommand)]
    Users(UsersCommand),
    /// Manage webhooks.
    #[command(subcommand)]
    Webhooks(WebhooksCommand),
    /// Claim and run queued scan and rematch jobs from the fleet database (PostgreSQL).
    Worker(WorkerArgs),
}

#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    /// Jobs to run at once.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub concurrency: usize,
    /// Seconds a claimed job stays this worker's without a heartbeat (renewed every third of it);
    /// a job whose worker died is claimed again after this.
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    pub lease: u64,
    /// Where uploaded images are (shared with `serve`; default: DATA_DIR/uploads).
    #[arg(long, value_name = "DIR")]
    pub uploads: Option<PathBuf>,
    /// This worker's name in the jobs it holds (default: host:pid).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Milliseconds between looks at an empty queue.
    #[arg(long, default_value_t = 500, value_name = "MS")]
    pub poll: u64,
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub listen: std::net::SocketAddr,
    /// TLS certificate chain (PEM); needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM); needs --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Requests a second per API key, device or user (0: no limit).
    #[arg(long, default_value_t = 50, value_name = "N")]
    pub rate_limit: u32,
    /// Largest image upload, in bytes.
    #[arg(long, default_value_t = 1 << 30, value_name = "BYTES")]
    pub max_upload: u64,
    /// Hours a dashboard session lasts.
    #[arg(long, default_value_t = 12, value_name = "HOURS")]
    pub session_hours: u64,
    /// Seconds before the first webhook retry (doubling after each).
    #[arg(long, default_value_t = 2, value_name = "SECS", hide = true)]
    pub webhook_backoff: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScopeArg {
    /// Read devices, images, findings and answers.
    Read,
    /// Also suppress, accept or reopen findings.
    Triage,
    /// Also import devices, upload images, start rematches.
    Write,
    /// Also manage keys, device tokens and webhooks.
    Admin,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create an API key; its token is printed once (only a hash is kept).
    Create {
        /// A name that says whose key it is.
        #[arg(long, value_name = "NAME")]
        name: String,
        /// What the key may do.
        #[arg(long, value_enum)]
        scope: ScopeArg,
        /// Bind the key to devices carrying this tag (repeatable).
        #[arg(long = "tag", value_name = "TAG")]
        tags: Vec<String>,
        #[command(flatten)]
        format: ReportFormat,
    },
    /// List keys (never their secrets).
    List {
        #[command(flatten)]
        format: ReportFormat,
    },
    /// Revoke a key by its id.
    Revoke {
        /// The key's id, as `keys list` shows it.
        id: String,
    },
    /// Issue (or replace) a device's check-in token, printed once.
    DeviceToken {
        /// The device's id, as the device list names it.
        device: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Add or replace a user; the password is read from standard input.
    Add {
        /// The login name.
        name: String,
        /// What the user may do.
        #[arg(long, value_enum)]
        scope: ScopeArg,
        /// Show the user only devices carrying this tag (repeatable).
        #[arg(long = "tag", value_name = "TAG")]
        tags: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// Add a webhook; its signing secret is printed once.
    Add {
        /// Where events are POSTed (http or https).
        url: String,
        /// Comma-separated: new-finding, resolved, new-device-firmware.
        #[arg(long, value_delimiter = ',', required = true, value_name = "EVENTS")]
        events: Vec<String>,
        /// Leave out finding events below this severity.
        #[arg(long, value_enum, value_name = "SEVERITY")]
        min_severity: Option<FailOn>,
        #[command(flatten)]
        format: ReportFormat,
    },
    /// List webhooks (never their secrets).
    List {
        #[command(flatten)]
        format: ReportFormat,
    },
    /// Remove a webhook by its id.
    Remove {
        /// The webhook's id, as `webhooks list` shows it.
        id: String,
    },
    /// A webhook's delivery log, newest first.
    Deliveries {
        /// The webhook's id.
        id: String,
        #[command(flatten)]
        format: ReportFormat,
    },
}

/// `-f table|json`, with `--json` kept as an alias of `-f json`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReportFormat {
    /// Output format.
    #[arg(short = 'f', long = "format", value_enum, default_value_t = TextOrJson::Table)]
    pub format: TextOrJson,
    /// Same as --format json.
    #[arg(long)]
    pub json: bool,
}

impl ReportFormat {
    pub fn is_json(&self) -> bool {
        self.json || self.format == TextOrJson::Json
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TextOrJson {
    /// Lines for people.
    Table,
    /// One JSON document (its shape per command is in the README).
    Json,
}

/// VEX documents given on the command line, read as the configuration's
/// `vex` list is, by every command that judges findings.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct VexArgs {
    /// VEX document (OpenVEX 0.2 or CycloneDX 1.5/1.6) whose `not_affected` and `fixed` statements
    /// set the state of matching findings; repeatable, added to the `vex` list of `.fwaudit.toml`.
    #[arg(long, value_name = "FILE")]
    pub vex: Vec<PathBuf>,
}

/// What the fleet commands that judge findings read besides the store:
/// the advisory database (and when it is stale) and VEX documents.
#[derive(Debug, Clone, clap::Args)]
pub struct Judging {
    #[command(flatten)]
    pub db_age: DbAge,
    #[command(flatten)]
    pub vex: VexArgs,
}

/// When the advisory database counts as stale.
#[derive(Debug, Clone, clap::Args)]
pub struct DbAge {
    /// Warn when an imported advisory source is older than this many days.
    #[arg(long, default_value_t = 7, value_name = "DAYS")]
    pub max_db_age: u64,
    /// Exit with 2, before scanning, when an advisory source is older than --max-db-age.
    #[arg(long)]
    pub fail_on_stale_db: bool,
}

#[derive(Debug, Subcommand)]
pub enum FleetCommand {
    /// Upsert devices from a CSV (id,model,firmware[,tags]) or JSON list.
    Import {
        /// The device list: CSV with a header row, or a JSON array of objects.
        #[arg(value_name = "DEVICES")]
        file: PathBuf,
        #[command(flatten)]
        format: ReportFormat,
    },
    /// Re-match every stored inventory against the current advisory database.
    Rematch {
        #[command(flatten)]
        format: ReportFormat,
        #[command(flatten)]
        judging: Judging,
    },
    /// Devices that need patching, grouped by firmware, with what to upgrade.
    NeedsPatch {
        /// Only devices affected by this advisory (or one of its aliases).
        #[arg(long, value_name = "ID")]
        advisory: Option<String>,
        /// Only findings at or above this severity.
        #[arg(long, value_enum, value_name = "SEVERITY")]
        min_severity: Option<FailOn>,
        /// Only devices of this model.
        #[arg(long, value_name = "MODEL")]
        model: Option<String>,
        /// Only devices with this tag.
        #[arg(long, value_name = "TAG")]
        tag: Option<String>,
        #[command(flatten)]
        format: ReportFormat,
    },
    /// Which images and devices carry a component.
    Where {
        /// NAME or NAME@REQ, e.g. `openssl@<3.0.8`.
        #[arg(value_name = "NAME[@REQ]")]
        spec: String,
        #[command(flatten)]
        format: ReportFormat,
    },
    /// Components and findings that changed between two firmware images.
    Diff {
        /// The older image: a path (scanned and stored if new) or a stored SHA-256.
        #[arg(value_name = "IMAGE_A")]
        image_a: String,
        /// The newer image: a path or a stored SHA-256.
        #[arg(value_name = "IMAGE_B")]
        image_b: String,
        #[command(flatten)]
        format: ReportFormat,
        #[command(flatten)]
        vex: VexArgs,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Nightly job: import devices, scan new images, rematch, summarise.
    Nightly {
        /// The device list to import first (CSV or JSON, as `fleet import` reads it).
        #[arg(long, value_name = "FILE")]
        devices: PathBuf,
        /// Directory of firmware images; those not yet stored are scanned.
        #[arg(long, value_name = "DIR")]
        images: PathBuf,
        /// Exit with 1 when new findings at or above this severity appeared.
        #[arg(long, value_enum, value_name = "SEVERITY")]
        fail_on: Option<FailOn>,
        #[command(flatten)]
        format: ReportFormat,
        #[command(flatten)]
        judging: Judging,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Private keys the stored images ship, by fingerprint; --shared: only
    /// those found in more than one image or device model.
    Keys {
        /// Only keys found in more than one image or device model.
        #[arg(long)]
        shared: bool,
        #[command(flatten)]
        format: ReportFormat,
    },
    /// Check that the store's indexes agree with its data.
    Verify {
        #[command(flatten)]
        format: ReportFormat,
    },
    /// Copy this fleet into an empty store: a PostgreSQL URL, or a data directory for the embedded
    /// store; both sides are verified afterwards.
    Migrate {
        /// The empty store to copy into: a postgres:// URL, or a data directory.
        #[arg(long, value_name = "URL|DIR")]
        to: String,
        #[command(flatten)]
        format: ReportFormat,
    },
    /// Write everything the fleet store keeps to FILE (JSON Lines), for `fleet import-store`.
    Export {
        /// The JSON Lines file to write.
        file: PathBuf,
        #[command(flatten)]
        format: ReportFormat,
    },
    /// Load a `fleet export` file into this (empty) store.
    ImportStore {
        /// A file `fleet export` wrote.
        file: PathBuf,
        #[command(flatten)]
        format: ReportFormat,
    },
    /// Rewrite the store into a fresh directory (swapped in atomically) so
    /// that it takes only the space its data needs.
    Compact {
        #[command(flatten)]
        format: ReportFormat,
    },
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Import OSV (file, directory, zip export), NVD API 2.0 JSON, or a RustSec advisory-db directory.
    Import {
        /// Files or directories to import.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// Download advisory sources (all four unless --source is given) and swap them in atomically.
    Update {
        /// A source to download (repeat for several).
        #[arg(long = "source", value_enum, value_name = "SOURCE")]
        sources: Vec<UpdateSource>,
        /// Base URL for the chosen source (mirrors, tests).
        #[arg(long, value_name = "URL")]
        url: Option<String>,
        /// OSV ecosystems to fetch (default: crates.io, PyPI, npm, Go, OSS-Fuzz).
        #[arg(long = "ecosystem", value_name = "NAME")]
        ecosystems: Vec<String>,
        /// Give up on a request after this many seconds.
        #[arg(long, default_value_t = 300, value_name = "SECS")]
        timeout: u64,
        /// Pause between NVD API pages in milliseconds (default: 6000 without NVD_API_KEY, 700 with).
        #[arg(long, value_name = "MS")]
        nvd_page_delay: Option<u64>,
        /// Download all of NVD even when the store allows an incremental update.
        #[arg(long)]
        full: bool,
    },
    /// Show which sources are loaded, when they were imported, and how many advisories each holds.
    Status {
        #[command(flatten)]
        format: ReportFormat,
        /// Warn about sources older than this many days.
        #[arg(long, alias = "max-age-days", default_value_t = 7, value_name = "DAYS")]
        max_db_age: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UpdateSource {
    /// OSV exports of the ecosystems chosen with --ecosystem.
    Osv,
    /// NVD's CVE API 2.0 (incremental when the store allows).
    Nvd,
    /// RustSec, through its OSV export.
    Rustsec,
    /// endoflife.date release cycles.
    Eol,
    /// The Debian Security Tracker's JSON (distribution fix data).
    Debian,
}

#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    /// Firmware images, root file system or project directories, or single manifests.
    #[arg(required = true, value_name = "TARGET")]
    pub targets: Vec<PathBuf>,
    /// Output format; `json` prints one object per target, one per line (JSON Lines).
    #[arg(short = 'f', long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// With --format json: all reports in one JSON array instead of one object per line.
    #[arg(long)]
    pub json_array: bool,
    /// Write the report here instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Exit with 1 when a finding reaches this severity (suppressed findings do not count).
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub fail_on: Option<FailOn>,
    /// Older name of --config for the triage file.
    #[arg(long, value_name = "FILE", hide = true)]
    pub ignore: Option<PathBuf>,
    #[command(flatten)]
    pub vex: VexArgs,
    /// Record the result in the fleet store; an image already stored (same SHA-256) is not unpacked again.
    #[arg(long)]
    pub store: bool,
    /// With --store: the device that runs this image.
    #[arg(long, value_name = "ID", requires = "store")]
    pub device: Option<String>,
    /// With --store: the firmware version this image is, so device lists can name it.
    #[arg(long, value_name = "VERSION", requires = "store")]
    pub firmware_version: Option<String>,
    /// With --store: unpack and scan again even if the image is stored.
    #[arg(long, requires = "store")]
    pub rescan: bool,
    /// Checks to run, comma-separated: components, hardening, secrets, accounts, services (default: all).
    #[arg(
        long,
        value_name = "LIST",
        default_value = "components,hardening,secrets,accounts,services"
    )]
    pub checks: String,
    /// Judge certificate validity at this date or instant (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ; default: now).
    #[arg(long, value_name = "WHEN")]
    pub now: Option<String>,
    /// Print a password that matched a default credential (otherwise only which list entry matched).
    #[arg(long)]
    pub show_secrets: bool,
    #[command(flatten)]
    pub db_age: DbAge,
    #[command(flatten)]
    pub limits: LimitArgs,
}

#[derive(Debug, clap::Args)]
pub struct UnpackArgs {
    /// The firmware image to unpack.
    #[arg(value_name = "IMAGE")]
    pub image: PathBuf,
    #[command(flatten)]
    pub format: ReportFormat,
    /// Write the unpacked files under this directory (only inside it).
    #[arg(long, value_name = "DIR")]
    pub extract: Option<PathBuf>,
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// Overrides of `fwaudit::unpack::limits::Limits`; unset means the default.
/// Taken by the commands that unpack (`scan`, `unpack`, `fleet nightly`,
/// `fleet diff`) and by no other: elsewhere they would be accepted and
/// do nothing. All but --max-memory are left out of --help (README).
#[derive(Debug, Clone, clap::Args)]
pub struct LimitArgs {
    /// Memory one target's unpacking may hold at once (the target, what it
    /// unpacks to, decoders' buffers); reaching it is a `limit` note. Bytes,
    /// or with a K, M or G suffix (powers of 1024). Default 1G.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_memory: Option<u64>,
    /// How many containers deep to recurse.
    #[arg(long, hide = true, value_name = "N")]
    pub max_depth: Option<usize>,
    /// Total bytes all layers of one target may decompress to.
    #[arg(long, hide = true, value_name = "SIZE", value_parser = parse_size)]
    pub max_total_bytes: Option<u64>,
    /// Largest single extracted file.
    #[arg(long, hide = true, value_name = "SIZE", value_parser = parse_size)]
    pub max_file_size: Option<u64>,
    /// Output/input ratio past which a stream is treated as a bomb.
    #[arg(long, hide = true, value_name = "N")]
    pub max_ratio: Option<u64>,
    /// Entries one target may hold, over all its containers.
    #[arg(long, hide = true, value_name = "N")]
    pub max_entries: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Sections for people.
    Table,
    /// The JSON contract (README): one object per target.
    Json,
    /// SARIF 2.1.0, for code-scanning dashboards.
    Sarif,
    /// CycloneDX 1.6 JSON SBOM with vulnerabilities (VEX).
    Cyclonedx,
    /// SPDX 2.3 JSON SBOM with advisory references.
    Spdx,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// Any finding, informational ones (and those without a rating) included.
    Info,
    /// Low, medium, high or critical.
    Low,
    /// Medium, high or critical.
    Medium,
    /// High or critical.
    High,
    /// Critical only.
    Critical,
}

/// A byte count: digits, optionally followed by K, M or G (KiB, MiB, GiB;
/// `KiB`/`MiB`/`GiB` and a trailing `B` are accepted too).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let t = t
        .strip_suffix("iB")
        .or_else(|| t.strip_suffix('B'))
        .unwrap_or(t);
    let (digits, shift) = match t.char_indices().last() {
        Some((i, 'K' | 'k')) => (&t[..i], 10),
        Some((i, 'M' | 'm')) => (&t[..i], 20),
        Some((i, 'G' | 'g')) => (&t[..i], 30),
        _ => (t, 0),
    };
    let n: u64 = digits
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a size (bytes, or a number with K, M or G)"))?;
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("{text:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn sizes_with_suffixes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("256M"), Ok(256 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("64kB"), Ok(64 << 10));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("99999999999G").is_err());
    }

    /// Every argument of every command says what it is for.
    #[test]
    fn every_argument_has_help() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            let path = format!("{path} {}", cmd.get_name());
            if cmd.get_about().is_none() {
                missing.push(format!("{path} (the command)"));
            }
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
                let flag = !arg.get_action().takes_values();
                for value in arg.get_possible_values().iter().filter(|_| !flag) {
                    if value.get_help().is_none() {
                        missing.push(format!("{path} {id}={}", value.get_name()));
                    }
                }
            }
            for sub in cmd.get_subcommands() {
                if sub.get_name() != "help" {
                    walk(sub, &path, missing);
                }
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "", &mut missing);
        assert!(missing.is_empty(), "no help text: {missing:#?}");
        Cli::command().debug_assert();
    }
}
