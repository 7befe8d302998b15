//! SPDX 2.3 JSON: the target as the described package, every component as a
//! package with its PURL and CPE (external references), where it was found
//! (`sourceInfo`), the advisories that affect it (security references), and
//! the same dependency graph as the CycloneDX report (`DEPENDS_ON`).
//!
//! `creationInfo.created` is the current time, or `SOURCE_DATE_EPOCH` when
//! set, so that a reproducible build can produce the same document twice.

use crate::model::{Component, FindingKind};
use crate::scan::ScanReport;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// One document per target; several targets give a JSON array of documents.
pub fn render(reports: &[ScanReport]) -> String {
    let created = created();
    let docs: Vec<Value> = reports.iter().map(|r| document(r, &created)).collect();
    let value = match docs.as_slice() {
        [one] => one.clone(),
        _ => Value::Array(docs),
    };
    serde_json::to_string_pretty(&value).unwrap_or_default() + "\n"
}

fn created() -> String {
    match std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
    {
        Some(secs) => crate::date::utc_stamp(secs).unwrap_or_else(crate::date::now_utc),
        None => crate::date::now_utc(),
    }
}

fn document(r: &ScanReport, created: &str) -> Value {
    let subject = super::subject_name(r);
    let mut target = json!({
        "SPDXID": "SPDXRef-target",
        "name": subject,
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "primaryPackagePurpose": "FIRMWARE",
    });
    if let Some(sha) = &r.target.sha256 {
        target["checksums"] = json!([{"algorithm": "SHA256", "checksumValue": sha}]);
    }
    // One SPDX id per component; a PURL seen twice names its first package.
    let ids: Vec<String> = (1..=r.components.len())
        .map(|n| format!("SPDXRef-Package-{n}"))
        .collect();
    let mut id_of: BTreeMap<&str, &str> = BTreeMap::new();
    for (c, id) in r.components.iter().zip(&ids) {
        id_of.entry(c.purl.as_str()).or_insert(id.as_str());
    }
    let advisories = advisories_by_component(r);
    let mut packages = vec![target];
    packages.extend(
        r.components
            .iter()
            .zip(&ids)
            .map(|(c, id)| package(c, id, &advisories)),
    );

    let mut relationships = vec![relationship(
        "SPDXRef-DOCUMENT",
        "DESCRIBES",
        "SPDXRef-target",
    )];
    relationships.extend(
        ids.iter()
            .map(|id| relationship("SPDXRef-target", "CONTAINS", id)),
    );
    for (from, on) in super::graph::edges(r) {
        let Some(from) = id_of.get(from.as_str()) else {
            continue;
        };
        for to in on.iter().filter_map(|to| id_of.get(to.as_str())) {
            relationships.push(relationship(from, "DEPENDS_ON", to));
        }
    }
    let namespace_seed = format!(
        "{}:{created}",
        r.target.sha256.as_deref().unwrap_or(&r.target.path)
    );
    json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": format!("fwaudit scan of {subject}"),
        "documentNamespace": format!(
            "https://spdx.org/spdxdocs/fwaudit/{}-{}",
            namespace_part(&subject),
            super::cyclonedx::stable_uuid(&namespace_seed)
        ),
        "creationInfo": {
            "created": created,
            "creators": [format!("Tool: fwaudit-{}", env!("CARGO_PKG_VERSION"))],
        },
        "packages": packages,
        "relationships": relationships,
    })
}

fn relationship(from: &str, kind: &str, to: &str) -> Value {
    json!({"spdxElementId": from, "relationshipType": kind, "relatedSpdxElement": to})
}

/// A name safe inside a URI path segment.
fn namespace_part(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '-' | '_' => c,
            _ => '-',
        })
        .collect()
}

/// `name@version` (upstream) -> advisory ids of active vulnerable findings.
fn advisories_by_component(r: &ScanReport) -> BTreeMap<&str, BTreeSet<&str>> {
    let mut out: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for f in &r.findings {
        if f.kind != FindingKind::Vulnerable || !f.is_active() {
            continue;
        }
        if let (Some(c), Some(id)) = (&f.component, &f.advisory) {
            out.entry(c.as_str()).or_default().insert(id.as_str());
        }
    }
    out
}

fn package(c: &Component, id: &str, advisories: &BTreeMap<&str, BTreeSet<&str>>) -> Value {
    let purpose = match c.name.as_str() {
        "linux" => "OPERATING-SYSTEM",
        "u-boot" => "FIRMWARE",
        _ => "LIBRARY",
    };
    let mut refs = vec![json!({
        "referenceCategory": "PACKAGE-MANAGER",
        "referenceType": "purl",
        "referenceLocator": c.purl,
    })];
    if let Some(cpe) = &c.cpe {
        refs.push(json!({
            "referenceCategory": "SECURITY",
            "referenceType": "cpe23Type",
            "referenceLocator": cpe,
        }));
    }
    let up = c.upstream();
    for advisory in advisories
        .get(format!("{}@{}", up.name, up.version).as_str())
        .into_iter()
        .flatten()
    {
        refs.push(json!({
            "referenceCategory": "SECURITY",
            "referenceType": "advisory",
            "referenceLocator": advisory_url(advisory),
        }));
    }
    let found: Vec<String> = c
        .sources
        .iter()
        .map(|s| match s.offset {
            Some(off) => format!("{} {} at {off:#x}: {}", s.method, s.path, s.evidence),
            None => format!("{} {}: {}", s.method, s.path, s.evidence),
        })
        .collect();
    json!({
        "SPDXID": id,
        "name": c.name,
        "versionInfo": c.version,
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "licenseConcluded": "NOASSERTION",
        "licenseDeclared": "NOASSERTION",
        "copyrightText": "NOASSERTION",
        "primaryPackagePurpose": purpose,
        "sourceInfo": format!("found by fwaudit: {}", found.join("; ")),
        "externalRefs": refs,
    })
}

/// Where an advisory id is published.
fn advisory_url(id: &str) -> String {
    if id.starts_with("CVE-") {
        format!("https://nvd.nist.gov/vuln/detail/{id}")
    } else {
        format!("https://osv.dev/vulnerability/{id}")
    }
}
