//! Where fwaudit keeps its advisory store (and later the fleet store):
//! `--data-dir`, else `$FWAUDIT_HOME`, else `$XDG_DATA_HOME/fwaudit`, else
//! `~/.local/share/fwaudit`.

use std::path::PathBuf;

pub fn resolve(flag: Option<PathBuf>) -> Result<PathBuf, String> {
    if let Some(dir) = flag {
        return Ok(dir);
    }
    let env = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(home) = env("FWAUDIT_HOME") {
        return Ok(home);
    }
    if let Some(xdg) = env("XDG_DATA_HOME") {
        return Ok(xdg.join("fwaudit"));
    }
    env("HOME")
        .map(|h| h.join(".local/share/fwaudit"))
        .ok_or_else(|| "no data directory: pass --data-dir or set FWAUDIT_HOME".to_string())
}
