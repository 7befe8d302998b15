//! Poetry's `poetry.lock`: TOML with one `[[package]]` table per locked
//! distribution (`name`, `version`, optional `source` for non-PyPI ones).

use super::{Package, from_toml, pypi_name, toml_package_lines};
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
    /// Poetry: a table `name = constraint`; uv: an array of `{name, version?}`.
    pub dependencies: Option<toml::Value>,
}

impl Locked {
    /// (normalised name, version if the lock pins it here) of each dependency.
    fn dependency_names(&self) -> Vec<(String, Option<&str>)> {
        match &self.dependencies {
            Some(toml::Value::Table(t)) => t.keys().map(|k| (pypi_name(k), None)).collect(),
            Some(toml::Value::Array(items)) => items
                .iter()
                .filter_map(|i| {
                    let name = i.get("name")?.as_str()?;
                    Some((
                        pypi_name(name),
                        i.get("version").and_then(toml::Value::as_str),
                    ))
                })
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// Components of the lockfile at `path`.
pub fn parse(path: &str, text: &str) -> Result<Vec<Component>, String> {
    let lock: Lock = from_toml(text)?;
    Ok(components(path, text, lock, "poetry-lock"))
}

/// Shared with `uv.lock`, whose `[[package]]` tables have the same keys.
pub(super) fn components(path: &str, text: &str, lock: Lock, method: &str) -> Vec<Component> {
    let lines = toml_package_lines(text);
    let purl = |name: &str, version: &str| crate::purl::build("pypi", None, name, version, &[]);
    // name -> locked versions, to turn dependency names into edges.
    let mut versions: std::collections::BTreeMap<String, Vec<&str>> = Default::default();
    for p in &lock.package {
        if let Some(v) = &p.version {
            versions.entry(pypi_name(&p.name)).or_default().push(v);
        }
    }
    let edges: Vec<Vec<String>> = lock
        .package
        .iter()
        .map(|p| {
            let mut on: Vec<String> = p
                .dependency_names()
                .into_iter()
                .filter_map(|(name, pinned)| {
                    let locked = versions.get(&name)?;
                    let version = match pinned {
                        Some(v) => *locked.iter().find(|l| **l == v)?,
                        None => *locked.first()?,
                    };
                    Some(purl(&name, version))
                })
                .collect();
            on.sort();
            on.dedup();
            on
        })
        .collect();
    lock.package
        .into_iter()
        .zip(edges)
        .filter_map(|(p, depends_on)| {
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
            let mut c = Package {
                purl: purl(&name, &version),
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
            .component();
            c.depends_on = depends_on;
            Some(c)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependency_edges_poetry_and_uv() {
        let poetry = "[[package]]\nname = \"Requests\"\nversion = \"2.31.0\"\n\
                      [package.dependencies]\nurllib3 = \">=1.21\"\nidna = {version = \"<4\"}\nmissing = \"*\"\n\n\
                      [[package]]\nname = \"urllib3\"\nversion = \"2.0.7\"\n\n\
                      [[package]]\nname = \"idna\"\nversion = \"3.4\"\n";
        let c = parse("poetry.lock", poetry).unwrap();
        assert_eq!(
            c[0].depends_on,
            ["pkg:pypi/idna@3.4", "pkg:pypi/urllib3@2.0.7"]
        );
        let uv = "[[package]]\nname = \"app\"\nversion = \"1.0\"\n\
                  dependencies = [{ name = \"numpy\", version = \"2.0.0\" }]\n\n\
                  [[package]]\nname = \"numpy\"\nversion = \"1.26.4\"\n\n\
                  [[package]]\nname = \"numpy\"\nversion = \"2.0.0\"\n";
        let lock: Lock = from_toml(uv).unwrap();
        let c = components("uv.lock", uv, lock, "uv-lock");
        assert_eq!(c[0].depends_on, ["pkg:pypi/numpy@2.0.0"]);
    }

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
