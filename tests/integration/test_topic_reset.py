"""Issue 17 item 1: a worker never skips new events silently when the topic under its stored
offsets changed. A recreated topic and an emptied broker both leave consumer_offsets pointing
into a log that is not there any more; the worker must stop those partitions (an error line,
aimem_worker_partitions_stopped, /readyz 503) and wait for `aimem offsets reset`, which is
refused while the group runs."""
import json
import re
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from conftest import BUILD, PYTHON, REPO, Daemon, aimem, make_topic, read_env, run
from pipeline import produce, query, wait_for
from test_summarizer import call, fixture


def summarizer(bootstrap, db, tmp_path, topic, group, name):
    env = {"AIMEM_DB_URL": db.worker_url, "AIMEM_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
           "AIMEM_TOPICS_CALLS": topic, "AIMEM_CONSUMER_GROUP": group, "AIMEM_HTTP_PORT": "0",
           "AIMEM_LEXICONS_DIR": str(REPO / "workers/lexicons"),
           "AIMEM_LLM_PROMPT": str(REPO / "workers/summarizer/prompts/summarize.v1.txt"),
           "AIMEM_KAFKA_SESSION_TIMEOUT_MS": "6000"}
    d = Daemon([str(BUILD / "bin/aimem-summarizer")], env, tmp_path / f"{name}.log")
    d.wait_ready(pattern=r"\bready group=")
    d.port = int(re.search(r"metrics port=(\d+)", d.output()).group(1))
    return d


def get(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def stopped_gauge(port, group):
    _, text = get(port, "/metrics")
    m = re.search(r'^aimem_worker_partitions_stopped\{group="%s"\} (\S+)$' % re.escape(group),
                  text, re.M)
    return float(m.group(1)) if m else None


def stored(db, group):
    return dict(query(db, "SELECT partition, next_offset FROM consumer_offsets"
                          " WHERE consumer_group = %s", group))


def summaries(db):
    return query(db, "SELECT count(*) FROM call_summaries")[0][0]


def calls(base, n, start):
    return [(7, call(base, 7, "94955501%02d" % (i % 10), start + i)) for i in range(n)]


def offsets(*args, env, check=False):
    return aimem("offsets", *args, env=env, check=check)


def assert_stops_then_reset(db, tmp_path, bootstrap, topic, group, before, new_total, reasons):
    """The second life of the worker: stopped partitions, refusals, the reset, the catch-up."""
    env = {"AIMEM_DB_URL": db.worker_url, "AIMEM_KAFKA_BOOTSTRAP_SERVERS": bootstrap}
    d = summarizer(bootstrap, db, tmp_path, topic, group, "second")
    try:
        wait_for(lambda: d.output().count("partition stopped") >= len(reasons), timeout=30,
                 what="partitions stopped")
        for reason in reasons:
            assert f"reason={reason}" in d.output()
        assert re.search(r" error \S+\[\d+\]: partition stopped", d.output()), d.output()
        status, body = get(d.port, "/readyz")
        assert status == 503 and "stopped" in body, (status, body)
        assert stopped_gauge(d.port, group) == len(reasons)
        # nothing of the new log was applied, no stored offset moved
        assert summaries(db) == before["summaries"]
        assert stored(db, group) == before["offsets"]

        shown = offsets("show", "--group", group, "--topic", topic, env=env)
        assert shown.returncode == 1, shown.stdout + shown.stderr
        for reason in reasons:
            assert reason in shown.stdout

        refused = offsets("reset", "--group", group, "--topic", topic, "--to", "earliest", env=env)
        assert refused.returncode == 1
        assert "active member" in refused.stderr, refused.stderr
        assert stored(db, group) == before["offsets"]
    finally:
        assert d.stop() == 0, d.output()

    done = offsets("reset", "--group", group, "--topic", topic, "--to", "earliest", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "offsets reset" in done.stderr  # logged, per partition
    assert set(stored(db, group).values()) == {0}
    shown = offsets("show", "--group", group, "--topic", topic, env=env)
    assert shown.returncode == 0, shown.stdout + shown.stderr

    d = summarizer(bootstrap, db, tmp_path, topic, group, "third")
    try:
        wait_for(lambda: summaries(db) == before["summaries"] + new_total, timeout=30,
                 what="every new event processed")
        status, _ = get(d.port, "/readyz")
        assert status == 200
        assert stopped_gauge(d.port, group) == 0
        assert "partition stopped" not in d.output()
    finally:
        assert d.stop() == 0, d.output()

    # an ordinary restart: the stored positions (with fingerprints again) are verified, not stopped
    d = summarizer(bootstrap, db, tmp_path, topic, group, "fourth")
    try:
        wait_for(lambda: "stored position verified" in d.output(), timeout=30,
                 what="stored position verified")
        assert "partition stopped" not in d.output()
        assert get(d.port, "/readyz")[0] == 200
    finally:
        assert d.stop() == 0, d.output()


def test_recreated_topic_stops_instead_of_skipping(services, db, tmp_path):
    """Partition 0 gets fewer new events than it had (its stored offset is past the end: the
    watermarks see it); partition 1 gets more (only the stored fingerprint sees it)."""
    topic = make_topic(services, partitions=2)
    group = "s-" + uuid.uuid4().hex[:8]
    base = fixture("01_")
    produce(services.bootstrap, topic, calls(base, 5, 0), partition=0)
    produce(services.bootstrap, topic, calls(base, 5, 100), partition=1)
    d = summarizer(services.bootstrap, db, tmp_path, topic, group, "first")
    try:
        wait_for(lambda: stored(db, group) == {0: 5, 1: 5}, timeout=30, what="first events")
    finally:
        assert d.stop() == 0, d.output()
    before = {"summaries": summaries(db), "offsets": stored(db, group)}
    assert before["summaries"] == 10

    admin = [PYTHON, str(REPO / "scripts/kafka_admin.py")]
    run(admin + ["delete-topics", "--bootstrap", services.bootstrap, topic])

    def recreated():
        p = run(admin + ["create-topics", "--bootstrap", services.bootstrap, "--partitions", "2",
                         topic], check=False)
        return p.returncode == 0 and "created" in p.stderr
    wait_for(recreated, timeout=30, what="topic recreated", interval=0.5)
    produce(services.bootstrap, topic, calls(base, 3, 200), partition=0)
    produce(services.bootstrap, topic, calls(base, 8, 300), partition=1)

    assert_stops_then_reset(db, tmp_path, services.bootstrap, topic, group, before, 11,
                            ["beyond_end", "mismatch"])


def test_emptied_broker_stops_instead_of_skipping(db, tmp_path):
    """A broker of our own restarted with an emptied data directory (the compose bug of issue
    17: the volume was not where Kafka wrote); scripts/dev recreates the topic, empty."""
    folder = tempfile.mkdtemp(prefix="aimem-t17-")
    dev = str(REPO / "scripts/dev")
    try:
        run([dev, "up", "--dir", folder, "kafka"], timeout=180,
            env={"AIMEM_KAFKA_PARTITIONS": "2"})
        bootstrap = read_env(Path(folder) / "env")["AIMEM_KAFKA_BOOTSTRAP_SERVERS"]
        topic = "aimem.calls.v1"
        group = "s-" + uuid.uuid4().hex[:8]
        base = fixture("01_")
        produce(bootstrap, topic, calls(base, 4, 0), partition=0)
        d = summarizer(bootstrap, db, tmp_path, topic, group, "first")
        try:
            wait_for(lambda: stored(db, group).get(0) == 4, timeout=30, what="first events")
        finally:
            assert d.stop() == 0, d.output()
        before = {"summaries": summaries(db), "offsets": stored(db, group)}

        run([dev, "down", "--dir", folder, "kafka"], timeout=120)
        shutil.rmtree(Path(folder) / "kafka/data")
        run([dev, "up", "--dir", folder, "kafka"], timeout=180,
            env={"AIMEM_KAFKA_PARTITIONS": "2"})
        again = read_env(Path(folder) / "env")["AIMEM_KAFKA_BOOTSTRAP_SERVERS"]
        produce(again, topic, calls(base, 2, 50), partition=0)

        assert_stops_then_reset(db, tmp_path, again, topic, group, before, 2, ["beyond_end"])
    finally:
        subprocess.run([dev, "down", "--dir", folder, "kafka"], capture_output=True, timeout=120)
        shutil.rmtree(folder, ignore_errors=True)


def test_compose_keeps_the_kafka_log_on_its_volume():
    """The root cause in deploy/docker-compose.yml: the apache/kafka image writes to
    /tmp/kraft-combined-logs unless KAFKA_LOG_DIRS says otherwise, so the mounted volume stayed
    empty and a down/up lost every topic."""
    import yaml
    compose = yaml.safe_load((REPO / "deploy/docker-compose.yml").read_text())
    kafka = compose["services"]["kafka"]
    mounts = {v.split(":")[1] for v in kafka["volumes"]}
    assert kafka["environment"]["KAFKA_LOG_DIRS"] in mounts
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", kafka["environment"]["CLUSTER_ID"])


def test_topic_recreated_under_a_running_worker_stops_it(services, db, tmp_path):
    """The same while the worker runs: its position leaves the log (out of range, or the
    rebalance that the topic's disappearance causes) and is checked again, never reset to the
    start silently."""
    topic = make_topic(services, partitions=1)
    group = "s-" + uuid.uuid4().hex[:8]
    base = fixture("01_")
    produce(services.bootstrap, topic, calls(base, 5, 0), partition=0)
    d = summarizer(services.bootstrap, db, tmp_path, topic, group, "running")
    try:
        wait_for(lambda: stored(db, group) == {0: 5}, timeout=30, what="first events")
        admin = [PYTHON, str(REPO / "scripts/kafka_admin.py")]
        run(admin + ["delete-topics", "--bootstrap", services.bootstrap, topic])

        def recreated():
            p = run(admin + ["create-topics", "--bootstrap", services.bootstrap, "--partitions",
                             "1", topic], check=False)
            return p.returncode == 0 and "created" in p.stderr
        wait_for(recreated, timeout=30, what="topic recreated", interval=0.5)
        produce(services.bootstrap, topic, calls(base, 2, 50), partition=0)
        wait_for(lambda: "partition stopped" in d.output(), timeout=45, what="partition stopped")
        assert "reason=beyond_end" in d.output()
        assert get(d.port, "/readyz")[0] == 503
        assert stored(db, group) == {0: 5}
        assert summaries(db) == 5
    finally:
        assert d.stop() == 0, d.output()


def test_log_truncated_under_a_running_worker_resumes_at_the_log_start(services, db, tmp_path):
    """Retention (here DeleteRecords) deletes messages the worker has not read yet: its position
    leaves the log, the stored offset is below the log start ("expired": gone from Kafka
    whatever we do), so it warns and resumes at the log start; nothing stops. librdkafka 2.0.2
    leaves such a partition unstarted and refuses a seek, so this also covers the worker's
    re-assignment."""
    import signal
    topic = make_topic(services, partitions=1)
    group = "s-" + uuid.uuid4().hex[:8]
    base = fixture("01_")
    produce(services.bootstrap, topic, calls(base, 5, 0), partition=0)
    d = summarizer(services.bootstrap, db, tmp_path, topic, group, "truncated")
    try:
        wait_for(lambda: stored(db, group) == {0: 5}, timeout=30, what="first events")
        d.proc.send_signal(signal.SIGSTOP)  # shorter than the session timeout
        try:
            # the consumer's fetch in flight (a 500 ms long poll) must come back empty, or its
            # answer, waiting in the socket, would hand over the messages deleted below
            import time
            time.sleep(1.0)
            produce(services.bootstrap, topic, calls(base, 10, 100), partition=0)
            low = run([str(BUILD / "tests/kafka_delete_records"), services.bootstrap, topic, "0",
                       "10"]).stdout.strip()
            assert low == "10"
        finally:
            d.proc.send_signal(signal.SIGCONT)
        wait_for(lambda: stored(db, group) == {0: 15}, timeout=30, what="resumed at the log start")
        assert summaries(db) == 10  # 5 before, 10..14 after; 5..9 were deleted unread
        out = d.output()
        assert "below the log start" in out and "expired=5" in out, out
        assert "partition stopped" not in out
        assert get(d.port, "/readyz")[0] == 200
    finally:
        assert d.stop() == 0, d.output()
