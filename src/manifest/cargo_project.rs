//! A Cargo project or workspace directory, through `cargo metadata` (via the
//! `cargo_metadata` crate): the resolved graph tells direct dependencies of
//! the workspace members from transitive ones, with the features cargo
//! would really build. Runs `--locked --offline`: the scan never changes the
//! lockfile or touches the network. Host-side only; inside an image a
//! `Cargo.lock` is read by [`super::cargo_lock`] instead.
//!
//! `cargo metadata` runs no build scripts, but it asks rustc for the host
//! target, and a project's `.cargo/config.toml` may name the rustc (or a
//! wrapper) to run: both are pinned on the command line, which outranks
//! config files, so scanning a project does not run programs it names.

use super::Package;
use crate::model::Component;
use cargo_metadata::MetadataCommand;
use std::collections::BTreeSet;
use std::path::Path;

/// Components of the project whose `Cargo.toml` is in `dir`; `display` is
/// how the report names that directory.
pub fn components(dir: &Path, display: &str) -> Result<Vec<Component>, String> {
    let dir = dir
        .canonicalize()
        .map_err(|e| format!("cannot resolve {display}: {e}"))?;
    let manifest = dir.join("Cargo.toml");
    let evidence_path = format!("{}/Cargo.toml", display.trim_end_matches('/'));
    let metadata = MetadataCommand::new()
        .manifest_path(&manifest)
        .current_dir(&dir)
        .other_options(
            [
                "--locked",
                "--offline",
                "--config",
                "build.rustc=\"rustc\"",
                "--config",
                "build.rustc-wrapper=\"\"",
                "--config",
                "build.rustc-workspace-wrapper=\"\"",
            ]
            .map(String::from)
            .to_vec(),
        )
        .exec()
        .map_err(|e| match e {
            cargo_metadata::Error::Io(io) if io.kind() == std::io::ErrorKind::NotFound => {
                "cannot run `cargo metadata`: cargo not found (install Rust's cargo or set CARGO to its path); dependencies were read from Cargo.lock instead where present".to_string()
            }
            cargo_metadata::Error::CargoMetadata { stderr } => format!(
                "`cargo metadata --locked --offline` failed: {}",
                stderr.lines().find(|l| l.contains("error")).unwrap_or(stderr.trim())
            ),
            other => format!("cannot run `cargo metadata`: {other}"),
        })?;
    let members: BTreeSet<_> = metadata.workspace_members.iter().collect();
    let resolve = metadata
        .resolve
        .as_ref()
        .ok_or("`cargo metadata` gave no dependency graph")?;
    let direct: BTreeSet<_> = resolve
        .nodes
        .iter()
        .filter(|n| members.contains(&n.id))
        .flat_map(|n| n.deps.iter().map(|d| &d.pkg))
        .collect();
    let in_graph: BTreeSet<_> = resolve.nodes.iter().map(|n| &n.id).collect();
    let mut out: Vec<Component> = metadata
        .packages
        .iter()
        .filter(|p| !members.contains(&p.id) && in_graph.contains(&p.id))
        .map(|p| {
            let name = p.name.to_string();
            let version = p.version.to_string();
            let mut c = Package {
                purl: crate::purl::build("cargo", None, &name, &version, &[]),
                name,
                version,
                ecosystem: "cargo",
                osv: "crates.io",
                method: "cargo-metadata",
                path: &evidence_path,
                line: 1,
            }
            .component();
            c.sources[0].evidence = format!("cargo metadata: {} {}", p.name, p.version);
            // Path and git crates are not the crates.io releases advisories name.
            if !p.source.as_ref().is_some_and(|s| s.is_crates_io()) {
                c.ecosystem_osv = None;
            }
            let relation = if direct.contains(&p.id) {
                "direct"
            } else {
                "transitive"
            };
            c.dependency = Some(relation.to_string());
            c
        })
        .collect();
    out.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
    Ok(out)
}
