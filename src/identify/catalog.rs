//! The product catalogue: every `[[product]]` of `signatures.toml` — CPE
//! spellings, PURL type, which distribution packages carry the product, and
//! the ELF facts that tell "ships X" from "compiled against X".
//!
//! The same file holds the byte signatures ([`super::signatures`]), so a
//! product is described in exactly one place.

use regex::Regex;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::LazyLock;

/// One `[[product]]` table as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawProduct {
    pub name: String,
    pub cpe: Vec<String>,
    #[serde(default = "default_part")]
    pub part: String,
    #[serde(default = "default_purl")]
    pub purl: String,
    #[serde(default)]
    pub packages: Vec<String>,
    #[serde(default)]
    pub files: Vec<String>,
    #[serde(default)]
    pub needed: Vec<String>,
    #[serde(default)]
    pub markers: Vec<String>,
    pub static_min: Option<usize>,
    #[serde(default)]
    pub guards: Vec<String>,
    #[serde(default)]
    pub pe: Vec<String>,
    #[serde(default)]
    pub signature: Vec<RawSignature>,
    #[serde(default)]
    pub filename: Vec<RawFilename>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSignature {
    /// Absent: the pattern is searched in files that carry the product's
    /// code (at least `static_min` of its markers), see `signatures.toml`.
    pub anchor: Option<String>,
    pub pattern: String,
    pub near: Option<usize>,
    pub version: Option<String>,
    /// Captured text → reported version (symbol or ABI versions → releases).
    pub map: Option<BTreeMap<String, String>>,
    /// `"max"`: of this signature's hits in one file keep the highest only.
    pub pick: Option<String>,
    /// A version table under `tables/` (see [`super::tables`]), like `map`.
    pub table: Option<String>,
    /// A named rule that reads the captured release further
    /// (`kernel-banner`, `kernel-module`: see [`super::kernel`]).
    pub post: Option<String>,
    /// Self-test: byte strings (`\xNN` escapes) and the version each must give.
    #[serde(default)]
    #[cfg_attr(not(test), allow(dead_code))]
    pub matches: Vec<(String, String)>,
    /// Self-test: near-misses that must give no version of the product.
    #[serde(default)]
    #[cfg_attr(not(test), allow(dead_code))]
    pub rejects: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFilename {
    pub pattern: String,
    #[serde(default)]
    pub weak: bool,
    /// Captured text → reported version (shared-object numbers → releases).
    pub map: Option<BTreeMap<String, String>>,
    /// A version table under `tables/`, like `map`.
    pub table: Option<String>,
}

fn default_part() -> String {
    "a".to_string()
}

fn default_purl() -> String {
    "generic".to_string()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFile {
    pub product: Vec<RawProduct>,
}

/// A product as the rest of the pipeline sees it.
#[derive(Debug)]
pub struct Product {
    pub name: String,
    /// `cpe:2.3:part:vendor:product` prefixes, the preferred one first.
    pub cpes: Vec<String>,
    /// PURL type of components found by signature (`generic`).
    pub purl_type: String,
    /// Glob patterns (`*` only) on package or source-package names.
    pub packages: Vec<String>,
    /// Base names of files that are the product itself.
    pub files: Vec<Regex>,
    /// DT_NEEDED names meaning the product is linked dynamically.
    pub needed: Vec<Regex>,
    /// How many distinct markers make a file a static copy.
    pub static_min: usize,
    /// `ProductName` values of PE version resources (case-insensitive).
    pub pe: Vec<Regex>,
}

/// Default `static_min`: one error string can be quoted, three are code.
pub(crate) const STATIC_MIN: usize = 3;

impl Product {
    /// True when `base_name` (or a SONAME) names the product's own file.
    /// Libraries that a Python wheel vendors are renamed by auditwheel
    /// (`libssl-3e69114b.so.1.1`) and are matched under their original name.
    pub fn is_own_file(&self, base_name: &str) -> bool {
        let name = unvendored(base_name);
        self.files.iter().any(|r| r.is_match(name.as_ref()))
    }

    /// True when a DT_NEEDED entry loads the product at run time.
    pub fn is_needed(&self, needed: &[String]) -> bool {
        needed.iter().any(|n| {
            let name = unvendored(n);
            self.needed.iter().any(|r| r.is_match(name.as_ref()))
        })
    }
}

/// A library name without the `-<8 hex digits>` that auditwheel (Linux
/// wheels) inserts before `.so` when it vendors a library:
/// `libssl-3e69114b.so.1.1` → `libssl.so.1.1`.
pub fn unvendored(name: &str) -> std::borrow::Cow<'_, str> {
    if let Some(at) = name.find(".so")
        && at >= 9
        && name.as_bytes()[at - 9] == b'-'
        && name.as_bytes()[at - 8..at]
            .iter()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    {
        return format!("{}{}", &name[..at - 9], &name[at..]).into();
    }
    name.into()
}

/// The parsed signature file: products plus their raw signatures.
pub(crate) struct Catalog {
    pub products: Vec<Product>,
    pub raw: Vec<RawProduct>,
}

impl Catalog {
    pub(crate) fn parse(text: &str) -> Result<Catalog, String> {
        let file: RawFile = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut products = Vec::new();
        for raw in &file.product {
            if raw.cpe.is_empty() {
                return Err(format!("{}: needs at least one cpe", raw.name));
            }
            if products.iter().any(|p: &Product| p.name == raw.name) {
                return Err(format!("{}: listed twice", raw.name));
            }
            let compile = |list: &[String]| -> Result<Vec<Regex>, String> {
                list.iter()
                    .map(|p| Regex::new(p).map_err(|e| format!("{}: {e}", raw.name)))
                    .collect()
            };
            let mut cpes = Vec::new();
            for pair in &raw.cpe {
                let (vendor, product) = pair
                    .split_once(':')
                    .ok_or_else(|| format!("{}: cpe `{pair}` is not vendor:product", raw.name))?;
                cpes.push(format!("cpe:2.3:{}:{vendor}:{product}", raw.part));
            }
            products.push(Product {
                name: raw.name.clone(),
                cpes,
                purl_type: raw.purl.clone(),
                packages: raw.packages.clone(),
                files: compile(&raw.files)?,
                needed: compile(&raw.needed)?,
                static_min: raw.static_min.unwrap_or(STATIC_MIN),
                pe: raw
                    .pe
                    .iter()
                    .map(|p| {
                        regex::RegexBuilder::new(p)
                            .case_insensitive(true)
                            .build()
                            .map_err(|e| format!("{}: {e}", raw.name))
                    })
                    .collect::<Result<_, _>>()?,
            });
        }
        Ok(Catalog {
            products,
            raw: file.product,
        })
    }
}

pub(crate) static CATALOG: LazyLock<Catalog> = LazyLock::new(|| {
    Catalog::parse(include_str!("signatures.toml")).expect("signatures.toml is valid (unit-tested)")
});

/// Every product of the catalogue.
pub fn products() -> &'static [Product] {
    &CATALOG.products
}

/// The catalogue entry of `product`.
pub fn product(name: &str) -> Option<&'static Product> {
    CATALOG.products.iter().find(|p| p.name == name)
}

/// Full CPE 2.3 name of `product` at `version` (its preferred CPE), if known.
pub fn cpe(name: &str, version: &str) -> Option<String> {
    product(name)
        .and_then(|p| p.cpes.first())
        .map(|c| format!("{c}:{}:*:*:*:*:*:*:*", cpe_escape(version)))
}

/// Escapes CPE 2.3 formatted-string special characters.
fn cpe_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if !(c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The product a PE version resource's `ProductName` names.
pub fn product_for_pe(product_name: &str) -> Option<&'static Product> {
    CATALOG
        .products
        .iter()
        .find(|p| p.pe.iter().any(|r| r.is_match(product_name.trim())))
}

/// The upstream product a distribution package (or its source package) carries.
pub fn product_for_package(package: &str) -> Option<&'static str> {
    CATALOG.products.iter().find_map(|p| {
        p.packages
            .iter()
            .any(|pattern| glob(pattern, package))
            .then_some(p.name.as_str())
    })
}

fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((prefix, rest)) => {
            text.starts_with(prefix)
                && (0..=text.len() - prefix.len()).any(|i| glob(rest, &text[prefix.len() + i..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_distribution_packages_to_products() {
        assert_eq!(product_for_package("libssl3"), Some("openssl"));
        assert_eq!(product_for_package("libopenssl1.1"), Some("openssl"));
        assert_eq!(product_for_package("zlib1g"), Some("zlib"));
        assert_eq!(product_for_package("libmbedcrypto7"), Some("mbedtls"));
        assert_eq!(product_for_package("dnsmasq-full"), Some("dnsmasq"));
        assert_eq!(product_for_package("libc6"), Some("glibc"));
        assert_eq!(product_for_package("openssh-server"), Some("openssh"));
        assert_eq!(product_for_package("libsqlite3-0"), Some("sqlite"));
        assert_eq!(product_for_package("vim"), None);
    }

    #[test]
    fn cpe_has_eleven_fields_and_escapes() {
        assert_eq!(
            cpe("openssl", "1.0.2k").unwrap(),
            "cpe:2.3:a:openssl:openssl:1.0.2k:*:*:*:*:*:*:*"
        );
        assert_eq!(
            cpe("u-boot", "2023.01+dfsg").unwrap(),
            "cpe:2.3:a:denx:u-boot:2023.01\\+dfsg:*:*:*:*:*:*:*"
        );
        assert_eq!(
            cpe("linux", "6.1.0").unwrap(),
            "cpe:2.3:o:linux:linux_kernel:6.1.0:*:*:*:*:*:*:*"
        );
    }

    #[test]
    fn catalogue_covers_at_least_sixty_products() {
        assert!(products().len() >= 60, "{} products", products().len());
    }

    #[test]
    fn own_files_and_needed_libraries() {
        let ssl = product("openssl").unwrap();
        assert!(ssl.is_own_file("libcrypto.so.3"));
        assert!(!ssl.is_own_file("ntpd"));
        assert!(ssl.is_needed(&["libc.so.6".into(), "libcrypto.so.3".into()]));
        assert!(!ssl.is_needed(&["libc.so.6".into()]));
    }

    #[test]
    fn wheel_vendored_names_match_the_original_library() {
        assert_eq!(unvendored("libssl-3e69114b.so.1.1"), "libssl.so.1.1");
        assert_eq!(
            unvendored("libpng16-8b7e0db9.so.16.43.0"),
            "libpng16.so.16.43.0"
        );
        assert_eq!(unvendored("libssl.so.3"), "libssl.so.3");
        assert_eq!(unvendored("libfoo-bar.so.1"), "libfoo-bar.so.1");
        let ssl = product("openssl").unwrap();
        assert!(ssl.is_own_file("libcrypto-7d0e8add.so.1.1"));
        assert!(ssl.is_needed(&["libssl-3e69114b.so.1.1".into()]));
    }

    #[test]
    fn bad_tables_are_rejected() {
        assert!(Catalog::parse("[[product]]\nname = \"x\"\ncpe = []\n").is_err());
        assert!(Catalog::parse("[[product]]\nname = \"x\"\ncpe = [\"novendor\"]\n").is_err());
        assert!(Catalog::parse("[[product]]\nname = \"x\"\ncpe = [\"a:b\"]\nfoo = 1\n").is_err());
    }
}
