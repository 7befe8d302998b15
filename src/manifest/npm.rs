//! npm's `package-lock.json` (and `npm-shrinkwrap.json`), lockfile versions
//! 1 (nested `dependencies`), 2 and 3 (flat `packages` keyed by install path).
//! Direct dependencies come from the root entry (v2/v3) or, for v1, from the
//! `package.json` beside the lockfile when the target has one.

use super::{Input, Package, find_line, from_json, json_key_lines, npm_purl};
use crate::model::Component;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;
use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::collections::HashMap;

/// Only the fields read are typed: a 100,000-package lockfile is not held
/// as a JSON tree (about ten times its size) while it is read.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Lock {
    lockfile_version: Option<Value>,
    packages: Option<BTreeMap<String, Installed>>,
    dependencies: Option<BTreeMap<String, Nested>>,
}

/// A v2/v3 `packages` entry, keyed by install path (`""` is the project).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Installed {
    version: Option<String>,
    name: Option<String>,
    #[serde(default)]
    link: bool,
    #[serde(default)]
    dependencies: BTreeMap<String, IgnoredAny>,
    #[serde(default)]
    dev_dependencies: BTreeMap<String, IgnoredAny>,
    #[serde(default)]
    optional_dependencies: BTreeMap<String, IgnoredAny>,
    #[serde(default)]
    peer_dependencies: BTreeMap<String, IgnoredAny>,
}

/// A v1 `dependencies` entry, with the packages nested below it.
#[derive(Deserialize)]
struct Nested {
    version: Option<String>,
    #[serde(default)]
    dependencies: BTreeMap<String, Nested>,
}

/// Components of the lockfile `input`.
pub fn parse_input(input: &Input) -> Result<Vec<Component>, String> {
    let manifest = input
        .sibling(&format!("{}package.json", input.dir()))
        .and_then(|data| serde_json::from_slice::<Value>(data).ok());
    parse_with(input.path, input.text()?, manifest.as_ref())
}

/// Components of the lockfile at `path`, with no `package.json` at hand.
pub fn parse(path: &str, text: &str) -> Result<Vec<Component>, String> {
    parse_with(path, text, None)
}

fn parse_with(path: &str, text: &str, manifest: Option<&Value>) -> Result<Vec<Component>, String> {
    let lock: Lock = from_json(text)?;
    let version = lock.lockfile_version.as_ref().and_then(Value::as_u64);
    let version_line = || find_line(text, "\"lockfileVersion\"");
    let mut out = match (version, lock.packages, lock.dependencies) {
        (Some(2 | 3), Some(packages), _) => from_packages(path, &json_key_lines(text), &packages),
        (Some(1), _, Some(deps)) => {
            let direct = manifest.map(direct_names);
            let mut out = Vec::new();
            from_dependencies(
                path,
                &json_key_lines(text),
                &deps,
                direct.as_ref(),
                &mut out,
            );
            out
        }
        (Some(1), _, None) => Vec::new(),
        (Some(2 | 3), None, _) => {
            return Err(format!(
                "line {}: lockfile version 2/3 without `packages`",
                version_line()
            ));
        }
        (None, ..) => {
            return Err("line 1: no `lockfileVersion`: not a package-lock.json".to_string());
        }
        (Some(_), ..) => {
            return Err(format!(
                "line {}: unsupported lockfileVersion {} (fwaudit reads 1, 2 and 3)",
                version_line(),
                lock.lockfile_version.unwrap_or_default()
            ));
        }
    };
    out.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
    out.dedup_by(|a, b| a.purl == b.purl);
    Ok(out)
}

/// Names a package.json depends on directly.
fn direct_names(root: &Value) -> BTreeSet<String> {
    [
        "dependencies",
        "devDependencies",
        "optionalDependencies",
        "peerDependencies",
    ]
    .iter()
    .filter_map(|k| root.get(*k)?.as_object())
    .flat_map(|m| m.keys().cloned())
    .collect()
}

fn from_packages(
    path: &str,
    lines: &HashMap<&str, usize>,
    packages: &BTreeMap<String, Installed>,
) -> Vec<Component> {
    let direct: BTreeSet<&str> = packages
        .get("")
        .map(|root| {
            [
                &root.dependencies,
                &root.dev_dependencies,
                &root.optional_dependencies,
                &root.peer_dependencies,
            ]
            .into_iter()
            .flat_map(|m| m.keys().map(String::as_str))
            .collect()
        })
        .unwrap_or_default();
    let mut out = Vec::new();
    for (key, entry) in packages {
        let Some(at) = key.rfind("node_modules/") else {
            continue;
        };
        if entry.link {
            continue;
        }
        let installed_as = &key[at + "node_modules/".len()..];
        let name = entry.name.as_deref().unwrap_or(installed_as);
        let Some(version) = entry.version.as_deref() else {
            continue;
        };
        let top_level = key.matches("node_modules/").count() == 1;
        out.push(component(
            path,
            name,
            version,
            lines.get(key.as_str()).copied().unwrap_or(1),
            Some(top_level && direct.contains(installed_as)),
        ));
    }
    out
}

fn from_dependencies(
    path: &str,
    lines: &HashMap<&str, usize>,
    deps: &BTreeMap<String, Nested>,
    direct: Option<&BTreeSet<String>>,
    out: &mut Vec<Component>,
) {
    for (name, entry) in deps {
        if let Some(version) = entry.version.as_deref() {
            // `file:` / git versions are not registry packages.
            if !version.contains(':') || version.starts_with("npm:") {
                let (name, version) = match version
                    .strip_prefix("npm:")
                    .and_then(|a| a.rsplit_once('@'))
                {
                    Some((alias, v)) => (alias, v),
                    None => (name.as_str(), version),
                };
                // Nested entries (`direct` is None below the top) are never direct.
                let is_direct = direct.map(|d| d.contains(name));
                out.push(component(
                    path,
                    name,
                    version,
                    lines.get(name).copied().unwrap_or(1),
                    is_direct,
                ));
            }
        }
        if !entry.dependencies.is_empty() {
            let below = direct.map(|_| &*NONE);
            from_dependencies(path, lines, &entry.dependencies, below, out);
        }
    }
}

static NONE: std::sync::LazyLock<BTreeSet<String>> = std::sync::LazyLock::new(BTreeSet::new);

fn component(
    path: &str,
    name: &str,
    version: &str,
    line: usize,
    direct: Option<bool>,
) -> Component {
    let mut c = Package {
        purl: npm_purl(name, version),
        name: name.to_string(),
        version: version.to_string(),
        ecosystem: "npm",
        osv: "npm",
        method: "package-lock",
        path,
        line,
    }
    .component();
    c.dependency = direct.map(|d| if d { "direct" } else { "transitive" }.to_string());
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v3_packages_with_scopes_and_nesting() {
        let text = r#"{"name":"app","lockfileVersion":3,"packages":{
"":{"dependencies":{"@babel/core":"^7"}},
"node_modules/@babel/core":{"version":"7.1.0"},
"node_modules/@babel/core/node_modules/ms":{"version":"2.0.0"},
"node_modules/local":{"link":true,"resolved":"../x"}}}"#;
        let c = parse("package-lock.json", text).unwrap();
        let got: Vec<_> = c
            .iter()
            .map(|c| (c.purl.as_str(), c.dependency.as_deref().unwrap()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("pkg:npm/%40babel/core@7.1.0", "direct"),
                ("pkg:npm/ms@2.0.0", "transitive")
            ]
        );
    }

    #[test]
    fn v1_nested_dependencies() {
        let text = r#"{"lockfileVersion":1,"dependencies":{"a":{"version":"1.0.0","dependencies":{"b":{"version":"2.0.0"}}}}}"#;
        let c = parse("p", text).unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[1].dependency, None);
        let manifest: Value = serde_json::from_str(r#"{"dependencies":{"a":"1"}}"#).unwrap();
        let c = parse_with("p", text, Some(&manifest)).unwrap();
        assert_eq!(c[0].dependency.as_deref(), Some("direct"));
        assert_eq!(c[1].dependency.as_deref(), Some("transitive"));
    }

    #[test]
    fn errors_name_lines() {
        assert_eq!(
            parse("p", "{\n\"lockfileVersion\": 9,\n\"packages\": {}}").unwrap_err(),
            "line 2: unsupported lockfileVersion 9 (fwaudit reads 1, 2 and 3)"
        );
        assert_eq!(
            parse("p", "{\n\"lockfileVersion\": 3,\n").unwrap_err(),
            "line 3: EOF while parsing a value"
        );
        assert_eq!(
            parse(
                "p",
                "{\"lockfileVersion\": 3,\n\"packages\": {},\n\"packages\": {}}"
            )
            .unwrap_err(),
            "line 3: duplicate field `packages`"
        );
    }
}
