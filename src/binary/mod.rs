//! Stage 2a: facts about executables and libraries, read without copying.
//! `object` gives the format-neutral facts (architecture, endianness, build-id),
//! `goblin` the ELF dynamic section (SONAME, DT_NEEDED, RPATH/RUNPATH, PT_INTERP).

pub mod elf;
pub mod hardening;

pub use elf::{ElfInfo, ElfKind};
