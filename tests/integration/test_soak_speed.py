"""The soak's speed arithmetic (tests/chaos/soak_speed.py, issue 17 item 8): percentiles from
due times, achieved rates, histogram deltas and the verdict. No services."""
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "chaos"))

import soak_speed as sp  # noqa: E402


def recs(rate, seconds, lat, status=200, start=0.0):
    """rate requests/s due from start for seconds, each answered in lat s."""
    n = int(rate * seconds)
    return [(start + k / rate, lat(k) if callable(lat) else lat, 0.0, status, 0) for k in range(n)]


def test_quantile_nearest_rank():
    v = list(range(1, 101))
    assert sp.quantile(v, 0.5) == 50
    assert sp.quantile(v, 0.99) == 99
    assert sp.quantile(v, 1.0) == 100
    assert sp.quantile([], 0.5) is None


def test_client_window_counts_from_due_time_and_completion():
    r = recs(50, 60, 0.004)
    w = sp.client_window(r, 0, 60)
    assert w["due"] == 3000 and w["p50_ms"] == 4.0 and w["errors"] == 0
    assert 49.5 <= w["rate"] <= 50.0
    # a stall: everything due in the first 10 s is answered only at 10 s (its latency grows
    # with how early it was due) -- the p99 says so, the rate of [0, 10) is 0
    stalled = [(d, (10.0 - d) if d < 10 else 0.004, 0.0, 200, 0) for d, *_ in r]
    assert sp.client_window(stalled, 0, 10)["rate"] == 0
    assert sp.client_window(stalled, 0, 60)["p99_ms"] > 5000
    errs = [(0.0, 0.1, 0.0, None, 0), (0.1, 0.1, 0.0, 500, 0), (0.2, 0.1, 0.0, 503, 0), (0.3, 0.1, 0.0, 404, 0)]
    assert sp.client_window(errs, 0, 1)["errors"] == 2


def test_hist_quantile_interpolates_like_prometheus():
    b = {0.001: 0, 0.005: 50, 0.01: 90, 0.025: 100, math.inf: 100}
    assert math.isclose(sp.hist_quantile(b, 0.5), 0.005)
    assert math.isclose(sp.hist_quantile(b, 0.99), 0.01 + 0.015 * 0.9)
    assert sp.hist_quantile({0.1: 0, math.inf: 5}, 0.5) == 0.1  # in +Inf: the highest finite bound
    assert sp.hist_quantile({}, 0.5) is None


def test_scrape_text_and_minute_delta():
    text = ('aimem_http_request_duration_seconds_bucket{route="v3_context",le="0.005"} 10\n'
            'aimem_http_request_duration_seconds_bucket{route="v3_context",le="+Inf"} 12\n'
            'aimem_http_request_duration_seconds_bucket{route="metrics",le="0.005"} 99\n'
            'aimem_http_request_duration_seconds_bucket{route="metrics",le="+Inf"} 99\n'
            'aimem_query_db_seconds_bucket{le="0.005"} 7\naimem_query_db_seconds_bucket{le="+Inf"} 8\n'
            'process_cpu_seconds_total 3.5\n')
    got = sp.parse_metrics(text)
    assert got["http"] == {0.005: 10, math.inf: 12} and got["db"] == {0.005: 7, math.inf: 8} and got["cpu_s"] == 3.5
    assert got["routes"] == {"v3_context": {0.005: 10, math.inf: 12}}
    before = {"http": {0.005: 4, math.inf: 4}, "db": {0.005: 2, math.inf: 2}, "cpu_s": 1.0}
    m = sp.server_minute(got, before)
    assert m["n"] == 8 and m["cpu_s"] == 2.5 and m["p99_ms"] == 5.0
    assert m["routes"]["v3_context"][0] == 12  # no route in `before`: the whole count


def test_verdict_passes_a_steady_run_and_fails_a_slower_or_thinner_one():
    steady = recs(50, 360, 0.010)
    fig, failures = sp.verdict(steady, 360, 50)
    assert failures == [] and fig["window_s"] == 120
    slower = recs(50, 360, lambda k: 0.010 if k < 50 * 240 else 0.016)
    assert any("p99" in f for f in sp.verdict(slower, 360, 50)[1])
    assert sp.verdict(recs(50, 360, lambda k: 0.010 if k < 50 * 240 else 0.014), 360, 50)[1] == []
    thin = recs(50, 240, 0.010) + recs(40, 120, 0.010, start=240.0)  # the last third at 80%
    assert [f for f in sp.verdict(thin, 360, 50)[1] if "rate" in f and "last" in f]
    assert sp.windows(1800) == ((0.0, 600.0), (1200.0, 1800.0))
    assert sp.windows(3600) == ((0.0, 600.0), (3000.0, 3600.0))


def test_outside_drops_requests_of_a_stop_and_its_grace():
    r = recs(10, 60, 0.01)
    kept = sp.outside(r, [(10.0, 20.0)], grace=5.0)
    assert len(kept) == len(r) - 151 and not [x for x in kept if 10.0 <= x[0] <= 25.0]
