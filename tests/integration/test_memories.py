"""aimem-memories against the real broker and PostgreSQL: exactly-once effects of memory events."""
import json
import uuid

import pytest
from confluent_kafka import Producer

from conftest import BUILD, Daemon, make_topic
from pipeline import produce, query, stored_total, wait_for


def put(customer, key, value, occurred="2026-11-20T15:00:00Z", user=None, memory_id=None, mtype="fact"):
    return {"type": "memory.put", "version": 1, "event_id": str(uuid.uuid4()),
            "customer_id": customer, "occurred_at": occurred,
            "memory_id": memory_id or str(uuid.uuid4()),
            "scope": "user" if user else "shared", "user_id": user, "mtype": mtype,
            "key": key, "value": value, "ttl_days": 30}


def delete(customer, memory_id):
    return {"type": "memory.delete", "version": 1, "event_id": str(uuid.uuid4()),
            "customer_id": customer, "occurred_at": "2026-11-20T16:00:00Z", "memory_id": memory_id}


@pytest.fixture
def worker_env(services, db, tmp_path):
    topic = make_topic(services)
    group = "g-" + uuid.uuid4().hex[:8]
    env = {"AIMEM_DB_URL": db.worker_url, "AIMEM_KAFKA_BOOTSTRAP_SERVERS": services.bootstrap,
           "AIMEM_TOPICS_MEMORIES": topic, "AIMEM_CONSUMER_GROUP": group, "AIMEM_HTTP_PORT": "0"}
    return topic, group, env


def start(env, tmp_path, name="memories.log"):
    return Daemon([str(BUILD / "bin/aimem-memories")], env, tmp_path / name).wait_ready(
        pattern=r"\bready group=")


def test_events_in_rows_out_exactly_once(services, db, worker_env, tmp_path):
    topic, group, env = worker_env
    keep = str(uuid.uuid4())
    gone = str(uuid.uuid4())
    good = [
        (7, put(7, "greeting", {"v": "new"}, occurred="2026-11-20T15:00:02Z")),
        (7, put(7, "greeting", {"v": "old"}, occurred="2026-11-20T15:00:01Z")),  # older: loses
        (8, put(8, "greeting", {"v": "tenant 8"})),
        (7, put(7, "name", "Kelly", user="9495551234", mtype="person", memory_id=keep)),
        (7, put(7, "temp", 1, memory_id=gone)),
        (7, delete(7, gone)),
    ]
    bad = [
        (7, b"{not json"),
        (9, put(7, "k", 1)),                            # key differs from customer_id
        (7, {**put(7, "k", 1), "version": 2}),
        (7, {**put(7, "k", 1), "mtype": "Bad Type"}),
        (7, put(7, "other-slot", 2, memory_id=keep)),   # valid, but the id is taken: store_failed
    ]
    produce(services.bootstrap, topic, good + bad)
    d = start(env, tmp_path)
    try:
        wait_for(lambda: stored_total(db, group) == len(good) + len(bad), what="offsets stored")
        rows = query(db, "SELECT customer_id, scope, coalesce(user_id, ''), mtype, key, value, memory_id::text"
                         " FROM memories ORDER BY customer_id, key")
        assert [(r[0], r[4], r[5]) for r in rows] == [
            (7, "greeting", {"v": "new"}), (7, "name", "Kelly"), (8, "greeting", {"v": "tenant 8"})]
        assert [r[6] for r in rows if r[4] == "name"] == [keep]
        dead = query(db, "SELECT error_code FROM dead_letters WHERE consumer_group = %s", group)
        assert sorted(c for c, in dead) == sorted(
            ["bad_json", "key_mismatch", "bad_version", "bad_value", "store_failed"])
        assert query(db, "SELECT count(*) FROM memories WHERE expires_at IS NULL") == [(0,)]

        # the same events again (new offsets): nothing changes, no duplicate rows
        produce(services.bootstrap, topic, good)
        wait_for(lambda: stored_total(db, group) == 2 * len(good) + len(bad), what="replay stored")
        assert query(db, "SELECT count(*) FROM memories") == [(3,)]
        assert query(db, "SELECT value FROM memories WHERE customer_id = 7 AND key = 'greeting'") == [({"v": "new"},)]
    finally:
        assert d.stop() == 0, d.output()
    assert "Kelly" not in d.output()  # no payload text in the logs


def test_restart_resumes_from_stored_offsets(services, db, worker_env, tmp_path):
    topic, group, env = worker_env
    produce(services.bootstrap, topic, [(7, put(7, f"k{i}", i)) for i in range(50)])
    d = start(env, tmp_path, "first.log")
    wait_for(lambda: stored_total(db, group) == 50, what="first 50")
    assert d.stop() == 0, d.output()
    produce(services.bootstrap, topic, [(7, put(7, f"k{i}", i)) for i in range(50, 80)])
    d = start(env, tmp_path, "second.log")
    try:
        wait_for(lambda: stored_total(db, group) == 80, what="all 80")
        assert query(db, "SELECT count(*) FROM memories") == [(80,)]
        offsets = query(db, "SELECT partition, next_offset FROM consumer_offsets WHERE consumer_group = %s", group)
        assert sum(n for _, n in offsets) == 80
    finally:
        assert d.stop() == 0, d.output()
    out = d.output()
    assert "partition assigned" in out and "next_offset=" in out


def test_erased_callers_events_are_dropped(services, db, worker_env, tmp_path):
    topic, group, env = worker_env
    with db.connect(autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO erasures (customer_id, user_id) VALUES (7, '5550000')")
    produce(services.bootstrap, topic, [(7, put(7, "name", "Gone", user="5550000", mtype="person")),
                                        (7, put(7, "name", "Kept", user="5550001", mtype="person"))])
    d = start(env, tmp_path)
    try:
        wait_for(lambda: stored_total(db, group) == 2, what="both handled")
        assert query(db, "SELECT user_id FROM memories") == [("5550001",)]
    finally:
        assert d.stop() == 0, d.output()


def test_a_stale_consumer_is_fenced_by_the_stored_offsets(services, db, worker_env, tmp_path):
    """Another consumer of the group committed offsets 0..4 of partition 0 while this one
    still believes it starts at 0 (a paused zombie): it must apply only 5..7 and never move
    the stored offset backwards."""
    topic, group, env = worker_env
    d = start(env, tmp_path)
    try:
        wait_for(lambda: "partition assigned" in d.output(), what="assignment")
        with db.connect(autocommit=True) as conn, conn.cursor() as cur:
            cur.execute("INSERT INTO consumer_offsets (consumer_group, topic, partition, next_offset)"
                        " VALUES (%s, %s, 0, 5) ON CONFLICT (consumer_group, topic, partition)"
                        " DO UPDATE SET next_offset = 5", (group, topic))
        p = Producer({"bootstrap.servers": services.bootstrap, "enable.idempotence": True})
        for i in range(8):
            p.produce(topic, partition=0, key="7", value=json.dumps(put(7, f"k{i}", i)))
        p.flush(30)
        wait_for(lambda: query(db, "SELECT next_offset FROM consumer_offsets WHERE consumer_group = %s"
                                   " AND partition = 0", group) == [(8,)], what="offset 8 stored")
        assert sorted(k for k, in query(db, "SELECT key FROM memories")) == ["k5", "k6", "k7"]
        assert query(db, "SELECT count(*) FROM dead_letters") == [(0,)]
    finally:
        assert d.stop() == 0, d.output()
    assert "fenced: offset already committed by another consumer" in d.output()


def test_a_binary_key_is_dead_lettered_and_the_partition_goes_on(services, db, worker_env, tmp_path):
    topic, group, env = worker_env
    p = Producer({"bootstrap.servers": services.bootstrap, "enable.idempotence": True})
    p.produce(topic, partition=0, key=b"\xff\xfe", value=json.dumps(put(7, "a", 1)))
    p.produce(topic, partition=0, key="7", value=json.dumps(put(7, "b", 2)))
    p.flush(30)
    d = start(env, tmp_path)
    try:
        wait_for(lambda: stored_total(db, group) == 2, what="both handled")
        assert query(db, "SELECT error_code, msg_key FROM dead_letters") == [("key_mismatch", "hex:fffe")]
        assert query(db, "SELECT key FROM memories") == [("b",)]
    finally:
        assert d.stop() == 0, d.output()
