"""The stored caller context (caller_context, migration 009) is always what the full derivation
gives, whatever happened: a property test against the real broker and PostgreSQL.

aimem-summarizer (with a fake LLM that fails some calls, so the built-in fallback stands in and a
later retry of the same event replaces it with the model's result) and aimem-personality run at
once on one topic, in small batches, while random rounds of events arrive: new calls in random
time order, exact duplicates (client retries, replays), a call moved to another caller, a failed
call sent again, and erasures between rounds. After each round, for every caller ever used in
both tenants and several summary counts, the stored row cut like aimem-query cuts it must equal
the old one-statement derivation (bench/query_sql prints it: calls/context_sql.h's
CONTEXT_SQL_DOC) and the text rendered from that derivation (build/tests/context_text); a caller
with nothing to say has no row. AIMEM_CONTEXT_SEED picks the sequence (printed on failure).
"""
import copy
import json
import os
import random
import re
import subprocess
import uuid
from datetime import datetime, timedelta, timezone

import psycopg2
import pytest

from conftest import BUILD, REPO, Daemon, aimem, make_topic
from pipeline import FakeLLM, produce, stored_total, wait_for

FIXDIR = REPO / "tests/fixtures/personality"
BASE = json.loads(next(FIXDIR.glob("27_*.json")).read_text())
USERS = ["5550000001", "5550000002", "5550000003", "5550000004"]
TENANTS = (7, 8)
NAMES = ["Kelly Nguyen", "Omar", "Dana Smith", "Lee"]
T0 = datetime(2026, 11, 1, 9, 0, 0, tzinfo=timezone.utc)
COUNTS = (0, 1, 3, 5, 10)


def event(customer, user, call_id, ended, name):
    ev = copy.deepcopy(BASE)
    ev.update(event_id=str(uuid.uuid4()), customer_id=customer, user_id=user, call_id=call_id,
              ended_at=ended.strftime("%Y-%m-%dT%H:%M:%SZ"))
    ev.pop("started_at", None)
    for t in ev["turns"]:
        t.pop("at", None)
    ev["turns"][1]["text"] = f"Hi, this is {name}. CALLREF {call_id} my bill went up again."
    return ev


class Model:
    """The fake LLM's behaviour: calls in failing get a 500 (the fallback stands in)."""

    def __init__(self, fake):
        self.failing = set()
        fake.handler = self.answer

    def answer(self, body):
        m = re.search(r"CALLREF ([A-Za-z0-9._:-]+)", body["messages"][-1]["content"])
        cid = m.group(1) if m else "?"
        if cid in self.failing:
            return 500, {}, '{"error":"down"}', 0
        return 200, {}, FakeLLM.completion({
            "summary": f"Model summary of {cid}: the caller's bill rose and was explained.",
            "key_topics": ["billing"], "caller_name": None,
            "key_variables": {"policy_numbers": [f"AP-{abs(hash(cid)) % 100000:05d}"]},
            "sentiment": "neutral", "resolution_status": "resolved"}), 0


def derivation_sql():
    return subprocess.run([str(BUILD / "bench/query_sql")], capture_output=True, text=True,
                          check=True).stdout.strip()


def render(doc_text):
    return subprocess.run([str(BUILD / "tests/context_text")], input=doc_text, capture_output=True,
                          text=True, check=True).stdout


def unescape(s):
    return json.loads('"' + s + '"')


def check_all(db, sql, users, where):
    """Every caller of both tenants: stored == derived, for each summary count."""
    conn = psycopg2.connect(db.worker_url)
    try:
        with conn.cursor() as cur:
            cur.execute(f"PREPARE derive(text, int) AS {sql}")
            for tenant in TENANTS:
                cur.execute("BEGIN")
                cur.execute("SELECT set_config('app.current_tenant', %s, true)", (str(tenant),))
                for user in users:
                    cur.execute("EXECUTE derive(%s, 10)", (user,))
                    full = json.loads(cur.fetchone()[0])
                    cur.execute("SELECT count(*) FROM caller_context WHERE user_id = %s", (user,))
                    stored = cur.fetchone()[0]
                    empty = (full["profile"] is None and full["personality"] is None
                             and not full["facts"] and not full["summaries"])
                    assert stored == (0 if empty else 1), (where, tenant, user, full)
                    if empty:
                        continue
                    # how new the row is (read-your-writes, migration 012): the newest event
                    # time of the caller's summaries, whatever order they came in
                    cur.execute("SELECT c.event_at IS NOT DISTINCT FROM (SELECT max(s.event_at)"
                                " FROM call_summaries s WHERE s.user_id = c.user_id),"
                                " (SELECT count(*) FROM call_summaries s WHERE s.user_id = c.user_id"
                                " AND s.event_at IS NULL) FROM caller_context c WHERE c.user_id = %s",
                                (user,))
                    assert cur.fetchone() == (True, 0), (where, tenant, user)
                    for n in COUNTS:
                        cur.execute("EXECUTE derive(%s, %s)", (user, n))
                        derived_text = cur.fetchone()[0]
                        derived = json.loads(derived_text)
                        cur.execute(
                            "SELECT doc_head || '[' || array_to_string(doc_sums[1:%s], '') || ']}',"
                            " text_head || array_to_string(text_sums[1:%s], ''), has_personality"
                            " FROM caller_context WHERE user_id = %s", (n, n, user))
                        doc, text, has_pers = cur.fetchone()
                        got = json.loads(doc)
                        if n == 0:  # the old derivation's known looked at the n summaries only
                            derived["known"] = full["known"]
                        assert got == derived, (where, tenant, user, n)
                        assert unescape(text) == render(json.dumps(derived)), (where, tenant, user, n)
                        assert has_pers == (derived["personality"] is not None)
                cur.execute("COMMIT")
    finally:
        conn.close()


def start(binary, env, log):
    return Daemon([str(BUILD / "bin" / binary)], env, log).wait_ready(pattern=r"\bready group=")


@pytest.fixture
def fake():
    f = FakeLLM()
    yield f
    f.close()


def test_stored_context_always_equals_the_full_derivation(services, db, tmp_path, fake):
    seed = int(os.environ.get("AIMEM_CONTEXT_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    print(f"AIMEM_CONTEXT_SEED={seed}")
    model = Model(fake)
    topic = make_topic(services)
    common = {"AIMEM_DB_URL": db.worker_url, "AIMEM_KAFKA_BOOTSTRAP_SERVERS": services.bootstrap,
              "AIMEM_TOPICS_CALLS": topic, "AIMEM_HTTP_PORT": "0",
              "AIMEM_LEXICONS_DIR": str(REPO / "workers/lexicons"),
              "AIMEM_KAFKA_SESSION_TIMEOUT_MS": "6000", "AIMEM_BATCH_MAX_EVENTS": "3",
              "AIMEM_RETRY_BASE": "50ms", "AIMEM_RETRY_CAP": "500ms"}
    sgroup, pgroup = "s-" + uuid.uuid4().hex[:8], "p-" + uuid.uuid4().hex[:8]
    senv = dict(common, AIMEM_CONSUMER_GROUP=sgroup, AIMEM_PROCESSOR="llm",
                AIMEM_LLM_PROMPT=str(REPO / "workers/summarizer/prompts/summarize.v1.txt"),
                AIMEM_LLM_BASE_URL=fake.base_url, AIMEM_LLM_MODEL="test-model",
                AIMEM_LLM_TIMEOUT="5s", AIMEM_LLM_MAX_ATTEMPTS="1", AIMEM_LLM_POLICY="fallback")
    penv = dict(common, AIMEM_CONSUMER_GROUP=pgroup,
                AIMEM_LLM_PROMPT=str(REPO / "workers/personality/prompts/personality.v1.txt"))
    summarizer = start("aimem-summarizer", senv, tmp_path / "summarizer.log")
    personality = start("aimem-personality", penv, tmp_path / "personality.log")
    sql = derivation_sql()
    sent, calls, produced, erased = [], {}, 0, set()
    try:
        for rnd in range(8):
            batch = []
            for _ in range(rng.randint(4, 9)):
                tenant = rng.choice(TENANTS)
                kind = rng.random()
                if kind < 0.5 or not sent:  # a new call, at a random time (out of order)
                    user = rng.choice(USERS)
                    cid = f"CA{tenant}r{rnd}x{uuid.uuid4().hex[:6]}"
                    ended = T0 + timedelta(minutes=rng.randint(0, 5000))
                    ev = event(tenant, user, cid, ended, rng.choice(NAMES))
                    if rng.random() < 0.3:
                        model.failing.add(cid)
                    calls[(tenant, cid)] = ev
                elif kind < 0.7:  # an exact duplicate: a client retry, a replay
                    ev = rng.choice(sent)
                elif kind < 0.85:  # the same call, another caller (a correction)
                    old = rng.choice(list(calls.values()))
                    ev = dict(copy.deepcopy(old), event_id=str(uuid.uuid4()),
                              user_id=rng.choice([u for u in USERS if u != old["user_id"]]))
                    calls[(ev["customer_id"], ev["call_id"])] = ev
                else:  # a call the model failed, sent again: the model's result replaces it
                    failed = [e for e in sent if e["call_id"] in model.failing]
                    ev = rng.choice(failed) if failed else rng.choice(sent)
                    model.failing.discard(ev["call_id"])
                batch.append((ev["customer_id"], ev))
                sent.append(ev)
            # which worker commits first matters (each rewrites the whole row): in some rounds
            # one of them is held back until the other has stored the round
            late = rng.choice(["personality", "summarizer", None])
            if late == "personality":
                assert personality.stop() == 0, personality.output()
            elif late == "summarizer":
                assert summarizer.stop() == 0, summarizer.output()
            produce(services.bootstrap, topic, batch)
            produced += len(batch)
            for group in (sgroup, pgroup):
                if (group == sgroup and late == "summarizer") or (group == pgroup and late == "personality"):
                    continue
                wait_for(lambda g=group: stored_total(db, g) == produced, timeout=90,
                         what=f"round {rnd} stored by {group} (seed {seed})")
            if late == "personality":
                personality = start("aimem-personality", penv, tmp_path / f"personality{rnd}.log")
            elif late == "summarizer":
                summarizer = start("aimem-summarizer", senv, tmp_path / f"summarizer{rnd}.log")
            for group in (sgroup, pgroup):
                wait_for(lambda g=group: stored_total(db, g) == produced, timeout=90,
                         what=f"round {rnd} stored by {group} (seed {seed})")
            if rnd in (3, 6):  # an erasure between rounds; later events of that caller drop
                tenant, user = rng.choice(TENANTS), rng.choice(USERS)
                aimem("erase", "--customer", str(tenant), "--user", user,
                      env={"AIMEM_DB_URL": db.worker_url, "AIMEM_KAFKA_BOOTSTRAP_SERVERS": ""})
                erased.add((tenant, user))
            check_all(db, sql, USERS, f"round {rnd} seed {seed}")
        with db.connect(autocommit=True) as conn, conn.cursor() as cur:
            cur.execute("SELECT count(*), count(*) FILTER (WHERE needs_reprocess),"
                        " count(DISTINCT processor) FROM call_summaries")
            total, fallback, processors = cur.fetchone()
            cur.execute("SELECT count(*) FROM caller_context")
            rows = cur.fetchone()[0]
        print(f"calls={total} fallback_left={fallback} processors={processors} contexts={rows}"
              f" events={produced} erased={sorted(erased)}")
        assert total > 5 and rows > 0, (total, fallback, processors, rows)
    finally:
        assert summarizer.stop() == 0, summarizer.output()
        assert personality.stop() == 0, personality.output()


def test_rebuild_changes_nothing_the_workers_wrote(services, db, tmp_path):
    """aimem context rebuild derives the same rows the workers stored (same ETags), and puts
    back a row deleted behind the workers' back."""
    topic = make_topic(services)
    env = {"AIMEM_DB_URL": db.worker_url, "AIMEM_KAFKA_BOOTSTRAP_SERVERS": services.bootstrap,
           "AIMEM_TOPICS_CALLS": topic, "AIMEM_HTTP_PORT": "0",
           "AIMEM_CONSUMER_GROUP": "s-" + uuid.uuid4().hex[:8],
           "AIMEM_LEXICONS_DIR": str(REPO / "workers/lexicons"),
           "AIMEM_LLM_PROMPT": str(REPO / "workers/summarizer/prompts/summarize.v1.txt"),
           "AIMEM_KAFKA_SESSION_TIMEOUT_MS": "6000"}
    events = [(7, event(7, USERS[i % 3], f"CA7b{i}", T0 + timedelta(hours=i), NAMES[i % 4]))
              for i in range(12)]
    produce(services.bootstrap, topic, events)
    d = start("aimem-summarizer", env, tmp_path / "summarizer.log")
    try:
        wait_for(lambda: stored_total(db, env["AIMEM_CONSUMER_GROUP"]) == len(events))
    finally:
        assert d.stop() == 0, d.output()

    def rows():
        with db.connect(autocommit=True) as conn, conn.cursor() as cur:
            cur.execute("SELECT user_id, etag, updated_at FROM caller_context ORDER BY user_id")
            return cur.fetchall()
    before = rows()
    assert len(before) == 3
    out = aimem("context", "rebuild", "--customer", "7", env={"AIMEM_DB_URL": db.worker_url}).stdout
    assert "callers=3" in out
    assert rows() == before  # same ETags: nothing rewritten
    with db.connect(autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM caller_context WHERE user_id = %s", (USERS[0],))
    aimem("context", "rebuild", "--customer", "7", env={"AIMEM_DB_URL": db.worker_url})
    after = rows()
    assert [(u, e) for u, e, _ in after] == [(u, e) for u, e, _ in before]
