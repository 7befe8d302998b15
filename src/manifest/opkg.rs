//! opkg's database of installed packages (OpenWrt): `/usr/lib/opkg/status`,
//! the per-package `/usr/lib/opkg/info/NAME.control` and `NAME.list` files
//! lists. Same syntax as dpkg's; versions are `upstream-release`.
//!
//! PURL: `pkg:opkg/openwrt/NAME@VERSION?arch=ARCH`. `opkg` is not (yet) a
//! registered purl type, but `pkg:generic` would lose that the name is an
//! OpenWrt package name, which is what feeds and advisories use; tools that
//! do not know the type still read it as an opaque identifier. Kept as before
//! so stored inventories stay comparable.

use super::control;
use super::{Parsed, package_component};
use crate::identify::{catalog, purl_escape};
use crate::model::Component;

/// Installed packages in an opkg status file at `path`.
pub fn parse(path: &str, text: &str) -> Result<Parsed, String> {
    Ok(database(path, control::installed(text)?))
}

/// `/usr/lib/opkg/info/NAME.control`: one package, no `Status` field.
pub fn parse_control(path: &str, text: &str) -> Result<Parsed, String> {
    Ok(database(path, control::listed(text)?))
}

fn database(path: &str, packages: Vec<control::Installed>) -> Parsed {
    let relations = control::relations(&packages);
    Parsed::with_relations(components(path, "opkg-status", packages), relations)
}

pub fn is_info_control(fs_path: &str) -> bool {
    super::entry_in(fs_path, "/usr/lib/opkg/info/").is_some_and(|name| name.ends_with(".control"))
}

pub fn is_files_list(fs_path: &str) -> bool {
    super::entry_in(fs_path, "/usr/lib/opkg/info/").is_some_and(|name| name.ends_with(".list"))
}

/// `/usr/lib/opkg/info/busybox.list` -> `busybox`.
pub fn list_package(fs_path: &str) -> Option<String> {
    let name = fs_path.rsplit('/').next()?.strip_suffix(".list")?;
    (!name.is_empty()).then(|| name.to_string())
}

pub(super) fn components(
    path: &str,
    method: &str,
    packages: Vec<control::Installed>,
) -> Vec<Component> {
    packages
        .into_iter()
        .map(|p| {
            let product = catalog::product_for_package(&p.name);
            let purl = format!(
                "pkg:opkg/openwrt/{}@{}?arch={}",
                p.name,
                purl_escape(&p.version),
                p.arch
            );
            package_component(
                &p,
                "opkg",
                purl,
                method,
                path,
                product,
                upstream_version(&p.version),
            )
        })
        .collect()
}

/// `1.35.0-6` -> `1.35.0`; `2022.82-6` -> `2022.82`.
pub fn upstream_version(version: &str) -> String {
    match version.rsplit_once('-') {
        Some((up, release)) if release.chars().all(|c| c.is_ascii_digit()) => up.to_string(),
        _ => version.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_openwrt_packages() {
        let text = "Package: busybox\nVersion: 1.35.0-6\nStatus: install user installed\n\
                    Architecture: mipsel_24kc\nInstalled-Time: 1700000000\n";
        let c = parse("status", text).unwrap().components;
        assert_eq!(
            c[0].purl,
            "pkg:opkg/openwrt/busybox@1.35.0-6?arch=mipsel_24kc"
        );
        assert_eq!(c[0].upstream.as_ref().unwrap().version, "1.35.0");
    }

    #[test]
    fn info_control_files_need_no_status() {
        let c = parse_control(
            "c",
            "Package: dropbear\nVersion: 2022.82-6\nArchitecture: mipsel_24kc\n",
        )
        .unwrap()
        .components;
        assert_eq!(c[0].name, "dropbear");
        assert!(is_info_control("/usr/lib/opkg/info/dropbear.control"));
        assert_eq!(
            list_package("/usr/lib/opkg/info/dropbear.list").as_deref(),
            Some("dropbear")
        );
    }

    #[test]
    fn release_suffix_only_when_numeric() {
        assert_eq!(upstream_version("2022.82-6"), "2022.82");
        assert_eq!(upstream_version("3.0.13"), "3.0.13");
        assert_eq!(upstream_version("1.2-beta"), "1.2-beta");
    }
}
