"""PostgreSQL failover under a running worker (issue 19 item 4): aimem-summarizer with a list of
hosts and target_session_attrs=read-write writes to the primary while events keep arriving.
The standby is stopped for a while (its link down, as on a network split), the primary keeps
committing, then the primary is crash-stopped (pg_ctl stop -m immediate), the standby started
again and promoted: the transactions it never received are gone, their rows and their stored
offsets together, since one transaction holds both. The worker must find the new primary on its
own and go back to the offsets it finds there, so every event is applied exactly once:
scripts/invariants.py (0 lost, 0 duplicated, offsets = watermarks). Meanwhile aimem-query, on
the same list of hosts with target_session_attrs=prefer-standby, keeps answering a caller's
summaries: 200 or 503 (Retry-After) while no node serves, never anything else, and 200 from the
promoted node at the end.
"""
import subprocess
import threading
import time
import uuid

import psycopg2

from conftest import BUILD, REPO, Daemon, mint, run
from devstack import dev, pg_ctl, promote_standby, read_env
from pipeline import produce
from test_ingest import SECRET, request
from test_summarizer import many_calls

PY = "/usr/bin/python3"


def count(url, q):
    try:
        conn = psycopg2.connect(url, connect_timeout=3)
    except psycopg2.OperationalError:
        return None
    try:
        with conn.cursor() as cur:
            cur.execute(q)
            return cur.fetchone()[0]
    except psycopg2.Error:
        return None
    finally:
        conn.close()



def test_failover_to_the_standby_loses_and_duplicates_nothing(tmp_path):
    d = q = None
    statuses, stop_reading = [], threading.Event()
    try:
        dev("up", "--dir", tmp_path, "--pg-standby", "all")
        env = read_env(tmp_path / "env")
        primary, standby = env["AIMEM_DB_ADMIN_URL"], env["AIMEM_DB_STANDBY_ADMIN_URL"]
        pport, sport = env["AIMEM_PG_PORT"], env["AIMEM_PG_STANDBY_PORT"]
        bootstrap = env["AIMEM_KAFKA_BOOTSTRAP_SERVERS"]
        run([str(BUILD / "bin/aimem"), "migrate", "--dir", str(REPO / "migrations")],
            env={"AIMEM_DB_URL": primary})
        deadline = time.time() + 30
        while count(standby, "SELECT count(*) FROM consumer_offsets") is None:
            assert time.time() < deadline, "the schema never reached the standby"
            time.sleep(0.1)

        group = "f-" + uuid.uuid4().hex[:8]
        url = (f"postgresql://aimem_worker@127.0.0.1:{pport},127.0.0.1:{sport}/aimem"
               "?target_session_attrs=read-write&connect_timeout=3")
        d = Daemon([str(BUILD / "bin/aimem-summarizer")],
                   {"AIMEM_DB_URL": url, "AIMEM_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                    "AIMEM_TOPICS_CALLS": "aimem.calls.v1", "AIMEM_CONSUMER_GROUP": group,
                    "AIMEM_HTTP_PORT": "0", "AIMEM_LEXICONS_DIR": str(REPO / "workers/lexicons"),
                    "AIMEM_BATCH_MAX_EVENTS": "20", "AIMEM_KAFKA_SESSION_TIMEOUT_MS": "6000"},
                   tmp_path / "summarizer.log").wait_ready(pattern=r"\bready group=")

        reader_url = (f"postgresql://aimem_reader@127.0.0.1:{pport},127.0.0.1:{sport}/aimem"
                      "?target_session_attrs=prefer-standby&connect_timeout=3")
        q = Daemon([str(BUILD / "bin/aimem-query")],
                   {"AIMEM_HTTP_PORT": "0", "AIMEM_AUTH_JWT_SECRET": SECRET, "AIMEM_DB_URL": reader_url,
                    "AIMEM_EMBED_PROVIDER": "hashed"}, tmp_path / "query.log").wait_ready()
        token = mint(SECRET, customer_id=1, scope="memory:read")

        def read():  # a caller's newest summary, every 50 ms, through the failover
            while not stop_reading.is_set():
                status, _, _ = request(q.port, "GET", "/v3/callers/5550000000/summaries?limit=1",
                                       token=token)
                statuses.append(status)
                time.sleep(0.05)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        events = many_calls(1200, tenants=5)
        waves = [events[i:i + 100] for i in range(0, len(events), 100)]
        produce(bootstrap, "aimem.calls.v1", [(e["customer_id"], e) for e in waves[0]])

        def steady():  # the rest at ~250 events/s, through the failover
            for wave in waves[1:]:
                produce(bootstrap, "aimem.calls.v1", [(e["customer_id"], e) for e in wave])
                time.sleep(0.4)

        producer = threading.Thread(target=steady, daemon=True)
        producer.start()
        deadline = time.time() + 60
        while (count(primary, "SELECT count(*) FROM call_summaries") or 0) < 300:
            assert time.time() < deadline, "the worker never got going"
            time.sleep(0.05)
        # the standby's link goes down; the primary commits on without it
        pg_ctl("stop", "-D", tmp_path / "pg-standby/data", "-m", "fast", "-w", "-s")
        at_split = count(primary, "SELECT count(*) FROM call_summaries")
        deadline = time.time() + 60
        while (count(primary, "SELECT count(*) FROM call_summaries") or 0) < at_split + 200:
            assert time.time() < deadline, "the worker stopped writing"
            time.sleep(0.05)
        pg_ctl("stop", "-D", tmp_path / "pg/data", "-m", "immediate", "-w", "-s")
        promote_standby(tmp_path, sport)
        lost_in_failover = count(primary.replace(pport, sport), "SELECT count(*) FROM call_summaries")
        producer.join()
        print(f"failover: {at_split} summaries when the standby's link went down, the primary "
              f"went on past {at_split + 200}; the promoted standby holds {lost_in_failover}")
        assert lost_in_failover is not None and lost_in_failover <= at_split + 5

        proc = subprocess.run([PY, str(REPO / "scripts/invariants.py"), "--db", standby,
                               "--bootstrap", bootstrap, "--topic", "aimem.calls.v1",
                               "--group", f"summarizer={group}", "--wait", "120"],
                              capture_output=True, text=True)
        print(proc.stdout)
        assert proc.returncode == 0, proc.stdout + proc.stderr + d.output()[-3000:]
        assert count(standby, "SELECT count(*) FROM call_summaries") == len(events)
        n = len(statuses)
        deadline = time.time() + 30
        while len(statuses) < n + 5 and time.time() < deadline:
            time.sleep(0.05)
        stop_reading.set()
        reader.join(10)
        print(f"failover: aimem-query answered {statuses.count(200)} x 200, "
              f"{statuses.count(503)} x 503 through it")
        assert set(statuses) <= {200, 503}, sorted(set(statuses))
        assert statuses[-3:] == [200] * 3, statuses[-10:]
    finally:
        stop_reading.set()
        for daemon in (d, q):
            if daemon is not None:
                daemon.stop()
        dev("down", "--dir", tmp_path, "all", check=False)
