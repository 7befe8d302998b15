//! VEX input: statements a vendor (or fwaudit itself, in an earlier
//! report) made about whether its products are affected by a
//! vulnerability. This is how a vendor records the patches it carries in
//! its own builds: `not_affected` and `fixed` statements turn a finding
//! into state `not_affected` / `fixed` in every output, and `--fail-on`
//! no longer counts it, as grype and trivy do.
//!
//! One file per format: OpenVEX 0.2 ([`openvex`]) and CycloneDX 1.5/1.6
//! VEX ([`cyclonedx`]); a file is recognised by its content.

pub mod cyclonedx;
pub mod openvex;

use packageurl::PackageUrl;
use std::path::Path;
use std::str::FromStr;

/// What a statement says about its products.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    NotAffected,
    Fixed,
    Affected,
    UnderInvestigation,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::NotAffected => "not_affected",
            Status::Fixed => "fixed",
            Status::Affected => "affected",
            Status::UnderInvestigation => "under_investigation",
        }
    }
}

/// One statement: a vulnerability (under any of its names), the products
/// it is about (PURLs or CPEs), and the status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub vulnerability: String,
    pub aliases: Vec<String>,
    /// PURLs (`pkg:...`) or CPE 2.3 names (`cpe:2.3:...`).
    pub products: Vec<String>,
    pub status: Status,
    /// OpenVEX justification (`vulnerable_code_not_present`, ...).
    pub justification: Option<String>,
    /// The impact or action statement, as written.
    pub detail: Option<String>,
    /// The file it came from, and where in it (`statements[3]`).
    pub origin: String,
}

/// Every statement of the VEX files given to a scan.
#[derive(Debug, Clone, Default)]
pub struct VexSet {
    pub statements: Vec<Statement>,
}

impl VexSet {
    /// Reads each file; a file that is neither OpenVEX nor CycloneDX, or
    /// is malformed, is an error naming it.
    pub fn load(paths: &[impl AsRef<Path>]) -> Result<VexSet, String> {
        let mut set = VexSet::default();
        for path in paths {
            let path = path.as_ref();
            let display = path.display().to_string();
            let text = std::fs::read_to_string(path).map_err(|e| format!("{display}: {e}"))?;
            set.statements.extend(parse(&display, &text)?);
        }
        Ok(set)
    }

    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }

    /// The statement about vulnerability `names` (id and aliases) for a
    /// component known by `purls` and `cpe`. When several match, the last
    /// one given wins (a later document updates an earlier one).
    pub fn find(&self, names: &[&str], purls: &[&str], cpe: Option<&str>) -> Option<&Statement> {
        self.statements.iter().rev().find(|s| {
            let named = std::iter::once(s.vulnerability.as_str())
                .chain(s.aliases.iter().map(String::as_str))
                .any(|v| names.iter().any(|n| n.eq_ignore_ascii_case(v)));
            named
                && s.products.iter().any(|p| {
                    purls.iter().any(|purl| purl_matches(p, purl))
                        || cpe.is_some_and(|c| cpe_matches(p, c))
                })
        })
    }
}

/// Statements of one VEX document, recognised by content.
pub fn parse(name: &str, text: &str) -> Result<Vec<Statement>, String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        format!(
            "{name}: invalid JSON at line {}, column {}: {e}",
            e.line(),
            e.column()
        )
    })?;
    if openvex::looks_like(&value) {
        openvex::parse(name, &value)
    } else if cyclonedx::looks_like(&value) {
        cyclonedx::parse(name, &value)
    } else {
        Err(format!(
            "{name}: neither OpenVEX (@context openvex.dev) nor CycloneDX VEX (bomFormat CycloneDX)"
        ))
    }
}

/// True when the statement's PURL names the component's: same type,
/// namespace, name; the same version unless the statement gives none; and
/// every qualifier the statement gives equal on the component.
pub fn purl_matches(statement: &str, component: &str) -> bool {
    let (Ok(s), Ok(c)) = (
        PackageUrl::from_str(statement),
        PackageUrl::from_str(component),
    ) else {
        return false;
    };
    s.ty() == c.ty()
        && s.namespace() == c.namespace()
        && s.name() == c.name()
        && s.version().is_none_or(|v| Some(v) == c.version())
        && s.qualifiers()
            .iter()
            .all(|(k, v)| c.qualifiers().get(k) == Some(v))
}

/// True when the statement's CPE 2.3 name covers the component's: every
/// field equal, or `*` / `-` (any) in the statement.
pub fn cpe_matches(statement: &str, component: &str) -> bool {
    if !statement.starts_with("cpe:2.3:") || !component.starts_with("cpe:2.3:") {
        return false;
    }
    let s: Vec<&str> = statement.split(':').collect();
    let c: Vec<&str> = component.split(':').collect();
    s.len() == c.len()
        && s.iter()
            .zip(&c)
            .all(|(a, b)| *a == "*" || a.eq_ignore_ascii_case(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purl_and_cpe_matching() {
        let installed = "pkg:deb/debian/curl@7.88.1-10%2Bdeb12u15?arch=amd64&distro=debian-12";
        assert!(purl_matches(
            "pkg:deb/debian/curl@7.88.1-10%2Bdeb12u15",
            installed
        ));
        assert!(purl_matches("pkg:deb/debian/curl", installed));
        assert!(purl_matches("pkg:deb/debian/curl?arch=amd64", installed));
        assert!(!purl_matches("pkg:deb/debian/curl?arch=arm64", installed));
        assert!(!purl_matches(
            "pkg:deb/debian/curl@7.88.1-10%2Bdeb12u14",
            installed
        ));
        assert!(!purl_matches("pkg:deb/debian/libcurl4", installed));
        assert!(!purl_matches("not a purl", installed));
        let cpe = "cpe:2.3:a:haxx:curl:7.88.1:*:*:*:*:*:*:*";
        assert!(cpe_matches("cpe:2.3:a:haxx:curl:*:*:*:*:*:*:*:*", cpe));
        assert!(cpe_matches(cpe, cpe));
        assert!(!cpe_matches("cpe:2.3:a:haxx:curl:8.0.0:*:*:*:*:*:*:*", cpe));
        assert!(!cpe_matches("pkg:generic/curl", cpe));
    }
}
