//! A kernel's build configuration carried in the image: `/boot/config-*`
//! beside the kernel, a copy of `/proc/config.gz`, or the `IKCFG_ST` ...
//! `IKCFG_ED` gzip copy a kernel built with `CONFIG_IKCONFIG` holds inside
//! itself. Joined to the kernel component it describes, so that a kernel
//! CVE in code the configuration leaves out can be judged not affected
//! ([`crate::analyze::kernel_config`]).

use crate::model::{Component, KernelConfig};
use crate::unpack::Unpacked;
use crate::unpack::compress;

/// Configurations are a few hundred KiB.
const CAP: u64 = 8 << 20;

/// Reads `KEY=value` and `# KEY is not set` lines; `None` when the text is
/// not a kernel configuration.
pub fn parse(path: &str, text: &str) -> Option<KernelConfig> {
    let mut config = KernelConfig {
        path: path.to_string(),
        ..KernelConfig::default()
    };
    for (n, line) in text.lines().enumerate() {
        if n < 8
            && let Some(rest) = line.strip_prefix("# Linux/")
            && rest.ends_with("Kernel Configuration")
        {
            config.arch = rest.split_whitespace().next().map(str::to_string);
        }
        if let Some(rest) = line.strip_prefix("# CONFIG_")
            && let Some(name) = rest.strip_suffix(" is not set")
        {
            config
                .not_set
                .insert(format!("CONFIG_{name}"), n as u64 + 1);
        } else if let Some((key, value)) = line.split_once('=')
            && key.starts_with("CONFIG_")
            && !value.is_empty()
            && value != "n"
        {
            config.set.insert(key.to_string());
        }
    }
    (config.set.len() + config.not_set.len() >= 16).then_some(config)
}

/// The `IKCFG_ST` copy inside a kernel's bytes.
pub fn embedded(path: &str, data: &[u8]) -> Option<KernelConfig> {
    let start = memchr::memmem::find(data, b"IKCFG_ST")? + 8;
    let end = memchr::memmem::find(&data[start..], b"IKCFG_ED").map_or(data.len(), |e| start + e);
    let decoded = compress::gzip(&data[start..end], CAP);
    if decoded.capped {
        return None;
    }
    parse(path, &String::from_utf8_lossy(&decoded.data))
}

/// A file of the tree that holds a configuration: `/boot/config-RELEASE`
/// (the release, if the name has one), or a `config.gz` copy.
fn config_file(fs_path: &str) -> Option<Option<&str>> {
    let name = fs_path.rsplit('/').next()?;
    if let Some(release) = name.strip_prefix("config-") {
        return Some(Some(release));
    }
    (name == "config.gz" || name == ".config").then_some(None)
}

/// Joins configurations to the kernel components they describe: the copy
/// inside the kernel's own file first, else the `/boot/config-RELEASE`
/// whose release the kernel's banner names, else the only configuration
/// when the image has one kernel.
pub fn attach(components: &mut [Component], unpacked: &Unpacked) {
    let kernels: Vec<usize> = components
        .iter()
        .enumerate()
        .filter(|(_, c)| c.upstream().name == "linux")
        .map(|(i, _)| i)
        .collect();
    if kernels.is_empty() {
        return;
    }
    let mut found: Vec<(Option<String>, KernelConfig)> = Vec::new();
    for f in unpacked.files.iter().filter(|f| f.is_regular()) {
        let Some(fs) = &f.fs else { continue };
        let Some(release) = config_file(&fs.path) else {
            continue;
        };
        let text = if f.data.starts_with(&[0x1f, 0x8b]) {
            let d = compress::gzip(&f.data, CAP);
            if d.capped || d.error.is_some() {
                continue;
            }
            String::from_utf8_lossy(&d.data).into_owned()
        } else {
            String::from_utf8_lossy(&f.data).into_owned()
        };
        if let Some(config) = parse(&f.path, &text) {
            found.push((release.map(str::to_string), config));
        }
    }
    let single = kernels.len() == 1 && found.len() == 1;
    for &k in &kernels {
        let by_file = components[k].sources.iter().find_map(|s| {
            let file = unpacked.files.iter().find(|f| f.path == s.path)?;
            embedded(&file.path, &file.data)
        });
        let by_release = found.iter().find(|(release, _)| {
            release.as_deref().is_some_and(|r| {
                components[k]
                    .sources
                    .iter()
                    .any(|s| s.evidence.contains(&format!("Linux version {r} ")))
            })
        });
        components[k].kernel_config = by_file
            .or_else(|| by_release.map(|(_, c)| c.clone()))
            .or_else(|| single.then(|| found[0].1.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_and_unset_options_with_their_lines() {
        let mut text = String::from("#\n# Linux/arm 6.1.192 Kernel Configuration\n#\n");
        for i in 0..20 {
            text.push_str(&format!("CONFIG_OPT{i}=y\n"));
        }
        text.push_str("CONFIG_NF_TABLES=m\n# CONFIG_MMC_MOXART is not set\nCONFIG_X=n\n");
        let c = parse("config", &text).unwrap();
        assert!(c.set.contains("CONFIG_NF_TABLES"));
        assert_eq!(c.arch.as_deref(), Some("arm"));
        assert!(!c.set.contains("CONFIG_X"));
        assert_eq!(c.not_set["CONFIG_MMC_MOXART"], 25);
        assert!(parse("x", "hello\nworld\n").is_none());
        assert_eq!(
            config_file("/boot/config-6.1.0-57-armmp"),
            Some(Some("6.1.0-57-armmp"))
        );
        assert_eq!(config_file("/proc/config.gz"), Some(None));
        assert_eq!(config_file("/etc/config"), None);
    }

    #[test]
    fn ikconfig_copy_inside_a_kernel() {
        use std::io::Write;
        let mut text = String::new();
        for i in 0..20 {
            text.push_str(&format!("CONFIG_OPT{i}=y\n"));
        }
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(text.as_bytes()).unwrap();
        let mut kernel = b"\x00code\x00IKCFG_ST".to_vec();
        kernel.extend(gz.finish().unwrap());
        kernel.extend(b"IKCFG_ED\x00more");
        assert_eq!(embedded("k", &kernel).unwrap().set.len(), 20);
        assert!(embedded("k", b"no marker").is_none());
    }
}
