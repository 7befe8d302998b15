//! U-Boot verified boot (doc/usage/fit/signature.rst): a control device tree
//! whose `/signature/key-*` node says `required = "conf"` (or `"image"`)
//! makes U-Boot refuse a FIT configuration (or image) that no signature by
//! that key covers. A FIT shipped in the same image with unsigned
//! configurations or images, or signed by another key, does not boot on a
//! device that enforces it, or the enforcement is not what it seems: either
//! way a `config` finding, with the key and the FIT as evidence.

use super::rules;
use crate::model::Finding;
use crate::unpack::Unpacked;
use crate::unpack::formats::dtb::{self, Prop};

/// A key the control tree requires.
struct RequiredKey {
    /// `key-name-hint`, else the node name less `key-`.
    name: String,
    /// `conf` or `image`.
    scope: String,
    /// Where it was found: the control tree's layer path and its node.
    path: String,
    node: String,
}

/// One device tree the carver found, with its bytes.
struct Tree<'a> {
    path: String,
    format: &'a str,
    props: Vec<Prop<'a>>,
}

/// The trees (DTB and FIT layers) of an unpacked target.
fn trees(unpacked: &Unpacked) -> Vec<Tree<'_>> {
    let mut out = Vec::new();
    for layer in &unpacked.layers {
        if layer.format != "dtb" && layer.format != "fit" {
            continue;
        }
        // `parent@0xOFFSET:format`: the parent file holds the tree's bytes.
        let Some((parent, _)) = layer.path.rsplit_once('@') else {
            continue;
        };
        let Some(file) = unpacked.files.iter().find(|f| f.path == parent) else {
            continue;
        };
        let Some(bytes) = usize::try_from(layer.offset)
            .ok()
            .and_then(|at| file.data.get(at..))
        else {
            continue;
        };
        if let Some(props) = dtb::tree(bytes) {
            out.push(Tree {
                path: layer.path.clone(),
                format: &layer.format,
                props,
            });
        }
    }
    out
}

fn value(props: &[Prop<'_>], node: &str, name: &str) -> Option<String> {
    props
        .iter()
        .find(|p| p.node == node && p.name == name)
        .map(|p| dtb::text(p.value))
}

/// The direct children of `parent` that have properties (`/configurations/conf-1`).
fn children(props: &[Prop<'_>], parent: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in props {
        if let Some(rest) = p
            .node
            .strip_prefix(parent)
            .and_then(|r| r.strip_prefix('/'))
        {
            let child = format!("{parent}/{}", rest.split('/').next().unwrap_or_default());
            if !out.contains(&child) {
                out.push(child);
            }
        }
    }
    out
}

/// Which keys sign `node` (its `signature*` subnodes' `key-name-hint`s; an
/// empty string for a signature without a hint).
fn signers(props: &[Prop<'_>], node: &str) -> Vec<String> {
    children(props, node)
        .iter()
        .filter(|c| {
            c.rsplit('/')
                .next()
                .unwrap_or_default()
                .starts_with("signature")
        })
        .map(|c| value(props, c, "key-name-hint").unwrap_or_default())
        .collect()
}

fn required_keys(trees: &[Tree<'_>]) -> Vec<RequiredKey> {
    let mut keys = Vec::new();
    for t in trees.iter().filter(|t| t.format == "dtb") {
        for node in children(&t.props, "/signature") {
            let Some(scope) = value(&t.props, &node, "required") else {
                continue;
            };
            let leaf = node.rsplit('/').next().unwrap_or_default();
            let name = value(&t.props, &node, "key-name-hint")
                .unwrap_or_else(|| leaf.trim_start_matches("key-").to_string());
            keys.push(RequiredKey {
                name,
                scope,
                path: t.path.clone(),
                node,
            });
        }
    }
    keys
}

/// `config` findings: each FIT part (configuration or image) that a
/// required key does not sign.
pub fn findings(unpacked: &Unpacked) -> Vec<Finding> {
    let trees = trees(unpacked);
    let keys = required_keys(&trees);
    let mut out = Vec::new();
    if keys.is_empty() {
        return out;
    }
    for fit in trees.iter().filter(|t| t.format == "fit") {
        for key in &keys {
            let parent = match key.scope.as_str() {
                "conf" => "/configurations",
                "image" => "/images",
                _ => continue,
            };
            let mut unsigned = Vec::new();
            let mut other = Vec::new();
            for node in children(&fit.props, parent) {
                let by = signers(&fit.props, &node);
                let leaf = node.rsplit('/').next().unwrap_or_default().to_string();
                if by.is_empty() {
                    unsigned.push(leaf);
                } else if !by.contains(&key.name) {
                    other.push(format!("{leaf} (signed by {})", by.join(", ")));
                }
            }
            if unsigned.is_empty() && other.is_empty() {
                continue;
            }
            let what = if key.scope == "conf" {
                "configurations"
            } else {
                "images"
            };
            let mut parts = Vec::new();
            if !unsigned.is_empty() {
                parts.push(format!("unsigned {what} {}", unsigned.join(", ")));
            }
            if !other.is_empty() {
                parts.push(format!("{what} not signed by it: {}", other.join(", ")));
            }
            let evidence = vec![
                rules::at_offset(
                    "fdt",
                    &key.path,
                    0,
                    &format!("{}: required = \"{}\"", key.node, key.scope),
                ),
                rules::at_offset("fdt", &fit.path, 0, &parts.join("; ")),
            ];
            out.push(rules::finding(
                "FW-BOOT-001",
                &fit.path,
                format!(
                    "U-Boot requires key \"{}\" for every {}, but this FIT has {}",
                    key.name,
                    if key.scope == "conf" {
                        "configuration"
                    } else {
                        "image"
                    },
                    parts.join("; ")
                ),
                evidence,
            ));
        }
    }
    out
}
