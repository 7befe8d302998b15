"""Times cve-bin-tool's version scanner alone over a directory tree.

`cve-bin-tool --offline` refuses to start without its CVE database (built from
the network), so this drives its VersionScanner directly: the same checkers,
no CVE lookup. The sqlite checker downloads its version map when loaded and
is skipped. Usage: python3 benches/cve_bin_tool_scan.py DIR
"""
import sys, time, os
from cve_bin_tool.version_scanner import VersionScanner
root = sys.argv[1]
start = time.time()
from cve_bin_tool.version_scanner import BUILTIN_CHECKERS
checkers = {}
skipped = []
for c in BUILTIN_CHECKERS.values():
    try:
        checkers[c.name] = c.load()
    except Exception:
        skipped.append(c.name)  # e.g. sqlite fetches its version map from the network
print("checkers", len(checkers), "skipped", skipped)
scanner = VersionScanner(should_extract=False, checkers=checkers)
scanner.cve_db = None
found = set()
n = 0
for dirpath, _, files in os.walk(root):
    for f in files:
        p = os.path.join(dirpath, f)
        if os.path.islink(p) or not os.path.isfile(p):
            continue
        n += 1
        try:
            for scan_info in scanner.scan_file(p):
                if scan_info:
                    found.add((scan_info.product_info.product, scan_info.product_info.version))
        except Exception as e:
            pass
el = time.time() - start
print(f"cve-bin-tool VersionScanner: {n} files in {el:.1f} s, {len(found)} (product, version) pairs")
for x in sorted(found)[:80]: print(" ", x)
