//! ELF facts for the link graph and the report.

use goblin::elf::{Elf, header};
use object::{Architecture, Object};
use serde::{Deserialize, Serialize};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// What the loader would make of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ElfKind {
    /// ET_EXEC, or ET_DYN with an interpreter (PIE).
    Executable,
    /// A shared object with a SONAME or no interpreter.
    SharedLibrary,
    /// ET_REL: kernel modules, object files.
    Relocatable,
    Other,
}

/// Facts about one ELF file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ElfInfo {
    pub path: String,
    pub arch: String,
    pub bits: u8,
    pub endian: String,
    pub kind: ElfKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interpreter: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub soname: Option<String>,
    pub needed: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rpath: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runpath: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build_id: Option<String>,
    /// RELRO, NX, PIE, canary, FORTIFY, stripped, control-flow protection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardening: Option<super::hardening::Hardening>,
    /// Imports and `_chk` exports, for judging FORTIFY against the image's libc.
    #[serde(skip)]
    pub symbols: super::hardening::Symbols,
}

impl ElfInfo {
    /// Parses `data` as ELF; `Err` names what is wrong (the caller adds the path).
    pub fn parse(path: &str, data: &[u8]) -> Result<ElfInfo, String> {
        // goblin is a third-party parser: a panic on hostile input must cost
        // us this file, not the scan.
        catch_unwind(AssertUnwindSafe(|| parse_inner(path, data)))
            .unwrap_or_else(|_| Err("ELF parser failed on malformed headers".to_string()))
    }
}

fn parse_inner(path: &str, data: &[u8]) -> Result<ElfInfo, String> {
    let elf = Elf::parse(data).map_err(|e| format!("malformed ELF: {e}"))?;
    let neutral = object::File::parse(data).ok();
    let little = elf.little_endian;
    let arch = arch_name(
        elf.header.e_machine,
        neutral.as_ref().map(|f| f.architecture()),
        little,
    );
    let build_id = neutral
        .as_ref()
        .and_then(|f| f.build_id().ok().flatten())
        .map(hex::encode);
    let interpreter = elf.interpreter.map(str::to_string);
    let soname = elf.soname.map(str::to_string);
    let kind = match elf.header.e_type {
        header::ET_EXEC => ElfKind::Executable,
        header::ET_DYN if soname.is_some() || interpreter.is_none() => ElfKind::SharedLibrary,
        header::ET_DYN => ElfKind::Executable,
        header::ET_REL => ElfKind::Relocatable,
        _ => ElfKind::Other,
    };
    let split = |entries: &[&str]| -> Vec<String> {
        entries
            .iter()
            .flat_map(|e| e.split(':'))
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    };
    let (hardening, symbols) = super::hardening::facts(&elf, data);
    Ok(ElfInfo {
        path: path.to_string(),
        arch,
        bits: if elf.is_64 { 64 } else { 32 },
        endian: if little { "little" } else { "big" }.to_string(),
        kind,
        interpreter,
        soname,
        needed: elf.libraries.iter().map(|s| s.to_string()).collect(),
        rpath: split(&elf.rpaths),
        runpath: split(&elf.runpaths),
        build_id,
        hardening: Some(hardening),
        symbols,
    })
}

/// Names as distributions and toolchains spell them (`arm`, `mipsel`, `aarch64`).
fn arch_name(machine: u16, arch: Option<Architecture>, little: bool) -> String {
    let base = match arch {
        Some(Architecture::Arm) => "arm",
        Some(Architecture::Aarch64) => "aarch64",
        Some(Architecture::Mips) => "mips",
        Some(Architecture::Mips64) => "mips64",
        Some(Architecture::X86_64) => "x86_64",
        Some(Architecture::I386) => "x86",
        Some(Architecture::PowerPc) => "powerpc",
        Some(Architecture::PowerPc64) => "powerpc64",
        Some(Architecture::Riscv32) => "riscv32",
        Some(Architecture::Riscv64) => "riscv64",
        _ => return header::machine_to_str(machine).to_ascii_lowercase(),
    };
    match (base, little) {
        ("mips" | "mips64", true) => format!("{base}el"),
        ("arm" | "aarch64", false) => format!("{base}_be"),
        ("powerpc64", true) => "powerpc64le".to_string(),
        _ => base.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(ElfInfo::parse("x", b"\x7fELF\x01\x01\x01garbage").is_err());
        let mut truncated = b"\x7fELF\x02\x01\x01\0".to_vec();
        truncated.resize(70, 0xff);
        assert!(ElfInfo::parse("x", &truncated).is_err());
    }

    #[test]
    fn reads_the_test_binary_itself() {
        let exe = std::env::current_exe().unwrap();
        let data = std::fs::read(exe).unwrap();
        let info = ElfInfo::parse("self", &data).unwrap();
        assert_eq!(info.kind, ElfKind::Executable);
        assert!(info.needed.iter().any(|n| n.starts_with("libc.so")));
        assert_eq!(info.bits, 64);
    }
}
