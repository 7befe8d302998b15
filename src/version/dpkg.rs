//! dpkg's version ordering and the upstream part of a Debian (or opkg)
//! package version.

use std::cmp::Ordering;

/// dpkg's `[epoch:]upstream[-revision]` ordering (deb-version(7)): `~` sorts
/// before everything, even the end of the string; letters before other characters.
pub fn compare(a: &str, b: &str) -> Ordering {
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

/// `[epoch:]rest` without the epoch.
fn without_epoch(version: &str) -> &str {
    match version.split_once(':') {
        Some((epoch, rest)) if !epoch.is_empty() && epoch.bytes().all(|c| c.is_ascii_digit()) => {
            rest
        }
        _ => version,
    }
}

/// The upstream release of a Debian version: no epoch, no Debian revision,
/// no repack or snapshot suffix (`1:1.2.13.dfsg-1` is 1.2.13,
/// `7.88.1-10+deb12u15` is 7.88.1, `1.0+really0.9-1` is 0.9), with a
/// pre-release kept as one (`2.90~rc1-1` is 2.90-rc1).
pub fn upstream(version: &str) -> String {
    let rest = without_epoch(version.trim());
    let up = rest.rsplit_once('-').map_or(rest, |(up, _)| up);
    clean_upstream(up)
}

/// [`upstream`] for opkg (OpenWrt): the same syntax, but a hyphen is only a
/// release separator when what follows looks like a release (`-3`, `-r3`,
/// `-10+deb12u15`); OpenWrt keeps upstream hyphens (`1.2-beta`).
pub fn opkg_upstream(version: &str) -> String {
    let rest = without_epoch(version.trim());
    let up = match rest.rsplit_once('-') {
        Some((up, release)) if looks_like_release(release) => up,
        _ => rest,
    };
    clean_upstream(up)
}

fn looks_like_release(release: &str) -> bool {
    let digits = release.strip_prefix('r').unwrap_or(release);
    digits.starts_with(|c: char| c.is_ascii_digit())
        && digits
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b".+~".contains(&c))
}

/// Words that make a `~` suffix a pre-release of the same upstream release
/// (`1.2~rc1`), not a snapshot or a Debian marker (`~695277a5`, `~deb12u1`).
const PRE_RELEASE: &[&str] = &["rc", "alpha", "beta", "pre", "dev", "test"];

/// Repack markers Debian appends to an upstream release with `.`
/// (`1.2.13.dfsg`).
const REPACK: &[&str] = &["dfsg", "ds", "repack", "orig", "nodocs"];

/// The upstream release inside a Debian upstream-version field.
fn clean_upstream(up: &str) -> String {
    // `+really` marks a version that claims to be newer than what it carries.
    let up = up
        .rsplit_once("+really")
        .or_else(|| up.rsplit_once("~really"))
        .map_or(up, |(_, real)| real);
    let mut out = String::with_capacity(up.len());
    let mut rest = up;
    while let Some(c) = rest.chars().next() {
        let after = &rest[c.len_utf8()..];
        match c {
            '+' => break,
            '~' => {
                let word: String = after
                    .chars()
                    .take_while(char::is_ascii_alphabetic)
                    .collect::<String>()
                    .to_ascii_lowercase();
                if !PRE_RELEASE.contains(&word.as_str()) {
                    break;
                }
                out.push('-');
            }
            '.' if REPACK.iter().any(|r| {
                after
                    .get(..r.len())
                    .is_some_and(|head| head.eq_ignore_ascii_case(r))
            }) =>
            {
                break;
            }
            _ => out.push(c),
        }
        rest = after;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_versions_to_upstream() {
        for (debian, up) in [
            ("1:1.2.13.dfsg-1", "1.2.13"),
            ("1:1.2.13.dfsg-1+deb12u1", "1.2.13"),
            ("3.0.17-1~deb12u2", "3.0.17"),
            ("1:1.35.0-4+b3", "1.35.0"),
            ("1:1.35.0-4+deb12u1+b1", "1.35.0"),
            ("2023.01+dfsg-2+deb12u1", "2023.01"),
            ("2.36-9+deb12u14", "2.36"),
            ("7.88.1-10+deb12u15", "7.88.1"),
            ("1.0+really0.9-1", "0.9"),
            ("2022.83", "2022.83"),
            ("2.9.14+dfsg-1.3~deb12u1", "2.9.14"),
            ("1:9.2p1-2+deb12u3", "9.2p1"),
            ("1:9.18.28-1~deb12u2", "9.18.28"),
            ("2.90~rc1-1", "2.90-rc1"),
            ("20230210-5", "20230210"),
            ("6.1.119-1", "6.1.119"),
            ("5.2.15-2+b7", "5.2.15"),
            ("1.1.1w-0+deb11u1", "1.1.1w"),
            ("2.4.57-2", "2.4.57"),
            ("0.8.4~git20230101-1", "0.8.4"),
            ("1.21.4+deb12u1", "1.21.4"),
            ("3.44.0-1+ds1", "3.44.0"),
        ] {
            assert_eq!(upstream(debian), up, "{debian}");
        }
    }

    #[test]
    fn opkg_versions_to_upstream() {
        for (opkg, up) in [
            ("1.36.1-r3", "1.36.1"),
            ("2024.03.09~695277a5-r3", "2024.03.09"),
            ("2022.82-6", "2022.82"),
            ("3.0.13", "3.0.13"),
            ("1.2-beta", "1.2-beta"),
            ("1:1.2.13.dfsg-1", "1.2.13"),
            ("1:1.35.0-4+deb12u1+b1", "1.35.0"),
            ("7.88.1-10+deb12u15", "7.88.1"),
            ("2.90-4~deb12u1", "2.90"),
            ("1.2.13-r1", "1.2.13"),
        ] {
            assert_eq!(opkg_upstream(opkg), up, "{opkg}");
        }
    }
}
