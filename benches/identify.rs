//! Identification throughput over an unpacked root file system: the bytes are
//! loaded once (not timed), then ELF facts + signatures + embedded metadata
//! are timed over all of them. Run with `bash benches/identify.sh`, which
//! prepares the tree; or `FWAUDIT_BENCH_DIR=DIR cargo bench --bench identify`.

use fwaudit::binary::ElfInfo;
use fwaudit::identify;
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
        let took = start.elapsed().as_secs_f64();
        eprintln!("identify run: {took:.3} s");
        best = best.min(took);
    }
    // The same pass without ELF facts, to show where the time goes.
    let mut signatures_only = f64::MAX;
    for _ in 0..3 {
        let start = Instant::now();
        identify::components(&unpacked, &[]);
        signatures_only = signatures_only.min(start.elapsed().as_secs_f64());
    }
    println!(
        "| identify without ELF facts (signatures + metadata) | {:.3} s | {:.0} MB/s |",
        signatures_only,
        bytes as f64 / 1e6 / signatures_only
    );
    println!(
        "| identify (ELF facts + signatures + metadata) | {} | {} files | {:.1} MB | {:.3} s | {:.0} MB/s | {} components |",
        target.path,
        unpacked.files.len(),
        bytes as f64 / 1e6,
        best,
        bytes as f64 / 1e6 / best,
        components
    );
}
