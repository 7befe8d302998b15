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
    /// Exit with 1 when a finding reaches this severity.
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub fail_on: Option<FailOn>,
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Low,
    Medium,
    High,
    Critical,
}
