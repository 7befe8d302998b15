//! Package files shipped inside an image, not installed: Debian `.deb` (an
//! `ar` archive whose `control.tar.{gz,xz}` holds `./control`) and OpenWrt
//! `.ipk` (the same layout, either as `ar` or as a gzip'd tar). A firmware
//! that carries packages for later installation ships their code too.

use super::{control, dpkg, opkg};
use crate::model::Component;
use crate::unpack::compress;

/// Control archives are a few KiB; more than this is not a package.
const CONTROL_CAP: u64 = 4 << 20;

pub fn is_package_file(fs_path: &str) -> bool {
    fs_path.ends_with(".deb") || fs_path.ends_with(".ipk")
}

/// The package described by the `.deb` or `.ipk` file at `path`.
pub fn parse(path: &str, fs_path: &str, data: &[u8]) -> Result<Vec<Component>, String> {
    let members = if data.starts_with(b"!<arch>\n") {
        ar_members(data)?
    } else if data.starts_with(&[0x1f, 0x8b]) {
        let outer = decoded(compress::gzip(data, CONTROL_CAP * 16))?;
        tar_members(&outer)?
    } else {
        return Err("offset 0: neither an ar archive nor a gzip'd tar".to_string());
    };
    let (name, archive) = members
        .iter()
        .find(|(name, _)| name.starts_with("control.tar"))
        .ok_or("no control.tar member")?;
    let tar = match name.as_str() {
        "control.tar.gz" => decoded(compress::gzip(archive, CONTROL_CAP))?,
        "control.tar.xz" => decoded(compress::xz(archive, CONTROL_CAP))?,
        "control.tar" => archive.clone(),
        other => return Err(format!("{other}: compression not supported")),
    };
    let (_, text) = tar_members(&tar)?
        .into_iter()
        .find(|(name, _)| name == "control")
        .ok_or("control archive without ./control")?;
    let text = String::from_utf8(text).map_err(|_| "control file is not UTF-8".to_string())?;
    let packages = control::listed(&text).map_err(|e| format!("control: {e}"))?;
    let mut components = if fs_path.ends_with(".ipk") {
        opkg::components(path, "ipk-file", packages, None)
    } else {
        dpkg::components(path, "deb-file", packages, None)
    };
    // The line is the control file's, inside the package.
    for c in &mut components {
        for s in &mut c.sources {
            s.evidence = format!("control {}", s.evidence);
        }
    }
    Ok(components)
}

fn decoded(d: compress::Decoded) -> Result<Vec<u8>, String> {
    if d.capped {
        return Err(format!("archive expands past {} MiB", CONTROL_CAP >> 20));
    }
    match d.error {
        Some(e) => Err(e),
        None => Ok(d.data),
    }
}

/// Members of an `ar` archive: 60-byte headers, data padded to even offsets.
fn ar_members(data: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut out = Vec::new();
    let mut at = 8;
    while at < data.len() {
        let header = data
            .get(at..at + 60)
            .ok_or_else(|| format!("offset {at:#x}: truncated ar member header"))?;
        let name = String::from_utf8_lossy(&header[..16])
            .trim_end()
            .trim_end_matches('/')
            .to_string();
        let size: usize = std::str::from_utf8(&header[48..58])
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(|| format!("offset {:#x}: bad ar member size", at + 48))?;
        let start = at + 60;
        let body = data
            .get(start..start.saturating_add(size))
            .ok_or_else(|| format!("offset {start:#x}: ar member {name} truncated"))?;
        out.push((name, body.to_vec()));
        at = start + size + (size & 1);
    }
    Ok(out)
}

/// Regular-file members of a tar archive, names without a leading `./`.
fn tar_members(data: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(header) = data.get(at..at + 512) {
        if header.iter().all(|&b| b == 0) {
            break;
        }
        let field = |r: std::ops::Range<usize>| {
            let raw = &header[r];
            let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
            String::from_utf8_lossy(&raw[..end]).into_owned()
        };
        let size = usize::from_str_radix(field(124..136).trim(), 8)
            .map_err(|_| format!("offset {:#x}: bad tar size field", at + 124))?;
        let mut name = field(0..100);
        let prefix = field(345..500);
        if header[257..262] == *b"ustar" && !prefix.is_empty() {
            name = format!("{prefix}/{name}");
        }
        let start = at + 512;
        let body = data
            .get(start..start.saturating_add(size))
            .ok_or_else(|| format!("offset {start:#x}: tar member {name} truncated"))?;
        if matches!(header[156], b'0' | 0) {
            let name = name.trim_start_matches("./").to_string();
            out.push((name, body.to_vec()));
        }
        at = start + size.div_ceil(512) * 512;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEB: &[u8] = include_bytes!(
        "../../tests/fixtures/manifests/package-files/dnsmasq-base_2.80-1+deb10u1_armhf.deb"
    );
    const IPK: &[u8] = include_bytes!(
        "../../tests/fixtures/manifests/package-files/dropbear_2022.82-6_mipsel_24kc.ipk"
    );

    #[test]
    fn reads_control_of_deb_and_ipk() {
        let c = parse("x.deb", "/x.deb", DEB).unwrap();
        assert_eq!(
            c[0].purl,
            "pkg:deb/debian/dnsmasq-base@2.80-1%2Bdeb10u1?arch=armhf"
        );
        assert_eq!(c[0].sources[0].method, "deb-file");
        assert_eq!(c[0].upstream.as_ref().unwrap().version, "2.80");
        let c = parse("x.ipk", "/x.ipk", IPK).unwrap();
        assert_eq!(
            c[0].purl,
            "pkg:opkg/openwrt/dropbear@2022.82-6?arch=mipsel_24kc"
        );
    }

    #[test]
    fn truncated_or_foreign_files_are_errors() {
        for cut in [10, 70, 200, DEB.len() - 300] {
            assert!(
                parse("x.deb", "/x.deb", &DEB[..cut]).is_err(),
                "cut at {cut}"
            );
        }
        assert!(parse("x.ipk", "/x.ipk", &IPK[..100]).is_err());
        assert_eq!(
            parse("x.deb", "/x.deb", b"hello").unwrap_err(),
            "offset 0: neither an ar archive nor a gzip'd tar"
        );
    }
}
