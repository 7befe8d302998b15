//! A flattened device tree that is not a FIT image (no `/images`): a board's
//! DTB, or U-Boot's control DTB. Nothing inside it is a file, so the layer is
//! its facts: the model, the compatible strings, the kernel command line of
//! `/chosen`, and U-Boot verified-boot public keys (`/signature/key-*`: which
//! algorithm, which key, and whether U-Boot requires a signed configuration
//! or image). The blob's bytes stay in the parent's scan ranges.
//!
//! The flattened device tree reader is here, shared with the FIT reader
//! ([`super::fit`]): every offset and length is checked against the blob,
//! nesting and token counts are bounded.

use super::{Extracted, Format, Rejection, be32};
use crate::unpack::limits::Budget;

pub struct Dtb;

pub(super) const HEADER_LEN: usize = 40;
const FDT_BEGIN_NODE: u32 = 1;
const FDT_END_NODE: u32 = 2;
const FDT_PROP: u32 = 3;
const FDT_NOP: u32 = 4;
const FDT_END: u32 = 9;
const MAX_NESTING: usize = 64;

/// A property of the tree: owning node path (`/images/kernel`), name, value.
#[derive(Debug)]
pub struct Prop<'a> {
    pub node: String,
    pub name: String,
    pub value: &'a [u8],
}

/// The checked header fields.
pub(super) struct FdtHeader {
    pub total: usize,
    pub structs: std::ops::Range<usize>,
    pub strings: std::ops::Range<usize>,
}

pub(super) fn fdt_header(data: &[u8]) -> Option<FdtHeader> {
    let field = |i: usize| be32(data, i * 4).map(|v| v as usize);
    if field(0)? != 0xd00d_feed {
        return None;
    }
    let (total, off_struct, off_strings, off_rsv) = (field(1)?, field(2)?, field(3)?, field(4)?);
    let (version, last_comp) = (field(5)?, field(6)?);
    let (size_strings, size_struct) = (field(8)?, field(9)?);
    // Versions 16 and 17 are what dtc and mkimage write.
    if !(16..=17).contains(&version) || last_comp > 17 || total < HEADER_LEN {
        return None;
    }
    let structs = off_struct..off_struct.checked_add(size_struct)?;
    let strings = off_strings..off_strings.checked_add(size_strings)?;
    let inside = |r: &std::ops::Range<usize>| r.start >= HEADER_LEN && r.end <= total;
    if !inside(&structs) || !inside(&strings) || off_rsv < HEADER_LEN || off_rsv >= total {
        return None;
    }
    if version == 16 {
        // size_dt_struct only exists from v17: the block runs to the end.
        return Some(FdtHeader {
            total,
            structs: off_struct..total,
            strings,
        });
    }
    Some(FdtHeader {
        total,
        structs,
        strings,
    })
}

/// Every property of the flattened device tree at `data[0]` (a DTB or a
/// FIT), for checks that read a tree the carver found; `None` when it is not
/// one or is damaged (the unpack report already says so).
pub fn tree(data: &[u8]) -> Option<Vec<Prop<'_>>> {
    let h = fdt_header(data)?;
    let blob = data.get(..h.total)?;
    properties(&blob[h.structs.clone()], &blob[h.strings.clone()]).ok()
}

/// NUL-terminated string at `at`.
fn c_str(data: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let rest = data.get(at..)?;
    let end = rest.iter().position(|&b| b == 0)?;
    Some((&rest[..end], end))
}

/// Every property of the tree, or an error naming the struct offset.
pub fn properties<'a>(structs: &'a [u8], strings: &'a [u8]) -> Result<Vec<Prop<'a>>, String> {
    let mut props = Vec::new();
    let mut path: Vec<String> = Vec::new();
    let mut at = 0;
    loop {
        let token =
            be32(structs, at).ok_or(format!("struct block ends at {at:#x} without FDT_END"))?;
        at += 4;
        match token {
            FDT_BEGIN_NODE => {
                let (name, len) =
                    c_str(structs, at).ok_or(format!("node name at {at:#x} is not terminated"))?;
                if path.len() >= MAX_NESTING {
                    return Err(format!("nodes nest deeper than {MAX_NESTING} at {at:#x}"));
                }
                path.push(String::from_utf8_lossy(name).into_owned());
                at += (len + 1).div_ceil(4) * 4;
            }
            FDT_END_NODE => {
                if path.pop().is_none() {
                    return Err(format!("unbalanced end of node at {:#x}", at - 4));
                }
            }
            FDT_PROP => {
                let (Some(len), Some(name_off)) = (be32(structs, at), be32(structs, at + 4)) else {
                    return Err(format!("property header at {at:#x} is truncated"));
                };
                let start = at + 8;
                let value = structs
                    .get(start..start.saturating_add(len as usize))
                    .ok_or(format!(
                        "property at {at:#x} ({len} bytes) runs past the struct block"
                    ))?;
                let (name, _) = c_str(strings, name_off as usize).ok_or(format!(
                    "property name offset {name_off:#x} is outside the strings block"
                ))?;
                props.push(Prop {
                    node: path.iter().skip(1).fold(String::new(), |p, n| p + "/" + n),
                    name: String::from_utf8_lossy(name).into_owned(),
                    value,
                });
                at = start + (len as usize).div_ceil(4) * 4;
            }
            FDT_NOP => {}
            FDT_END => return Ok(props),
            other => return Err(format!("unknown token {other:#x} at {:#x}", at - 4)),
        }
    }
}

pub fn text(value: &[u8]) -> String {
    String::from_utf8_lossy(value.split(|&b| b == 0).next().unwrap_or_default()).into_owned()
}

/// All NUL-separated strings of a property (`compatible`).
fn strings(value: &[u8]) -> Vec<String> {
    value
        .split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

/// The value of `name` on `node`.
fn prop<'a>(props: &'a [Prop<'_>], node: &str, name: &str) -> Option<&'a [u8]> {
    props
        .iter()
        .find(|p| p.node == node && p.name == name)
        .map(|p| p.value)
}

/// Verified-boot facts of a tree: public keys under `/signature` (a control
/// DTB), signatures and hash algorithms under `/configurations` and
/// `/images` (a FIT). Empty when the tree has none.
pub fn signature_facts(props: &[Prop<'_>]) -> Vec<String> {
    let mut nodes: Vec<&str> = Vec::new();
    for p in props {
        if !nodes.contains(&p.node.as_str()) {
            nodes.push(&p.node);
        }
    }
    let mut facts = Vec::new();
    let mut hashes: Vec<String> = Vec::new();
    for node in nodes {
        let leaf = node.rsplit('/').next().unwrap_or_default();
        let get = |name: &str| prop(props, node, name).map(text);
        if let Some(key) = node.strip_prefix("/signature/") {
            let mut fact = format!(
                "verified-boot key {}",
                get("key-name-hint").unwrap_or_else(|| key.to_string())
            );
            if let Some(algo) = get("algo") {
                fact += &format!(" ({algo})");
            }
            if let Some(required) = get("required") {
                fact += &format!(", required for {required}");
            }
            facts.push(fact);
        } else if leaf.starts_with("signature") {
            let owner = node[..node.len() - leaf.len()].trim_end_matches('/');
            let owner = owner.rsplit('/').next().unwrap_or_default();
            let mut fact = format!("{owner} signed");
            match (get("algo"), get("key-name-hint")) {
                (Some(a), Some(k)) => fact += &format!(" ({a}, key {k})"),
                (Some(a), None) => fact += &format!(" ({a})"),
                (None, Some(k)) => fact += &format!(" (key {k})"),
                (None, None) => {}
            }
            facts.push(fact);
        } else if leaf.starts_with("hash")
            && node.starts_with("/images/")
            && let Some(algo) = get("algo")
            && !hashes.contains(&algo)
        {
            hashes.push(algo);
        }
    }
    if !hashes.is_empty() {
        facts.push(format!("image hashes {}", hashes.join(", ")));
    }
    facts
}

impl Format for Dtb {
    fn name(&self) -> &'static str {
        "dtb"
    }

    fn magics(&self) -> &'static [&'static [u8]] {
        &[&[0xd0, 0x0d, 0xfe, 0xed]]
    }

    fn declared_len(&self, data: &[u8]) -> Option<u64> {
        fdt_header(data).map(|h| h.total as u64)
    }

    fn extract(&self, data: &[u8], _budget: &mut Budget) -> Result<Extracted, Rejection> {
        let h = fdt_header(data).ok_or(Rejection::NotThisFormat)?;
        let Some(blob) = data.get(..h.total) else {
            return Err(Rejection::Corrupt(format!(
                "device tree truncated: header says {} bytes, only {} present",
                h.total,
                data.len()
            )));
        };
        let props = properties(&blob[h.structs.clone()], &blob[h.strings.clone()])
            .map_err(|e| Rejection::Corrupt(format!("device tree: {e}")))?;
        // A FIT is the FIT reader's (it comes first in the registry).
        if props.iter().any(|p| p.node.starts_with("/images/")) {
            return Err(Rejection::NotThisFormat);
        }
        let mut facts = vec!["device tree".to_string()];
        if let Some(model) = prop(&props, "", "model") {
            facts.push(format!("model \"{}\"", text(model)));
        }
        if let Some(compatible) = prop(&props, "", "compatible") {
            let list: Vec<String> = strings(compatible)
                .iter()
                .map(|c| format!("\"{c}\""))
                .collect();
            facts.push(format!("compatible {}", list.join(" ")));
        }
        if let Some(args) = prop(&props, "/chosen", "bootargs") {
            facts.push(format!("bootargs \"{}\"", text(args)));
        }
        facts.extend(signature_facts(&props));
        Ok(Extracted {
            size: h.total as u64,
            scanned_in_place: true,
            detail: Some(facts.join("; ")),
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unpack::limits::Limits;

    /// `dtc` of a model, a compatible list and `/chosen/bootargs` (make.sh).
    const PLAIN: &[u8] = include_bytes!("../../../tests/fixtures/plain.dtb");
    /// U-Boot's control DTB after `mkimage -k keys -K control.dtb -r` wrote
    /// the public key that signed `image-signed.fit` into it (make.sh).
    const CONTROL: &[u8] = include_bytes!("../../../tests/fixtures/control.dtb");

    fn read(data: &[u8]) -> Result<Extracted, Rejection> {
        Dtb.extract(data, &mut Budget::new(Limits::default()))
    }

    #[test]
    fn model_compatible_bootargs_and_keys_are_facts() {
        let out = read(PLAIN).unwrap();
        assert!(out.entries.is_empty() && out.scanned_in_place);
        assert_eq!(out.size as usize, PLAIN.len());
        assert_eq!(
            out.detail.as_deref(),
            Some(
                "device tree; model \"plain\"; compatible \"fwaudit,plain\" \"fwaudit,board\"; \
                 bootargs \"console=ttyS0\""
            )
        );
        let out = read(CONTROL).unwrap();
        assert_eq!(
            out.detail.as_deref(),
            Some(
                "device tree; model \"control\"; verified-boot key dev (sha256,rsa2048), \
                 required for conf"
            )
        );
    }

    #[test]
    fn a_fit_is_left_to_the_fit_reader() {
        const FIT: &[u8] = include_bytes!("../../../tests/fixtures/image.fit");
        assert_eq!(read(FIT).unwrap_err(), Rejection::NotThisFormat);
    }

    #[test]
    fn truncation_and_bit_flips_never_panic() {
        for cut in 0..PLAIN.len() {
            let _ = read(&PLAIN[..cut]);
        }
        let mut data = CONTROL.to_vec();
        for at in 0..data.len() {
            data[at] ^= 0x21;
            let _ = read(&data);
            data[at] ^= 0x21;
        }
    }
}
