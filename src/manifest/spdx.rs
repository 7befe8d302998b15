//! SPDX 2.3 JSON documents as input: each package with a version, its PURL
//! from a `PACKAGE-MANAGER purl` external reference and CPE from a
//! `SECURITY cpe23Type` one. The packages the document describes are its
//! subject (the project or image), not components of it.

use super::cyclonedx::{Cursor, sbom_component};
use super::{find_line, from_json};
use crate::model::Component;
use serde::Deserialize;

pub fn is_spdx(fs_path: &str) -> bool {
    super::file_name(fs_path).ends_with(".spdx.json")
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Document {
    spdx_version: String,
    /// The document's subject (the project or image itself), not a component.
    #[serde(default)]
    document_describes: Vec<String>,
    #[serde(default)]
    packages: Vec<SpdxPackage>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SpdxPackage {
    name: String,
    #[serde(rename = "SPDXID", default)]
    spdx_id: String,
    version_info: Option<String>,
    #[serde(default)]
    external_refs: Vec<ExternalRef>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExternalRef {
    reference_type: String,
    reference_locator: String,
}

/// Packages listed in the SPDX document at `path`.
pub fn parse(path: &str, text: &str) -> Result<Vec<Component>, String> {
    let doc: Document = from_json(text)?;
    if doc.spdx_version != "SPDX-2.3" {
        return Err(format!(
            "line {}: unsupported spdxVersion {} (fwaudit reads SPDX-2.3)",
            find_line(text, "\"spdxVersion\""),
            doc.spdx_version
        ));
    }
    let mut cursor = Cursor::default();
    Ok(doc
        .packages
        .into_iter()
        .filter(|p| !doc.document_describes.contains(&p.spdx_id))
        .filter_map(|p| {
            let version = p.version_info?;
            let find = |kind: &str| {
                p.external_refs
                    .iter()
                    .find(|r| r.reference_type == kind)
                    .map(|r| r.reference_locator.clone())
            };
            let (purl, cpe) = (find("purl"), find("cpe23Type"));
            let line = cursor.line_of(text, &p.name);
            Some(sbom_component(
                path, line, p.name, version, purl, cpe, "spdx",
            ))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages_with_refs() {
        let text = r#"{"spdxVersion":"SPDX-2.3","packages":[{"name":"smallvec","versionInfo":"0.6.9",
"externalRefs":[{"referenceCategory":"PACKAGE-MANAGER","referenceType":"purl","referenceLocator":"pkg:cargo/smallvec@0.6.9"}]},
{"name":"doc-root"}]}"#;
        let c = parse("x.spdx.json", text).unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(
            (c[0].ecosystem.as_str(), c[0].ecosystem_osv.as_deref()),
            ("cargo", Some("crates.io"))
        );
        assert_eq!(
            parse("x", "{\"spdxVersion\":\"SPDX-2.2\"}").unwrap_err(),
            "line 1: unsupported spdxVersion SPDX-2.2 (fwaudit reads SPDX-2.3)"
        );
    }
}
