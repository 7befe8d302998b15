//! Embeds the bundled advisory set (`advisories/osv/*.json`, `advisories/eol.json`)
//! so the binary works offline on a fresh machine with no database imported.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;

fn main() {
    // Read at run time: a build script compiled for one checkout may be run
    // for another that shares the target directory.
    let manifest_dir = env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let root = Path::new(&manifest_dir).join("advisories");
    println!("cargo:rerun-if-changed={}", root.display());
    let osv = root.join("osv");
    println!("cargo:rerun-if-changed={}", osv.display());
    // No bundled set would mean a binary that silently finds nothing offline.
    let mut files: Vec<_> = fs::read_dir(&osv)
        .unwrap_or_else(|e| panic!("{}: {e}", osv.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
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
