//! Bounds on what an image may make us do. Firmware is hostile input: every
//! decompressor and file system reader draws from one budget, and running out
//! is reported as a `limit` note for that layer instead of exhausting memory.
//!
//! Memory is reserved before it is allocated, from one pool per target that
//! every thread draws from, so the peak holds on any number of cores: data
//! kept in the tree is charged for good ([`Budget::take`]); a decoder's
//! growing output and working memory are charged while they exist
//! ([`Budget::reserve`], returned when dropped unless kept).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Configurable bounds for one target.
#[derive(Debug, Clone)]
pub struct Limits {
    /// How many containers deep we recurse (`image > squashfs > gzip > ...`).
    pub max_depth: usize,
    /// Total bytes all layers of one target may decompress to.
    pub max_total_bytes: u64,
    /// Largest single extracted file.
    pub max_file_size: u64,
    /// Output/input ratio past which a compressed stream (or a file
    /// system's whole output, holes included) is treated as a bomb.
    pub max_ratio: u64,
    /// Entries one target may hold, over all its containers.
    pub max_entries: usize,
    /// Memory one target's unpacking may hold at once: the target's own
    /// bytes, everything unpacked from it, and decoders' working memory.
    pub max_memory: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 8,
            max_total_bytes: 2 << 30,
            max_file_size: 512 << 20,
            max_ratio: 1000,
            max_entries: 200_000,
            max_memory: DEFAULT_MAX_MEMORY,
        }
    }
}

/// Sized for a 2-core CI runner; `--max-memory` changes it.
pub const DEFAULT_MAX_MEMORY: u64 = 1 << 30;

/// Which bound a charge ran into; its `Display` is the cause a note names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exceeded {
    /// `--max-file-size` for one file or stream.
    FileSize(u64),
    /// `--max-total-bytes` over the target.
    Total(u64),
    /// `--max-memory` over the target.
    Memory(u64),
    /// `--max-ratio` over one file system's output (holes included): the
    /// bound, in bytes, for this layer.
    LayerRatio(u64),
    /// `--max-entries` over the target.
    Entries(usize),
}

impl fmt::Display for Exceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exceeded::FileSize(n) => write!(f, "the file size bound ({n} bytes, --max-file-size)"),
            Exceeded::Total(n) => write!(
                f,
                "the total decompressed size bound ({n} bytes, --max-total-bytes)"
            ),
            Exceeded::Memory(n) => write!(f, "the memory bound ({n} bytes, --max-memory)"),
            Exceeded::LayerRatio(n) => write!(
                f,
                "the layer's output/input ratio bound ({n} bytes, --max-ratio)"
            ),
            Exceeded::Entries(n) => write!(f, "the entry bound ({n} entries, --max-entries)"),
        }
    }
}

/// The counters every fork of one target's budget draws from.
#[derive(Debug)]
struct Pool {
    total: AtomicU64,
    memory: AtomicU64,
    entries: AtomicU64,
}

impl Pool {
    fn draw(counter: &AtomicU64, n: u64) -> bool {
        counter
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                left.checked_sub(n)
            })
            .is_ok()
    }
}

/// What is left of the bounds while one target is unpacked.
///
/// Files are examined in parallel, so each gets its own `Budget` from
/// [`Budget::fork`]; all forks of one target draw from one shared pool, so
/// the total, memory and entry bounds hold across threads.
#[derive(Debug)]
pub struct Budget {
    pub limits: Limits,
    pool: Arc<Pool>,
    /// What this fork has taken for good, for [`Budget::refund`].
    taken: Taken,
    /// Output left to the layer being extracted under the ratio bound (see
    /// [`Budget::bound_layer`]); `None` outside a file system.
    layer_left: Option<(u64, u64)>,
    /// Per-target memo for the zip reader (see [`EocdMemo`]).
    pub eocd_memo: EocdMemo,
}

#[derive(Debug, Default, Clone, Copy)]
struct Taken {
    total: u64,
    memory: u64,
    entries: u64,
}

/// Where zip end-of-central-directory signatures sit in the buffer being
/// carved (absolute addresses), so that a flood of chance local headers costs
/// one scan of the buffer, not one per header. Keyed by the buffer's end
/// address: every carved buffer stays alive while its target is unpacked, and
/// the memo lives in a [`Budget`] that one thread uses for one file at a
/// time, so a key cannot be reused.
#[derive(Debug, Default)]
pub struct EocdMemo {
    pub end: usize,
    pub from: usize,
    pub found: Vec<usize>,
    /// A zip without an end record was already reported in this buffer: the
    /// next local headers (its other members, usually) stay silent.
    pub reported_missing: bool,
}

/// Memory reserved from a budget for something transient (a decoder's
/// window, an output buffer still growing); returned to the pool when
/// dropped, unless [`Budget::keep`] turned it into a charge for good.
#[derive(Debug)]
pub struct Reservation {
    pool: Arc<Pool>,
    bytes: u64,
    max_memory: u64,
}

impl Reservation {
    /// Reserves `n` more bytes.
    pub fn grow(&mut self, n: u64) -> Result<(), Exceeded> {
        if Pool::draw(&self.pool.memory, n) {
            self.bytes += n;
            Ok(())
        } else {
            Err(Exceeded::Memory(self.max_memory))
        }
    }

    /// Gives `n` of the reserved bytes back (a buffer that was freed).
    pub fn release(&mut self, n: u64) {
        let n = n.min(self.bytes);
        self.pool.memory.fetch_add(n, Ordering::Relaxed);
        self.bytes -= n;
    }

    /// Bytes held.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.pool.memory.fetch_add(self.bytes, Ordering::Relaxed);
    }
}

impl Budget {
    pub fn new(limits: Limits) -> Budget {
        Budget {
            pool: Arc::new(Pool {
                total: AtomicU64::new(limits.max_total_bytes),
                memory: AtomicU64::new(limits.max_memory),
                entries: AtomicU64::new(limits.max_entries as u64),
            }),
            taken: Taken::default(),
            layer_left: None,
            limits,
            eocd_memo: EocdMemo::default(),
        }
    }

    /// A budget for examining another file: the same limits and the same
    /// shared pool, with a memo of its own (memos are per buffer).
    pub fn fork(&self) -> Budget {
        Budget {
            limits: self.limits.clone(),
            pool: Arc::clone(&self.pool),
            taken: Taken::default(),
            layer_left: None,
            eocd_memo: EocdMemo::default(),
        }
    }

    /// Bytes left of the total.
    pub fn remaining(&self) -> u64 {
        self.pool.total.load(Ordering::Relaxed)
    }

    /// Bytes left of the memory bound.
    pub fn memory_left(&self) -> u64 {
        self.pool.memory.load(Ordering::Relaxed)
    }

    /// Entries left of the entry bound.
    pub fn entries_left(&self) -> u64 {
        self.pool.entries.load(Ordering::Relaxed)
    }

    /// Most bytes a stream of `input_len` compressed bytes may decompress
    /// to: the file size bound, the ratio bound (beyond 1 MiB) and what is
    /// left of the total. Memory is reserved as the output grows.
    pub fn output_cap(&self, input_len: u64) -> u64 {
        let by_ratio = input_len.saturating_mul(self.limits.max_ratio).max(1 << 20);
        self.remaining()
            .min(self.limits.max_file_size)
            .min(by_ratio)
    }

    /// Which bound [`Budget::output_cap`] is, for a note.
    pub fn output_cap_cause(&self, input_len: u64) -> String {
        let by_ratio = input_len.saturating_mul(self.limits.max_ratio).max(1 << 20);
        let cap = self.output_cap(input_len);
        if cap == self.limits.max_file_size {
            Exceeded::FileSize(cap).to_string()
        } else if cap == by_ratio {
            format!(
                "the output/input ratio bound ({} × {input_len} input bytes, --max-ratio)",
                self.limits.max_ratio
            )
        } else {
            Exceeded::Total(self.limits.max_total_bytes).to_string()
        }
    }

    /// Puts the layer about to be read (a file system image of `stored`
    /// bytes) under the ratio bound as a whole: everything its files yield,
    /// holes and shared blocks included, may not exceed
    /// `stored × max_ratio` (at least 1 MiB). A few KiB of block pointers to
    /// nothing cannot then claim the whole budget in zeros.
    pub fn bound_layer(&mut self, stored: u64) {
        let bound = stored.saturating_mul(self.limits.max_ratio).max(1 << 20);
        self.layer_left = Some((bound, bound));
    }

    /// Ends [`Budget::bound_layer`] (the dispatcher calls it after every layer).
    pub fn end_layer(&mut self) {
        self.layer_left = None;
    }

    /// Charges `n` bytes of data that will be kept in the tree: to the
    /// total, the memory bound and the layer's ratio bound. Nothing is
    /// charged when any would overdraw; the error names the first that would.
    pub fn charge(&mut self, n: u64) -> Result<(), Exceeded> {
        if let Some((bound, left)) = self.layer_left
            && n > left
        {
            return Err(Exceeded::LayerRatio(bound));
        }
        if !Pool::draw(&self.pool.total, n) {
            return Err(Exceeded::Total(self.limits.max_total_bytes));
        }
        if !Pool::draw(&self.pool.memory, n) {
            self.pool.total.fetch_add(n, Ordering::Relaxed);
            return Err(Exceeded::Memory(self.limits.max_memory));
        }
        if let Some((_, left)) = &mut self.layer_left {
            *left -= n;
        }
        self.taken.total += n;
        self.taken.memory += n;
        Ok(())
    }

    /// [`Budget::charge`] for one file of `n` bytes, which must also be
    /// within the file size bound.
    pub fn charge_file(&mut self, n: u64) -> Result<(), Exceeded> {
        if n > self.limits.max_file_size {
            return Err(Exceeded::FileSize(self.limits.max_file_size));
        }
        self.charge(n)
    }

    /// [`Budget::charge`] as a yes or no, for callers whose note does not
    /// need the cause.
    pub fn take(&mut self, n: u64) -> bool {
        self.charge(n).is_ok()
    }

    /// Charges memory only, for good: bytes read from disk as they are (the
    /// target, files of a directory target), which decompress to nothing.
    pub fn hold(&mut self, n: u64) -> Result<(), Exceeded> {
        if !Pool::draw(&self.pool.memory, n) {
            return Err(Exceeded::Memory(self.limits.max_memory));
        }
        self.taken.memory += n;
        Ok(())
    }

    /// Charges one entry (a file, directory, link or stream) to the
    /// target's entry bound. Every container draws from the same count, so a
    /// container carved again where the last one stopped gets no fresh bound.
    pub fn entry(&mut self) -> Result<(), Exceeded> {
        if !Pool::draw(&self.pool.entries, 1) {
            return Err(Exceeded::Entries(self.limits.max_entries));
        }
        self.taken.entries += 1;
        Ok(())
    }

    /// Reserves `n` bytes of memory for something transient.
    pub fn reserve(&self, n: u64) -> Result<Reservation, Exceeded> {
        let mut r = Reservation {
            pool: Arc::clone(&self.pool),
            bytes: 0,
            max_memory: self.limits.max_memory,
        };
        r.grow(n)?;
        Ok(r)
    }

    /// Keeps what `reservation` holds for good (a buffer of `len` bytes
    /// goes into the tree; all the memory reserved for it stays charged,
    /// spare capacity included), charging `len` to the total and the
    /// layer's ratio bound.
    pub fn keep(&mut self, mut reservation: Reservation, len: u64) -> Result<(), Exceeded> {
        if reservation.bytes < len {
            reservation.grow(len - reservation.bytes)?;
        }
        if let Some((bound, left)) = self.layer_left
            && len > left
        {
            return Err(Exceeded::LayerRatio(bound));
        }
        if !Pool::draw(&self.pool.total, len) {
            return Err(Exceeded::Total(self.limits.max_total_bytes));
        }
        if let Some((_, left)) = &mut self.layer_left {
            *left -= len;
        }
        // What stays charged moves from the reservation to this fork.
        self.taken.total += len;
        self.taken.memory += reservation.bytes;
        reservation.bytes = 0;
        Ok(())
    }

    /// Returns to the shared pool everything this fork took: for work done
    /// ahead of need and then thrown away, which must not count.
    pub fn refund(self) {
        self.pool
            .total
            .fetch_add(self.taken.total, Ordering::Relaxed);
        self.pool
            .memory
            .fetch_add(self.taken.memory, Ordering::Relaxed);
        self.pool
            .entries
            .fetch_add(self.taken.entries, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(total: u64, memory: u64) -> Budget {
        Budget::new(Limits {
            max_total_bytes: total,
            max_memory: memory,
            ..Limits::default()
        })
    }

    #[test]
    fn forks_share_the_total() {
        let mut a = budget(100, 1000);
        let mut b = a.fork();
        assert!(a.take(60));
        assert!(!b.take(41));
        assert!(b.take(40));
        assert_eq!(a.remaining(), 0);
        assert!(!a.take(1));
        b.refund();
        assert_eq!(a.remaining(), 40);
        assert_eq!(a.memory_left(), 940);
    }

    #[test]
    fn memory_is_reserved_across_forks_and_returned_on_drop() {
        let mut a = budget(1000, 100);
        let b = a.fork();
        let mut r = b.reserve(70).unwrap();
        assert_eq!(a.charge(40), Err(Exceeded::Memory(100)));
        // The failed charge took nothing from the total either.
        assert_eq!(a.remaining(), 1000);
        assert_eq!(r.grow(31), Err(Exceeded::Memory(100)));
        drop(r);
        assert_eq!(a.memory_left(), 100);
        // Kept: all 80 reserved stay charged (the buffer holds them), 50
        // bytes of it count towards the total.
        let mut r = b.reserve(80).unwrap();
        r.release(10);
        a.keep(r, 50).unwrap();
        assert_eq!((a.memory_left(), a.remaining()), (30, 950));
    }

    #[test]
    fn a_layer_under_the_ratio_bound_cannot_yield_more() {
        let mut b = Budget::new(Limits {
            max_ratio: 10,
            ..Limits::default()
        });
        b.bound_layer(200_000);
        assert!(b.charge(1_500_000).is_ok());
        assert_eq!(b.charge(600_000), Err(Exceeded::LayerRatio(2_000_000)));
        b.end_layer();
        assert!(b.charge(600_000).is_ok());
    }

    #[test]
    fn entries_are_counted_over_the_target() {
        let mut a = Budget::new(Limits {
            max_entries: 2,
            ..Limits::default()
        });
        let mut b = a.fork();
        assert!(a.entry().is_ok());
        assert!(b.entry().is_ok());
        assert_eq!(a.entry(), Err(Exceeded::Entries(2)));
        b.refund();
        assert!(a.entry().is_ok());
    }
}
