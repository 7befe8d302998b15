//! Python wheels (`*.whl`) shipped in a tree: a zip archive whose
//! `NAME-VERSION.dist-info/METADATA` names the distribution. Only that one
//! member is read (stored or deflated, bounded), from the central directory.

use super::dist_info;
use crate::model::Component;
use flate2::read::DeflateDecoder;
use std::io::Read;

/// Core metadata is a few KiB; more than this is not a wheel's METADATA.
const METADATA_CAP: u64 = 4 << 20;

pub fn is_wheel(fs_path: &str) -> bool {
    fs_path.ends_with(".whl")
}

fn u16_at(data: &[u8], at: usize) -> Result<usize, String> {
    data.get(at..at + 2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]) as usize)
        .ok_or_else(|| format!("offset {at:#x}: truncated zip structure"))
}

fn u32_at(data: &[u8], at: usize) -> Result<usize, String> {
    data.get(at..at + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .ok_or_else(|| format!("offset {at:#x}: truncated zip structure"))
}

/// The distribution in the wheel at `path`.
pub fn parse(path: &str, data: &[u8]) -> Result<Vec<Component>, String> {
    // End of central directory: the last `PK\5\6` within the 64 KiB comment reach.
    let from = data.len().saturating_sub(22 + 0xffff);
    let eocd = (from..data.len().saturating_sub(21))
        .rev()
        .find(|&i| data[i..].starts_with(b"PK\x05\x06"))
        .ok_or("no zip end-of-central-directory record: truncated or not a wheel")?;
    let entries = u16_at(data, eocd + 10)?;
    let mut at = u32_at(data, eocd + 16)?;
    for _ in 0..entries {
        if !data.get(at..).is_some_and(|d| d.starts_with(b"PK\x01\x02")) {
            return Err(format!("offset {at:#x}: bad central directory entry"));
        }
        let method = u16_at(data, at + 10)?;
        let compressed = u32_at(data, at + 20)?;
        let name_len = u16_at(data, at + 28)?;
        let skip = name_len + u16_at(data, at + 30)? + u16_at(data, at + 32)?;
        let local = u32_at(data, at + 42)?;
        let name = data
            .get(at + 46..at + 46 + name_len)
            .ok_or_else(|| format!("offset {at:#x}: truncated entry name"))?;
        let name = String::from_utf8_lossy(name);
        at += 46 + skip;
        let Some(dir) = name.strip_suffix("/METADATA") else {
            continue;
        };
        if !dir.ends_with(".dist-info") || dir.contains('/') {
            continue;
        }
        if !data
            .get(local..)
            .is_some_and(|d| d.starts_with(b"PK\x03\x04"))
        {
            return Err(format!("offset {local:#x}: bad local header for {name}"));
        }
        let start = local + 30 + u16_at(data, local + 26)? + u16_at(data, local + 28)?;
        let raw = data
            .get(start..start.saturating_add(compressed))
            .ok_or_else(|| format!("offset {start:#x}: {name} truncated"))?;
        let mut text = Vec::new();
        match method {
            0 => text.extend_from_slice(raw),
            8 => {
                DeflateDecoder::new(raw)
                    .take(METADATA_CAP)
                    .read_to_end(&mut text)
                    .map_err(|e| format!("offset {start:#x}: {name}: {e}"))?;
            }
            m => return Err(format!("{name}: zip method {m} not supported")),
        }
        let text = String::from_utf8(text).map_err(|_| format!("{name} is not UTF-8"))?;
        let mut c =
            dist_info::metadata(path, &text, "wheel").map_err(|e| format!("{name}: {e}"))?;
        // The line is the METADATA member's, inside the archive.
        c.sources[0].evidence = format!("{name} {}", c.sources[0].evidence);
        return Ok(vec![c]);
    }
    Err("no NAME.dist-info/METADATA member".to_string())
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
