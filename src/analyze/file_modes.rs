//! File modes: setuid/setgid programs outside a short allow-list
//! (`setuid_allow.toml`), and world-writable files and directories outside
//! the temporary directories. Needs the modes the container stored
//! (squashfs, cpio, tar, ext, JFFS2, UBIFS, cramfs, romfs, a directory).

use super::rootfs::RootFs;
use super::rules;
use crate::model::{Finding, Severity};
use crate::unpack::tree::{EntryKind, FileClass, classify};
use serde::Deserialize;
use std::sync::OnceLock;

#[derive(Deserialize)]
struct AllowFile {
    allow: Vec<Allowed>,
}

#[derive(Deserialize)]
struct Allowed {
    path: String,
    bits: String,
    #[allow(dead_code)]
    package: String,
}

fn allow_list() -> &'static [Allowed] {
    static LIST: OnceLock<Vec<Allowed>> = OnceLock::new();
    LIST.get_or_init(|| {
        toml::from_str::<AllowFile>(include_str!("setuid_allow.toml"))
            .map(|f| f.allow)
            .unwrap_or_default()
    })
}

fn allowed(path: &str, setuid: bool, setgid: bool) -> bool {
    allow_list().iter().any(|a| {
        a.path == path
            && match a.bits.as_str() {
                "setuid" => !setgid,
                "setgid" => !setuid,
                _ => true,
            }
    })
}

/// Sticky world-writable directories every system has.
const TEMP_DIRS: &[&str] = &["/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/var/lock"];

pub fn findings(fs: &RootFs) -> Vec<Finding> {
    let mut out = Vec::new();
    for (path, f) in fs.iter() {
        let Some(meta) = f.meta else { continue };
        let mode = format!("{:04o}", meta.mode);
        if f.kind == EntryKind::File
            && (meta.setuid() || meta.setgid())
            && classify(&f.data) == FileClass::Elf
            && !allowed(path, meta.setuid(), meta.setgid())
        {
            let bits = match (meta.setuid(), meta.setgid()) {
                (true, true) => "setuid and setgid",
                (true, false) => "setuid",
                _ => "setgid",
            };
            let mut finding = rules::finding(
                "FW-MODE-001",
                &f.path,
                format!(
                    "{path} is {bits} (mode {mode}, owner {}:{}) and not a program distributions ship that way",
                    meta.uid, meta.gid
                ),
                vec![rules::at_offset(
                    "file-mode",
                    &f.path,
                    0,
                    &format!("mode {mode} uid {} gid {}", meta.uid, meta.gid),
                )],
            );
            if !meta.setuid() {
                finding.severity = Severity::Medium;
            }
            out.push(finding);
        }
        let writable = meta.world_writable()
            && match &f.kind {
                EntryKind::File => true,
                EntryKind::Dir => !(meta.sticky() && TEMP_DIRS.contains(&path)),
                EntryKind::Symlink(_) | EntryKind::Special => false,
            };
        let in_temp = TEMP_DIRS.iter().any(|t| {
            path.strip_prefix(t)
                .is_some_and(|rest| rest.starts_with('/'))
        });
        if writable && !in_temp {
            let what = if f.kind == EntryKind::Dir {
                if meta.sticky() {
                    "directory (sticky)"
                } else {
                    "directory"
                }
            } else {
                "file"
            };
            out.push(rules::finding(
                "FW-MODE-002",
                &f.path,
                format!("{path}: world-writable {what} (mode {mode})"),
                vec![rules::at_offset(
                    "file-mode",
                    &f.path,
                    0,
                    &format!("mode {mode} uid {} gid {}", meta.uid, meta.gid),
                )],
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allow_list_parses_and_knows_its_bits() {
        assert!(allow_list().len() > 20);
        assert!(allowed("/usr/bin/passwd", true, false));
        assert!(!allowed("/usr/bin/passwd", true, true));
        assert!(allowed("/usr/bin/chage", false, true));
        assert!(!allowed("/bin/busybox", true, false));
    }
}
