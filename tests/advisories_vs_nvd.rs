//! The bundled advisories against NVD's own CPE ranges (tests/data/nvd-full, the
//! records of the bundled CVEs):
//! for every NVD range on the advisory's product, the first affected version
//! must match and the first fixed version must not. This checks both the
//! hand-written ranges and the version comparison on real NVD data.

use fwaudit::advisory::Database;
use serde_json::Value;
use std::path::Path;

fn nvd_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/nvd-full")
}

#[test]
fn bundled_ranges_agree_with_nvd_cpe_ranges() {
    let db = Database::bundled().unwrap();
    let advisories = Path::new(env!("CARGO_MANIFEST_DIR")).join("advisories/osv");
    let mut checked = 0;
    let mut disagreements = Vec::new();
    for entry in std::fs::read_dir(&advisories).unwrap() {
        let path = entry.unwrap().path();
        let osv: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let id = osv["id"].as_str().unwrap();
        let nvd_path = nvd_dir().join(format!("{id}.json"));
        let Ok(text) = std::fs::read_to_string(&nvd_path) else {
            continue;
        };
        let nvd: Value = serde_json::from_str(&text).unwrap();
        let affected = &osv["affected"][0];
        let name = affected["package"]["name"].as_str().unwrap();
        let cpe_prefix = format!(
            "{}:",
            affected["database_specific"]["cpe"].as_str().unwrap()
        );
        let configs = nvd["configurations"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for m in configs
            .iter()
            .flat_map(|c| c["nodes"].as_array().cloned().unwrap_or_default())
            .flat_map(|n| n["cpeMatch"].as_array().cloned().unwrap_or_default())
        {
            let criteria = m["criteria"].as_str().unwrap_or("");
            if !criteria.starts_with(&cpe_prefix) || m["vulnerable"] != true {
                continue;
            }
            let ids = |v: &str| -> Vec<String> {
                db.matches("Generic", name, v)
                    .iter()
                    .map(|m| m.advisory.id.clone())
                    .collect()
            };
            let mut expect = |version: &str, affected: bool| {
                checked += 1;
                if ids(version).iter().any(|i| i == id) != affected {
                    disagreements.push(format!(
                        "{id} {name} {version}: NVD says affected={affected}"
                    ));
                }
            };
            if let Some(start) = m["versionStartIncluding"].as_str() {
                expect(start, true);
            }
            if let Some(end) = m["versionEndExcluding"].as_str() {
                expect(end, false);
            }
            if let Some(last) = m["versionEndIncluding"].as_str() {
                expect(last, true);
            }
        }
    }
    assert!(checked >= 40, "only {checked} NVD range ends checked");
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}
