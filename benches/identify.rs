//! Identification throughput over an unpacked root file system: the bytes are
//! loaded once (not timed), then timed: (1) the one signature pass alone with
//! the table before issue 13 (`benches/signatures-before.toml`, as of commit
//! 31b52ef) and with the bundled table, alternated in the same run; (2) ELF
//! facts + signatures + embedded metadata. Run with `bash
//! benches/identify.sh`, which prepares the tree; or `FWAUDIT_BENCH_DIR=DIR
//! cargo bench --bench identify`.

use fwaudit::binary::ElfInfo;
use fwaudit::identify;
use fwaudit::identify::signatures::{SIGNATURES, Signatures};
use fwaudit::unpack::limits::Limits;
use fwaudit::unpack::tree::{FileClass, classify};
use rayon::prelude::*;
use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let Some(dir) = std::env::var_os("FWAUDIT_BENCH_DIR").map(PathBuf::from) else {
        eprintln!("FWAUDIT_BENCH_DIR is not set: nothing to measure (see benches/identify.sh)");
        return;
    };
    let limits = Limits {
        max_total_bytes: u64::MAX / 2,
        max_file_size: u64::MAX / 2,
        max_entries: usize::MAX / 2,
        ..Limits::default()
    };
    let (target, unpacked) = fwaudit::scan::load(&dir, &limits).expect("readable directory");
    let bytes: usize = unpacked.files.iter().map(|f| f.data.len()).sum();
    let before = Signatures::from_toml(include_str!("signatures-before.toml"))
        .expect("the earlier table compiles");
    let pass = |sigs: &Signatures| -> (f64, usize) {
        let start = Instant::now();
        let hits: usize = unpacked
            .files
            .par_iter()
            .filter(|f| f.is_regular())
            .map(|f| sigs.scan_file(&f.data, &f.scan).hits.len())
            .sum();
        (start.elapsed().as_secs_f64(), hits)
    };
    let (mut old_best, mut new_best) = (f64::MAX, f64::MAX);
    let (mut old_hits, mut new_hits) = (0, 0);
    for _ in 0..5 {
        let (t, h) = pass(&before);
        old_best = old_best.min(t);
        old_hits = h;
        let (t, h) = pass(&SIGNATURES);
        new_best = new_best.min(t);
        new_hits = h;
    }
    let mb = bytes as f64 / 1e6;
    println!(
        "| signature pass, table before issue 13 ({} signatures), best of 5 | {mb:.1} MB | {old_best:.3} s | {:.0} MB/s | {old_hits} hits |",
        before.len(),
        mb / old_best
    );
    println!(
        "| signature pass, bundled table ({} signatures), best of 5 | {mb:.1} MB | {new_best:.3} s | {:.0} MB/s | {new_hits} hits |",
        SIGNATURES.len(),
        mb / new_best
    );
    let mut best = f64::MAX;
    let mut components = 0;
    for _ in 0..5 {
        let start = Instant::now();
        let elfs: Vec<(usize, ElfInfo)> = unpacked
            .files
            .par_iter()
            .enumerate()
            .filter(|(_, f)| f.is_regular() && classify(&f.data) == FileClass::Elf)
            .filter_map(|(i, f)| ElfInfo::parse(&f.path, &f.data).ok().map(|e| (i, e)))
            .collect();
        components = identify::components(&unpacked, &elfs).len();
        best = best.min(start.elapsed().as_secs_f64());
    }
    println!(
        "| identify (ELF facts + signatures + metadata) | {} | {} files | {mb:.1} MB | {best:.3} s | {:.0} MB/s | {components} components |",
        target.path,
        unpacked.files.len(),
        mb / best
    );
}
