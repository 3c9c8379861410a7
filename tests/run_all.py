#!/usr/bin/env python3
"""`make test`: the C unit tests, then the integration tests, then one summary line.

Exits non-zero if any tier failed. The closing line is "test: N passed, N failed[, N skipped]"
over both tiers, so CI and people read one number.
"""
import argparse
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def unit(build):
    proc = subprocess.run([str(build / "tests/run-unit")], capture_output=True, text=True)
    sys.stdout.write(proc.stdout)
    sys.stdout.write(proc.stderr)
    m = re.search(r"^unit: (\d+) passed, (\d+) failed$", proc.stdout, re.M)
    if not m:
        return 0, 1, 0  # the runner crashed before its summary
    passed, failed = int(m.group(1)), int(m.group(2))
    return passed, failed + (1 if proc.returncode != 0 and failed == 0 else 0), 0


def integration(build, python, extra):
    xml = build / "integration.xml"
    if xml.exists():
        xml.unlink()
    env = dict(os.environ, AIMEM_BUILD=str(build))
    rc = subprocess.call([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfEs",
                          str(REPO / "tests/integration"), f"--junitxml={xml}", *extra], env=env)
    if not xml.exists():
        return 0, 1, 0
    root = ET.parse(xml).getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    total = int(suite.get("tests", 0))
    failed = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
    skipped = int(suite.get("skipped", 0))
    if rc not in (0, 1) and failed == 0:
        failed = 1  # pytest itself failed (usage error, crash, nothing collected)
    return total - failed - skipped, failed, skipped


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--python", default="/usr/bin/python3")
    ap.add_argument("pytest_args", nargs="*")
    args = ap.parse_args()
    build = (REPO / args.build).resolve()
    print("== unit tests", flush=True)
    u = unit(build)
    print("== integration tests (real PostgreSQL and Kafka)", flush=True)
    i = integration(build, args.python, args.pytest_args)
    passed, failed, skipped = (a + b for a, b in zip(u, i))
    print(f"unit: {u[0]} passed, {u[1]} failed; integration: {i[0]} passed, {i[1]} failed, "
          f"{i[2]} skipped")
    line = f"test: {passed} passed, {failed} failed"
    if skipped:
        line += f", {skipped} skipped"
    print(line)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
