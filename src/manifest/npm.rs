//! npm's `package-lock.json` (and `npm-shrinkwrap.json`), lockfile versions
//! 1 (nested `dependencies`), 2 and 3 (flat `packages` keyed by install path).
//! Direct dependencies come from the root entry (v2/v3) or, for v1, from the
//! `package.json` beside the lockfile when the target has one.

use super::{Input, Package, find_line, from_json, json_key_lines};
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
    /// A link's target, the key of another entry.
    resolved: Option<String>,
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
    /// Names this package depends on, resolved like `require()` does: in its
    /// own `dependencies`, then in each enclosing level's.
    #[serde(default)]
    requires: BTreeMap<String, IgnoredAny>,
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
                &[&deps],
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
    // One package installed at several paths is one component; its copies
    // may resolve their dependencies to different installs.
    out.dedup_by(|a, b| {
        let same = a.purl == b.purl;
        if same {
            b.depends_on.append(&mut a.depends_on);
        }
        same
    });
    for c in &mut out {
        c.depends_on.sort();
        c.depends_on.dedup();
    }
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
        let mut c = component(
            path,
            name,
            version,
            lines.get(key.as_str()).copied().unwrap_or(1),
            Some(top_level && direct.contains(installed_as)),
        );
        c.depends_on = [
            &entry.dependencies,
            &entry.optional_dependencies,
            &entry.peer_dependencies,
        ]
        .into_iter()
        .flat_map(|m| m.keys())
        .filter_map(|dep| {
            let found = resolve_installed(packages, key, dep)?;
            let name = found.name.as_deref().unwrap_or(dep);
            Some(crate::purl::npm(name, found.version.as_deref()?))
        })
        .collect();
        out.push(c);
    }
    out
}

/// Where node finds `dep` when the package installed at `key` requires it:
/// `key/node_modules/dep`, then the same in each enclosing package, then
/// the top-level `node_modules/dep`. Links are followed to their target
/// when it is an installed package.
fn resolve_installed<'a>(
    packages: &'a BTreeMap<String, Installed>,
    key: &str,
    dep: &str,
) -> Option<&'a Installed> {
    let mut dir = key;
    loop {
        let candidate = if dir.is_empty() {
            format!("node_modules/{dep}")
        } else {
            format!("{dir}/node_modules/{dep}")
        };
        if let Some(entry) = packages.get(&candidate) {
            if !entry.link {
                return Some(entry);
            }
            // A link to a workspace package points into the project itself.
            let target = entry.resolved.as_deref()?;
            return packages
                .get(target)
                .filter(|e| !e.link && target.contains("node_modules/"));
        }
        if dir.is_empty() {
            return None;
        }
        dir = dir.rfind("/node_modules/").map_or("", |at| &dir[..at]);
    }
}

/// `scopes` are the `dependencies` maps from the top down to the one being read.
fn from_dependencies(
    path: &str,
    lines: &HashMap<&str, usize>,
    scopes: &[&BTreeMap<String, Nested>],
    direct: Option<&BTreeSet<String>>,
    out: &mut Vec<Component>,
) {
    let Some(deps) = scopes.last() else { return };
    for (name, entry) in deps.iter() {
        let mut inner = scopes.to_vec();
        inner.push(&entry.dependencies);
        if let Some((name, version)) = registry_package(name, entry) {
            // Nested entries (`direct` is None below the top) are never direct.
            let is_direct = direct.map(|d| d.contains(name));
            let mut c = component(
                path,
                name,
                version,
                lines.get(name).copied().unwrap_or(1),
                is_direct,
            );
            c.depends_on = entry
                .requires
                .keys()
                .filter_map(|dep| {
                    let (name, found) = inner.iter().rev().find_map(|s| s.get_key_value(dep))?;
                    let (name, version) = registry_package(name, found)?;
                    Some(crate::purl::npm(name, version))
                })
                .collect();
            out.push(c);
        }
        if !entry.dependencies.is_empty() {
            let below = direct.map(|_| &*NONE);
            from_dependencies(path, lines, &inner, below, out);
        }
    }
}

/// The registry name and version of a v1 entry (`npm:` aliases name the
/// real package); `file:` and git versions are not registry packages.
fn registry_package<'a>(name: &'a str, entry: &'a Nested) -> Option<(&'a str, &'a str)> {
    let version = entry.version.as_deref()?;
    if version.contains(':') && !version.starts_with("npm:") {
        return None;
    }
    Some(
        version
            .strip_prefix("npm:")
            .and_then(|a| a.rsplit_once('@'))
            .unwrap_or((name, version)),
    )
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
        purl: crate::purl::npm(name, version),
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
    fn v3_edges_follow_node_resolution() {
        let text = r#"{"lockfileVersion":3,"packages":{
"":{"dependencies":{"a":"1","b":"1"}},
"node_modules/a":{"version":"1.0.0","dependencies":{"ms":"^2.1"},"optionalDependencies":{"gone":"1"}},
"node_modules/b":{"version":"1.0.0","dependencies":{"ms":"^2.0","w":"*"}},
"node_modules/b/node_modules/ms":{"version":"2.0.0"},
"node_modules/ms":{"version":"2.1.3"},
"node_modules/w":{"link":true,"resolved":"packages/w"},
"packages/w":{"name":"w","version":"0.1.0"},
"node_modules/x":{"version":"1.0.0","dependencies":{"y":"1"}},
"node_modules/y":{"link":true,"resolved":"node_modules/z/node_modules/y"},
"node_modules/z/node_modules/y":{"version":"9.0.0"}}}"#;
        let c = parse("package-lock.json", text).unwrap();
        let edges = crate::manifest::edges(&c);
        assert_eq!(
            edges,
            [
                ("pkg:npm/a@1.0.0", vec!["pkg:npm/ms@2.1.3"]),
                ("pkg:npm/b@1.0.0", vec!["pkg:npm/ms@2.0.0"]),
                ("pkg:npm/ms@2.0.0", vec![]),
                ("pkg:npm/ms@2.1.3", vec![]),
                ("pkg:npm/x@1.0.0", vec!["pkg:npm/y@9.0.0"]),
                ("pkg:npm/y@9.0.0", vec![]),
            ]
        );
    }

    #[test]
    fn v1_edges_search_enclosing_levels() {
        let text = r#"{"lockfileVersion":1,"dependencies":{
"a":{"version":"1.0.0","requires":{"b":"^2","c":"1"},"dependencies":{"b":{"version":"2.0.0","requires":{"c":"1"}}}},
"b":{"version":"3.0.0"},
"c":{"version":"1.0.0"},
"d":{"version":"npm:real@4.0.0","requires":{"missing":"1"}}}}"#;
        let c = parse("p", text).unwrap();
        let edges = crate::manifest::edges(&c);
        assert_eq!(
            edges,
            [
                (
                    "pkg:npm/a@1.0.0",
                    vec!["pkg:npm/b@2.0.0", "pkg:npm/c@1.0.0"]
                ),
                ("pkg:npm/b@2.0.0", vec!["pkg:npm/c@1.0.0"]),
                ("pkg:npm/b@3.0.0", vec![]),
                ("pkg:npm/c@1.0.0", vec![]),
                ("pkg:npm/real@4.0.0", vec![]),
            ]
        );
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
