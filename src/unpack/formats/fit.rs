//! U-Boot FIT image: a flattened device tree (`d00dfeed`) whose `/images`
//! node holds one subnode per payload (kernel, ramdisk, fdt, ...) with the
//! bytes either inline (`data`) or after the tree (`data-offset`/`data-size`,
//! relative to the 4-byte aligned end of the tree, or absolute
//! `data-position`), optionally compressed (`compression`). A device tree
//! without `/images` is a plain DTB, not a FIT: not unpacked.
//!
//! The tree is read by the DTB reader's bounded parser ([`super::dtb`]).

use super::dtb::{fdt_header, properties, signature_facts, text};
use super::{Entry, Extracted, Format, Problem, Rejection, be32};
use crate::unpack::limits::Budget;
use crate::unpack::tree::EntryKind;

pub struct Fit;

impl Format for Fit {
    fn name(&self) -> &'static str {
        "fit"
    }

    fn magics(&self) -> &'static [&'static [u8]] {
        &[&[0xd0, 0x0d, 0xfe, 0xed]]
    }

    fn extract(&self, data: &[u8], budget: &mut Budget) -> Result<Extracted, Rejection> {
        let h = fdt_header(data).ok_or(Rejection::NotThisFormat)?;
        if h.total > data.len() {
            return Err(Rejection::Corrupt(format!(
                "device tree truncated: header says {} bytes, only {} present",
                h.total,
                data.len()
            )));
        }
        let blob = &data[..h.total];
        let props = properties(&blob[h.structs.clone()], &blob[h.strings.clone()])
            .map_err(|e| Rejection::Corrupt(format!("device tree: {e}")))?;
        // Image nodes are the direct children of /images.
        let mut images: Vec<String> = Vec::new();
        for p in &props {
            if let Some(rest) = p.node.strip_prefix("/images/")
                && !rest.contains('/')
                && !images.contains(&p.node)
            {
                images.push(p.node.clone());
            }
        }
        if images.is_empty() {
            return Err(Rejection::NotThisFormat);
        }
        let external_base = h.total.div_ceil(4) * 4;
        let mut out = Extracted {
            size: h.total as u64,
            ..Default::default()
        };
        let mut described = Vec::new();
        for node in &images {
            let get = |name: &str| {
                props
                    .iter()
                    .find(|p| &p.node == node && p.name == name)
                    .map(|p| p.value)
            };
            let num = |name: &str| get(name).and_then(|v| be32(v, 0)).map(|v| v as usize);
            let entry_name = node.trim_start_matches("/images/").to_string();
            let payload: &[u8] = if let Some(inline) = get("data") {
                inline
            } else if let Some(size) = num("data-size") {
                let start = match (num("data-offset"), num("data-position")) {
                    (Some(off), _) => external_base.checked_add(off),
                    (None, Some(pos)) => Some(pos),
                    (None, None) => None,
                };
                let range = start.and_then(|s| Some(s..s.checked_add(size)?));
                match range.as_ref().and_then(|r| data.get(r.clone())) {
                    Some(bytes) => {
                        out.size = out.size.max(range.map_or(0, |r| r.end) as u64);
                        bytes
                    }
                    None => {
                        out.notes.push(Problem::Error(format!(
                            "FIT image {entry_name}: external data ({size} bytes at {start:?}) lies outside the file"
                        )));
                        continue;
                    }
                }
            } else {
                out.notes.push(Problem::Error(format!(
                    "FIT image {entry_name}: no data, data-offset or data-position property"
                )));
                continue;
            };
            let codec = get("compression")
                .map(text)
                .unwrap_or_else(|| "none".into());
            let kind = get("type").map(text).unwrap_or_else(|| "?".into());
            described.push(format!("{entry_name} ({kind}, {codec})"));
            if let Err(bound) = budget.entry() {
                out.notes.push(Problem::Limit(format!(
                    "FIT: {bound} reached; the rest of its images were skipped"
                )));
                break;
            }
            let what = format!("FIT image {entry_name}");
            let contents = if codec == "none" {
                if let Err(bound) = budget.charge(payload.len() as u64) {
                    out.notes.push(Problem::Limit(format!(
                        "{what}: {} bytes reach {bound}; skipped",
                        payload.len()
                    )));
                    continue;
                }
                payload.to_vec()
            } else {
                super::decode_payload(&codec, &what, payload, budget, &mut out.notes)
            };
            out.entries.push(Entry {
                path: entry_name,
                kind: EntryKind::File,
                data: contents,
                meta: None,
            });
        }
        let mut detail = format!("FIT: {}", described.join(", "));
        for fact in signature_facts(&props) {
            detail += &format!("; {fact}");
        }
        out.detail = Some(detail);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::super::dtb::HEADER_LEN;
    use super::*;
    use crate::unpack::limits::Limits;

    /// `mkimage -f fit.its` (inline data) and `mkimage -E -f fit.its`
    /// (external data): a gzip "kernel" and an uncompressed "ramdisk".
    const INLINE: &[u8] = include_bytes!("../../../tests/fixtures/image.fit");
    const EXTERNAL: &[u8] = include_bytes!("../../../tests/fixtures/image-external.fit");
    const TEXT: &[u8] = include_bytes!("../../../tests/fixtures/text.txt");

    #[test]
    fn reads_inline_and_external_data_from_real_mkimage_output() {
        for fixture in [INLINE, EXTERNAL] {
            let out = Fit
                .extract(fixture, &mut Budget::new(Limits::default()))
                .unwrap();
            assert!(out.notes.is_empty(), "{:?}", out.notes);
            let names: Vec<_> = out.entries.iter().map(|e| e.path.as_str()).collect();
            assert_eq!(names, ["kernel-1", "ramdisk-1"]);
            assert_eq!(out.entries[0].data, TEXT, "gzip kernel decompressed");
            assert_eq!(out.entries[1].data, b"ramdisk payload\n");
            assert!(out.size <= fixture.len() as u64);
            assert!(
                out.size as usize >= fixture.len() - 3,
                "{} vs {}",
                out.size,
                fixture.len()
            );
        }
    }

    #[test]
    fn signature_and_hash_nodes_are_facts() {
        /// `mkimage -k keys -K control.dtb -r` of a FIT with a sha256 hash
        /// per image and a signed configuration (make.sh).
        const SIGNED: &[u8] = include_bytes!("../../../tests/fixtures/image-signed.fit");
        let out = Fit
            .extract(SIGNED, &mut Budget::new(Limits::default()))
            .unwrap();
        assert!(out.notes.is_empty(), "{:?}", out.notes);
        assert_eq!(
            out.detail.as_deref(),
            Some(
                "FIT: kernel-1 (kernel, gzip), ramdisk-1 (ramdisk, none); \
                 conf-1 signed (sha256,rsa2048, key dev); image hashes sha256"
            )
        );
        assert_eq!(out.entries[0].data, TEXT);
    }

    #[test]
    fn truncation_is_corrupt_never_a_panic() {
        for fixture in [INLINE, EXTERNAL] {
            for cut in 0..fixture.len() {
                match Fit.extract(&fixture[..cut], &mut Budget::new(Limits::default())) {
                    Ok(out) => assert!(
                        !out.notes.is_empty() || cut + 3 >= fixture.len(),
                        "cut {cut}"
                    ),
                    Err(Rejection::NotThisFormat) => assert!(cut < HEADER_LEN, "cut {cut}"),
                    Err(_) => {}
                }
            }
        }
    }

    #[test]
    fn a_plain_device_tree_is_not_a_fit() {
        const DTB: &[u8] = include_bytes!("../../../tests/fixtures/plain.dtb");
        assert_eq!(
            Fit.extract(DTB, &mut Budget::new(Limits::default()))
                .unwrap_err(),
            Rejection::NotThisFormat
        );
    }
}
