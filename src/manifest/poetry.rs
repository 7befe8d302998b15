//! Poetry's `poetry.lock`: TOML with one `[[package]]` table per locked
//! distribution (`name`, `version`, optional `source` for non-PyPI ones).

use super::{Package, from_toml, pypi_name, toml_package_lines};
use crate::identify::purl_escape;
use crate::model::Component;
use serde::Deserialize;

#[derive(Deserialize)]
pub(super) struct Lock {
    #[serde(default)]
    pub package: Vec<Locked>,
}

#[derive(Deserialize)]
pub(super) struct Locked {
    pub name: String,
    pub version: Option<String>,
    pub source: Option<toml::Value>,
}

/// Components of the lockfile at `path`.
pub fn parse(path: &str, text: &str) -> Result<Vec<Component>, String> {
    let lock: Lock = from_toml(text)?;
    Ok(components(path, text, lock, "poetry-lock"))
}

/// Shared with `uv.lock`, whose `[[package]]` tables have the same keys.
pub(super) fn components(path: &str, text: &str, lock: Lock, method: &str) -> Vec<Component> {
    let lines = toml_package_lines(text);
    lock.package
        .into_iter()
        .filter_map(|p| {
            let version = p.version?;
            // A project's own (editable/virtual/directory) entry is not a dependency.
            let local = p.source.as_ref().is_some_and(|s| {
                ["editable", "virtual", "directory"]
                    .iter()
                    .any(|k| s.get(k).is_some())
                    || s.get("type")
                        .and_then(toml::Value::as_str)
                        .is_some_and(|t| t == "directory")
            });
            if local {
                return None;
            }
            let name = pypi_name(&p.name);
            Some(
                Package {
                    purl: format!("pkg:pypi/{name}@{}", purl_escape(&version)),
                    line: lines
                        .get(&(p.name.as_str(), version.as_str()))
                        .copied()
                        .unwrap_or(1),
                    name,
                    version,
                    ecosystem: "pypi",
                    osv: "PyPI",
                    method,
                    path,
                }
                .component(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_packages() {
        let text = "[[package]]\nname = \"Jinja2\"\nversion = \"2.10\"\n\n[metadata]\nlock-version = \"2.0\"\n";
        let c = parse("poetry.lock", text).unwrap();
        assert_eq!(c[0].purl, "pkg:pypi/jinja2@2.10");
        assert_eq!(c[0].sources[0].evidence, "line 2: jinja2 2.10");
        assert!(
            parse("p", "[[package]]\nname = 3\n")
                .unwrap_err()
                .starts_with("line 2: ")
        );
    }
}
