#!/usr/bin/env python3
"""Which kernel configuration options a source file needs, from Kbuild.

Usage: kbuild.py LINUX_SOURCE_DIR > kbuild.tsv

Reads every Makefile and Kbuild file of a Linux source tree and writes one
line per object or directory that a configuration option decides:
`path<TAB>CONFIG_A CONFIG_B`, where `path` is `dir/` for a directory
(`net/netfilter/`) or `dir/name` for an object's source stem
(`net/netfilter/nf_tables_api`). A file is built only when every option of
its own line and of each enclosing directory's line is set (y or m).
Only plain rules are read: `obj-$(CONFIG_X) += a.o dir/`, `obj-y += ...`,
and composite objects (`name-y`, `name-objs`, `name-$(CONFIG_Y)`); rules
inside conditionals (`ifeq`, `ifdef`) are read as if unconditional, which
can only make a file look needed, never absent.
"""
import os
import re
import sys

src = sys.argv[1]
rule = re.compile(r"^([A-Za-z0-9_]+)-(.+?)\s*[:+]?=\s*(.*)$")
option = re.compile(r"CONFIG_([A-Za-z0-9_]+)")
needs = {}  # path -> set of options (dir paths end in '/')


def add(path, opts):
    # An object listed under several options is built when any is set: keep
    # only what every listing needs (the intersection).
    if path in needs:
        needs[path] &= set(opts)
    else:
        needs[path] = set(opts)


for dirpath, _, files in os.walk(src):
    for name in files:
        if name not in ("Makefile", "Kbuild"):
            continue
        rel = os.path.relpath(dirpath, src)
        rel = "" if rel == "." else rel + "/"
        text = open(os.path.join(dirpath, name), errors="replace").read()
        text = re.sub(r"\\\n", " ", text)
        composites = {}  # name -> [(member, opts)]
        lines = [l.split("#", 1)[0].strip() for l in text.splitlines()]
        for line in lines:
            m = rule.match(line)
            if not m:
                continue
            target, kind, items = m.groups()
            found = option.findall(kind)
            if kind in ("y", "m", "objs"):
                opts = []
            elif len(found) == 1:
                # `$(CONFIG_X)`, and `$(subst m,y,$(CONFIG_X))` for a
                # directory entered when the option is y or m.
                opts = [f"CONFIG_{found[0]}"]
            else:
                continue
            for item in items.split():
                if "$" in item:
                    continue
                if target == "obj":
                    if item.endswith("/"):
                        add(rel + item, opts)
                    elif item.endswith(".o"):
                        add(rel + item[:-2], opts)
                else:
                    if item.endswith(".o"):
                        composites.setdefault(target, []).append((item[:-2], opts))
        # A composite's members need the composite's options and their own.
        for comp, members in composites.items():
            own = needs.get(rel + comp)
            if own is None:
                continue
            for member, opts in members:
                if member == comp:
                    continue
                add(rel + member, list(own) + opts)

for path in sorted(needs):
    if needs[path]:
        print(f"{path}\t{' '.join(sorted(needs[path]))}")
