"""`make demo-check`: scripts/demo.sh --check starts its own PostgreSQL and Kafka in a temporary
folder (free ports, never the session's services), runs the five programs, publishes the sample
through aimem-ingest, and exits 0 only when the known caller's context came back right and every
program exited 0 on SIGTERM."""
import os
import subprocess
import time

from conftest import BUILD, REPO


def test_demo_check(tmp_path):
    folder = tmp_path / "demo"
    env = dict(os.environ, AIMEM_BUILD=str(BUILD))
    t0 = time.monotonic()
    proc = subprocess.run([str(REPO / "scripts/demo.sh"), "--check", "--no-setup", "--dir", str(folder)],
                          capture_output=True, text=True, errors="replace", timeout=180, env=env)
    took = time.monotonic() - t0
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "demo-check: ok: caller 4155550100 of tenant 101 is Kelly Nguyen with 5 summaries" in out, out
    assert "every program exited 0" in out, out
    assert took < 120, f"demo-check took {took:.0f}s"
    for name in ("aimem-ingest", "aimem-query", "aimem-summarizer", "aimem-personality", "aimem-memories"):
        assert (folder / f"{name}.log").exists()
    assert "running" not in subprocess.run([str(REPO / "scripts/dev"), "status", "--dir", str(folder)],
                                           capture_output=True, text=True).stdout
