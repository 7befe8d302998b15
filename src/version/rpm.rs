//! rpm's version ordering (`rpmvercmp`) and the upstream part of an rpm
//! `[epoch:]version-release`.

use std::cmp::Ordering;

/// rpm's `rpmvercmp` on `[epoch:]version[-release]`: alphanumeric segments,
/// numbers beat letters, `~` sorts before everything, `^` after the end.
pub fn compare(a: &str, b: &str) -> Ordering {
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

/// The upstream release of an rpm `[epoch:]version[-release]`: the version
/// field, a `~` pre-release kept as one (`1.0~rc1` is 1.0-rc1), a `^`
/// snapshot after it dropped (`1.0^20230101git1` is 1.0).
pub fn upstream(version: &str) -> String {
    let v = version.trim();
    let v = match v.split_once(':') {
        Some((e, r)) if !e.is_empty() && e.bytes().all(|c| c.is_ascii_digit()) => r,
        _ => v,
    };
    let v = v.rsplit_once('-').map_or(v, |(ver, _)| ver);
    let v = v.split('^').next().unwrap_or(v);
    v.replace('~', "-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rpm_versions_to_upstream() {
        for (rpm, up) in [
            ("1.2.13-5.el9", "1.2.13"),
            ("1:1.1.1k-7.el8", "1.1.1k"),
            ("3.0.7-24.el9", "3.0.7"),
            ("2.28-225.el8_8.6", "2.28"),
            ("1.0~rc1-1.fc39", "1.0-rc1"),
            ("1.0^20230101git1-2", "1.0"),
            ("7.76.1", "7.76.1"),
        ] {
            assert_eq!(upstream(rpm), up, "{rpm}");
        }
    }
}
