//! What the device starts at boot, read from its init configuration:
//! inittab (BusyBox and SysV), the scripts it runs (rcS, `for i in
//! /etc/init.d/S??*`), OpenWrt's `/etc/rc.d/S*` links to procd scripts,
//! SysV `/etc/rc?.d/S*` links, systemd units enabled in `*.wants/`, inetd
//! and xinetd. Findings: telnet, FTP, TFTP and r-services started at boot,
//! a root shell on a console, debuggers shipped, and the SSH servers'
//! settings (dropbear's command line or OpenWrt UCI, sshd_config).

use super::rootfs::{RootFs, config_lines};
use super::rules;
use super::shell::{self, Command};
use crate::model::{Evidence, Finding};
use crate::unpack::tree::{FileClass, classify};
use std::collections::BTreeSet;

/// A program started at boot, and the line that starts it.
#[derive(Debug, Clone)]
pub struct BootCommand {
    pub command: Command,
    /// Provenance path of the file and the 1-based line.
    pub path: String,
    pub inner: String,
    pub line: usize,
    pub text: String,
    /// How it is started: `inittab`, `rc script`, `procd`, `systemd`, `inetd`, `xinetd`.
    pub via: &'static str,
}

/// Every program the init configuration starts.
pub fn boot_commands(fs: &RootFs) -> Vec<BootCommand> {
    let mut out = Vec::new();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    if let Some((f, text)) = fs.text("/etc/inittab") {
        for (line, l) in config_lines(&text) {
            let fields: Vec<&str> = l.splitn(4, ':').collect();
            let [_, _, action, process] = fields[..] else {
                continue;
            };
            if matches!(
                action,
                "ctrlaltdel"
                    | "shutdown"
                    | "restart"
                    | "powerfail"
                    | "powerwait"
                    | "powerokwait"
                    | "powerfailnow"
            ) {
                continue;
            }
            let process = process.trim_start_matches('-');
            push_line(
                fs,
                &mut out,
                &mut seen,
                &f.path,
                "/etc/inittab",
                line,
                process,
                "inittab",
                0,
            );
        }
    }
    // OpenWrt's enabled scripts, SysV runlevel links: S* in the rc directories.
    for dir in [
        "/etc/rc.d",
        "/etc/rcS.d",
        "/etc/rc2.d",
        "/etc/rc3.d",
        "/etc/rc5.d",
    ] {
        for (path, _) in fs.list(dir) {
            let name = path.rsplit('/').next().unwrap_or(path);
            if name.starts_with('S') {
                script(fs, &mut out, &mut seen, path, "rc script", 0);
            }
        }
    }
    systemd(fs, &mut out);
    inetd(fs, &mut out);
    xinetd(fs, &mut out);
    out
}

/// One command line at `inner:line`; a script it runs is read too.
#[allow(clippy::too_many_arguments)]
fn push_line(
    fs: &RootFs,
    out: &mut Vec<BootCommand>,
    seen: &mut BTreeSet<String>,
    path: &str,
    inner: &str,
    line: usize,
    text: &str,
    via: &'static str,
    depth: usize,
) {
    push_commands(
        fs,
        out,
        seen,
        path,
        inner,
        line,
        text,
        shell::commands(text, &Default::default()),
        via,
        depth,
    );
}

#[allow(clippy::too_many_arguments)]
fn push_commands(
    fs: &RootFs,
    out: &mut Vec<BootCommand>,
    seen: &mut BTreeSet<String>,
    path: &str,
    inner: &str,
    line: usize,
    text: &str,
    commands: Vec<Command>,
    via: &'static str,
    depth: usize,
) {
    for command in commands {
        // `for i in /etc/init.d/S??*`: every S script of that directory.
        if text.contains("/etc/init.d/S??") && depth < 3 {
            for (p, _) in fs.list("/etc/init.d") {
                if p.rsplit('/').next().is_some_and(|n| n.starts_with('S')) {
                    script(fs, out, seen, p, "rc script", depth + 1);
                }
            }
        }
        out.push(BootCommand {
            command: command.clone(),
            path: path.to_string(),
            inner: inner.to_string(),
            line,
            text: text.to_string(),
            via,
        });
        // A script it runs (`/etc/init.d/rcS`, `sh /etc/rc.local`).
        let target = if matches!(command.program.as_str(), "sh" | "ash" | "bash") {
            command.args.first().cloned()
        } else {
            words_path(text)
        };
        if let Some(t) = target
            && t.starts_with('/')
            && depth < 3
            && fs
                .file(&t)
                .is_some_and(|f| classify(&f.data) == FileClass::Script)
        {
            script(fs, out, seen, &t, "rc script", depth + 1);
        }
    }
}

fn words_path(text: &str) -> Option<String> {
    shell::words(text).into_iter().find(|w| w.starts_with('/'))
}

/// Every line of a boot script, once.
fn script(
    fs: &RootFs,
    out: &mut Vec<BootCommand>,
    seen: &mut BTreeSet<String>,
    path: &str,
    via: &'static str,
    depth: usize,
) {
    let Some((f, text)) = fs.text(path) else {
        return;
    };
    if !seen.insert(f.path.clone()) {
        return;
    }
    let via = if text.contains("USE_PROCD=1") {
        "procd"
    } else {
        via
    };
    let lines: Vec<(usize, &str)> = config_lines(&text).collect();
    let vars = shell::assignments(&lines);
    for (line, l) in &lines {
        let commands = shell::commands(l, &vars);
        push_commands(fs, out, seen, &f.path, path, *line, l, commands, via, depth);
    }
}

/// Units enabled through `*.wants/` links: their `ExecStart=`.
fn systemd(fs: &RootFs, out: &mut Vec<BootCommand>) {
    let mut units: BTreeSet<String> = BTreeSet::new();
    for (path, _) in fs.iter() {
        for base in [
            "/etc/systemd/system/",
            "/lib/systemd/system/",
            "/usr/lib/systemd/system/",
        ] {
            if let Some(rest) = path.strip_prefix(base)
                && let Some((dir, unit)) = rest.split_once('/')
                && dir.ends_with(".wants")
                && !unit.contains('/')
            {
                units.insert(unit.to_string());
            }
        }
    }
    for unit in units {
        // A socket with Accept=yes starts `name@.service`; otherwise `name.service`.
        let (stem, kind) = unit.rsplit_once('.').unwrap_or((&unit, ""));
        let mut names = vec![unit.clone()];
        if kind == "socket" {
            names.push(format!("{stem}@.service"));
            names.push(format!("{stem}.service"));
        }
        for name in names {
            let found = [
                "/etc/systemd/system",
                "/lib/systemd/system",
                "/usr/lib/systemd/system",
            ]
            .iter()
            .find_map(|d| {
                fs.text(&format!("{d}/{name}"))
                    .map(|t| (format!("{d}/{name}"), t))
            });
            let Some((inner, (f, text))) = found else {
                continue;
            };
            for (line, l) in config_lines(&text) {
                if let Some(cmd) = l.strip_prefix("ExecStart=") {
                    let cmd = cmd.trim_start_matches(['-', '@', '+', '!', ':']);
                    for command in shell::commands(cmd, &Default::default()) {
                        out.push(BootCommand {
                            command,
                            path: f.path.clone(),
                            inner: inner.clone(),
                            line,
                            text: l.to_string(),
                            via: "systemd",
                        });
                    }
                }
            }
        }
    }
}

/// `/etc/inetd.conf`: `service socket proto wait user server [argv0 args]`.
fn inetd(fs: &RootFs, out: &mut Vec<BootCommand>) {
    let Some((f, text)) = fs.text("/etc/inetd.conf") else {
        return;
    };
    for (line, l) in config_lines(&text) {
        let w = shell::words(l);
        let Some(server) = w.get(5) else { continue };
        let program = server.rsplit('/').next().unwrap_or(server).to_string();
        // tcpd wraps the real server, named next.
        let (program, args) = if program == "tcpd" {
            let real = w.get(6).cloned().unwrap_or_default();
            (
                real.rsplit('/').next().unwrap_or(&real).to_string(),
                w.get(7..).map(<[String]>::to_vec).unwrap_or_default(),
            )
        } else {
            (
                program,
                w.get(7..).map(<[String]>::to_vec).unwrap_or_default(),
            )
        };
        out.push(BootCommand {
            command: Command { program, args },
            path: f.path.clone(),
            inner: "/etc/inetd.conf".into(),
            line,
            text: l.to_string(),
            via: "inetd",
        });
    }
}

/// xinetd services not marked `disable = yes`.
fn xinetd(fs: &RootFs, out: &mut Vec<BootCommand>) {
    let mut files: Vec<String> = fs
        .list("/etc/xinetd.d")
        .into_iter()
        .map(|(p, _)| p.to_string())
        .collect();
    files.push("/etc/xinetd.conf".into());
    for inner in files {
        let Some((f, text)) = fs.text(&inner) else {
            continue;
        };
        let mut server: Option<(usize, String, String)> = None;
        let mut args: Vec<String> = Vec::new();
        let mut disabled = false;
        let mut flush = |server: &mut Option<(usize, String, String)>,
                         args: &mut Vec<String>,
                         disabled: &mut bool| {
            if let Some((line, program, text)) = server.take()
                && !*disabled
            {
                out.push(BootCommand {
                    command: Command {
                        program,
                        args: std::mem::take(args),
                    },
                    path: f.path.clone(),
                    inner: inner.clone(),
                    line,
                    text,
                    via: "xinetd",
                });
            }
            args.clear();
            *disabled = false;
        };
        for (line, l) in config_lines(&text) {
            if l.starts_with("service ") {
                flush(&mut server, &mut args, &mut disabled);
                continue;
            }
            let Some((k, v)) = l.split_once('=') else {
                continue;
            };
            let (k, v) = (k.trim(), v.trim());
            match k {
                "server" => {
                    server = Some((
                        line,
                        v.rsplit('/').next().unwrap_or(v).to_string(),
                        l.to_string(),
                    ))
                }
                "server_args" => args = shell::words(v),
                "disable" => disabled = v == "yes",
                _ => {}
            }
        }
        flush(&mut server, &mut args, &mut disabled);
    }
}

// ------------------------------------------------------------------ judging

const TELNET: &[&str] = &["telnetd", "utelnetd", "in.telnetd"];
const FTP: &[&str] = &[
    "ftpd",
    "vsftpd",
    "proftpd",
    "pure-ftpd",
    "in.ftpd",
    "bftpd",
    "tcpsvd-ftpd",
];
const TFTP: &[&str] = &["tftpd", "in.tftpd", "atftpd", "opentftpd", "tftpd-hpa"];
const RSH: &[&str] = &[
    "rshd",
    "in.rshd",
    "rlogind",
    "in.rlogind",
    "rexecd",
    "in.rexecd",
];
const SHELLS: &[&str] = &["sh", "ash", "bash", "dash", "hush", "zsh"];
const DEBUGGERS: &[&str] = &["gdbserver", "gdb", "strace", "ltrace"];

fn evidence(b: &BootCommand) -> Vec<Evidence> {
    vec![rules::at_line(b.via, &b.path, b.line, &b.text)]
}

pub fn findings(fs: &RootFs) -> Vec<Finding> {
    let boot = boot_commands(fs);
    let mut out = Vec::new();
    let mut reported: BTreeSet<(String, String, String)> = BTreeSet::new();
    for b in &boot {
        let p = b.command.program.as_str();
        // BusyBox tcpsvd/inetd-style `tcpsvd 0 21 ftpd`: the served program.
        let served = if matches!(p, "tcpsvd" | "udpsvd") {
            b.command
                .args
                .iter()
                .find(|a| !a.starts_with('-') && a.parse::<u32>().is_err() && *a != "0")
                .map(|a| a.rsplit('/').next().unwrap_or(a))
        } else {
            None
        };
        let p = served.unwrap_or(p);
        let rule = if TELNET.contains(&p) {
            Some(("FW-SVC-001", "telnet server"))
        } else if FTP.contains(&p) {
            Some(("FW-SVC-002", "FTP server"))
        } else if TFTP.contains(&p) {
            Some(("FW-SVC-003", "TFTP server"))
        } else if RSH.contains(&p) {
            Some(("FW-SVC-004", "r-services server"))
        } else if p == "gdbserver" {
            Some(("FW-SVC-006", "debug server"))
        } else {
            None
        };
        if let Some((id, what)) = rule
            && reported.insert((id.to_string(), b.path.clone(), p.to_string()))
        {
            out.push(rules::finding(
                id,
                &b.path,
                format!(
                    "{}:{}: {what} {p} started at boot ({})",
                    b.inner, b.line, b.via
                ),
                evidence(b),
            ));
        }
        if b.via == "inittab"
            && console_shell(&b.command)
            && reported.insert(("FW-SVC-005".into(), b.path.clone(), b.line.to_string()))
        {
            out.push(rules::finding(
                "FW-SVC-005",
                &b.path,
                format!(
                    "{}:{}: `{}` gives a root shell on the console without a login",
                    b.inner, b.line, b.text
                ),
                evidence(b),
            ));
        }
        if p == "dropbear" && b.via != "procd" {
            dropbear_args(b, &mut out);
        }
        if p == "dropbear"
            && b.via == "procd"
            && reported.insert(("uci-dropbear".into(), String::new(), String::new()))
        {
            dropbear_uci(fs, b, &mut out);
        }
    }
    sshd_config(fs, &mut out);
    // Debuggers shipped, started or not.
    for (path, f) in fs.iter() {
        let name = path.rsplit('/').next().unwrap_or(path);
        if DEBUGGERS.contains(&name) && f.is_regular() && classify(&f.data) == FileClass::Elf {
            out.push(rules::finding(
                "FW-SVC-006",
                &f.path,
                format!("{path}: {name} is shipped in the image"),
                vec![rules::at_offset("file", &f.path, 0, name)],
            ));
        }
    }
    out
}

/// `::askfirst:/bin/sh`, `getty -n -l /bin/sh`, an autologin.
fn console_shell(c: &Command) -> bool {
    if SHELLS.contains(&c.program.as_str()) {
        return true;
    }
    let getty = c.program.contains("getty");
    let login_shell = c
        .args
        .windows(2)
        .any(|w| w[0] == "-l" && SHELLS.iter().any(|s| w[1].rsplit('/').next() == Some(s)));
    let auto = c
        .args
        .iter()
        .any(|a| a == "--autologin" || a == "-a" || a.starts_with("--autologin="));
    getty && (login_shell || auto)
}

/// dropbear's own flags: -w no root logins, -g no root password logins, -s
/// no password logins.
fn dropbear_args(b: &BootCommand, out: &mut Vec<Finding>) {
    let flags: String = b
        .command
        .args
        .iter()
        .filter(|a| a.starts_with('-') && !a.starts_with("--") && a.len() <= 6)
        .flat_map(|a| a.chars().skip(1))
        .collect();
    let no_passwords = flags.contains('s');
    if !no_passwords && !flags.contains('w') && !flags.contains('g') {
        out.push(rules::finding(
            "FW-SSH-001",
            &b.path,
            format!(
                "{}:{}: dropbear is started without -w, -g or -s: root may log in with a password",
                b.inner, b.line
            ),
            evidence(b),
        ));
    }
    if !no_passwords {
        out.push(rules::finding(
            "FW-SSH-002",
            &b.path,
            format!(
                "{}:{}: dropbear is started without -s: password logins are accepted",
                b.inner, b.line
            ),
            evidence(b),
        ));
    }
}

/// OpenWrt's dropbear init script builds the command line from UCI
/// `/etc/config/dropbear` (PasswordAuth and RootPasswordAuth default on).
fn dropbear_uci(fs: &RootFs, b: &BootCommand, out: &mut Vec<Finding>) {
    let mut password = (true, None);
    let mut root_password = (true, None);
    let mut file = None;
    if let Some((f, text)) = fs.text("/etc/config/dropbear") {
        for (line, l) in config_lines(&text) {
            let w = shell::words(l);
            if w.first().map(String::as_str) != Some("option") {
                continue;
            }
            let on = w
                .get(2)
                .is_some_and(|v| matches!(v.as_str(), "on" | "1" | "yes" | "true"));
            match w.get(1).map(String::as_str) {
                Some("PasswordAuth") => password = (on, Some((line, l.to_string()))),
                Some("RootPasswordAuth") => root_password = (on, Some((line, l.to_string()))),
                _ => {}
            }
        }
        file = Some(f.path.clone());
    }
    let at = |setting: &Option<(usize, String)>| match (setting, &file) {
        (Some((line, text)), Some(path)) => (
            path.clone(),
            format!("/etc/config/dropbear:{line}"),
            vec![rules::at_line("uci", path, *line, text)],
        ),
        _ => (
            b.path.clone(),
            format!("{}:{} (UCI default)", b.inner, b.line),
            evidence(b),
        ),
    };
    if password.0 && root_password.0 {
        let (path, place, ev) = at(&root_password.1);
        out.push(rules::finding(
            "FW-SSH-001",
            &path,
            format!("{place}: dropbear RootPasswordAuth is on: root may log in with a password"),
            ev,
        ));
    }
    if password.0 {
        let (path, place, ev) = at(&password.1);
        out.push(rules::finding(
            "FW-SSH-002",
            &path,
            format!("{place}: dropbear PasswordAuth is on: password logins are accepted"),
            ev,
        ));
    }
}

/// Explicit settings in the global part of sshd_config (before any
/// `Match`); the first value of a keyword wins, as in sshd.
fn sshd_config(fs: &RootFs, out: &mut Vec<Finding>) {
    let mut files = vec!["/etc/ssh/sshd_config".to_string()];
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut i = 0;
    while i < files.len() && i < 32 {
        let inner = files[i].clone();
        i += 1;
        let Some((f, text)) = fs.text(&inner) else {
            continue;
        };
        for (line, l) in config_lines(&text) {
            let w = shell::words(l);
            let Some(key) = w.first().map(|k| k.to_ascii_lowercase()) else {
                continue;
            };
            let value = w.get(1).map(|v| v.to_ascii_lowercase()).unwrap_or_default();
            if key == "match" {
                break;
            }
            if key == "include" {
                for pattern in &w[1..] {
                    let pattern = if pattern.starts_with('/') {
                        pattern.clone()
                    } else {
                        format!("/etc/ssh/{pattern}")
                    };
                    files.extend(glob(fs, &pattern));
                }
                continue;
            }
            if !seen.insert(key.clone()) {
                continue;
            }
            let ev = vec![rules::at_line("sshd_config", &f.path, line, l)];
            let rule = match (key.as_str(), value.as_str()) {
                ("permitrootlogin", "yes") => Some((
                    "FW-SSH-001",
                    "PermitRootLogin yes: root may log in with a password",
                )),
                ("passwordauthentication", "yes") => Some((
                    "FW-SSH-002",
                    "PasswordAuthentication yes: password logins are accepted",
                )),
                ("permitemptypasswords", "yes") => Some((
                    "FW-SSH-003",
                    "PermitEmptyPasswords yes: accounts without a password log in",
                )),
                _ => None,
            };
            if let Some((id, what)) = rule {
                out.push(rules::finding(
                    id,
                    &f.path,
                    format!("{inner}:{line}: {what}"),
                    ev,
                ));
            }
        }
    }
}

/// Files matching `dir/prefix*suffix` (sshd's Include globs), sorted.
fn glob(fs: &RootFs, pattern: &str) -> Vec<String> {
    let Some((dir, name)) = pattern.rsplit_once('/') else {
        return Vec::new();
    };
    match name.split_once('*') {
        None => vec![pattern.to_string()],
        Some((pre, suf)) => fs
            .list(dir)
            .into_iter()
            .map(|(p, _)| p.to_string())
            .filter(|p| {
                let n = p.rsplit('/').next().unwrap_or(p);
                n.starts_with(pre) && n.ends_with(suf) && n.len() >= pre.len() + suf.len()
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_shells_and_autologins() {
        let c = |line: &str| shell::commands(line, &Default::default()).remove(0);
        assert!(console_shell(&c("/bin/sh")));
        assert!(console_shell(&c("/sbin/getty -n -l /bin/ash 115200 ttyS0")));
        assert!(console_shell(&c("/sbin/agetty --autologin root ttyS0")));
        assert!(!console_shell(&c("/sbin/getty -L ttyS0 115200 vt100")));
    }
}
