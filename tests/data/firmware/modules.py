"""Lists the executable modules of a UEFI image as uefi-firmware-parser
(PyPI uefi_firmware 1.16) reads it: one line per FFS file that holds a PE32
or TE section, its user-interface name (its GUID when it has none), sorted.
The expected side of tests/firmware_formats.rs, from a reader independent of fwaudit.
Usage: python3 modules.py IMAGE > IMAGE.modules.txt"""
import re
import subprocess
import sys

out = subprocess.run(["uefi-firmware-parser", "-b", sys.argv[1]], capture_output=True, text=True, check=True).stdout
modules, current = [], None


def close():
    if current and current["exe"]:
        modules.append(current["name"] or current["guid"])


for line in out.splitlines():
    m = re.match(r"\s*File \d+: ([0-9a-f-]{36})", line)
    if m:
        close()
        current = {"guid": m.group(1), "name": None, "exe": False}
        continue
    if current is None:
        continue
    if re.search(r"Section \d+: type 0x1[02],", line):
        current["exe"] = True
    m = re.match(r"\s*Name: (.*)$", line)
    if m and current["name"] is None:
        current["name"] = m.group(1).strip()
close()
print("\n".join(sorted(modules)))
