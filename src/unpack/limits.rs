//! Bounds on what an image may make us do. Firmware is hostile input: every
//! decompressor and file system reader draws from one budget, and running out
//! is reported as a `limit` note for that layer instead of exhausting memory.

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
    /// Output/input ratio past which a compressed stream is treated as a bomb.
    pub max_ratio: u64,
    /// Entries one container may hold.
    pub max_entries: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 8,
            max_total_bytes: 2 << 30,
            max_file_size: 512 << 20,
            max_ratio: 1000,
            max_entries: 200_000,
        }
    }
}

/// What is left of [`Limits::max_total_bytes`] while one target is unpacked.
///
/// Files are examined in parallel, so each gets its own `Budget` from
/// [`Budget::fork`]; all forks of one target draw from one shared counter, so
/// the total bound holds across threads.
#[derive(Debug)]
pub struct Budget {
    pub limits: Limits,
    remaining: Arc<AtomicU64>,
    /// Bytes this fork has taken, for [`Budget::refund`].
    taken: u64,
    /// Per-target memo for the zip reader (see [`EocdMemo`]).
    pub eocd_memo: EocdMemo,
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

impl Budget {
    pub fn new(limits: Limits) -> Budget {
        Budget {
            remaining: Arc::new(AtomicU64::new(limits.max_total_bytes)),
            taken: 0,
            limits,
            eocd_memo: EocdMemo::default(),
        }
    }

    /// A budget for examining another file: the same limits and the same
    /// shared total, with a memo of its own (memos are per buffer).
    pub fn fork(&self) -> Budget {
        Budget {
            limits: self.limits.clone(),
            remaining: Arc::clone(&self.remaining),
            taken: 0,
            eocd_memo: EocdMemo::default(),
        }
    }

    /// Bytes left of the total.
    pub fn remaining(&self) -> u64 {
        self.remaining.load(Ordering::Relaxed)
    }

    /// Most bytes a stream of `input_len` compressed bytes may decompress to now.
    pub fn output_cap(&self, input_len: u64) -> u64 {
        let by_ratio = input_len.saturating_mul(self.limits.max_ratio).max(1 << 20);
        self.remaining()
            .min(self.limits.max_file_size)
            .min(by_ratio)
    }

    /// Takes `n` bytes from the budget; false (and nothing taken) when it would overdraw.
    pub fn take(&mut self, n: u64) -> bool {
        let took = self
            .remaining
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                left.checked_sub(n)
            })
            .is_ok();
        if took {
            self.taken += n;
        }
        took
    }

    /// Returns to the shared total everything this fork took: for work done
    /// ahead of need and then thrown away, which must not count.
    pub fn refund(self) {
        self.remaining.fetch_add(self.taken, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forks_share_the_total() {
        let mut a = Budget::new(Limits {
            max_total_bytes: 100,
            ..Limits::default()
        });
        let mut b = a.fork();
        assert!(a.take(60));
        assert!(!b.take(41));
        assert!(b.take(40));
        assert_eq!(a.remaining(), 0);
        assert!(!a.take(1));
        b.refund();
        assert_eq!(a.remaining(), 40);
    }
}
