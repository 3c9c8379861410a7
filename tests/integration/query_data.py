"""Fixture data for the aimem-query tests, written as aimem_worker under the tenant's
set_config (the way the workers write), plus a small HTTP client.

Every tenant t (TENANTS) holds:
  - caller SHARED_CALLER (the same id in every tenant) and caller only-<t> (its own);
  - calls CA-shared-1 (same id everywhere) and CA-<t>-1;
  - a user memory and a shared admin_setting memory, a caller fact of SHARED_CALLER;
and every text it holds carries the marker zq<tt>canary, so a response can be checked for
rows of any other tenant with one regex.
Tenant 1 also holds the compat caller (Kelly, fixed figures for the text layout), a caller
with 53 summaries (some sharing a timestamp) and 25 extra profiles for pagination.
"""
import http.client
import json
import re
import subprocess
from datetime import datetime, timedelta, timezone

from conftest import BUILD, connected

TENANTS = list(range(1, 11))
SHARED_CALLER = "5550001111"
KELLY = "9495551234"
PAGER = "5557770000"
MARKER = re.compile(r"zq(\d\d)canary")
T0 = datetime(2026, 11, 20, 15, 9, 41, tzinfo=timezone.utc)


def marker(t):
    return f"zq{t:02d}canary"


def embed(texts):
    out = subprocess.run([str(BUILD / "tests/embed_text")], input="\n".join(texts) + "\n",
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert len(out) == len(texts)
    return out


CALL_SQL = """INSERT INTO call_summaries (customer_id, call_id, user_id, call_started_at,
    call_ended_at, summary, key_topics, key_variables, sentiment, resolution_status,
    duration_seconds, embedding, search_tsv, processor, event_id)
VALUES (current_setting('app.current_tenant')::int, %s, %s, %s - interval '5 minutes', %s, %s,
    %s, %s, %s, 'resolved', 300, %s::vector, to_tsvector('english', %s), 'builtin-extractive/1',
    gen_random_uuid())"""


# a call's one passage (aimem-embedder's row, here the summary's text with the hashed
# provider's vector), and the tenant's search statistics moved as the embedder moves them
CHUNK_SQL = """WITH up AS (INSERT INTO call_chunks (customer_id, call_id, chunk_no, user_id,
    call_ended_at, content, words, tsv, model, embedding)
VALUES (current_setting('app.current_tenant')::int, %s, 0, %s, %s, %s,
    greatest(array_length(regexp_split_to_array(btrim(%s), '\\s+'), 1), 1),
    to_tsvector('english', %s), 'hashed-ngram/1', %s::vector) RETURNING tsv, words),
t AS (INSERT INTO search_terms AS t (customer_id, lexeme, df)
    SELECT current_setting('app.current_tenant')::int, lexeme, 1
    FROM up, unnest(tsvector_to_array(tsv)) AS lexeme
    ON CONFLICT (customer_id, lexeme) DO UPDATE SET df = t.df + 1 RETURNING 1)
INSERT INTO search_stats AS s (customer_id, passages, words)
SELECT current_setting('app.current_tenant')::int, 1, words FROM up
ON CONFLICT (customer_id) DO UPDATE SET passages = s.passages + 1,
    words = s.words + excluded.words"""


def put_calls(cur, rows):
    """rows: (call_id, user_id, ended_at, summary, topics, key_variables, sentiment)."""
    vecs = embed([r[3] for r in rows]) if rows else []
    for r, v in zip(rows, vecs):
        call_id, user_id, ended, summary, topics, kv, sentiment = r
        cur.execute(CALL_SQL, (call_id, user_id, ended, ended, summary, json.dumps(topics),
                               json.dumps(kv), sentiment, v, summary))
        cur.execute(CHUNK_SQL, (call_id, user_id, ended, "Caller: " + summary, summary,
                                "Caller: " + summary, v))


def put_profile(cur, user_id, name, total, first, last):
    cur.execute("""INSERT INTO caller_profiles (customer_id, user_id, preferred_name, total_calls,
        first_call_at, last_call_at) VALUES (current_setting('app.current_tenant')::int,
        %s, %s, %s, %s, %s)""", (user_id, name, total, first, last))


def put_personality(cur, user_id, calls, avg, recent_sat=66.0, trend="improving"):
    """avg: dict of the 10 trait/style averages (missing ones 50)."""
    keys = ["openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism",
            "formality", "directness", "detail_orientation", "patience", "technical_comfort"]
    vals = [avg.get(k, 50.0) for k in keys]
    cur.execute(f"""INSERT INTO personality_averages (customer_id, user_id, call_count,
        {", ".join("avg_" + k for k in keys)}, recent_frustration, recent_satisfaction,
        recent_urgency, satisfaction_trend, frustration_trend)
        VALUES (current_setting('app.current_tenant')::int, %s, %s,
        {", ".join(["%s"] * 10)}, 20, %s, 30, %s, 'stable')""",
                (user_id, calls, *vals, recent_sat, trend))


def put_metric(cur, call_id, user_id, measured, score=50.0):
    cols = ["openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism",
            "formality", "directness", "detail_orientation", "patience", "technical_comfort",
            "frustration_level", "satisfaction_level", "urgency_level"]
    cur.execute(f"""INSERT INTO personality_metrics (customer_id, call_id, user_id, measured_at,
        {", ".join(cols)}, confidence, processor, event_id)
        VALUES (current_setting('app.current_tenant')::int, %s, %s, %s, {", ".join(["%s"] * 13)},
        0.8, 'builtin-lexicon/1', gen_random_uuid())""",
                (call_id, user_id, measured, *([score] * 13)))


def put_memory(cur, user_id, scope, mtype, key, value, updated=None):
    cur.execute("""INSERT INTO memories (customer_id, memory_id, user_id, scope, mtype, key, value,
        source, created_at, updated_at) VALUES (current_setting('app.current_tenant')::int,
        gen_random_uuid(), %s, %s, %s, %s, %s, 'test', coalesce(%s, now()), coalesce(%s, now()))""",
                (user_id, scope, mtype, key, json.dumps(value), updated, updated))


def put_fact(cur, user_id, kind, value, count, first, last, call_id, superseded=None, by=None):
    cur.execute("""INSERT INTO caller_facts (customer_id, user_id, kind, value_key, value, single,
        first_seen_at, last_seen_at, last_call_id, call_count, superseded_at, superseded_by)
        VALUES (current_setting('app.current_tenant')::int, %s, %s, lower(%s), %s, %s, %s, %s, %s,
        %s, %s, %s)""", (user_id, kind, value, value, kind in ("name", "email", "address",
                                                               "contact_preference"),
                         first, last, call_id, count, superseded, by))


def seed_tenant(cur, t):
    m = marker(t)
    put_profile(cur, SHARED_CALLER, f"Canary{'abcdefghij'[t - 1]}", 2, T0 - timedelta(days=t),
                T0 - timedelta(hours=t))
    put_profile(cur, f"only-{t}", None, 1, T0, T0)
    put_calls(cur, [
        ("CA-shared-1", SHARED_CALLER, T0 - timedelta(hours=t),
         f"Shared caller asked about billing {m}", ["billing"], {"marker": m}, "neutral"),
        (f"CA-{t}-1", f"only-{t}", T0, f"Own caller renewal policy {m}", ["renewal"],
         {"marker": m}, "positive"),
    ])
    put_personality(cur, SHARED_CALLER, 2, {"formality": 40 + t})
    put_personality(cur, f"only-{t}", 1, {})
    put_metric(cur, "CA-shared-1", SHARED_CALLER, T0 - timedelta(hours=t), 10 + t)
    put_metric(cur, f"CA-{t}-1", f"only-{t}", T0, 10 + t)
    put_memory(cur, SHARED_CALLER, "user", "person", "name", {"canary": m})
    put_fact(cur, SHARED_CALLER, "vehicle", f"Car {m}", 1, T0 - timedelta(hours=t),
             T0 - timedelta(hours=t), "CA-shared-1")
    put_memory(cur, f"only-{t}", "user", "fact", "marker", {"canary": m})
    put_memory(cur, None, "shared", "admin_setting", "greeting", {"setting_value": m})
    # ChatStack's per-turn thread recaps (caller recap-<t>): two threads, the older one first
    for i, thread in enumerate(("CA-recap-old", f"CA-recap-{t}")):
        put_memory(cur, f"recap-{t}", "user", "thread_recap", f"thread_history:{thread}",
                   {"count": 2, "messages": [{"role": "user", "content": f"{thread} {m}"},
                                             {"role": "assistant", "content": "Noted."}]},
                   T0 - timedelta(minutes=10 - i))
    put_memory(cur, f"recap-{t}", "user", "fact", "carry_kit", {"value": m}, T0)


def seed_tenant_one(cur):
    """The compat caller Kelly, the pager caller and extra profiles (tenant 1 only)."""
    put_profile(cur, KELLY, "Kelly", 4, datetime(2026, 10, 2, 14, 3, 11, tzinfo=timezone.utc), T0)
    put_personality(cur, KELLY, 4, {"formality": 80, "directness": 70, "technical_comfort": 20,
                                    "detail_orientation": 60, "patience": 58})
    put_calls(cur, [
        ("CA-kelly-4", KELLY, T0, "Caller disputed a charge on the auto bill",
         ["billing", "auto_policy"], {"policy_number": "AP-449120"}, "frustrated"),
        ("CA-kelly-3", KELLY, T0 - timedelta(days=10), "Caller added a driver",
         [], {}, "positive"),
        ("CA-kelly-2", KELLY, T0 - timedelta(days=20), "Caller asked about roadside cover",
         ["roadside"], {}, "neutral"),
        ("CA-kelly-1", KELLY, T0 - timedelta(days=49), "First call: new auto quote",
         ["quote"], {}, "positive"),
    ])
    # facts (caller_facts): the current ones, and an address the newer one superseded
    put_fact(cur, KELLY, "name", "Kelly", 4, T0 - timedelta(days=49), T0, "CA-kelly-4")
    put_fact(cur, KELLY, "policy_number", "AP-449120", 3, T0 - timedelta(days=20), T0, "CA-kelly-4")
    put_fact(cur, KELLY, "address", "45 Elm Avenue, Irvine, CA 92618", 2, T0 - timedelta(days=20),
             T0 - timedelta(days=10), "CA-kelly-3")
    put_fact(cur, KELLY, "address", "12 Oak Street", 1, T0 - timedelta(days=49),
             T0 - timedelta(days=49), "CA-kelly-1", T0 - timedelta(days=20), "CA-kelly-2")
    put_fact(cur, KELLY, "appointment", "Tuesday at 3 pm", 1, T0 - timedelta(days=20),
             T0 - timedelta(days=20), "CA-kelly-2")
    rows = []
    for i in range(53):  # pairs of calls share an end time: the cursor must break the tie
        rows.append((f"CA-page-{i:03d}", PAGER, T0 - timedelta(minutes=i // 2),
                     f"page call {i}", [], {}, None))
    put_calls(cur, rows)
    for i in range(25):
        last = None if i % 5 == 0 else T0 - timedelta(days=i // 3)
        put_profile(cur, f"extra-{i:02d}", None, 0 if last is None else 1, last, last)


def rebuild_contexts(db, *tenants):
    """The stored caller contexts (caller_context) derived again from the tables, as the workers
    would have written them: fixtures write the tables directly, so they call this after."""
    for t in tenants or TENANTS:
        subprocess.run([str(BUILD / "bin/aimem"), "context", "rebuild", "--customer", str(t)],
                       env={"AIMEM_DB_URL": db.worker_url, "PATH": "/usr/bin:/bin"},
                       capture_output=True, text=True, check=True)


def seed_all(db):
    for t in TENANTS:
        with connected(db.worker_url) as conn, conn.cursor() as cur:
            cur.execute("SELECT set_config('app.current_tenant', %s, true)", (str(t),))
            seed_tenant(cur, t)
            if t == 1:
                seed_tenant_one(cur)
    rebuild_contexts(db)


class Client:
    """Keep-alive HTTP/1.1 client for one thread; reconnects when the server closed."""

    def __init__(self, port):
        self.port = port
        self.conn = None

    def request(self, method, path, token=None, body=None, headers=None):
        h = dict(headers or {})
        if token is not None:
            h["Authorization"] = f"Bearer {token}"
        data = json.dumps(body).encode() if body is not None else None
        if data is not None:
            h["Content-Type"] = "application/json"
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                self.conn.request(method, path, body=data, headers=h)
                resp = self.conn.getresponse()
                raw = resp.read()
                break
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
        if resp.getheader("Connection", "").lower() == "close":
            self.conn.close()
            self.conn = None
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, raw

    def json(self, method, path, token=None, body=None, headers=None):
        status, hdrs, raw = self.request(method, path, token, body, headers)
        return status, hdrs, (json.loads(raw) if raw else None)

    def close(self):
        if self.conn is not None:
            self.conn.close()
