"""The short chaos run of issue 8 inside `make test` (tests/chaos/driver.py; `make chaos` is the
full one): 2 summarizers and 2 personality workers under a supervisor, SIGKILLs at random
moments (some inside COMMIT), PostgreSQL crash-stops, a Kafka restart and a paused worker whose
late batch must be fenced, on services of its own (stopping them disturbs no other test).
Pass: lost = dup = xtenant = 0, offsets = watermarks, every daemon alive, lag 0 within 60 s."""
import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests/chaos"))

import driver  # noqa: E402


def test_short_chaos_run_loses_and_duplicates_nothing(tmp_path, monkeypatch):
    for k in list(os.environ):  # make test is the short run whatever make chaos's settings say
        if k.startswith("AIMEM_CHAOS_"):
            monkeypatch.delenv(k)
    p = driver.chaos_params(short=True)
    ok, fig = driver.run_chaos(p, str(tmp_path))
    print("chaos: " + json.dumps({k: v for k, v in fig.items() if k != "failures"}))
    assert ok, "\n".join(fig["failures"]) + f"\nlogs in {tmp_path}/logs"
    assert fig["kills_in_commit"] == p["commit_kills"] and fig["fenced_messages"] >= 1
