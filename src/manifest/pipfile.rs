//! Pipenv's `Pipfile.lock`: JSON with `default` and `develop` maps from
//! project name to `{"version": "==X"}`.

use super::{Package, from_json, json_key_lines, pypi_name};
use crate::model::Component;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Deserialize)]
struct Lock {
    #[serde(rename = "_meta")]
    _meta: serde_json::Value,
    #[serde(default)]
    default: BTreeMap<String, Entry>,
    #[serde(default)]
    develop: BTreeMap<String, Entry>,
}

#[derive(Deserialize)]
struct Entry {
    version: Option<String>,
}

/// Components of the lockfile at `path`.
pub fn parse(path: &str, text: &str) -> Result<Vec<Component>, String> {
    let lock: Lock = from_json(text)?;
    let lines = json_key_lines(text);
    let mut out = Vec::new();
    for (raw, entry) in lock.default.iter().chain(&lock.develop) {
        // Git and path entries carry no version.
        let Some(version) = entry.version.as_deref().and_then(|v| v.strip_prefix("==")) else {
            continue;
        };
        let name = pypi_name(raw);
        out.push(
            Package {
                purl: crate::purl::build("pypi", None, &name, version, &[]),
                line: lines.get(raw.as_str()).copied().unwrap_or(1),
                name,
                version: version.to_string(),
                ecosystem: "pypi",
                osv: "PyPI",
                method: "pipfile-lock",
                path,
            }
            .component(),
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_default_and_develop() {
        let text = "{\"_meta\": {},\n\"default\": {\n\"Django\": {\"version\": \"==2.2.1\"}},\n\"develop\": {\"pytest\": {\"version\": \"==7.0.0\"}}}";
        let c = parse("Pipfile.lock", text).unwrap();
        assert_eq!(
            c.iter().map(|c| c.purl.as_str()).collect::<Vec<_>>(),
            vec!["pkg:pypi/django@2.2.1", "pkg:pypi/pytest@7.0.0"]
        );
        assert_eq!(c[0].sources[0].evidence, "line 3: django 2.2.1");
        assert_eq!(
            parse("p", "{\"default\": {}}").unwrap_err(),
            "line 1: missing field `_meta`"
        );
    }
}
