//! Package URLs (the purl specification): the one place fwaudit builds
//! them, through the `packageurl` crate, so that escaping (`+` as `%2B`,
//! an npm scope's `@` as `%40`) and each type's rules (lower-case deb and
//! npm names, PyPI's `-` for `_`, qualifiers sorted by key) are applied
//! the same way for every manifest and every signature hit.

use packageurl::PackageUrl;

/// A package's identity as a PURL: `pkg:TYPE/[NAMESPACE/]NAME@VERSION[?k=v&...]`.
/// Qualifiers with an empty value are left out. A package without a name
/// (a malformed manifest entry kept for its evidence) is named `unnamed`.
pub fn build(
    ty: &str,
    namespace: Option<&str>,
    name: &str,
    version: &str,
    qualifiers: &[(&str, &str)],
) -> String {
    let name = if name.is_empty() { "unnamed" } else { name };
    let Ok(mut purl) = PackageUrl::new(ty, name) else {
        // Only an invalid type fails here, and every type is a constant.
        return format!("pkg:{ty}/{name}");
    };
    if let Some(ns) = namespace.filter(|n| !n.is_empty()) {
        let _ = purl.with_namespace(ns);
    }
    if !version.is_empty() {
        let _ = purl.with_version(version);
    }
    for (key, value) in qualifiers.iter().filter(|(_, v)| !v.is_empty()) {
        let _ = purl.add_qualifier(*key, *value);
    }
    purl.to_string()
}

/// `pkg:generic/NAME@VERSION`: an upstream project found by its bytes.
pub fn generic(name: &str, version: &str) -> String {
    build("generic", None, name, version, &[])
}

/// `pkg:npm/%40scope/name@version` or `pkg:npm/name@version`: the purl spec
/// puts an npm scope in the namespace.
pub fn npm(name: &str, version: &str) -> String {
    match name.strip_prefix('@').and_then(|n| n.split_once('/')) {
        Some((scope, rest)) => build("npm", Some(&format!("@{scope}")), rest, version, &[]),
        None => build("npm", None, name, version, &[]),
    }
}

/// `pkg:golang/host/path/module@version`: the module path's leading
/// segments are the namespace.
pub fn golang(module: &str, version: &str) -> String {
    match module.rsplit_once('/') {
        Some((namespace, name)) => build("golang", Some(namespace), name, version, &[]),
        None => build("golang", None, module, version, &[]),
    }
}

/// The type of a PURL (`deb` in `pkg:deb/debian/curl@...`).
pub fn type_of(purl: &str) -> Option<&str> {
    purl.strip_prefix("pkg:")?.split('/').next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_type_rules() {
        assert_eq!(
            build(
                "deb",
                Some("debian"),
                "curl",
                "7.88.1-10+deb12u15",
                &[("arch", "amd64"), ("distro", "debian-12")]
            ),
            "pkg:deb/debian/curl@7.88.1-10%2Bdeb12u15?arch=amd64&distro=debian-12"
        );
        assert_eq!(
            build(
                "deb",
                Some("debian"),
                "zlib1g",
                "1:1.2.13.dfsg-1",
                &[("arch", "")]
            ),
            "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1"
        );
        assert_eq!(npm("@babel/core", "7.1.0"), "pkg:npm/%40babel/core@7.1.0");
        assert_eq!(npm("lodash", "4.17.20"), "pkg:npm/lodash@4.17.20");
        assert_eq!(
            golang("golang.org/x/text", "v0.3.7"),
            "pkg:golang/golang.org/x/text@v0.3.7"
        );
        assert_eq!(generic("openssl", "1.0.2k"), "pkg:generic/openssl@1.0.2k");
        assert_eq!(
            build("pypi", None, "Django_Rest", "2.2.1", &[]),
            "pkg:pypi/django-rest@2.2.1"
        );
        assert_eq!(build("cargo", None, "", "1", &[]), "pkg:cargo/unnamed@1");
        assert_eq!(type_of("pkg:deb/debian/curl@1"), Some("deb"));
    }
}
