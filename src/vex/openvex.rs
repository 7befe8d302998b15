//! OpenVEX 0.2 (`https://openvex.dev/ns/v0.2.0`): `statements[]` with a
//! `vulnerability` (`{name, aliases}`; a bare string in older documents),
//! `products` (`{@id, identifiers {purl, cpe23}, subcomponents}`; bare
//! strings in older documents), `status`, `justification`,
//! `impact_statement`, `action_statement`.

use super::{Statement, Status};
use serde_json::Value;

pub fn looks_like(v: &Value) -> bool {
    v.get("@context")
        .and_then(Value::as_str)
        .is_some_and(|c| c.starts_with("https://openvex.dev/ns"))
}

pub fn parse(name: &str, v: &Value) -> Result<Vec<Statement>, String> {
    let statements = v
        .get("statements")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("{name}: OpenVEX document without `statements`"))?;
    statements
        .iter()
        .enumerate()
        .map(|(i, s)| statement(&format!("{name}: statements[{i}]"), s))
        .collect()
}

fn statement(at: &str, s: &Value) -> Result<Statement, String> {
    let vulnerability = s
        .get("vulnerability")
        .ok_or_else(|| format!("{at}: no `vulnerability`"))?;
    let (id, aliases) = match vulnerability {
        Value::String(id) => (id.clone(), Vec::new()),
        v => {
            let id = v
                .get("name")
                .or_else(|| v.get("@id"))
                .and_then(Value::as_str)
                .ok_or_else(|| format!("{at}: `vulnerability` without `name`"))?;
            let aliases = v
                .get("aliases")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            (id.to_string(), aliases)
        }
    };
    let mut products = Vec::new();
    for p in s
        .get("products")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        collect_ids(p, &mut products);
        for sub in p
            .get("subcomponents")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            collect_ids(sub, &mut products);
        }
    }
    if products.is_empty() {
        return Err(format!("{at}: no `products`"));
    }
    let status = match s.get("status").and_then(Value::as_str) {
        Some("not_affected") => Status::NotAffected,
        Some("fixed") => Status::Fixed,
        Some("affected") => Status::Affected,
        Some("under_investigation") => Status::UnderInvestigation,
        Some(other) => return Err(format!("{at}: unknown status {other:?}")),
        None => return Err(format!("{at}: no `status`")),
    };
    let text = |key: &str| s.get(key).and_then(Value::as_str).map(str::to_string);
    Ok(Statement {
        vulnerability: id,
        aliases,
        products,
        status,
        justification: text("justification"),
        detail: text("impact_statement").or_else(|| text("action_statement")),
        origin: at.to_string(),
    })
}

/// A product's identifiers: its `@id` and `identifiers.purl` / `cpe23`, or
/// the string itself.
fn collect_ids(p: &Value, out: &mut Vec<String>) {
    match p {
        Value::String(id) => out.push(id.clone()),
        v => {
            if let Some(id) = v.get("@id").and_then(Value::as_str) {
                out.push(id.to_string());
            }
            if let Some(ids) = v.get("identifiers") {
                for key in ["purl", "cpe23", "cpe22"] {
                    if let Some(id) = ids.get(key).and_then(Value::as_str) {
                        out.push(id.to_string());
                    }
                }
            }
        }
    }
    out.dedup();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_statements_old_and_new_forms() {
        let doc: Value = serde_json::from_str(
            r#"{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex-1",
                "author": "Example", "timestamp": "2026-11-01T00:00:00Z", "version": 1,
                "statements": [
                  {"vulnerability": {"name": "CVE-2023-38545", "aliases": ["GHSA-x"]},
                   "products": [{"@id": "pkg:deb/debian/curl@7.88.1-10%2Bdeb12u15",
                                 "identifiers": {"cpe23": "cpe:2.3:a:haxx:curl:7.88.1:*:*:*:*:*:*:*"}}],
                   "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path",
                   "impact_statement": "SOCKS5 is not used"},
                  {"vulnerability": "CVE-2022-37434", "products": ["pkg:generic/zlib@1.2.13"],
                   "status": "fixed"}]}"#,
        )
        .unwrap();
        assert!(looks_like(&doc));
        let s = parse("v.json", &doc).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].vulnerability, "CVE-2023-38545");
        assert_eq!(s[0].aliases, ["GHSA-x"]);
        assert_eq!(s[0].products.len(), 2);
        assert_eq!(s[0].status, Status::NotAffected);
        assert_eq!(s[0].detail.as_deref(), Some("SOCKS5 is not used"));
        assert_eq!(s[1].status, Status::Fixed);
        let bad: Value = serde_json::from_str(
            r#"{"@context": "https://openvex.dev/ns/v0.2.0", "statements": [{"vulnerability": "X", "products": ["p"], "status": "maybe"}]}"#,
        )
        .unwrap();
        assert_eq!(
            parse("v.json", &bad).unwrap_err(),
            "v.json: statements[0]: unknown status \"maybe\""
        );
    }
}
