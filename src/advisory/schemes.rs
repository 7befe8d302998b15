//! Version orderings per ecosystem, so that an OSV range is walked with the
//! rules of the ecosystem that wrote it: semver (crates.io, npm, Go),
//! PEP 440 (PyPI), dpkg (Debian, Ubuntu, opkg), rpm (Red Hat, SUSE, ...),
//! and upstream versions of native projects ([`super::version`]).

use super::version;
use std::cmp::Ordering;

/// A version ordering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Upstream,
    Semver,
    Pep440,
    Dpkg,
    Rpm,
}

impl Scheme {
    /// The ordering an OSV ecosystem uses (`Debian:12` counts as Debian).
    pub fn for_ecosystem(ecosystem: &str) -> Scheme {
        let base = ecosystem
            .split(':')
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        match base.as_str() {
            "crates.io" | "npm" | "go" | "hex" | "pub" | "nuget" | "packagist" => Scheme::Semver,
            "pypi" => Scheme::Pep440,
            "debian" | "ubuntu" | "opkg" | "deb" => Scheme::Dpkg,
            "red hat" | "redhat" | "rocky linux" | "almalinux" | "suse" | "opensuse" | "mageia"
            | "rpm" => Scheme::Rpm,
            _ => Scheme::Upstream,
        }
    }

    pub fn compare(self, a: &str, b: &str) -> Ordering {
        match self {
            Scheme::Upstream => version::compare(a, b),
            Scheme::Semver => semver_compare(a, b),
            Scheme::Pep440 => pep440_compare(a, b),
            Scheme::Dpkg => dpkg_compare(a, b),
            Scheme::Rpm => rpm_compare(a, b),
        }
    }
}

/// Semver 2.0 precedence (build metadata ignored); Go's `v` prefix accepted.
/// Versions that are not semver fall back to the upstream ordering.
fn semver_compare(a: &str, b: &str) -> Ordering {
    let parse = |s: &str| semver::Version::parse(s.trim().trim_start_matches('v')).ok();
    match (parse(a), parse(b)) {
        (Some(x), Some(y)) => x.cmp_precedence(&y),
        _ => version::compare(a, b),
    }
}

/// PEP 440: `[N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local]`, normalised
/// spellings (`alpha`, `c`, `pre`, `-1` as post) accepted.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Pep440 {
    epoch: u64,
    release: Vec<u64>,
    /// Sort key of the pre/post/dev phase, see [`Pep440::parse`].
    phase: (i8, u64, u64, u64, (u8, u64)),
    local: Vec<String>,
}

impl Pep440 {
    fn parse(text: &str) -> Option<Pep440> {
        let s = text.trim().to_ascii_lowercase();
        let s = s.strip_prefix('v').unwrap_or(&s);
        let (s, local) = match s.split_once('+') {
            Some((v, l)) => (v, l.split(['.', '-', '_']).map(str::to_string).collect()),
            None => (s, Vec::new()),
        };
        let (epoch, s) = match s.split_once('!') {
            Some((e, rest)) => (e.parse().ok()?, rest),
            None => (0, s),
        };
        let bytes = s.as_bytes();
        let mut i = 0;
        let mut release = Vec::new();
        loop {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            if start == i {
                return None;
            }
            release.push(s[start..i].parse().ok()?);
            if i + 1 < bytes.len() && bytes[i] == b'.' && bytes[i + 1].is_ascii_digit() {
                i += 1;
            } else {
                break;
            }
        }
        while release.len() > 1 && release.last() == Some(&0) {
            release.pop();
        }
        let mut rest = &s[i..];
        let mut pre: Option<(u8, u64)> = None;
        let mut post: Option<u64> = None;
        let mut dev: Option<u64> = None;
        while !rest.is_empty() {
            rest = rest.trim_start_matches(['.', '-', '_']);
            let word_len = rest
                .find(|c: char| !c.is_ascii_alphabetic())
                .unwrap_or(rest.len());
            let (word, after) = rest.split_at(word_len);
            let num_len = after
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(after.len());
            let (num, after) = after.split_at(num_len);
            let n: u64 = if num.is_empty() { 0 } else { num.parse().ok()? };
            match word {
                "a" | "alpha" => pre = Some((0, n)),
                "b" | "beta" => pre = Some((1, n)),
                "rc" | "c" | "pre" | "preview" => pre = Some((2, n)),
                "post" | "rev" | "r" => post = Some(n),
                "" if !num.is_empty() => post = Some(n),
                "dev" => dev = Some(n),
                _ => return None,
            }
            rest = after;
        }
        // Order within a release: X.devN < XaN.devM < XaN < XaN.postM < X < X.postN.devM < X.postN.
        let dev_key = (u8::from(dev.is_none()), dev.unwrap_or(0));
        let phase = match (pre, post) {
            (Some((kind, n)), _) => (0, kind as u64, n, post.map_or(0, |p| p + 1), dev_key),
            (None, Some(p)) => (2, 0, 0, p, dev_key),
            (None, None) if dev.is_some() => (-1, 0, 0, 0, dev_key),
            (None, None) => (1, 0, 0, 0, dev_key),
        };
        Some(Pep440 {
            epoch,
            release,
            phase,
            local,
        })
    }
}

fn pep440_compare(a: &str, b: &str) -> Ordering {
    match (Pep440::parse(a), Pep440::parse(b)) {
        (Some(x), Some(y)) => x
            .epoch
            .cmp(&y.epoch)
            .then_with(|| x.release.cmp(&y.release))
            .then_with(|| x.phase.cmp(&y.phase))
            .then_with(|| x.local.cmp(&y.local)),
        _ => version::compare(a, b),
    }
}

/// dpkg's `[epoch:]upstream[-revision]` ordering (deb-version(7)): `~` sorts
/// before everything, even the end of the string; letters before other characters.
pub fn dpkg_compare(a: &str, b: &str) -> Ordering {
    let split = |v: &str| {
        let (epoch, rest) = match v.split_once(':') {
            Some((e, r)) if e.chars().all(|c| c.is_ascii_digit()) => {
                (e.parse::<u64>().unwrap_or(0), r)
            }
            _ => (0, v),
        };
        let (up, rev) = rest.rsplit_once('-').unwrap_or((rest, "0"));
        (epoch, up.to_string(), rev.to_string())
    };
    let (ea, ua, ra) = split(a.trim());
    let (eb, ub, rb) = split(b.trim());
    ea.cmp(&eb)
        .then_with(|| dpkg_part(&ua, &ub))
        .then_with(|| dpkg_part(&ra, &rb))
}

fn dpkg_order(c: Option<u8>) -> i32 {
    match c {
        Some(b'~') => -1,
        None => 0,
        Some(c) if c.is_ascii_alphabetic() => c as i32,
        Some(c) => c as i32 + 256,
    }
}

fn dpkg_part(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        // Non-digit prefix, character by character.
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let ca = a.get(i).copied().filter(|c| !c.is_ascii_digit());
            let cb = b.get(j).copied().filter(|c| !c.is_ascii_digit());
            let ord = dpkg_order(ca).cmp(&dpkg_order(cb));
            if ord != Ordering::Equal {
                return ord;
            }
            if ca.is_some() {
                i += 1;
            }
            if cb.is_some() {
                j += 1;
            }
        }
        let num = |s: &[u8], k: &mut usize| {
            let mut n: u128 = 0;
            while *k < s.len() && s[*k].is_ascii_digit() {
                n = n
                    .saturating_mul(10)
                    .saturating_add(u128::from(s[*k] - b'0'));
                *k += 1;
            }
            n
        };
        let (na, nb) = (num(a, &mut i), num(b, &mut j));
        if na != nb {
            return na.cmp(&nb);
        }
    }
    Ordering::Equal
}

/// rpm's `rpmvercmp` on `[epoch:]version[-release]`: alphanumeric segments,
/// numbers beat letters, `~` sorts before everything, `^` after the end.
pub fn rpm_compare(a: &str, b: &str) -> Ordering {
    let split = |v: &str| {
        let (epoch, rest) = match v.split_once(':') {
            Some((e, r)) if e.chars().all(|c| c.is_ascii_digit()) => {
                (e.parse::<u64>().unwrap_or(0), r)
            }
            _ => (0, v),
        };
        let (ver, rel) = rest.rsplit_once('-').map_or((rest, ""), |(v, r)| (v, r));
        (epoch, ver.to_string(), rel.to_string())
    };
    let (ea, va, ra) = split(a.trim());
    let (eb, vb, rb) = split(b.trim());
    ea.cmp(&eb).then_with(|| rpmvercmp(&va, &vb)).then_with(|| {
        if ra.is_empty() || rb.is_empty() {
            Ordering::Equal
        } else {
            rpmvercmp(&ra, &rb)
        }
    })
}

fn rpmvercmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    loop {
        while i < a.len() && !a[i].is_ascii_alphanumeric() && a[i] != b'~' && a[i] != b'^' {
            i += 1;
        }
        while j < b.len() && !b[j].is_ascii_alphanumeric() && b[j] != b'~' && b[j] != b'^' {
            j += 1;
        }
        let (ta, tb) = (a.get(i).copied(), b.get(j).copied());
        if ta == Some(b'~') || tb == Some(b'~') {
            if ta != Some(b'~') {
                return Ordering::Greater;
            }
            if tb != Some(b'~') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        if ta == Some(b'^') || tb == Some(b'^') {
            return match (ta, tb) {
                (None, _) => Ordering::Less,
                (_, None) => Ordering::Greater,
                (Some(b'^'), Some(b'^')) => {
                    i += 1;
                    j += 1;
                    continue;
                }
                (Some(b'^'), _) => Ordering::Less,
                _ => Ordering::Greater,
            };
        }
        let (Some(ca), Some(cb)) = (ta, tb) else {
            return (i < a.len()).cmp(&(j < b.len()));
        };
        let digits = ca.is_ascii_digit();
        let take = |s: &[u8], k: &mut usize| {
            let start = *k;
            while *k < s.len()
                && (if digits {
                    s[*k].is_ascii_digit()
                } else {
                    s[*k].is_ascii_alphabetic()
                })
            {
                *k += 1;
            }
            start..*k
        };
        let sa = take(a, &mut i);
        let sb = take(b, &mut j);
        if sb.is_empty() {
            // Segments of different kinds: numeric is newer.
            return if digits {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let (xa, xb) = (&a[sa], &b[sb]);
        let ord = if digits {
            let trim = |s: &[u8]| {
                let k = s.iter().position(|&c| c != b'0').unwrap_or(s.len());
                s[k..].to_vec()
            };
            let (xa, xb) = (trim(xa), trim(xb));
            xa.len().cmp(&xb.len()).then_with(|| xa.cmp(&xb))
        } else {
            xa.cmp(xb)
        };
        if ord != Ordering::Equal {
            return ord;
        }
        let _ = cb;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (scheme, lower, higher): checked in both directions.
    const ORDERED: &[(Scheme, &str, &str)] = &[
        // semver (crates.io, npm, Go)
        (Scheme::Semver, "0.6.9", "0.6.10"),
        (Scheme::Semver, "1.0.0-alpha", "1.0.0-alpha.1"),
        (Scheme::Semver, "1.0.0-alpha.1", "1.0.0-alpha.beta"),
        (Scheme::Semver, "1.0.0-alpha.beta", "1.0.0-beta"),
        (Scheme::Semver, "1.0.0-beta", "1.0.0-beta.2"),
        (Scheme::Semver, "1.0.0-beta.2", "1.0.0-beta.11"),
        (Scheme::Semver, "1.0.0-beta.11", "1.0.0-rc.1"),
        (Scheme::Semver, "1.0.0-rc.1", "1.0.0"),
        (Scheme::Semver, "1.0.0", "1.0.1"),
        (Scheme::Semver, "1.9.0", "1.10.0"),
        (Scheme::Semver, "1.10.0", "1.11.0"),
        (Scheme::Semver, "0.9.9", "1.0.0"),
        (Scheme::Semver, "v0.3.7", "v0.3.8"),
        (Scheme::Semver, "v1.2.3", "v1.10.0"),
        (
            Scheme::Semver,
            "v0.0.0-20210226172049-e18ecbb05110",
            "v0.0.1",
        ),
        (Scheme::Semver, "4.17.20", "4.17.21"),
        (Scheme::Semver, "2.0.0-rc.1", "2.0.0"),
        (Scheme::Semver, "0.1.44", "0.2.23"),
        (Scheme::Semver, "1.2.3-0", "1.2.3"),
        (Scheme::Semver, "10.0.0", "11.0.0-pre.1"),
        // PEP 440
        (Scheme::Pep440, "1.0.dev0", "1.0a1"),
        (Scheme::Pep440, "1.0a1", "1.0a2"),
        (Scheme::Pep440, "1.0a2", "1.0b1"),
        (Scheme::Pep440, "1.0b1", "1.0rc1"),
        (Scheme::Pep440, "1.0rc1", "1.0"),
        (Scheme::Pep440, "1.0", "1.0.post1"),
        (Scheme::Pep440, "1.0.post1", "1.0.post2"),
        (Scheme::Pep440, "1.0.post2", "1.1.dev1"),
        (Scheme::Pep440, "1.0a1.dev1", "1.0a1"),
        (Scheme::Pep440, "1.0.post1.dev1", "1.0.post1"),
        (Scheme::Pep440, "2.9.9", "2.10.0"),
        (Scheme::Pep440, "1.0", "1!0.1"),
        (Scheme::Pep440, "1.0", "1.0+local.1"),
        (Scheme::Pep440, "1.0+abc", "1.0+abd"),
        (Scheme::Pep440, "1.0c1", "1.0"),
        (Scheme::Pep440, "1.0alpha1", "1.0beta1"),
        (Scheme::Pep440, "1.0-1", "1.0.post2"),
        (Scheme::Pep440, "0.9", "1.0.0"),
        (Scheme::Pep440, "41.0.7", "42.0.0"),
        (Scheme::Pep440, "2.31.0", "2.32.0"),
        (Scheme::Pep440, "10.0.0", "10.0.1"),
        (Scheme::Pep440, "3.9.0rc2", "3.9.0"),
        (Scheme::Pep440, "1.26.5", "1.26.18"),
        (Scheme::Pep440, "2023.7.22", "2024.2.2"),
        (Scheme::Pep440, "v1.0", "1.1"),
        // dpkg
        (Scheme::Dpkg, "1.0~rc1", "1.0"),
        (Scheme::Dpkg, "1.0~~", "1.0~"),
        (Scheme::Dpkg, "1.0~", "1.0"),
        (Scheme::Dpkg, "1.0", "1.0a"),
        (Scheme::Dpkg, "1.0a", "1.0+"),
        (Scheme::Dpkg, "1.0-1", "1.0-2"),
        (Scheme::Dpkg, "1.0-9", "1.0-10"),
        (Scheme::Dpkg, "1.0-1", "1:0.9-1"),
        (Scheme::Dpkg, "3.0.17-1~deb12u1", "3.0.17-1~deb12u2"),
        (Scheme::Dpkg, "3.0.17-1~deb12u2", "3.0.17-1"),
        (Scheme::Dpkg, "3.0.17-1", "3.0.18-1"),
        (Scheme::Dpkg, "2.36-9+deb12u4", "2.36-9+deb12u10"),
        (Scheme::Dpkg, "2.36-9", "2.36-9+deb12u1"),
        (Scheme::Dpkg, "1:1.2.13.dfsg-1", "1:1.2.13.dfsg-1+b1"),
        (Scheme::Dpkg, "1:1.35.0-4", "1:1.35.0-4+b3"),
        (Scheme::Dpkg, "7.88.1-10+deb12u5", "7.88.1-10+deb12u14"),
        (Scheme::Dpkg, "2022.83-1", "2022.83-1+deb12u1"),
        (Scheme::Dpkg, "0.9", "0.10"),
        (Scheme::Dpkg, "1.2.3", "1.2.3.1"),
        (Scheme::Dpkg, "1.35.0-6", "1.36.1-1"),
        (Scheme::Dpkg, "2.89-1", "2.90-4~deb12u1"),
        (Scheme::Dpkg, "5.10.0-21", "5.10.0-22"),
        (Scheme::Dpkg, "1.4.69-1", "1.4.69-1+deb12u1"),
        (Scheme::Dpkg, "2.28.3-1", "2.28.3-1+deb12u1"),
        (Scheme::Dpkg, "1.0-1ubuntu1", "1.0-1ubuntu2"),
        // rpm
        (Scheme::Rpm, "1.0", "1.0.1"),
        (Scheme::Rpm, "1.0~rc1", "1.0"),
        (Scheme::Rpm, "1.0", "1.0^git1"),
        (Scheme::Rpm, "1.0^git1", "1.0.1"),
        (Scheme::Rpm, "1.0a", "1.0.1"),
        (Scheme::Rpm, "1.0a", "1.0b"),
        (Scheme::Rpm, "2.5.1-1.el8", "2.5.1-2.el8"),
        (Scheme::Rpm, "1.1.1k-7.el8", "1:1.1.1k-5.el8"),
        (Scheme::Rpm, "3.0.7-24.el9", "3.0.7-25.el9"),
        (Scheme::Rpm, "1.9b", "1.10"),
        (
            Scheme::Rpm,
            "5.4.17-2011.0.7.el8uek",
            "5.4.17-2102.0.1.el8uek",
        ),
        (Scheme::Rpm, "0.9.8", "1.0"),
        (Scheme::Rpm, "2.28-225.el8", "2.28-225.el8_8.6"),
        (Scheme::Rpm, "1.01", "1.2"),
        (Scheme::Rpm, "7.61.1-30.el8", "7.76.1-26.el9"),
        // upstream (native projects)
        (Scheme::Upstream, "1.0.2k", "1.0.2u"),
        (Scheme::Upstream, "1.0.2z", "1.0.2za"),
        (Scheme::Upstream, "1.1.1w", "1.1.1za"),
        (Scheme::Upstream, "1.1.1zd", "3.0.0"),
        (Scheme::Upstream, "3.0.9", "3.0.10"),
        (Scheme::Upstream, "9.2p1", "9.3p1"),
        (Scheme::Upstream, "9.3p1", "9.3p2"),
        (Scheme::Upstream, "8.9p1", "9.0p1"),
        (Scheme::Upstream, "9.3", "9.3p1"),
        (Scheme::Upstream, "2022.83", "2024.84"),
        (Scheme::Upstream, "2019.78", "2020.79"),
        (Scheme::Upstream, "2.89", "2.90"),
        (Scheme::Upstream, "2.90test1", "2.90"),
        (Scheme::Upstream, "2.86rc3", "2.86"),
        (Scheme::Upstream, "1.35.0", "1.36.1"),
        (Scheme::Upstream, "1.2.11", "1.2.12"),
        (Scheme::Upstream, "1.2.11.1", "1.2.12"),
        (Scheme::Upstream, "1.2.12", "1.2.13"),
        (Scheme::Upstream, "1.2.13", "1.3"),
        (Scheme::Upstream, "1.3", "1.3.0.1"),
        (Scheme::Upstream, "7.88.1", "8.0.0"),
        (Scheme::Upstream, "8.9.1", "8.10.0"),
        (Scheme::Upstream, "2.36", "2.39"),
        (Scheme::Upstream, "2.39", "2.40"),
        (Scheme::Upstream, "1.2.3", "1.2.4"),
        (Scheme::Upstream, "1.4.69", "1.4.70"),
        (Scheme::Upstream, "2.28.3", "2.28.8"),
        (Scheme::Upstream, "2.28.8", "3.0.0"),
        (Scheme::Upstream, "5.5.4", "5.6.6"),
        (Scheme::Upstream, "4.14.180", "4.14.336"),
        (Scheme::Upstream, "4.19", "4.19.1"),
        (Scheme::Upstream, "5.10.176", "5.10.209"),
        (Scheme::Upstream, "6.1-rc7", "6.1"),
        (Scheme::Upstream, "6.1", "6.1.1"),
        (Scheme::Upstream, "2023.01", "2023.04"),
        (Scheme::Upstream, "2019.07", "2019.10"),
        (Scheme::Upstream, "2022.07-rc5", "2022.07"),
        (Scheme::Upstream, "3.44.0", "3.45.1"),
        (Scheme::Upstream, "2.5.0", "2.6.0"),
        (Scheme::Upstream, "2.9.14", "2.10.0"),
        (Scheme::Upstream, "1.6.37", "1.6.40"),
        (Scheme::Upstream, "0.9.8zh", "1.0.0"),
        (Scheme::Upstream, "1.0.1f", "1.0.1g"),
        (Scheme::Upstream, "3.5.0-alpha1", "3.5.0-beta1"),
        (Scheme::Upstream, "3.5.0-beta1", "3.5.0"),
        (Scheme::Upstream, "1.24.2", "1.25.1"),
        (Scheme::Upstream, "0", "0.1"),
        (Scheme::Upstream, "1.0.0", "1.0.0a"),
        (Scheme::Upstream, "1.1.0l", "1.1.1"),
        (Scheme::Upstream, "2.4.41", "2.4.58"),
        (Scheme::Upstream, "1.0.2zl", "1.0.2zm"),
        (Scheme::Upstream, "3.0.20", "3.0.21"),
        (Scheme::Upstream, "3.1.8", "3.2.0"),
        (Scheme::Upstream, "2.6.0", "2.6.4"),
        (Scheme::Upstream, "4.4.26", "4.5"),
        (Scheme::Upstream, "2.6.22", "3.0"),
        (Scheme::Upstream, "1.16.0", "1.34.0"),
        (Scheme::Upstream, "7.9.1", "7.69.0"),
        (Scheme::Semver, "0.3.9", "0.3.17"),
        (Scheme::Semver, "1.0.0-rc.9", "1.0.0-rc.10"),
        (Scheme::Semver, "1.0.0-beta", "1.0.0-beta.0"),
        (Scheme::Semver, "0.10.0-beta.1", "0.10.0"),
        (Scheme::Pep440, "1.0.dev1", "1.0.dev2"),
        (Scheme::Pep440, "1.0a1.post1", "1.0b1"),
        (Scheme::Pep440, "1.0.post1.dev1", "1.0.post1.dev2"),
        (Scheme::Pep440, "1.1rc1", "1.1"),
        (Scheme::Dpkg, "1.0+dfsg", "1.0+dfsg1"),
        (Scheme::Dpkg, "2:1.0", "10:0.1"),
        (Scheme::Dpkg, "1.2~beta1", "1.2~beta2"),
        (Scheme::Rpm, "1.0-1", "1.0-1.1"),
        (Scheme::Rpm, "2:1.0", "3:0.9"),
    ];

    #[test]
    fn ordered_pairs_in_both_directions() {
        assert!(ORDERED.len() >= 150, "{} pairs", ORDERED.len());
        for (scheme, lo, hi) in ORDERED {
            assert_eq!(
                scheme.compare(lo, hi),
                Ordering::Less,
                "{scheme:?}: {lo} < {hi}"
            );
            assert_eq!(
                scheme.compare(hi, lo),
                Ordering::Greater,
                "{scheme:?}: {hi} > {lo}"
            );
        }
    }

    #[test]
    fn equal_spellings() {
        assert_eq!(Scheme::Pep440.compare("1.0", "1.0.0"), Ordering::Equal);
        assert_eq!(
            Scheme::Pep440.compare("1.0alpha1", "1.0a1"),
            Ordering::Equal
        );
        assert_eq!(Scheme::Dpkg.compare("0:1.0-1", "1.0-1"), Ordering::Equal);
        assert_eq!(
            Scheme::Semver.compare("1.0.0+build1", "1.0.0+build2"),
            Ordering::Equal
        );
        assert_eq!(Scheme::Rpm.compare("1.01", "1.1"), Ordering::Equal);
    }

    #[test]
    fn ecosystems_pick_their_scheme() {
        assert_eq!(Scheme::for_ecosystem("crates.io"), Scheme::Semver);
        assert_eq!(Scheme::for_ecosystem("PyPI"), Scheme::Pep440);
        assert_eq!(Scheme::for_ecosystem("Debian:12"), Scheme::Dpkg);
        assert_eq!(Scheme::for_ecosystem("Red Hat"), Scheme::Rpm);
        assert_eq!(Scheme::for_ecosystem("Generic"), Scheme::Upstream);
    }
}
