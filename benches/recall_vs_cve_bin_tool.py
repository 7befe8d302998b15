"""Recall of fwaudit and of cve-bin-tool on the products both know.

Ground truth is tests/fixtures/accuracy.tsv: (file, product, upstream version)
for real binaries from Debian packages and PyPI wheels, fetched into a cache
by tests/fixtures/fetch-accuracy.sh. A row is *shared* when one of
cve-bin-tool's checkers covers the row's product, judged by the CPE product
names in src/identify/signatures.toml against each checker's VENDOR_PRODUCT.

For every shared row each tool is asked about the same file (a wheel is
unzipped and each member scanned, since cve-bin-tool's VersionScanner takes
plain files); a row counts as found when the tool reports that product with
exactly that version. Reports of a shared product in a row's file with
another version count as wrong.

Usage: PYTHON-WITH-CVE-BIN-TOOL benches/recall_vs_cve_bin_tool.py FWAUDIT-BIN [CACHE]
"""
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
import tomllib
import zipfile

from cve_bin_tool.version_scanner import BUILTIN_CHECKERS, VersionScanner

REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
fwaudit = sys.argv[1]
cache = sys.argv[2] if len(sys.argv) > 2 else os.environ.get(
    "FWAUDIT_ACCURACY_CACHE", "/var/cache/fwaudit-accuracy")
files_root = os.path.join(cache, "files")

with open(os.path.join(REPO, "src/identify/signatures.toml"), "rb") as f:
    catalog = tomllib.load(f)
# fwaudit product name -> CPE product names it answers to.
cpe_products = {}
for p in catalog["product"]:
    names = {c.split(":")[1] for c in p.get("cpe", [])}
    cpe_products[p["name"]] = names or {p["name"]}

logging.disable(logging.ERROR)  # the sqlite checker's failed download
checkers = {}
for c in BUILTIN_CHECKERS.values():
    try:
        checkers[c.name] = c.load()
    except Exception:
        pass  # the sqlite checker fetches its version map from the network
checked_products = {vp.product for c in checkers.values() for vp in c.VENDOR_PRODUCT}

rows = []
with open(os.path.join(REPO, "tests/fixtures/accuracy.tsv")) as f:
    for line in f:
        if line.startswith("#") or not line.strip():
            continue
        file, product, version = line.rstrip("\n").split("\t")[:3]
        rows.append((file, product, version))
shared = [r for r in rows if cpe_products.get(r[1], {r[1]}) & checked_products]

scanner = VersionScanner(should_extract=False, checkers=checkers)
# cve-bin-tool logs every file at INFO on stdout.
logging.disable(logging.WARNING)
scanner.cve_db = None


def cve_bin_tool_pairs(path):
    """(cpe product, version) pairs cve-bin-tool reports for one file."""
    found = set()
    members = [path]
    tmp = None
    if path.endswith(".whl"):
        tmp = tempfile.TemporaryDirectory()
        zipfile.ZipFile(path).extractall(tmp.name)
        members = [os.path.join(d, n) for d, _, ns in os.walk(tmp.name) for n in ns]
    for m in members:
        try:
            for info in scanner.scan_file(m):
                if info:
                    found.add((info.product_info.product, info.product_info.version))
        except Exception:
            pass
    if tmp:
        tmp.cleanup()
    return found


def fwaudit_pairs(path):
    """(product, version) pairs of fwaudit's signature components for one file."""
    out = subprocess.run([fwaudit, "scan", path, "--format", "json"],
                         capture_output=True, check=False).stdout
    report = json.loads(out)
    return {(c["name"], c["version"]) for c in report["components"]
            if c["ecosystem"] == "generic"}


by_file = {}
for r in shared:
    by_file.setdefault(r[0], []).append(r)
times = {"cve-bin-tool": 0.0, "fwaudit": 0.0}
hits = {"cve-bin-tool": 0, "fwaudit": 0}
wrong = {"cve-bin-tool": 0, "fwaudit": 0}
missed = {"cve-bin-tool": [], "fwaudit": []}
for file, file_rows in sorted(by_file.items()):
    path = os.path.join(files_root, file)
    if not os.path.isfile(path):
        sys.exit(f"{path} missing: run tests/fixtures/fetch-accuracy.sh")
    start = time.time()
    cbt = cve_bin_tool_pairs(path)
    times["cve-bin-tool"] += time.time() - start
    start = time.time()
    fw = fwaudit_pairs(path)
    times["fwaudit"] += time.time() - start
    for _, product, version in file_rows:
        names = cpe_products.get(product, {product})
        for tool, found, match in (
            ("cve-bin-tool", cbt, lambda p: p in names),
            ("fwaudit", fw, lambda p: p == product),
        ):
            versions = {v for p, v in found if match(p)}
            if version in versions:
                hits[tool] += 1
            else:
                missed[tool].append(f"{file}: {product} {version} (reported: {sorted(versions) or '-'})")
            wrong[tool] += len(versions - {version})

products = sorted({r[1] for r in shared})
print(f"rows: {len(rows)}; shared with cve-bin-tool's {len(checkers)} checkers: "
      f"{len(shared)} rows, {len(by_file)} files, {len(products)} products")
print("| tool | recall on shared rows | other versions reported | time over those files |")
print("|---|---:|---:|---:|")
for tool in ("fwaudit", "cve-bin-tool"):
    print(f"| {tool} | {hits[tool]}/{len(shared)} ({100 * hits[tool] / len(shared):.1f} %) "
          f"| {wrong[tool]} | {times[tool]:.1f} s |")
for tool in ("fwaudit", "cve-bin-tool"):
    print(f"\n{tool} missed {len(missed[tool])}:")
    for m in missed[tool]:
        print("  " + m)
print("\nshared products: " + ", ".join(products))
