#!/usr/bin/env python3
"""Import cycles between sibling modules of the library (src/, lib.rs root).

Every `crate::`, `super::` and `self::` path in a file (in `use` items,
braces expanded, and in expressions) is an edge from the file's module to
the deepest module the path names. An edge A -> B counts between the two
children of their nearest common ancestor that contain A and B (so
`analyze::triage` -> `model` is `analyze` -> `model`); a module using its
own parent or child is not a cycle. Prints every strongly connected group
of two or more siblings and exits 1 when there is one.

Usage: .ci/module_cycles.py [SRC_DIR]   (default: src)
"""

import re
import sys
from pathlib import Path

SRC = Path(sys.argv[1] if len(sys.argv) > 1 else "src")
# The binary's files are not part of the library's module tree.
BIN_ONLY = {"main.rs", "cli.rs", "fleet_cli.rs", "service_cli.rs"}


def module_of(path: Path) -> tuple:
    rel = path.relative_to(SRC).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] in ("mod", "lib"):
        parts.pop()
    return tuple(parts)


def strip_comments(text: str) -> str:
    """Comments, string contents and unit tests (a `#[cfg(test)] mod`
    block, which by custom ends the file) do not count."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    text = re.sub(r"//[^\n]*", "", text)
    test = re.search(r"#\[cfg\(test\)\]\s*(pub(\(\w+\))?\s+)?mod\s+\w+\s*\{", text)
    return text[: test.start()] if test else text


def expand(tree: str) -> list:
    """`a::{b, c::{d, e}}` -> [a::b, a::c::d, a::c::e]."""
    tree = tree.strip()
    i = tree.find("{")
    if i < 0:
        return [tree]
    prefix, inner = tree[:i], tree[i + 1 : tree.rfind("}")]
    items, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "," and depth == 0:
            items.append(cur)
            cur = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        cur += ch
    items.append(cur)
    return [p for item in items if item.strip() for p in expand(prefix + item.strip())]


def resolve(here: tuple, path: str, modules: set):
    segs = [s.split(" as ")[0].strip() for s in path.split("::")]
    if segs[0] == "crate":
        base, segs = [], segs[1:]
    elif segs[0] in ("super", "self"):
        base = list(here)
        while segs and segs[0] in ("super", "self"):
            if segs.pop(0) == "super":
                base = base[:-1]
    else:
        return None
    best = tuple(base)
    for s in segs:
        cand = best + (s,)
        if cand in modules:
            best = cand
        else:
            break
    return best


def main() -> int:
    files = {
        module_of(p): p
        for p in SRC.rglob("*.rs")
        if p.relative_to(SRC).as_posix() not in BIN_ONLY
    }
    modules = set(files)
    edges = {}
    for mod, path in files.items():
        text = strip_comments(path.read_text(errors="replace"))
        paths = []
        for m in re.finditer(r"\buse\s+([^;]+);", text):
            paths += expand(re.sub(r"\s+", " ", m.group(1)))
        paths += re.findall(r"\b(?:crate|super|self)(?:::\w+)+", text)
        for p in paths:
            target = resolve(mod, p, modules)
            if target is None or target == mod:
                continue
            n = 0
            while n < min(len(mod), len(target)) and mod[n] == target[n]:
                n += 1
            if n == len(mod) or n == len(target):
                continue  # parent and child
            a, b = mod[: n + 1], target[: n + 1]
            edges.setdefault(a, set()).add(b)
    # Tarjan's strongly connected components.
    index, low, stack, on, groups = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    sys.setrecursionlimit(10000)
    for v in sorted(set(edges) | {w for ws in edges.values() for w in ws}):
        if v not in index:
            visit(v)
    count = sum(len(v) for v in edges.values())
    print(f"{len(files)} modules, {count} edges between siblings")
    for g in groups:
        names = ["::".join(m) for m in g]
        print("cycle:", " <-> ".join(names))
        for a in g:
            for b in sorted(edges.get(a, ())):
                if b in g:
                    print(f"  {'::'.join(a)} -> {'::'.join(b)}")
    return 1 if groups else 0


if __name__ == "__main__":
    sys.exit(main())
