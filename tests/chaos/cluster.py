#!/usr/bin/env python3
"""Chaos on the cluster (issue 19 item 5): the whole write path on a 3-broker KRaft cluster
and a PostgreSQL primary with a hot standby (`scripts/dev up --brokers 3 --pg-standby all`),
under steady traffic through aimem-ingest, while brokers, workers and the primary die.

    tests/chaos/cluster.py          # make chaos-cluster; sizes from the environment (below)

What runs: aimem-ingest (every broker in its bootstrap list, acks=all, produce timeout 6 s);
2 aimem-summarizer and 1 aimem-personality process under a supervisor that restarts whatever
ends, their db.url listing both PostgreSQL nodes with target_session_attrs=read-write;
aimem-query on both nodes with prefer-standby. Senders POST calls at a steady rate (5 tenants,
each with its token) and a reader GETs a caller's context every 50 ms. The faults, spread over
the window:
  - SIGKILL a random broker, started again later by `scripts/dev up` (on its old ports);
  - SIGKILL the broker that leads partition 0, started again later;
  - SIGKILL a random worker (the supervisor restarts it), every few seconds;
  - the failover: the standby's link cut (stopped), the primary committing on without it, the
    primary crash-stopped, the standby started and promoted; everything after goes there.
Then the invariants of docs/RELIABILITY.md (scripts/invariants.py) over the events ingest
acknowledged (202): 0 lost, 0 duplicated, 0 cross-tenant, offsets = watermarks, for both
groups; plus the count of calls answered 503 and the read error rate in each fault's window.

Environment: AIMEM_CLUSTER_SECONDS=60 (the traffic window) AIMEM_CLUSTER_RATE=40 (calls/s)
AIMEM_CLUSTER_WORKER_KILLS=6 AIMEM_CLUSTER_SEED=19 AIMEM_CLUSTER_DIR (keep the services and logs
there; default a temporary folder, removed on success) AIMEM_BUILD.
Prints "cluster: ..." lines and exits 1 when a criterion failed.
"""
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tests/integration"))
sys.path.insert(0, str(REPO / "scripts"))

import invariants  # noqa: E402
from conftest import mint, read_env  # noqa: E402
from devstack import pg_ctl, promote_standby  # noqa: E402
from test_ingest import call_body, request  # noqa: E402

BUILD = Path(os.environ.get("AIMEM_BUILD", REPO / "build"))
DEV = str(REPO / "scripts/dev")
SECRET = "cluster-chaos-secret-0123456789abcdef"
TOPIC = "aimem.calls.v1"
TENANTS = [1, 2, 3, 4, 5]


def log(msg):
    print(f"cluster: {msg}", flush=True)


def dev(*args, check=True):
    return subprocess.run([DEV, *map(str, args)], capture_output=True, text=True, timeout=300,
                          check=check)



class Proc:
    """One program, restarted by the supervisor whenever it ends (until stop)."""

    def __init__(self, name, argv, env, logdir):
        self.name, self.argv, self.env, self.logdir = name, argv, env, logdir
        self.p, self.starts, self.stopping = None, 0, False
        self.start()

    def start(self):
        self.starts += 1
        out = open(self.logdir / f"{self.name}.log", "ab")
        self.p = subprocess.Popen(self.argv, env=dict(os.environ, **self.env), stdout=out,
                                  stderr=subprocess.STDOUT)

    def port(self, timeout=30):
        """The HTTP port from the ready line (AIMEM_HTTP_PORT=0)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            for line in (self.logdir / f"{self.name}.log").read_text(errors="replace").splitlines():
                if " ready " in line and "port=" in line:
                    return int(line.split("port=")[1].split()[0])
            time.sleep(0.1)
        raise RuntimeError(f"{self.name}: no ready line")

    def stop(self):
        self.stopping = True
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(30)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


def supervise(procs, stop):
    while not stop.is_set():
        for p in procs:
            if not p.stopping and p.p.poll() is not None:
                time.sleep(0.3)
                p.start()
        time.sleep(0.1)


class Traffic:
    """Senders POSTing calls at rate/s; each answer recorded (call, tenant, status, event id)."""

    def __init__(self, port, rate, seed):
        self.port, self.rate, self.rng = port, rate, random.Random(seed)
        self.tokens = {t: mint(SECRET, customer_id=t) for t in TENANTS}
        self.acked, self.refused, self.other, self.mu = [], [], [], threading.Lock()
        self.stop = threading.Event()

    def sender(self, k, n):
        i = 0
        while not self.stop.is_set():
            t0 = time.monotonic()
            tenant = TENANTS[(k + i) % len(TENANTS)]
            body = call_body(i, call_id=f"CC{uuid.uuid4().hex[:12]}", user_id=f"55599{tenant:05d}")
            try:
                status, headers, payload = request(self.port, "POST", "/v3/calls", body,
                                                   token=self.tokens[tenant])
            except OSError as e:
                status, headers, payload = 0, {}, str(e)
            with self.mu:
                if status == 202:
                    self.acked.append({"event_id": payload["event_id"], "customer_id": tenant,
                                       "call_id": body["call_id"]})
                elif status == 503 and "Retry-After" in headers:
                    self.refused.append({"customer_id": tenant, "call_id": body["call_id"]})
                else:
                    self.other.append((status, str(payload)[:200]))
            i += 1
            time.sleep(max(0.0, n / self.rate - (time.monotonic() - t0)))

    def run(self, senders=4):
        self.threads = [threading.Thread(target=self.sender, args=(k, senders), daemon=True)
                        for k in range(senders)]
        for th in self.threads:
            th.start()


class Reader(threading.Thread):
    """GETs one caller's context every 50 ms; statuses with their time."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port, self.token = port, mint(SECRET, customer_id=1, scope="memory:read")
        self.seen, self.stopping = [], threading.Event()

    def run(self):
        while not self.stopping.is_set():
            try:
                status, _, _ = request(self.port, "GET", "/v3/callers/5559900001/context", token=self.token)
            except OSError:
                status = 0
            self.seen.append((time.monotonic(), status))
            time.sleep(0.05)

    def window(self, a, b):
        got = [s for t, s in self.seen if a <= t <= b]
        bad = sum(1 for s in got if s not in (200, 404))
        return len(got), bad


def leader_broker(bootstrap, partition=0):
    from confluent_kafka.admin import AdminClient
    md = AdminClient({"bootstrap.servers": bootstrap}).list_topics(TOPIC, timeout=10)
    return md.topics[TOPIC].partitions[partition].leader


def main():
    seconds = int(os.environ.get("AIMEM_CLUSTER_SECONDS", "60"))
    rate = float(os.environ.get("AIMEM_CLUSTER_RATE", "40"))
    worker_kills = int(os.environ.get("AIMEM_CLUSTER_WORKER_KILLS", "6"))
    rng = random.Random(int(os.environ.get("AIMEM_CLUSTER_SEED", "19")))
    keep = os.environ.get("AIMEM_CLUSTER_DIR")
    work = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="aimem-cluster-"))
    work.mkdir(parents=True, exist_ok=True)
    os.chmod(work, 0o755)
    logs = work / "logs"
    logs.mkdir(exist_ok=True)
    procs, stop, ok = [], threading.Event(), False
    try:
        dev("up", "--dir", work, "--brokers", "3", "--pg-standby", "all")
        env = read_env(work / "env")
        bootstrap = env["AIMEM_KAFKA_BOOTSTRAP_SERVERS"]
        admin, pport, sport = env["AIMEM_DB_ADMIN_URL"], env["AIMEM_PG_PORT"], env["AIMEM_PG_STANDBY_PORT"]
        subprocess.run([str(BUILD / "bin/aimem"), "migrate", "--dir", str(REPO / "migrations")],
                       env=dict(os.environ, AIMEM_DB_URL=admin), check=True, capture_output=True)
        hosts = f"127.0.0.1:{pport},127.0.0.1:{sport}"
        worker_url = f"postgresql://aimem_worker@{hosts}/aimem?target_session_attrs=read-write&connect_timeout=3"
        reader_url = f"postgresql://aimem_reader@{hosts}/aimem?target_session_attrs=prefer-standby&connect_timeout=3"
        common = {"AIMEM_KAFKA_BOOTSTRAP_SERVERS": bootstrap, "AIMEM_TOPICS_CALLS": TOPIC,
                  "AIMEM_HTTP_PORT": "0"}
        workers = {"summarizer-1": ("aimem-summarizer", "aimem-summarizer"),
                   "summarizer-2": ("aimem-summarizer", "aimem-summarizer"),
                   "personality-1": ("aimem-personality", "aimem-personality")}
        for name, (prog, group) in workers.items():
            procs.append(Proc(name, [str(BUILD / "bin" / prog)],
                              dict(common, AIMEM_DB_URL=worker_url, AIMEM_CONSUMER_GROUP=group,
                                   AIMEM_LEXICONS_DIR=str(REPO / "workers/lexicons"),
                                   AIMEM_KAFKA_SESSION_TIMEOUT_MS="6000",
                                   AIMEM_KAFKA_GROUP_INSTANCE_ID=name), logs))
        ingest = Proc("ingest", [str(BUILD / "bin/aimem-ingest")],
                      dict(common, AIMEM_AUTH_JWT_SECRET=SECRET, AIMEM_PRODUCE_TIMEOUT="6s"), logs)
        query = Proc("query", [str(BUILD / "bin/aimem-query")],
                     {"AIMEM_HTTP_PORT": "0", "AIMEM_AUTH_JWT_SECRET": SECRET, "AIMEM_DB_URL": reader_url,
                      "AIMEM_EMBED_PROVIDER": "hashed"}, logs)
        procs += [ingest, query]
        sup = threading.Thread(target=supervise, args=(procs, stop), daemon=True)
        sup.start()
        traffic = Traffic(ingest.port(), rate, rng.random())
        reader = Reader(query.port())
        t_start = time.monotonic()
        traffic.run()
        reader.start()
        windows = []

        def fault(name, action, down_s, restore):
            a = time.monotonic()
            action()
            time.sleep(down_s)
            restore()
            windows.append((name, a, time.monotonic()))

        def kill_node(i):
            os.kill(int((work / f"kafka/node{i}/pid").read_text()), 9)

        def restart_kafka():
            dev("up", "--dir", work, "kafka")

        plan = seconds / 5.0
        time.sleep(plan)
        victim = rng.choice([1, 2, 3])
        log(f"SIGKILL broker {victim}")
        fault(f"broker {victim} killed", lambda: kill_node(victim), plan / 2, restart_kafka)
        leader = leader_broker(bootstrap)
        log(f"SIGKILL broker {leader} (leader of partition 0)")
        fault(f"leader broker {leader} killed", lambda: kill_node(leader), plan / 2, restart_kafka)

        def kill_workers():
            for _ in range(worker_kills):
                p = rng.choice([p for p in procs if p.name in workers])
                if p.p.poll() is None:
                    p.p.kill()
                time.sleep(rng.uniform(0.5, plan / max(1, worker_kills)))

        log(f"SIGKILL workers x{worker_kills}")
        fault("workers killed", kill_workers, 0, lambda: None)

        def failover():
            pg_ctl("stop", "-D", work / "pg-standby/data", "-m", "fast", "-w", "-s")
            time.sleep(plan / 3)  # the primary commits on without its standby
            pg_ctl("stop", "-D", work / "pg/data", "-m", "immediate", "-w", "-s")
            promote_standby(work, sport)

        log("PostgreSQL failover: standby link cut, primary crash-stopped, standby promoted")
        fault("PostgreSQL failover", failover, 0, lambda: None)
        remaining = seconds - (time.monotonic() - t_start)
        time.sleep(max(0.0, remaining))
        traffic.stop.set()
        for th in traffic.threads:
            th.join(30)
        time.sleep(2)
        reader.stopping.set()
        reader.join(10)

        new_primary = admin.replace(f":{pport}/", f":{sport}/")
        # a call answered 503 was not acknowledged, yet its event may have reached the topic
        # (written, the acknowledgement lost): not required, but not a phantom either
        refused = {e["call_id"] for e in traffic.refused}
        late = [m for m in invariants.read_topic(bootstrap, TOPIC) if m.get("call_id") in refused]
        report = invariants.check(new_primary, bootstrap, TOPIC,
                                  {"summarizer": "aimem-summarizer", "personality": "aimem-personality"},
                                  traffic.acked, wait=180.0, known=traffic.acked + late)
        log(f"{len(late)} of the calls answered 503 reached the topic all the same")
        log(f"{len(traffic.acked)} calls answered 202, {len(traffic.refused)} answered 503 + Retry-After, "
            f"{len(traffic.other)} other answers {traffic.other[:3]}")
        for name, a, b in windows:
            n, bad = reader.window(a, b)
            log(f"{name}: {b - a:.1f} s; context reads {n}, errors {bad}"
                f" ({100.0 * bad / max(1, n):.1f}%)")
        n, bad = reader.window(t_start, time.monotonic())
        log(f"context reads over the run: {n}, errors {bad} ({100.0 * bad / max(1, n):.1f}%)")
        log(f"restarts: " + ", ".join(f"{p.name} {p.starts - 1}" for p in procs))
        log("invariants: " + invariants.summary_line(report))
        for v in report["violations"]:
            log("VIOLATION " + v)
        ok = report["ok"] and not traffic.other and len(traffic.acked) > 0
        log("ok" if ok else "FAILED")
    finally:
        stop.set()
        for p in procs:
            p.stop()
        dev("down", "--dir", work, "all", check=False)
        if ok and not keep:
            shutil.rmtree(work, ignore_errors=True)
        elif not ok:
            log(f"services and logs kept in {work}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
