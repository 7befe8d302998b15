//! PEP 440 ordering (PyPI).

use super::upstream;
use std::cmp::Ordering;

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

pub fn compare(a: &str, b: &str) -> Ordering {
    match (Pep440::parse(a), Pep440::parse(b)) {
        (Some(x), Some(y)) => x
            .epoch
            .cmp(&y.epoch)
            .then_with(|| x.release.cmp(&y.release))
            .then_with(|| x.phase.cmp(&y.phase))
            .then_with(|| x.local.cmp(&y.local)),
        _ => upstream::compare(a, b),
    }
}
