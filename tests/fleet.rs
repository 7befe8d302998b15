//! The fleet store: scan --store with reuse by SHA-256, device import,
//! needs-patch / where / diff / rematch / nightly, busy and newer-schema
//! stores, and crash safety under SIGKILL.

mod common;
use common::*;
use std::process::{Command, Stdio};
use std::time::Duration;

const ROUTER_SHA: &str = "868e0e80a421efc7885af9f9577ec462ec91c9a5f8aa50ad5a061dbeaf65836b";
const OPENWRT_SHA: &str = "c574200730615c43033b03c6544fe5e1b34401cb31ec160e9248c44dea6f7461";

fn with(home: &str, args: &[&str]) -> Run {
    let mut all = vec!["--data-dir", home];
    all.extend_from_slice(args);
    fwaudit(&all)
}

fn with_json(home: &str, args: &[&str]) -> serde_json::Value {
    let run = with(home, args);
    assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
    serde_json::from_str(&run.stdout).unwrap()
}

/// A store with both samples and five devices.
fn populated() -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    let h = home.path().to_str().unwrap();
    let first = with(
        h,
        &[
            "scan",
            "samples/router-armhf.bin",
            "--store",
            "--device",
            "rt-001",
            "--firmware-version",
            "4.2.0",
        ],
    );
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(!first.stderr.contains("reused"));
    let again = with(
        h,
        &[
            "scan",
            "samples/router-armhf.bin",
            "--store",
            "--device",
            "rt-002",
            "--format",
            "json",
        ],
    );
    assert!(
        again
            .stderr
            .contains("samples/router-armhf.bin: inventory reused from the fleet store"),
        "{}",
        again.stderr
    );
    let r: serde_json::Value = serde_json::from_str(&again.stdout).unwrap();
    assert_eq!(
        findings(&r).len(),
        31,
        "a reused inventory is judged like a fresh scan (posture findings kept with it)"
    );
    assert_eq!(
        with(
            h,
            &[
                "scan",
                "samples/openwrt-mipsel.bin",
                "--store",
                "--firmware-version",
                "23.05.0"
            ]
        )
        .code,
        0
    );
    let csv = home.path().join("devices.csv");
    std::fs::write(
        &csv,
        "id,model,firmware,tags\n\
         rt-003,RT-AX,4.2.0,lab;eu\n\
         ow-1,OW-1,23.05.0,eu\n\
         ow-2,OW-1,c574200730615c43033b03c6544fe5e1b34401cb31ec160e9248c44dea6f7461,us\n\
         broken,OW-1\n\
         x-1,OW-9,9.9.9,\n",
    )
    .unwrap();
    let run = with(h, &["fleet", "import", csv.to_str().unwrap()]);
    assert_eq!(run.code, 2, "a bad row makes the import exit 2");
    assert_eq!(
        run.stdout,
        "imported 4 devices\nunresolved: x-1: firmware \"9.9.9\" matches no stored image or file\n"
    );
    assert!(
        run.stderr
            .contains("devices.csv line 5: 2 fields, header has 4 (row skipped)"),
        "{}",
        run.stderr
    );
    home
}

#[test]
fn needs_patch_where_and_diff() {
    let home = populated();
    let h = home.path().to_str().unwrap();
    let groups = with_json(
        h,
        &[
            "fleet",
            "needs-patch",
            "--advisory",
            "CVE-2022-48174",
            "--json",
        ],
    );
    let summary: Vec<String> = groups
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            let devices: Vec<String> = g["devices"].as_array().unwrap().iter().map(s).collect();
            let up = &g["upgrades"][0];
            format!(
                "{} {} {} -> {}",
                &s(&g["image"])[..12],
                devices.join(","),
                s(&up["component"]),
                s(&up["to"])
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            "868e0e80a421 rt-001,rt-002,rt-003 busybox@1.35.0 -> 1.37.0",
            "c57420073061 ow-1,ow-2 busybox@1.35.0 -> 1.37.0",
        ]
    );
    let eu = with_json(
        h,
        &[
            "fleet",
            "needs-patch",
            "--min-severity",
            "critical",
            "--tag",
            "eu",
            "--json",
        ],
    );
    let eu: Vec<String> = eu
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            format!(
                "{} {}",
                g["devices"],
                g["upgrades"].as_array().unwrap().len()
            )
        })
        .collect();
    assert_eq!(eu, ["[\"rt-003\"] 2", "[\"ow-1\"] 1"]);
    let model = with_json(h, &["fleet", "needs-patch", "--model", "OW-1", "--json"]);
    assert_eq!(model.as_array().unwrap().len(), 1);
    assert_eq!(
        model[0]["firmware_versions"],
        serde_json::json!(["23.05.0"])
    );

    let hits = with_json(h, &["fleet", "where", "openssl@>=3.0,<3.0.21", "--json"]);
    let devices = serde_json::json!(["rt-001", "rt-002", "rt-003"]);
    assert_eq!(
        hits,
        serde_json::json!([
            {"image": ROUTER_SHA, "version": "3.0.20", "ecosystem": "upstream", "devices": devices},
            {"image": ROUTER_SHA, "version": "3.0.20-1~deb12u2", "ecosystem": "deb", "devices": devices},
        ])
    );
    let busybox = with_json(h, &["fleet", "where", "busybox@1.35.0", "--json"]);
    let images: Vec<String> = busybox
        .as_array()
        .unwrap()
        .iter()
        .map(|h| s(&h["image"]))
        .collect();
    assert_eq!(images, [ROUTER_SHA, OPENWRT_SHA]);
    assert_eq!(
        with_json(h, &["fleet", "where", "busybox@<1.30", "--json"]),
        serde_json::json!([])
    );

    let diff = with_json(
        h,
        &[
            "fleet",
            "diff",
            ROUTER_SHA,
            "samples/openwrt-mipsel.bin",
            "--json",
        ],
    );
    assert_eq!(
        diff["upgraded"],
        serde_json::json!(["linux: 4.14.180 -> 5.10.176"])
    );
    assert!(
        diff["removed"]
            .as_array()
            .unwrap()
            .contains(&"openssl@3.0.20".into())
    );
    assert!(
        diff["fixed"]
            .as_array()
            .unwrap()
            .contains(&"CVE-2023-38545 curl".into())
    );
    assert_eq!(
        diff["introduced"],
        serde_json::json!(["CVE-2025-26519 musl"])
    );
    assert_eq!(with(h, &["fleet", "verify"]).stdout, "0 problems\n");
}

#[test]
fn rematch_reports_new_and_resolved_without_unpacking() {
    let home = populated();
    let h = home.path().to_str().unwrap();
    let quiet = with_json(h, &["fleet", "rematch", "--json"]);
    assert_eq!(quiet["images"], 2);
    assert_eq!(quiet["new"], serde_json::json!([]));
    // A new advisory source arrives: the busybox NVD records.
    let nvd = root().join("tests/data/nvd/busybox.json");
    assert_eq!(with(h, &["db", "import", nvd.to_str().unwrap()]).code, 0);
    let after = with_json(h, &["fleet", "rematch", "--json"]);
    let new: Vec<String> = after["new"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{} {} {}",
                &s(&c["image"])[..12],
                s(&c["finding"]),
                c["devices"]
            )
        })
        .collect();
    assert_eq!(
        new,
        [
            "868e0e80a421 vulnerable busybox@1.35.0 CVE-2024-58251 3",
            "868e0e80a421 vulnerable busybox@1.35.0 CVE-2025-46394 3",
            "c57420073061 vulnerable busybox@1.35.0 CVE-2024-58251 2",
            "c57420073061 vulnerable busybox@1.35.0 CVE-2025-46394 2",
        ]
    );
    let hits = with_json(
        h,
        &[
            "fleet",
            "needs-patch",
            "--advisory",
            "CVE-2024-58251",
            "--json",
        ],
    );
    assert_eq!(hits.as_array().unwrap().len(), 2);
    // Nothing changed since: a second rematch has nothing new.
    assert_eq!(
        with_json(h, &["fleet", "rematch", "--json"])["new"],
        serde_json::json!([])
    );
}

#[test]
fn nightly_scans_only_new_images() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path().to_str().unwrap();
    let images = home.path().join("images");
    std::fs::create_dir(&images).unwrap();
    std::fs::copy(
        root().join("samples/router-armhf.bin"),
        images.join("rt-4.2.0.bin"),
    )
    .unwrap();
    std::fs::write(images.join("notes.txt"), "release notes\n").unwrap();
    let devices = home.path().join("devices.json");
    std::fs::write(
        &devices,
        r#"[{"id":"rt-9","model":"RT-AX","firmware":"images/rt-4.2.0.bin","tags":["eu"]}]"#,
    )
    .unwrap();
    let (d, i) = (devices.to_str().unwrap(), images.to_str().unwrap());
    let first = with(
        h,
        &[
            "fleet",
            "nightly",
            "--devices",
            d,
            "--images",
            i,
            "--fail-on",
            "critical",
            "--json",
        ],
    );
    assert_eq!(first.code, 1, "new critical findings: {}", first.stderr);
    let v: serde_json::Value = serde_json::from_str(&first.stdout).unwrap();
    // A file in which nothing is recognised is scanned and reported (with a
    // note saying what was tried), not an input error.
    assert_eq!(v["scanned"].as_array().unwrap().len(), 2);
    assert_eq!(v["failed"].as_array().unwrap().len(), 0);
    assert_eq!(v["devices"]["imported"], 1);
    assert_eq!(v["rematch"]["new"].as_array().unwrap().len(), 31);
    assert_eq!(v["rematch"]["new"][0]["devices"], 1);
    std::fs::remove_file(images.join("notes.txt")).unwrap();
    let second = with(
        h,
        &[
            "fleet",
            "nightly",
            "--devices",
            d,
            "--images",
            i,
            "--fail-on",
            "critical",
        ],
    );
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert!(
        second.stdout.starts_with("scanned 0 new images (1 already stored, 0 failed); 1 devices imported (0 rows skipped)\n2 images re-matched: 0 new findings, 0 resolved\n"),
        "{}",
        second.stdout
    );
}

#[test]
fn busy_and_newer_stores_are_refused_clearly() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path().to_str().unwrap();
    {
        let _held = fwaudit::fleet::Fleet::open(home.path()).unwrap();
        let run = with(h, &["fleet", "verify"]);
        assert_eq!(run.code, 2);
        assert!(
            run.stderr
                .contains("fleet store busy: another fwaudit is using"),
            "{}",
            run.stderr
        );
    }
    {
        let db = sled::open(home.path().join("fleet")).unwrap();
        db.open_tree("meta")
            .unwrap()
            .insert("schema", &99u32.to_be_bytes())
            .unwrap();
        db.flush().unwrap();
    }
    let run = with(h, &["fleet", "verify"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("fleet store written by a newer fwaudit (schema 99, this one knows up to 3)"),
        "{}",
        run.stderr
    );
}

/// Unpacks the schema-1 store of `tests/fixtures/fleet-v1` (written by
/// fwaudit 35e854a, see `fleet-v1.sh`) into a fresh data directory.
fn schema_1_store() -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    let gz = std::fs::File::open(root().join("tests/fixtures/fleet-v1/store.tar.gz")).unwrap();
    tar::Archive::new(flate2::read::GzDecoder::new(gz))
        .unpack(home.path())
        .unwrap();
    home
}

#[test]
fn a_schema_1_store_is_migrated_and_answers_as_before() {
    let home = schema_1_store();
    let h = home.path().to_str().unwrap();
    let first = with(h, &["fleet", "verify"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_eq!(first.stdout, "0 problems\n");
    assert!(
        first
            .stderr
            .contains("fwaudit: fleet store migrated from schema 1 to 3"),
        "{}",
        first.stderr
    );
    // The answers fwaudit 35e854a gave on this store, byte for byte.
    let fixture = root().join("tests/fixtures/fleet-v1");
    for (file, args) in [
        ("needs-patch.json", &["fleet", "needs-patch", "--json"][..]),
        (
            "needs-patch-critical-eu.json",
            &[
                "fleet",
                "needs-patch",
                "--min-severity",
                "critical",
                "--tag",
                "eu",
                "--json",
            ],
        ),
        (
            "needs-patch-advisory.json",
            &[
                "fleet",
                "needs-patch",
                "--advisory",
                "CVE-2023-38545",
                "--json",
            ],
        ),
        (
            "where-busybox.json",
            &["fleet", "where", "busybox", "--json"],
        ),
        (
            "where-openssl.json",
            &["fleet", "where", "openssl@>=3.0,<3.0.21", "--json"],
        ),
    ] {
        let run = with(h, args);
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        assert!(!run.stderr.contains("migrated"), "migrated once only");
        let want = std::fs::read_to_string(fixture.join(file)).unwrap();
        assert_eq!(run.stdout, want, "{args:?}");
    }
    // The layout is the current schema's: old device index gone, records compressed.
    {
        let db = sled::open(home.path().join("fleet")).unwrap();
        let meta = db.open_tree("meta").unwrap();
        assert_eq!(
            meta.get("schema").unwrap().unwrap().as_ref(),
            fwaudit::fleet::sled_store::SCHEMA.to_be_bytes()
        );
        assert!(meta.get("migrating").unwrap().is_none());
        assert!(
            !db.tree_names()
                .iter()
                .any(|n| n.as_ref() == b"idx_image_devices")
        );
        for kv in db.open_tree("images").unwrap().iter() {
            let (_, v) = kv.unwrap();
            assert!(v.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]), "zstd frame");
        }
        // An interrupted migration (marked, index half rebuilt) runs again.
        meta.insert("migrating", &1u32.to_be_bytes()).unwrap();
        db.open_tree("idx_severity").unwrap().clear().unwrap();
        db.flush().unwrap();
    }
    let again = with(h, &["fleet", "verify"]);
    assert_eq!(again.stdout, "0 problems\n", "{}", again.stderr);
    assert!(again.stderr.contains("migrated from schema 1 to 3"));
    // The migrated store takes new work.
    assert_eq!(
        with(
            h,
            &[
                "scan",
                "samples/router-armhf.bin",
                "--store",
                "--device",
                "rt-009"
            ]
        )
        .code,
        0
    );
    assert_eq!(with(h, &["fleet", "rematch"]).code, 0);
    assert_eq!(with(h, &["fleet", "verify"]).stdout, "0 problems\n");
}

#[test]
fn verify_checks_the_severity_index_and_device_tables() {
    let home = populated();
    let h = home.path().to_str().unwrap();
    {
        let db = sled::open(home.path().join("fleet")).unwrap();
        let severity = db.open_tree("idx_severity").unwrap();
        let (k, _) = severity.iter().next().unwrap().unwrap();
        severity.remove(&k).unwrap();
        let tables = db.open_tree("image_devices").unwrap();
        let mut stray = ROUTER_SHA.as_bytes().to_vec();
        stray.extend_from_slice(&[1, 0, 0, 0, 9]);
        tables.insert(stray, &[0u8][..]).unwrap();
        db.flush().unwrap();
    }
    let run = with(h, &["fleet", "verify"]);
    assert_eq!(run.code, 2);
    assert_eq!(run.stdout, "2 problems\n");
    assert!(
        run.stderr.contains("idx_severity: missing entry")
            && run.stderr.contains("image_devices: stale entry"),
        "{}",
        run.stderr
    );
}

#[test]
fn sigkill_at_random_points_never_corrupts_the_store() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path().to_str().unwrap();
    let csv = home.path().join("devices.csv");
    let mut rows = String::from("id,model,firmware\n");
    for i in 0..300 {
        rows.push_str(&format!(
            "dev-{i},M-{},{}\n",
            i % 7,
            if i % 2 == 0 { ROUTER_SHA } else { OPENWRT_SHA }
        ));
    }
    std::fs::write(&csv, rows).unwrap();
    let csv = csv.to_str().unwrap().to_string();
    let commands: Vec<Vec<String>> = vec![
        vec![
            "scan".into(),
            "samples/router-armhf.bin".into(),
            "--store".into(),
            "--rescan".into(),
            "--device".into(),
            "k1".into(),
        ],
        vec![
            "scan".into(),
            "samples/openwrt-mipsel.bin".into(),
            "--store".into(),
            "--rescan".into(),
        ],
        vec!["fleet".into(), "import".into(), csv.clone()],
        vec!["fleet".into(), "rematch".into()],
    ];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut killed = 0;
    for round in 0..50 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let args = &commands[round % commands.len()];
        let mut child = Command::new(env!("CARGO_BIN_EXE_fwaudit"))
            .arg("--data-dir")
            .arg(h)
            .args(args)
            .current_dir(root())
            .env("FWAUDIT_TODAY", "2026-11-25")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(seed % 400));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            killed += 1;
        }
        child.wait().unwrap();
        let check = with(h, &["fleet", "verify"]);
        assert_eq!(check.code, 0, "round {round} ({args:?}): {}", check.stderr);
        assert_eq!(check.stdout, "0 problems\n");
    }
    assert!(killed >= 25, "only {killed} of 50 runs were killed mid-way");
    // And the interrupted work completes on a rerun.
    assert_eq!(with(h, &["fleet", "import", &csv]).code, 0);
    assert_eq!(
        with(h, &["scan", "samples/openwrt-mipsel.bin", "--store"]).code,
        0
    );
    assert_eq!(with(h, &["fleet", "rematch"]).code, 0);
    assert_eq!(with(h, &["fleet", "verify"]).stdout, "0 problems\n");
}

#[test]
fn human_lists_are_capped_and_compaction_keeps_every_answer() {
    let home = populated();
    let h = home.path().to_str().unwrap();
    let csv = home.path().join("bulk.csv");
    let mut rows = String::from("id,model,firmware,tags\n");
    for i in 0..15 {
        rows.push_str(&format!("bulk-{i:02},RT-AX,{ROUTER_SHA},eu\n"));
    }
    std::fs::write(&csv, rows).unwrap();
    assert_eq!(with(h, &["fleet", "import", csv.to_str().unwrap()]).code, 0);

    // A person reads ten ids per firmware and how many more there are.
    let human = with(h, &["fleet", "needs-patch", "--advisory", "CVE-2022-48174"]);
    assert_eq!(human.code, 0, "{}", human.stderr);
    let first_ten: Vec<String> = (0..10).map(|i| format!("bulk-{i:02}")).collect();
    let lines: Vec<&str> = human
        .stdout
        .lines()
        .filter(|l| l.starts_with("firmware"))
        .collect();
    assert_eq!(
        lines,
        [
            format!(
                "firmware 868e0e80a421 (4.2.0): 18 devices: {} … and 8 more (use --json for the full list)",
                first_ten.join(", ")
            ),
            "firmware c57420073061 (23.05.0): 2 devices: ow-1, ow-2".to_string(),
        ]
    );
    let hits = with(h, &["fleet", "where", "busybox@1.35.0"]);
    assert!(
        hits.stdout.contains(&format!(
            "in 868e0e80a421: 18 devices {} … and 8 more (use --json for the full list)\n",
            first_ten.join(", ")
        )),
        "{}",
        hits.stdout
    );
    // JSON stays complete.
    let all = with_json(
        h,
        &[
            "fleet",
            "needs-patch",
            "--advisory",
            "CVE-2022-48174",
            "--json",
        ],
    );
    assert_eq!(all[0]["devices"].as_array().unwrap().len(), 18);

    let queries: [&[&str]; 5] = [
        &["fleet", "needs-patch", "--json"],
        &[
            "fleet",
            "needs-patch",
            "--min-severity",
            "critical",
            "--tag",
            "eu",
        ],
        &["fleet", "where", "busybox", "--json"],
        &["fleet", "where", "openssl@>=3.0,<3.0.21"],
        &["fleet", "diff", ROUTER_SHA, OPENWRT_SHA, "--json"],
    ];
    let before: Vec<String> = queries.iter().map(|q| with(h, q).stdout).collect();
    let run = with(h, &["fleet", "compact"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.starts_with("fleet store compacted: "),
        "{}",
        run.stdout
    );
    assert!(!home.path().join("fleet.compact").exists());
    let after: Vec<String> = queries.iter().map(|q| with(h, q).stdout).collect();
    assert_eq!(before, after);
    assert_eq!(with(h, &["fleet", "verify"]).stdout, "0 problems\n");
    // What an interrupted compaction leaves is removed by the next command.
    std::fs::create_dir(home.path().join("fleet.compact")).unwrap();
    std::fs::write(home.path().join("fleet.compact/db"), "partial").unwrap();
    assert_eq!(with(h, &["fleet", "verify"]).stdout, "0 problems\n");
    assert!(!home.path().join("fleet.compact").exists());
    // The compacted store takes new work.
    assert_eq!(with(h, &["fleet", "rematch"]).code, 0);
    assert_eq!(with(h, &["fleet", "verify"]).stdout, "0 problems\n");
}

/// `fleet rematch` judges stored inventories with the configuration's
/// triage, exactly as `scan` does: what `scan --store` suppressed stays
/// suppressed, and without the file the finding is active again.
#[test]
fn rematch_honours_the_triage_file_as_scan_does() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path().to_str().unwrap();
    let config = home.path().join("triage.toml");
    std::fs::write(
        &config,
        "[[ignore]]\nid = \"CVE-2023-38545\"\ncomponent = \"curl\"\nreason = \"SOCKS5 not built\"\nexpires = \"2027-01-01\"\n",
    )
    .unwrap();
    let c = config.to_str().unwrap();
    let run = with(
        h,
        &["scan", "samples/router-armhf.bin", "--store", "--config", c],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let quiet = with_json(h, &["fleet", "rematch", "-f", "json", "--config", c]);
    assert_eq!(quiet["new"], serde_json::json!([]));
    let patch = with_json(
        h,
        &[
            "fleet",
            "needs-patch",
            "--advisory",
            "CVE-2023-38545",
            "-f",
            "json",
        ],
    );
    assert_eq!(patch, serde_json::json!([]));
    // Without the triage file the finding is active again, and new.
    let bare = home.path().join("empty.toml");
    std::fs::write(&bare, "").unwrap();
    let loud = with_json(
        h,
        &[
            "fleet",
            "rematch",
            "-f",
            "json",
            "--config",
            bare.to_str().unwrap(),
        ],
    );
    let new: Vec<String> = loud["new"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| s(&c["finding"]))
        .collect();
    assert_eq!(new, ["vulnerable curl@7.88.1 CVE-2023-38545"]);
}

/// VEX statements reach every command that judges findings, as the
/// configuration's `vex` list and as `--vex`: `scan --store`, `fleet
/// rematch` and `fleet nightly` agree, and a rematch without them makes
/// the finding active (and new) again.
#[test]
fn rematch_and_nightly_read_vex_as_scan_does() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path().to_str().unwrap();
    let vex = home.path().join("vendor.vex.json");
    std::fs::write(
        &vex,
        r#"{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex-1",
            "author": "Example", "timestamp": "2026-11-01T00:00:00Z", "version": 1,
            "statements": [{"vulnerability": {"name": "CVE-2023-38545"},
                "products": [{"@id": "pkg:deb/debian/curl@7.88.1-10%2Bdeb12u15"}],
                "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"}]}"#,
    )
    .unwrap();
    let v = vex.to_str().unwrap();
    let with_vex = home.path().join("with-vex.toml");
    std::fs::write(&with_vex, "vex = [\"vendor.vex.json\"]\n").unwrap();
    let bare = home.path().join("empty.toml");
    std::fs::write(&bare, "").unwrap();
    let (w, b) = (with_vex.to_str().unwrap(), bare.to_str().unwrap());
    let curl_state = |report: &serde_json::Value| -> String {
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["advisory"] == "CVE-2023-38545")
            .map(|f| s(&f["state"]))
            .unwrap()
    };
    let new = |summary: &serde_json::Value| -> Vec<String> {
        summary["new"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| s(&c["finding"]))
            .filter(|f| f.contains("CVE-2023-38545"))
            .collect()
    };
    let scan = with_json(
        h,
        &[
            "scan",
            "samples/router-armhf.bin",
            "--store",
            "-f",
            "json",
            "--config",
            b,
            "--vex",
            v,
        ],
    );
    assert_eq!(curl_state(&scan), "not_affected");
    // --vex on the command line, then the configuration's list.
    let by_flag = with_json(
        h,
        &["fleet", "rematch", "-f", "json", "--config", b, "--vex", v],
    );
    assert_eq!(new(&by_flag), Vec::<String>::new());
    let by_config = with_json(h, &["fleet", "rematch", "-f", "json", "--config", w]);
    assert_eq!(new(&by_config), Vec::<String>::new());
    // Without either the finding is active again, and new.
    let without = with_json(h, &["fleet", "rematch", "-f", "json", "--config", b]);
    assert_eq!(new(&without), ["vulnerable curl@7.88.1 CVE-2023-38545"]);
    // A nightly run reads --vex too: the finding it leaves is not active,
    // so a rematch without the statement finds it new once more.
    let devices = home.path().join("devices.csv");
    std::fs::write(&devices, "id,model,firmware\n").unwrap();
    let images = home.path().join("images");
    std::fs::create_dir(&images).unwrap();
    let (d, i) = (devices.to_str().unwrap(), images.to_str().unwrap());
    let night = with(
        h,
        &[
            "fleet",
            "nightly",
            "--devices",
            d,
            "--images",
            i,
            "--config",
            b,
            "--vex",
            v,
        ],
    );
    assert_eq!(night.code, 0, "{}", night.stderr);
    let again = with_json(h, &["fleet", "rematch", "-f", "json", "--config", b]);
    assert_eq!(new(&again), ["vulnerable curl@7.88.1 CVE-2023-38545"]);
}
