"""aimem-embedder against the real broker and PostgreSQL (and a fake embeddings server): each
call.ended event's transcript becomes passages in call_chunks exactly once, with the tenant's
BM25 statistics (search_terms, search_stats) always equal to what the passages hold; replays and
SIGKILLs change nothing; aimem erase removes a caller's passages; a model switch is a replay; and
/v3/search over the passages never shows another tenant's call or passage, in any mode."""
import copy
import json
import math
import os
import random
import signal
import subprocess
import time
import urllib.parse
import urllib.request
import uuid

import pytest

from conftest import BUILD, REPO, Daemon, make_topic, mint
from pipeline import FakeLLM, produce, query, stored_total, wait_for

FIXTURES = sorted(p for p in (REPO / "tests/fixtures/transcripts").glob("[0-9][0-9]_*.json")
                  if not p.name.endswith(".expect.json"))
SECRET = "s" * 40


def call(base, customer, user, n):
    ev = copy.deepcopy(base)
    ev.update(event_id=str(uuid.uuid4()), customer_id=customer, user_id=user,
              call_id=f"CA{customer}x{n}x{uuid.uuid4().hex[:6]}")
    return ev


def many_calls(n, tenants=3):
    base = [json.loads(p.read_text()) for p in FIXTURES[:12]]
    return [call(base[i % len(base)], 1 + i % tenants, f"55500{i % 20:05d}", i) for i in range(n)]


@pytest.fixture
def worker_env(services, db):
    topic = make_topic(services)
    group = "e-" + uuid.uuid4().hex[:8]
    env = {"AIMEM_DB_URL": db.worker_url, "AIMEM_KAFKA_BOOTSTRAP_SERVERS": services.bootstrap,
           "AIMEM_TOPICS_CALLS": topic, "AIMEM_CONSUMER_GROUP": group, "AIMEM_HTTP_PORT": "0",
           "AIMEM_EMBED_PROVIDER": "hashed", "AIMEM_KAFKA_SESSION_TIMEOUT_MS": "6000",
           "AIMEM_CHUNK_WORDS": "60", "AIMEM_CHUNK_OVERLAP": "10"}
    return topic, group, env


def start(env, tmp_path, name="embedder.log"):
    return Daemon([str(BUILD / "bin/aimem-embedder")], env, tmp_path / name).wait_ready(
        pattern=r"\bready group=")


def check_stats(db):
    """search_stats and search_terms are exactly what call_chunks holds, per tenant."""
    got = {r[0]: (r[1], r[2]) for r in query(db, "SELECT customer_id, passages, words FROM search_stats")}
    want = {r[0]: (r[1], r[2]) for r in query(
        db, "SELECT customer_id, count(*), sum(words) FROM call_chunks GROUP BY 1")}
    assert {k: v for k, v in got.items() if v != (0, 0)} == want
    got_df = {(r[0], r[1]): r[2] for r in query(
        db, "SELECT customer_id, lexeme, df FROM search_terms WHERE df <> 0")}
    want_df = {(r[0], r[1]): r[2] for r in query(
        db, "SELECT customer_id, lexeme, count(*) FROM call_chunks,"
            " unnest(tsvector_to_array(tsv)) AS lexeme GROUP BY 1, 2")}
    assert got_df == want_df
    check_postings(db)


def check_postings(db):
    """search_postings (migration 010, kept by triggers) is exactly the passages' and the
    summaries' lexemes with their counts, nothing more, nothing missing."""
    got = query(db, "SELECT customer_id, lexeme, tf, call_id, chunk_no, words FROM search_postings"
                    " ORDER BY 1, 2, 3, 4, 5")
    want = query(db, """
        SELECT customer_id, lexeme, tf, call_id, chunk_no, words FROM (
            SELECT c.customer_id, u.lexeme, cardinality(u.positions) AS tf, c.call_id, c.chunk_no,
                   c.words FROM call_chunks c, unnest(c.tsv) u
            UNION ALL
            SELECT s.customer_id, u.lexeme, cardinality(u.positions), s.call_id, -1, 0
            FROM call_summaries s, unnest(s.search_tsv) u) x ORDER BY 1, 2, 3, 4, 5""")
    assert got == want


def chunks(db):
    return query(db, "SELECT customer_id, call_id, chunk_no, content, words, model, event_id::text"
                     " FROM call_chunks ORDER BY 1, 2, 3")


def test_passages_written_once_and_a_replay_changes_nothing(services, db, worker_env, tmp_path):
    topic, group, env = worker_env
    events = many_calls(60)
    produce(services.bootstrap, topic, [(e["customer_id"], e) for e in events])
    d = start(env, tmp_path)
    try:
        wait_for(lambda: stored_total(db, group) == len(events), what="events stored")
    finally:
        assert d.stop() == 0, d.output()
    rows = chunks(db)
    assert {(r[0], r[1]) for r in rows} == {(e["customer_id"], e["call_id"]) for e in events}
    for r in rows:
        assert r[5] == "hashed-ngram/1" and 0 < r[4] <= 60
        assert r[3].startswith(("Caller: ", "Agent: ", "System: ", "Tool: ")), r[3][:40]
    # a call long enough for several passages: they overlap and keep who spoke
    longest = max(events, key=lambda e: sum(len(t["text"].split()) for t in e["turns"]))
    mine = [r for r in rows if r[1] == longest["call_id"]]
    assert len(mine) >= 2 and [r[2] for r in mine] == list(range(len(mine)))
    check_stats(db)
    vec = query(db, "SELECT count(*) FROM call_chunks WHERE vector_dims(embedding) = 384")[0][0]
    assert vec == len(rows)

    before = query(db, "SELECT call_id, chunk_no, updated_at FROM call_chunks ORDER BY 1, 2")
    out = subprocess.run([str(BUILD / "bin/aimem"), "replay", "--group", "embedder", "--from",
                          "earliest"], env=dict(os.environ, **env), capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert f"read={len(events)}" in out.stdout, out.stdout
    assert "rows_changed=0" in out.stdout, out.stdout  # nothing rewritten, and counted so
    assert query(db, "SELECT call_id, chunk_no, updated_at FROM call_chunks ORDER BY 1, 2") == before
    check_stats(db)


def test_sigkill_at_random_moments_loses_and_double_counts_nothing(services, db, worker_env, tmp_path):
    topic, group, env = worker_env
    kills = 8
    events = many_calls(600)
    env = dict(env, AIMEM_BATCH_MAX_EVENTS="15", AIMEM_KAFKA_GROUP_INSTANCE_ID="embedder-chaos")
    waves = [events[i::kills] for i in range(kills)]
    rng = random.Random(1414)
    d = start(env, tmp_path, "run0.log")
    try:
        for k in range(kills):
            produce(services.bootstrap, topic, [(e["customer_id"], e) for e in waves[k]])
            time.sleep(rng.uniform(0.0, 0.3))
            d.proc.send_signal(signal.SIGKILL)
            d.proc.wait(10)
            d.log.close()
            d = start(env, tmp_path, f"run{k + 1}.log")
        wait_for(lambda: stored_total(db, group) == len(events), timeout=180, what="all stored")
    finally:
        assert d.stop() == 0, d.output()
    got = {(r[0], r[1]) for r in query(db, "SELECT DISTINCT customer_id, call_id FROM call_chunks")}
    assert got == {(e["customer_id"], e["call_id"]) for e in events}
    # statistics are increments: a batch applied twice would count its lexemes twice
    check_stats(db)


def test_erase_removes_the_callers_passages(services, db, worker_env, tmp_path):
    topic, group, env = worker_env
    events = many_calls(30)
    produce(services.bootstrap, topic, [(e["customer_id"], e) for e in events])
    d = start(env, tmp_path)
    try:
        wait_for(lambda: stored_total(db, group) == len(events), what="events stored")
        victim = events[0]
        n = query(db, "SELECT count(*) FROM call_chunks WHERE customer_id = %s AND user_id = %s",
                  victim["customer_id"], victim["user_id"])[0][0]
        assert n > 0
        out = subprocess.run([str(BUILD / "bin/aimem"), "erase", "--customer",
                              str(victim["customer_id"]), "--user", victim["user_id"], "--json"],
                             env=dict(os.environ, AIMEM_DB_URL=db.worker_url), capture_output=True,
                             text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["deleted"]["call_chunks"] == n
        assert query(db, "SELECT count(*) FROM call_chunks WHERE customer_id = %s AND user_id = %s",
                     victim["customer_id"], victim["user_id"])[0][0] == 0
        check_stats(db)
        # a late event of the erased caller is dropped
        late = call(json.loads(FIXTURES[0].read_text()), victim["customer_id"], victim["user_id"], 999)
        produce(services.bootstrap, topic, [(late["customer_id"], late)])
        wait_for(lambda: stored_total(db, group) == len(events) + 1, what="late event")
        assert query(db, "SELECT count(*) FROM call_chunks WHERE call_id = %s", late["call_id"]) == [(0,)]
    finally:
        assert d.stop() == 0, d.output()


def fake_embeddings(llm, dim=384, fail_first=0):
    """The fake server answers /embeddings with a deterministic vector per text; the first
    fail_first requests get 503."""
    state = {"n": 0}

    def handler(body):
        state["n"] += 1
        if state["n"] <= fail_first:
            return 503, {"Retry-After": "0"}, '{"error":{"message":"busy"}}', 0
        data = []
        for i, text in enumerate(body["input"]):
            rnd = random.Random(text)
            v = [rnd.uniform(-1, 1) for _ in range(dim)]
            data.append({"object": "embedding", "index": i, "embedding": v})
        data.reverse()  # any order: the index decides
        return 200, {}, json.dumps({"object": "list", "data": data, "model": body["model"]}), 0
    llm.handler = handler
    return state


def test_openai_provider_batches_retries_and_a_model_switch_is_a_replay(services, db, worker_env, tmp_path):
    topic, group, env = worker_env
    events = many_calls(24)
    produce(services.bootstrap, topic, [(e["customer_id"], e) for e in events])
    d = start(env, tmp_path)  # hashed first
    try:
        wait_for(lambda: stored_total(db, group) == len(events), what="events stored")
    finally:
        assert d.stop() == 0, d.output()
    assert query(db, "SELECT DISTINCT model FROM call_chunks") == [("hashed-ngram/1",)]
    total = query(db, "SELECT count(*) FROM call_chunks")[0][0]
    llm = FakeLLM()
    try:
        fake_embeddings(llm, fail_first=2)
        oenv = dict(env, AIMEM_EMBED_PROVIDER="openai", AIMEM_EMBED_BASE_URL=llm.base_url,
                    AIMEM_EMBED_MODEL="fake-embed", AIMEM_EMBED_BATCH_SIZE="4",
                    AIMEM_EMBED_BACKOFF_BASE="10ms", AIMEM_EMBED_BACKOFF_CAP="50ms")
        out = subprocess.run([str(BUILD / "bin/aimem"), "replay", "--group", "embedder", "--from",
                              "earliest"], env=dict(os.environ, **oenv), capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        # the replay's report counts the rewritten passages (lib/worker lists call_chunks)
        changed = int(out.stdout.split("rows_changed=")[1].split()[0])
        assert changed >= total, out.stdout
        assert query(db, "SELECT DISTINCT model FROM call_chunks") == [("openai:fake-embed/384",)]
        assert query(db, "SELECT count(*) FROM call_chunks")[0][0] == total
        check_stats(db)  # the text did not change: neither did the statistics
        sizes = [len(r["input"]) for r in llm.requests]
        assert max(sizes) == 4 and sum(sizes) >= total + 2 * 0  # batches of 4, retried ones again
        assert all(r["model"] == "fake-embed" and r["encoding_format"] == "float" for r in llm.requests)
        # stored vectors are the server's, normalised
        row = query(db, "SELECT content, embedding::text FROM call_chunks LIMIT 1")[0]
        rnd = random.Random(row[0])
        want = [rnd.uniform(-1, 1) for _ in range(384)]
        norm = math.sqrt(sum(x * x for x in want))
        got = json.loads(row[1])
        assert max(abs(a - b / norm) for a, b in zip(got, want)) < 1e-4
    finally:
        llm.close()


def test_embedder_refuses_a_dimension_the_column_does_not_have(services, db, worker_env, tmp_path):
    topic, group, env = worker_env
    env = dict(env, AIMEM_EMBED_PROVIDER="openai", AIMEM_EMBED_BASE_URL="http://127.0.0.1:9/v1",
               AIMEM_EMBED_MODEL="m", AIMEM_EMBED_DIMENSIONS="768")
    out = subprocess.run([str(BUILD / "bin/aimem-embedder")], env=dict(os.environ, **env),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "vector(384)" in out.stderr, out.stderr


def search(port, tenant, q, mode, user=None):
    args = {"q": q, "mode": mode, "limit": "10"}
    if user:
        args["user_id"] = user
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v3/search?" + urllib.parse.urlencode(args),
                                 headers={"Authorization": "Bearer " + mint(SECRET, customer_id=tenant,
                                                                            scope="memory:read")})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def test_search_modes_find_the_call_and_never_another_tenants(services, db, worker_env, tmp_path):
    topic, group, env = worker_env
    base = json.loads(FIXTURES[1].read_text())  # the same transcript in both tenants
    mine = [call(base, 5, "5550001", i) for i in range(3)]
    theirs = [call(base, 6, "5550001", i) for i in range(3)]
    other = [call(json.loads(p.read_text()), 5, "5550002", 10 + i) for i, p in enumerate(FIXTURES[2:8])]
    events = mine + theirs + other
    produce(services.bootstrap, topic, [(e["customer_id"], e) for e in events])
    senv = dict(env, AIMEM_CONSUMER_GROUP=group + "-s", AIMEM_LEXICONS_DIR=str(REPO / "workers/lexicons"))
    e = start(env, tmp_path)
    s = Daemon([str(BUILD / "bin/aimem-summarizer")], senv, tmp_path / "summ.log").wait_ready(
        pattern=r"\bready group=")
    q = Daemon([str(BUILD / "bin/aimem-query")],
               {"AIMEM_HTTP_PORT": "0", "AIMEM_AUTH_JWT_SECRET": SECRET, "AIMEM_DB_URL": db.reader_url,
                "AIMEM_EMBED_PROVIDER": "hashed"}, tmp_path / "query.log").wait_ready()
    try:
        wait_for(lambda: stored_total(db, group) == len(events)
                 and stored_total(db, group + "-s") == len(events), what="both groups")
        words = " ".join(base["turns"][1]["text"].split()[:12])
        ids5 = {x["call_id"] for x in mine + other}
        for mode in ("text", "semantic", "hybrid"):
            res = search(q.port, 5, words, mode)
            got = [r["call_id"] for r in res["results"]]
            assert got, mode
            assert set(got) <= ids5, (mode, got)
            assert set(got[:3]) == {x["call_id"] for x in mine}, (mode, got)
            assert len(got) == len(set(got))  # each call once
            for r in res["results"]:
                assert r["snippet"] and r["call"]["summary"] and r["call"]["call_id"] == r["call_id"]
            # tenant 6 sees only its own copies; a tenant without data sees nothing
            res6 = search(q.port, 6, words, mode)
            assert {r["call_id"] for r in res6["results"]} <= {x["call_id"] for x in theirs}
            assert search(q.port, 7, words, mode)["results"] == []
            # within one caller
            resu = search(q.port, 5, words, mode, user="5550002")
            assert all(r["user_id"] == "5550002" for r in resu["results"])
        # text mode: any word matches (OR), stop words alone match nothing
        assert search(q.port, 5, "the and of", "text")["results"] == []
        res = search(q.port, 5, "zzzunknownword " + words.split()[-1], "text")
        assert res["results"]
        assert "**" in res["results"][0]["snippet"]
    finally:
        for dmn in (q, s, e):
            assert dmn.stop() == 0, dmn.output()


def compat_search(port, tenant, q):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v2/summaries/search",
                                 data=json.dumps({"query": q}).encode(), method="POST",
                                 headers={"Content-Type": "application/json",
                                          "Authorization": "Bearer " + mint(SECRET, customer_id=tenant,
                                                                            scope="memory:read")})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def test_a_call_is_found_before_its_summary_and_by_words_only_its_summary_has(services, db, worker_env, tmp_path):
    """Issue 14 item 1: the summary is a text passage of its own, written once by the summarizer
    (call_summaries.search_tsv, ranked with the passages); a call the summarizer has not reached
    is still found, with "call": null."""
    topic, group, env = worker_env
    base = json.loads(FIXTURES[1].read_text())
    events = [call(base, 8, "5550008", i) for i in range(3)]
    produce(services.bootstrap, topic, [(e["customer_id"], e) for e in events])
    words = " ".join(base["turns"][1]["text"].split()[:12])
    e = start(env, tmp_path)
    q = Daemon([str(BUILD / "bin/aimem-query")],
               {"AIMEM_HTTP_PORT": "0", "AIMEM_AUTH_JWT_SECRET": SECRET, "AIMEM_DB_URL": db.reader_url,
                "AIMEM_EMBED_PROVIDER": "hashed"}, tmp_path / "query.log").wait_ready()
    s = None
    try:
        wait_for(lambda: stored_total(db, group) == len(events), what="passages")
        ids = {x["call_id"] for x in events}
        for mode in ("text", "semantic", "hybrid"):
            res = search(q.port, 8, words, mode)["results"]
            assert {r["call_id"] for r in res} == ids, mode
            assert all(r["call"] is None and r["user_id"] == "5550008" and r["snippet"] for r in res)
            res = search(q.port, 8, words, mode, user="5550008")["results"]
            assert {r["call_id"] for r in res} == ids, mode
        # the previous service's route searched summaries: nothing yet
        assert compat_search(q.port, 8, words)["results"] == []

        senv = dict(env, AIMEM_CONSUMER_GROUP=group + "-s", AIMEM_LEXICONS_DIR=str(REPO / "workers/lexicons"))
        s = Daemon([str(BUILD / "bin/aimem-summarizer")], senv, tmp_path / "summ.log").wait_ready(
            pattern=r"\bready group=")
        wait_for(lambda: stored_total(db, group + "-s") == len(events), what="summaries")
        res = search(q.port, 8, words, "hybrid")["results"]
        assert {r["call_id"] for r in res} == ids
        assert all(r["call"]["call_id"] == r["call_id"] and r["call"]["summary"] for r in res)
        assert {r["call_id"] for r in compat_search(q.port, 8, words)["results"]} == ids

        # a word only one summary holds (no passage has it) finds that call, by its summary
        target = events[0]["call_id"]
        query(db, "UPDATE call_summaries SET search_tsv = search_tsv || to_tsvector('english', 'zebracorn')"
                  " WHERE customer_id = 8 AND call_id = %s RETURNING call_id", target)
        assert query(db, "SELECT count(*) FROM call_chunks WHERE tsv @@ 'zebracorn'::tsquery") == [(0,)]
        for user in (None, "5550008"):
            res = search(q.port, 8, "zebracorn", "text", user=user)["results"]
            assert [r["call_id"] for r in res] == [target]
            assert res[0]["text_rank"] > 0 and res[0]["call"]["summary"] and res[0]["snippet"]
        assert search(q.port, 9, "zebracorn", "text")["results"] == []  # another tenant: nothing
        check_postings(db)  # the summarizer's rows and the UPDATE above, through the triggers
    finally:
        for dmn in (q, s, e):
            if dmn is not None:
                assert dmn.stop() == 0, dmn.output()
