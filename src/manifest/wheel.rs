//! Python wheels (`*.whl`) shipped in a tree: a zip archive whose
//! `NAME-VERSION.dist-info/METADATA` names the distribution. Only that one
//! member is read (bounded), through the unpack stage's zip reader.

use super::dist_info;
use crate::model::Component;
use crate::unpack::formats::zip;

/// Core metadata is a few KiB; more than this is not a wheel's METADATA.
const METADATA_CAP: u64 = 4 << 20;

pub fn is_wheel(fs_path: &str) -> bool {
    fs_path.ends_with(".whl")
}

/// `NAME-VERSION.dist-info/METADATA` at the top of the archive.
fn is_metadata(name: &str) -> bool {
    name.strip_suffix("/METADATA")
        .is_some_and(|dir| dir.ends_with(".dist-info") && !dir.contains('/'))
}

/// The distribution in the wheel at `path`.
pub fn parse(path: &str, data: &[u8]) -> Result<Vec<Component>, String> {
    let (name, text) =
        zip::member(data, is_metadata, METADATA_CAP)?.ok_or("no NAME.dist-info/METADATA member")?;
    let text = String::from_utf8(text).map_err(|_| format!("{name} is not UTF-8"))?;
    let mut c = dist_info::metadata(path, &text, "wheel").map_err(|e| format!("{name}: {e}"))?;
    // The line is the METADATA member's, inside the archive.
    c.sources[0].evidence = format!("{name} {}", c.sources[0].evidence);
    Ok(vec![c])
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIX: &[u8] =
        include_bytes!("../../tests/fixtures/manifests/wheels/six-1.16.0-py2.py3-none-any.whl");

    #[test]
    fn reads_metadata_from_the_zip() {
        let c = parse("six.whl", SIX).unwrap();
        assert_eq!(c[0].purl, "pkg:pypi/six@1.16.0");
        assert_eq!(c[0].sources[0].method, "wheel");
    }

    #[test]
    fn truncated_wheels_are_errors() {
        for cut in [0, 100, SIX.len() / 2, SIX.len() - 10] {
            assert!(parse("six.whl", &SIX[..cut]).is_err(), "cut at {cut}");
        }
    }
}
