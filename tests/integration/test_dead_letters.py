"""`aimem dead-letters list|show|requeue` against the real PostgreSQL and Kafka (issue 17 item 6).

The dead letters come from a running aimem-memories with a small event.max_bytes (a limit
later raised: what requeue is for), a payload that is not JSON and an event keyed for another
tenant than it names; the edge cases of requeue (a message gone from the topic, a topic
recreated under the dead letter) use rows written by hand."""
import json
import uuid

from confluent_kafka import Consumer, TopicPartition

from conftest import BUILD, Daemon, aimem, make_topic
from pipeline import produce, query, stored_total, wait_for
from test_memories import put


def start_memories(env, tmp_path, name):
    return Daemon([str(BUILD / "bin/aimem-memories")], env, tmp_path / name).wait_ready(
        pattern=r"\bready group=")


def high_watermarks(bootstrap, topic, partitions=4):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "hw." + uuid.uuid4().hex[:6]})
    try:
        return sum(c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                   for p in range(partitions))
    finally:
        c.close()


def read_at(bootstrap, topic, partition, offset):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "rd." + uuid.uuid4().hex[:6],
                  "enable.auto.commit": False})
    try:
        c.assign([TopicPartition(topic, partition, offset)])
        for _ in range(100):
            m = c.poll(0.2)
            if m is not None and not m.error():
                return m
        raise AssertionError(f"nothing at {topic}/{partition}/{offset}")
    finally:
        c.close()


def dl(*args, env, check=False):
    return aimem("dead-letters", *args, env=env, check=check)


def test_list_show_and_requeue_through_the_worker(services, db, tmp_path):
    topic = make_topic(services)
    group = "g-" + uuid.uuid4().hex[:8]
    wenv = {"AIMEM_DB_URL": db.worker_url, "AIMEM_KAFKA_BOOTSTRAP_SERVERS": services.bootstrap,
            "AIMEM_TOPICS_MEMORIES": topic, "AIMEM_CONSUMER_GROUP": group, "AIMEM_HTTP_PORT": "0"}
    big = put(7, "notes", "x" * 2000, user="9495550111")  # over the worker's 1 KiB limit
    mismatch = put(7, "k", 1)
    events = [(7, big), (7, b"{not json"), (9, mismatch), (8, put(8, "greeting", "hi"))]
    produce(services.bootstrap, topic, events)
    d = start_memories(dict(wenv, AIMEM_EVENT_MAX_BYTES="1KiB"), tmp_path, "small.log")
    try:
        wait_for(lambda: stored_total(db, group) == len(events), what="events handled")
    finally:
        assert d.stop() == 0, d.output()
    env = {"AIMEM_DB_URL": db.worker_url, "AIMEM_KAFKA_BOOTSTRAP_SERVERS": services.bootstrap}

    rows = json.loads(dl("list", "--json", env=env, check=True).stdout)["dead_letters"]
    assert sorted((r["customer_id"], r["error_code"]) for r in rows) == sorted(
        [(7, "too_large"), (7, "bad_json"), (9, "key_mismatch")]), rows
    assert all(r["group"] == group and r["topic"] == topic and r["requeued_at"] is None for r in rows)
    by_code = {r["error_code"]: r for r in rows}

    # the filters: tenant, code, time (RFC 3339 or a duration back from now), group
    assert len(json.loads(dl("list", "--customer", "7", "--json", env=env).stdout)["dead_letters"]) == 2
    assert len(json.loads(dl("list", "--code=bad_json", "--json", env=env).stdout)["dead_letters"]) == 1
    assert len(json.loads(dl("list", "--since", "1h", "--json", env=env).stdout)["dead_letters"]) == 3
    assert json.loads(dl("list", "--until", "2020-01-01T00:00:00Z", "--json", env=env).stdout) == {
        "dead_letters": []}
    assert json.loads(dl("list", "--group", "other", "--json", env=env).stdout) == {"dead_letters": []}
    table = dl("list", env=env, check=True).stdout.splitlines()
    assert table[0].split()[:4] == ["RECEIVED_AT", "GROUP", "TOPIC", "PART"] and len(table) == 4
    p = dl("list", "--since", "yesterday", env=env)
    assert p.returncode == 2 and "--since takes RFC 3339 or a duration" in p.stderr

    tl = by_code["too_large"]
    shown = dl("show", "--topic", topic, "--partition", str(tl["partition"]), "--offset",
               str(tl["offset"]), "--json", env=env, check=True).stdout
    one = json.loads(shown)["dead_letters"]
    assert len(one) == 1 and one[0]["payload_size"] > 2000
    assert one[0]["payload_prefix"].startswith('{"type": "memory.put"')
    p = dl("show", "--topic", topic, "--partition", "0", "--offset", "999", env=env)
    assert p.returncode == 1 and "no dead letter" in p.stderr
    assert dl("show", "--topic", topic, env=env).returncode == 2

    # dry run: says what it would do, changes nothing, publishes nothing
    hw = high_watermarks(services.bootstrap, topic)
    p = dl("requeue", "--customer", "7", "--dry-run", env=env)
    assert p.returncode == 1, p.stderr  # the bad JSON is refused
    assert "would requeue" in p.stdout and "cannot be parsed back into an event" in p.stderr
    assert high_watermarks(services.bootstrap, topic) == hw
    assert query(db, "SELECT count(*) FROM dead_letters WHERE requeued_at IS NOT NULL") == [(0,)]

    p = dl("requeue", "--customer", "7", env=env)
    assert p.returncode == 1
    assert "requeue: 1 requeued, 1 refused" in p.stdout, p.stdout + p.stderr
    assert "not a JSON object" in p.stderr and "it stays a dead letter" in p.stderr
    (new_id, to), = query(db, "SELECT requeued_event_id, requeued_to FROM dead_letters"
                              " WHERE requeued_at IS NOT NULL")
    assert new_id != big["event_id"] and to.startswith(topic + "/")
    assert high_watermarks(services.bootstrap, topic) == hw + 1

    # the copy: same key, the new id, the old one in a header with where it came from
    _, part, off = to.rsplit("/", 2)
    m = read_at(services.bootstrap, topic, int(part), int(off))
    copy = json.loads(m.value())
    headers = dict((k, v.decode()) for k, v in m.headers())
    assert m.key() == b"7" and copy["event_id"] == new_id
    assert {k: v for k, v in copy.items() if k != "event_id"} == {
        k: v for k, v in big.items() if k != "event_id"}
    assert headers["aimem-original-event-id"] == big["event_id"]
    assert headers["aimem-requeued-from"] == f"{topic}/{tl['partition']}/{tl['offset']}"
    assert headers["aimem-type"] == "memory.put"

    # a second run publishes nothing more; a key that names another tenant is refused
    p = dl("requeue", "--customer", "7", env=env)
    assert "requeue: 0 requeued, 1 refused" in p.stdout
    mm = by_code["key_mismatch"]
    p = dl("requeue", "--topic", topic, "--partition", str(mm["partition"]), "--offset",
           str(mm["offset"]), env=env)
    assert p.returncode == 1 and "cannot be parsed back into an event: key_mismatch" in p.stderr
    assert high_watermarks(services.bootstrap, topic) == hw + 1
    listed = json.loads(dl("list", "--pending", "--json", env=env).stdout)["dead_letters"]
    assert sorted(r["error_code"] for r in listed) == ["bad_json", "key_mismatch"]

    # with the limit raised, the worker applies the copy
    d = start_memories(wenv, tmp_path, "default.log")
    try:
        wait_for(lambda: query(db, "SELECT count(*) FROM memories WHERE key = 'notes'") == [(1,)],
                 what="the requeued event applied")
        assert query(db, "SELECT event_id::text, user_id FROM memories WHERE key = 'notes'") == [
            (new_id, "9495550111")]
    finally:
        assert d.stop() == 0, d.output()


def insert_dead_letter(db, group, topic, partition, offset, payload, size=None, key="7"):
    with db.connect() as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO dead_letters (consumer_group, topic, partition, \"offset\", msg_key,"
                    " customer_id, error_code, error, payload_prefix, payload_size)"
                    " VALUES (%s, %s, %s, %s, %s, 7, 'store_failed', 'test', %s, %s)",
                    (group, topic, partition, offset, key, payload[:1024],
                     len(payload) if size is None else size))


def test_requeue_when_the_topic_no_longer_holds_the_message(services, db):
    topic = make_topic(services, partitions=1)
    env = {"AIMEM_DB_URL": db.worker_url, "AIMEM_KAFKA_BOOTSTRAP_SERVERS": services.bootstrap}
    small = json.dumps(put(7, "small", 1)).encode()
    insert_dead_letter(db, "g1", topic, 0, 40, small)                   # whole payload kept
    insert_dead_letter(db, "g1", topic, 0, 41, small, size=5000)        # only a prefix kept
    p = dl("requeue", "--topic", topic, env=env)
    assert p.returncode == 1 and "requeue: 1 requeued, 1 refused" in p.stdout, p.stdout + p.stderr
    assert "no longer on the topic" in p.stderr and "keeps only" in p.stderr
    assert high_watermarks(services.bootstrap, topic, 1) == 1
    m = read_at(services.bootstrap, topic, 0, 0)
    assert json.loads(m.value())["key"] == "small" and m.key() == b"7"


def test_requeue_refuses_another_message_at_that_offset(services, db):
    topic = make_topic(services, partitions=1)
    env = {"AIMEM_DB_URL": db.worker_url, "AIMEM_KAFKA_BOOTSTRAP_SERVERS": services.bootstrap}
    produce(services.bootstrap, topic, [(7, put(7, "now-here", 1))], partition=0)
    insert_dead_letter(db, "g1", topic, 0, 0, json.dumps(put(7, "was-here", 1)).encode())
    insert_dead_letter(db, "g2", topic, 0, 0, json.dumps(put(7, "was-here", 1)).encode())
    p = dl("requeue", "--topic", topic, env=env)
    assert p.returncode == 1 and "is not the one dead-lettered" in p.stderr
    assert "requeue: 0 requeued, 1 refused" in p.stdout  # once per message, not per group
    assert high_watermarks(services.bootstrap, topic, 1) == 1


def test_dead_letters_usage(db):
    env = {"AIMEM_DB_URL": db.worker_url}
    for args in ((), ("frob",), ("list", "--customer", "0"), ("list", "--bogus"),
                 ("requeue", "--json")):
        p = dl(*args, env=env)
        assert p.returncode == 2 and "usage: aimem dead-letters" in p.stderr, args
