//! Kernel CVEs in code the device's kernel was not built with. When the
//! image carries the kernel's configuration and the advisory names the
//! source files the fix touched (the kernel CNA's `programFiles`), each
//! file's Kbuild rules say which options it needs (`advisories/kernel/`,
//! read from the Makefiles of Linux 6.1); if every named file needs an
//! option the configuration leaves unset, or lives under another
//! architecture's `arch/`, the vulnerable code is not in the kernel.
//! Files the map does not know, or that nothing makes optional, give no
//! verdict: the finding stays active.

use crate::model::KernelConfig;
use std::collections::HashMap;
use std::sync::LazyLock;

/// `path<TAB>CONFIG_A CONFIG_B` per directory (`net/netfilter/`) and object
/// stem (`net/netfilter/nf_tables_api`), from `kbuild.py` over Linux 6.1.
static KBUILD: LazyLock<HashMap<&'static str, Vec<&'static str>>> = LazyLock::new(|| {
    include_str!("../../advisories/kernel/kbuild-6.1.tsv")
        .lines()
        .filter_map(|l| {
            let (path, options) = l.split_once('\t')?;
            Some((path, options.split(' ').collect()))
        })
        .collect()
});

/// Why a file is not in the kernel: the option it needs that is unset (and
/// the `# ... is not set` line), or the architecture it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Absent {
    pub file: String,
    pub reason: String,
    pub line: Option<u64>,
}

/// Why `file` is not built with `config`, if Kbuild says it is not.
fn absent(file: &str, config: &KernelConfig) -> Option<Absent> {
    if let (Some(arch), Some(rest)) = (config.arch.as_deref(), file.strip_prefix("arch/")) {
        let file_arch = rest.split('/').next().unwrap_or("");
        // arm and arm64 are different trees; `x86` holds i386 and x86_64.
        let ours = match arch {
            "x86_64" | "i386" => "x86",
            a => a,
        };
        if file_arch != ours {
            return Some(Absent {
                file: file.to_string(),
                reason: format!("{file} is {file_arch} code; this kernel is {arch}"),
                line: None,
            });
        }
    }
    let stem = file.rsplit_once('.').map_or(file, |(s, _)| s);
    let mut needs: Vec<&str> = Vec::new();
    let mut at = 0;
    while let Some(slash) = file[at..].find('/') {
        at += slash + 1;
        needs.extend(KBUILD.get(&file[..at]).into_iter().flatten());
    }
    if !file.ends_with(".h") {
        needs.extend(KBUILD.get(stem).into_iter().flatten());
    }
    let option = needs.into_iter().find(|o| !config.set.contains(*o))?;
    let line = config.not_set.get(option).copied();
    Some(Absent {
        file: file.to_string(),
        reason: match line {
            Some(_) => format!("{option} is not set"),
            None => format!("{option} is not enabled"),
        },
        line,
    })
}

/// When every file a kernel advisory names is left out of this build, why
/// (one reason per file); `None` when any of them may be built or none is
/// named.
pub fn verdict(files: &[&str], config: &KernelConfig) -> Option<Vec<Absent>> {
    if files.is_empty() {
        return None;
    }
    files.iter().map(|f| absent(f, config)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(set: &[&str], not_set: &[(&str, u64)]) -> KernelConfig {
        KernelConfig {
            path: "/boot/config".into(),
            arch: Some("arm".into()),
            set: set.iter().map(|s| s.to_string()).collect(),
            not_set: not_set.iter().map(|(o, l)| (o.to_string(), *l)).collect(),
        }
    }

    #[test]
    fn options_from_the_file_and_its_directories() {
        let c = config(
            &["CONFIG_NET", "CONFIG_NETFILTER"],
            &[("CONFIG_NF_TABLES", 1240)],
        );
        assert_eq!(
            verdict(&["net/netfilter/nf_tables_api.c"], &c),
            Some(vec![Absent {
                file: "net/netfilter/nf_tables_api.c".into(),
                reason: "CONFIG_NF_TABLES is not set".into(),
                line: Some(1240),
            }])
        );
        let c = config(&["CONFIG_NET", "CONFIG_NETFILTER", "CONFIG_NF_TABLES"], &[]);
        assert_eq!(verdict(&["net/netfilter/nf_tables_api.c"], &c), None);
        // A directory left out takes every file in it along.
        let c = config(&[], &[("CONFIG_NET", 900)]);
        assert_eq!(
            verdict(&["net/ipv6/route.c"], &c).unwrap()[0].reason,
            "CONFIG_NET is not set"
        );
        // Every named file must be absent.
        let c = config(&["CONFIG_NET", "CONFIG_NETFILTER"], &[]);
        assert_eq!(
            verdict(&["net/netfilter/nf_tables_api.c", "kernel/fork.c"], &c),
            None
        );
        assert_eq!(verdict(&[], &c), None);
        // Another architecture's code.
        assert_eq!(
            verdict(&["arch/x86/kvm/x86.c"], &c).unwrap()[0].reason,
            "arch/x86/kvm/x86.c is x86 code; this kernel is arm"
        );
        assert_eq!(verdict(&["arch/arm/kernel/setup.c"], &c), None);
    }
}
