//! Time and peak memory of `fwaudit` on the crafted inputs of
//! `tests/hostile.rs`, at full size and with the default bounds, for one or
//! more binaries side by side (to compare a build before a fix with one
//! after). Prints one Markdown table.
//!
//! `cargo bench --bench hostile` measures the release build;
//! `cargo bench --bench hostile -- /tmp/fwaudit-before target/release/fwaudit`
//! measures the binaries named (`--only=zip` keeps the inputs whose name
//! contains `zip`). Each run has its address space capped at
//! 8 GiB and is killed after 60 s (shown as such): the inputs are built to
//! exhaust a machine, and a binary without the bounds would.

#[path = "../tests/common/mod.rs"]
mod common;

use common::bounded::{MIB, run_bounded_lenient};
use common::hostile_inputs::*;
use std::path::Path;
use std::time::Duration;

struct Case {
    name: &'static str,
    args: Vec<String>,
}

fn inputs(dir: &Path) -> Vec<Case> {
    let w = |name: &str, data: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, data).unwrap();
        p.to_str().unwrap().to_string()
    };
    let mut cases = Vec::new();
    let mut case = |name: &'static str, args: &[&str]| {
        cases.push(Case {
            name,
            args: args.iter().map(|s| s.to_string()).collect(),
        })
    };
    for (name, setup, query) in RPMDB_VIEWS {
        let name: &'static str = if name == "recursive" {
            "rpmdb: recursive view"
        } else {
            "rpmdb: cross-joined view"
        };
        let root = dir.join(name.replace([' ', ':'], "-"));
        std::fs::create_dir_all(root.join("var/lib/rpm")).unwrap();
        rpmdb_with_view(&root.join("var/lib/rpm/rpmdb.sqlite"), setup, query);
        case(name, &["scan", root.to_str().unwrap(), "--format", "json"]);
    }
    let sparse = dir.join("sparse");
    std::fs::create_dir(&sparse).unwrap();
    for i in 0..6 {
        let f = std::fs::File::create(sparse.join(format!("disk-{i}.img"))).unwrap();
        f.set_len(512 * MIB).unwrap();
    }
    case(
        "directory: six 512 MiB sparse files",
        &["scan", sparse.to_str().unwrap(), "--format", "json"],
    );
    let p = w("holes.cramfs", &cramfs_of_holes(300));
    case(
        "cramfs: 300 × 16 MiB of holes (21 KB)",
        &["unpack", &p, "--json"],
    );
    let p = w("bombs.tar", &tar_of_gzip_bombs(8, 1 << 30));
    case("tar: eight 1 GiB gzip bombs", &["unpack", &p, "--json"]);
    let p = w("links.sqfs", &squashfs_of_links(12_000_000));
    case(
        "squashfs: 12 M directory entries",
        &["unpack", &p, "--json"],
    );
    let p = w("flood.cpio", &cpio_flood(2_000_000));
    case("cpio: 2 M entries (continuations)", &["unpack", &p]);
    let p = w("overlap.zip", &overlapping_zip(40, 64 * MIB));
    case(
        "zip: 40 overlapping 64 MiB entries",
        &["unpack", &p, "--json"],
    );
    let root = dir.join("ldso");
    ld_so_conf_web(&root, 48);
    case(
        "ld.so.conf: 48 files including each other",
        &["scan", root.to_str().unwrap(), "--format", "json"],
    );
    let project = dir.join("requirements");
    std::fs::create_dir(&project).unwrap();
    requirements_lattice(&project, 8, 8);
    case(
        "requirements: 8 levels of 8 files, each including the next level",
        &["scan", project.to_str().unwrap(), "--format", "json"],
    );
    cases
}

fn main() {
    // `--only=TEXT` keeps the inputs whose name contains TEXT.
    let only: Option<String> =
        std::env::args().find_map(|a| a.strip_prefix("--only=").map(str::to_string));
    let mut bins: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if bins.is_empty() {
        bins.push(env!("CARGO_BIN_EXE_fwaudit").to_string());
    }
    let tmp = tempfile::tempdir().unwrap();
    let cases = inputs(tmp.path());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average at start: {}", load.trim());
    println!();
    println!("| input | binary | exit | wall | peak RSS |");
    println!("|---|---|---:|---:|---:|");
    for case in cases
        .iter()
        .filter(|c| only.as_ref().is_none_or(|o| c.name.contains(o.as_str())))
    {
        for bin in &bins {
            let args: Vec<&str> = case.args.iter().map(String::as_str).collect();
            let r = run_bounded_lenient(bin, &args, 8192 * MIB, Duration::from_secs(60));
            println!(
                "| {} | {} | {} | {:.2} s | {} MiB |",
                case.name,
                bin,
                r.outcome,
                r.wall.as_secs_f64(),
                r.peak_rss / MIB
            );
        }
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!();
    println!("load average at end: {}", load.trim());
}
