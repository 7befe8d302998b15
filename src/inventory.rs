//! Stage 2d: one component per thing on the device. A version found in a
//! binary and the installed package that put that binary there are the
//! same thing: the binary's evidence joins the package's component, which
//! keeps both identities (the package's PURL and version, and the upstream
//! product, version and CPE that advisories are written against), and the
//! package's distribution verdicts then decide for the binary too.
//!
//! A copy of a product inside another package's file (a static or vendored
//! copy: zlib linked into a program) is not that package's product and
//! stays a component of its own, with the owning package noted.

use crate::identify::catalog;
use crate::model::Component;
use crate::unpack::Unpacked;
use crate::version;
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

/// Package types whose database says which files each package installed.
const DISTRIBUTION: &[&str] = &["deb", "opkg", "apk", "rpm"];

/// Joins each binary hit to the installed package that owns its file when
/// that package carries the same product at the same upstream version.
/// Where the file system has no files lists (an image built without
/// `dpkg/info/*.list`), a hit in a file that is the product's own (its
/// library, its program) joins the package that carries that product and
/// version in the same file system.
pub fn merge(components: Vec<Component>, unpacked: &Unpacked) -> Vec<Component> {
    let fs_of: HashMap<&str, (usize, &str)> = unpacked
        .files
        .iter()
        .filter_map(|f| {
            let fs = f.fs.as_ref()?;
            Some((f.path.as_str(), (fs.fs, fs.path.as_str())))
        })
        .collect();
    let is_package = |c: &Component| DISTRIBUTION.contains(&c.ecosystem.as_str());
    // Package components by (file system, name), and the file systems
    // whose databases list files.
    let mut packages: HashMap<(usize, String), usize> = HashMap::new();
    let mut listed: HashSet<usize> = HashSet::new();
    for (i, c) in components.iter().enumerate().filter(|(_, c)| is_package(c)) {
        let Some(fs) = c
            .sources
            .first()
            .and_then(|s| fs_of.get(s.path.as_str()))
            .map(|(fs, _)| *fs)
        else {
            continue;
        };
        packages.entry((fs, c.name.clone())).or_insert(i);
        if !c.files.is_empty() {
            listed.insert(fs);
        }
    }
    let mut moves: Vec<(usize, usize, usize)> = Vec::new(); // (component, source, package)
    for (ci, c) in components.iter().enumerate() {
        if is_package(c) || c.upstream.is_some() || c.ecosystem != "generic" {
            continue;
        }
        for (si, source) in c.sources.iter().enumerate() {
            let Some(&(fs, fs_path)) = fs_of.get(source.path.as_str()) else {
                continue;
            };
            let carries = |p: &Component| {
                p.upstream.as_ref().is_some_and(|u| {
                    u.name == c.name && version::compare(&u.version, &c.version) == Ordering::Equal
                })
            };
            let target = match &source.package {
                Some(owner) => packages
                    .get(&(fs, owner.clone()))
                    .copied()
                    .filter(|&p| carries(&components[p])),
                None if !listed.contains(&fs) => {
                    own_file_package(&c.name, fs_path, fs, &components, &packages, &carries)
                }
                None => None,
            };
            if let Some(p) = target {
                moves.push((ci, si, p));
            }
        }
    }
    if moves.is_empty() {
        return components;
    }
    let mut components = components;
    let mut moved: HashSet<(usize, usize)> = HashSet::new();
    for &(ci, si, p) in &moves {
        let mut evidence = components[ci].sources[si].clone();
        evidence.package = Some(components[p].name.clone());
        if !components[p].sources.contains(&evidence) {
            components[p].sources.push(evidence);
        }
        moved.insert((ci, si));
    }
    for (ci, c) in components.iter_mut().enumerate() {
        let mut si = 0;
        c.sources.retain(|_| {
            let keep = !moved.contains(&(ci, si));
            si += 1;
            keep
        });
    }
    components.retain(|c| !c.sources.is_empty());
    components
}

/// Without files lists: the package of the same file system that carries
/// `product` at the hit's version, when the file is the product's own
/// (`libz.so.1.2.13`, `/usr/sbin/dnsmasq`); the package named like the
/// file first (`curl` for `/usr/bin/curl`, `libcurl4` for `libcurl.so.4`).
fn own_file_package(
    product: &str,
    fs_path: &str,
    fs: usize,
    components: &[Component],
    packages: &HashMap<(usize, String), usize>,
    carries: &dyn Fn(&Component) -> bool,
) -> Option<usize> {
    let base = fs_path.rsplit('/').next().unwrap_or(fs_path);
    let stem = base.split(".so").next().unwrap_or(base);
    let own = catalog::product(product).is_some_and(|p| p.is_own_file(base))
        || base == product
        || stem == format!("lib{product}");
    if !own {
        return None;
    }
    let mut candidates: Vec<(usize, &str)> = packages
        .iter()
        .filter(|((f, _), p)| *f == fs && carries(&components[**p]))
        .map(|((_, name), p)| (*p, name.as_str()))
        .collect();
    candidates.sort_by_key(|(_, name)| {
        let rank = if *name == base {
            0
        } else if name.starts_with(stem) {
            1
        } else {
            2
        };
        (rank, name.to_string())
    });
    candidates.first().map(|(p, _)| *p)
}
