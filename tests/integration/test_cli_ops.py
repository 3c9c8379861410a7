"""The operator commands of `aimem` against the real PostgreSQL and Kafka: erase (end to end
through a running aimem-summarizer), token (accepted by aimem-ingest and aimem-query), lag and
import-previous."""
import json
import urllib.request
import uuid

import pytest

from conftest import BUILD, REPO, Daemon, aimem, make_topic
from pipeline import produce, query, stored_total, wait_for
from test_summarizer import call, fixture

SECRET = "cli-ops-test-secret-" + "x" * 24


def summarizer(services, db, tmp_path, topic, group):
    env = {"AIMEM_DB_URL": db.worker_url, "AIMEM_KAFKA_BOOTSTRAP_SERVERS": services.bootstrap,
           "AIMEM_TOPICS_CALLS": topic, "AIMEM_CONSUMER_GROUP": group, "AIMEM_HTTP_PORT": "0",
           "AIMEM_LEXICONS_DIR": str(REPO / "workers/lexicons"),
           "AIMEM_LLM_PROMPT": str(REPO / "workers/summarizer/prompts/summarize.v1.txt"),
           "AIMEM_KAFKA_SESSION_TIMEOUT_MS": "6000"}
    return Daemon([str(BUILD / "bin/aimem-summarizer")], env, tmp_path / "summarizer.log").wait_ready(
        pattern=r"\bready group=")


def seed_other_tables(db, customer, user):
    """A memory, a personality metric and an average for the caller (the summarizer wrote the
    summaries and the profile)."""
    scores = ", ".join(["50"] * 13)
    with db.connect() as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO memories (customer_id, memory_id, user_id, scope, mtype, key, value)"
                    " VALUES (%s, %s, %s, 'user', 'fact', 'car', '\"blue\"')",
                    (customer, str(uuid.uuid4()), user))
        cur.execute("INSERT INTO personality_metrics (customer_id, call_id, user_id, measured_at,"
                    " openness, conscientiousness, extraversion, agreeableness, neuroticism, formality,"
                    " directness, detail_orientation, patience, technical_comfort, frustration_level,"
                    " satisfaction_level, urgency_level, confidence, processor, event_id)"
                    f" VALUES (%s, %s, %s, now(), {scores}, 0.5, 'test', %s)",
                    (customer, "PM" + uuid.uuid4().hex[:8], user, str(uuid.uuid4())))
        cur.execute("INSERT INTO personality_averages (customer_id, user_id, call_count)"
                    " VALUES (%s, %s, 1)", (customer, user))


def caller_rows(db, customer, user):
    out = {}
    for t in ("call_summaries", "caller_profiles", "personality_metrics", "personality_averages",
              "memories", "caller_facts", "caller_context", "call_chunks"):
        out[t] = query(db, f"SELECT count(*) FROM {t} WHERE customer_id = %s AND user_id = %s",
                       customer, user)[0][0]
    return out


def test_erase_removes_the_caller_everywhere_and_workers_drop_later_events(services, db, tmp_path):
    topic = make_topic(services)
    group = "s-" + uuid.uuid4().hex[:8]
    gone, kept = "9495550101", "9495550102"
    base = fixture("01_")
    first = [(7, call(base, 7, gone, 1)), (7, call(base, 7, gone, 2)), (7, call(base, 7, kept, 3)),
             (8, call(base, 8, gone, 4))]  # the same number at another tenant is another caller
    produce(services.bootstrap, topic, first)
    d = summarizer(services, db, tmp_path, topic, group)
    try:
        wait_for(lambda: stored_total(db, group) == len(first), what="first calls stored")
        for c, u in ((7, gone), (7, kept), (8, gone)):
            seed_other_tables(db, c, u)
        before_kept = caller_rows(db, 7, kept)
        before_other_tenant = caller_rows(db, 8, gone)

        env = {"AIMEM_DB_URL": db.worker_url}
        out = aimem("erase", "--customer", "7", "--user", gone, "--json", env=env).stdout
        report = json.loads(out)
        facts = report["deleted"].pop("caller_facts")
        assert facts >= 1  # at least the name fixture 01 gives ("Kelly Nguyen")
        chunks = report["deleted"].pop("call_chunks")
        assert chunks == 0  # no embedder ran here: test_embedder covers erasing passages
        assert report["deleted"].pop("caller_context") == 1  # the summarizer stored it
        assert report["deleted"] == {"call_summaries": 2, "caller_profiles": 1,
                                     "personality_metrics": 1, "personality_averages": 1,
                                     "memories": 1}
        assert report["total"] == 7 + facts
        report["deleted"]["caller_facts"] = facts
        report["deleted"]["caller_context"] = 1
        report["deleted"]["call_chunks"] = chunks
        assert set(caller_rows(db, 7, gone).values()) == {0}
        assert caller_rows(db, 7, kept) == before_kept
        assert caller_rows(db, 8, gone) == before_other_tenant
        erasure = query(db, "SELECT customer_id, user_id, rows_deleted FROM erasures")
        assert erasure == [(7, gone, report["deleted"])]

        # idempotent: nothing left to delete, the erasure stays recorded once
        out = aimem("erase", "--customer", "7", "--user", gone, env=env).stdout
        assert "total                  0" in out and "call_summaries         0" in out
        assert query(db, "SELECT count(*), min(rows_deleted->>'call_summaries') FROM erasures") == [(1, "2")]

        # a later call of the erased caller goes through Kafka and the running worker: dropped
        later = [(7, call(base, 7, gone, 5)), (7, call(base, 7, kept, 6))]
        produce(services.bootstrap, topic, later)
        wait_for(lambda: stored_total(db, group) == len(first) + len(later), what="later calls handled")
        assert set(caller_rows(db, 7, gone).values()) == {0}
        assert caller_rows(db, 7, kept)["call_summaries"] == before_kept["call_summaries"] + 1
    finally:
        assert d.stop() == 0, d.output()


def test_erase_usage_errors(db):
    env = {"AIMEM_DB_URL": db.worker_url}
    assert aimem("erase", "--customer", "7", env=env, check=False).returncode == 2
    p = aimem("erase", "--customer", "0", "--user", "1", env=env, check=False)
    assert p.returncode == 2 and "--customer" in p.stderr


# ---- token --------------------------------------------------------------------------------

def http(port, method, path, token, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method,
                                 headers={"Authorization": f"Bearer {token}",
                                          "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def token(*args, **env):
    return aimem("token", *args, env=env).stdout.strip()


def test_token_ttl_beyond_the_apis_max_lifetime_is_refused_with_it():
    """--ttl 48h against the default auth.max_lifetime (24h, the setting the APIs read) is
    refused naming the maximum; with auth.max_lifetime raised it is minted."""
    p = aimem("token", "--customer", "7", "--ttl", "48h", check=False,
              env={"AIMEM_AUTH_JWT_SECRET": SECRET})
    assert p.returncode == 1 and "longer than auth.max_lifetime (86400s)" in p.stderr, p.stderr
    assert token("--customer", "7", "--ttl", "48h", AIMEM_AUTH_JWT_SECRET=SECRET,
                 AIMEM_AUTH_MAX_LIFETIME="3d").count(".") == 2


def test_token_is_accepted_by_ingest_and_query(services, db, tmp_path):
    calls, memories = make_topic(services), make_topic(services)
    ingest = Daemon([str(BUILD / "bin/aimem-ingest")],
                    {"AIMEM_HTTP_PORT": "0", "AIMEM_AUTH_JWT_SECRET": SECRET,
                     "AIMEM_KAFKA_BOOTSTRAP_SERVERS": services.bootstrap,
                     "AIMEM_TOPICS_CALLS": calls, "AIMEM_TOPICS_MEMORIES": memories},
                    tmp_path / "ingest.log").wait_ready()
    q = Daemon([str(BUILD / "bin/aimem-query")],
               {"AIMEM_HTTP_PORT": "0", "AIMEM_AUTH_JWT_SECRET": SECRET,
                "AIMEM_DB_URL": db.reader_url, "AIMEM_HTTP_THREADS": "2"},
               tmp_path / "query.log").wait_ready()
    try:
        secret_file = tmp_path / "jwt"
        secret_file.write_text(SECRET + "\n")
        rw = token("--customer", "7", AIMEM_AUTH_JWT_SECRET_FILE=str(secret_file))
        body = {"scope": "user", "user_id": "9495550199", "mtype": "fact", "key": "car",
                "value": "blue"}
        st, out = http(ingest.port, "POST", "/v3/memories", rw,
                       body)
        assert st == 202, out
        st, out = http(q.port, "GET", "/v3/callers/9495550199/context", rw)
        assert st == 200 and out["known"] is False, out

        ro = token("--customer", "7", "--scope", "memory:read", "--ttl", "5m",
                   AIMEM_AUTH_JWT_SECRET=SECRET)
        assert http(q.port, "GET", "/v3/callers/9495550199/context", ro)[0] == 200
        assert http(ingest.port, "POST", "/v3/memories", ro,
                    body)[0] == 403
        other = token("--customer", "7", AIMEM_AUTH_JWT_SECRET="another-secret-" + "y" * 32)
        assert http(q.port, "GET", "/v3/callers/9495550199/context", other)[0] == 401
    finally:
        assert ingest.stop() == 0, ingest.output()
        assert q.stop() == 0, q.output()


def test_token_refuses_without_a_secret_and_never_from_argv():
    p = aimem("token", "--customer", "7", env={"AIMEM_AUTH_JWT_SECRET": ""}, check=False)
    assert p.returncode == 1 and "auth.jwt_secret is not set" in p.stderr and p.stdout == ""
    p = aimem("token", "--customer", "7", "--secret", SECRET, check=False)
    assert p.returncode == 2 and p.stdout == ""
    p = aimem("token", "--customer", "7", env={"AIMEM_AUTH_JWT_SECRET": "short"}, check=False)
    assert p.returncode == 1 and "32" in p.stderr
    p = aimem("token", "--customer", "7", "--ttl", "1", env={"AIMEM_AUTH_JWT_SECRET": SECRET},
              check=False)
    assert p.returncode == 2


# ---- lag ----------------------------------------------------------------------------------

def test_lag_per_partition_with_the_age_of_the_oldest_unprocessed_event(services, db):
    import time

    from confluent_kafka import Producer
    topic = make_topic(services, partitions=2)
    group = "g-" + uuid.uuid4().hex[:8]
    p = Producer({"bootstrap.servers": services.bootstrap})
    t0 = int(time.time() * 1000) - 120_000  # produced "two minutes ago" (CreateTime)
    for i in range(5):
        p.produce(topic, partition=0, key="7", value=b"{}", timestamp=t0 + i * 1000)
    p.produce(topic, partition=1, key="7", value=b"{}", timestamp=t0)
    p.flush(30)
    with db.connect() as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO consumer_offsets (consumer_group, topic, partition, next_offset)"
                    " VALUES (%s, %s, 0, 2), (%s, %s, 1, 1), ('other', %s, 0, 0)",
                    (group, topic, group, topic, topic))
    env = {"AIMEM_DB_URL": db.worker_url, "AIMEM_KAFKA_BOOTSTRAP_SERVERS": services.bootstrap}
    rows = json.loads(aimem("lag", "--group", group, "--json", env=env).stdout)["partitions"]
    assert [(r["group"], r["partition"], r["next_offset"], r["high_watermark"], r["lag"])
            for r in rows] == [(group, 0, 2, 5, 3), (group, 1, 1, 1, 0)]
    p0, p1 = rows
    assert 110 < p0["oldest_unprocessed_age_seconds"] < 300  # the message at offset 2: t0 + 2 s
    assert p0["oldest_unprocessed_at"].endswith("Z") and p0["error"] is None
    assert p1["oldest_unprocessed_age_seconds"] is None and p1["error"] is None

    table = aimem("lag", env=env).stdout.splitlines()  # every group
    assert table[0].split() == ["GROUP", "TOPIC", "PART", "NEXT_OFFSET", "HIGH_WATER", "LAG",
                                "OLDEST_AGE"]
    assert any(line.split()[:6] == ["other", topic, "0", "0", "5", "5"] for line in table[1:])
    assert len(table) == 4


def test_lag_reports_an_unreachable_broker(db):
    env = {"AIMEM_DB_URL": db.worker_url, "AIMEM_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
           "AIMEM_LAG_TIMEOUT": "1s"}
    with db.connect() as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO consumer_offsets (consumer_group, topic, partition, next_offset)"
                    " VALUES ('g', 't', 0, 0)")
    p = aimem("lag", env=env, check=False)
    assert p.returncode == 1 and "error: watermarks" in p.stdout


# ---- import-previous ----------------------------------------------------------------------

@pytest.fixture
def previous_db(services):
    from conftest import admin_connect, create_database
    name = "prev_" + uuid.uuid4().hex[:10]
    create_database(services, name)
    with admin_connect(services, name) as conn, conn.cursor() as cur:
        cur.execute((REPO / "tests/fixtures/previous_schema.sql").read_text())
    yield services.url(name)
    with admin_connect(services) as conn, conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def snapshot(db):
    out = {}
    for t, key in (("memories", "customer_id, memory_id"), ("call_summaries", "customer_id, call_id"),
                   ("caller_profiles", "customer_id, user_id"),
                   ("personality_metrics", "customer_id, call_id"),
                   ("personality_averages", "customer_id, user_id")):
        out[t] = query(db, f"SELECT to_jsonb(x)::text FROM {t} x ORDER BY {key}")
    return out


def embed(text):
    import subprocess
    return subprocess.run([str(BUILD / "tests/embed_text")], input=text + "\n", text=True,
                          capture_output=True, check=True).stdout.strip()


def test_import_previous_copies_recomputes_and_is_idempotent(db, previous_db):
    env = {"AIMEM_DB_URL": db.worker_url}
    first = aimem("import-previous", "--from", previous_db, env=env).stdout
    assert "3 tenants imported, 0 failed" in first, first
    assert "call_summaries 7 read 6 written 1 skipped" in first, first
    once = snapshot(db)
    second = aimem("import-previous", env=dict(env, AIMEM_IMPORT_FROM_URL=previous_db)).stdout
    assert snapshot(db) == once  # nothing rewritten, no duplicates
    total = [line for line in second.splitlines() if line.startswith("total:")][0]
    assert total.count(" 0 written") == 5, second

    # memories: the newest save per slot, shared rows kept shared, refused rows skipped
    mem = query(db, "SELECT customer_id, user_id, scope, mtype, key, value, expires_at IS NOT NULL"
                    " FROM memories ORDER BY 1, 4, 5")
    assert mem == [(1, None, "shared", "admin_setting", "greeting",
                    {"setting_key": "greeting", "value": "Hi"}, True),
                   (1, "9495551234", "user", "person", "name", "Kelly", True),
                   (1, "9495551234", "user", "thread_recap", "thread_history:CA1", {"turns": 4}, False),
                   (2, "9495551234", "user", "person", "name", "Sam", True)]

    # summaries: UTC times, our embedding of summary + topics, processor recorded
    rows = query(db, "SELECT customer_id, call_id, call_ended_at::text, processor, key_topics,"
                     " key_variables, embedding::text, vector_dims(embedding), search_tsv @@ 'windshield'::tsquery,"
                     " duration_seconds, call_started_at::text FROM call_summaries ORDER BY 1, 2")
    assert [(r[0], r[1]) for r in rows] == [(1, "CAprev0001"), (1, "CAprev0002"), (1, "CAprev0003"),
                                            (1, "CAprev0004"), (2, "CAprev0005"), (3, "CAprev0006")]
    r1 = rows[0]
    assert r1[2] == "2026-10-01 15:00:00+00" and r1[3] == "import:previous" and r1[7] == 384
    assert r1[6] == embed("Caller asked about a billing charge on the auto policy. billing auto policy")
    assert r1[9] == 240 and r1[10] == "2026-10-01 14:56:00+00"
    assert rows[2][4] == [] and rows[2][5] == {} and rows[2][8] is True  # bad jsonb → defaults

    # profiles: recounted, the name from the newest named call, preferences kept
    prof = query(db, "SELECT customer_id, user_id, total_calls, preferred_name, preferences,"
                     " first_call_at::text, last_call_at::text FROM caller_profiles ORDER BY 1, 2")
    assert prof == [(1, "5550009999", 0, "Old", {}, "2026-08-01 10:00:00+00", "2026-08-02 10:00:00+00"),
                    (1, "9495550000", 1, None, {}, "2026-10-02 07:59:00+00", "2026-10-02 08:00:00+00"),
                    (1, "9495551234", 3, "Kelly Nguyen", {"language": "en"}, "2026-10-01 14:56:00+00",
                     "2026-10-09 12:00:00+00"),
                    (2, "9495551234", 1, "Sam Ortiz", {"contact": "sms"}, "2026-10-03 10:55:00+00",
                     "2026-10-03 11:00:00+00"),
                    (3, "7145550100", 1, None, {}, "2026-10-04 10:58:00+00", "2026-10-04 11:00:00+00")]

    # metrics clamped, defaulted; averages recomputed (the stale row replaced), trends
    assert query(db, "SELECT openness, conscientiousness, confidence FROM personality_metrics"
                     " WHERE customer_id = 2") == [(100.0, 50.0, 0.3)]
    avg = query(db, "SELECT customer_id, call_count, avg_openness, recent_satisfaction,"
                    " satisfaction_trend, frustration_trend FROM personality_averages ORDER BY 1")
    assert avg == [(1, 6, 60.0, 80.0, "improving", "improving"), (2, 1, 100.0, 90.0, "stable", "stable")]


def test_imported_rows_are_tenant_isolated(db, previous_db):
    aimem("import-previous", "--from", previous_db, env={"AIMEM_DB_URL": db.worker_url})
    import psycopg2
    conn = psycopg2.connect(db.reader_url)
    try:
        with conn.cursor() as cur:
            for tenant, calls in ((1, 4), (2, 1), (3, 1), (4, 0)):
                cur.execute("SELECT set_config('app.current_tenant', %s, true)", (str(tenant),))
                cur.execute("SELECT DISTINCT customer_id FROM call_summaries UNION"
                            " SELECT customer_id FROM memories UNION SELECT customer_id FROM caller_profiles"
                            " UNION SELECT customer_id FROM personality_metrics")
                assert {r[0] for r in cur.fetchall()} <= {tenant}
                cur.execute("SELECT count(*) FROM call_summaries")
                assert cur.fetchone()[0] == calls
                conn.rollback()
    finally:
        conn.close()


def test_import_previous_needs_a_source(db):
    p = aimem("import-previous", env={"AIMEM_DB_URL": db.worker_url}, check=False)
    assert p.returncode == 2 and "--from" in p.stderr
