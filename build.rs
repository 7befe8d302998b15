//! Embeds the bundled advisory set (`advisories/osv/*.json`, `advisories/eol.json`)
//! so the binary works offline on a fresh machine with no database imported.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("advisories");
    println!("cargo:rerun-if-changed={}", root.display());
    let osv = root.join("osv");
    println!("cargo:rerun-if-changed={}", osv.display());
    let mut files: Vec<_> = fs::read_dir(&osv)
        .map(|dir| {
            dir.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    let mut code = String::from(
        "/// Bundled OSV advisories: (file name, JSON text).\npub static BUNDLED_OSV: &[(&str, &str)] = &[\n",
    );
    for path in &files {
        println!("cargo:rerun-if-changed={}", path.display());
        let name = path.file_name().unwrap().to_string_lossy();
        writeln!(
            code,
            "    ({name:?}, include_str!({:?})),",
            path.display().to_string()
        )
        .unwrap();
    }
    code.push_str("];\n");
    let eol = root.join("eol.json");
    println!("cargo:rerun-if-changed={}", eol.display());
    if eol.exists() {
        writeln!(code, "/// Bundled end-of-life data.\npub static BUNDLED_EOL: Option<&str> = Some(include_str!({:?}));", eol.display().to_string()).unwrap();
    } else {
        code.push_str(
            "/// Bundled end-of-life data.\npub static BUNDLED_EOL: Option<&str> = None;\n",
        );
    }
    let out = Path::new(&env::var("OUT_DIR").unwrap()).join("bundled.rs");
    fs::write(out, code).unwrap();
}
