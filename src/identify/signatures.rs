//! Version-string signatures (`signatures.toml`) compiled into one
//! Aho-Corasick automaton; a regex only confirms each anchor hit.

use aho_corasick::AhoCorasick;
use regex::bytes::Regex;
use serde::Deserialize;
use std::ops::Range;
use std::sync::LazyLock;

#[derive(Deserialize)]
struct SignatureFile {
    signature: Vec<RawSignature>,
    #[serde(default)]
    filename: Vec<RawFilename>,
}

#[derive(Deserialize)]
struct RawSignature {
    product: String,
    anchor: String,
    pattern: String,
}

#[derive(Deserialize)]
struct RawFilename {
    product: String,
    pattern: String,
}

struct Signature {
    product: String,
    confirm: Regex,
}

struct FilenameSignature {
    product: String,
    pattern: regex::Regex,
}

/// The compiled signature set.
pub struct Signatures {
    automaton: AhoCorasick,
    by_pattern: Vec<Signature>,
    filenames: Vec<FilenameSignature>,
}

/// How far past an anchor a confirming regex may look.
const WINDOW: usize = 256;

/// Longest evidence text quoted from the bytes.
const EVIDENCE_MAX: usize = 200;

/// A confirmed version string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub product: String,
    pub version: String,
    /// Offset in the file; `None` for a file-name match.
    pub offset: Option<u64>,
    pub text: String,
}

pub static SIGNATURES: LazyLock<Signatures> = LazyLock::new(|| {
    Signatures::parse(include_str!("signatures.toml"))
        .expect("signatures.toml is valid (unit-tested)")
});

impl Signatures {
    pub fn parse(text: &str) -> Result<Signatures, String> {
        let file: SignatureFile = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut anchors = Vec::new();
        let mut by_pattern = Vec::new();
        for raw in file.signature {
            if !raw.pattern.starts_with(&raw.anchor)
                && !raw.pattern.starts_with(regex::escape(&raw.anchor).as_str())
            {
                return Err(format!(
                    "{}: pattern must begin with its anchor",
                    raw.product
                ));
            }
            let confirm = Regex::new(&format!("(?-u)\\A(?:{})", raw.pattern))
                .map_err(|e| format!("{}: {e}", raw.product))?;
            if !confirm.capture_names().any(|n| n == Some("version")) {
                return Err(format!("{}: pattern has no `version` group", raw.product));
            }
            anchors.push(raw.anchor);
            by_pattern.push(Signature {
                product: raw.product,
                confirm,
            });
        }
        let filenames = file
            .filename
            .into_iter()
            .map(|raw| {
                let pattern =
                    regex::Regex::new(&raw.pattern).map_err(|e| format!("{}: {e}", raw.product))?;
                Ok(FilenameSignature {
                    product: raw.product,
                    pattern,
                })
            })
            .collect::<Result<_, String>>()?;
        let automaton = AhoCorasick::new(&anchors).map_err(|e| e.to_string())?;
        Ok(Signatures {
            automaton,
            by_pattern,
            filenames,
        })
    }

    /// Every confirmed version string in `data[range]`, for each range.
    pub fn scan(&self, data: &[u8], ranges: &[Range<usize>]) -> Vec<Hit> {
        let mut hits = Vec::new();
        for range in ranges {
            let region = &data[range.clone()];
            for m in self.automaton.find_overlapping_iter(region) {
                let sig = &self.by_pattern[m.pattern().as_usize()];
                let window = &region[m.start()..region.len().min(m.start() + WINDOW)];
                let Some(caps) = sig.confirm.captures(window) else {
                    continue;
                };
                let Some(version) = caps.name("version") else {
                    continue;
                };
                // Show the whole printable string the match starts, not just the match.
                let text_len = window
                    .iter()
                    .take(EVIDENCE_MAX)
                    .position(|b| !(0x20..0x7f).contains(b))
                    .unwrap_or(window.len().min(EVIDENCE_MAX))
                    .max(version.end());
                hits.push(Hit {
                    product: sig.product.clone(),
                    version: String::from_utf8_lossy(version.as_bytes()).into_owned(),
                    offset: Some((range.start + m.start()) as u64),
                    text: printable(&window[..text_len]),
                });
            }
        }
        hits
    }

    /// Version facts carried by a file's base name (`libuClibc-1.0.39.so`).
    pub fn scan_name(&self, base_name: &str) -> Vec<Hit> {
        self.filenames
            .iter()
            .filter_map(|sig| {
                let caps = sig.pattern.captures(base_name)?;
                Some(Hit {
                    product: sig.product.clone(),
                    version: caps.name("version")?.as_str().to_string(),
                    offset: None,
                    text: base_name.to_string(),
                })
            })
            .collect()
    }
}

/// Matched bytes as text, control bytes shown as `\xNN`.
fn printable(bytes: &[u8]) -> String {
    let mut out = String::new();
    for &b in bytes {
        if (0x20..0x7f).contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn versions(data: &[u8]) -> Vec<(String, String)> {
        SIGNATURES
            .scan(data, std::slice::from_ref(&(0..data.len())))
            .into_iter()
            .map(|h| (h.product, h.version))
            .collect()
    }

    fn one(product: &str, version: &str) -> Vec<(String, String)> {
        vec![(product.to_string(), version.to_string())]
    }

    #[test]
    fn bundled_signatures_compile() {
        assert!(SIGNATURES.by_pattern.len() >= 15);
    }

    #[test]
    fn recognises_real_version_strings() {
        assert_eq!(
            versions(b"\0OpenSSL 1.0.2k  26 Jan 2017\0"),
            one("openssl", "1.0.2k")
        );
        assert_eq!(
            versions(b"\0OpenSSL 3.0.17 1 Jul 2025\0"),
            one("openssl", "3.0.17")
        );
        assert_eq!(
            versions(b"\0OpenSSL 1.0.2u-fips  20 Dec 2019\0"),
            one("openssl", "1.0.2u")
        );
        assert_eq!(
            versions(b"BusyBox v1.35.0 (Debian 1:1.35.0-4+b3)"),
            one("busybox", "1.35.0")
        );
        assert_eq!(
            versions(b" deflate 1.2.13 Copyright 1995-2022 Jean-loup Gailly and Mark Adler "),
            one("zlib", "1.2.13")
        );
        assert_eq!(
            versions(b"SSH-2.0-dropbear_2022.83\0"),
            one("dropbear", "2022.83")
        );
        assert_eq!(versions(b"\0dnsmasq-2.89\0"), one("dnsmasq", "2.89"));
        assert_eq!(versions(b"lighttpd/1.4.69\0"), one("lighttpd", "1.4.69"));
        assert_eq!(
            versions(b"GNU C Library (Debian GLIBC 2.36-9+deb12u4) stable release version 2.36.\n"),
            one("glibc", "2.36")
        );
        assert_eq!(versions(b"\0mbed TLS 2.28.3\0"), one("mbedtls", "2.28.3"));
        assert_eq!(versions(b"\0Mbed TLS 3.6.0\0"), one("mbedtls", "3.6.0"));
        assert_eq!(versions(b"uClibc-ng 1.0.39\0"), one("uclibc-ng", "1.0.39"));
        assert_eq!(
            versions(b"Linux version 4.14.180 (builder@buildhost) (gcc version 7.5.0)"),
            one("linux", "4.14.180")
        );
        assert_eq!(
            versions(b"U-Boot 2023.01+dfsg-2 (Jan 08 2023 - 12:00:00 +0000)"),
            one("u-boot", "2023.01")
        );
        assert_eq!(
            versions(b"libcurl/7.88.1 OpenSSL/3.0.17"),
            one("curl", "7.88.1")
        );
    }

    #[test]
    fn prose_mentions_are_not_versions() {
        assert!(versions(b"requires OpenSSL 1.1.1 or later").is_empty());
        assert!(versions(b"Linux version %s (%s)").is_empty());
        assert!(versions(b"BusyBox v%s (%s)").is_empty());
    }

    #[test]
    fn only_listed_ranges_are_scanned() {
        let data = b"BusyBox v1.2.3 (x) .... BusyBox v1.35.0 (y)";
        let hits = SIGNATURES.scan(data, std::slice::from_ref(&(20..data.len())));
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].version, "1.35.0");
        assert_eq!(hits[0].offset, Some(24));
    }

    #[test]
    fn file_names_carry_uclibc_versions() {
        let hits = SIGNATURES.scan_name("libuClibc-1.0.39.so");
        assert_eq!(hits[0].version, "1.0.39");
        assert!(SIGNATURES.scan_name("libc.so.6").is_empty());
    }
}
