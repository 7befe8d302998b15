//! pnpm's `pnpm-lock.yaml`, lockfile versions 5.x (`/name/1.0.0` keys),
//! 6.x (`/name@1.0.0`) and 9.x (`name@1.0.0`); peer suffixes `(...)` dropped.

use super::{Package, find_line, yaml_error};
use crate::model::Component;
use serde_yaml_ng::Value;
use std::collections::BTreeSet;

/// Components of the lockfile at `path`.
pub fn parse(path: &str, text: &str) -> Result<Vec<Component>, String> {
    let doc: Value = serde_yaml_ng::from_str(text).map_err(|e| yaml_error(&e))?;
    let version = match doc.get("lockfileVersion") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err("line 1: no `lockfileVersion`: not a pnpm lockfile".to_string()),
    };
    let major = version.split('.').next().unwrap_or("");
    if !matches!(major, "5" | "6" | "7" | "9") {
        return Err(format!(
            "line {}: unsupported pnpm lockfileVersion {version} (fwaudit reads 5, 6 and 9)",
            find_line(text, "lockfileVersion")
        ));
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    let Some(packages) = doc.get("packages").and_then(Value::as_mapping) else {
        return Ok(out);
    };
    // v9 lists the root project's own dependencies under `importers: .:`,
    // older versions at the top level; `version` there may carry a peer suffix.
    let root = doc
        .get("importers")
        .and_then(|i| i.get("."))
        .unwrap_or(&doc);
    let mut direct = BTreeSet::new();
    for kind in ["dependencies", "devDependencies", "optionalDependencies"] {
        for (name, spec) in root
            .get(kind)
            .and_then(Value::as_mapping)
            .into_iter()
            .flatten()
        {
            let version = match spec {
                Value::String(v) => Some(v.as_str()),
                other => other.get("version").and_then(Value::as_str),
            };
            if let (Some(name), Some(version)) = (name.as_str(), version) {
                let version = version.split('(').next().unwrap_or(version);
                direct.insert((name.to_string(), version.to_string()));
            }
        }
    }
    for key in packages.keys().filter_map(Value::as_str) {
        let Some((name, version)) = split_key(key) else {
            continue;
        };
        if !seen.insert((name.clone(), version.clone())) {
            continue;
        }
        let relation = match direct.contains(&(name.clone(), version.clone())) {
            true => "direct",
            false => "transitive",
        };
        let mut c = Package {
            purl: crate::purl::npm(&name, &version),
            line: find_line(text, key),
            name,
            version,
            ecosystem: "npm",
            osv: "npm",
            method: "pnpm-lock",
            path,
        }
        .component();
        c.dependency = Some(relation.to_string());
        out.push(c);
    }
    link_dependencies(&doc, &mut out);
    Ok(out)
}

/// `depends_on` from each package's `dependencies` and `optionalDependencies`
/// (under `packages` up to v6, under `snapshots` in v9, where one package may
/// appear once per peer set). A value is a version, or a whole key for an
/// aliased package; `link:` values point into the project.
fn link_dependencies(doc: &Value, out: &mut [Component]) {
    let index: std::collections::HashMap<(String, String), usize> = out
        .iter()
        .enumerate()
        .map(|(i, c)| ((c.name.clone(), c.version.clone()), i))
        .collect();
    for table in ["packages", "snapshots"] {
        let Some(entries) = doc.get(table).and_then(Value::as_mapping) else {
            continue;
        };
        for (key, entry) in entries {
            let Some(&from) = key.as_str().and_then(split_key).and_then(|k| index.get(&k)) else {
                continue;
            };
            for kind in ["dependencies", "optionalDependencies"] {
                let deps = entry.get(kind).and_then(Value::as_mapping);
                for (name, spec) in deps.into_iter().flatten() {
                    let (Some(name), Some(spec)) = (name.as_str(), spec.as_str()) else {
                        continue;
                    };
                    if spec.starts_with("link:") {
                        continue;
                    }
                    let spec = spec.split('(').next().unwrap_or(spec);
                    let after_first = spec.char_indices().nth(1).map_or("", |(i, _)| &spec[i..]);
                    let target = match spec.starts_with('/') || after_first.contains('@') {
                        true => split_key(spec),
                        false => Some((name.to_string(), spec.to_string())),
                    };
                    if let Some(&to) = target.as_ref().and_then(|t| index.get(t))
                        && to != from
                    {
                        let purl = out[to].purl.clone();
                        out[from].depends_on.push(purl);
                    }
                }
            }
        }
    }
    for c in out.iter_mut() {
        c.depends_on.sort();
        c.depends_on.dedup();
    }
}

fn split_key(key: &str) -> Option<(String, String)> {
    let key = key.strip_prefix('/').unwrap_or(key);
    let key = key.split('(').next()?;
    // Skip the first character: a scope's own `@` is not the separator.
    let first = key.chars().next().map_or(0, char::len_utf8);
    let split = match key[first..].find('@') {
        Some(i) => (first + i, first + i + 1),
        None => {
            let i = key.rfind('/')?; // v5: `name/1.0.0`, `@scope/name/1.0.0`
            (i, i + 1)
        }
    };
    let (name, version) = (&key[..split.0], key.get(split.1..)?);
    // v5 and v6 may append `_peer@x` after the version.
    let version = version.split('_').next()?;
    (!name.is_empty() && !version.is_empty()).then(|| (name.to_string(), version.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_every_version() {
        assert_eq!(
            split_key("/lodash/4.17.21"),
            Some(("lodash".into(), "4.17.21".into()))
        );
        assert_eq!(
            split_key("/@babel/core/7.1.0"),
            Some(("@babel/core".into(), "7.1.0".into()))
        );
        assert_eq!(
            split_key("/@babel/core@7.1.0(supports-color@5.0.0)"),
            Some(("@babel/core".into(), "7.1.0".into()))
        );
        assert_eq!(split_key("ms@2.1.3"), Some(("ms".into(), "2.1.3".into())));
    }

    #[test]
    fn edges_from_snapshots_and_packages() {
        let v9 = "lockfileVersion: '9.0'\npackages:\n  a@1.0.0:\n    resolution: {integrity: x}\n  \
                  b@2.0.0:\n    resolution: {integrity: x}\n  real@3.0.0:\n    resolution: {integrity: x}\n\
                  snapshots:\n  a@1.0.0(b@2.0.0):\n    dependencies:\n      b: 2.0.0\n      \
                  alias: real@3.0.0\n      local: link:../local\n  b@2.0.0: {}\n  real@3.0.0: {}\n";
        let c = parse("pnpm-lock.yaml", v9).unwrap();
        assert_eq!(c[0].depends_on, ["pkg:npm/b@2.0.0", "pkg:npm/real@3.0.0"]);
        let v6 = "lockfileVersion: '6.0'\npackages:\n  /a@1.0.0:\n    dependencies:\n      \
                  b: 2.0.0(c@1.0.0)\n  /b@2.0.0:\n    resolution: {integrity: x}\n";
        let c = parse("pnpm-lock.yaml", v6).unwrap();
        assert_eq!(c[0].depends_on, ["pkg:npm/b@2.0.0"]);
    }

    #[test]
    fn reads_v9() {
        let text = "lockfileVersion: '9.0'\n\npackages:\n\n  ms@2.1.3:\n    resolution: {integrity: sha512-x}\n";
        let c = parse("pnpm-lock.yaml", text).unwrap();
        assert_eq!(c[0].purl, "pkg:npm/ms@2.1.3");
        assert_eq!(c[0].sources[0].evidence, "line 5: ms 2.1.3");
        assert_eq!(
            parse("p", "lockfileVersion: '3.0'\n").unwrap_err(),
            "line 1: unsupported pnpm lockfileVersion 3.0 (fwaudit reads 5, 6 and 9)"
        );
    }
}
