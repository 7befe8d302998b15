//! Go modules: `go.mod` `require` directives (single and block form, with
//! `// indirect` marking transitive ones) after `replace` directives; the
//! `go.sum` beside it must list each module, else the module graph was not
//! tidy and the list may be incomplete (an error note; modules still listed).

use super::{Input, Package, Parsed};
use crate::model::Component;
use std::collections::HashMap;

struct Require {
    line: usize,
    module: String,
    version: String,
    indirect: bool,
}

/// Modules required by the go.mod `input`.
pub fn parse(input: &Input) -> Result<Parsed, String> {
    let text = input.text()?;
    let mut requires = Vec::new();
    let mut replaces: HashMap<String, (String, String)> = HashMap::new();
    let mut block: Option<&str> = None;
    for (n, raw) in text.lines().enumerate() {
        let line_no = n + 1;
        let (code, comment) = match raw.split_once("//") {
            Some((c, comment)) => (c.trim(), comment.trim()),
            None => (raw.trim(), ""),
        };
        if code.is_empty() {
            continue;
        }
        let (directive, args) = match block {
            Some(_) if code == ")" => {
                block = None;
                continue;
            }
            Some(d) => (d, code),
            None => {
                let (d, rest) = code.split_once(char::is_whitespace).unwrap_or((code, ""));
                let rest = rest.trim();
                if rest == "(" {
                    block = Some(match d {
                        "require" => "require",
                        "replace" => "replace",
                        _ => "other",
                    });
                    continue;
                }
                (d, rest)
            }
        };
        let words: Vec<&str> = args.split_whitespace().collect();
        match directive {
            "require" => {
                let [module, version] = words[..] else {
                    return Err(format!("line {line_no}: expected `require MODULE VERSION`"));
                };
                requires.push(Require {
                    line: line_no,
                    module: module.to_string(),
                    version: version.to_string(),
                    indirect: comment == "indirect",
                });
            }
            "replace" => {
                // `old [v] => new v`; a local path replacement has no version.
                let Some(arrow) = words.iter().position(|w| *w == "=>") else {
                    return Err(format!("line {line_no}: `replace` without `=>`"));
                };
                if let (Some(old), [new, version]) = (words.first(), &words[arrow + 1..]) {
                    replaces.insert(old.to_string(), (new.to_string(), version.to_string()));
                }
            }
            _ => {}
        }
    }
    if block.is_some() {
        return Err(format!(
            "line {}: unterminated `(` block",
            text.lines().count()
        ));
    }
    let sum = input
        .sibling(&format!("{}go.sum", input.dir()))
        .map(|s| String::from_utf8_lossy(s).into_owned());
    let mut missing = Vec::new();
    let out: Vec<Component> = requires
        .into_iter()
        .map(|r| {
            let (module, version) = replaces
                .get(&r.module)
                .cloned()
                .unwrap_or((r.module, r.version));
            if let Some(sum) = &sum
                && !sum.lines().any(|l| {
                    l.starts_with(&format!("{module} {version}/go.mod"))
                        || l.starts_with(&format!("{module} {version} "))
                })
            {
                missing.push(format!("{module}@{version}"));
            }
            let mut c = Package {
                purl: crate::purl::golang(&module, &version),
                name: module,
                version,
                ecosystem: "golang",
                osv: "Go",
                method: "go-mod",
                path: input.path,
                line: r.line,
            }
            .component();
            c.dependency = Some(if r.indirect { "transitive" } else { "direct" }.to_string());
            c
        })
        .collect();
    let mut parsed = Parsed::from(out);
    if !missing.is_empty() {
        parsed.errors.push(format!(
            "line 1: go.sum does not list {} (run `go mod tidy`)",
            missing.join(", ")
        ));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(gomod: &str, gosum: Option<&str>) -> Result<Vec<String>, String> {
        let lookup = |p: &str| {
            if p == "/src/go.sum" {
                gosum.map(str::as_bytes)
            } else {
                None
            }
        };
        let input = Input {
            path: "t/src/go.mod",
            fs_path: "/src/go.mod",
            data: gomod.as_bytes(),
            siblings: &lookup,
            distro: None,
        };
        let parsed = parse(&input)?;
        if let Some(e) = parsed.errors.first() {
            return Err(e.clone());
        }
        Ok(parsed
            .components
            .iter()
            .map(|c| format!("{} {}", c.purl, c.dependency.as_deref().unwrap_or("-")))
            .collect())
    }

    #[test]
    fn requires_replaces_and_indirect() {
        let gomod = "module example.com/app\n\ngo 1.21\n\nrequire golang.org/x/text v0.3.7\n\
                     require (\n\tgithub.com/gin-gonic/gin v1.9.0 // indirect\n\tgithub.com/old/x v1.0.0\n)\n\
                     replace github.com/old/x => github.com/new/x v1.0.1\n";
        let sum = "golang.org/x/text v0.3.7 h1:a=\ngithub.com/gin-gonic/gin v1.9.0/go.mod h1:b=\ngithub.com/new/x v1.0.1 h1:c=\n";
        assert_eq!(
            run(gomod, Some(sum)).unwrap(),
            vec![
                "pkg:golang/golang.org/x/text@v0.3.7 direct",
                "pkg:golang/github.com/gin-gonic/gin@v1.9.0 transitive",
                "pkg:golang/github.com/new/x@v1.0.1 direct",
            ]
        );
        assert_eq!(
            run(gomod, Some("")).unwrap_err(),
            "line 1: go.sum does not list golang.org/x/text@v0.3.7, github.com/gin-gonic/gin@v1.9.0, github.com/new/x@v1.0.1 (run `go mod tidy`)"
        );
        assert_eq!(
            run("require (\nx v1\n", None).unwrap_err(),
            "line 2: unterminated `(` block"
        );
    }
}
