//! One command line: `-f/--format` with `--json` as its alias on every
//! reporting command, the JSON Lines shape of `scan`, one exit-code rule,
//! notes printed once, `-q`, `--config`, and the advisory database's age.

mod common;
use common::*;
use serde_json::Value;

const BAD: &str = "samples/bad/bad-squashfs-superblock.bin";
const BAD_NOTE: &str = "squashfs at 0x0: squashfs superblock: block_size 3 is not a power of two between 4 KiB and 1 MiB";

#[test]
fn json_is_the_same_under_format_and_its_alias() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path().to_str().unwrap();
    let pairs: [(&[&str], &[&str]); 3] = [
        (
            &["unpack", "samples/openwrt-mipsel.bin", "--json"],
            &["unpack", "samples/openwrt-mipsel.bin", "-f", "json"],
        ),
        (
            &["--data-dir", h, "db", "status", "--json"],
            &["--data-dir", h, "db", "status", "--format", "json"],
        ),
        (
            &["--data-dir", h, "fleet", "where", "busybox", "--json"],
            &["--data-dir", h, "fleet", "where", "busybox", "-f", "json"],
        ),
    ];
    for (alias, format) in pairs {
        let (a, b) = (fwaudit(alias), fwaudit(format));
        assert_eq!((a.code, b.code), (0, 0), "{alias:?}: {}", a.stderr);
        let a: Value = serde_json::from_str(&a.stdout).unwrap();
        let b: Value = serde_json::from_str(&b.stdout).unwrap();
        assert_eq!(a, b, "{alias:?}");
    }
    // Every fleet command reports JSON the same way, `verify` included.
    let (code, v) = json(&["--data-dir", h, "fleet", "verify", "-f", "json"]);
    assert_eq!(code, 0);
    assert_eq!(v, serde_json::json!({"problems": []}));
}

#[test]
fn scan_json_is_one_object_per_target_per_line() {
    let run = fwaudit(&[
        "scan",
        "samples/openwrt-mipsel.bin",
        "samples/router-armhf.bin",
        "-f",
        "json",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let targets: Vec<String> = run
        .stdout
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).unwrap();
            s(&v["target"]["path"])
        })
        .collect();
    assert_eq!(
        targets,
        ["samples/openwrt-mipsel.bin", "samples/router-armhf.bin"]
    );
    // One target: the same shape, one line.
    let one = fwaudit(&["scan", "samples/openwrt-mipsel.bin", "-f", "json"]);
    assert_eq!(one.stdout.lines().count(), 1);
}

#[test]
fn a_finding_at_fail_on_wins_over_an_unreadable_part() {
    // openwrt-mipsel.bin has high findings; the bad image cannot be read.
    let args = ["scan", "samples/openwrt-mipsel.bin", BAD, "-f", "json"];
    assert_eq!(fwaudit(&args).code, 2, "incomplete, no --fail-on");
    let mut with = args.to_vec();
    with.extend(["--fail-on", "high"]);
    assert_eq!(fwaudit(&with).code, 1);
    let run = fwaudit(&["scan", BAD, "--fail-on", "high"]);
    assert_eq!(run.code, 2, "nothing reached the threshold: incomplete");
}

#[test]
fn notes_are_printed_once() {
    // The table carries them: nothing on stderr.
    let run = fwaudit(&["scan", BAD]);
    assert_eq!(run.code, 2);
    assert!(run.stdout.contains(BAD_NOTE), "{}", run.stdout);
    assert!(!run.stderr.contains(BAD_NOTE), "{}", run.stderr);
    // So does the JSON.
    let run = fwaudit(&["scan", BAD, "-f", "json"]);
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(s(&v["notes"][0]["message"]).contains("block_size 3"));
    assert!(!run.stderr.contains(BAD_NOTE), "{}", run.stderr);
    // An SBOM has no place for them: stderr does.
    let run = fwaudit(&["scan", BAD, "-f", "cyclonedx"]);
    assert!(!run.stdout.contains(BAD_NOTE));
    assert_eq!(run.stderr.matches(BAD_NOTE).count(), 1, "{}", run.stderr);
    // A report written to a file: one line on stderr says there are notes.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    let run = fwaudit(&["scan", BAD, "-f", "json", "-o", out.to_str().unwrap()]);
    assert_eq!(
        run.stderr,
        "fwaudit: 1 problems met (parts of the input not read); see the report\n"
    );
}

#[test]
fn a_stale_database_warns_fails_with_the_flag_and_quiet_silences_it() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path().to_str().unwrap();
    // Nothing imported: the bundled set (2026-11-25) is 36 days old.
    let later = [("FWAUDIT_TODAY", "2026-12-31")];
    let scan = |extra: &[&str]| {
        let mut args = vec!["--data-dir", h, "scan", "samples/openwrt-mipsel.bin"];
        args.extend_from_slice(extra);
        fwaudit_env(&args, &later)
    };
    let warning = "fwaudit: warning: advisory data older than --max-db-age 7: bundled (36 days); run `fwaudit db update`\n";
    let run = scan(&[]);
    assert_eq!(run.code, 0);
    assert_eq!(run.stderr, warning);
    let run = scan(&["-q"]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""));
    let run = scan(&["--max-db-age", "60"]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""));
    let run = scan(&["--fail-on-stale-db"]);
    assert_eq!(run.code, 2);
    assert_eq!(run.stdout, "", "nothing is scanned");
    assert_eq!(
        run.stderr,
        "fwaudit: error: advisory data older than --max-db-age 7: bundled (36 days); run `fwaudit db update`\n"
    );
    // Fresh data: no word.
    let run = fwaudit(&["--data-dir", h, "scan", "samples/openwrt-mipsel.bin"]);
    assert_eq!(run.stderr, "");
}

#[test]
fn config_names_the_triage_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("fw.toml");
    std::fs::write(
        &config,
        "[[ignore]]\nid = \"CVE-2022-48174\"\ncomponent = \"busybox\"\nreason = \"ash not shipped\"\nexpires = \"2027-01-01\"\n",
    )
    .unwrap();
    let c = config.to_str().unwrap();
    let (_, v) = json(&[
        "scan",
        "samples/openwrt-mipsel.bin",
        "-f",
        "json",
        "--config",
        c,
    ]);
    let suppressed: Vec<String> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| !f["suppressed"].is_null())
        .map(|f| s(&f["advisory"]))
        .collect();
    assert_eq!(suppressed, ["CVE-2022-48174"]);
    // The older --ignore still names it.
    let (_, old) = json(&[
        "scan",
        "samples/openwrt-mipsel.bin",
        "-f",
        "json",
        "--ignore",
        c,
    ]);
    assert_eq!(old, v);
    // A misspelt section is an error, not ignored.
    std::fs::write(&config, "[[ignores]]\nid = \"x\"\n").unwrap();
    let run = fwaudit(&["scan", "samples/openwrt-mipsel.bin", "--config", c]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("unknown field `ignores`"),
        "{}",
        run.stderr
    );
}

#[test]
fn unpacking_bounds_are_taken_only_where_something_is_unpacked() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path().to_str().unwrap();
    let run = fwaudit(&["--data-dir", h, "db", "status", "--max-memory", "1G"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("unexpected argument '--max-memory'"),
        "{}",
        run.stderr
    );
    // The commands that unpack take them: scan, unpack, fleet nightly and diff.
    let run = fwaudit(&[
        "unpack",
        "samples/openwrt-mipsel.bin",
        "--max-memory",
        "2M",
        "-f",
        "json",
    ]);
    // A target larger than the memory bound is not even read.
    assert_eq!(run.code, 2);
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        "fwaudit: error: samples/openwrt-mipsel.bin: 3014656 bytes, more than the memory bound (2097152 bytes, --max-memory); not read\n"
    );
    let help = fwaudit(&["fleet", "nightly", "--help"]);
    assert!(help.stdout.contains("--max-memory <SIZE>"));
}
