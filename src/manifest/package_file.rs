//! Package files shipped inside an image, not installed: Debian `.deb` (an
//! `ar` archive whose `control.tar.{gz,xz,zst,bz2}` or plain `control.tar`
//! holds `./control`) and OpenWrt `.ipk` (the same layout, either as `ar`
//! or as a gzip'd tar). A firmware that carries packages for later
//! installation ships their code too.
//!
//! Read with the unpack stage's own readers (ar, tar, the stream codecs),
//! under a budget of their own: no second archive reader here.

use super::{control, dpkg, opkg};
use crate::model::Component;
use crate::unpack::compress::{self, Codec};
use crate::unpack::formats::{Format, Problem, Rejection, ar, tar::Tar};
use crate::unpack::limits::{Budget, Limits};

/// Control archives are a few KiB; more than this is not a package.
const CONTROL_CAP: u64 = 4 << 20;

pub fn is_package_file(fs_path: &str) -> bool {
    fs_path.ends_with(".deb") || fs_path.ends_with(".ipk")
}

/// What reading one package file may cost: a gzip'd `.ipk` holds its data
/// archive too, so the outer archive gets more than the control file.
fn budget() -> Budget {
    Budget::new(Limits {
        max_total_bytes: CONTROL_CAP * 32,
        max_file_size: CONTROL_CAP * 16,
        max_memory: CONTROL_CAP * 64,
        max_entries: 10_000,
        ..Limits::default()
    })
}

/// The package described by the `.deb` or `.ipk` file at `path`.
pub fn parse(path: &str, fs_path: &str, data: &[u8]) -> Result<Vec<Component>, String> {
    let mut budget = budget();
    let members: Vec<(String, Vec<u8>)> = if let Some(archive) = ar::members(data) {
        if let Some(problem) = archive.problems.first() {
            return Err(message(problem));
        }
        archive
            .members
            .into_iter()
            .map(|(name, body)| (name, body.to_vec()))
            .collect()
    } else if data.starts_with(&[0x1f, 0x8b]) {
        let outer = decoded(
            compress::decode(Codec::Gzip, data, &budget),
            CONTROL_CAP * 16,
        )?;
        tar_files(&outer, &mut budget)?
    } else {
        return Err("offset 0: neither an ar archive nor a gzip'd tar".to_string());
    };
    let (name, archive) = members
        .iter()
        .find(|(name, _)| name.starts_with("control.tar"))
        .ok_or("no control.tar member")?;
    let codec = match name.as_str() {
        "control.tar" => None,
        "control.tar.gz" => Some(Codec::Gzip),
        "control.tar.xz" => Some(Codec::Xz),
        "control.tar.zst" => Some(Codec::Zstd),
        "control.tar.bz2" => Some(Codec::Bzip2),
        "control.tar.lzma" => Some(Codec::LzmaAlone),
        other => return Err(format!("{other}: compression not supported")),
    };
    let tar = match codec {
        None => archive.clone(),
        Some(codec) => decoded(compress::decode(codec, archive, &budget), CONTROL_CAP)
            .map_err(|e| format!("{name}: {e}"))?,
    };
    let (_, text) = tar_files(&tar, &mut budget)?
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

fn message(problem: &Problem) -> String {
    match problem {
        Problem::Error(m) | Problem::Limit(m) => m.clone(),
    }
}

/// A whole stream no larger than `cap`, or why not.
fn decoded(d: compress::Decoded, cap: u64) -> Result<Vec<u8>, String> {
    if d.data.len() as u64 > cap || d.stopped() {
        return Err(format!("archive expands past {} MiB", cap >> 20));
    }
    match d.error {
        Some(e) => Err(e),
        None => Ok(d.data),
    }
}

/// Regular files of a tar archive (names without `./`), through the tar
/// layer reader; any problem it meets is an error here.
fn tar_files(data: &[u8], budget: &mut Budget) -> Result<Vec<(String, Vec<u8>)>, String> {
    let out = Tar.extract(data, budget).map_err(|r| match r {
        Rejection::NotThisFormat => "offset 0: not a tar archive".to_string(),
        Rejection::Corrupt(m) | Rejection::Limit(m) => m,
    })?;
    if let Some(problem) = out.notes.first() {
        return Err(message(problem));
    }
    Ok(out
        .entries
        .into_iter()
        .filter(|e| e.kind == crate::unpack::tree::EntryKind::File)
        .map(|e| (e.path, e.data))
        .collect())
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

    /// dpkg-deb -Zzstd (Ubuntu's default): control.tar.zst.
    #[test]
    fn reads_a_deb_with_zstd_members() {
        const ZSTD: &[u8] = include_bytes!(
            "../../tests/fixtures/manifests/package-files/zstd-demo_1.2.3-1_amd64.deb"
        );
        let c = parse("z.deb", "/z.deb", ZSTD).unwrap();
        assert_eq!(c[0].purl, "pkg:deb/debian/zstd-demo@1.2.3-1?arch=amd64");
        assert_eq!(
            c[0].sources[0].evidence,
            "control line 1: Package: zstd-demo, Version: 1.2.3-1"
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
