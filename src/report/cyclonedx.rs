//! CycloneDX 1.6 JSON: the target as the BOM's subject, every component with
//! PURL, CPE, hashes and where it was found, the dependency graph from the
//! dynamic linker's view (DT_NEEDED) and from the manifests (lockfile
//! dependency lists, package `Depends`), and vulnerabilities with a VEX
//! analysis state taken from triage.

use crate::model::{Component, Finding, FindingKind, FindingState, Severity};
use crate::scan::ScanReport;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// One BOM per target; several targets give a JSON array of BOMs.
pub fn render(reports: &[ScanReport]) -> String {
    let boms: Vec<Value> = reports.iter().map(bom).collect();
    let value = match boms.as_slice() {
        [one] => one.clone(),
        _ => Value::Array(boms),
    };
    serde_json::to_string_pretty(&value).unwrap_or_default() + "\n"
}

fn bom_ref(c: &Component) -> String {
    c.purl.clone()
}

fn bom(r: &ScanReport) -> Value {
    let subject = super::subject_name(r);
    let mut metadata_component = json!({
        "type": "firmware",
        "bom-ref": "target",
        "name": subject,
    });
    if let Some(sha) = &r.target.sha256 {
        metadata_component["hashes"] = json!([{"alg": "SHA-256", "content": sha}]);
    }
    let mut components: Vec<Value> = r.components.iter().map(component).collect();
    let (crypto, crypto_refs) = crypto_components(r);
    components.extend(crypto);

    let depends = super::graph::edges(r);
    let all_refs: BTreeSet<String> = r.components.iter().map(bom_ref).collect();
    let mut dependencies =
        vec![json!({"ref": "target", "dependsOn": super::graph::roots(&all_refs, &depends)})];
    for reference in &all_refs {
        let on: Vec<&String> = depends
            .get(reference)
            .map(|s| s.iter().collect())
            .unwrap_or_default();
        dependencies.push(json!({"ref": reference, "dependsOn": on}));
    }

    let mut vulnerabilities = vulnerabilities(r);
    vulnerabilities.extend(posture_vulnerabilities(r, &crypto_refs));
    let serial = serial_number(r.target.sha256.as_deref().unwrap_or(&r.target.path));
    json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": serial,
        "version": 1,
        "metadata": {
            "tools": {"components": [{"type": "application", "name": "fwaudit", "version": env!("CARGO_PKG_VERSION")}]},
            "component": metadata_component,
        },
        "components": components,
        "dependencies": dependencies,
        "vulnerabilities": vulnerabilities,
    })
}

fn component(c: &Component) -> Value {
    let kind = match c.name.as_str() {
        "linux" => "operating-system",
        "u-boot" => "firmware",
        _ if c.ecosystem == "generic" => "library",
        _ => "library",
    };
    let mut v = json!({
        "type": kind,
        "bom-ref": bom_ref(c),
        "name": c.name,
        "version": c.version,
        "purl": c.purl,
    });
    if let Some(cpe) = &c.cpe {
        v["cpe"] = json!(cpe);
    }
    let hashes: BTreeSet<&str> = c
        .sources
        .iter()
        .filter_map(|s| s.sha256.as_deref())
        .collect();
    if let Some(first) = hashes.iter().next() {
        v["hashes"] = json!([{"alg": "SHA-256", "content": first}]);
    }
    let occurrences: Vec<Value> = c
        .sources
        .iter()
        .map(|s| {
            let mut o = json!({"location": s.path, "additionalContext": format!("{}: {}", s.method, s.evidence)});
            if let Some(off) = s.offset {
                o["offset"] = json!(off);
            }
            o
        })
        .collect();
    v["evidence"] = json!({"occurrences": occurrences});
    v
}

/// One CycloneDX vulnerability per (advisory, analysis): the same
/// vulnerability can be fixed in one package and open in another copy, and
/// a CycloneDX analysis holds for all of an entry's `affects`. The analysis
/// says what fwaudit decided, so that the BOM read back in as VEX gives the
/// same states (fixed: `resolved`; not affected and accepted:
/// `not_affected`; active: `in_triage`).
fn vulnerabilities(r: &ScanReport) -> Vec<Value> {
    // component "name@version" (upstream) -> bom-refs carrying it, for
    // findings that name no PURLs (inventories stored by older versions).
    let mut carriers: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for c in &r.components {
        let up = c.upstream();
        carriers
            .entry(format!("{}@{}", up.name, up.version))
            .or_default()
            .insert(bom_ref(c));
    }
    let known: BTreeSet<String> = r.components.iter().map(bom_ref).collect();
    let mut entries: Vec<(String, Value)> = Vec::new();
    for f in r
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::Vulnerable)
    {
        let (Some(id), Some(component)) = (&f.advisory, &f.component) else {
            continue;
        };
        let refs: Vec<String> = if f.purls.is_empty() {
            carriers
                .get(component)
                .into_iter()
                .flatten()
                .cloned()
                .collect()
        } else {
            f.purls
                .iter()
                .filter(|p| known.contains(*p))
                .cloned()
                .collect()
        };
        let analysis = analysis(f);
        let at = match entries
            .iter()
            .position(|(eid, v)| eid == id && v["analysis"] == analysis)
        {
            Some(at) => at,
            None => {
                let same_id = entries.iter().filter(|(eid, _)| eid == id).count();
                let mut rating = json!({"severity": severity_name(f.severity)});
                if let Some(vector) = &f.cvss {
                    rating["vector"] = json!(vector);
                    rating["method"] = json!(cvss_method(vector));
                }
                let bom_ref = match same_id {
                    0 => format!("vuln-{id}"),
                    n => format!("vuln-{id}-{}", n + 1),
                };
                let mut v = json!({
                    "bom-ref": bom_ref,
                    "id": id,
                    "source": {"name": source_name(id)},
                    "ratings": [rating],
                    "description": f.summary,
                    "affects": [],
                    "analysis": analysis,
                });
                if !f.aliases.is_empty() {
                    v["references"] = json!(
                        f.aliases
                            .iter()
                            .map(|a| json!({"id": a, "source": {"name": source_name(a)}}))
                            .collect::<Vec<_>>()
                    );
                }
                if f.is_active()
                    && let Some(fix) = f.fixed_versions.first()
                {
                    v["recommendation"] = json!(format!("Upgrade {component} to {fix} or later"));
                }
                entries.push((id.clone(), v));
                entries.len() - 1
            }
        };
        if let Some(list) = entries[at].1["affects"].as_array_mut() {
            for reference in refs {
                let a = json!({"ref": reference});
                if !list.contains(&a) {
                    list.push(a);
                }
            }
        }
    }
    entries.into_iter().map(|(_, v)| v).collect()
}

/// The CycloneDX impact analysis of a finding's state.
fn analysis(f: &Finding) -> Value {
    let detail = f.analysis.as_ref().map(|a| a.detail.clone());
    let mut v = match f.state {
        FindingState::Active => json!({"state": "in_triage"}),
        FindingState::Fixed => json!({"state": "resolved"}),
        FindingState::NotAffected => {
            let mut v = json!({"state": "not_affected"});
            if let Some(j) = f
                .analysis
                .as_ref()
                .and_then(|a| a.justification.as_deref())
                .and_then(crate::vex::cyclonedx::cyclonedx_justification)
            {
                v["justification"] = json!(j);
            }
            v
        }
        FindingState::Suppressed => json!({
            "state": "not_affected",
            "justification": "protected_by_mitigating_control",
        }),
    };
    let detail = match (&f.suppressed, f.state) {
        (Some(s), FindingState::Suppressed) => Some(s.reason.clone()),
        _ => detail,
    };
    if let Some(d) = detail {
        v["detail"] = json!(d);
    }
    v
}

/// Keys and certificates as CycloneDX 1.6 `cryptographic-asset`
/// components (a CBOM): one per key (by SPKI fingerprint) or certificate
/// (by SHA-256), each place it was found an occurrence, and one component
/// per algorithm they use. Returns them and, per (path, offset), the
/// bom-ref of the asset found there.
fn crypto_components(r: &ScanReport) -> (Vec<Value>, BTreeMap<(String, u64), String>) {
    let mut algorithms: BTreeMap<String, Value> = BTreeMap::new();
    let mut assets: BTreeMap<String, Value> = BTreeMap::new();
    let mut at: BTreeMap<(String, u64), String> = BTreeMap::new();
    for a in &r.crypto {
        let alg_name = match (a.algorithm.as_str(), a.bits, a.curve.as_deref()) {
            ("ec", _, Some(curve)) => format!("ECDSA-{curve}"),
            ("ed25519", _, _) => "Ed25519".to_string(),
            (alg, Some(bits), _) => format!("{}-{bits}", alg.to_ascii_uppercase()),
            (alg, None, _) => alg.to_ascii_uppercase(),
        };
        let alg_ref = format!("crypto-algorithm-{alg_name}");
        algorithms.entry(alg_ref.clone()).or_insert_with(|| {
            let mut props = json!({"primitive": if a.algorithm == "rsa" { "pke" } else if a.algorithm == "unknown" { "unknown" } else { "signature" }});
            if let Some(bits) = a.bits {
                props["parameterSetIdentifier"] = json!(bits.to_string());
            }
            if let Some(curve) = &a.curve {
                props["curve"] = json!(curve);
            }
            json!({"type": "cryptographic-asset", "bom-ref": alg_ref, "name": alg_name,
                   "cryptoProperties": {"assetType": "algorithm", "algorithmProperties": props}})
        });
        let identity = match (&a.certificate, &a.fingerprint, &a.der_sha256) {
            (Some(c), _, _) => format!("certificate-{}", c.sha256),
            (None, Some(fp), _) => format!("{}-{}", a.asset, fp.trim_start_matches("sha256:")),
            (None, None, Some(d)) => format!("{}-{d}", a.asset),
            _ => format!("{}-{}-{}", a.asset, a.path, a.offset),
        };
        let reference = format!("crypto-{}", super::cyclonedx::stable_uuid(&identity));
        at.insert((a.path.clone(), a.offset), reference.clone());
        let entry = assets.entry(reference.clone()).or_insert_with(|| {
            let mut v = match &a.certificate {
                Some(c) => {
                    let sig_ref = format!("crypto-algorithm-{}", c.signature_algorithm);
                    algorithms.entry(sig_ref.clone()).or_insert_with(|| json!({
                        "type": "cryptographic-asset", "bom-ref": sig_ref, "name": c.signature_algorithm,
                        "cryptoProperties": {"assetType": "algorithm", "algorithmProperties": {"primitive": "signature"}}}));
                    json!({"type": "cryptographic-asset", "bom-ref": reference, "name": c.subject,
                        "cryptoProperties": {"assetType": "certificate", "certificateProperties": {
                            "subjectName": c.subject, "issuerName": c.issuer,
                            "notValidBefore": c.not_before, "notValidAfter": c.not_after,
                            "signatureAlgorithmRef": sig_ref, "certificateFormat": "X.509"}},
                        "hashes": [{"alg": "SHA-256", "content": c.sha256}]})
                }
                None => {
                    let mut m = json!({"type": a.asset, "algorithmRef": alg_ref, "format": a.format});
                    if let Some(fp) = a.fingerprint.as_ref().or(a.der_sha256.as_ref()) {
                        m["id"] = json!(fp);
                    }
                    if let Some(bits) = a.bits {
                        m["size"] = json!(bits);
                    }
                    if a.encrypted {
                        m["securedBy"] = json!({"mechanism": "passphrase"});
                    }
                    json!({"type": "cryptographic-asset", "bom-ref": reference, "name": format!("{alg_name} {}", a.asset),
                        "cryptoProperties": {"assetType": "related-crypto-material", "relatedCryptoMaterialProperties": m}})
                }
            };
            let mut properties = Vec::new();
            if let Some(k) = &a.known_as {
                properties.push(json!({"name": "fwaudit:known-as", "value": k}));
            }
            if let Some(ssh) = &a.ssh_fingerprint {
                properties.push(json!({"name": "fwaudit:ssh-fingerprint", "value": ssh}));
            }
            if !properties.is_empty() {
                v["properties"] = json!(properties);
            }
            v["evidence"] = json!({"occurrences": []});
            v
        });
        if let Some(list) = entry["evidence"]["occurrences"].as_array_mut() {
            list.push(json!({"location": a.path, "offset": a.offset}));
        }
    }
    let mut out: Vec<Value> = algorithms.into_values().collect();
    out.extend(assets.into_values());
    (out, at)
}

/// Posture findings as vulnerabilities with the rule's CWE, affecting the
/// key or certificate concerned (else the image itself).
fn posture_vulnerabilities(r: &ScanReport, crypto: &BTreeMap<(String, u64), String>) -> Vec<Value> {
    r.findings
        .iter()
        .filter_map(|f| Some((f, crate::analyze::rules::get(f.rule.as_deref()?)?)))
        .enumerate()
        .map(|(i, (f, rule))| {
            let target = f
                .evidence
                .first()
                .and_then(|e| crypto.get(&(e.path.clone(), e.offset?)))
                .cloned()
                .unwrap_or_else(|| "target".to_string());
            let analysis = analysis(f);
            json!({
                "bom-ref": format!("posture-{}", i + 1),
                "id": rule.id,
                "source": {"name": "fwaudit"},
                "ratings": [{"severity": severity_name(f.severity), "method": "other"}],
                "cwes": [rule.cwe],
                "description": f.summary,
                "detail": rule.help,
                "recommendation": rule.remedy,
                "affects": [{"ref": target}],
                "analysis": analysis,
            })
        })
        .collect()
}

fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "critical",
        Severity::High => "high",
        Severity::Medium => "medium",
        Severity::Low => "low",
        Severity::Info => "info",
        Severity::Unknown => "unknown",
    }
}

fn cvss_method(vector: &str) -> &'static str {
    if vector.starts_with("CVSS:3.1") {
        "CVSSv31"
    } else if vector.starts_with("CVSS:3.0") {
        "CVSSv3"
    } else if vector.starts_with("CVSS:4") {
        "CVSSv4"
    } else {
        "CVSSv2"
    }
}

fn source_name(id: &str) -> &'static str {
    if id.starts_with("CVE-") {
        "NVD"
    } else if id.starts_with("GHSA-") {
        "GitHub"
    } else if id.starts_with("RUSTSEC-") {
        "RustSec"
    } else {
        "OSV"
    }
}

/// A stable `urn:uuid:` from the target's hash, so that the same image
/// always gets the same serial number.
fn serial_number(seed: &str) -> String {
    format!("urn:uuid:{}", stable_uuid(seed))
}

/// A UUID (version 8 layout) derived from `seed` by SHA-256.
pub(crate) fn stable_uuid(seed: &str) -> String {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(seed.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let x = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &x[..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..]
    )
}
