//! NVD CVE API 2.0 records: CPE-range `configurations` and CVSS metrics.
//!
//! Accepted shapes: an API response page (`{"vulnerabilities": [{"cve": …}]}`),
//! a single `cve` object, or an array of either (yearly feeds, mirrors).

use super::cpe::Cpe;
use crate::model::Severity;
use crate::version;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::cmp::Ordering;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Configuration {
    #[serde(default)]
    pub operator: Option<String>,
    #[serde(default)]
    pub negate: bool,
    #[serde(default)]
    pub nodes: Vec<Node>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Node {
    #[serde(default)]
    pub operator: Option<String>,
    #[serde(default)]
    pub negate: bool,
    #[serde(default, rename = "cpeMatch")]
    pub cpe_match: Vec<CpeMatch>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CpeMatch {
    pub vulnerable: bool,
    pub criteria: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_start_including: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_start_excluding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_end_including: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_end_excluding: Option<String>,
}

/// What the database keeps of one NVD record.
#[derive(Debug, Clone)]
pub struct NvdRecord {
    pub id: String,
    pub summary: String,
    pub severity: Option<Severity>,
    pub cvss: Option<String>,
    pub configurations: Vec<Configuration>,
}

/// Every CVE record in an NVD JSON document.
pub fn parse_document(text: &str) -> Result<Vec<NvdRecord>, String> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| format!("invalid JSON at line {}: {e}", e.line()))?;
    let mut cves = Vec::new();
    collect_cves(&value, None, &mut cves);
    if cves.is_empty() {
        return Err(
            "no NVD CVE records found (expected `vulnerabilities[].cve` or CVE objects)".into(),
        );
    }
    cves.into_iter()
        .map(|(cve, note)| record(cve, note))
        .collect()
}

/// True when `value` (or its first element) looks like NVD data rather than OSV.
pub fn looks_like_nvd(value: &Value) -> bool {
    let first = match value {
        Value::Array(items) => items.first().unwrap_or(&Value::Null),
        other => other,
    };
    ["vulnerabilities", "cve", "sourceIdentifier", "vulnStatus"]
        .iter()
        .any(|k| first.get(k).is_some())
}

/// CVE objects, each with the `_annotation` some mirrors put beside it
/// (it carries the id and description when the object itself does not).
fn collect_cves<'a>(
    value: &'a Value,
    note: Option<&'a Value>,
    out: &mut Vec<(&'a Value, Option<&'a Value>)>,
) {
    match value {
        Value::Array(items) => items.iter().for_each(|v| collect_cves(v, None, out)),
        Value::Object(map) => {
            if let Some(list) = map.get("vulnerabilities") {
                collect_cves(list, None, out);
            } else if let Some(cve) = map.get("cve") {
                out.push((cve, map.get("_annotation").or(note)));
            } else if map.contains_key("id") {
                out.push((value, note));
            }
        }
        _ => {}
    }
}

fn record(cve: &Value, note: Option<&Value>) -> Result<NvdRecord, String> {
    let id = cve["id"]
        .as_str()
        .or_else(|| note.and_then(|n| n["cve_id"].as_str()))
        .ok_or("CVE record without `id`")?
        .to_string();
    let configurations: Vec<Configuration> = match cve.get("configurations") {
        Some(c) => {
            serde_json::from_value(c.clone()).map_err(|e| format!("{id}: configurations: {e}"))?
        }
        None => Vec::new(),
    };
    let summary = cve["descriptions"]
        .as_array()
        .and_then(|d| d.iter().find(|d| d["lang"] == "en"))
        .and_then(|d| d["value"].as_str())
        .or_else(|| note.and_then(|n| n["description"].as_str()))
        .unwrap_or("")
        .to_string();
    let (severity, cvss) = metrics(&cve["metrics"]);
    Ok(NvdRecord {
        id,
        summary: first_sentence(&summary),
        severity,
        cvss,
        configurations,
    })
}

/// The primary CVSS vector, newest version first (v4.0, v3.1, v3.0, v2).
fn metrics(metrics: &Value) -> (Option<Severity>, Option<String>) {
    for key in [
        "cvssMetricV40",
        "cvssMetricV31",
        "cvssMetricV30",
        "cvssMetricV2",
    ] {
        let Some(list) = metrics[key].as_array() else {
            continue;
        };
        let chosen = list
            .iter()
            .find(|m| m["type"] == "Primary")
            .or_else(|| list.first());
        let Some(vector) = chosen.and_then(|m| m["cvssData"]["vectorString"].as_str()) else {
            continue;
        };
        let score = super::cvss_base_score(vector)
            .or_else(|| chosen.and_then(|m| m["cvssData"]["baseScore"].as_f64()));
        return (
            score.map(Severity::from_cvss_score),
            Some(vector.to_string()),
        );
    }
    (None, None)
}

fn first_sentence(text: &str) -> String {
    let cut = text.find(". ").map_or(text.len(), |i| i + 1);
    text[..cut].chars().take(200).collect()
}

/// Whether `configs` say the product `cpe` at `version` is vulnerable, and
/// the fixed version from the matching criterion if it names one.
///
/// Nodes made only of non-vulnerable criteria describe the platform
/// ("running on" hardware or an OS); fwaudit cannot see the platform, so
/// they are taken as satisfied and only the vulnerable side decides.
pub fn affects(configs: &[Configuration], cpe: &Cpe, version: &str) -> Option<Option<String>> {
    let mut result = None;
    for config in configs {
        let mut fix: Option<String> = None;
        let mut saw_vulnerable = false;
        let values: Vec<bool> = config
            .nodes
            .iter()
            .map(|node| {
                let platform_only = node.cpe_match.iter().all(|m| !m.vulnerable);
                let value = if platform_only {
                    true
                } else {
                    let hits: Vec<bool> = node
                        .cpe_match
                        .iter()
                        .map(|m| {
                            let hit = m.vulnerable && criterion_matches(m, cpe, version);
                            if hit {
                                saw_vulnerable = true;
                                if fix.is_none() {
                                    fix = m.version_end_excluding.clone();
                                }
                            }
                            hit
                        })
                        .collect();
                    combine(node.operator.as_deref(), &hits)
                };
                value != node.negate
            })
            .collect();
        let value = combine(config.operator.as_deref(), &values) != config.negate;
        if value && saw_vulnerable {
            result = Some(fix);
            break;
        }
    }
    result
}

fn combine(operator: Option<&str>, values: &[bool]) -> bool {
    match operator {
        Some(op) if op.eq_ignore_ascii_case("AND") => {
            !values.is_empty() && values.iter().all(|v| *v)
        }
        _ => values.iter().any(|v| *v),
    }
}

fn criterion_matches(m: &CpeMatch, cpe: &Cpe, version: &str) -> bool {
    let Some(criteria) = Cpe::parse(&m.criteria) else {
        return false;
    };
    if criteria.part != cpe.part || criteria.vendor != cpe.vendor || criteria.product != cpe.product
    {
        return false;
    }
    // A specific update field (`beta1`, `p1`) is a release we do not model separately.
    if !matches!(criteria.update.as_str(), "*" | "-" | "") {
        return false;
    }
    match criteria.version.as_str() {
        "*" => {}
        "-" => return false,
        exact => return version::compare(version, exact) == Ordering::Equal,
    }
    let cmp = |bound: &Option<String>| bound.as_ref().map(|b| version::compare(version, b));
    cmp(&m.version_start_including).is_none_or(|o| o != Ordering::Less)
        && cmp(&m.version_start_excluding).is_none_or(|o| o == Ordering::Greater)
        && cmp(&m.version_end_including).is_none_or(|o| o != Ordering::Greater)
        && cmp(&m.version_end_excluding).is_none_or(|o| o == Ordering::Less)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpe(s: &str) -> Cpe {
        Cpe::parse(s).unwrap()
    }

    #[test]
    fn ranges_and_exact_versions() {
        let configs: Vec<Configuration> = serde_json::from_str(
            r#"[{"nodes":[{"operator":"OR","negate":false,"cpeMatch":[
                {"vulnerable":true,"criteria":"cpe:2.3:a:openssl:openssl:*:*:*:*:*:*:*:*","versionStartIncluding":"1.0.2","versionEndExcluding":"1.0.2zd"},
                {"vulnerable":true,"criteria":"cpe:2.3:a:openssl:openssl:3.0.1:*:*:*:*:*:*:*"}]}]}]"#,
        )
        .unwrap();
        let ssl = cpe("cpe:2.3:a:openssl:openssl:*:*:*:*:*:*:*:*");
        assert_eq!(
            affects(&configs, &ssl, "1.0.2k"),
            Some(Some("1.0.2zd".into()))
        );
        assert_eq!(affects(&configs, &ssl, "1.0.2zd"), None);
        assert_eq!(affects(&configs, &ssl, "3.0.1"), Some(None));
        assert_eq!(affects(&configs, &ssl, "3.0.2"), None);
        let other = cpe("cpe:2.3:a:haxx:curl:*:*:*:*:*:*:*:*");
        assert_eq!(affects(&configs, &other, "1.0.2k"), None);
    }

    #[test]
    fn running_on_platform_nodes_are_assumed() {
        let configs: Vec<Configuration> = serde_json::from_str(
            r#"[{"operator":"AND","nodes":[
                {"operator":"OR","cpeMatch":[{"vulnerable":true,"criteria":"cpe:2.3:a:haxx:curl:*:*:*:*:*:*:*:*","versionEndExcluding":"7.86.0"}]},
                {"operator":"OR","cpeMatch":[{"vulnerable":false,"criteria":"cpe:2.3:o:microsoft:windows:-:*:*:*:*:*:*:*"}]}]}]"#,
        )
        .unwrap();
        let curl = cpe("cpe:2.3:a:haxx:curl:*:*:*:*:*:*:*:*");
        assert_eq!(
            affects(&configs, &curl, "7.85.0"),
            Some(Some("7.86.0".into()))
        );
        assert_eq!(affects(&configs, &curl, "7.86.0"), None);
    }
}
