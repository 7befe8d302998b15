//! Rust `Cargo.lock` (formats v1 to v4), read with `rustsec`'s lockfile
//! parser, the one cargo-audit uses. Workspace members (no `source`) are
//! the project itself, not components; their dependencies are `direct`.

use super::{Package, find_line, toml_error, toml_package_lines};
use crate::model::Component;
use rustsec::Lockfile;
use std::collections::BTreeSet;

/// Components of the lockfile at `path`.
pub fn parse(path: &str, text: &str) -> Result<Vec<Component>, String> {
    // Syntax first, through `toml`, for errors with a line number; then the
    // version, because rustsec would read an unknown one as v1.
    let table: toml::Table = toml::from_str(text).map_err(|e| toml_error(text, &e))?;
    // v1 and v2 carry no `version` key; v3 and v4 say so.
    if let Some(version) = table.get("version")
        && !matches!(version.as_integer(), Some(3 | 4))
    {
        return Err(format!(
            "line {}: unsupported Cargo.lock version {version} (fwaudit reads v1 to v4)",
            find_line(text, "version =")
        ));
    }
    let lock: Lockfile = text
        .parse()
        .map_err(|e: rustsec::cargo_lock::Error| format!("line 1: not a Cargo.lock: {e}"))?;
    let direct: BTreeSet<String> = lock
        .packages
        .iter()
        .filter(|p| p.source.is_none())
        .flat_map(|p| p.dependencies.iter().map(|d| d.name.as_str().to_string()))
        .collect();
    let lines = toml_package_lines(text);
    let purl = |name: &str, version: &str| crate::purl::build("cargo", None, name, version, &[]);
    // Edges only to registry/git packages: workspace members are the project.
    let listed: BTreeSet<(&str, String)> = lock
        .packages
        .iter()
        .filter(|p| p.source.is_some())
        .map(|p| (p.name.as_str(), p.version.to_string()))
        .collect();
    Ok(lock
        .packages
        .iter()
        .filter(|p| p.source.is_some())
        .map(|p| {
            let name = p.name.as_str().to_string();
            let version = p.version.to_string();
            let line = lines
                .get(&(name.as_str(), version.as_str()))
                .copied()
                .unwrap_or(1);
            let mut c = Package {
                purl: purl(&name, &version),
                line,
                name: name.clone(),
                version,
                ecosystem: "cargo",
                osv: "crates.io",
                method: "cargo-lock",
                path,
            }
            .component();
            c.depends_on = p
                .dependencies
                .iter()
                .map(|d| (d.name.as_str(), d.version.to_string()))
                .filter(|key| listed.contains(key))
                .map(|(name, version)| purl(name, &version))
                .collect();
            c.depends_on.sort();
            c.depends_on.dedup();
            c.dependency = Some(
                if direct.contains(&name) {
                    "direct"
                } else {
                    "transitive"
                }
                .to_string(),
            );
            c
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const V3: &str = "version = 3\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\n\
                      dependencies = [\"smallvec\"]\n\n[[package]]\nname = \"smallvec\"\n\
                      version = \"0.6.9\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n\
                      checksum = \"c4488ae950c49d403731982257768f48fada354a5203fe81f9bb6f43ca9002be\"\n";

    #[test]
    fn reads_registry_packages() {
        let c = parse("Cargo.lock", V3).unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].purl, "pkg:cargo/smallvec@0.6.9");
        assert_eq!(c[0].ecosystem_osv.as_deref(), Some("crates.io"));
        assert_eq!(c[0].dependency.as_deref(), Some("direct"));
        assert_eq!(c[0].sources[0].evidence, "line 9: smallvec 0.6.9");
    }

    #[test]
    fn dependency_edges_between_registry_packages() {
        let text = "version = 3\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\ndependencies = [\"a\"]\n\n\
                    [[package]]\nname = \"a\"\nversion = \"1.0.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n\
                    dependencies = [\"b 2.0.0\", \"local\"]\n\n\
                    [[package]]\nname = \"b\"\nversion = \"2.0.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n\n\
                    [[package]]\nname = \"b\"\nversion = \"3.0.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n\n\
                    [[package]]\nname = \"local\"\nversion = \"0.1.0\"\n";
        let c = parse("Cargo.lock", text).unwrap();
        let edges = crate::manifest::edges(&c);
        assert_eq!(
            edges,
            [
                ("pkg:cargo/a@1.0.0", vec!["pkg:cargo/b@2.0.0"]),
                ("pkg:cargo/b@2.0.0", vec![]),
                ("pkg:cargo/b@3.0.0", vec![]),
            ]
        );
    }

    #[test]
    fn unknown_versions_and_bad_toml_name_a_line() {
        assert_eq!(
            parse("L", "# x\nversion = 99\n").unwrap_err(),
            "line 2: unsupported Cargo.lock version 99 (fwaudit reads v1 to v4)"
        );
        assert!(
            parse("L", "[[package]]\nname = \n")
                .unwrap_err()
                .starts_with("line 2: ")
        );
    }

    #[test]
    fn v1_and_v2_formats() {
        let v1 = "[[package]]\nname = \"app\"\nversion = \"0.1.0\"\ndependencies = [\n \"smallvec 1.6.0 (registry+https://github.com/rust-lang/crates.io-index)\",\n]\n\n\
                  [[package]]\nname = \"smallvec\"\nversion = \"1.6.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n\n\
                  [metadata]\n\"checksum smallvec 1.6.0 (registry+https://github.com/rust-lang/crates.io-index)\" = \"1a55ca5f3b68e41c979bf8c46a6f1da892ca4db8f94023ce0bd32407573b1ac0\"\n";
        let v2 = "[[package]]\nname = \"app\"\nversion = \"0.1.0\"\ndependencies = [\n \"smallvec\",\n]\n\n\
                  [[package]]\nname = \"smallvec\"\nversion = \"1.6.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n\
                  checksum = \"1a55ca5f3b68e41c979bf8c46a6f1da892ca4db8f94023ce0bd32407573b1ac0\"\n";
        for text in [v1, v2] {
            let c = parse("Cargo.lock", text).unwrap();
            let got: Vec<_> = c
                .iter()
                .map(|c| {
                    (
                        c.purl.as_str(),
                        c.dependency.as_deref(),
                        c.sources[0].evidence.as_str(),
                    )
                })
                .collect();
            assert_eq!(
                got,
                [(
                    "pkg:cargo/smallvec@1.6.0",
                    Some("direct"),
                    "line 9: smallvec 1.6.0"
                )]
            );
        }
    }
}
