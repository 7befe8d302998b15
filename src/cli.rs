//! Command-line interface (the contract in DESIGN.md). Definitions only.

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "fwaudit",
    version,
    about = "Supply-chain and patch-level auditor for device firmware"
)]
pub struct Cli {
    /// Where the advisory database and fleet store live (else $FWAUDIT_HOME, else the XDG data dir).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The fleet store on PostgreSQL (postgres://user@host/db; else $FWAUDIT_DATABASE_URL, else the
    /// embedded store under the data directory), for fleet commands, scan --store, serve and worker.
    #[arg(long, global = true, value_name = "URL")]
    pub database: Option<String>,
    /// Unpacking bounds (hidden from --help, documented in the README).
    #[command(flatten)]
    pub limits: LimitArgs,
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
    Read,
    Triage,
    Write,
    Admin,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create an API key; its token is printed once (only a hash is kept).
    Create {
        #[arg(long, value_name = "NAME")]
        name: String,
        #[arg(long, value_enum)]
        scope: ScopeArg,
        /// Bind the key to devices carrying this tag (repeatable).
        #[arg(long = "tag", value_name = "TAG")]
        tags: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// List keys (never their secrets).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key by its id.
    Revoke { id: String },
    /// Issue (or replace) a device's check-in token, printed once.
    DeviceToken { device: String },
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Add or replace a user; the password is read from standard input.
    Add {
        name: String,
        #[arg(long, value_enum)]
        scope: ScopeArg,
        #[arg(long = "tag", value_name = "TAG")]
        tags: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// Add a webhook; its signing secret is printed once.
    Add {
        url: String,
        /// Comma-separated: new-finding, resolved, new-device-firmware.
        #[arg(long, value_delimiter = ',', required = true, value_name = "EVENTS")]
        events: Vec<String>,
        /// Leave out finding events below this severity.
        #[arg(long, value_enum, value_name = "SEVERITY")]
        min_severity: Option<FailOn>,
        #[arg(long)]
        json: bool,
    },
    /// List webhooks (never their secrets).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a webhook by its id.
    Remove { id: String },
    /// A webhook's delivery log, newest first.
    Deliveries {
        id: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum FleetCommand {
    /// Upsert devices from a CSV (id,model,firmware[,tags]) or JSON list.
    Import {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Re-match every stored inventory against the current advisory database.
    Rematch {
        #[arg(long)]
        json: bool,
    },
    /// Devices that need patching, grouped by firmware, with what to upgrade.
    NeedsPatch {
        #[arg(long, value_name = "ID")]
        advisory: Option<String>,
        #[arg(long, value_enum, value_name = "SEVERITY")]
        min_severity: Option<FailOn>,
        #[arg(long, value_name = "MODEL")]
        model: Option<String>,
        #[arg(long, value_name = "TAG")]
        tag: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Which images and devices carry a component: NAME or NAME@REQ (e.g. openssl@<3.0.8).
    Where {
        spec: String,
        #[arg(long)]
        json: bool,
    },
    /// Components and findings that changed between two firmware images (paths or SHA-256).
    Diff {
        image_a: String,
        image_b: String,
        #[arg(long)]
        json: bool,
    },
    /// Nightly job: import devices, scan new images, rematch, summarise.
    Nightly {
        #[arg(long, value_name = "FILE")]
        devices: PathBuf,
        #[arg(long, value_name = "DIR")]
        images: PathBuf,
        /// Exit with 1 when new findings at or above this severity appeared.
        #[arg(long, value_enum, value_name = "SEVERITY")]
        fail_on: Option<FailOn>,
        #[arg(long)]
        json: bool,
    },
    /// Private keys the stored images ship, by fingerprint; --shared: only
    /// those found in more than one image or device model.
    Keys {
        #[arg(long)]
        shared: bool,
        #[arg(long)]
        json: bool,
    },
    /// Check that the store's indexes agree with its data.
    Verify,
    /// Copy this fleet into an empty store: a PostgreSQL URL, or a data directory for the embedded
    /// store; both sides are verified afterwards.
    Migrate {
        #[arg(long, value_name = "URL|DIR")]
        to: String,
        #[arg(long)]
        json: bool,
    },
    /// Write everything the fleet store keeps to FILE (JSON Lines), for `fleet import-store`.
    Export {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Load a `fleet export` file into this (empty) store.
    ImportStore {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Rewrite the store into a fresh directory (swapped in atomically) so
    /// that it takes only the space its data needs.
    Compact {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Import OSV (file, directory, zip export), NVD API 2.0 JSON, or a RustSec advisory-db directory.
    Import {
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// Download advisory sources (all four unless --source is given) and swap them in atomically.
    Update {
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
        #[arg(long)]
        json: bool,
        /// Warn about sources older than this many days.
        #[arg(long, default_value_t = 7, value_name = "DAYS")]
        max_age_days: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UpdateSource {
    Osv,
    Nvd,
    Rustsec,
    Eol,
    /// The Debian Security Tracker's JSON (distribution fix data).
    Debian,
}

#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    /// Firmware images or directories.
    #[arg(required = true, value_name = "TARGET")]
    pub targets: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// Write the report here instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Exit with 1 when a finding reaches this severity (suppressed findings do not count).
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub fail_on: Option<FailOn>,
    /// Triage file of accepted findings (default: ./.fwaudit.toml when present).
    #[arg(long, value_name = "FILE")]
    pub ignore: Option<PathBuf>,
    /// VEX document (OpenVEX 0.2 or CycloneDX 1.5/1.6) whose `not_affected` and `fixed` statements
    /// set the state of matching findings; repeatable, added to the `vex` list of `.fwaudit.toml`.
    #[arg(long, value_name = "FILE")]
    pub vex: Vec<PathBuf>,
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
}

#[derive(Debug, clap::Args)]
pub struct UnpackArgs {
    pub image: PathBuf,
    /// Print layers and files as JSON.
    #[arg(long)]
    pub json: bool,
    /// Write the unpacked files under this directory (only inside it).
    #[arg(long, value_name = "DIR")]
    pub extract: Option<PathBuf>,
}

/// Overrides of `fwaudit::unpack::limits::Limits`; unset means the default.
#[derive(Debug, clap::Args)]
pub struct LimitArgs {
    /// How many containers deep to recurse.
    #[arg(long, global = true, hide = true, value_name = "N")]
    pub max_depth: Option<usize>,
    /// Total bytes all layers of one target may decompress to.
    #[arg(long, global = true, hide = true, value_name = "BYTES")]
    pub max_total_bytes: Option<u64>,
    /// Largest single extracted file.
    #[arg(long, global = true, hide = true, value_name = "BYTES")]
    pub max_file_size: Option<u64>,
    /// Output/input ratio past which a stream is treated as a bomb.
    #[arg(long, global = true, hide = true, value_name = "N")]
    pub max_ratio: Option<u64>,
    /// Entries one container may hold.
    #[arg(long, global = true, hide = true, value_name = "N")]
    pub max_entries: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
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
    Low,
    Medium,
    High,
    Critical,
}
