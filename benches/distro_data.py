#!/usr/bin/env python3
"""Time cost of distribution fix data at the Debian tracker's full size.

The real document (security-tracker.debian.org/tracker/data/json) is not
reachable from this machine, so this writes one of the same shape and size:
every source package of the Debian 12 archive's Sources index (or, without
it, synthetic names), each with a Poisson-like number of CVE entries, each
entry with five releases (buster, bullseye, bookworm, trixie, sid) in the
tracker's field layout and mix of statuses. The packages of the
tests/data Debian 12 fixture are included with their real entries
(tests/data/debian12-tracker.json), so the scan has real work to do.

Then it measures, with the release binary:
  1. `db import` of the document (parse, split per release, write files),
  2. `scan` of tests/data/debian12-rootfs.tar.xz with and without the data,
and prints a table. Usage: python3 benches/distro_data.py [SOURCES_FILE]
"""
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile

repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
binary = os.path.join(repo, "target/release/fwaudit")
rng = random.Random(12)

names = []
if len(sys.argv) > 1:
    for line in open(sys.argv[1], errors="replace"):
        if line.startswith("Package: "):
            names.append(line.split()[1])
names = sorted(set(names)) or [f"pkg{i}" for i in range(6000)]
releases = ["buster", "bullseye", "bookworm", "trixie", "sid"]
urgencies = ["low", "medium", "high", "unimportant", "not yet assigned", "low**", "medium**"]
doc = json.load(open(os.path.join(repo, "tests/data/debian12-tracker.json")))
cve = 0
for name in names:
    if name in doc:
        continue
    # About a quarter of source packages have tracker entries, a dozen on
    # average with a long tail (the real document is 70-odd MB).
    if rng.random() > 0.23:
        continue
    n = min(1 + int(rng.expovariate(1 / 12)), 900)
    entries = {}
    for _ in range(n):
        cve += 1
        rel = {}
        for r in releases:
            roll = rng.random()
            if roll < 0.70:
                rel[r] = {"status": "resolved", "repositories": {r: "1.2.3-4"},
                          "fixed_version": rng.choice(["0", "1.2.3-2", "1.2.3-4+deb12u1"]),
                          "urgency": rng.choice(urgencies)}
            elif roll < 0.95:
                rel[r] = {"status": "open", "repositories": {r: "1.2.3-4"},
                          "urgency": rng.choice(urgencies)}
                if rng.random() < 0.5:
                    rel[r]["nodsa"] = "Minor issue"
                    rel[r]["nodsa_reason"] = rng.choice(["postponed", "ignored", ""])
            else:
                rel[r] = {"status": "undetermined", "repositories": {r: "1.2.3-4"},
                          "urgency": "not yet assigned"}
        entries[f"CVE-{2000 + cve % 26}-{10000 + cve}"] = {
            "scope": "remote",
            "description": "A flaw was found in the " + name + " parser " + "x" * rng.randint(40, 260),
            "releases": rel,
        }
    if entries:
        doc[name] = entries

with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "json")
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
    size = os.path.getsize(path)
    entries = sum(len(v) for v in doc.values())
    home = os.path.join(tmp, "home")

    def cpu():
        r = resource.getrusage(resource.RUSAGE_CHILDREN)
        return r.ru_utime + r.ru_stime

    def run(args, data_dir=None):
        # CPU time (user + system) of the child: steadier than wall time
        # on a machine other work shares.
        c = cpu()
        subprocess.run([binary, "--data-dir", data_dir or home] + args, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return cpu() - c

    imports = [run(["db", "import", path]) for _ in range(3)]
    feeds = os.path.join(home, "distro")
    stored = {f: os.path.getsize(os.path.join(feeds, f)) for f in sorted(os.listdir(feeds))}
    target = os.path.join(repo, "tests/data/debian12-rootfs.tar.xz")
    with_data = [run(["scan", target, "--format", "json"]) for _ in range(7)]
    empty = os.path.join(tmp, "empty")
    without = [run(["scan", target, "--format", "json"], empty) for _ in range(7)]
    load = open("/proc/loadavg").read().split()[:3]
    print(f"document: {size / 1e6:.1f} MB, {len(doc)} source packages, {entries} CVE entries, 5 releases each")
    print(f"load average before/after: {' '.join(load)}")
    print("| measure (CPU time, user + system) | median of runs | runs |")
    print("|---|---:|---|")
    print(f"| `db import` (parse, split per release, write) | {statistics.median(imports):.2f} s | {', '.join(f'{x:.2f}' for x in imports)} |")
    print(f"| `scan` Debian 12 rootfs, no distro data | {statistics.median(without):.3f} s | {', '.join(f'{x:.3f}' for x in without)} |")
    print(f"| `scan` Debian 12 rootfs, with the tracker's Debian 12 feed | {statistics.median(with_data):.3f} s | {', '.join(f'{x:.3f}' for x in with_data)} |")
    for name, b in stored.items():
        print(f"stored {name}: {b / 1e6:.1f} MB")
