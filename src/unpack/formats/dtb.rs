//! A flattened device tree that is not a FIT image (no `/images`): a board's
//! DTB, or U-Boot's control DTB. Nothing inside it is a file, so the layer is
//! its facts: the model, the compatible strings, the kernel command line of
//! `/chosen`, and U-Boot verified-boot public keys (`/signature/key-*`: which
//! algorithm, which key, and whether U-Boot requires a signed configuration
//! or image). The blob's bytes stay in the parent's scan ranges.
//!
//! The tree is read by the FIT reader's bounded parser ([`super::fit`]).

use super::fit::{Prop, fdt_header, properties, text};
use super::{Extracted, Format, Rejection};
use crate::unpack::limits::Budget;

pub struct Dtb;

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
