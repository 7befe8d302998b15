//! CycloneDX 1.5/1.6 VEX: `vulnerabilities[]` with `id`, `references[].id`
//! (aliases), `analysis {state, justification, detail}` and `affects[].ref`,
//! a `bom-ref` of the document's `components` (resolved to its PURL or
//! CPE), a PURL itself, or a BOM-Link (`urn:cdx:serial/version#bom-ref`)
//! into the same document. This is also what fwaudit writes, so a report
//! read back in gives the same states.

use super::{Statement, Status};
use serde_json::Value;
use std::collections::HashMap;

pub fn looks_like(v: &Value) -> bool {
    v.get("bomFormat").and_then(Value::as_str) == Some("CycloneDX")
}

pub fn parse(name: &str, v: &Value) -> Result<Vec<Statement>, String> {
    let mut refs: HashMap<String, Vec<String>> = HashMap::new();
    collect_components(v.get("components"), &mut refs);
    if let Some(c) = v.get("metadata").and_then(|m| m.get("component")) {
        collect_components(Some(&Value::Array(vec![c.clone()])), &mut refs);
    }
    let mut out = Vec::new();
    let vulns = v
        .get("vulnerabilities")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("{name}: CycloneDX document without `vulnerabilities`"))?;
    for (i, vuln) in vulns.iter().enumerate() {
        let at = format!("{name}: vulnerabilities[{i}]");
        let id = vuln
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{at}: no `id`"))?;
        let Some(analysis) = vuln.get("analysis") else {
            continue; // a vulnerability without an analysis states nothing
        };
        let status = match analysis.get("state").and_then(Value::as_str) {
            Some("not_affected" | "false_positive") => Status::NotAffected,
            Some("resolved" | "resolved_with_pedigree") => Status::Fixed,
            Some("exploitable") => Status::Affected,
            Some("in_triage") => Status::UnderInvestigation,
            Some(other) => return Err(format!("{at}: unknown analysis state {other:?}")),
            None => continue,
        };
        let mut products = Vec::new();
        let affects = vuln.get("affects").and_then(Value::as_array);
        if affects.is_none_or(|a| a.is_empty()) {
            return Err(format!("{at}: no `affects`"));
        }
        for a in affects.into_iter().flatten() {
            let Some(r) = a.get("ref").and_then(Value::as_str) else {
                continue;
            };
            let local = r
                .rsplit_once('#')
                .filter(|_| r.starts_with("urn:cdx:"))
                .map_or(r, |(_, f)| f);
            match refs.get(local) {
                Some(ids) => products.extend(ids.iter().cloned()),
                None if local.starts_with("pkg:") || local.starts_with("cpe:") => {
                    products.push(local.to_string())
                }
                None => return Err(format!("{at}: affects ref {r:?} names no component")),
            }
        }
        if products.is_empty() {
            // About the device itself or an asset without a PURL or CPE (a
            // key, a posture rule): nothing a component can be matched by.
            continue;
        }
        let aliases = vuln
            .get("references")
            .and_then(Value::as_array)
            .map(|r| {
                r.iter()
                    .filter_map(|x| x.get("id")?.as_str())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let text = |key: &str| {
            analysis
                .get(key)
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        out.push(Statement {
            vulnerability: id.to_string(),
            aliases,
            products,
            status,
            justification: text("justification").map(|j| openvex_justification(&j)),
            detail: text("detail"),
            origin: at,
        });
    }
    Ok(out)
}

/// bom-ref -> the component's PURL and CPE, nested components included.
fn collect_components(list: Option<&Value>, refs: &mut HashMap<String, Vec<String>>) {
    for c in list.and_then(Value::as_array).into_iter().flatten() {
        let ids: Vec<String> = ["purl", "cpe"]
            .iter()
            .filter_map(|k| c.get(*k).and_then(Value::as_str))
            .map(str::to_string)
            .collect();
        if let Some(r) = c.get("bom-ref").and_then(Value::as_str) {
            refs.insert(r.to_string(), ids);
        }
        collect_components(c.get("components"), refs);
    }
}

/// CycloneDX impact-analysis justifications in OpenVEX's words.
pub fn openvex_justification(cyclonedx: &str) -> String {
    match cyclonedx {
        "code_not_present" => "vulnerable_code_not_present",
        "code_not_reachable" => "vulnerable_code_not_in_execute_path",
        "requires_configuration" | "requires_dependency" | "requires_environment" => {
            "vulnerable_code_cannot_be_controlled_by_adversary"
        }
        "protected_by_compiler"
        | "protected_at_runtime"
        | "protected_at_perimeter"
        | "protected_by_mitigating_control" => "inline_mitigations_already_exist",
        other => other,
    }
    .to_string()
}

/// OpenVEX justifications in CycloneDX's words, for writing.
pub fn cyclonedx_justification(openvex: &str) -> Option<&'static str> {
    Some(match openvex {
        "component_not_present" | "vulnerable_code_not_present" => "code_not_present",
        "vulnerable_code_not_in_execute_path" => "code_not_reachable",
        "vulnerable_code_cannot_be_controlled_by_adversary" => "requires_environment",
        "inline_mitigations_already_exist" => "protected_by_mitigating_control",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_refs_and_states() {
        let doc: Value = serde_json::from_str(
            r#"{"bomFormat": "CycloneDX", "specVersion": "1.6", "serialNumber": "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79", "version": 1,
                "components": [{"type": "library", "bom-ref": "curl-1", "name": "curl", "purl": "pkg:deb/debian/curl@7.88.1-10%2Bdeb12u15",
                                "components": [{"bom-ref": "inner", "name": "x", "cpe": "cpe:2.3:a:haxx:libcurl:7.88.1:*:*:*:*:*:*:*"}]}],
                "vulnerabilities": [
                  {"id": "CVE-2023-38545", "references": [{"id": "GHSA-x", "source": {"name": "GitHub"}}],
                   "analysis": {"state": "resolved", "detail": "backported"}, "affects": [{"ref": "curl-1"}]},
                  {"id": "CVE-2023-38546", "analysis": {"state": "not_affected", "justification": "code_not_reachable"},
                   "affects": [{"ref": "urn:cdx:3e671687-395b-41f5-a30f-a58921a69b79/1#inner"}, {"ref": "pkg:generic/curl@7.88.1"}]},
                  {"id": "CVE-2023-0001", "affects": [{"ref": "curl-1"}]}]}"#,
        )
        .unwrap();
        assert!(looks_like(&doc));
        let s = parse("bom.json", &doc).unwrap();
        assert_eq!(
            s.len(),
            2,
            "a vulnerability without analysis states nothing"
        );
        assert_eq!(s[0].status, Status::Fixed);
        assert_eq!(s[0].products, ["pkg:deb/debian/curl@7.88.1-10%2Bdeb12u15"]);
        assert_eq!(s[0].aliases, ["GHSA-x"]);
        assert_eq!(s[1].status, Status::NotAffected);
        assert_eq!(
            s[1].justification.as_deref(),
            Some("vulnerable_code_not_in_execute_path")
        );
        assert_eq!(
            s[1].products,
            [
                "cpe:2.3:a:haxx:libcurl:7.88.1:*:*:*:*:*:*:*",
                "pkg:generic/curl@7.88.1"
            ]
        );
        let bad: Value = serde_json::from_str(
            r#"{"bomFormat": "CycloneDX", "vulnerabilities": [{"id": "X", "analysis": {"state": "not_affected"}, "affects": [{"ref": "nowhere"}]}]}"#,
        )
        .unwrap();
        assert_eq!(
            parse("b.json", &bad).unwrap_err(),
            "b.json: vulnerabilities[0]: affects ref \"nowhere\" names no component"
        );
    }
}
