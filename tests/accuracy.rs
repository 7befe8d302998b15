//! Identification accuracy on real binaries: `tests/fixtures/accuracy.tsv`
//! lists files from Debian 12 packages of four architectures, and pinned
//! PyPI wheels that vendor native libraries (each wheel is scanned whole: the
//! scanner unpacks it), with the product and upstream version each ships. `tests/fixtures/fetch-accuracy.sh`
//! puts them in a cache outside the repository; without it this test skips
//! (loudly). Recall must reach 95 %, precision 99 %.

use fwaudit::binary::ElfInfo;
use fwaudit::identify;
use fwaudit::unpack::limits::Limits;
use fwaudit::unpack::tree::{FileClass, classify};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::PathBuf;

const MIN_RECALL: f64 = 0.95;
const MIN_PRECISION: f64 = 0.99;

fn cache() -> PathBuf {
    std::env::var_os("FWAUDIT_ACCURACY_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/fwaudit-accuracy"))
        .join("files")
}

/// (product, version) pairs identified in one file, signatures only.
fn identified(path: &std::path::Path) -> BTreeSet<(String, String)> {
    let (_, unpacked) = fwaudit::scan::load(path, &Limits::default()).expect("readable");
    let elfs: Vec<(usize, ElfInfo)> = unpacked
        .files
        .iter()
        .enumerate()
        .filter(|(_, f)| f.is_regular() && classify(&f.data) == FileClass::Elf)
        .filter_map(|(i, f)| ElfInfo::parse(&f.path, &f.data).ok().map(|e| (i, e)))
        .collect();
    identify::components(&unpacked, &elfs)
        .into_iter()
        .filter(|c| c.ecosystem == "generic")
        .map(|c| (c.name, c.version))
        .collect()
}

#[test]
fn recall_and_precision_on_real_binaries() {
    let root = cache();
    if !root.is_dir() {
        let message = format!(
            "\n\n*** SKIPPED: accuracy cache {} is absent; run \
             `sh tests/fixtures/fetch-accuracy.sh` to fetch the {} real binaries ***\n\n",
            root.display(),
            include_str!("fixtures/accuracy.tsv")
                .lines()
                .filter(|l| !l.starts_with('#'))
                .count()
        );
        let _ = std::io::stderr().write_all(message.as_bytes());
        return;
    }
    let mut expected: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
    for line in include_str!("fixtures/accuracy.tsv").lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        assert!(fields.len() >= 3, "bad row: {line}");
        expected
            .entry(fields[0].to_string())
            .or_default()
            .insert((fields[1].to_string(), fields[2].to_string()));
    }
    let (mut tp, mut fn_, mut fp) = (0usize, 0usize, 0usize);
    let mut report = Vec::new();
    let mut unavailable = Vec::new();
    for (file, want) in &expected {
        let path = root.join(file);
        let note = root.join(format!("{file}.unavailable"));
        if !path.is_file() && note.is_file() {
            // fetch-accuracy.sh could not download it (no route to PyPI).
            let why = std::fs::read_to_string(&note).unwrap_or_default();
            unavailable.push(format!("{file}: {}", why.trim()));
            continue;
        }
        assert!(
            path.is_file(),
            "{} missing: re-run fetch-accuracy.sh",
            path.display()
        );
        let got = identified(&path);
        for pair in want {
            if got.contains(pair) {
                tp += 1;
            } else {
                fn_ += 1;
                report.push(format!("MISSED  {file}: {} {}", pair.0, pair.1));
            }
        }
        for pair in got.difference(want) {
            fp += 1;
            report.push(format!("WRONG   {file}: {} {}", pair.0, pair.1));
        }
    }
    if !unavailable.is_empty() {
        let message = format!(
            "\n\n*** SKIPPED {} file(s) that could not be downloaded: ***\n  {}\n\n",
            unavailable.len(),
            unavailable.join("\n  ")
        );
        let _ = std::io::stderr().write_all(message.as_bytes());
    }
    let recall = tp as f64 / (tp + fn_) as f64;
    let precision = tp as f64 / (tp + fp).max(1) as f64;
    // Straight to stderr (not eprintln!, which the test harness captures):
    // the numbers belong in every CI log.
    let summary = format!(
        "accuracy over {} files: recall {:.1} % ({tp}/{}), precision {:.1} % ({tp}/{})\n",
        expected.len(),
        recall * 100.0,
        tp + fn_,
        precision * 100.0,
        tp + fp
    );
    let _ = std::io::stderr().write_all(summary.as_bytes());
    for line in &report {
        eprintln!("  {line}");
    }
    assert!(
        recall >= MIN_RECALL,
        "recall {recall:.3} below {MIN_RECALL}"
    );
    assert!(
        precision >= MIN_PRECISION,
        "precision {precision:.3} below {MIN_PRECISION}"
    );
}
