//! Version ordering for upstream C projects, whose schemes differ:
//! OpenSSL's letter releases (`1.0.2k` < `1.0.2u` < `1.0.2za`), dropbear's
//! `YYYY.NN`, pre-releases (`2.90test1` < `2.90`, `5.10-rc1` < `5.10`),
//! and plain dotted numbers of any length (`1.2.11` < `1.2.11.1` < `1.2.12`).

use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Num(u64),
    /// A pre-release marker: sorts before the release it precedes.
    Pre(u8),
    /// Any other letters (OpenSSL patch letters): sorts after the release.
    Letters(String),
}

/// Pre-release words, in release order.
const PRE_RELEASE: &[&str] = &["dev", "alpha", "beta", "pre", "test", "rc"];

fn tokens(version: &str) -> Vec<Token> {
    let v = version.trim();
    let v = v
        .strip_prefix(['v', 'V'])
        .filter(|r| r.starts_with(|c: char| c.is_ascii_digit()))
        .unwrap_or(v);
    let mut out = Vec::new();
    let mut chars = v.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_ascii_digit() {
            let mut n: u64 = 0;
            while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                n = n.saturating_mul(10).saturating_add(u64::from(d));
                chars.next();
            }
            out.push(Token::Num(n));
        } else if c.is_ascii_alphabetic() {
            let mut word = String::new();
            while let Some(&c) = chars.peek().filter(|c| c.is_ascii_alphabetic()) {
                word.push(c.to_ascii_lowercase());
                chars.next();
            }
            match PRE_RELEASE.iter().position(|p| *p == word) {
                Some(rank) => out.push(Token::Pre(rank as u8)),
                None => out.push(Token::Letters(word)),
            }
        } else {
            chars.next(); // separators: . - _ + ~
        }
    }
    out
}

/// Orders two versions of the same product.
pub fn compare(a: &str, b: &str) -> Ordering {
    let (ta, tb) = (tokens(a), tokens(b));
    for i in 0..ta.len().max(tb.len()) {
        let ord = match (ta.get(i), tb.get(i)) {
            (Some(x), Some(y)) => compare_tokens(x, y),
            (Some(x), None) => ends_before(x).reverse(),
            (None, Some(y)) => ends_before(y),
            (None, None) => Ordering::Equal,
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

/// How a version that has ended compares with one that goes on with `next`.
fn ends_before(next: &Token) -> Ordering {
    match next {
        Token::Pre(_) => Ordering::Greater, // 2.90 > 2.90test1
        Token::Num(_) | Token::Letters(_) => Ordering::Less, // 1.2 < 1.2.1, 1.0.2 < 1.0.2a
    }
}

fn compare_tokens(x: &Token, y: &Token) -> Ordering {
    use Token::*;
    match (x, y) {
        (Num(a), Num(b)) => a.cmp(b),
        (Pre(a), Pre(b)) => a.cmp(b),
        // OpenSSL: z < za < zb: longer letter runs come later.
        (Letters(a), Letters(b)) => a.len().cmp(&b.len()).then_with(|| a.cmp(b)),
        (Pre(_), _) => Ordering::Less,
        (_, Pre(_)) => Ordering::Greater,
        (Num(_), Letters(_)) => Ordering::Greater,
        (Letters(_), Num(_)) => Ordering::Less,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each pair is strictly ordered: a < b, checked both ways.
    fn ascending(pairs: &[(&str, &str)]) {
        for (a, b) in pairs {
            assert_eq!(compare(a, b), Ordering::Less, "{a} < {b}");
            assert_eq!(compare(b, a), Ordering::Greater, "{b} > {a}");
        }
    }

    #[test]
    fn openssl_letter_releases() {
        ascending(&[
            ("1.0.2", "1.0.2a"),
            ("1.0.2k", "1.0.2u"),
            ("1.0.2u", "1.0.2za"),
            ("1.0.2z", "1.0.2za"),
            ("1.0.2zl", "1.0.2zm"),
            ("1.0.2zm", "1.1.0"),
            ("1.1.0l", "1.1.1"),
            ("1.1.1w", "1.1.1za"),
            ("1.1.1zd", "3.0.0"),
            ("3.0.9", "3.0.10"),
            ("3.0.17", "3.0.18"),
            ("0.9.8zh", "1.0.0"),
            ("3.0.0-alpha1", "3.0.0-beta1"),
            ("3.0.0-beta2", "3.0.0"),
        ]);
    }

    #[test]
    fn busybox_dropbear_dnsmasq_curl_zlib_kernel_uboot() {
        ascending(&[
            ("1.29.3", "1.30.0"),
            ("1.33.2", "1.35.0"),
            ("1.35.0", "1.36.1"),
            ("2020.81", "2022.82"),
            ("2022.83", "2024.84"),
            ("2019.78", "2020.79"),
            ("2.78", "2.83"),
            ("2.89", "2.90"),
            ("2.90test1", "2.90"),
            ("2.9", "2.10"),
            ("7.69.0", "7.88.1"),
            ("7.88.1", "8.4.0"),
            ("1.2.11", "1.2.11.1"),
            ("1.2.11.1", "1.2.12"),
            ("1.2.2.2", "1.2.13"),
            ("4.14.180", "4.14.200"),
            ("5.10", "5.10.1"),
            ("5.10-rc1", "5.10"),
            ("2019.10", "2022.07"),
            ("2022.07-rc1", "2022.07"),
        ]);
    }

    #[test]
    fn equal_spellings() {
        assert_eq!(compare("v1.35.0", "1.35.0"), Ordering::Equal);
        assert_eq!(compare("1.0.2K", "1.0.2k"), Ordering::Equal);
        assert_eq!(compare("0", "0"), Ordering::Equal);
        ascending(&[("0", "0.9.8"), ("0", "1.0.0")]);
    }
}
