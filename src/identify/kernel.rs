//! Linux kernel version reading: the one place that turns a kernel release
//! string (`uname -r`: `6.1.0-28-armmp`, `4.19.157-perf+`, `4.4.50`) and the
//! text around it into the upstream version advisories are written against.
//!
//! Distributions number their kernels by ABI: Debian's `6.1.0-28-armmp` is
//! upstream 6.1.119, which only the banner's version field says (`#1 SMP
//! Debian 6.1.119-1 (2024-11-22)`). A module's `vermagic` carries the release
//! alone, so it names an upstream version only when the release is one
//! (OpenWrt's `5.15.150`), and never overrides a banner.

use regex::bytes::Regex;
use std::sync::LazyLock;

/// The rules a signature may name with `post = "..."`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Post {
    /// A banner (`Linux version RELEASE (...) #N ... [Debian UPSTREAM-REV]`):
    /// the distribution's upstream version when given, else the release's.
    KernelBanner,
    /// A module's `vermagic=RELEASE`: the release's upstream version, or
    /// nothing when the release is a distribution ABI name.
    KernelModule,
}

impl Post {
    pub fn parse(name: &str) -> Option<Post> {
        match name {
            "kernel-banner" => Some(Post::KernelBanner),
            "kernel-module" => Some(Post::KernelModule),
            _ => None,
        }
    }
}

static RELEASE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?-u)\A(?P<major>\d{1,2})\.(?P<minor>\d{1,3})(?:\.(?P<patch>\d{1,3}))?(?:\.(?P<sub>\d{1,3}))?(?P<local>.*)\z")
        .expect("valid")
});

/// A kernel release split into its upstream version and the rest.
#[derive(Debug, PartialEq, Eq)]
pub struct Release {
    /// `6.1.0`, `4.19.157`, `2.6.36.4`.
    pub upstream: String,
    /// True when the release is an ABI name (`6.1.0-28-armmp`,
    /// `5.15.0-91-generic`, `3.10.0-1160.el7.x86_64`): the patch level is
    /// the distribution's ABI base, not the upstream release.
    pub abi: bool,
}

/// Reads a release string (`uname -r`).
pub fn release(text: &str) -> Option<Release> {
    let caps = RELEASE.captures(text.as_bytes())?;
    let num = |g: &str| -> Option<u32> {
        std::str::from_utf8(caps.name(g)?.as_bytes())
            .ok()?
            .parse()
            .ok()
    };
    let (major, minor) = (num("major")?, num("minor")?);
    let patch = num("patch");
    let local = caps.name("local").map_or(&b""[..], |m| m.as_bytes());
    // 2.6 kernels had four numbers (2.6.32.27); later ones three.
    let sub = num("sub").filter(|_| major == 2);
    if num("sub").is_some() && sub.is_none() {
        return None;
    }
    let upstream = match (patch, sub) {
        (Some(p), Some(s)) => format!("{major}.{minor}.{p}.{s}"),
        (Some(p), None) => format!("{major}.{minor}.{p}"),
        (None, _) => format!("{major}.{minor}.0"),
    };
    // "-<digits>" right after an x.y.0 release: a distribution ABI number.
    let abi = patch.unwrap_or(0) == 0
        && local.first() == Some(&b'-')
        && local.get(1).is_some_and(u8::is_ascii_digit);
    Some(Release { upstream, abi })
}

/// The version a kernel signature reports: `release` as captured, `distro`
/// the upstream version a distribution wrote beside it (Debian's banner).
pub fn version(post: Post, release_text: &str, distro: Option<&str>) -> Option<String> {
    let parsed = release(release_text)?;
    match post {
        Post::KernelBanner => {
            if let Some(upstream) = distro.and_then(release)
                && !upstream.abi
                && same_series(&upstream.upstream, &parsed.upstream)
            {
                return Some(upstream.upstream);
            }
            // An ABI name without the distribution's own version: say what
            // is known (the release as written), not a wrong upstream patch level.
            Some(if parsed.abi {
                release_text.to_string()
            } else {
                parsed.upstream
            })
        }
        Post::KernelModule => (!parsed.abi).then_some(parsed.upstream),
    }
}

/// True for versions of one x.y series.
fn same_series(a: &str, b: &str) -> bool {
    a.split('.').take(2).eq(b.split('.').take(2))
}

/// The banner an x86 boot image (bzImage) carries in its setup header
/// (`kernel_version`, pointed to from offset 0x20e): "RELEASE (USER@HOST)
/// #N ...". Returns (offset, text).
pub fn bzimage_banner(data: &[u8]) -> Option<(usize, String)> {
    if data.get(0x202..0x206)? != b"HdrS" {
        return None;
    }
    let pointer = u16::from_le_bytes([*data.get(0x20e)?, *data.get(0x20f)?]) as usize;
    let start = pointer.checked_add(0x200)?;
    let tail = data.get(start..data.len().min(start + 512))?;
    let end = tail.iter().position(|&b| b == 0)?;
    let text = std::str::from_utf8(&tail[..end]).ok()?;
    // The header's string must itself look like a banner.
    let (release_text, rest) = text.split_once(' ')?;
    if !rest.starts_with('(') || !rest.contains('#') {
        return None;
    }
    release(release_text)?;
    Some((start, text.to_string()))
}

/// The kernel an x86 boot image names in its setup header: the header
/// string's offset, its text and the kernel's version.
pub fn bzimage(data: &[u8]) -> Option<(usize, String, String)> {
    let (offset, text) = bzimage_banner(data)?;
    let (release_text, distro) = banner_parts(&text)?;
    let version = version(Post::KernelBanner, release_text, distro)?;
    Some((offset, text, version))
}

/// True for a hit quoting a module's `vermagic=` rather than a banner.
pub fn is_module_hit(text: &str) -> bool {
    text.starts_with("vermagic=")
}

/// The release and the distribution's upstream version in a banner's text
/// after "Linux version " (or a bzImage header string).
pub fn banner_parts(text: &str) -> Option<(&str, Option<&str>)> {
    let release_text = text.split([' ', '\0']).next()?;
    let distro = text
        .split_once('#')
        .and_then(|(_, after)| after.split_once(" Debian "))
        .and_then(|(_, v)| v.split(['-', ' ']).next());
    Some((release_text, distro))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn banner(text: &str) -> Option<String> {
        let (release_text, distro) = banner_parts(text)?;
        version(Post::KernelBanner, release_text, distro)
    }

    #[test]
    fn releases_of_every_vendor() {
        // Debian 12 armhf: ABI name, the upstream version in the version field.
        assert_eq!(
            banner(
                "6.1.0-28-armmp (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #1 SMP Debian 6.1.119-1 (2024-11-22)"
            ),
            Some("6.1.119".into())
        );
        // Debian 11 backport
        assert_eq!(
            banner(
                "6.1.0-0.deb11.21-amd64 (debian-kernel@lists.debian.org) (gcc-10) #1 SMP PREEMPT_DYNAMIC Debian 6.1.90-1~bpo11+1 (2024-05-06)"
            ),
            Some("6.1.90".into())
        );
        // OpenWrt / LEDE, Android, Yocto, Raspberry Pi
        assert_eq!(
            banner(
                "4.4.50 (buildbot@builds) (gcc version 5.4.0 (LEDE GCC 5.4.0 r3101-bce140e) ) #0 SMP Mon Feb 20 17:13:44 2017"
            ),
            Some("4.4.50".into())
        );
        assert_eq!(
            banner("4.19.157-perf+ (builder@host) #1 SMP PREEMPT"),
            Some("4.19.157".into())
        );
        assert_eq!(
            banner("5.15.71-yocto-standard (oe-user@oe-host) #1 SMP PREEMPT"),
            Some("5.15.71".into())
        );
        assert_eq!(
            banner("6.1.21-v8+ (dom@buildbot) #1642 SMP PREEMPT"),
            Some("6.1.21".into())
        );
        assert_eq!(
            banner("2.6.36.4brcmarm+ (root@localhost) #1 SMP"),
            Some("2.6.36.4".into())
        );
        // Ubuntu: the ABI name is all the banner says; no wrong patch level.
        assert_eq!(
            banner(
                "5.15.0-91-generic (buildd@lcy02-amd64-045) (gcc) #101-Ubuntu SMP Tue Nov 14 13:30:08 UTC 2023"
            ),
            Some("5.15.0-91-generic".into())
        );
        // Debian 12's reproducible builds leave the build number out ("# SMP").
        assert_eq!(
            banner(
                "6.1.0-57-amd64 (debian-kernel@lists.debian.org) # SMP PREEMPT_DYNAMIC Debian 6.1.192-3 (2026-11-26)"
            ),
            Some("6.1.192".into())
        );
        // A Debian field naming another series is not trusted.
        assert_eq!(
            banner("6.1.0-28-amd64 (x@y) #1 SMP Debian 5.10.2-1 (2020)"),
            Some("6.1.0-28-amd64".into())
        );
    }

    #[test]
    fn module_vermagic_gives_only_plain_releases() {
        assert_eq!(
            version(Post::KernelModule, "5.15.150", None),
            Some("5.15.150".into())
        );
        assert_eq!(
            version(Post::KernelModule, "3.16.0", None),
            Some("3.16.0".into())
        );
        assert_eq!(
            version(Post::KernelModule, "4.19.157-perf+", None),
            Some("4.19.157".into())
        );
        assert_eq!(version(Post::KernelModule, "6.1.0-28-armmp", None), None);
        assert_eq!(
            version(Post::KernelModule, "3.10.0-1160.el7.x86_64", None),
            None
        );
        assert_eq!(version(Post::KernelModule, "3.1.2.3", None), None);
    }

    #[test]
    fn bzimage_setup_header_banner() {
        let mut data = vec![0u8; 0x400];
        data[0x202..0x206].copy_from_slice(b"HdrS");
        data[0x20e..0x210].copy_from_slice(&0x100u16.to_le_bytes());
        let text = b"6.1.0-28-amd64 (debian-kernel@lists.debian.org) #1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1 (2024-11-22)\0";
        data[0x300..0x300 + text.len()].copy_from_slice(text);
        let (at, banner_text) = bzimage_banner(&data).unwrap();
        assert_eq!(at, 0x300);
        assert_eq!(banner(&banner_text), Some("6.1.119".into()));
        // No magic, or a pointer past the end: nothing.
        data[0x202] = b'X';
        assert!(bzimage_banner(&data).is_none());
        data[0x202] = b'H';
        data[0x20e..0x210].copy_from_slice(&0xff00u16.to_le_bytes());
        assert!(bzimage_banner(&data).is_none());
    }
}
