//! Binary hardening across the image: FORTIFY judged against the image's
//! own libc (the `__*_chk` functions it exports, not the host's), a
//! per-image summary (how many of N programs lack each protection), and
//! findings only where it matters: a network-facing program without NX,
//! canary, RELRO or PIE, and an RPATH/RUNPATH into a relative, empty or
//! world-writable directory.

use super::rootfs::RootFs;
use super::rules;
use crate::binary::{ElfInfo, ElfKind};
use crate::model::Finding;
use crate::unpack::Unpacked;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// How many programs (executables) lack each protection.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Summary {
    pub programs: usize,
    pub libraries: usize,
    /// Programs that accept connections (imports accept/listen, or bind with recvfrom/recvmsg).
    pub network_programs: usize,
    /// `_chk` functions the image's libc exports (0: musl, uClibc, or no libc found).
    pub libc_chk_functions: usize,
    pub without_nx: usize,
    pub without_canary: usize,
    pub without_relro: usize,
    pub partial_relro: usize,
    pub without_pie: usize,
    pub fortified: usize,
    pub fortifiable: usize,
    pub not_fortifiable: usize,
    pub stripped: usize,
    pub with_runpath: usize,
    pub with_cfp: usize,
}

fn is_libc(e: &ElfInfo) -> bool {
    let name = e
        .soname
        .as_deref()
        .unwrap_or_else(|| e.path.rsplit('/').next().unwrap_or(""));
    name.starts_with("libc.so") || name.starts_with("libc-") || name.starts_with("ld-musl")
}

/// Fills in FORTIFY, and returns the summary and the findings.
pub fn judge(
    elfs: &mut [(usize, ElfInfo)],
    unpacked: &Unpacked,
    filesystems: &[RootFs],
) -> (Summary, Vec<Finding>) {
    // Each libc's FORTIFY functions, by the name programs load it by.
    let mut libcs: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (_, e) in elfs.iter().filter(|(_, e)| is_libc(e)) {
        let name = e
            .soname
            .clone()
            .unwrap_or_else(|| e.path.rsplit('/').next().unwrap_or("").to_string());
        libcs
            .entry(name)
            .or_default()
            .extend(e.symbols.chk_exports.iter().cloned());
    }
    let all: BTreeSet<String> = libcs.values().flatten().cloned().collect();
    let mut summary = Summary {
        libc_chk_functions: all.len(),
        ..Summary::default()
    };
    let mut out = Vec::new();
    for (index, e) in elfs.iter_mut() {
        // The libc this file loads (DT_NEEDED); else every libc of the image.
        let chk = e.needed.iter().find_map(|n| libcs.get(n)).unwrap_or(&all);
        let Some(h) = e.hardening.as_mut() else {
            continue;
        };
        h.fortifiable = e
            .symbols
            .imports
            .iter()
            .filter(|i| chk.contains(&chk_name(i)))
            .cloned()
            .collect();
        h.fortify = if !h.fortified.is_empty() {
            "fortified"
        } else if libcs.is_empty() {
            "unknown"
        } else if chk.is_empty() {
            "n/a"
        } else if !h.fortifiable.is_empty() {
            "fortifiable"
        } else {
            "none"
        }
        .into();
        match e.kind {
            ElfKind::Executable => {}
            ElfKind::SharedLibrary => {
                summary.libraries += 1;
                rpath_findings(e, *index, unpacked, filesystems, &mut out);
                continue;
            }
            _ => continue,
        }
        let h = e.hardening.clone().unwrap_or_default();
        summary.programs += 1;
        summary.network_programs += usize::from(h.network);
        summary.without_nx += usize::from(!h.nx);
        summary.without_canary += usize::from(!h.canary);
        summary.without_relro += usize::from(h.relro == "none");
        summary.partial_relro += usize::from(h.relro == "partial");
        summary.without_pie += usize::from(h.pie == "no");
        summary.fortified += usize::from(h.fortify == "fortified");
        summary.fortifiable += usize::from(h.fortify == "fortifiable");
        summary.not_fortifiable += usize::from(h.fortify == "none");
        summary.stripped += usize::from(h.stripped);
        summary.with_runpath += usize::from(!h.search_path.is_empty());
        summary.with_cfp += usize::from(!h.cfp.is_empty());
        if h.network {
            let inner = super::keys::inner_path(&e.path).to_string();
            let ev = || {
                vec![rules::at_offset(
                    "elf-header",
                    &e.path,
                    0,
                    &format!(
                        "relro {} nx {} canary {} pie {}",
                        h.relro, h.nx, h.canary, h.pie
                    ),
                )]
            };
            let lacks: [(bool, &str, &str); 4] = [
                (!h.nx, "FW-HARD-001", "has an executable stack (no NX)"),
                (!h.canary, "FW-HARD-002", "has no stack canaries"),
                (h.relro == "none", "FW-HARD-003", "has no RELRO"),
                (
                    h.pie == "no",
                    "FW-HARD-004",
                    "is not position-independent (no PIE)",
                ),
            ];
            for (missing, id, what) in lacks {
                if missing {
                    out.push(rules::finding(
                        id,
                        &e.path,
                        format!("{inner}: network-facing program {what}"),
                        ev(),
                    ));
                }
            }
        }
        rpath_findings(e, *index, unpacked, filesystems, &mut out);
    }
    (summary, out)
}

/// The `_chk` form glibc's headers redirect a call to (`memcpy` ->
/// `__memcpy_chk`; `_longjmp` and `siglongjmp` -> `__longjmp_chk`).
fn chk_name(import: &str) -> String {
    let base = import.trim_start_matches('_');
    let base = if base == "siglongjmp" {
        "longjmp"
    } else {
        base
    };
    format!("__{base}_chk")
}

const WRITABLE: &[&str] = &["/tmp", "/var/tmp", "/dev/shm"];

fn rpath_findings(
    e: &ElfInfo,
    index: usize,
    unpacked: &Unpacked,
    filesystems: &[RootFs],
    out: &mut Vec<Finding>,
) {
    let Some(h) = &e.hardening else { return };
    let fs = unpacked
        .files
        .get(index)
        .and_then(|f| f.fs.as_ref())
        .and_then(|p| filesystems.get(p.fs));
    for dir in &h.search_path {
        let why = if dir.is_empty() {
            Some("an empty entry (the working directory)".to_string())
        } else if !dir.starts_with('/')
            && !dir.starts_with("$ORIGIN")
            && !dir.starts_with("${ORIGIN}")
        {
            Some(format!("the relative directory {dir:?}"))
        } else if WRITABLE
            .iter()
            .any(|w| dir == w || dir.starts_with(&format!("{w}/")))
        {
            Some(format!("{dir}, writable by every user"))
        } else if dir.starts_with('/')
            && fs
                .and_then(|fs| fs.meta(dir.trim_end_matches('/')))
                .is_some_and(|m| m.world_writable())
        {
            Some(format!("{dir}, world-writable in the image"))
        } else {
            None
        };
        if let Some(why) = why {
            out.push(rules::finding(
                "FW-HARD-005",
                &e.path,
                format!(
                    "{}: RPATH/RUNPATH names {why}",
                    super::keys::inner_path(&e.path)
                ),
                vec![rules::at_offset(
                    "elf-dynamic",
                    &e.path,
                    0,
                    &h.search_path.join(":"),
                )],
            ));
        }
    }
}
