//! Yarn's `yarn.lock`: the classic v1 format (its own indented syntax) and
//! berry's (Yarn 2+) YAML with a `__metadata` key. Entries resolved from
//! workspaces, links, patches or git are not registry packages and skipped.
//! With the `package.json` beside it, an entry is `direct` when one of its
//! `name@range` keys is a range the project asks for.

use super::{Input, Package, yaml_error};
use crate::model::Component;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};

/// One resolved entry: where, what, and the `name@range` keys it satisfies.
struct Entry {
    line: usize,
    name: String,
    version: String,
    specs: Vec<String>,
    /// `name@range` of each dependency, matched against other entries' specs.
    requires: Vec<String>,
}

/// Components of the lockfile `input`.
pub fn parse_input(input: &Input) -> Result<Vec<Component>, String> {
    let wanted = input
        .sibling(&format!("{}package.json", input.dir()))
        .and_then(|data| serde_json::from_slice::<Value>(data).ok())
        .map(|manifest| {
            ["dependencies", "devDependencies", "optionalDependencies"]
                .iter()
                .filter_map(|k| manifest.get(*k)?.as_object().cloned())
                .flatten()
                .filter_map(|(name, range)| Some(format!("{name}@{}", range.as_str()?)))
                .collect::<BTreeSet<String>>()
        });
    parse_with(input.path, input.text()?, wanted.as_ref())
}

/// Components of the lockfile at `path`, with no `package.json` at hand.
pub fn parse(path: &str, text: &str) -> Result<Vec<Component>, String> {
    parse_with(path, text, None)
}

fn parse_with(
    path: &str,
    text: &str,
    wanted: Option<&BTreeSet<String>>,
) -> Result<Vec<Component>, String> {
    let mut seen = BTreeSet::new();
    let found = if text.contains("__metadata:") {
        berry(text)?
    } else {
        classic(text)?
    };
    let resolved: HashMap<&str, String> = found
        .iter()
        .flat_map(|e| {
            e.specs
                .iter()
                .map(|s| (s.as_str(), crate::purl::npm(&e.name, &e.version)))
        })
        .collect();
    let edges: Vec<Vec<String>> = found
        .iter()
        .map(|e| {
            let mut on: Vec<String> = e
                .requires
                .iter()
                .filter_map(|spec| resolved.get(spec.as_str()).cloned())
                .collect();
            on.sort();
            on.dedup();
            on
        })
        .collect();
    Ok(found
        .into_iter()
        .zip(edges)
        .filter(|(e, _)| seen.insert((e.name.clone(), e.version.clone())))
        .map(
            |(
                Entry {
                    line,
                    name,
                    version,
                    specs,
                    ..
                },
                depends_on,
            )| {
                let direct = wanted.map(|w| specs.iter().any(|s| w.contains(s)));
                let mut c = Package {
                    purl: crate::purl::npm(&name, &version),
                    name,
                    version,
                    ecosystem: "npm",
                    osv: "npm",
                    method: "yarn-lock",
                    path,
                    line,
                }
                .component();
                c.dependency = direct.map(|d| if d { "direct" } else { "transitive" }.to_string());
                c.depends_on = depends_on;
                c
            },
        )
        .collect())
}

/// `name@range` -> `name`, keeping a scope's leading `@`.
fn spec_name(spec: &str) -> Option<&str> {
    let spec = spec.trim().trim_matches('"');
    // Skip the first character: a scope's own `@` is not the separator.
    let first = spec.chars().next().map_or(0, char::len_utf8);
    let at = spec[first..].find('@')? + first;
    Some(&spec[..at])
}

/// `"a@^1", a@~1.2` -> `["a@^1", "a@~1.2"]`; berry's `a@npm:^1` -> `a@^1`.
fn specs(header: &str) -> Vec<String> {
    header
        .split(", ")
        .map(|s| s.trim().trim_matches('"').replacen("@npm:", "@", 1))
        .collect()
}

fn classic(text: &str) -> Result<Vec<Entry>, String> {
    let mut out: Vec<Entry> = Vec::new();
    let mut current: Option<(usize, String, Vec<String>)> = None;
    // Inside an entry's `dependencies:` / `optionalDependencies:` block.
    let mut in_deps = false;
    for (n, line) in text.lines().enumerate() {
        let line_no = n + 1;
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        if in_deps && line.starts_with("    ") {
            // `    name "range"` belongs to the entry whose `version` came last.
            let mut parts = line.trim().splitn(2, ' ');
            if let (Some(name), Some(range), Some(entry)) =
                (parts.next(), parts.next(), out.last_mut())
            {
                let (name, range) = (name.trim_matches('"'), range.trim().trim_matches('"'));
                entry
                    .requires
                    .push(format!("{name}@{range}").replacen("@npm:", "@", 1));
            }
            continue;
        }
        in_deps = matches!(line.trim(), "dependencies:" | "optionalDependencies:")
            && line.starts_with("  ");
        if in_deps {
            continue;
        }
        if !line.starts_with(' ') {
            let header = line
                .strip_suffix(':')
                .ok_or_else(|| format!("line {line_no}: expected `name@range:`"))?;
            let first = header.split(", ").next().unwrap_or(header);
            let name =
                spec_name(first).ok_or_else(|| format!("line {line_no}: no `@` in {first:?}"))?;
            current = Some((line_no, name.to_string(), specs(header)));
            continue;
        }
        if let Some(v) = line.trim().strip_prefix("version ") {
            let (line, name, specs) = current
                .clone()
                .ok_or_else(|| format!("line {line_no}: `version` outside an entry"))?;
            let version = v.trim().trim_matches('"').to_string();
            out.push(Entry {
                line,
                name,
                version,
                specs,
                requires: Vec::new(),
            });
        }
    }
    Ok(out)
}

fn berry(text: &str) -> Result<Vec<Entry>, String> {
    let map: serde_yaml_ng::Mapping = serde_yaml_ng::from_str(text).map_err(|e| yaml_error(&e))?;
    // Top-level keys start a line: index them in one pass.
    let mut lines: HashMap<&str, usize> = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        if let Some(key) = line.strip_suffix(':').filter(|_| !line.starts_with(' ')) {
            lines.entry(key.trim_matches('"')).or_insert(n + 1);
        }
    }
    let mut out = Vec::new();
    for (key, entry) in &map {
        let Some(key) = key.as_str() else { continue };
        if key == "__metadata" {
            continue;
        }
        let Some(resolution) = entry.get("resolution").and_then(|r| r.as_str()) else {
            continue;
        };
        let Some((name, version)) = resolution.rsplit_once("@npm:") else {
            continue;
        };
        let requires = ["dependencies", "optionalDependencies"]
            .iter()
            .filter_map(|k| entry.get(*k)?.as_mapping())
            .flatten()
            .filter_map(|(n, r)| Some(format!("{}@{}", n.as_str()?, r.as_str()?)))
            .map(|spec| spec.replacen("@npm:", "@", 1))
            .collect();
        out.push(Entry {
            line: lines.get(key).copied().unwrap_or(1),
            name: name.to_string(),
            version: version.to_string(),
            specs: specs(key),
            requires,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_v1() {
        let text = "# yarn lockfile v1\n\n\n\"@babel/code-frame@^7.0.0\", \"@babel/code-frame@^7.10.4\":\n  version \"7.12.13\"\n\
                    \nlodash@^4.17.20:\n  version \"4.17.20\"\n  resolved \"https://x\"\n";
        let c = parse("yarn.lock", text).unwrap();
        let got: Vec<_> = c
            .iter()
            .map(|c| (c.purl.as_str(), c.sources[0].evidence.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "pkg:npm/%40babel/code-frame@7.12.13",
                    "line 4: @babel/code-frame 7.12.13"
                ),
                ("pkg:npm/lodash@4.17.20", "line 7: lodash 4.17.20"),
            ]
        );
        assert_eq!(
            parse("y", "lodash@^4\n").unwrap_err(),
            "line 1: expected `name@range:`"
        );
    }

    #[test]
    fn dependency_edges_classic_and_berry() {
        let classic = "a@^1.0.0:\n  version \"1.2.0\"\n  dependencies:\n    b \"^2.0.0\"\n    \"@s/c\" \"~3.1\"\n  \
                       resolved \"https://x\"\n\nb@^2.0.0, b@^2.1.0:\n  version \"2.2.0\"\n\n\"@s/c@~3.1\":\n  version \"3.1.5\"\n";
        let c = parse("yarn.lock", classic).unwrap();
        assert_eq!(c[0].depends_on, ["pkg:npm/%40s/c@3.1.5", "pkg:npm/b@2.2.0"]);
        let berry = "__metadata:\n  version: 6\n\n\"a@npm:^1.0.0\":\n  version: 1.2.0\n  resolution: \"a@npm:1.2.0\"\n  \
                     dependencies:\n    b: \"npm:^2.0.0\"\n\n\"b@npm:^2.0.0\":\n  version: 2.2.0\n  resolution: \"b@npm:2.2.0\"\n";
        let c = parse("yarn.lock", berry).unwrap();
        assert_eq!(c[0].depends_on, ["pkg:npm/b@2.2.0"]);
    }

    #[test]
    fn berry() {
        let text = "__metadata:\n  version: 6\n\n\"app@workspace:.\":\n  version: 0.0.0-use.local\n  resolution: \"app@workspace:.\"\n\n\
                    \"lodash@npm:^4.17.20\":\n  version: 4.17.21\n  resolution: \"lodash@npm:4.17.21\"\n";
        let c = parse("yarn.lock", text).unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].purl, "pkg:npm/lodash@4.17.21");
        assert_eq!(c[0].sources[0].evidence, "line 8: lodash 4.17.21");
    }
}
