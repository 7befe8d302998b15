//! Shared libraries nothing loads: reachability over the DT_NEEDED graph from
//! every executable, resolving names the way the dynamic loader does
//! (RPATH, RUNPATH, ld.so.conf, the multiarch and default directories).

use crate::binary::{ElfInfo, ElfKind};
use crate::model::{Component, Finding, FindingKind, Severity};
use crate::unpack::Unpacked;
use crate::unpack::tree::normalize;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap, VecDeque};

/// A shared library and who needs it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Library {
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub soname: Option<String>,
    pub needed_by: Vec<String>,
    pub unused: bool,
    /// PURL of the component the file belongs to: the package that
    /// installed it, or the component found in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

/// Directories every loader searches last.
const DEFAULT_DIRS: &[&str] = &["/lib", "/usr/lib", "/lib64", "/usr/lib64", "/usr/local/lib"];

/// The link graph of every file system in the target.
pub fn libraries(unpacked: &Unpacked, elfs: &[(usize, ElfInfo)]) -> Vec<Library> {
    let search = SearchDirs::new(unpacked, elfs);
    let mut edges: HashMap<usize, BTreeSet<usize>> = HashMap::new();
    for (index, elf) in elfs {
        let Some(fs_path) = &unpacked.files[*index].fs else {
            continue;
        };
        let names = elf.interpreter.iter().chain(elf.needed.iter());
        for name in names {
            if let Some(target) = search.resolve(unpacked, *index, elf, &fs_path.path, name) {
                edges.entry(*index).or_default().insert(target);
            }
        }
    }
    // A shared object is a library when the loader can find it: it sits in a
    // search directory or something's DT_NEEDED resolves to it. Any other
    // shared object (`/usr/lib/lighttpd/mod_*.so`) can only be loaded by path
    // with dlopen, so it is a plugin and, like an executable, a root.
    let has_incoming: BTreeSet<usize> = edges.values().flatten().copied().collect();
    let is_library = |index: usize, elf: &ElfInfo| {
        elf.kind == ElfKind::SharedLibrary
            && (has_incoming.contains(&index) || search.in_search_dir(unpacked, index))
    };
    let mut reached: BTreeSet<usize> = BTreeSet::new();
    let mut queue: VecDeque<usize> = elfs
        .iter()
        .filter(|(i, e)| !is_library(*i, e) && e.kind != ElfKind::Relocatable)
        .map(|(i, _)| *i)
        .collect();
    while let Some(node) = queue.pop_front() {
        for &next in edges.get(&node).into_iter().flatten() {
            if reached.insert(next) {
                queue.push_back(next);
            }
        }
    }
    let mut needed_by: HashMap<usize, BTreeSet<&str>> = HashMap::new();
    for (from, targets) in &edges {
        for to in targets {
            needed_by
                .entry(*to)
                .or_default()
                .insert(unpacked.files[*from].path.as_str());
        }
    }
    let mut out: Vec<Library> = elfs
        .iter()
        .filter(|(i, e)| is_library(*i, e))
        .map(|(index, elf)| Library {
            path: unpacked.files[*index].path.clone(),
            soname: elf.soname.clone(),
            needed_by: needed_by
                .get(index)
                .map(|s| s.iter().map(|p| p.to_string()).collect())
                .unwrap_or_default(),
            unused: !reached.contains(index),
            owner: None,
        })
        .collect();
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// One `unused` finding per library nothing reaches, naming the components it carries.
pub fn findings(libraries: &[Library], components: &[Component]) -> Vec<Finding> {
    libraries
        .iter()
        .filter(|l| l.unused)
        .map(|lib| {
            let carrier = components
                .iter()
                .find(|c| lib.owner.as_deref() == Some(c.purl.as_str()))
                .or_else(|| {
                    components
                        .iter()
                        .find(|c| c.sources.iter().any(|s| s.path == lib.path))
                });
            let soname = lib.soname.as_deref().unwrap_or("?");
            Finding {
                component: carrier.map(|c| {
                    let up = c.upstream();
                    format!("{}@{}", up.name, up.version)
                }),
                purls: carrier.map(|c| c.purl.clone()).into_iter().collect(),
                path: Some(lib.path.clone()),
                ..Finding::new(
                    FindingKind::Unused,
                    Severity::Info,
                    format!(
                        "{soname} is shipped but no executable loads it (not reachable through DT_NEEDED)"
                    ),
                )
            }
        })
        .collect()
}

/// Library directories per file system, in loader order after RPATH/RUNPATH.
struct SearchDirs {
    by_fs: HashMap<usize, Vec<String>>,
}

impl SearchDirs {
    fn new(unpacked: &Unpacked, elfs: &[(usize, ElfInfo)]) -> SearchDirs {
        let mut by_fs: HashMap<usize, Vec<String>> = HashMap::new();
        for (fs_index, fs) in unpacked.filesystems.iter().enumerate() {
            let mut dirs: Vec<String> = Vec::new();
            let read = |path: &str| {
                fs.namespace
                    .resolve(&unpacked.files, path)
                    .map(|i| String::from_utf8_lossy(&unpacked.files[i].data).into_owned())
            };
            if let Some(conf) = read("/etc/ld.so.conf") {
                let mut seen = BTreeSet::new();
                ld_so_conf(&conf, fs, unpacked, &mut dirs, &mut seen, 0);
            }
            // musl reads /etc/ld-musl-ARCH.path: one directory per line or colon-separated.
            for path in fs.namespace.dirs() {
                if path.starts_with("/etc/ld-musl-")
                    && path.ends_with(".path")
                    && let Some(text) = read(path)
                {
                    dirs.extend(
                        text.split([':', '\n'])
                            .map(str::trim)
                            .filter(|d| d.starts_with('/'))
                            .map(normalize),
                    );
                }
            }
            // Debian multiarch directories (`/usr/lib/arm-linux-gnueabihf`) that hold a library.
            let mut multiarch: BTreeSet<String> = BTreeSet::new();
            for (index, _) in elfs {
                if let Some(p) = &unpacked.files[*index].fs
                    && p.fs == fs_index
                    && let Some((dir, _)) = p.path.rsplit_once('/')
                    && is_multiarch_dir(dir)
                {
                    multiarch.insert(dir.to_string());
                }
            }
            dirs.extend(multiarch);
            dirs.extend(DEFAULT_DIRS.iter().map(|d| d.to_string()));
            let mut seen = BTreeSet::new();
            dirs.retain(|d| seen.insert(d.clone()));
            by_fs.insert(fs_index, dirs);
        }
        SearchDirs { by_fs }
    }

    /// Whether file `index` lies directly in one of its file system's search directories.
    fn in_search_dir(&self, unpacked: &Unpacked, index: usize) -> bool {
        let Some(p) = &unpacked.files[index].fs else {
            return false;
        };
        let dir = p.path.rsplit_once('/').map_or("/", |(d, _)| d);
        self.by_fs
            .get(&p.fs)
            .is_some_and(|dirs| dirs.iter().any(|d| d == dir))
    }

    fn resolve(
        &self,
        unpacked: &Unpacked,
        from: usize,
        elf: &ElfInfo,
        from_path: &str,
        name: &str,
    ) -> Option<usize> {
        let fs_index = unpacked.files[from].fs.as_ref()?.fs;
        let namespace = &unpacked.filesystems[fs_index].namespace;
        if name.contains('/') {
            return namespace.resolve(&unpacked.files, name);
        }
        let origin = from_path.rsplit_once('/').map_or("/", |(d, _)| d);
        let expand = |d: &String| d.replace("$ORIGIN", origin).replace("${ORIGIN}", origin);
        // DT_RPATH is ignored when DT_RUNPATH is present (ld.so(8)).
        let rpath = if elf.runpath.is_empty() {
            elf.rpath.as_slice()
        } else {
            &[]
        };
        let dirs = rpath
            .iter()
            .chain(elf.runpath.iter())
            .map(expand)
            .chain(self.by_fs.get(&fs_index).into_iter().flatten().cloned());
        for dir in dirs {
            let candidate = format!("{dir}/{name}");
            if let Some(found) = namespace.resolve(&unpacked.files, &candidate) {
                return Some(found);
            }
        }
        None
    }
}

/// `/lib/<triplet>` or `/usr/lib/<triplet>`, e.g. `arm-linux-gnueabihf`.
fn is_multiarch_dir(dir: &str) -> bool {
    let rest = dir
        .strip_prefix("/usr/lib/")
        .or_else(|| dir.strip_prefix("/lib/"));
    rest.is_some_and(|r| !r.contains('/') && r.contains("-linux-"))
}

/// Directories from an ld.so.conf text, following `include` globs of the
/// form `dir/*.conf` (the only form distributions use). Each file is read
/// once (`seen` holds the files read): files that include each other would
/// otherwise be read a number of times exponential in the nesting depth.
fn ld_so_conf(
    text: &str,
    fs: &crate::unpack::Filesystem,
    unpacked: &Unpacked,
    dirs: &mut Vec<String>,
    seen: &mut BTreeSet<usize>,
    depth: usize,
) {
    if depth > 4 {
        return;
    }
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if let Some(pattern) = line.strip_prefix("include") {
            let pattern = pattern.trim();
            let (dir, suffix) = pattern.split_once('*').unwrap_or((pattern, ""));
            let mut included: Vec<&str> = fs
                .namespace
                .dirs()
                .filter(|p| {
                    p.starts_with(dir) && p.ends_with(suffix) && !p[dir.len()..].contains('/')
                })
                .collect();
            included.sort();
            for path in included {
                if let Some(i) = fs.namespace.resolve(&unpacked.files, path)
                    && seen.insert(i)
                {
                    let text = String::from_utf8_lossy(&unpacked.files[i].data).into_owned();
                    ld_so_conf(&text, fs, unpacked, dirs, seen, depth + 1);
                }
            }
        } else if line.starts_with('/') {
            dirs.push(normalize(line));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiarch_dirs() {
        assert!(is_multiarch_dir("/usr/lib/arm-linux-gnueabihf"));
        assert!(is_multiarch_dir("/lib/mipsel-linux-gnu"));
        assert!(!is_multiarch_dir("/usr/lib/lighttpd"));
        assert!(!is_multiarch_dir("/usr/lib/x/arm-linux-gnueabihf"));
    }
}
