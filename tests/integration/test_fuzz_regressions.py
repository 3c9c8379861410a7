"""Replays every fuzz target's seeds and kept crashers (tests/fuzz/regressions/<target>/).

The targets are built by the ordinary build with tests/fuzz/replay.c as main (so this runs
plain and under SANITIZE=address,undefined); no services are needed.
"""
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("AIMEM_BUILD", REPO / "build"))
TARGETS = sorted(p.stem for p in (REPO / "tests/fuzz").glob("fuzz_*.c"))


@pytest.mark.parametrize("target", TARGETS)
def test_fuzz_replay(target):
    exe = BUILD / "tests/fuzz" / target
    assert exe.exists(), f"{exe} not built (make all builds it)"
    dirs = [REPO / "tests/fuzz/seeds" / target, REPO / "tests/fuzz/regressions" / target]
    proc = subprocess.run([str(exe), *map(str, dirs)], capture_output=True, text=True,
                          timeout=300, errors="replace", cwd=REPO)
    assert proc.returncode == 0, f"{target} crashed on a kept input:\n{proc.stderr[-4000:]}"
    assert proc.stdout.strip().endswith("inputs"), proc.stdout
