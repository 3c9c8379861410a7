"""The soak's speed figures (issue 17 item 8): per-minute client latency and achieved rate,
aimem-query's own histograms per minute, the hot tables' dead tuples and autovacuum runs, the
machine's load, and the verdict (last window's p99 against the first's, achieved rate).

Client records come from soak_load: (due offset s, latency s from the due time, sent late s,
status or None, leaked 0/1).
"""
import math
import os
import re
import urllib.request

# the tables every call rewrites a row of (the soak's callers are few, so each row is rewritten
# many times) and two that only grow, for comparison
HOT_TABLES = ("caller_profiles", "caller_context", "consumer_offsets", "caller_facts",
              "personality_averages", "search_stats", "call_summaries", "search_postings")

BUCKET_RX = re.compile(r'^(aimem_http_request_duration_seconds|aimem_query_db_seconds)_bucket\{(?:route="([^"]*)",)?'
                       r'le="([^"]+)"\} (\d+)$', re.M)
CPU_RX = re.compile(r"^process_cpu_seconds_total (\S+)$", re.M)


def quantile(sorted_values, q):
    """The q-quantile of an ascending list (nearest rank), None when empty."""
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))]


def ms(v):
    return None if v is None else round(v * 1000, 1)


def is_error(status):
    """A connection error or a 5xx other than the 503 documented while PostgreSQL is down."""
    return status is None or (status >= 500 and status != 503)


def client_window(records, a, b):
    """Figures of the requests due in [a, b) s: count, p50/p99 (ms, from the due time), answers
    completed in [a, b) per second (the achieved rate), sent late by > 10 ms, errors."""
    due = sorted(r[1] for r in records if a <= r[0] < b)
    done = sum(1 for r in records if a <= r[0] + r[1] < b)
    return {"due": len(due), "rate": round(done / (b - a), 1) if b > a else None,
            "p50_ms": ms(quantile(due, 0.5)), "p99_ms": ms(quantile(due, 0.99)),
            "late": sum(1 for r in records if a <= r[0] < b and r[2] > 0.010),
            "errors": sum(1 for r in records if a <= r[0] < b and is_error(r[3]))}


def scrape(port, timeout=5.0):
    """aimem-query's /metrics: {"http": {le: count summed over the API routes (not /metrics)},
    "db": {le: count}, "cpu_s": float}; None when it does not answer."""
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=timeout).read().decode()
    except Exception:  # noqa: BLE001 — the caller records the gap
        return None
    return parse_metrics(text)


def parse_metrics(text):
    """The scrape's figures from a /metrics text (see scrape)."""
    out = {"http": {}, "db": {}, "routes": {}, "cpu_s": None}
    for name, route, le, n in BUCKET_RX.findall(text):
        if route == "metrics":
            continue
        le = math.inf if le == "+Inf" else float(le)
        h = out["http" if name.startswith("aimem_http") else "db"]
        h[le] = h.get(le, 0) + int(n)
        if route:
            r = out["routes"].setdefault(route, {})
            r[le] = r.get(le, 0) + int(n)
    m = CPU_RX.search(text)
    out["cpu_s"] = float(m.group(1)) if m else None
    return out


def hist_quantile(buckets, q):
    """Quantile of cumulative buckets {upper bound: count} by linear interpolation inside the
    bucket (as Prometheus' histogram_quantile); a quantile in the +Inf bucket is the highest
    finite bound. None when empty."""
    les = sorted(buckets)
    if not les or buckets[les[-1]] <= 0:
        return None
    rank = q * buckets[les[-1]]
    lo, below = 0.0, 0
    for le in les:
        n = buckets[le]
        if n >= rank:
            if math.isinf(le):
                return lo
            return lo + (le - lo) * ((rank - below) / (n - below) if n > below else 1.0)
        lo, below = (le if not math.isinf(le) else lo), n
    return lo


def hist_delta(now, before):
    if before is None:
        return dict(now)
    return {le: n - before.get(le, 0) for le, n in now.items()}


def server_minute(now, before):
    """Figures of one minute from two scrapes: requests, p50/p99 ms of the HTTP histogram and of
    the database round trip, aimem-query's CPU seconds."""
    if now is None or before is None:
        return None
    h, d = hist_delta(now["http"], before["http"]), hist_delta(now["db"], before["db"])
    cpu = None if now["cpu_s"] is None or before["cpu_s"] is None else round(now["cpu_s"] - before["cpu_s"], 2)
    routes = {}
    for route, b in sorted(now.get("routes", {}).items()):
        rd = hist_delta(b, before.get("routes", {}).get(route))
        routes[route] = [max(rd.values(), default=0), ms(hist_quantile(rd, 0.5)), ms(hist_quantile(rd, 0.99))]
    return {"n": max(h.values(), default=0), "p50_ms": ms(hist_quantile(h, 0.5)), "p99_ms": ms(hist_quantile(h, 0.99)),
            "db_p50_ms": ms(hist_quantile(d, 0.5)), "db_p99_ms": ms(hist_quantile(d, 0.99)), "cpu_s": cpu,
            "routes": routes}


def table_stats(conn):
    """{table: [live, dead, updates, HOT updates, autovacuum runs, total kB]} of HOT_TABLES."""
    with conn.cursor() as cur:
        cur.execute("SELECT relname, n_live_tup, n_dead_tup, n_tup_upd, n_tup_hot_upd, autovacuum_count,"
                    " pg_total_relation_size(relid) / 1024 FROM pg_stat_user_tables"
                    " WHERE relname = ANY(%s) ORDER BY relname", (list(HOT_TABLES),))
        return {r[0]: list(r[1:]) for r in cur.fetchall()}


def cpu_busy():
    """(busy, total) jiffies of the whole machine from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    return sum(v) - idle, sum(v)


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def windows(seconds):
    """The first and the last window the verdict compares: ten minutes each, a third of the run
    when it is shorter than 30 minutes."""
    w = min(600.0, seconds / 3)
    return (0.0, w), (seconds - w, seconds)


def verdict(records, seconds, rps, p99_limit=1.5, rate_floor=0.9):
    """The speed check: the last window's client p99 at most p99_limit times the first's, and the
    achieved rate of the whole run and of each window at least rate_floor of the target.
    Returns (figures, failures)."""
    (a0, a1), (b0, b1) = windows(seconds)
    first, last = client_window(records, a0, a1), client_window(records, b0, b1)
    whole = client_window(records, 0.0, seconds)
    fig = {"window_s": round(a1 - a0), "first": first, "last": last, "whole": whole, "target_rps": rps}
    failures = []
    if first["p99_ms"] is not None and last["p99_ms"] is not None and last["p99_ms"] > p99_limit * first["p99_ms"]:
        failures.append(f"speed: p99 of the last {round(b1 - b0)} s {last['p99_ms']} ms > {p99_limit} x the first's "
                        f"{first['p99_ms']} ms")
    for name, w in (("whole run", whole), ("first window", first), ("last window", last)):
        if w["rate"] is None or w["rate"] < rate_floor * rps:
            failures.append(f"speed: achieved rate of the {name} {w['rate']}/s < {rate_floor:.0%} of {rps}/s")
    return fig, failures


def minute_line(row):
    """One line of a minute's figures for the log."""
    c, sv, t = row["client"], row.get("server"), row.get("tables") or {}
    out = [f"client {c['rate']}/s p50 {c['p50_ms']} p99 {c['p99_ms']} ms (due {c['due']}, late {c['late']}, "
           f"errors {c['errors']})"]
    if sv:
        out.append(f"server p50 {sv['p50_ms']} p99 {sv['p99_ms']} ms, db p50 {sv['db_p50_ms']} p99 {sv['db_p99_ms']} ms, "
                   f"cpu {sv['cpu_s']} s; p50/p99 by route " +
                   " ".join(f"{r}={v[1]}/{v[2]}" for r, v in sv.get("routes", {}).items()))
    out.append(f"load {row['load1']}, machine busy {row['busy_pct']}% (this soak {row.get('soak_cpu_pct')}%, "
               f"others {row.get('others_cpu_pct')}%)" + (f", check {row['check_s']} s" if "check_s" in row else ""))
    if t:
        out.append("dead/live/autovacuum " + " ".join(f"{n}={v[1]}/{v[0]}/{v[4]}" for n, v in t.items()
                                                       if n in ("caller_context", "caller_profiles", "consumer_offsets",
                                                                "personality_averages", "search_stats")))
    return "; ".join(out)


def outside(records, spans, grace=5.0):
    """The records not due inside one of spans [(a, b)] s (PostgreSQL stops) or within grace s
    after one (aimem-query reconnects)."""
    return [r for r in records if not any(a <= r[0] <= b + grace for a, b in spans)]


def window_load(minutes, seconds):
    """Mean 1-minute load average and machine busy % over the minutes of the first and the last
    window (the machine is shared: a slower last window under a higher load says so)."""
    (a0, a1), (b0, b1) = windows(seconds)
    out = {}
    for name, (a, b) in (("first", (a0, a1)), ("last", (b0, b1))):
        rows = [r for r in minutes if a < r["minute"] * 60.0 <= b + 1e-6]
        out[name] = {k: (round(sum(r.get(k) or 0 for r in rows) / len(rows), 1) if rows else None)
                     for k in ("load1", "busy_pct", "soak_cpu_pct", "others_cpu_pct")}
    return out


def proc_cpu(pid):
    """CPU jiffies (user + system) of a process so far, None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
        v = s[s.rindex(")") + 2:].split()
        return int(v[11]) + int(v[12])
    except (OSError, ValueError, IndexError):
        return None


def stack_pids(folder):
    """The processes of the soak's own PostgreSQL and Kafka: every process whose command line
    names folder (the postmaster's -D, the broker's config) and their children (backends)."""
    own, parent = set(), {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{d}/stat") as f:
                st = f.read()
            parent[int(d)] = int(st[st.rindex(")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if folder in cmd:
            own.add(int(d))
    return own | {p for p, pp in parent.items() if pp in own}


def own_cpu(pids):
    """{pid: jiffies} of the processes still there."""
    out = {}
    for p in pids:
        j = proc_cpu(p)
        if j is not None:
            out[p] = j
    return out


def cpu_share(now, before, seconds):
    """Percent of the whole machine (every core) the processes of now used since before (a
    process that ended in between is not counted: a lower bound)."""
    used = sum(j - before.get(p, 0) for p, j in now.items())
    return round(100.0 * used / (seconds * os.sysconf("SC_CLK_TCK") * os.cpu_count()), 1)
