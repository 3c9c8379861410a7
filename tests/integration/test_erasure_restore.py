"""Backup and restore keep erasures (issue 17 item 7): `aimem erase` records the erasure on a
compacted Kafka topic before it deletes anything, and `aimem erase --reapply` after a restore
erases again every caller the topic holds. Backup (pg_dump) -> erase -> restore (pg_restore
into the same database) -> the caller is back -> reapply -> gone, and still gone through a
replay."""
import json
import uuid

from confluent_kafka import Producer

from conftest import PYTHON, REPO, aimem, make_topic, run
from pipeline import produce, query, stored_total, wait_for
from test_cli_ops import caller_rows, seed_other_tables, summarizer
from test_summarizer import call, fixture

PG_BIN = "/usr/lib/postgresql/15/bin"


def compacted_topic(services):
    name = "erasures." + uuid.uuid4().hex[:10]
    run([PYTHON, str(REPO / "scripts/kafka_admin.py"), "create-topics", "--bootstrap",
         services.bootstrap, "--partitions", "1", "--config", "cleanup.policy=compact", name])
    return name


def total(rows):
    return sum(rows.values())


def test_backup_erase_restore_reapply_replay(services, db, tmp_path):
    calls, erasures = make_topic(services), compacted_topic(services)
    group = "s-" + uuid.uuid4().hex[:8]
    gone, kept, withdrawn = "9495550301", "9495550302", "9495550303"
    base = fixture("01_")
    events = [(7, call(base, 7, gone, 1)), (7, call(base, 7, gone, 2)), (7, call(base, 7, kept, 3)),
              (7, call(base, 7, withdrawn, 4))]
    produce(services.bootstrap, calls, events)
    d = summarizer(services, db, tmp_path, calls, group)
    try:
        wait_for(lambda: stored_total(db, group) == len(events), what="calls stored")
    finally:
        assert d.stop() == 0, d.output()
    seed_other_tables(db, 7, gone)
    before = caller_rows(db, 7, gone)
    assert before["call_summaries"] == 2 and total(before) >= 6

    # the backup, taken before the erasure
    dump = tmp_path / "aimem.dump"
    run([f"{PG_BIN}/pg_dump", "-Fc", "-f", str(dump), db.admin_url])

    env = {"AIMEM_DB_URL": db.worker_url, "AIMEM_KAFKA_BOOTSTRAP_SERVERS": services.bootstrap,
           "AIMEM_TOPICS_ERASURES": erasures}
    report = json.loads(aimem("erase", "--customer", "7", "--user", gone, "--json", env=env).stdout)
    assert report["total"] == total(before)
    aimem("erase", "--customer", "7", "--user", withdrawn, env=env)
    assert total(caller_rows(db, 7, gone)) == 0
    # an operator withdraws the second erasure on the topic (a tombstone): reapply leaves it
    p = Producer({"bootstrap.servers": services.bootstrap, "enable.idempotence": True})
    p.produce(erasures, key=f"7:{withdrawn}", value=None)
    assert p.flush(30) == 0

    # the restore brings the caller back, and forgets the erasure
    run([f"{PG_BIN}/pg_restore", "--clean", "--if-exists", "--single-transaction", "-d",
         db.admin_url, str(dump)])
    assert caller_rows(db, 7, gone) == before
    assert query(db, "SELECT count(*) FROM erasures") == [(0,)]

    out = aimem("erase", "--reapply", env=env).stdout
    assert f"erased again: customer 7 caller {gone} ({total(before)} rows)" in out, out
    assert "3 records read" in out and "1 callers erased" in out and "1 withdrawn" in out, out
    assert total(caller_rows(db, 7, gone)) == 0
    assert caller_rows(db, 7, kept)["call_summaries"] == 1
    assert caller_rows(db, 7, withdrawn)["call_summaries"] == 1  # withdrawn: not erased again
    assert query(db, "SELECT customer_id, user_id FROM erasures") == [(7, gone)]
    # idempotent
    again = aimem("erase", "--reapply", env=env).stdout
    assert "(0 rows deleted now)" in again and "erased again" not in again

    # a replay of everything (and the live group resuming) does not bring the caller back
    wenv = {"AIMEM_DB_URL": db.worker_url, "AIMEM_KAFKA_BOOTSTRAP_SERVERS": services.bootstrap,
            "AIMEM_TOPICS_CALLS": calls, "AIMEM_LEXICONS_DIR": str(REPO / "workers/lexicons"),
            "AIMEM_LLM_PROMPT": str(REPO / "workers/summarizer/prompts/summarize.v1.txt")}
    r = aimem("replay", "--group", "summarizer", "--from", "earliest", env=wenv)
    assert "erased_dropped=2" in r.stdout, r.stdout + r.stderr
    produce(services.bootstrap, calls, [(7, call(base, 7, gone, 5))])
    d = summarizer(services, db, tmp_path, calls, group)
    try:
        wait_for(lambda: stored_total(db, group) == len(events) + 1, what="the later call handled")
    finally:
        assert d.stop() == 0, d.output()
    assert total(caller_rows(db, 7, gone)) == 0


def test_erase_changes_nothing_when_the_topic_cannot_take_it(db):
    with db.connect() as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO caller_profiles (customer_id, user_id, total_calls) VALUES (7, 'u1', 1)")
    env = {"AIMEM_DB_URL": db.worker_url, "AIMEM_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
           "AIMEM_PRODUCE_TIMEOUT": "1s"}
    p = aimem("erase", "--customer", "7", "--user", "u1", env=env, check=False)
    assert p.returncode == 1 and "nothing changed" in p.stderr and "aimem.erasures.v1" in p.stderr
    assert query(db, "SELECT count(*) FROM caller_profiles") == [(1,)]
    assert query(db, "SELECT count(*) FROM erasures") == [(0,)]


def test_erase_without_kafka_warns_and_reapply_needs_it(db):
    env = {"AIMEM_DB_URL": db.worker_url, "AIMEM_KAFKA_BOOTSTRAP_SERVERS": ""}
    p = aimem("erase", "--customer", "7", "--user", "u2", env=env)
    assert "warning: not recorded on an erasures topic" in p.stderr
    p = aimem("erase", "--reapply", env=env, check=False)
    assert p.returncode == 2 and "kafka.bootstrap.servers" in p.stderr
