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
use crate::identify::catalog;
use crate::model::{Component, Distro};

/// Installed packages in an opkg status file at `path`.
pub fn parse(path: &str, text: &str, distro: Option<&Distro>) -> Result<Parsed, String> {
    Ok(database(path, control::installed(text)?, distro))
}

/// `/usr/lib/opkg/info/NAME.control`: one package, no `Status` field.
pub fn parse_control(path: &str, text: &str, distro: Option<&Distro>) -> Result<Parsed, String> {
    Ok(database(path, control::listed(text)?, distro))
}

fn database(path: &str, packages: Vec<control::Installed>, distro: Option<&Distro>) -> Parsed {
    let relations = control::relations(&packages);
    Parsed::with_relations(components(path, "opkg-status", packages, distro), relations)
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
    distro: Option<&Distro>,
) -> Vec<Component> {
    let release = distro.and_then(Distro::purl_distro).unwrap_or_default();
    packages
        .into_iter()
        .map(|p| {
            // OpenWrt's `Source: package/libs/zlib` ends in the source name;
            // Debian-built feeds write `Source: zlib` as dpkg does.
            let product = p
                .source
                .as_deref()
                .and_then(|s| s.rsplit('/').next())
                .and_then(catalog::product_for_package)
                .or_else(|| catalog::product_for_package(&p.name));
            let purl = crate::purl::build(
                "opkg",
                Some("openwrt"),
                &p.name,
                &p.version,
                &[("arch", &p.arch), ("distro", &release)],
            );
            package_component(
                &p,
                "opkg",
                purl,
                method,
                path,
                product,
                crate::version::upstream_of("opkg", &p.version),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_openwrt_packages() {
        let text = "Package: busybox\nVersion: 1.35.0-6\nStatus: install user installed\n\
                    Architecture: mipsel_24kc\nInstalled-Time: 1700000000\n";
        let c = parse("status", text, None).unwrap().components;
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
            None,
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
}
