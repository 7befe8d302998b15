//! CycloneDX JSON SBOMs (spec 1.4 to 1.6) as input: every component with a
//! version, nested `components` included, keeping the SBOM's own PURL and CPE.

use super::{find_line, from_json};
use crate::model::{Component, Evidence};
use serde::Deserialize;

pub fn is_cyclonedx(fs_path: &str) -> bool {
    let name = super::file_name(fs_path);
    name.ends_with(".cdx.json") || name == "bom.json"
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Bom {
    bom_format: String,
    spec_version: String,
    #[serde(default)]
    components: Vec<CdxComponent>,
}

#[derive(Deserialize)]
struct CdxComponent {
    name: String,
    version: Option<String>,
    group: Option<String>,
    purl: Option<String>,
    cpe: Option<String>,
    #[serde(default)]
    components: Vec<CdxComponent>,
}

/// Components listed in the SBOM at `path`.
pub fn parse(path: &str, text: &str) -> Result<Vec<Component>, String> {
    let bom: Bom = from_json(text)?;
    if bom.bom_format != "CycloneDX" {
        return Err(format!(
            "line {}: bomFormat is {:?}, not \"CycloneDX\"",
            find_line(text, "\"bomFormat\""),
            bom.bom_format
        ));
    }
    if !matches!(bom.spec_version.as_str(), "1.4" | "1.5" | "1.6") {
        return Err(format!(
            "line {}: unsupported CycloneDX specVersion {} (fwaudit reads 1.4 to 1.6)",
            find_line(text, "\"specVersion\""),
            bom.spec_version
        ));
    }
    let mut cursor = Cursor::default();
    let mut out = Vec::new();
    let mut stack: Vec<&CdxComponent> = bom.components.iter().rev().collect();
    while let Some(c) = stack.pop() {
        stack.extend(c.components.iter().rev());
        let Some(version) = &c.version else { continue };
        let name = match &c.group {
            Some(g) if !g.is_empty() => format!("{g}/{}", c.name),
            _ => c.name.clone(),
        };
        let line = cursor.line_of(text, &c.name);
        out.push(sbom_component(
            path,
            line,
            name,
            version.clone(),
            c.purl.clone(),
            c.cpe.clone(),
            "cyclonedx",
        ));
    }
    Ok(out)
}

/// Finds each entry's `"name"` in document order, resuming where the last
/// one was found, so that numbering every entry stays one pass.
#[derive(Default)]
pub(super) struct Cursor {
    offset: usize,
    line: usize,
}

impl Cursor {
    pub(super) fn line_of(&mut self, text: &str, name: &str) -> usize {
        let needle = format!("\"{name}\"");
        let Some(found) = text.get(self.offset..).and_then(|rest| rest.find(&needle)) else {
            return super::find_line(text, &needle);
        };
        let start = self.offset;
        self.offset += found + needle.len();
        self.line += text.as_bytes()[start..start + found]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        self.line + 1
    }
}

/// A component as an SBOM describes it: the ecosystem comes from the PURL type.
pub(super) fn sbom_component(
    path: &str,
    line: usize,
    name: String,
    version: String,
    purl: Option<String>,
    cpe: Option<String>,
    method: &str,
) -> Component {
    let kind = purl
        .as_deref()
        .and_then(|p| p.strip_prefix("pkg:"))
        .and_then(|p| p.split('/').next())
        .unwrap_or("generic")
        .to_string();
    let osv = match kind.as_str() {
        "cargo" => Some("crates.io"),
        "npm" => Some("npm"),
        "pypi" => Some("PyPI"),
        "golang" => Some("Go"),
        "maven" => Some("Maven"),
        "gem" => Some("RubyGems"),
        "nuget" => Some("NuGet"),
        _ => None,
    };
    Component {
        purl: purl.unwrap_or_else(|| crate::purl::generic(&name, &version)),
        sources: vec![Evidence {
            sha256: None,
            method: method.to_string(),
            path: path.to_string(),
            offset: None,
            line: None,
            evidence: format!("line {line}: {name} {version}"),
            package: None,
        }],
        name,
        version,
        cpe,
        ecosystem: kind,
        ecosystem_osv: osv.map(str::to_string),
        ..Component::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_components_keep_their_identity() {
        let text = r#"{"bomFormat":"CycloneDX","specVersion":"1.5","components":[
{"type":"library","name":"openssl","version":"3.0.1","purl":"pkg:generic/openssl@3.0.1","cpe":"cpe:2.3:a:openssl:openssl:3.0.1:*:*:*:*:*:*:*",
 "components":[{"type":"library","group":"@babel","name":"core","version":"7.1.0","purl":"pkg:npm/%40babel/core@7.1.0"}]}]}"#;
        let c = parse("bom.json", text).unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[1].name, "@babel/core");
        assert_eq!(c[1].ecosystem_osv.as_deref(), Some("npm"));
        assert_eq!(c[0].ecosystem, "generic");
        assert_eq!(
            parse(
                "b",
                "{\"bomFormat\":\"CycloneDX\",\n\"specVersion\":\"1.2\"}"
            )
            .unwrap_err(),
            "line 2: unsupported CycloneDX specVersion 1.2 (fwaudit reads 1.4 to 1.6)"
        );
    }
}
