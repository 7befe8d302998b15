//! Binary hardening facts of one ELF file, read from its headers: RELRO,
//! NX, PIE, stack canary, FORTIFY imports, stripped or not, and control-flow
//! protection from `.note.gnu.property`. Whether FORTIFY could have been
//! used is judged later against the image's own libc (see
//! `analyze::hardening`), not the host's.

use goblin::elf::{Elf, dynamic, header, program_header};
use serde::{Deserialize, Serialize};

const DF_BIND_NOW: u64 = 0x8;
const DF_1_NOW: u64 = 0x1;
const NT_GNU_PROPERTY_TYPE_0: u32 = 5;
const GNU_PROPERTY_X86_FEATURE_1_AND: u32 = 0xc000_0002;
const GNU_PROPERTY_AARCH64_FEATURE_1_AND: u32 = 0xc000_0000;

/// What one ELF file is built with.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Hardening {
    /// `none`, `partial` (PT_GNU_RELRO) or `full` (and BIND_NOW).
    pub relro: String,
    /// PT_GNU_STACK present and not executable.
    pub nx: bool,
    /// `pie` (ET_DYN with an interpreter and no SONAME), `no` (ET_EXEC),
    /// `dso` (a shared object), `rel` (an object file or kernel module).
    pub pie: String,
    /// References `__stack_chk_fail` / `__stack_chk_guard`.
    pub canary: bool,
    /// `fortified`, `fortifiable`, `none`, or `unknown` (no libc in the
    /// image to judge against) / `n/a` (the image's libc has no `_chk`
    /// functions, as musl and uClibc).
    pub fortify: String,
    /// `__*_chk` functions it imports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fortified: Vec<String>,
    /// Functions it imports that the image's libc has a `_chk` form of.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fortifiable: Vec<String>,
    /// No `.symtab`.
    pub stripped: bool,
    /// Control-flow protection properties: `ibt`, `shstk`, `bti`, `pac`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cfp: Vec<String>,
    /// Imports what a server needs (accept/listen, or bind with recvfrom/recvmsg).
    pub network: bool,
    /// Raw RPATH/RUNPATH entries as written (empty ones kept: they mean the
    /// working directory).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub search_path: Vec<String>,
}

/// Facts the image-level judgement needs but the report does not show.
#[derive(Debug, Clone, Default)]
pub struct Symbols {
    /// Undefined dynamic symbols (imports).
    pub imports: Vec<String>,
    /// Defined dynamic `__*_chk` symbols (a libc's FORTIFY functions).
    pub chk_exports: Vec<String>,
}

/// Reads the facts from a parsed ELF.
pub fn facts(elf: &Elf, data: &[u8]) -> (Hardening, Symbols) {
    let relro_seg = elf
        .program_headers
        .iter()
        .any(|p| p.p_type == program_header::PT_GNU_RELRO);
    let stack = elf
        .program_headers
        .iter()
        .find(|p| p.p_type == program_header::PT_GNU_STACK);
    let nx = stack.is_some_and(|p| p.p_flags & program_header::PF_X == 0);
    let dyns = elf
        .dynamic
        .as_ref()
        .map(|d| d.dyns.as_slice())
        .unwrap_or(&[]);
    let bind_now = dyns.iter().any(|d| {
        d.d_tag == dynamic::DT_BIND_NOW
            || (d.d_tag == dynamic::DT_FLAGS && d.d_val & DF_BIND_NOW != 0)
            || (d.d_tag == dynamic::DT_FLAGS_1 && d.d_val & DF_1_NOW != 0)
    });
    let relro = match (relro_seg, bind_now) {
        (false, _) => "none",
        (true, false) => "partial",
        (true, true) => "full",
    };
    let pie = match elf.header.e_type {
        header::ET_EXEC => "no",
        // A library with an interpreter (glibc's libc.so.6 runs as a
        // program too) is still a library.
        header::ET_DYN if elf.interpreter.is_some() && elf.soname.is_none() => "pie",
        header::ET_DYN => "dso",
        header::ET_REL => "rel",
        _ => "no",
    };
    let mut symbols = Symbols::default();
    for sym in elf.dynsyms.iter() {
        let Some(name) = elf.dynstrtab.get_at(sym.st_name) else {
            continue;
        };
        if name.is_empty() {
            continue;
        }
        if sym.st_shndx == 0 {
            symbols.imports.push(name.to_string());
        } else if name.starts_with("__") && name.ends_with("_chk") {
            symbols.chk_exports.push(name.to_string());
        }
    }
    let is_canary = |n: &str| {
        matches!(
            n,
            "__stack_chk_fail" | "__stack_chk_guard" | "__intel_security_cookie"
        )
    };
    let dynamic_names = elf
        .dynsyms
        .iter()
        .filter_map(|s| elf.dynstrtab.get_at(s.st_name));
    let static_names = elf.syms.iter().filter_map(|s| elf.strtab.get_at(s.st_name));
    let canary = dynamic_names.chain(static_names).any(is_canary);
    let stripped = !elf
        .section_headers
        .iter()
        .any(|s| s.sh_type == goblin::elf::section_header::SHT_SYMTAB);
    let network = {
        let has = |n: &str| symbols.imports.iter().any(|i| i == n);
        has("accept")
            || has("accept4")
            || has("listen")
            || (has("bind") && (has("recvfrom") || has("recvmsg")))
    };
    let search_path = elf
        .rpaths
        .iter()
        .chain(elf.runpaths.iter())
        .flat_map(|e| e.split(':'))
        .map(str::to_string)
        .collect();
    let hardening = Hardening {
        relro: relro.into(),
        nx,
        pie: pie.into(),
        canary,
        fortify: "unknown".into(),
        fortified: symbols
            .imports
            .iter()
            .filter(|n| n.starts_with("__") && n.ends_with("_chk") && !is_canary(n))
            .cloned()
            .collect(),
        fortifiable: Vec::new(),
        stripped,
        cfp: cfp(elf, data),
        network,
        search_path,
    };
    (hardening, symbols)
}

/// IBT/SHSTK (x86) or BTI/PAC (AArch64) from the GNU property note.
fn cfp(elf: &Elf, data: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let Some(notes) = elf.iter_note_sections(data, Some(".note.gnu.property")) else {
        return out;
    };
    let align = if elf.is_64 { 8 } else { 4 };
    for note in notes.flatten() {
        if note.n_type != NT_GNU_PROPERTY_TYPE_0 || note.name != "GNU" {
            continue;
        }
        let d = note.desc;
        let u32_at = |at: usize| -> Option<u32> {
            let b: [u8; 4] = d.get(at..at + 4)?.try_into().ok()?;
            Some(if elf.little_endian {
                u32::from_le_bytes(b)
            } else {
                u32::from_be_bytes(b)
            })
        };
        let mut at = 0;
        while let (Some(kind), Some(size)) = (u32_at(at), u32_at(at + 4)) {
            let value = u32_at(at + 8).unwrap_or(0);
            let names: &[(u32, &str)] = match kind {
                GNU_PROPERTY_X86_FEATURE_1_AND => &[(1, "ibt"), (2, "shstk")],
                GNU_PROPERTY_AARCH64_FEATURE_1_AND => &[(1, "bti"), (2, "pac")],
                _ => &[],
            };
            for (bit, name) in names {
                if value & bit != 0 {
                    out.push((*name).to_string());
                }
            }
            let next = (at + 8 + size as usize).div_ceil(align) * align;
            if next <= at {
                break;
            }
            at = next;
        }
    }
    out
}
