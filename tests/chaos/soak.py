"""`make soak` (issue 8): every fault injector of driver.py at a low rate, a steady event stream,
50 req/s of API traffic over 10 tenants against aimem-query, the invariants every minute and
RSS per process (VmRSS from /proc).

Settings (environment): AIMEM_SOAK_MINUTES (30), AIMEM_SOAK_RPS (50), AIMEM_SOAK_EVENTS_PER_S
(20), AIMEM_SOAK_TENANTS (10), AIMEM_CHAOS_SEED.

Which processes face which faults: summarizer-1 and personality-1 take the SIGKILLs (one in
five inside COMMIT) and summarizer-1 the SIGSTOP pauses; summarizer-0, personality-0 and
aimem-query are never killed, so their RSS is followed over the whole run (PostgreSQL
crash-stops and Kafka restarts hit every process). RSS growth = the highest sample of the last
third of the run over the highest sample of the first third after a one-minute warm-up
(transient backlogs after an outage raise both thirds alike; a leak raises only the last).

Mid-run invariant checks (every minute, traffic flowing): dup = 0, xtenant = 0, phantom = 0,
no event lost below its group's stored offset, no answer with another tenant's canary. After
the run (faults stopped, drained): the full check (lost = 0, offsets = watermarks).

Speed (issue 17 item 8): the API load is open-loop (soak_load, a process of its own: request k
due at start + k / rps, latency counted from the due time). Every minute the soak logs the
client's p50/p99 and achieved rate, aimem-query's own histograms (HTTP and database round
trip, deltas of /metrics) and CPU, the hot tables' dead tuples and autovacuum runs, and the
machine's load average; soak_minutes.json in the work folder keeps them. It fails when the
last window's client p99 exceeds the first's by more than 50% or the achieved rate of the run
or of either window is below 90% of AIMEM_SOAK_RPS (windows: the first and last ten minutes,
a third of the run when shorter than 30 minutes).
"""
import json
import multiprocessing
import os
import random
import signal
import statistics
import subprocess
import threading
import time
from pathlib import Path

import driver
import invariants
import soak_load
import soak_speed
from conftest import mint
from driver import BUILD, GROUPS, TOPIC, Chaos, Slot, Stack, Supervisor, log, wait_log

SECRET = "soak-secret-0123456789abcdef-0123456789"  # test only


def canary(tenant):
    """A string only tenant `tenant`'s answers can hold: its call ids start CA<tenant>x
    (many_calls) and are quoted in the JSON answers."""
    return f'"CA{tenant}x'


class ApiLoad:
    """rps requests per second from soak_load's open-loop client in a process of its own (each
    request due at start + k / rps, latency counted from its due time, a random tenant for a
    random caller, every answer checked for other tenants' canaries); the records come back
    here in batches and are kept for the per-minute figures and the speed verdict."""

    def __init__(self, tenants, rps, users, seed):
        ctx = multiprocessing.get_context("spawn")  # no fork of a process with threads
        self.port = ctx.Value("i", 0)
        self.out = ctx.Queue()
        self.stop_ev = ctx.Event()
        tokens = {t: mint(SECRET, customer_id=t, scope="memory:read") for t in range(1, tenants + 1)}
        canaries = {t: canary(t) for t in range(1, tenants + 1)}
        self.proc = ctx.Process(target=soak_load.run, args=(self.port, rps, tokens, canaries, users, seed,
                                                              self.out, self.stop_ev), daemon=True)
        self.t_start = None
        self.lock = threading.Lock()
        self.records = []
        self.scheduled = None
        self.collector = threading.Thread(target=self.collect, daemon=True)

    def start(self):
        """Starts the client; returns its time origin (request k is due at origin + k / rps)."""
        self.proc.start()
        item = self.out.get(timeout=120)
        assert item[0] == "start", item
        self.t_start = item[1]
        self.collector.start()
        return self.t_start

    def collect(self):
        while True:
            item = self.out.get()
            if isinstance(item, tuple) and item[0] == "scheduled":
                self.scheduled = item[1]
                return
            with self.lock:
                self.records.extend(item)

    def stop(self):
        self.stop_ev.set()
        self.collector.join(60)
        self.proc.join(10)
        if self.proc.is_alive():
            self.proc.kill()

    def snapshot(self):
        with self.lock:
            return list(self.records)

    def figures(self):
        recs = self.snapshot()
        status = {}
        for r in recs:
            key = "error" if r[3] is None else r[3]
            status[key] = status.get(key, 0) + 1
        lat = sorted(r[1] for r in recs)
        return {"requests": len(recs), "errors": sum(1 for r in recs if soak_speed.is_error(r[3])),
                "leaks": sum(r[4] for r in recs), "status": dict(sorted(status.items(), key=str)),
                "p50_ms": soak_speed.ms(soak_speed.quantile(lat, 0.5)),
                "p99_ms": soak_speed.ms(soak_speed.quantile(lat, 0.99))}


def run_soak(workdir):
    minutes = float(os.environ.get("AIMEM_SOAK_MINUTES", 30))
    rps = float(os.environ.get("AIMEM_SOAK_RPS", 50))
    eps = float(os.environ.get("AIMEM_SOAK_EVENTS_PER_S", 20))
    tenants = int(os.environ.get("AIMEM_SOAK_TENANTS", 10))
    seed = int(os.environ.get("AIMEM_CHAOS_SEED", 4242))
    seconds = minutes * 60
    rng = random.Random(seed)
    os.chmod(workdir, 0o755)
    logdir = Path(workdir) / "logs"
    logdir.mkdir(parents=True, exist_ok=True)
    stack = Stack(Path(workdir) / "svc").up()
    llm = driver.FakeLLM()
    llm.answer_with({"summary": "A call.", "key_topics": ["billing"], "sentiment": "neutral",
                     "resolution_status": "resolved"}, delay=1.5)
    slots = driver.worker_slots(stack, logdir)
    query = Slot("query", "aimem-query", {"AIMEM_DB_URL": stack.url("aimem_reader"), "AIMEM_HTTP_PORT": "0",
                                          "AIMEM_AUTH_JWT_SECRET": SECRET, "AIMEM_HTTP_THREADS": "4"}, logdir)
    allslots = slots + [query]
    for s in allslots:
        s.start()
    sup = Supervisor(allslots)
    sup.start()
    stats = driver.new_stats()
    chaos = Chaos(stack, slots, sup, rng, stats)
    chaos.busy = {"summarizer-0", "personality-0"}  # never killed: their RSS is followed
    failures, checks, rss, per_minute = [], [], {}, []
    n_events = int(eps * seconds)
    events = driver.events_for(n_events, tenants, seed)
    users = sorted({e["user_id"] for e in events})
    t_start = time.monotonic()
    try:
        for s in allslots:
            if not wait_log(s, s.incarnation, r"\bready\b", 60):
                raise AssertionError(f"{s.name} not ready:\n{s.output()}")

        ports = {}  # incarnation of aimem-query -> its port

        def port():
            inc = query.incarnation
            if inc not in ports:
                m = wait_log(query, inc, r"\bready\b.*\bport=(\d+)", 30)
                if not m:
                    return 0
                ports[inc] = int(m.group(1))
            return ports[inc]

        prod = driver.ProducerThread(stack.bootstrap, events, seconds)
        api = ApiLoad(tenants, rps, users, seed)
        api.port.value = port()
        fault_s = max(60.0, seconds - 60)  # the last minute is quiet: lag must come back
        kills = max(2, int(minutes * 2))
        threads = [
            threading.Thread(target=chaos.killer, args=(kills, max(1, kills // 5), (15.0, 45.0))),
            threading.Thread(target=chaos.pg_crasher, args=(max(1, int(minutes / 5)), (5.0, 10.0), fault_s)),
            threading.Thread(target=chaos.kafka_restarter, args=(max(1, int(minutes / 7)), (1.0, 5.0), fault_s))]
        for i in range(max(1, int(minutes / 10))):
            def pauser(i=i):
                time.sleep(fault_s * (i + 0.5) / max(1, int(minutes / 10)))
                chaos.pause(llm, 1.5)
            threads.append(threading.Thread(target=pauser))
        t_load = api.start()  # the load's time origin: minutes and windows count from it
        prod.start()
        for t in threads:
            t.daemon = True
            t.start()

        def follow_port():  # a restarted aimem-query listens on a new port
            while not api.stop_ev.is_set():
                p = port()
                if p:
                    api.port.value = p
                time.sleep(0.5)
        threading.Thread(target=follow_port, daemon=True).start()

        def sample():
            now = round(time.monotonic() - t_load)
            for s in allslots:
                kb = s.rss_kb()
                if kb is not None:
                    rss.setdefault(s.name, []).append((now, s.incarnation, kb))

        def own_pids():  # every process of this soak: driver, load, programs, PostgreSQL, Kafka
            return ({os.getpid(), api.proc.pid} | {s.proc.pid for s in allslots if s.proc is not None}
                    | soak_speed.stack_pids(stack.dir))

        def minute(m, prev):
            """The speed figures of minute m of the load: the client's (requests due in it), the
            server's histogram deltas, the hot tables, the machine's load and the soak's own
            share of it. prev: the previous minute's raw counters (returned for the next)."""
            now = {"scrape": soak_speed.scrape(api.port.value), "busy": soak_speed.cpu_busy(),
                   "own": soak_speed.own_cpu(own_pids()), "t": time.monotonic()}
            tables = None
            try:
                conn = invariants._connect(stack.admin_url)
                try:
                    tables = soak_speed.table_stats(conn)
                finally:
                    conn.close()
            except Exception:  # noqa: BLE001 — PostgreSQL may be down right now
                pass
            busy = round(100 * (now["busy"][0] - prev["busy"][0]) / max(1, now["busy"][1] - prev["busy"][1]), 1)
            own = soak_speed.cpu_share(now["own"], prev["own"], now["t"] - prev["t"])
            row = {"minute": m, "client": soak_speed.client_window(api.snapshot(), (m - 1) * 60.0, m * 60.0),
                   "server": soak_speed.server_minute(now["scrape"], prev["scrape"]), "load1": soak_speed.loadavg(),
                   "busy_pct": busy, "soak_cpu_pct": own, "others_cpu_pct": round(max(0.0, busy - own), 1),
                   "tables": tables}
            per_minute.append(row)
            log(f"soak: speed minute {m}: {soak_speed.minute_line(row)}")
            if now["scrape"] is None:
                now["scrape"] = prev["scrape"]
            return now

        raw = {"scrape": soak_speed.scrape(api.port.value), "busy": soak_speed.cpu_busy(),
               "own": soak_speed.own_cpu(own_pids()), "t": time.monotonic()}
        next_check = t_load + 60
        while time.monotonic() - t_load < seconds or any(t.is_alive() for t in threads):
            time.sleep(min(5.0, max(0.05, next_check - time.monotonic())))
            sample()
            if time.monotonic() >= next_check:
                next_check += 60
                raw = minute(len(per_minute) + 1, raw)
                t_check = time.monotonic()
                try:
                    rep = invariants.check(stack.admin_url, stack.bootstrap, TOPIC, GROUPS,
                                           events=prod.snapshot(), final=False, known=events)
                except Exception as e:  # noqa: BLE001 — PostgreSQL or Kafka may be down right now
                    checks.append({"t": round(time.monotonic() - t_start), "error": repr(e)})
                    log(f"soak: check skipped ({e!r})")
                    continue
                a = api.figures()
                per_minute[-1]["check_s"] = round(time.monotonic() - t_check, 2)  # the driver's own work
                checks.append({"t": round(time.monotonic() - t_start), "violations": rep["violations"],
                               "line": invariants.summary_line(rep), "answers": a["requests"], "leaks": a["leaks"]})
                log(f"soak: minute {len(checks)}: {invariants.summary_line(rep)}; api {a}")
                failures += rep["violations"]
        t_faults_end = time.monotonic()
        prod.join(600)
        drain = invariants.wait_drained(stack.admin_url, stack.bootstrap, TOPIC, GROUPS, 300)
        t_quiet = max(t_faults_end, getattr(prod, "finished_at", t_faults_end))
        lag0 = None if drain is None else time.monotonic() - t_quiet
        api.stop()
        final = invariants.check(stack.admin_url, stack.bootstrap, TOPIC, GROUPS, events=prod.snapshot())
        sample()
        alive = {s.name: s.proc.poll() is None for s in allslots}
    finally:
        rcs = sup.stop_all()
        llm.close()
        stack.down()
    growth = {}
    total = time.monotonic() - t_start
    for name, samples in rss.items():
        inc0 = samples[0][1]
        if name not in ("summarizer-0", "personality-0", "query"):
            continue
        if any(inc != inc0 for _, inc, _ in samples):
            growth[name] = "restarted"
            failures.append(f"{name} restarted during the soak (its RSS cannot be followed)")
            continue
        warm = [kb for t, _, kb in samples if 60 <= t <= max(60, seconds / 3)]
        last = [kb for t, _, kb in samples if t >= seconds * 2 / 3]
        if not warm or not last:
            continue
        g = max(last) / max(warm) - 1
        growth[name] = {"first_third_max_kb": max(warm), "last_third_max_kb": max(last),
                        "growth_pct": round(100 * g, 1), "median_kb": int(statistics.median(kb for _, _, kb in samples))}
        if g >= 0.10:
            failures.append(f"{name}: RSS grew {100 * g:.1f}% (>= 10%)")
    a = api.figures()
    records = api.snapshot()
    for row in per_minute:  # the client's figures again, now with every answer of the minute in
        row["client"] = soak_speed.client_window(records, (row["minute"] - 1) * 60.0, row["minute"] * 60.0)
        log(f"soak: speed minute {row['minute']}: {soak_speed.minute_line(row)}")
    pg_windows = [(round(a0 - t_load, 1), round(a1 - t_load, 1)) for a0, a1 in stats["pg_windows"]]
    speed, slow = soak_speed.verdict(records, seconds, rps)
    calm = soak_speed.verdict(soak_speed.outside(records, pg_windows), seconds, rps)[0]  # for the report only
    speed["p99_ms_outside_pg_stops"] = {"first": calm["first"]["p99_ms"], "last": calm["last"]["p99_ms"]}
    speed["pg_stops_s"] = pg_windows
    speed["load1_first_last"] = soak_speed.window_load(per_minute, seconds)
    wl = speed["load1_first_last"]  # shown with a speed failure: the machine is shared
    failures += [f"{f} (load average {wl['first']['load1']} -> {wl['last']['load1']}, this soak's share of the "
                 f"machine {wl['first']['soak_cpu_pct']}% -> {wl['last']['soak_cpu_pct']}%)" for f in slow]
    (Path(workdir) / "soak_minutes.json").write_text(json.dumps({"minutes": per_minute, "speed": speed}, indent=1))
    failures += final["violations"] + chaos.errors
    if a["leaks"]:
        failures.append(f"{a['leaks']} API answers carried another tenant's canary")
    if a["errors"]:
        failures.append(f"{a['errors']} API requests failed (connection errors or 5xx other than 503)")
    if not all(alive.values()):
        failures.append(f"daemons not alive at the end: {alive}")
    if any(rc != 0 for rc in rcs.values()):
        failures.append(f"a daemon did not stop cleanly on SIGTERM: {rcs}")
    for n, i, rc, tail in sup.unexpected:
        if rc != 0 or driver.CRASH_TEXT.search(tail):
            failures.append(f"{n}#{i} crashed (exit {rc}):\n{tail}")
    if lag0 is None or lag0 > 60:
        failures.append(f"lag not back to 0 within 60 s after the faults (took {lag0})")
    fig = {"minutes": minutes, "events": n_events, "accepted": len(prod.snapshot()), "kills": stats["kills"],
           "kills_in_commit": len(stats["commit_kills"]), "pg_stops": stats["pg_stops"],
           "kafka_restarts": stats["kafka_restarts"], "pauses": stats["pauses"],
           "fenced_messages": stats["fenced_messages"], "invariant_checks": len(checks),
           "checks_skipped": sum(1 for c in checks if "error" in c),
           "final": invariants.summary_line(final), "lag0_after_faults_s": None if lag0 is None else round(lag0, 1),
           "api": a, "speed": speed, "rss": growth, "total_seconds": round(total, 1), "failures": failures}
    return not failures, fig
