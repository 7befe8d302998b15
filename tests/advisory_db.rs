//! The advisory database: NVD CPE matching against an independent
//! computation, and `db import` / `db status` on the real data trimmed into
//! tests/data/ (sources, commits and licences in tests/data/README.md).

mod common;
use common::*;
use fwaudit::advisory::{Database, cpe::Cpe, import};
use std::path::Path;

fn data(p: &str) -> std::path::PathBuf {
    root().join("tests/data").join(p)
}

#[test]
fn nvd_matching_agrees_with_the_independent_script() {
    let nvd = data("nvd");
    let imported = import::import(&[nvd.as_path()]);
    assert!(imported.errors.is_empty(), "{:?}", imported.errors);
    let advisories = imported.by_source.into_values().flatten().collect();
    let db = Database::from_advisories(advisories, Default::default());
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("tests/fixtures/nvd-expected.json")).unwrap(),
    )
    .unwrap();
    let mut checked = 0;
    for case in expected["cases"].as_array().unwrap() {
        let cpe = Cpe::parse(case["cpe"].as_str().unwrap()).unwrap();
        let version = case["version"].as_str().unwrap();
        let mut got: Vec<String> = db
            .matches_cpe(&cpe, version)
            .iter()
            .map(|m| m.advisory.id.clone())
            .collect();
        got.sort();
        let want: Vec<String> = case["expected"].as_array().unwrap().iter().map(s).collect();
        assert_eq!(got, want, "{} {version}", cpe.key());
        checked += want.len();
    }
    assert!(checked > 800, "{checked}");
}

#[test]
fn import_status_and_scan_with_imported_data() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().to_str().unwrap();
    let rustsec = data("rustsec-advisory-db");
    let nvd = data("nvd");
    let osv = data("osv");
    let run = fwaudit(&[
        "--data-dir",
        dir,
        "db",
        "import",
        rustsec.to_str().unwrap(),
        nvd.to_str().unwrap(),
        osv.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "imported 404 nvd advisories\nimported 203 osv advisories\nimported 113 rustsec advisories\n"
    );
    let (code, status) = json(&["--data-dir", dir, "db", "status", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(status["bundled"], 106);
    assert_eq!(status["sources"]["nvd"]["count"], 404);
    // 116 advisory files in tests/data/rustsec-advisory-db, 3 of them withdrawn.
    assert_eq!(status["sources"]["rustsec"]["count"], 113);
    assert_eq!(status["total"], 106 + 404 + 203 + 113);

    // NVD knows busybox CVEs the bundled set does not; the bundled ids are
    // not repeated where NVD has the same CVE.
    let (_, r) = json(&[
        "--data-dir",
        dir,
        "scan",
        "samples/openwrt-mipsel.bin",
        "--format",
        "json",
    ]);
    let f = findings(&r);
    assert!(
        f.contains(&"unknown vulnerable busybox@1.35.0 CVE-2024-58251 -".to_string()),
        "{f:?}"
    );
    let busybox_48174 = f.iter().filter(|l| l.contains("CVE-2022-48174")).count();
    assert_eq!(busybox_48174, 1, "{f:?}");
}

#[test]
fn a_bad_file_is_named_and_the_rest_imported() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().to_str().unwrap();
    let bad = home.path().join("broken.json");
    std::fs::write(&bad, "{\n  \"id\": \"OSV-1\",\n  \"affected\": [\n").unwrap();
    let good = data("osv/oss-fuzz-vulns/dnsmasq.json");
    let run = fwaudit(&[
        "--data-dir",
        dir,
        "db",
        "import",
        bad.to_str().unwrap(),
        good.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 2);
    assert_eq!(run.stdout, "imported 20 osv advisories\n");
    assert!(
        run.stderr.contains(&format!(
            "{}: invalid JSON at line 4, column 0",
            bad.display()
        )),
        "{}",
        run.stderr
    );
    // Nothing readable: an error and no store written.
    let empty = tempfile::tempdir().unwrap();
    let run = fwaudit(&[
        "--data-dir",
        empty.path().to_str().unwrap(),
        "db",
        "import",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("nothing imported"), "{}", run.stderr);
    assert!(!Path::new(empty.path()).join("advisories.json").exists());
}

#[test]
fn rustsec_ids_match_cargo_audit_on_the_same_database() {
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("tests/fixtures/cargo-audit-expected.json")).unwrap(),
    )
    .unwrap();
    let home = tempfile::tempdir().unwrap();
    let h = home.path().to_str().unwrap();
    let db = data("rustsec-advisory-db");
    assert_eq!(
        fwaudit(&["--data-dir", h, "db", "import", db.to_str().unwrap()]).code,
        0
    );
    let lock = expected["lockfile"].as_str().unwrap();
    let (code, r) = json(&["--data-dir", h, "scan", lock, "--format", "json"]);
    assert_eq!(code, 0);
    let mut ids: Vec<String> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "vulnerable")
        .map(|f| s(&f["advisory"]))
        .filter(|id| id.starts_with("RUSTSEC-"))
        .collect();
    ids.sort();
    let want: Vec<String> = expected["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(s)
        .collect();
    assert_eq!(ids, want);
}

/// fwaudit's own Cargo.lock against the RustSec snapshot, as `.ci/run` audits
/// it: the two unmaintained crates sled brings are triaged in `.fwaudit.toml`
/// (so `--fail-on info` passes), and without that file the same scan fails.
#[test]
fn own_lockfile_passes_its_audit_only_through_its_triage() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path().to_str().unwrap();
    let db = data("rustsec-advisory-db");
    assert_eq!(
        fwaudit(&["--data-dir", h, "db", "import", db.to_str().unwrap()]).code,
        0
    );
    let audit = |triage: &str| {
        json(&[
            "--data-dir",
            h,
            "scan",
            "Cargo.lock",
            "--ignore",
            triage,
            "--fail-on",
            "info",
            "--format",
            "json",
        ])
    };
    let line = |f: &serde_json::Value| {
        format!(
            "{} {} {} suppressed={}",
            s(&f["kind"]),
            s(&f["component"]),
            s(&f["advisory"]),
            !f["suppressed"].is_null()
        )
    };
    let (code, r) = audit(".fwaudit.toml");
    assert_eq!(code, 0);
    let got: Vec<String> = r["findings"].as_array().unwrap().iter().map(line).collect();
    assert_eq!(
        got,
        [
            "vulnerable rsa@0.9.10 RUSTSEC-2023-0071 suppressed=true",
            "informational fxhash@0.2.1 RUSTSEC-2025-0057 suppressed=true",
            "informational instant@0.1.13 RUSTSEC-2024-0384 suppressed=true",
        ]
    );
    let empty = home.path().join("empty.toml");
    std::fs::write(&empty, "").unwrap();
    let (code, r) = audit(empty.to_str().unwrap());
    assert_eq!(code, 1);
    assert_eq!(r["findings"].as_array().unwrap().len(), 3);
    assert!(
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["suppressed"].is_null())
    );
}
