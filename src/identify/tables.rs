//! Version tables for binaries that carry no version text of their own: a
//! number the bytes do carry (a libstdc++ symbol version, a libtool SONAME
//! revision, SQLite's source id) looked up to the release that introduced it.
//! One tab-separated file per table under `tables/`, each naming its source
//! in its header comment; a signature or file-name rule names its table with
//! `table = "NAME"` in `signatures.toml`.

use std::collections::HashMap;

/// Every bundled table: (name, text).
const TABLES: &[(&str, &str)] = &[
    ("glibcxx-gcc", include_str!("tables/glibcxx-gcc.tsv")),
    (
        "freetype-soname",
        include_str!("tables/freetype-soname.tsv"),
    ),
    (
        "sqlite-source-id",
        include_str!("tables/sqlite-source-id.tsv"),
    ),
];

/// The table called `name`: key → release. Blank lines and `#` comments are
/// skipped; any other line must be `key<TAB>release`.
pub fn load(name: &str) -> Result<HashMap<String, String>, String> {
    let (_, text) = TABLES
        .iter()
        .find(|(n, _)| *n == name)
        .ok_or_else(|| format!("no version table `{name}`"))?;
    parse(text).map_err(|e| format!("tables/{name}.tsv: {e}"))
}

fn parse(text: &str) -> Result<HashMap<String, String>, String> {
    let mut out = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('\t') else {
            return Err(format!("line {}: expected `key<TAB>release`", n + 1));
        };
        if out.insert(key.to_string(), value.to_string()).is_some() {
            return Err(format!("line {}: `{key}` listed twice", n + 1));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_parses() {
        for (name, _) in TABLES {
            assert!(!load(name).unwrap().is_empty(), "{name}");
        }
        assert_eq!(load("glibcxx-gcc").unwrap()["3.4.30"], "12.1.0");
        assert!(load("nope").is_err());
        assert!(parse("a b\n").is_err());
        assert!(parse("a\t1\na\t2\n").is_err());
    }
}
