//! Alpine's database of installed packages, `/lib/apk/db/installed`: one
//! stanza per package, one `K:value` line per field (`P` name, `V` version,
//! `A` arch, `o` origin, `F` directory and `R` file for the files list,
//! `D` dependencies and `p` provides such as `so:libcrypto.so.3`).

use super::{Parsed, Relations};
use crate::identify::catalog;
use crate::model::{Component, Distro, Evidence, Upstream};

struct Entry {
    line: usize,
    name: Option<String>,
    version: Option<String>,
    arch: Option<String>,
    origin: Option<String>,
    dir: String,
    files: Vec<String>,
    depends: Vec<Vec<String>>,
    provides: Vec<String>,
}

impl Entry {
    fn new(line: usize) -> Entry {
        Entry {
            line,
            name: None,
            version: None,
            arch: None,
            origin: None,
            dir: String::new(),
            files: Vec::new(),
            depends: Vec::new(),
            provides: Vec::new(),
        }
    }
}

/// Installed packages in an apk database at `path`.
pub fn parse(path: &str, text: &str, distro: Option<&Distro>) -> Result<Parsed, String> {
    let mut entries = Vec::new();
    let mut current: Option<Entry> = None;
    for (n, line) in text.lines().enumerate() {
        let line_no = n + 1;
        if line.trim().is_empty() {
            entries.extend(current.take());
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            return Err(format!("line {line_no}: expected `K:value`"));
        };
        let entry = current.get_or_insert_with(|| Entry::new(line_no));
        match key {
            "P" => entry.name = Some(value.to_string()),
            "V" => entry.version = Some(value.to_string()),
            "A" => entry.arch = Some(value.to_string()),
            "o" => entry.origin = Some(value.to_string()),
            "F" => entry.dir = value.to_string(),
            // `!name` is a conflict, not a dependency.
            "D" => entry.depends.extend(
                value
                    .split_whitespace()
                    .filter(|d| !d.starts_with('!'))
                    .map(|d| vec![constraint_name(d).to_string()]),
            ),
            "p" => entry.provides.extend(
                value
                    .split_whitespace()
                    .map(|p| constraint_name(p).to_string()),
            ),
            "R" => {
                let file = if entry.dir.is_empty() {
                    format!("/{value}")
                } else {
                    format!("/{}/{value}", entry.dir)
                };
                entry.files.push(file);
            }
            k if k.len() == 1 => {}
            _ => return Err(format!("line {line_no}: malformed field name {key:?}")),
        }
    }
    entries.extend(current);
    let relations = entries
        .iter()
        .enumerate()
        .map(|(component, e)| Relations {
            component,
            provides: e.provides.clone(),
            depends: e.depends.clone(),
        })
        .collect();
    let components = entries
        .into_iter()
        .map(|e| component(path, e, distro))
        .collect::<Result<_, _>>()?;
    Ok(Parsed::with_relations(components, relations))
}

/// `so:libc.musl-x86_64.so.1`, `busybox>=1.36` or `cmd:ssl=3.1.4-r5` without
/// its version constraint.
fn constraint_name(item: &str) -> &str {
    item.split(['<', '>', '=', '~']).next().unwrap_or(item)
}

fn component(path: &str, e: Entry, distro: Option<&Distro>) -> Result<Component, String> {
    let (Some(name), Some(version)) = (e.name, e.version) else {
        return Err(format!("line {}: package without `P:` or `V:`", e.line));
    };
    let distro = distro.filter(|d| d.is_like(&["alpine", "wolfi", "postmarketos", "chainguard"]));
    let vendor = distro.map_or("alpine", |d| d.id.as_str());
    let release = distro.and_then(Distro::purl_distro).unwrap_or_default();
    let purl = crate::purl::build(
        "apk",
        Some(vendor),
        &name,
        &version,
        &[
            ("arch", e.arch.as_deref().unwrap_or_default()),
            ("distro", &release),
        ],
    );
    let product = e
        .origin
        .as_deref()
        .and_then(catalog::product_for_package)
        .or_else(|| catalog::product_for_package(&name));
    let upstream = product.map(|p| Upstream {
        name: p.to_string(),
        version: crate::version::upstream_of("apk", &version),
    });
    let source_package = Some(e.origin.clone().unwrap_or_else(|| name.clone()));
    Ok(Component {
        source_package,
        sources: vec![Evidence {
            sha256: None,
            method: "apk-installed".to_string(),
            path: path.to_string(),
            offset: None,
            line: None,
            evidence: format!("line {}: P:{name} V:{version}", e.line),
            package: None,
        }],
        cpe: upstream
            .as_ref()
            .and_then(|u| catalog::cpe(&u.name, &u.version)),
        upstream,
        name,
        version,
        purl,
        ecosystem: "apk".to_string(),
        ecosystem_osv: Some(
            distro
                .and_then(Distro::osv_ecosystem)
                .unwrap_or_else(|| "Alpine".to_string()),
        ),
        files: e.files,
        ..Component::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DB: &str = "C:Q1abc=\nP:busybox\nV:1.36.1-r5\nA:x86_64\no:busybox\n\
                      D:so:libc.musl-x86_64.so.1 so:libcrypto.so.3 !busybox-old\n\
                      F:bin\nR:busybox\nF:etc\nR:securetty\n\n\
                      P:libcrypto3\nV:3.1.4-r1\nA:x86_64\no:openssl\nF:lib\nR:libcrypto.so.3\n\
                      p:so:libcrypto.so.3=3 cmd:openssl>3\n";

    #[test]
    fn reads_packages_origins_and_files() {
        let c = parse("installed", DB, None).unwrap().components;
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].purl, "pkg:apk/alpine/busybox@1.36.1-r5?arch=x86_64");
        assert_eq!(c[0].files, vec!["/bin/busybox", "/etc/securetty"]);
        let up = c[1].upstream.as_ref().unwrap();
        assert_eq!(
            (up.name.as_str(), up.version.as_str()),
            ("openssl", "3.1.4")
        );
        assert_eq!(c[1].sources[0].evidence, "line 12: P:libcrypto3 V:3.1.4-r1");
    }

    #[test]
    fn dependencies_and_provides() {
        let r = parse("installed", DB, None).unwrap().relations;
        assert_eq!(
            r[0].depends,
            [vec!["so:libc.musl-x86_64.so.1"], vec!["so:libcrypto.so.3"]]
        );
        assert_eq!(r[1].provides, ["so:libcrypto.so.3", "cmd:openssl"]);
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(
            parse("i", "P:x\nV:1\n\nP:y\n", None).unwrap_err(),
            "line 4: package without `P:` or `V:`"
        );
        assert_eq!(
            parse("i", "P:x\ngarbage\n", None).unwrap_err(),
            "line 2: expected `K:value`"
        );
    }
}
