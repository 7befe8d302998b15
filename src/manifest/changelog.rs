//! Debian package changelogs shipped in the image
//! (`/usr/share/doc/<package>/changelog.Debian.gz`): every entry names its
//! revision, and a CVE named in an entry at or below the installed revision
//! was fixed by the package, whatever upstream's version ranges say. This
//! is the evidence an image carries itself where no distribution feed
//! covers it (a vendor's Debian-based build, an old or derived release).

use super::Parsed;
use crate::model::Patched;
use crate::unpack::compress;
use regex::Regex;
use std::sync::LazyLock;

/// Real changelogs are well under this (glibc's, the longest in Debian 12,
/// is about 1 MiB unpacked).
const CAP: u64 = 16 << 20;

/// `curl (7.88.1-10+deb12u4) bookworm-security; urgency=medium`
static HEADER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^([a-z0-9][a-z0-9+.\-]*) \(([^()\s]+)\) [^;]*;").expect("valid regex")
});
static CVE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"CVE-\d{4}-\d{4,7}").expect("valid regex"));

/// `/usr/share/doc/NAME/changelog.Debian.gz` (and the plain `changelog.gz`
/// of native Debian packages).
pub fn is_changelog(fs_path: &str) -> bool {
    fs_path
        .strip_prefix("/usr/share/doc/")
        .and_then(|rest| rest.split_once('/'))
        .is_some_and(|(pkg, file)| {
            !pkg.is_empty() && matches!(file, "changelog.Debian.gz" | "changelog.gz")
        })
}

/// The CVEs the changelog at `path` names, each once, with the oldest
/// revision that names it; keyed by the source package of its entries.
pub fn parse(path: &str, data: &[u8]) -> Result<Parsed, String> {
    let decoded = compress::gzip(data, CAP);
    if let Some(e) = decoded.error {
        return Err(format!("gzip: {e}"));
    }
    if decoded.capped {
        return Err(format!("unpacks past {} MiB", CAP >> 20));
    }
    let text = String::from_utf8_lossy(&decoded.data);
    let (source, patched) = read(path, &text)?;
    Ok(Parsed {
        patched: vec![(source, patched)],
        ..Parsed::default()
    })
}

/// (source package, CVEs with the oldest revision naming each).
pub fn read(path: &str, text: &str) -> Result<(String, Vec<Patched>), String> {
    let mut source: Option<String> = None;
    let mut version: Option<String> = None;
    let mut found: Vec<Patched> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if let Some(h) = HEADER.captures(line) {
            source.get_or_insert_with(|| h[1].to_string());
            version = Some(h[2].to_string());
            continue;
        }
        let Some(v) = &version else { continue };
        for m in CVE.find_iter(line) {
            let patched = Patched {
                id: m.as_str().to_string(),
                version: v.clone(),
                path: path.to_string(),
                line: n as u64 + 1,
                text: line.trim().chars().take(200).collect(),
            };
            // Entries run newest first: a later (older) entry naming the
            // same CVE is where it was first fixed.
            match found.iter_mut().find(|p| p.id == patched.id) {
                Some(existing) => *existing = patched,
                None => found.push(patched),
            }
        }
    }
    let source = source.ok_or("no `package (version) distribution; urgency=` entry line")?;
    found.sort_by(|a, b| a.id.cmp(&b.id));
    Ok((source, found))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The top of curl's bookworm changelog, as Debian ships it (trimmed).
    const CURL: &str = "\
curl (7.88.1-10+deb12u5) bookworm-security; urgency=medium

  * Fix CVE-2023-46218: cookie mixed case PSL bypass
  * Fix CVE-2023-46219: HSTS long file name clears contents

 -- Samuel Henrique <samueloph@debian.org>  Sat, 09 Dec 2023 15:17:35 +0000

curl (7.88.1-10+deb12u4) bookworm-security; urgency=medium

  * Fix CVE-2023-38545: SOCKS5 heap buffer overflow
  * Fix CVE-2023-38546: cookie injection with none file
  * d/p/CVE-2023-46218.patch: follow-up (mentions a later one)

 -- Samuel Henrique <samueloph@debian.org>  Sun, 08 Oct 2023 21:34:55 +0100
";

    #[test]
    fn oldest_revision_naming_each_cve() {
        let (source, p) = read("doc/curl/changelog.Debian.gz", CURL).unwrap();
        assert_eq!(source, "curl");
        let got: Vec<(&str, &str, u64)> = p
            .iter()
            .map(|p| (p.id.as_str(), p.version.as_str(), p.line))
            .collect();
        assert_eq!(
            got,
            [
                ("CVE-2023-38545", "7.88.1-10+deb12u4", 10),
                ("CVE-2023-38546", "7.88.1-10+deb12u4", 11),
                ("CVE-2023-46218", "7.88.1-10+deb12u4", 12),
                ("CVE-2023-46219", "7.88.1-10+deb12u5", 4),
            ]
        );
        assert_eq!(
            p[0].text,
            "* Fix CVE-2023-38545: SOCKS5 heap buffer overflow"
        );
        assert!(read("x", "no header here\n").is_err());
        assert!(is_changelog("/usr/share/doc/curl/changelog.Debian.gz"));
        assert!(!is_changelog("/usr/share/doc/curl/copyright"));
        assert!(!is_changelog("/usr/share/doc/changelog.gz"));
    }
}
