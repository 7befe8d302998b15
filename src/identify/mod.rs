//! Stage 2b: which upstream components the bytes contain, with evidence.
//!
//! One pass of the signature automaton over every byte no container claimed
//! (see [`crate::unpack::tree::VirtualFile::scan`]), files in parallel.

pub mod catalog;
pub mod signatures;

use crate::model::{Component, Evidence};
use crate::unpack::Unpacked;
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use signatures::{Hit, SIGNATURES};
use std::collections::BTreeMap;

/// Components found by version strings and file names in every file of `unpacked`.
pub fn components(unpacked: &Unpacked) -> Vec<Component> {
    let hits: Vec<(usize, Hit)> = unpacked
        .files
        .par_iter()
        .enumerate()
        .filter(|(_, f)| f.is_regular())
        .flat_map_iter(|(index, file)| {
            let mut hits = SIGNATURES.scan(&file.data, &file.scan);
            if let Some(fs) = &file.fs {
                let base = fs.path.rsplit('/').next().unwrap_or_default();
                hits.extend(SIGNATURES.scan_name(base));
            }
            hits.into_iter().map(move |h| (index, h))
        })
        .collect();
    let mut grouped: BTreeMap<(String, String), Vec<Evidence>> = BTreeMap::new();
    let mut hashes: BTreeMap<usize, String> = BTreeMap::new();
    for (index, hit) in hits {
        let path = &unpacked.files[index].path;
        let sources = grouped.entry((hit.product, hit.version)).or_default();
        // One piece of evidence per file: the first place the string occurs.
        if sources.iter().any(|e| &e.path == path) {
            continue;
        }
        let sha256 = hashes
            .entry(index)
            .or_insert_with(|| hex::encode(Sha256::digest(&unpacked.files[index].data)))
            .clone();
        sources.push(Evidence {
            sha256: Some(sha256),
            method: if hit.offset.is_some() {
                "signature"
            } else {
                "filename"
            }
            .to_string(),
            path: path.clone(),
            offset: hit.offset,
            evidence: hit.text,
            package: None,
        });
    }
    grouped
        .into_iter()
        .map(|((product, version), mut sources)| {
            sources.sort_by(|a, b| a.path.cmp(&b.path));
            Component {
                purl: format!("pkg:generic/{product}@{}", purl_escape(&version)),
                cpe: catalog::cpe(&product, &version),
                name: product,
                version,
                ecosystem: "generic".to_string(),
                upstream: None,
                sources,
                ..Component::default()
            }
        })
        .collect()
}

/// Percent-encodes what the purl spec does not allow raw in a version.
pub fn purl_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b".-_~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unpack::limits::Limits;

    #[test]
    fn groups_evidence_by_product_and_version() {
        let mut data = b"\0BusyBox v1.35.0 (x)\0".to_vec();
        data.extend_from_slice(b"pad BusyBox v1.35.0 (again)\0");
        let unpacked = crate::unpack::unpack_bytes("bb", data, &Limits::default());
        let found = components(&unpacked);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].purl, "pkg:generic/busybox@1.35.0");
        assert_eq!(
            found[0].cpe.as_deref(),
            Some("cpe:2.3:a:busybox:busybox:1.35.0:*:*:*:*:*:*:*")
        );
        assert_eq!(found[0].sources.len(), 1);
        assert_eq!(found[0].sources[0].offset, Some(1));
    }

    #[test]
    fn purl_versions_are_escaped() {
        assert_eq!(purl_escape("1:1.35.0-4+b3"), "1%3A1.35.0-4%2Bb3");
    }
}
