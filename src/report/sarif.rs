//! SARIF 2.1.0 for code-scanning dashboards: one run, one rule per advisory
//! (or per finding kind), one result per finding, located in the target file
//! with the path inside the image as a logical location.

use crate::analyze::rules;
use crate::model::{Finding, FindingKind, FindingState, Severity};
use crate::scan::ScanReport;
use serde_json::{Value, json};
use std::collections::BTreeMap;

pub fn render(reports: &[ScanReport]) -> String {
    let mut rules: BTreeMap<String, Value> = BTreeMap::new();
    let mut results = Vec::new();
    for report in reports {
        for f in &report.findings {
            let rule_id = rule_id(f);
            rules
                .entry(rule_id.clone())
                .or_insert_with(|| rule(&rule_id, f));
            results.push(result(&rule_id, f, &report.target.path));
        }
    }
    let sarif = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "fwaudit",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/fwaudit/fwaudit",
                "rules": rules.into_values().collect::<Vec<_>>(),
            }},
            "results": results,
        }],
    });
    serde_json::to_string_pretty(&sarif).unwrap_or_default() + "\n"
}

fn rule_id(f: &Finding) -> String {
    match (&f.kind, &f.advisory, &f.rule) {
        (FindingKind::Vulnerable | FindingKind::Informational, Some(id), _) => id.clone(),
        (_, _, Some(rule)) => rule.clone(),
        (kind, _, _) => format!("fwaudit/{}", kind.as_str()),
    }
}

/// A posture rule as the rule table states it, with its help text and CWE.
fn posture_rule(r: &rules::Rule, f: &Finding) -> Value {
    json!({
        "id": r.id,
        "name": r.name,
        "shortDescription": {"text": r.title},
        "fullDescription": {"text": format!("{} {}", r.title, r.help)},
        "help": {
            "text": format!("{}\n\nRemedy: {}", r.help, r.remedy),
            "markdown": format!("{}\n\n**Remedy:** {}", r.help, r.remedy),
        },
        "helpUri": format!("https://cwe.mitre.org/data/definitions/{}.html", r.cwe),
        "defaultConfiguration": {"level": level(r.severity)},
        "properties": {
            "security-severity": security_severity(f),
            "tags": ["security", r.check.as_str(), format!("external/cwe/cwe-{}", r.cwe)],
        },
    })
}

fn rule(id: &str, f: &Finding) -> Value {
    if let Some(r) = f.rule.as_deref().and_then(rules::get) {
        return posture_rule(r, f);
    }
    let (name, text, help) = match f.kind {
        FindingKind::Vulnerable | FindingKind::Informational => (
            "VulnerableComponent",
            f.summary.clone(),
            format!("https://osv.dev/vulnerability/{id}"),
        ),
        FindingKind::Outdated => (
            "OutdatedComponent",
            "Component is end-of-life or behind its release line's latest release".to_string(),
            "https://endoflife.date/".to_string(),
        ),
        FindingKind::Unused => (
            "UnusedLibrary",
            "Shared library shipped but never loaded: remove it to shrink the attack surface"
                .to_string(),
            "https://man7.org/linux/man-pages/man8/ld.so.8.html".to_string(),
        ),
        FindingKind::Hardening => ("Hardening", f.summary.clone(), String::new()),
        FindingKind::Secret => ("ShippedSecret", f.summary.clone(), String::new()),
        FindingKind::Credential => ("WeakCredential", f.summary.clone(), String::new()),
        FindingKind::Config => ("InsecureConfiguration", f.summary.clone(), String::new()),
    };
    let mut tags = vec!["security"];
    if f.kind == FindingKind::Vulnerable {
        tags.push("vulnerability");
    }
    json!({
        "id": id,
        "name": name,
        "shortDescription": {"text": text},
        "helpUri": help,
        "properties": {"security-severity": security_severity(f), "tags": tags},
    })
}

/// GitHub code scanning reads this number (0.0-10.0) to rank alerts.
fn security_severity(f: &Finding) -> String {
    let scored = f.cvss.as_deref().and_then(crate::advisory::cvss_base_score);
    let score = scored.unwrap_or(match f.severity {
        Severity::Critical => 9.5,
        Severity::High => 8.0,
        Severity::Medium => 5.5,
        Severity::Low => 2.0,
        Severity::Unknown | Severity::Info => 0.0,
    });
    format!("{score:.1}")
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Unknown | Severity::Info => "note",
    }
}

fn result(rule_id: &str, f: &Finding, target: &str) -> Value {
    let inner = f.path.clone().unwrap_or_else(|| target.to_string());
    let mut message = match &f.component {
        Some(c) => format!("{c}: {}", f.summary),
        None => f.summary.clone(),
    };
    if !f.fixed_versions.is_empty() {
        message.push_str(&format!(
            " Fixed versions: {}.",
            f.fixed_versions.join(", ")
        ));
    }
    let mut result = json!({
        "ruleId": rule_id,
        "level": level(f.severity),
        "message": {"text": message},
        "locations": [{
            "physicalLocation": {"artifactLocation": {"uri": uri(target)}},
            "logicalLocations": [{"fullyQualifiedName": inner, "kind": "member"}],
        }],
        "partialFingerprints": {
            "fwauditFinding/v1": format!("{rule_id}|{}|{inner}{}", f.component.as_deref().unwrap_or(""), place(f)),
        },
        "properties": {
            "kind": f.kind.as_str(),
            "state": f.state.as_str(),
            "severity": f.severity.as_str(),
            "aliases": f.aliases,
            "fixedVersions": f.fixed_versions,
        },
    });
    // A finding that is not active is reported, suppressed, with why: code
    // scanning shows it as closed rather than losing it.
    let justification = match (&f.suppressed, &f.analysis) {
        (Some(s), _) if f.state == FindingState::Suppressed => Some(s.reason.clone()),
        (_, Some(a)) if !f.is_active() => Some(format!("{}: {}", f.state.as_str(), a.detail)),
        _ => None,
    };
    if let Some(j) = justification {
        result["suppressions"] =
            json!([{"kind": "external", "status": "accepted", "justification": j}]);
    }
    if let Some(a) = &f.analysis {
        result["properties"]["analysis"] = json!(a);
    }
    if let Some(remedy) = &f.remedy {
        result["properties"]["remedy"] = json!(remedy);
    }
    if let Some(e) = f.evidence.first() {
        if let Some(line) = e.line {
            result["properties"]["line"] = json!(line);
        }
        if let Some(offset) = e.offset {
            result["properties"]["offset"] = json!(offset);
        }
    }
    result
}

/// `:line` or `@offset` of a posture finding's first evidence, so that two
/// findings of one rule in one file keep apart.
fn place(f: &Finding) -> String {
    match f.evidence.first() {
        Some(e) if e.line.is_some() => format!(":{}", e.line.unwrap_or_default()),
        Some(e) if e.offset.is_some() => format!("@{}", e.offset.unwrap_or_default()),
        _ => String::new(),
    }
}

/// A relative file path as a URI reference (spaces and `%` escaped).
fn uri(path: &str) -> String {
    path.replace('%', "%25").replace(' ', "%20")
}
