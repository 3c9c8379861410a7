"""Issue 17 item 2: the workers' /readyz tells the truth (lib/worker_health). 503 when the
consumer has no assignment for longer than the session timeout, when no batch has committed for
readyz.stall_timeout while messages wait (the lag read from the broker while the worker is
stuck), and (test_topic_reset) when a partition is stopped; a revoked partition's lag series
goes; every program's /metrics ends with the process collector and aimem_build_info."""
import re
import socket
import uuid

import psycopg2

from conftest import BUILD, REPO, Daemon, make_topic
from pipeline import produce, query, wait_for
from test_summarizer import call, fixture
from test_topic_reset import get


def summarizer(env, tmp_path, name, **over):
    full = {"AIMEM_DB_URL": env["db"].worker_url, "AIMEM_KAFKA_BOOTSTRAP_SERVERS": env["bootstrap"],
            "AIMEM_TOPICS_CALLS": env["topic"], "AIMEM_CONSUMER_GROUP": env["group"],
            "AIMEM_HTTP_PORT": "0", "AIMEM_KAFKA_SESSION_TIMEOUT_MS": "6000",
            "AIMEM_LEXICONS_DIR": str(REPO / "workers/lexicons")}
    full.update(over)
    d = Daemon([str(BUILD / "bin/aimem-summarizer")], full, tmp_path / f"{name}.log")
    d.wait_ready(pattern=r"\bready group=")
    d.port = int(re.search(r"metrics port=(\d+)", d.output()).group(1))
    return d


def lags(port, group):
    """{partition: lag} of the aimem_worker_lag_messages series this member shows."""
    _, text = get(port, "/metrics")
    return {int(p): float(v) for p, v in re.findall(
        r'^aimem_worker_lag_messages\{group="%s",partition="(\d+)"\} (\S+)$' % re.escape(group),
        text, re.M)}


def summaries(db):
    return query(db, "SELECT count(*) FROM call_summaries")[0][0]


def calls(n, start):
    base = fixture("01_")
    return [(7, call(base, 7, "94955501%02d" % (i % 10), start + i)) for i in range(n)]


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_no_assignment_beyond_the_session_timeout_is_not_ready(services, db, tmp_path):
    """A broker the worker cannot reach: ready while it may still join (one session timeout),
    then 503 naming the cause."""
    env = {"db": db, "bootstrap": f"127.0.0.1:{closed_port()}", "topic": "t.none",
           "group": "g-" + uuid.uuid4().hex[:8]}
    d = summarizer(env, tmp_path, "unreachable")
    try:
        assert get(d.port, "/readyz")[0] == 200
        wait_for(lambda: get(d.port, "/readyz")[0] == 503, timeout=30, what="503", interval=0.5)
        status, body = get(d.port, "/readyz")
        assert "no partition assignment" in body and "session timeout" in body, body
    finally:
        assert d.stop(timeout=60) == 0, d.output()


def test_stall_while_lagging_is_not_ready_and_lag_comes_from_the_broker(services, db, tmp_path):
    """The worker stuck in a batch (its stored offsets locked by another transaction): the lag
    gauge still moves (the broker's watermarks), /readyz turns 503 after the stall timeout, and
    both recover when the batch commits."""
    env = {"db": db, "bootstrap": services.bootstrap, "topic": make_topic(services, partitions=2),
           "group": "g-" + uuid.uuid4().hex[:8]}
    produce(services.bootstrap, env["topic"], calls(4, 0), partition=0)
    d = summarizer(env, tmp_path, "stall", AIMEM_READYZ_STALL_TIMEOUT="3s")
    try:
        wait_for(lambda: summaries(db) == 4, timeout=30, what="first events")
        wait_for(lambda: lags(d.port, env["group"]) == {0: 0.0, 1: 0.0}, timeout=15,
                 what="lag 0 on both partitions")
        assert get(d.port, "/readyz")[0] == 200
        lock = psycopg2.connect(db.admin_url)
        try:
            with lock.cursor() as cur:  # the worker's fence waits for this transaction
                cur.execute("SELECT * FROM consumer_offsets WHERE consumer_group = %s FOR UPDATE",
                            (env["group"],))
            produce(services.bootstrap, env["topic"], calls(5, 100), partition=1)
            wait_for(lambda: lags(d.port, env["group"]).get(1) == 5.0, timeout=15,
                     what="lag 5 seen while stuck", interval=0.3)
            wait_for(lambda: get(d.port, "/readyz")[0] == 503, timeout=15, what="503",
                     interval=0.3)
            body = get(d.port, "/readyz")[1]
            assert "no batch committed" in body and "5 message(s) wait" in body, body
        finally:
            lock.rollback()
            lock.close()
        wait_for(lambda: summaries(db) == 9, timeout=30, what="the stuck batch committed")
        wait_for(lambda: get(d.port, "/readyz")[0] == 200, timeout=15, what="ready again")
        assert lags(d.port, env["group"]).get(1) == 0.0
    finally:
        assert d.stop() == 0, d.output()


def test_revoked_partitions_lose_their_lag_series(services, db, tmp_path):
    env = {"db": db, "bootstrap": services.bootstrap, "topic": make_topic(services, partitions=4),
           "group": "g-" + uuid.uuid4().hex[:8]}
    produce(services.bootstrap, env["topic"], calls(4, 0))
    a = summarizer(env, tmp_path, "a", AIMEM_READYZ_STALL_TIMEOUT="4s")
    b = None
    try:
        wait_for(lambda: set(lags(a.port, env["group"])) == {0, 1, 2, 3}, timeout=30,
                 what="four lag series")
        b = summarizer(env, tmp_path, "b", AIMEM_READYZ_STALL_TIMEOUT="4s")
        wait_for(lambda: len(lags(a.port, env["group"])) == 2 and len(lags(b.port, env["group"])) == 2,
                 timeout=60, what="two series each", interval=0.5)
        assert set(lags(a.port, env["group"])).isdisjoint(lags(b.port, env["group"]))
        _, text = get(a.port, "/metrics")
        assert re.search(r'^aimem_build_info\{version="[^"]+"\} 1$', text, re.M), text
        for name in ("process_cpu_seconds_total", "process_resident_memory_bytes",
                     "process_open_fds", "process_start_time_seconds"):
            assert re.search(r"^%s \d" % name, text, re.M), name
        assert 'aimem_worker_freshness_seconds_bucket{group="%s",le="3600"}' % env["group"] in text
    finally:
        if b:
            assert b.stop() == 0, b.output()
        assert a.stop() == 0, a.output()
