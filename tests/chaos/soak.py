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
"""
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
from conftest import mint
from driver import BUILD, GROUPS, TOPIC, Chaos, Slot, Stack, Supervisor, log, wait_log

SECRET = "soak-secret-0123456789abcdef-0123456789"  # test only


def canary(tenant):
    """A string only tenant `tenant`'s answers can hold: its call ids start CA<tenant>x
    (many_calls) and are quoted in the JSON answers."""
    return f'"CA{tenant}x'


class ApiLoad(threading.Thread):
    """rps requests per second, spread over `threads` keep-alive connections, each request as
    a random tenant for a random caller; every answer is checked for other tenants' canaries."""

    def __init__(self, port_of, tenants, rps, users, threads=4):
        super().__init__(daemon=True)
        self.port_of, self.tenants, self.rps, self.users, self.nthreads = port_of, tenants, rps, users, threads
        self.tokens = {t: mint(SECRET, customer_id=t, scope="memory:read") for t in range(1, tenants + 1)}
        self.canaries = {t: canary(t) for t in range(1, tenants + 1)}
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.status = {}
        self.errors = 0
        self.leaks = 0
        self.answers = 0
        self.lat = []

    def one(self, rng, client):
        from query_data import Client
        t = rng.randint(1, self.tenants)
        u = rng.choice(self.users)
        path = rng.choice([f"/v3/callers/{u}/context?summaries=5", f"/v3/callers/{u}/summaries?limit=20",
                           f"/v3/callers/{u}/profile", f"/v3/callers/{u}/personality?recent=5",
                           "/v3/callers?limit=50", "/v3/search?q=billing%20discount&limit=10",
                           f"/v3/search?q=card&user_id={u}&mode=text"])
        if client[0] is None or client[0].port != self.port_of():
            client[0] = Client(self.port_of())
        t0 = time.monotonic()
        try:
            status, _, raw = client[0].request("GET", path, token=self.tokens[t])
        except (OSError, Exception):  # noqa: BLE001 — counted, the load goes on
            with self.lock:
                self.errors += 1
            client[0] = None
            return
        dt = time.monotonic() - t0
        body = raw.decode(errors="replace")
        leaked = invariants.check_answers([{"tenant": t, "body": body}], self.canaries)["xtenant"]
        with self.lock:
            self.status[status] = self.status.get(status, 0) + 1
            self.answers += 1
            self.leaks += leaked
            self.lat.append(dt)
            if status >= 500 and status != 503:
                self.errors += 1

    def worker(self, seed):
        rng = random.Random(seed)
        client = [None]
        period = self.nthreads / self.rps
        nxt = time.monotonic()
        while not self.stop.is_set():
            self.one(rng, client)
            nxt += period
            delay = nxt - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -1:
                nxt = time.monotonic()  # behind (an outage): do not burst to catch up

    def run(self):
        ts = [threading.Thread(target=self.worker, args=(i,), daemon=True) for i in range(self.nthreads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()

    def figures(self):
        with self.lock:
            lat = sorted(self.lat)
            p = (lambda q: round(lat[min(len(lat) - 1, int(q * len(lat)))] * 1000, 1)) if lat else (lambda q: None)
            return {"requests": self.answers, "errors": self.errors, "leaks": self.leaks,
                    "status": dict(sorted(self.status.items())), "p50_ms": p(0.5), "p99_ms": p(0.99)}


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
    failures, checks, rss = [], [], {}
    n_events = int(eps * seconds)
    events = driver.events_for(n_events, tenants, seed)
    users = sorted({e["user_id"] for e in events})
    t_start = time.monotonic()
    try:
        for s in allslots:
            if not wait_log(s, s.incarnation, r"\bready\b", 60):
                raise AssertionError(f"{s.name} not ready:\n{s.output()}")

        def port():
            m = wait_log(query, query.incarnation, r"\bready\b.*\bport=(\d+)", 30)
            return int(m.group(1)) if m else 0

        prod = driver.ProducerThread(stack.bootstrap, events, seconds)
        api = ApiLoad(port, tenants, rps, users)
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
        prod.start()
        api.start()
        for t in threads:
            t.daemon = True
            t.start()

        def sample():
            now = round(time.monotonic() - t_start)
            for s in allslots:
                kb = s.rss_kb()
                if kb is not None:
                    rss.setdefault(s.name, []).append((now, s.incarnation, kb))

        next_check = t_start + 60
        while time.monotonic() - t_start < seconds or any(t.is_alive() for t in threads):
            time.sleep(5)
            sample()
            if time.monotonic() >= next_check:
                next_check += 60
                try:
                    rep = invariants.check(stack.admin_url, stack.bootstrap, TOPIC, GROUPS,
                                           events=prod.snapshot(), final=False, known=events)
                except Exception as e:  # noqa: BLE001 — PostgreSQL or Kafka may be down right now
                    checks.append({"t": round(time.monotonic() - t_start), "error": repr(e)})
                    log(f"soak: check skipped ({e!r})")
                    continue
                a = api.figures()
                checks.append({"t": round(time.monotonic() - t_start), "violations": rep["violations"],
                               "line": invariants.summary_line(rep), "answers": a["requests"], "leaks": a["leaks"]})
                log(f"soak: minute {len(checks)}: {invariants.summary_line(rep)}; api {a}")
                failures += rep["violations"]
        t_faults_end = time.monotonic()
        prod.join(600)
        drain = invariants.wait_drained(stack.admin_url, stack.bootstrap, TOPIC, GROUPS, 300)
        t_quiet = max(t_faults_end, getattr(prod, "finished_at", t_faults_end))
        lag0 = None if drain is None else time.monotonic() - t_quiet
        api.stop.set()
        api.join(30)
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
           "api": a, "rss": growth, "total_seconds": round(total, 1), "failures": failures}
    return not failures, fig
