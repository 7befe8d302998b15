//! uv's `uv.lock`: TOML `[[package]]` tables like poetry's; the project
//! itself is the entry whose `source` is `editable`/`virtual`, skipped.

use super::poetry::{self, Lock};
use super::{find_line, from_toml};
use crate::model::Component;

/// Components of the lockfile at `path`.
pub fn parse(path: &str, text: &str) -> Result<Vec<Component>, String> {
    let table: toml::Table = from_toml(text)?;
    match table.get("version").and_then(toml::Value::as_integer) {
        Some(1) => {}
        other => {
            return Err(format!(
                "line {}: unsupported uv.lock version {} (fwaudit reads version 1)",
                find_line(text, "version ="),
                other.map_or("(none)".to_string(), |v| v.to_string())
            ));
        }
    }
    let lock: Lock = from_toml(text)?;
    Ok(poetry::components(path, text, lock, "uv-lock"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_the_project_itself() {
        let text = "version = 1\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\nsource = { editable = \".\" }\n\n\
                    [[package]]\nname = \"idna\"\nversion = \"3.6\"\nsource = { registry = \"https://pypi.org/simple\" }\n";
        let c = parse("uv.lock", text).unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].purl, "pkg:pypi/idna@3.6");
        assert_eq!(
            parse("u", "version = 7\n").unwrap_err(),
            "line 1: unsupported uv.lock version 7 (fwaudit reads version 1)"
        );
    }
}
