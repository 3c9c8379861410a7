#!/usr/bin/env python3
"""Chaos and soak driver (issue 8): a supervisor running 2 aimem-summarizer and 2
aimem-personality processes, fault injectors, a producer, API traffic and the invariant
checker (scripts/invariants.py), against a real PostgreSQL and Kafka of its own
(`scripts/dev up --dir <tmp>`, never the integration tests' instance).

    tests/chaos/driver.py chaos     # make chaos; sizes from the environment (below)
    tests/chaos/driver.py soak      # make soak; AIMEM_SOAK_MINUTES (default 30)

Chaos parameters (environment; defaults = the issue's full run):
  AIMEM_CHAOS_EVENTS=20000  AIMEM_CHAOS_TENANTS=10  AIMEM_CHAOS_KILLS=50
  AIMEM_CHAOS_COMMIT_KILLS=10  AIMEM_CHAOS_KILL_GAP=0.1-5  AIMEM_CHAOS_PG_STOPS=10
  AIMEM_CHAOS_PG_DOWN=5-30  AIMEM_CHAOS_KAFKA_RESTARTS=5  AIMEM_CHAOS_KAFKA_DOWN=1-10
  AIMEM_CHAOS_PAUSES=1  AIMEM_CHAOS_SECONDS=300 (the production window the faults spread over)
  AIMEM_CHAOS_SEED=4242  AIMEM_CHAOS_DIR (keep logs there; default a temporary folder,
  removed on success)  AIMEM_BUILD (the build folder, default build)

Prints one "chaos: ..." figures line and exits 1 when a pass criterion failed.
"""
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tests/integration"))
sys.path.insert(0, str(REPO / "scripts"))

import invariants  # noqa: E402
from conftest import Services, read_env  # noqa: E402
from pipeline import FakeLLM, pg_start, pg_stop  # noqa: E402
from test_summarizer import many_calls  # noqa: E402

BUILD = Path(os.environ.get("AIMEM_BUILD", REPO / "build"))
TOPIC = "aimem.calls.v1"
GROUPS = {"summarizer": "aimem-summarizer", "personality": "aimem-personality"}
SESSION_MS = 6000
WINDOW_MS = 300  # AIMEM_TEST_COMMIT_WINDOW_MS of a slot targeted by a kill inside COMMIT
CRASH_TEXT = re.compile(r"AddressSanitizer|LeakSanitizer|runtime error:|UndefinedBehaviorSanitizer")


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def env_range(name, default):
    a, _, b = os.environ.get(name, default).partition("-")
    return float(a), float(b or a)


def env_int(name, default):
    return int(os.environ.get(name, default))


# ---- services -------------------------------------------------------------------------

class Stack:
    """Our own PostgreSQL and Kafka in folder (scripts/dev), migrated database aimem."""

    def __init__(self, folder):
        self.dir = str(folder)
        Path(self.dir).mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o755)  # the postgres user runs the cluster inside
        self.dev = str(REPO / "scripts/dev")

    def up(self):
        subprocess.run([self.dev, "up", "--dir", self.dir, "all"], check=True, timeout=240,
                       capture_output=True)
        self.services = Services(read_env(Path(self.dir) / "env"), self.dir)
        subprocess.run([str(BUILD / "bin/aimem"), "migrate", "--dir", str(REPO / "migrations")],
                       env=dict(os.environ, AIMEM_DB_URL=self.admin_url), check=True, timeout=120,
                       capture_output=True)
        return self

    @property
    def bootstrap(self):
        return self.services.bootstrap

    @property
    def admin_url(self):
        return self.services.url("aimem")

    def url(self, role):
        return self.services.url("aimem", role)

    def kafka_restart(self, down_s):
        """Stops the broker (controlled shutdown), waits, starts it again on the same port
        (scripts/dev reuses a folder's previous ports while they are free). Returns the
        bootstrap after the restart."""
        subprocess.run([self.dev, "down", "--dir", self.dir, "kafka"], check=True, timeout=120,
                       capture_output=True)
        time.sleep(down_s)
        out = subprocess.run([self.dev, "up", "--dir", self.dir, "kafka"], check=True, timeout=240,
                             capture_output=True, text=True).stdout
        m = re.search(r"AIMEM_KAFKA_BOOTSTRAP_SERVERS=(\S+)", out)
        return m.group(1) if m else None

    def pg_crash(self, down_s):
        pg_stop(self.services, "immediate")
        time.sleep(down_s)
        for attempt in range(5):  # (on a shared machine the port may be taken meanwhile)
            try:
                pg_start(self.services)
                return
            except subprocess.CalledProcessError:
                tail = (Path(self.dir) / "pg/log").read_text(errors="replace").splitlines()[-5:]
                log(f"pg: start attempt {attempt + 1} failed: {' | '.join(tail)}")
                time.sleep(1)
        raise RuntimeError("PostgreSQL did not come back on its port (see svc/pg/log)")

    def down(self):
        subprocess.run([self.dev, "down", "--dir", self.dir, "all"], timeout=180, capture_output=True)


# ---- supervisor -------------------------------------------------------------------------

class Slot:
    def __init__(self, name, program, env, logdir):
        self.name, self.program, self.base_env, self.logdir = name, program, env, logdir
        self.proc = None
        self.incarnation = 0
        self.next_env = {}  # one-shot extra settings for the next start
        self.expected = None  # why we expect the current process to end ("kill", "term")
        self.log_path = None
        self.log = None
        self.exits = []  # (incarnation, returncode, expected)
        self.started_at = 0.0

    def start(self):
        self.incarnation += 1
        self.log_path = self.logdir / f"{self.name}.{self.incarnation}.log"
        self.log = open(self.log_path, "w")
        env = dict(os.environ)
        env.update(self.base_env)
        env.update(self.next_env)
        self.cur_env = dict(self.next_env)
        self.next_env = {}
        self.expected = None
        self.proc = subprocess.Popen([str(BUILD / "bin" / self.program)], env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        self.started_at = time.monotonic()

    def output(self):
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def signal(self, sig, why=None):
        if why:
            self.expected = why
        try:
            self.proc.send_signal(sig)
        except ProcessLookupError:
            pass

    def rss_kb(self):
        try:
            for line in open(f"/proc/{self.proc.pid}/status"):
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        except OSError:
            return None
        return None


class Supervisor(threading.Thread):
    """Restarts any slot whose process ended (as systemd's Restart=always would)."""

    def __init__(self, slots):
        super().__init__(daemon=True)
        self.slots = slots
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.restarts = 0
        self.unexpected = []  # (slot, incarnation, returncode, tail of the log)

    def run(self):
        while not self.stopping.is_set():
            with self.lock:
                for s in self.slots:
                    rc = s.proc.poll()
                    if rc is None:
                        continue
                    s.log.close()
                    s.exits.append((s.incarnation, rc, s.expected))
                    text = s.output()
                    if s.expected is None or CRASH_TEXT.search(text):
                        self.unexpected.append((s.name, s.incarnation, rc, text[-3000:]))
                        log(f"supervisor: {s.name}#{s.incarnation} exited {rc} unexpectedly")
                    if self.stopping.is_set():
                        continue
                    s.start()
                    self.restarts += 1
            time.sleep(0.05)

    def stop_all(self):
        self.stopping.set()
        self.join(5)
        rcs = {}
        for s in self.slots:
            s.signal(signal.SIGCONT)
            s.signal(signal.SIGTERM, "term")
        for s in self.slots:
            try:
                rcs[s.name] = s.proc.wait(60)
            except subprocess.TimeoutExpired:
                s.proc.kill()
                rcs[s.name] = s.proc.wait(10)
            s.log.close()
            if CRASH_TEXT.search(s.output()):
                self.unexpected.append((s.name, s.incarnation, rcs[s.name], s.output()[-3000:]))
        return rcs


def worker_slots(stack, logdir, per_group=2, extra=None):
    slots = []
    for kind in ("summarizer", "personality"):
        for i in range(per_group):
            name = f"{kind}-{i}"
            env = {"AIMEM_DB_URL": stack.url("aimem_worker"),
                   "AIMEM_KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap, "AIMEM_TOPICS_CALLS": TOPIC,
                   "AIMEM_CONSUMER_GROUP": GROUPS[kind], "AIMEM_HTTP_PORT": "0",
                   "AIMEM_LEXICONS_DIR": str(REPO / "workers/lexicons"),
                   "AIMEM_LLM_PROMPT": str(REPO / f"workers/{kind}/prompts/"
                                           f"{'summarize' if kind == 'summarizer' else 'personality'}.v1.txt"),
                   "AIMEM_KAFKA_SESSION_TIMEOUT_MS": str(SESSION_MS),
                   "AIMEM_KAFKA_GROUP_INSTANCE_ID": f"chaos-{name}",
                   "AIMEM_BATCH_MAX_EVENTS": "50", "AIMEM_RETRY_CAP": "1s"}
            env.update(extra or {})
            slots.append(Slot(name, f"aimem-{kind}", env, logdir))
    return slots


# ---- the producer -----------------------------------------------------------------------

class ProducerThread(threading.Thread):
    """Produces events at a steady rate over `seconds`; an event is accepted when the broker
    acknowledged it (its partition and offset are kept for the invariant checker)."""

    def __init__(self, bootstrap, events, seconds):
        super().__init__(daemon=True)
        from confluent_kafka import Producer
        self.p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                           "message.timeout.ms": 900000, "queue.buffering.max.messages": 200000})
        self.events, self.seconds = events, seconds
        self.accepted, self.failed = [], []
        self.lock = threading.Lock()
        self.produced = 0

    def _report(self, ev):
        def cb(err, msg):
            with self.lock:
                if err:
                    self.failed.append((ev["event_id"], str(err)))
                else:
                    self.accepted.append({"event_id": ev["event_id"], "customer_id": ev["customer_id"],
                                          "call_id": ev["call_id"], "partition": msg.partition(),
                                          "offset": msg.offset()})
        return cb

    def run(self):
        t0 = time.monotonic()
        n = len(self.events)
        for i, ev in enumerate(self.events):
            due = t0 + self.seconds * i / n
            while time.monotonic() < due:
                self.p.poll(0.02)
            while True:
                try:
                    self.p.produce(TOPIC, key=str(ev["customer_id"]), value=json.dumps(ev),
                                   headers={"aimem-type": ev.get("type", "call.ended")},
                                   on_delivery=self._report(ev))
                    break
                except BufferError:
                    self.p.poll(0.1)
            self.produced += 1
            self.p.poll(0)
        left = self.p.flush(900)
        self.finished_at = time.monotonic()
        if left:
            log(f"producer: {left} messages never acknowledged")

    def snapshot(self):
        with self.lock:
            return list(self.accepted)


# ---- fault injectors --------------------------------------------------------------------

class Gate:
    """Readers (kills, PostgreSQL and Kafka stops) may overlap one another; the pause scenario
    takes it exclusively, so its fencing is not blurred by other faults."""

    def __init__(self):
        self.c = threading.Condition()
        self.readers = 0
        self.writer = False

    def read(self):
        gate = self

        class Ctx:
            def __enter__(self):
                with gate.c:
                    gate.c.wait_for(lambda: not gate.writer)
                    gate.readers += 1

            def __exit__(self, *a):
                with gate.c:
                    gate.readers -= 1
                    gate.c.notify_all()
        return Ctx()

    def write(self):
        gate = self

        class Ctx:
            def __enter__(self):
                with gate.c:
                    gate.c.wait_for(lambda: not gate.writer)
                    gate.writer = True
                    gate.c.wait_for(lambda: gate.readers == 0)

            def __exit__(self, *a):
                with gate.c:
                    gate.writer = False
                    gate.c.notify_all()
        return Ctx()


class _Null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def wait_log(slot, incarnation, pattern, timeout, new_only=False):
    """Waits for pattern in the log of that incarnation of slot; the match or None. new_only:
    only a line that appears after the call (the log may hold earlier ones)."""
    deadline = time.monotonic() + timeout
    rx = re.compile(pattern)
    seen = len(rx.findall(slot.output())) if new_only else 0
    while time.monotonic() < deadline:
        if slot.incarnation != incarnation:
            return None
        found = list(rx.finditer(slot.output()))
        if len(found) > seen:
            return found[seen]
        time.sleep(0.01)
    return None


class Chaos:
    def __init__(self, stack, slots, sup, rng, stats):
        self.stack, self.slots, self.sup, self.rng, self.stats = stack, slots, sup, rng, stats
        self.gate = Gate()
        self.busy = set()  # slots the pause scenario owns
        self.errors = []
        # overlap=False: a PostgreSQL stop and a Kafka restart never overlap (make test's short
        # run: the overlap can abort a worker inside librdkafka, see docs/RELIABILITY.md)
        self.overlap = True
        self.outage = threading.Lock()

    def _outage(self):
        return self.outage if not self.overlap else _Null()

    def kill_slot(self, slot, why="kill"):
        with self.sup.lock:
            slot.signal(signal.SIGKILL, why)

    def killer(self, kills, commit_kills, gap):
        """kills SIGKILLs at random moments, commit_kills of them inside COMMIT: the kill
        before each of those picks the slot and restarts it with the commit window hook."""
        commit_at = set(round((i + 1) * kills / commit_kills) - 1 for i in range(commit_kills)) if commit_kills else set()
        armed = None
        where = ["before", "after"]
        for k in range(kills):
            time.sleep(self.rng.uniform(*gap))
            with self.gate.read():
                if k in commit_at and armed is not None:
                    slot, inc = armed
                    which = where[len(self.stats["commit_kills"]) % 2]
                    # the armed incarnation started after the previous kill; wait for it
                    deadline = time.monotonic() + 10
                    while slot.incarnation == inc and time.monotonic() < deadline:
                        time.sleep(0.02)
                    m = wait_log(slot, slot.incarnation, rf"commit window {which} batch=(\d+)", 60, new_only=True)
                    if m:
                        self.kill_slot(slot)
                        self.stats["commit_kills"].append((slot.name, which, int(m.group(1)), slot.log_path))
                    else:
                        self.kill_slot(slot)
                        self.stats["commit_kills_missed"] += 1
                    self.stats["kills"] += 1
                    armed = None
                    continue
                slot = self.rng.choice([s for s in self.slots if s.name not in self.busy])
                if k + 1 in commit_at and slot.name == "summarizer-1":
                    # the pause scenario may take summarizer-1 meanwhile
                    slot = self.rng.choice([s for s in self.slots
                                            if s.name not in self.busy and s.name != "summarizer-1"])
                if k + 1 in commit_at:
                    slot.next_env = {"AIMEM_TEST_COMMIT_WINDOW_MS": str(WINDOW_MS)}
                    armed = (slot, slot.incarnation)
                self.kill_slot(slot)
                self.stats["kills"] += 1
        log(f"killer: done, {self.stats['kills']} kills, {len(self.stats['commit_kills'])} inside COMMIT")

    def pg_crasher(self, stops, down, seconds):
        for i in range(stops):
            budget = max(0.5, seconds / stops - sum(down) / 2)
            time.sleep(self.rng.uniform(0.3, 1.0) * budget)
            d = self.rng.uniform(*down)
            with self.gate.read(), self._outage():
                log(f"pg: crash-stop {i + 1}/{stops} for {d:.1f}s")
                t0 = time.monotonic()
                self.stack.pg_crash(d)
                self.stats["pg_windows"].append((t0, time.monotonic()))  # down until back (the soak's speed)
                self.stats["pg_stops"] += 1
                self.stats["pg_down_s"] += d
        log("pg: done")

    def kafka_restarter(self, restarts, down, seconds):
        for i in range(restarts):
            time.sleep(self.rng.uniform(0.3, 1.0) * max(0.5, seconds / restarts - 10))
            d = self.rng.uniform(*down)
            with self.gate.read(), self._outage():
                log(f"kafka: restart {i + 1}/{restarts} ({d:.1f}s down)")
                after = self.stack.kafka_restart(d)
                self.stats["kafka_restarts"] += 1
                if after != self.stack.bootstrap:
                    self.errors.append(f"kafka came back on {after}, not {self.stack.bootstrap}")
        log("kafka: done")

    def pause(self, llm, delay_s):
        """SIGSTOP a summarizer with a batch in hand (model requests in flight) past the session
        timeout; once its partitions moved and the new owner committed, SIGCONT: its late batch
        must be fenced (its log says "fenced")."""
        s, other = self.slots[1], self.slots[0]  # summarizer-1, summarizer-0
        with self.gate.write():
            self.busy.add(s.name)
            log("pause: restarting summarizer-1 with a slow model")
            s.next_env = {"AIMEM_PROCESSOR": "llm", "AIMEM_LLM_BASE_URL": llm.base_url,
                          "AIMEM_LLM_MODEL": "test-model", "AIMEM_LLM_TIMEOUT": "30s"}
            inc = s.incarnation
            with self.sup.lock:
                s.signal(signal.SIGTERM, "term")
            deadline = time.monotonic() + 60
            while s.incarnation == inc and time.monotonic() < deadline:
                time.sleep(0.02)
            inc = s.incarnation
            if not wait_log(s, inc, r"partition assigned", 60):
                self.errors.append("pause: summarizer-1 got no partition")
            n0 = llm.count()
            deadline = time.monotonic() + 60
            while llm.count() == n0 and time.monotonic() < deadline:
                time.sleep(0.01)
            s.signal(signal.SIGSTOP)
            t_stop = time.monotonic()
            assigned0 = other.output().count("partition assigned")
            log(f"pause: summarizer-1 stopped with model requests in flight (llm requests {llm.count()})")
            deadline = time.monotonic() + 60
            while other.output().count("partition assigned") < assigned0 + 4 and time.monotonic() < deadline:
                time.sleep(0.1)
            moved = time.monotonic() - t_stop
            time.sleep(3.0)  # the new owner commits past the paused batch
            s.signal(signal.SIGCONT)
            log(f"pause: SIGCONT after {time.monotonic() - t_stop:.1f}s (partitions moved after {moved:.1f}s)")
            m = wait_log(s, inc, r"fenced: ", 60)
            text = s.output()
            fenced = text.count("fenced: ")
            self.stats["fenced_messages"] += fenced
            self.stats["pauses"] += 1
            if not m:
                self.errors.append("pause: the paused summarizer's late batch was not fenced")
            log(f"pause: fenced messages={fenced}")
            with self.sup.lock:
                s.signal(signal.SIGTERM, "term")
            deadline = time.monotonic() + 60
            while s.incarnation == inc and time.monotonic() < deadline:
                time.sleep(0.02)
            self.busy.discard(s.name)


def new_stats():
    return {"kills": 0, "commit_kills": [], "commit_kills_missed": 0, "pg_stops": 0, "pg_down_s": 0.0, "pg_windows": [],
            "kafka_restarts": 0, "pauses": 0, "fenced_messages": 0}


def events_for(n, tenants, seed):
    random.seed(seed)  # many_calls draws uuids (not seeded); the order of tenants is fixed
    return many_calls(n, tenants=tenants)


def run_chaos(p, workdir):
    """One chaos run with parameters p (dict); returns (ok, figures dict)."""
    rng = random.Random(p["seed"])
    logdir = Path(workdir) / "logs"
    logdir.mkdir(parents=True, exist_ok=True)
    t_all = time.monotonic()
    os.chmod(workdir, 0o755)
    stack = Stack(Path(workdir) / "svc")
    stack.up()
    llm = FakeLLM()
    llm.answer_with({"summary": "A call.", "key_topics": ["billing"], "sentiment": "neutral",
                     "resolution_status": "resolved"}, delay=p["llm_delay"])
    slots = worker_slots(stack, logdir)
    for s in slots:
        s.start()
    sup = Supervisor(slots)
    sup.start()
    stats = new_stats()
    chaos = Chaos(stack, slots, sup, rng, stats)
    chaos.overlap = p["overlap"]
    failures = []
    try:
        for s in slots:
            if not wait_log(s, s.incarnation, r"\bready group=", 60):
                raise AssertionError(f"{s.name} not ready:\n{s.output()}")
        events = events_for(p["events"], p["tenants"], p["seed"])
        prod = ProducerThread(stack.bootstrap, events, p["seconds"])
        t_faults = time.monotonic()
        prod.start()
        threads = [threading.Thread(target=chaos.killer, args=(p["kills"], p["commit_kills"], p["kill_gap"])),
                   threading.Thread(target=chaos.pg_crasher, args=(p["pg_stops"], p["pg_down"], p["seconds"])),
                   threading.Thread(target=chaos.kafka_restarter,
                                    args=(p["kafka_restarts"], p["kafka_down"], p["seconds"]))]
        for _ in range(p["pauses"]):
            def pauser():
                time.sleep(p["seconds"] * 0.3)
                chaos.pause(llm, p["llm_delay"])
            threads.append(threading.Thread(target=pauser))
        for i, t in enumerate(threads):
            t.daemon = True
            target = t._target

            def guarded(*a, _f=target):
                try:
                    _f(*a)
                except Exception as e:  # noqa: BLE001 — an injector that broke fails the run
                    chaos.errors.append(f"injector {_f.__name__}: {e!r}")
                    log(f"injector {_f.__name__} failed: {e!r}")
            t._target = guarded
            t.start()
        for t in threads:
            t.join()
        t_end = time.monotonic()
        log(f"faults over after {t_end - t_faults:.1f}s; waiting for the producer")
        prod.join(900)
        accepted = prod.snapshot()
        drain = invariants.wait_drained(stack.admin_url, stack.bootstrap, TOPIC, GROUPS, 300)
        # from the later of: the last fault, the last event acknowledged
        t_quiet = max(t_end, getattr(prod, "finished_at", t_end))
        lag0 = None if drain is None else time.monotonic() - t_quiet
        rep = invariants.check(stack.admin_url, stack.bootstrap, TOPIC, GROUPS, events=accepted)
        alive = {s.name: s.proc.poll() is None for s in slots}
        (Path(workdir) / "produced.jsonl").write_text("".join(json.dumps(e) + "\n" for e in accepted))
        profiles = invariants._rows(invariants._connect(stack.admin_url),
                                    "SELECT coalesce(sum(total_calls), 0) FROM caller_profiles")[0][0]
    finally:
        rcs = sup.stop_all()
        llm.close()
        stack.down()
    fig = {"events": p["events"], "accepted": len(accepted), "not_accepted": len(prod.failed),
           "kills": stats["kills"], "kills_in_commit": len(stats["commit_kills"]),
           "commit_kills_missed": stats["commit_kills_missed"],
           "commit_kill_where": [w for _, w, _, _ in stats["commit_kills"]],
           "pg_stops": stats["pg_stops"], "pg_down_s": round(stats["pg_down_s"], 1),
           "kafka_restarts": stats["kafka_restarts"], "pauses": stats["pauses"],
           "fenced_messages": stats["fenced_messages"], "restarts": sup.restarts,
           "unexpected_exits": [(n, i, rc) for n, i, rc, _ in sup.unexpected],
           "fault_seconds": round(t_end - t_faults, 1),
           "lag0_after_faults_s": None if lag0 is None else round(lag0, 1),
           "total_seconds": round(time.monotonic() - t_all, 1), "profiles_total_calls": profiles,
           "invariants": invariants.summary_line(rep), "violations": rep["violations"],
           "final_exit_codes": rcs}
    for name, g in rep["groups"].items():
        fig[f"{name}_rows"] = g["rows"]
    failures += rep["violations"] + chaos.errors
    if len(prod.failed):
        failures.append(f"{len(prod.failed)} events never acknowledged by the broker")
    if not all(alive.values()):
        failures.append(f"daemons not alive at the end: {alive}")
    if any(rc != 0 for rc in rcs.values()):
        failures.append(f"a daemon did not stop cleanly on SIGTERM: {rcs}")
    crashes = [u for u in sup.unexpected if u[2] != 0 or CRASH_TEXT.search(u[3])]
    for n, i, rc, tail in crashes:
        failures.append(f"{n}#{i} crashed (exit {rc}):\n{tail}")
    if lag0 is None or lag0 > p["lag_limit"]:
        failures.append(f"lag not back to 0 within {p['lag_limit']}s after the faults (took {lag0})")
    if profiles != len(accepted):
        failures.append(f"caller_profiles total_calls {profiles} != {len(accepted)} accepted calls")
    if stats["kills"] != p["kills"] or len(stats["commit_kills"]) != p["commit_kills"]:
        failures.append(f"kills {stats['kills']}/{p['kills']}, in COMMIT {len(stats['commit_kills'])}/{p['commit_kills']}")
    if stats["pg_stops"] != p["pg_stops"] or stats["kafka_restarts"] != p["kafka_restarts"]:
        failures.append("not every PostgreSQL stop or Kafka restart happened")
    for name, which, _, path in stats["commit_kills"]:  # the kill landed inside that window
        last = re.findall(r"commit window (before|after)", Path(path).read_text(errors="replace"))
        if not last or last[-1] != which:
            failures.append(f"the kill of {path.name} did not land in the window {which}")
    fig["failures"] = failures
    return not failures, fig


def chaos_params(short=False):
    if short:
        d = {"events": "1500", "kills": "8", "commit_kills": "2", "kill_gap": "0.1-1.5", "pg_stops": "2",
             "pg_down": "1-3", "kafka_restarts": "1", "kafka_down": "1-2", "pauses": "1", "seconds": "25"}
    else:
        d = {"events": "20000", "kills": "50", "commit_kills": "10", "kill_gap": "0.1-5", "pg_stops": "10",
             "pg_down": "5-30", "kafka_restarts": "5", "kafka_down": "1-10", "pauses": "1", "seconds": "300"}
    p = {}
    for k, v in d.items():
        raw = os.environ.get("AIMEM_CHAOS_" + k.upper(), v)
        p[k] = env_range("AIMEM_CHAOS_" + k.upper(), v) if "-" in v else int(raw)
    p["tenants"] = env_int("AIMEM_CHAOS_TENANTS", 10)
    p["seed"] = env_int("AIMEM_CHAOS_SEED", 4242)
    p["lag_limit"] = float(os.environ.get("AIMEM_CHAOS_LAG_LIMIT", 60))
    p["llm_delay"] = 1.5
    # AIMEM_CHAOS_OVERLAP=0: PostgreSQL and Kafka outages one at a time (default for the short run)
    p["overlap"] = os.environ.get("AIMEM_CHAOS_OVERLAP", "0" if short else "1") == "1"
    return p


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "chaos"
    keep = os.environ.get("AIMEM_CHAOS_DIR")
    workdir = keep or tempfile.mkdtemp(prefix="aimem-chaos-")
    Path(workdir).mkdir(parents=True, exist_ok=True)
    if mode == "chaos":
        p = chaos_params(short=os.environ.get("AIMEM_CHAOS_SHORT") == "1")
        log(f"chaos: {p} in {workdir}")
        ok, fig = run_chaos(p, workdir)
    elif mode == "soak":
        import soak
        ok, fig = soak.run_soak(workdir)
    else:
        print(__doc__)
        return 2
    print(f"{mode}: " + json.dumps({k: v for k, v in fig.items() if k != "failures"}), flush=True)
    for f in fig["failures"]:
        print(f"{mode}: FAILED {f}", flush=True)
    print(f"{mode}: {'ok' if ok else 'FAILED'} (logs in {workdir})", flush=True)
    if ok and not keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
