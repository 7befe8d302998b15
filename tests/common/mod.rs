//! Runs the built `fwaudit` binary the way a user or CI script would.
#![allow(dead_code)]

pub mod bounded;
pub mod hostile_inputs;
pub mod pg;

use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// The repository root; tests run from there so that paths in reports are
/// the relative ones a user sees (`samples/router-armhf.bin@0x90000:...`).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fwaudit(args: &[&str]) -> Run {
    fwaudit_env(args, &[])
}

/// [`fwaudit`] with environment variables set (or overriding the pinned ones).
pub fn fwaudit_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_fwaudit"))
        .args(args)
        .current_dir(root())
        // End-of-life findings depend on the date; pin it.
        .env("FWAUDIT_TODAY", "2026-11-25")
        // SBOM creation times (SPDX) likewise: 2026-11-25T00:00:00Z.
        .env("SOURCE_DATE_EPOCH", "1795564800")
        // Only the bundled advisories: never a store the user imported.
        .env(
            "FWAUDIT_HOME",
            root().join("target/fwaudit-test-home-never-written"),
        )
        .envs(env.iter().copied())
        // The embedded fleet store unless a test names a database.
        .env_remove("FWAUDIT_DATABASE_URL")
        .output()
        .expect("run fwaudit");
    let run = Run {
        code: out.status.code().expect("exit code, not a signal"),
        stdout: String::from_utf8(out.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(out.stderr).expect("utf-8 stderr"),
    };
    assert!(
        !run.stderr.contains("panicked"),
        "fwaudit panicked: {}",
        run.stderr
    );
    run
}

pub fn json(args: &[&str]) -> (i32, Value) {
    let run = fwaudit(args);
    let value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", run.stdout, run.stderr));
    (run.code, value)
}

pub fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_string(),
        other => other.to_string(),
    }
}

/// `path format offset size` per layer.
pub fn layers(report: &Value) -> Vec<String> {
    report["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            format!(
                "{} {} {} {}",
                s(&l["path"]),
                s(&l["format"]),
                l["offset"],
                l["size"]
            )
        })
        .collect()
}

/// `path format offset size | detail` per layer (the unpack report's).
pub fn layers_with_detail(v: &Value) -> Vec<String> {
    v["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            format!(
                "{} {} {} {} | {}",
                s(&l["path"]),
                s(&l["format"]),
                l["offset"],
                l["size"],
                s(&l["detail"])
            )
        })
        .collect()
}

/// `path size` per unpacked file.
pub fn files(v: &Value) -> Vec<String> {
    v["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| format!("{} {}", s(&f["path"]), f["size"]))
        .collect()
}

/// `severity kind component advisory fixed,versions` per finding, in report order.
pub fn findings(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let fixed: Vec<String> = f["fixed_versions"]
                .as_array()
                .unwrap()
                .iter()
                .map(s)
                .collect();
            // A posture finding is named by its rule and the file it is about.
            let (what, id) = match f["rule"].as_str() {
                Some(rule) => (
                    s(&f["path"]).rsplit(':').next().unwrap_or("-").to_string(),
                    rule.to_string(),
                ),
                None => (s(&f["component"]), s(&f["advisory"])),
            };
            let state = match f["state"].as_str() {
                Some("active") | None => String::new(),
                Some(other) => format!(" [{other}]"),
            };
            format!(
                "{} {} {what} {id} {}{state}",
                s(&f["severity"]),
                s(&f["kind"]),
                if fixed.is_empty() {
                    "-".to_string()
                } else {
                    fixed.join(",")
                }
            )
        })
        .collect()
}

/// `name version ecosystem` for every component.
pub fn components(report: &Value) -> Vec<String> {
    report["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{} {} {}",
                s(&c["name"]),
                s(&c["version"]),
                s(&c["ecosystem"])
            )
        })
        .collect()
}

/// `path offset evidence` of every piece of binary evidence for product
/// `name`, sorted: the sources of a component found by its bytes, and those
/// the inventory joined to the package that installed the file.
pub fn evidence(report: &Value, name: &str) -> Vec<String> {
    let mut out: Vec<String> = report["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            let product = c["upstream"]["name"].as_str().or(c["name"].as_str());
            product == Some(name)
        })
        .flat_map(|c| {
            let generic = c["ecosystem"] == "generic";
            c["sources"]
                .as_array()
                .unwrap()
                .iter()
                .filter(move |e| generic || !e["package"].is_null())
                .cloned()
                .collect::<Vec<_>>()
        })
        .map(|e| format!("{} {} {}", s(&e["path"]), e["offset"], s(&e["evidence"])))
        .collect();
    out.sort();
    out
}
