//! Fleet store benchmark (`cargo bench --bench fleet`): a generated fleet of
//! 100,000 devices over 2,000 images with ~150 components each. Prints a
//! table of import, rematch and query times (first call, median wall and
//! CPU time), what JSON output adds, store size, peak memory, the time to
//! open the store, and whole `fwaudit fleet ...` commands in a fresh process.
//! Sizes can be scaled down with FLEET_IMAGES / FLEET_DEVICES.

use fwaudit::advisory::Database;
use fwaudit::fleet::queries::Scope;
use fwaudit::fleet::queries::{PatchFilter, VersionReq};
use fwaudit::fleet::{Device, Fleet, FleetOps, FleetStore};
use fwaudit::model::Severity;
use fwaudit::scan::Options;
use std::time::Instant;

#[path = "common/fleet_data.rs"]
mod fleet_data;
#[path = "common/measure.rs"]
mod measure;
use fleet_data::image;
use measure::{dir_size, env, loadavg, ms};

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Calls per timed query.
const RUNS: usize = 5;

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// CPU time of the whole process (Linux: every thread's schedstat), in
/// nanoseconds: queries read device tables on rayon's threads.
fn process_cpu_ns() -> u64 {
    std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .filter_map(Result::ok)
                .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
                .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0)
}

fn main() {
    let images = env("FLEET_IMAGES", 2_000);
    let devices = env("FLEET_DEVICES", 100_000);
    let per_image = env("FLEET_COMPONENTS", 150);
    let load_start = loadavg();
    let dir = tempfile::tempdir().unwrap();
    let fleet = Fleet::open(dir.path()).unwrap();
    // FLEET_KEEP=DIR: the store is moved there at the end (DIR/fleet), to
    // time commands against it by hand with `--data-dir DIR`.
    let keep = std::env::var_os("FLEET_KEEP");
    let db = Database::bundled().unwrap();
    let options = Options {
        today: "2026-11-25".into(),
        ..Options::default()
    };
    let now = "2026-11-25T00:00:00Z";
    let mut rows: Vec<(String, String)> = Vec::new();

    let t = Instant::now();
    let mut shas = Vec::new();
    for i in 0..images {
        let mut report = image(i, per_image);
        report.findings =
            fwaudit::scan::findings(&report.components, &report.libraries, &[], &db, &options);
        fleet
            .store_image(&report, Some(&format!("fw-{i}")), now)
            .unwrap();
        shas.push(report.target.sha256.unwrap());
    }
    fleet.flush().unwrap();
    rows.push((
        format!("store {images} images x {per_image} components"),
        format!("{:.2} s", t.elapsed().as_secs_f64()),
    ));

    let t = Instant::now();
    for d in 0..devices {
        fleet
            .upsert_device(&Device {
                id: format!("dev-{d:06}"),
                model: format!("M-{}", d % 20),
                tags: vec![if d % 3 == 0 { "eu".into() } else { "us".into() }],
                firmware: format!("fw-{}", d % images),
                image: Some(shas[d % images].clone()),
                last_seen: now.into(),
                facts: Default::default(),
            })
            .unwrap();
    }
    fleet.flush().unwrap();
    rows.push((
        format!("import {devices} devices"),
        format!("{:.2} s", t.elapsed().as_secs_f64()),
    ));

    let t = Instant::now();
    let summary = fleet.rematch(&db, &options, now).unwrap();
    rows.push((
        format!("rematch {} images", summary.images),
        format!("{:.2} s", t.elapsed().as_secs_f64()),
    ));

    // Each query: the first call (nothing of it in sled's cache yet beyond
    // what the writes left), then the median of RUNS calls, wall and CPU
    // time of the process, every thread (the CPU time says more on a
    // loaded machine; a thread that exited during the call is not counted).
    let time = |label: &str, unit: &str, f: &mut dyn FnMut() -> usize| {
        let t = Instant::now();
        f();
        let first = ms(t.elapsed());
        let mut walls = Vec::new();
        let mut cpus = Vec::new();
        let mut n = 0;
        for _ in 0..RUNS {
            let c = process_cpu_ns();
            let t = Instant::now();
            n = f();
            walls.push(ms(t.elapsed()));
            cpus.push(process_cpu_ns().saturating_sub(c) as f64 / 1e6);
        }
        (
            label.to_string(),
            format!(
                "{:.1} ms (first {first:.1} ms, CPU {:.1} ms; {n} {unit})",
                median(walls),
                median(cpus)
            ),
        )
    };
    let advisory = PatchFilter {
        advisory: Some("CVE-2023-38545".into()),
        ..PatchFilter::default()
    };
    let critical_eu = PatchFilter {
        min_severity: Some(Severity::Critical),
        tag: Some("eu".into()),
        ..PatchFilter::default()
    };
    let devices_in = |groups: &[fwaudit::fleet::queries::PatchGroup]| -> usize {
        groups.iter().map(|g| g.devices.len()).sum()
    };
    rows.push(time(
        "needs-patch --advisory CVE-2023-38545",
        "devices",
        &mut || devices_in(&fleet.needs_patch(&advisory).unwrap()),
    ));
    rows.push(time(
        "needs-patch --min-severity critical --tag eu",
        "devices",
        &mut || devices_in(&fleet.needs_patch(&critical_eu).unwrap()),
    ));
    rows.push(time("needs-patch (no filter)", "devices", &mut || {
        devices_in(&fleet.needs_patch(&PatchFilter::default()).unwrap())
    }));
    let req = VersionReq::parse("<1.1.1x").unwrap();
    rows.push(time("where openssl@<1.1.1x", "devices", &mut || {
        fleet
            .where_component("openssl", Some(&req), &Scope::All, false)
            .unwrap()
            .iter()
            .map(|h| h.devices.len())
            .sum()
    }));
    rows.push(time("where busybox", "images", &mut || {
        fleet
            .where_component("busybox", None, &Scope::All, false)
            .unwrap()
            .len()
    }));
    // What `--json` adds: serialising the answers (the CLI pretty-prints).
    let groups = fleet.needs_patch(&critical_eu).unwrap();
    let hits = fleet
        .where_component("busybox", None, &Scope::All, false)
        .unwrap();
    rows.push(time(
        "JSON of the needs-patch --min-severity critical --tag eu answer",
        "bytes",
        &mut || serde_json::to_string_pretty(&groups).unwrap().len(),
    ));
    rows.push(time(
        "JSON of the where busybox answer",
        "bytes",
        &mut || serde_json::to_string_pretty(&hits).unwrap().len(),
    ));
    fleet.flush().unwrap();
    rows.push((
        "store size on disk".into(),
        format!("{:.1} MiB", dir_size(dir.path()) as f64 / 1048576.0),
    ));
    rows.push((
        "peak memory (VmHWM)".into(),
        format!("{:.1} MiB", peak_rss_mib()),
    ));
    // A writing command closes the store with `close`: sled replays the
    // log written since its last snapshot and writes a new one while the
    // writer still runs, so the next command does not.
    let t = Instant::now();
    fleet.close().unwrap();
    rows.push((
        "close after the writes (flush, open once more: sled replays its log, writes a snapshot)"
            .into(),
        format!("{:.1} ms", ms(t.elapsed())),
    ));

    // The same queries on the store opened again, as a command finds it: in
    // the process that has just written hundreds of MB they cost 2-3 times
    // more CPU (likely sled's in-memory page state; not verified).
    let t = Instant::now();
    let fleet = Fleet::open_to_read(dir.path()).unwrap();
    rows.push((
        "first open after the writes".into(),
        format!("{:.1} ms", ms(t.elapsed())),
    ));
    rows.push(time(
        "reopened: needs-patch --min-severity critical --tag eu",
        "devices",
        &mut || devices_in(&fleet.needs_patch(&critical_eu).unwrap()),
    ));
    rows.push(time(
        "reopened: where openssl@<1.1.1x",
        "devices",
        &mut || {
            fleet
                .where_component("openssl", Some(&req), &Scope::All, false)
                .unwrap()
                .iter()
                .map(|h| h.devices.len())
                .sum()
        },
    ));
    rows.push(time("reopened: where busybox", "images", &mut || {
        fleet
            .where_component("busybox", None, &Scope::All, false)
            .unwrap()
            .len()
    }));
    drop(fleet);

    // What a person waits for: opening the store (sled recovery) and, in a
    // fresh process, the whole command with its output.
    let opens = |label: &str, rows: &mut Vec<(String, String)>| {
        let mut opens = Vec::new();
        for _ in 0..RUNS {
            let t = Instant::now();
            let fleet = Fleet::open_to_read(dir.path()).unwrap();
            opens.push(ms(t.elapsed()));
            drop(fleet);
        }
        rows.push((label.to_string(), format!("{:.1} ms", median(opens))));
    };
    opens("open the store (median of later opens)", &mut rows);
    commands(dir.path(), "", &mut rows);

    // `fleet compact`: the store rewritten into a fresh directory.
    let t = Instant::now();
    let summary = Fleet::open(dir.path()).unwrap().compact().unwrap();
    rows.push((
        "`fleet compact` (copy every tree, swap directories)".into(),
        format!(
            "{:.2} s; {:.1} MiB -> {:.1} MiB (sled's count), {:.1} MiB on disk after",
            t.elapsed().as_secs_f64(),
            summary.bytes_before as f64 / 1048576.0,
            summary.bytes_after as f64 / 1048576.0,
            dir_size(dir.path()) as f64 / 1048576.0
        ),
    ));
    opens("compacted: open the store (median)", &mut rows);
    commands(dir.path(), "compacted: ", &mut rows);

    println!(
        "load average (1/5/15 min) at start: {load_start}, at end: {}",
        loadavg()
    );
    println!("| fleet benchmark ({images} images, {devices} devices) | result |\n|---|---:|");
    for (k, v) in rows {
        println!("| {k} | {v} |");
    }
    if let Some(keep) = keep {
        let keep = std::path::Path::new(&keep);
        std::fs::create_dir_all(keep).unwrap();
        std::fs::rename(dir.path().join("fleet"), keep.join("fleet")).unwrap();
    }
}

/// Whole `fwaudit fleet ...` commands in a fresh process, median wall time.
fn commands(home: &std::path::Path, prefix: &str, rows: &mut Vec<(String, String)>) {
    let home = home.to_str().unwrap();
    // FLEET_FWAUDIT runs another build's binary (to compare two versions).
    let exe = std::env::var("FLEET_FWAUDIT")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_fwaudit").to_string());
    for args in [
        &["needs-patch", "--advisory", "CVE-2023-38545", "--json"][..],
        &["needs-patch", "--min-severity", "critical", "--tag", "eu"],
        &[
            "needs-patch",
            "--min-severity",
            "critical",
            "--tag",
            "eu",
            "--json",
        ],
        &["where", "openssl@<1.1.1x"],
        &["where", "busybox", "--json"],
    ] {
        let mut walls = Vec::new();
        for _ in 0..RUNS {
            let t = Instant::now();
            let status = std::process::Command::new(&exe)
                .args(["--data-dir", home, "fleet"])
                .args(args)
                .stdout(std::process::Stdio::null())
                .status()
                .unwrap();
            walls.push(ms(t.elapsed()));
            assert!(status.success(), "{args:?}");
        }
        rows.push((
            format!("{prefix}`fwaudit fleet {}` (process)", args.join(" ")),
            format!("{:.1} ms", median(walls)),
        ));
    }
}
