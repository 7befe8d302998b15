//! Just enough shell to find which programs a boot script or command line
//! runs and with which arguments: lines are cut into simple commands at
//! `;`, `&&`, `||`, `|` and `&`, words are split with quotes respected,
//! `VAR=value` assignments earlier in the same script are substituted, and
//! wrappers (`exec`, `nohup`, `busybox`, `start-stop-daemon --exec`,
//! `procd_set_param command`, ...) are looked through. No evaluation.

use std::collections::HashMap;

/// One simple command: the program's file name and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// Base name of the program (`telnetd` for `/usr/sbin/telnetd`).
    pub program: String,
    pub args: Vec<String>,
}

/// Words of `text` with quotes removed (no expansion).
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut started = false;
    for c in text.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                started = true;
            }
            (None, c) if c.is_whitespace() => {
                if started || !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
                started = false;
            }
            (None, c) => word.push(c),
        }
    }
    if started || !word.is_empty() {
        out.push(word);
    }
    out
}

/// The simple commands of one line (comments already removed).
pub fn commands(line: &str, vars: &HashMap<String, String>) -> Vec<Command> {
    let line = substitute(line, vars);
    let mut out = Vec::new();
    for part in split_operators(&line) {
        let mut w = words(&part);
        // Leading keywords, redirections, assignments and wrappers.
        while let Some(first) = w.first().map(String::as_str) {
            let is_assign =
                first.contains('=') && !first.starts_with('-') && !first.starts_with('/');
            match first {
                "if" | "then" | "else" | "elif" | "do" | "while" | "until" | "!" | "{" | "("
                | "exec" | "nohup" | "busybox" | "sudo" | "setsid" | "nice" | "command"
                | "time" | "env" => {
                    w.remove(0);
                }
                "procd_set_param" | "procd_append_param"
                    if w.get(1).is_some_and(|x| x == "command") =>
                {
                    w.drain(..2);
                }
                "service_start" => {
                    w.remove(0);
                }
                "start-stop-daemon" => {
                    if w.iter().any(|a| a == "--stop" || a == "-K") {
                        w.clear();
                        break;
                    }
                    let exec = w
                        .iter()
                        .position(|a| matches!(a.as_str(), "--exec" | "-x" | "--startas" | "-a"));
                    let tail = w.iter().position(|a| a == "--");
                    let mut rest: Vec<String> = match exec {
                        Some(i) => w
                            .get(i + 1..i + 2)
                            .map(<[String]>::to_vec)
                            .unwrap_or_default(),
                        None => Vec::new(),
                    };
                    if let Some(t) = tail {
                        rest.extend(w[t + 1..].iter().cloned());
                    }
                    w = rest;
                    break;
                }
                _ if is_assign => {
                    w.remove(0);
                }
                _ => break,
            }
        }
        let Some(first) = w.first() else { continue };
        let program = first.rsplit('/').next().unwrap_or(first).to_string();
        if program.is_empty() || program.starts_with('$') {
            continue;
        }
        out.push(Command {
            program,
            args: w[1..].to_vec(),
        });
    }
    out
}

/// `VAR=value` assignments of a script (the last one wins), for substitution.
pub fn assignments(lines: &[(usize, &str)]) -> HashMap<String, String> {
    let mut vars = HashMap::new();
    for (_, line) in lines {
        let l = line
            .trim()
            .trim_start_matches("export ")
            .trim_start_matches("local ");
        if let Some((name, value)) = l.split_once('=')
            && !name.is_empty()
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !value.contains("$(")
            && !value.contains('`')
        {
            let value = words(value).join(" ");
            vars.insert(name.to_string(), value);
        }
    }
    vars
}

fn substitute(line: &str, vars: &HashMap<String, String>) -> String {
    if !line.contains('$') {
        return line.to_string();
    }
    let mut out = line.to_string();
    for (name, value) in vars {
        out = out
            .replace(&format!("${{{name}}}"), value)
            .replace(&format!("${name} "), &format!("{value} "));
        if out.ends_with(&format!("${name}")) {
            let cut = out.len() - name.len() - 1;
            out.truncate(cut);
            out.push_str(value);
        }
        out = out.replace(&format!("\"${name}\""), value);
    }
    out
}

/// Cuts at `;`, `&&`, `||`, `|` and `&` outside quotes.
fn split_operators(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => {
                quote = None;
                cur.push(c);
            }
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                cur.push(c);
            }
            (None, ';' | '|' | '&') => {
                if matches!(chars.peek(), Some('|' | '&')) {
                    chars.next();
                }
                out.push(std::mem::take(&mut cur));
            }
            (None, c) => cur.push(c),
        }
    }
    out.push(cur);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progs(line: &str) -> Vec<(String, Vec<String>)> {
        commands(line, &HashMap::new())
            .into_iter()
            .map(|c| (c.program, c.args))
            .collect()
    }

    #[test]
    fn finds_programs_in_command_position() {
        assert_eq!(
            progs("[ -x /usr/sbin/telnetd ] && /usr/sbin/telnetd -l /bin/login &"),
            vec![
                (
                    "[".into(),
                    vec!["-x".into(), "/usr/sbin/telnetd".into(), "]".into()]
                ),
                ("telnetd".into(), vec!["-l".into(), "/bin/login".into()])
            ]
        );
        assert_eq!(progs("echo 'starting telnetd; now'")[0].0, "echo");
        assert_eq!(progs("busybox telnetd -F")[0].0, "telnetd");
        assert_eq!(
            progs("procd_set_param command /usr/sbin/telnetd -F -l /bin/login.sh")[0].0,
            "telnetd"
        );
        assert_eq!(
            progs("start-stop-daemon --start --quiet --exec /usr/sbin/in.tftpd -- --listen")[0],
            ("in.tftpd".to_string(), vec!["--listen".to_string()])
        );
    }

    #[test]
    fn variables_of_the_script_are_substituted() {
        let lines = [(1, "DAEMON=/usr/sbin/utelnetd"), (2, "ARGS=\"-p 23\"")];
        let vars = assignments(&lines);
        let c = commands("$DAEMON $ARGS", &vars);
        assert_eq!(c[0].program, "utelnetd");
        assert_eq!(c[0].args, vec!["-p", "23"]);
    }
}
