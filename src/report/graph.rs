//! The component dependency graph both SBOM formats print: edges from the
//! dynamic linker's view (a program's DT_NEEDED library carries a component)
//! and from the manifests (`depends_on`). Components are named by PURL.

use crate::scan::ScanReport;
use std::collections::{BTreeMap, BTreeSet};

/// PURL -> PURLs it depends on, for the components of `r`.
pub fn edges(r: &ScanReport) -> BTreeMap<String, BTreeSet<String>> {
    // file path -> components found in it, to turn library edges into component edges.
    let mut in_file: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for c in &r.components {
        for s in &c.sources {
            in_file
                .entry(s.path.as_str())
                .or_default()
                .insert(c.purl.as_str());
        }
    }
    let mut depends: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut add = |from: &str, to: &str| {
        if from != to {
            depends
                .entry(from.to_string())
                .or_default()
                .insert(to.to_string());
        }
    };
    for lib in &r.libraries {
        let Some(provided) = in_file.get(lib.path.as_str()) else {
            continue;
        };
        for user in &lib.needed_by {
            for from in in_file.get(user.as_str()).into_iter().flatten() {
                for to in provided {
                    add(from, to);
                }
            }
        }
    }
    let all: BTreeSet<&str> = r.components.iter().map(|c| c.purl.as_str()).collect();
    for c in &r.components {
        for on in c.depends_on.iter().filter(|on| all.contains(on.as_str())) {
            add(&c.purl, on);
        }
    }
    depends
}

/// What the subject itself depends on: the components nothing else depends
/// on, plus one member of any cycle not reachable from those, so that every
/// component is reachable from the subject without flattening the graph.
pub fn roots(all: &BTreeSet<String>, depends: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let depended: BTreeSet<&String> = depends.values().flatten().collect();
    let mut roots: Vec<&String> = all.iter().filter(|r| !depended.contains(r)).collect();
    let mut reached: BTreeSet<&String> = BTreeSet::new();
    let mut stack = roots.clone();
    let mut next = all.iter();
    loop {
        while let Some(r) = stack.pop() {
            if reached.insert(r) {
                stack.extend(depends.get(r).into_iter().flatten());
            }
        }
        match next.find(|r| !reached.contains(r)) {
            Some(r) => {
                roots.push(r);
                stack.push(r);
            }
            None => break,
        }
    }
    roots.sort();
    roots.into_iter().cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_and_unreachable_cycles() {
        let all: BTreeSet<String> = ["a", "b", "c", "x", "y"].map(String::from).into();
        let mut depends: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut edge = |from: &str, to: &str| {
            depends
                .entry(from.to_string())
                .or_default()
                .insert(to.to_string());
        };
        edge("a", "b");
        edge("b", "c");
        edge("x", "y");
        edge("y", "x");
        assert_eq!(roots(&all, &depends), ["a", "x"]);
    }
}
