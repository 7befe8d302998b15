//! Runs the built binary as a child under an address-space ceiling and a
//! wall-clock deadline, and reports its peak resident memory as the kernel
//! measured it (`wait4`'s `ru_maxrss`), so that a hostile-input test can
//! assert the memory bound and cannot take the machine down when it fails.

use super::{Run, root};
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a bounded run measured.
pub struct Bounded {
    pub run: Run,
    /// Peak resident set of the child, in bytes.
    pub peak_rss: u64,
    pub wall: Duration,
}

pub const MIB: u64 = 1 << 20;

/// How a measured run ended, for a table.
pub struct Measured {
    /// `0`..`255`, `signal N`, or `killed at the deadline`.
    pub outcome: String,
    pub peak_rss: u64,
    pub wall: Duration,
    stdout: String,
    stderr: String,
    exit: Option<i32>,
}

/// Runs `bin args` from the repository root with the address space capped
/// at `address_space` bytes; kills it at `deadline`. Panics (failing the
/// test) when it was killed, died of a signal, or panicked.
pub fn run_bounded(bin: &str, args: &[&str], address_space: u64, deadline: Duration) -> Bounded {
    let m = run_bounded_lenient(bin, args, address_space, deadline);
    let tail = |s: &str| {
        let start = s.len().saturating_sub(3000);
        let start = (start..s.len())
            .find(|&i| s.is_char_boundary(i))
            .unwrap_or(s.len());
        s[start..].to_string()
    };
    let Some(code) = m.exit else {
        panic!(
            "{args:?}: {} (address space capped at {} MiB); stderr: {}",
            m.outcome,
            address_space / MIB,
            tail(&m.stderr)
        );
    };
    assert!(
        !m.stderr.contains("panicked"),
        "{args:?}: fwaudit panicked: {}",
        tail(&m.stderr)
    );
    Bounded {
        run: Run {
            code,
            stdout: m.stdout,
            stderr: m.stderr,
        },
        peak_rss: m.peak_rss,
        wall: m.wall,
    }
}

/// [`run_bounded`] that reports how the run ended instead of failing.
// The child is reaped by `wait4` (for its rusage), not by `Child::wait`.
#[allow(clippy::zombie_processes)]
pub fn run_bounded_lenient(
    bin: &str,
    args: &[&str],
    address_space: u64,
    deadline: Duration,
) -> Measured {
    let mut command = Command::new(bin);
    command
        .args(args)
        .current_dir(root())
        .env("FWAUDIT_TODAY", "2026-11-25")
        .env(
            "FWAUDIT_HOME",
            root().join("target/fwaudit-test-home-never-written"),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: setrlimit is async-signal-safe and touches no parent state.
    unsafe {
        command.pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: address_space,
                rlim_max: address_space,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let start = Instant::now();
    let mut child = command.spawn().expect("spawn fwaudit");
    let pid = child.id() as libc::pid_t;
    // Drained on threads so that a chatty child never blocks on a full pipe.
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let mut status = 0;
    // SAFETY: plain-old-data out-parameter for wait4.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let mut killed = false;
    loop {
        // SAFETY: pid is our own child, not yet reaped (std never waits for it here).
        let got = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if got == pid {
            break;
        }
        assert_eq!(got, 0, "wait4: {}", std::io::Error::last_os_error());
        if !killed && start.elapsed() > deadline {
            // SAFETY: signalling our own unreaped child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            killed = true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let wall = start.elapsed();
    let stdout = String::from_utf8_lossy(&stdout.join().unwrap()).into_owned();
    let stderr = String::from_utf8_lossy(&stderr.join().unwrap()).into_owned();
    let (outcome, exit) = if killed {
        (format!("killed at the {deadline:?} deadline"), None)
    } else if libc::WIFEXITED(status) {
        let code = libc::WEXITSTATUS(status);
        (code.to_string(), Some(code))
    } else {
        (format!("died of signal {}", libc::WTERMSIG(status)), None)
    };
    Measured {
        outcome,
        // Linux reports kilobytes.
        peak_rss: usage.ru_maxrss as u64 * 1024,
        wall,
        stdout,
        stderr,
        exit,
    }
}
