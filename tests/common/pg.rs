//! A private PostgreSQL server for one test: `initdb` into a temporary
//! directory, the server listening on a Unix socket in that directory only
//! (no TCP port), stopped and removed when the value is dropped. Uses the
//! server binaries of Debian's `postgresql` package (or `$FWAUDIT_PG_BIN`).
//! initdb and postgres refuse to run as root: as root (CI), they run as
//! the `postgres` user through `runuser`, in a directory that user owns.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    /// The user the server runs as when we are root.
    run_as: Option<String>,
    /// Server settings (`-c name=value ...`).
    settings: String,
    /// The port: names the socket, and the TCP port with [`Postgres::start_tcp`].
    pub port: u16,
}

/// Tests do not need durability: nothing survives the test.
const TEST_SETTINGS: &str = "-c fsync=off -c full_page_writes=off -c synchronous_commit=off";

/// The newest server under /usr/lib/postgresql, or `$FWAUDIT_PG_BIN`.
fn server_bin() -> PathBuf {
    if let Some(dir) = std::env::var_os("FWAUDIT_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(Result::ok)
                .filter_map(|e| {
                    let v = e.file_name().to_str()?.parse::<u32>().ok()?;
                    let bin = e.path().join("bin");
                    bin.join("postgres").is_file().then_some((v, bin))
                })
                .collect()
        })
        .unwrap_or_default();
    versions.sort();
    match versions.pop() {
        Some((_, bin)) => bin,
        None => panic!(
            "PostgreSQL server binaries not found under /usr/lib/postgresql: \
             install Debian's postgresql package (apt-get install postgresql) or set FWAUDIT_PG_BIN"
        ),
    }
}

fn is_root() -> bool {
    // The effective uid, without a libc dependency: /proc/self/status.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// uid and gid of a user, from /etc/passwd.
fn ids_of(user: &str) -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").expect("/etc/passwd");
    for line in passwd.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() > 3 && f[0] == user {
            return (f[2].parse().unwrap(), f[3].parse().unwrap());
        }
    }
    panic!("no user {user:?} to run PostgreSQL as (Debian's postgresql package creates it)");
}

impl Postgres {
    /// initdb and start; panics with the server's log if it does not come up.
    pub fn start() -> Postgres {
        Postgres::start_with(TEST_SETTINGS, None)
    }

    /// [`start`](Self::start) with other server settings, in a directory
    /// under `parent` (default: the system's temporary directory).
    pub fn start_with(settings: &str, parent: Option<&Path>) -> Postgres {
        let bin = server_bin();
        let mut builder = tempfile::Builder::new();
        builder.prefix("fwaudit-pg-");
        let dir = match parent {
            Some(p) => builder.tempdir_in(p),
            None => builder.tempdir(),
        }
        .unwrap();
        let run_as = is_root().then(|| "postgres".to_string());
        if let Some(user) = &run_as {
            let (uid, gid) = ids_of(user);
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
        }
        let pg = Postgres {
            dir,
            bin,
            run_as,
            settings: settings.to_string(),
            port: 5432,
        };
        pg.init();
        pg
    }

    /// A server that also listens on 127.0.0.1 (a free port), with TLS from
    /// `cert` and `key` (PEM).
    pub fn start_tcp(cert: &str, key: &str) -> Postgres {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::Builder::new()
            .prefix("fwaudit-pg-")
            .tempdir()
            .unwrap();
        let run_as = is_root().then(|| "postgres".to_string());
        for (name, text) in [("server.crt", cert), ("server.key", key)] {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
            if let Some(user) = &run_as {
                let (uid, gid) = ids_of(user);
                std::os::unix::fs::chown(&path, Some(uid), Some(gid)).unwrap();
            }
        }
        if let Some(user) = &run_as {
            let (uid, gid) = ids_of(user);
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
        }
        let settings = format!(
            "{TEST_SETTINGS} -c listen_addresses=127.0.0.1 -c ssl=on -c ssl_cert_file={0}/server.crt \
             -c ssl_key_file={0}/server.key",
            dir.path().display()
        );
        let pg = Postgres {
            dir,
            bin: server_bin(),
            run_as,
            settings,
            port,
        };
        pg.init();
        pg
    }

    fn init(&self) {
        let pg = self;
        pg.tool(
            "initdb",
            &[
                "-D",
                pg.data().to_str().unwrap(),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
        );
        pg.ctl(&["start", "-w", "-t", "60"]);
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// Runs a server tool (as the postgres user when we are root).
    fn tool(&self, name: &str, args: &[&str]) -> std::process::Output {
        let program = self.bin.join(name);
        let mut cmd = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.arg("-u").arg(user).arg("--").arg(&program);
                c
            }
            None => Command::new(&program),
        };
        let out = cmd
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("PGDATA")
            .output()
            .unwrap_or_else(|e| panic!("{}: {e}", program.display()));
        assert!(
            out.status.success(),
            "{name} {args:?} failed: {}{}\nserver log:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(self.log()).unwrap_or_default()
        );
        out
    }

    fn ctl(&self, args: &[&str]) {
        let options = format!(
            "-k {} -p {} -c listen_addresses= -c max_connections=200 {}",
            self.socket_dir().display(),
            self.port,
            self.settings
        );
        let data = self.data();
        let log = self.log();
        let mut all = vec![
            "-D",
            data.to_str().unwrap(),
            "-l",
            log.to_str().unwrap(),
            "-o",
            &options,
        ];
        all.extend_from_slice(args);
        self.tool("pg_ctl", &all);
    }

    /// Stops the server (fast shutdown: sessions are cut off).
    pub fn stop(&self) {
        self.ctl(&["stop", "-m", "fast", "-w"]);
    }

    /// Starts it again after [`stop`](Self::stop).
    pub fn restart(&self) {
        self.ctl(&["start", "-w", "-t", "60"]);
    }

    /// A URL for database `db` over the private socket.
    pub fn url(&self, db: &str) -> String {
        let host: String = self
            .socket_dir()
            .to_str()
            .unwrap()
            .replace('%', "%25")
            .replace('/', "%2F");
        format!("postgresql://postgres@{host}:{}/{db}", self.port)
    }

    /// Runs SQL as the superuser in database `db` (psql), returning its output.
    pub fn sql(&self, db: &str, sql: &str) -> String {
        let socket = self.socket_dir().to_str().unwrap().to_string();
        let port = self.port.to_string();
        let out = self.tool(
            "psql",
            &[
                "-h",
                &socket,
                "-p",
                &port,
                "-U",
                "postgres",
                "-d",
                db,
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ],
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Creates an empty database and returns its URL.
    pub fn database(&self, name: &str) -> String {
        self.sql("postgres", &format!("CREATE DATABASE {name}"));
        self.url(name)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.data();
        let program = self.bin.join("pg_ctl");
        let mut cmd = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.arg("-u").arg(user).arg("--").arg(&program);
                c
            }
            None => Command::new(&program),
        };
        let _ = cmd
            .args([
                "-D",
                data.to_str().unwrap_or(""),
                "stop",
                "-m",
                "immediate",
                "-w",
            ])
            .current_dir(self.dir.path())
            .output();
    }
}
