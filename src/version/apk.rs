//! Alpine's apk version ordering and the upstream part of an apk version:
//! `NUM(.NUM)*[letter](_suffix[NUM])*[-rNUM]`, where the suffixes
//! `_alpha < _beta < _pre < _rc` come before the release and
//! `_cvs < _svn < _git < _hg < _p` after it (apk-tools' version.c).

use std::cmp::Ordering;

/// Suffix ranks: pre-releases below 0 (no suffix), snapshots and patch
/// levels above.
fn suffix_rank(word: &str) -> Option<i8> {
    Some(match word {
        "alpha" => -4,
        "beta" => -3,
        "pre" => -2,
        "rc" => -1,
        "cvs" => 1,
        "svn" => 2,
        "git" => 3,
        "hg" => 4,
        "p" => 5,
        _ => return None,
    })
}

#[derive(Debug, Default)]
struct Parsed<'a> {
    numbers: Vec<&'a str>,
    letter: Option<u8>,
    suffixes: Vec<(i8, u128)>,
    revision: u128,
}

fn number(digits: &str) -> u128 {
    digits.bytes().fold(0u128, |n, d| {
        n.saturating_mul(10).saturating_add(u128::from(d - b'0'))
    })
}

fn parse(version: &str) -> Parsed<'_> {
    let v = version.trim();
    // `~hash` (apk's commit marker) carries no order.
    let v = v.split('~').next().unwrap_or(v);
    let (v, revision) = match v.rsplit_once("-r") {
        Some((main, rev)) if !rev.is_empty() && rev.bytes().all(|c| c.is_ascii_digit()) => {
            (main, number(rev))
        }
        _ => (v, 0),
    };
    let mut parts = v.split('_');
    let head = parts.next().unwrap_or("");
    let mut parsed = Parsed {
        revision,
        ..Parsed::default()
    };
    for (i, piece) in head.split('.').enumerate() {
        let digits_end = piece
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(piece.len());
        parsed.numbers.push(&piece[..digits_end]);
        let tail = &piece[digits_end..];
        if !tail.is_empty() {
            // Only the last number may carry a letter (`1.2.3a`).
            parsed.letter = tail.bytes().next();
            let _ = i;
            break;
        }
    }
    for suffix in parts {
        let word_end = suffix
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(suffix.len());
        let rank = suffix_rank(&suffix[..word_end]).unwrap_or(0);
        parsed.suffixes.push((rank, number(&suffix[word_end..])));
    }
    parsed
}

/// Orders two apk versions.
pub fn compare(a: &str, b: &str) -> Ordering {
    let (x, y) = (parse(a), parse(b));
    for i in 0..x.numbers.len().max(y.numbers.len()) {
        let ord = match (x.numbers.get(i), y.numbers.get(i)) {
            (Some(p), Some(q)) => {
                // After the first, a number with a leading zero is a
                // fraction (`1.02` < `1.1`), as apk compares them.
                if i > 0 && (p.starts_with('0') || q.starts_with('0')) {
                    p.cmp(q)
                } else {
                    number(p).cmp(&number(q))
                }
            }
            (Some(_), None) => Ordering::Greater,
            (None, Some(_)) => Ordering::Less,
            (None, None) => Ordering::Equal,
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    let ord = x.letter.cmp(&y.letter);
    if ord != Ordering::Equal {
        return ord;
    }
    for i in 0..x.suffixes.len().max(y.suffixes.len()) {
        let p = x.suffixes.get(i).copied().unwrap_or((0, 0));
        let q = y.suffixes.get(i).copied().unwrap_or((0, 0));
        let ord = p.cmp(&q);
        if ord != Ordering::Equal {
            return ord;
        }
    }
    x.revision.cmp(&y.revision)
}

/// The upstream release of an apk version: no `-rN`, a patch level written
/// the upstream way (`9.3_p1` is 9.3p1), a pre-release kept as one
/// (`_rc1` is -rc1), a snapshot suffix dropped (`_git20230101`).
pub fn upstream(version: &str) -> String {
    let v = version.trim();
    let v = v.split('~').next().unwrap_or(v);
    let v = match v.rsplit_once("-r") {
        Some((main, rev)) if !rev.is_empty() && rev.bytes().all(|c| c.is_ascii_digit()) => main,
        _ => v,
    };
    let mut parts = v.split('_');
    let mut out = parts.next().unwrap_or("").to_string();
    for suffix in parts {
        let word_end = suffix
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(suffix.len());
        match suffix_rank(&suffix[..word_end]) {
            Some(rank) if rank < 0 => {
                out.push('-');
                out.push_str(suffix);
            }
            Some(5) => out.push_str(suffix),
            _ => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apk_versions_to_upstream() {
        for (apk, up) in [
            ("1.2.13-r1", "1.2.13"),
            ("9.3_p1-r2", "9.3p1"),
            ("3.1.4_rc1-r0", "3.1.4-rc1"),
            ("1.36.1-r5", "1.36.1"),
            ("2.4.0_git20230101-r0", "2.4.0"),
            ("3.0.8-r3", "3.0.8"),
            ("1.1.1w-r1", "1.1.1w"),
        ] {
            assert_eq!(upstream(apk), up, "{apk}");
        }
    }
}
