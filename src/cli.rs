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
    /// Check that the store's indexes agree with its data.
    Verify,
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
    /// Memory one target's unpacking may hold at once (the target, what it
    /// unpacks to, decoders' buffers); reaching it is a `limit` note. Bytes,
    /// or with a K, M or G suffix (powers of 1024).
    #[arg(long, global = true, value_name = "SIZE", value_parser = parse_size)]
    pub max_memory: Option<u64>,
    /// How many containers deep to recurse.
    #[arg(long, global = true, hide = true, value_name = "N")]
    pub max_depth: Option<usize>,
    /// Total bytes all layers of one target may decompress to.
    #[arg(long, global = true, hide = true, value_name = "SIZE", value_parser = parse_size)]
    pub max_total_bytes: Option<u64>,
    /// Largest single extracted file.
    #[arg(long, global = true, hide = true, value_name = "SIZE", value_parser = parse_size)]
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
    /// Any finding, informational ones (and those without a rating) included.
    Info,
    Low,
    Medium,
    High,
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
    use super::parse_size;

    #[test]
    fn sizes_with_suffixes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("256M"), Ok(256 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("64kB"), Ok(64 << 10));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("99999999999G").is_err());
    }
}
