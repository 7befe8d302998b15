//! The product catalogue (`products.toml`): CPE spellings and which
//! distribution packages carry which upstream product.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::LazyLock;

#[derive(Debug, Deserialize)]
pub struct Product {
    /// `cpe:2.3:part:vendor:product` without the version and the rest.
    pub cpe: String,
    /// Glob patterns (`*` only) on package or source-package names.
    pub packages: Vec<String>,
}

static CATALOG: LazyLock<BTreeMap<String, Product>> = LazyLock::new(|| {
    toml::from_str(include_str!("products.toml")).expect("products.toml is valid (unit-tested)")
});

/// The catalogue entry of `product`.
pub fn product(name: &str) -> Option<&'static Product> {
    CATALOG.get(name)
}

/// Full CPE 2.3 name of `product` at `version`, if the product is known.
pub fn cpe(name: &str, version: &str) -> Option<String> {
    product(name).map(|p| format!("{}:{}:*:*:*:*:*:*:*", p.cpe, cpe_escape(version)))
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

/// The upstream product a distribution package (or its source package) carries.
pub fn product_for_package(package: &str) -> Option<&'static str> {
    CATALOG.iter().find_map(|(name, p)| {
        p.packages
            .iter()
            .any(|pattern| glob(pattern, package))
            .then_some(name.as_str())
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
    }
}
