"""Poison events (issue 8 part 3): 1% of the calls topic is hostile input; the summarizer and
the personality worker must dead-letter exactly those, apply every valid event, never crash
(CI runs this under ASan/UBSan too), never retry a batch because of one, and never stall on one."""
import json
import os
import random
import re
import urllib.request
import uuid

from conftest import BUILD, REPO, Daemon, make_topic
from pipeline import query, stored_total, wait_for
from test_summarizer import many_calls

EVENTS = int(os.environ.get("AIMEM_POISON_EVENTS", "20000"))
# The defect this guards against is a poison message that fails its batch: the batch is
# retried with backoff (aimem_worker_batch_retries_total) and the partition stalls for minutes.
# So the check is that no batch was retried, plus a stall bound far above any scheduling noise:
# the histogram's largest finite bucket (10 s) of aimem_worker_batch_seconds. (A 1 s bound on
# the plain build failed once on a quiet machine: one batch of 20,000 events, not a stall.)
STALL_BOUND = "10"


def poison(kind, base):
    """(key, value bytes, headers) of one hostile message, and whether it must be dead-lettered."""
    ev = dict(base, event_id=str(uuid.uuid4()), call_id="CP" + uuid.uuid4().hex)
    key = str(ev["customer_id"]).encode()
    if kind == "invalid_json":
        return key, b'{"type":"call.ended",', None
    if kind == "wrong_types":
        return key, json.dumps(dict(ev, customer_id=str(ev["customer_id"]), turns="none")).encode(), None
    if kind == "key_mismatch":
        return str(ev["customer_id"] + 1).encode(), json.dumps(ev).encode(), None
    if kind == "invalid_utf8":
        raw = json.dumps(dict(ev, thread_id="THREADMARK")).encode()
        return key, raw.replace(b"THREADMARK", b"TH\xc3\x28R\xffEAD"), None
    if kind == "embedded_nul":
        raw = json.dumps(ev).encode()
        return key, raw[:40] + b"\x00" + raw[40:], None
    if kind == "deep_nesting":
        return key, json.dumps(dict(ev, metadata={})).encode()[:-1] + b',"x":' + b"[" * 100000 + b"]" * 100000 + b"}", None
    if kind == "huge_number":
        return key, json.dumps(ev).encode().replace(b'"version": 1', b'"version": ' + b"9" * 5000, 1), None
    if kind == "huge_string":  # a 900 KB turn: over the 32 KiB turn limit
        turns = [{"role": "user", "text": "a" * 900_000}]
        return key, json.dumps(dict(ev, turns=turns)).encode(), None
    if kind == "duplicate_keys":
        raw = json.dumps(ev).encode()
        return key, raw[:-1] + b', "call_id": "CPdup"}', None
    if kind == "many_headers":  # a valid body: headers are not part of the contract
        return key, json.dumps(ev).encode(), [("h%d" % i, b"x") for i in range(10000)]
    raise AssertionError(kind)


KINDS = ["invalid_json", "wrong_types", "key_mismatch", "invalid_utf8", "embedded_nul",
         "deep_nesting", "huge_number", "huge_string", "duplicate_keys", "many_headers"]


def metric(port, name):
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    return {m.group(1): float(m.group(2)) for m in re.finditer(
        r"^" + re.escape(name) + r"(\{[^}]*\})? (\S+)$", text, re.M)}


def test_one_percent_poison_is_dead_lettered_exactly(services, db, tmp_path):
    from confluent_kafka import Producer
    topic = make_topic(services)
    events = many_calls(EVENTS, tenants=10)
    rng = random.Random(7)
    bad_slots = sorted(rng.sample(range(EVENTS), EVENTS // 100))
    messages, expect_dead = [], 0
    for n, i in enumerate(bad_slots):
        kind = KINDS[n % len(KINDS)]
        k, v, h = poison(kind, events[i])
        messages.append((i, k, v, h))
        expect_dead += kind != "many_headers"
    bad_at = {i: (k, v, h) for i, k, v, h in messages}
    p = Producer({"bootstrap.servers": services.bootstrap, "enable.idempotence": True,
                  "linger.ms": 5, "message.max.bytes": 2_000_000})
    failures = []
    for i, ev in enumerate(events):
        if i in bad_at:
            k, v, h = bad_at[i]
        else:
            k, v, h = str(ev["customer_id"]).encode(), json.dumps(ev).encode(), None
        while True:
            try:
                p.produce(topic, key=k, value=v, headers=h,
                          on_delivery=lambda err, msg: failures.append(err) if err else None)
                break
            except BufferError:
                p.poll(0.05)
        p.poll(0)
    p.flush(120)
    assert not failures, failures[:3]
    total = len(events)

    daemons = {}
    try:
        for name in ("summarizer", "personality"):
            env = {"AIMEM_DB_URL": db.worker_url, "AIMEM_KAFKA_BOOTSTRAP_SERVERS": services.bootstrap,
                   "AIMEM_TOPICS_CALLS": topic, "AIMEM_CONSUMER_GROUP": f"poison-{name}",
                   "AIMEM_HTTP_PORT": "0", "AIMEM_LEXICONS_DIR": str(REPO / "workers/lexicons"),
                   "AIMEM_BATCH_MAX_EVENTS": "100"}  # so the batch bound bounds each message
            daemons[name] = Daemon([str(BUILD / f"bin/aimem-{name}")], env,
                                   tmp_path / f"{name}.log").wait_ready(pattern=r"metrics port=(\d+)")
        for name in daemons:
            wait_for(lambda: stored_total(db, f"poison-{name}") == total, timeout=600,
                     what=f"{name} through every message", interval=0.5)
        for name, d in daemons.items():
            assert d.proc.poll() is None, d.output()[-3000:]
            dead = query(db, "SELECT error_code, count(*) FROM dead_letters WHERE consumer_group = %s"
                             " GROUP BY 1", f"poison-{name}")
            assert sum(n for _, n in dead) == expect_dead, (name, dead)
            retries = sum(metric(d.port, "aimem_worker_batch_retries_total").values())
            assert retries == 0, f"{name}: {retries:.0f} batches retried"
            batches = metric(d.port, "aimem_worker_batch_seconds_bucket")
            within = next(v for k, v in batches.items() if f'le="{STALL_BOUND}"' in k)
            inf = next(v for k, v in batches.items() if 'le="+Inf"' in k)
            assert within == inf, f"{name}: {inf - within} batches took over {STALL_BOUND} s"
        valid = total - expect_dead
        assert query(db, "SELECT count(*) FROM call_summaries") == [(valid,)]
        assert query(db, "SELECT count(*) FROM personality_metrics") == [(valid,)]
    finally:
        for d in daemons.values():
            assert d.stop() == 0, d.output()[-3000:]
    for d in daemons.values():
        out = d.output()
        assert "aaaaaaaaaa" not in out and "Thanks for calling" not in out  # no payload in logs
