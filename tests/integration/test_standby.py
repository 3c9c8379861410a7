"""aimem-query on a primary and its hot standby (issue 19 item 3): libpq's list of hosts with
target_session_attrs=prefer-standby sends the reads to the standby, RLS and the one-round-trip
read work there, /metrics names the node and its replay lag; the standby stopped, the reads go to
the primary. A context read with min_event_time (read-your-writes) is served by the standby only
when its copy of the caller's context is that new, else by the primary, and says which.
"""
import json
import re
import time

import psycopg2

from conftest import BUILD, REPO, Daemon, mint, run
from devstack import dev, pg_ctl, read_env
from query_data import put_memory
from test_ingest import SECRET, request



def sql(url, q, args=None):
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(q, args)
            return cur.fetchall() if cur.description else None
    finally:
        conn.close()


def metric(port, name, labels):
    """A series' value on /metrics (labels as printed, e.g. 'node="h:p"'), None when absent."""
    _, _, text = request(port, "GET", "/metrics")
    m = re.search(rf'^{name}{{{re.escape(labels)}}} (\S+)$', text.decode(), re.M)
    return float(m.group(1)) if m else None


def memories(port, token, user):
    status, _, payload = request(port, "GET", f"/v1/memories?user_id={user}&limit=10", token=token)
    return status, payload


def primary_and_standby(tmp_path):
    """scripts/dev's PostgreSQL with a hot standby, migrated: (primary admin URL, standby admin
    URL, primary port, standby port)."""
    dev("up", "--dir", tmp_path, "--pg-standby", "pg")
    env = read_env(tmp_path / "env")
    run([str(BUILD / "bin/aimem"), "migrate", "--dir", str(REPO / "migrations")],
        env={"AIMEM_DB_URL": env["AIMEM_DB_ADMIN_URL"]})
    return (env["AIMEM_DB_ADMIN_URL"], env["AIMEM_DB_STANDBY_ADMIN_URL"], env["AIMEM_PG_PORT"],
            env["AIMEM_PG_STANDBY_PORT"])


def query_on_both(tmp_path, pport, sport):
    """aimem-query given both nodes, preferring the standby."""
    url = (f"postgresql://aimem_reader@127.0.0.1:{pport},127.0.0.1:{sport}/aimem"
           "?target_session_attrs=prefer-standby")
    return Daemon([str(BUILD / "bin/aimem-query")],
                  {"AIMEM_HTTP_PORT": "0", "AIMEM_AUTH_JWT_SECRET": SECRET, "AIMEM_DB_URL": url,
                   "AIMEM_EMBED_PROVIDER": "hashed"}, tmp_path / "query.log").wait_ready()


def put_context(url, tenant, user, marker, event_at):
    """A stored context as the workers write it (calls/context.c), marked so a read shows which
    version (and so which node) it came from."""
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cur:
        cur.execute("SELECT set_config('app.current_tenant', %s, true)", (str(tenant),))
        head = json.dumps({"user_id": user, "known": True, "profile": None, "personality": None,
                           "facts": [], "marker": marker})[:-1] + ', "summaries": '
        cur.execute("""INSERT INTO caller_context AS c (customer_id, user_id, doc_head, doc_sums,
            text_head, text_sums, has_personality, etag, event_at)
            VALUES (%s, %s, %s, '{}', %s, '{}', false, %s, %s)
            ON CONFLICT (customer_id, user_id) DO UPDATE SET doc_head = excluded.doc_head,
            text_head = excluded.text_head, etag = excluded.etag, event_at = excluded.event_at""",
                    (tenant, user, head, f"Context {marker}", f"{abs(hash(marker)):016x}"[:16],
                     event_at))
    conn.close()


def test_read_your_writes_on_a_lagging_standby(tmp_path):
    d = None
    try:
        primary, standby, pport, sport = primary_and_standby(tmp_path)
        user, t1, t2 = "9495550077", "2026-12-01T10:00:00.100Z", "2026-12-01T10:05:00.200Z"
        put_context(primary, 7, user, "v1", t1)
        deadline = time.time() + 30
        while sql(standby, "SELECT count(*) FROM pg_class WHERE relname = 'caller_context'") != [(1,)] \
                or sql(standby, "SELECT count(*) FROM caller_context") != [(1,)]:
            assert time.time() < deadline, "the row never reached the standby"
            time.sleep(0.1)
        sql(standby, "SELECT pg_wal_replay_pause()")  # the standby falls behind from here
        put_context(primary, 7, user, "v2", t2)
        sql(primary, "INSERT INTO call_summaries (customer_id, call_id, user_id, call_ended_at, event_id,"
                     " processor, event_at) VALUES (7, 'CA-v2', %s, %s, gen_random_uuid(), 'test', %s)", (user, t2, t2))

        d = query_on_both(tmp_path, pport, sport)
        token = mint(SECRET, customer_id=7, scope="memory:read")
        other_token = mint(SECRET, customer_id=8, scope="memory:read")

        def context(at=None, tok=token, fmt=None, call=None):
            q = "" if at is None else "?min_event_time=" + at.replace("+", "%2B")
            if fmt:
                q += ("&" if q else "?") + "format=" + fmt
            if call:
                q += ("&" if q else "?") + "after_call=" + call
            status, headers, payload = request(d.port, "GET", f"/v3/callers/{user}/context{q}",
                                               token=tok)
            return status, headers.get("Aimem-Context-Fresh"), payload

        def served(node, fresh):
            return metric(d.port, "aimem_query_context_min_time_total",
                          f'node="{node}",fresh="{fresh}"') or 0

        # no min_event_time: the standby's (stale) copy, no freshness said
        status, fresh, doc = context()
        assert (status, fresh, doc["marker"]) == (200, None, "v1"), (status, fresh, doc)
        assert sql(primary, "SELECT count(*) FROM pg_stat_activity WHERE usename = 'aimem_reader'") == [(0,)]
        # as new as the standby's copy (the same instant written another way): the standby
        status, fresh, doc = context("2026-12-01T11:00:00.100+01:00")
        assert (status, fresh, doc["marker"]) == (200, "true", "v1"), (status, fresh, doc)
        assert served("standby", "true") == 1
        # newer than the standby's copy: the primary, which has it
        status, fresh, doc = context(t2)
        assert (status, fresh, doc["marker"]) == (200, "true", "v2"), (status, fresh, doc)
        assert served("primary", "true") == 1
        assert sql(primary, "SELECT count(*) FROM pg_stat_activity WHERE usename = 'aimem_reader'")[0][0] >= 1
        status, fresh, doc = context(t2, fmt="text")
        assert (status, fresh, doc["marker"]) == (200, "true", "v2") and "Context v2" in doc["text"]
        # one millisecond newer than anything applied: the primary's answer, said to be behind
        status, fresh, doc = context("2026-12-01T10:05:00.201Z")
        assert (status, fresh, doc["marker"]) == (200, "false", "v2"), (status, fresh, doc)
        assert served("primary", "false") == 1
        # another tenant never sees the row, on either node
        other = mint(SECRET, customer_id=8, scope="memory:read")
        status, fresh, doc = context(t1, tok=other)
        assert (status, fresh, doc["known"]) == (200, "false", False), (status, fresh, doc)
        assert "marker" not in doc
        # after_call: the call's summary is on the primary only; a call never applied, or
        # another caller's, is not fresh anywhere
        status, fresh, doc = context(call="CA-v2")
        assert (status, fresh, doc["marker"]) == (200, "true", "v2"), (status, fresh, doc)
        status, fresh, doc = context(t1, call="CA-v2", fmt="text")  # both asked: both must hold
        assert (status, fresh, doc["marker"]) == (200, "true", "v2"), (status, fresh, doc)
        assert context(call="CA-never")[0:2] == (200, "false")
        status, fresh, doc = context(call="CA-v2", tok=other_token)
        assert (status, fresh, doc["known"]) == (200, "false", False), (status, fresh, doc)
        status, _, doc = context(call="bad%20id")
        assert status == 400 and doc["error"]["code"] == "bad_value", doc
        # a bad time is the client's mistake
        for bad in ("yesterday", "2026-12-01", "2026-02-30T10:00:00Z", "2026-12-01T10:00:00"):
            status, fresh, doc = context(bad)
            assert status == 400 and doc["error"]["code"] == "bad_value", (bad, status, doc)

        # the standby catches up: it serves the same read again
        sql(standby, "SELECT pg_wal_replay_resume()")
        deadline = time.time() + 30
        while context(t2)[0:2] != (200, "true") or served("standby", "true") < 2:
            assert time.time() < deadline, "the standby never served the newer read"
            time.sleep(0.2)

        # the primary gone: a read the standby cannot vouch for is still answered, not fresh
        pg_ctl("stop", "-D", tmp_path / "pg/data", "-m", "immediate", "-w", "-s")
        status, fresh, doc = context("2026-12-02T00:00:00Z")
        assert (status, fresh, doc["marker"]) == (200, "false", "v2"), (status, fresh, doc)
        assert served("standby", "false") == 1
    finally:
        if d is not None:
            d.stop()
        dev("down", "--dir", tmp_path, "all", check=False)


def test_reads_from_a_standby_then_the_primary(tmp_path):
    d = None
    try:
        primary, standby, pport, sport = primary_and_standby(tmp_path)
        conn = psycopg2.connect(primary)
        with conn, conn.cursor() as cur:
            cur.execute("SELECT set_config('app.current_tenant', '7', true)")
            put_memory(cur, "9495550042", "user", "fact", "greeting", {"v": "on the standby"})
        conn.close()
        deadline = time.time() + 30
        while sql(standby, "SELECT count(*) FROM memories") != [(1,)]:
            assert time.time() < deadline, "the row never reached the standby"
            time.sleep(0.1)

        d = query_on_both(tmp_path, pport, sport)
        token = mint(SECRET, customer_id=7, scope="memory:read")
        status, payload = memories(d.port, token, "9495550042")
        assert status == 200 and payload["count"] == 1, payload
        assert payload["memories"][0]["value"] == {"v": "on the standby"}
        other = mint(SECRET, customer_id=8, scope="memory:read")
        assert memories(d.port, other, "9495550042")[1]["count"] == 0  # RLS on the standby too
        readers = sql(standby, "SELECT count(*) FROM pg_stat_activity WHERE usename = 'aimem_reader'")
        assert readers[0][0] >= 1, readers
        assert sql(primary, "SELECT count(*) FROM pg_stat_activity WHERE usename = 'aimem_reader'") == [(0,)]
        time.sleep(1.1)  # one sample a second
        memories(d.port, token, "9495550042")
        assert metric(d.port, "aimem_query_db_standby", f'node="127.0.0.1:{sport}"') == 1
        lag = metric(d.port, "aimem_query_db_replay_lag_seconds", f'node="127.0.0.1:{sport}"')
        assert lag is not None and 0 <= lag < 60, lag

        # the standby goes away: prefer-standby falls back to the primary
        pg_ctl("stop", "-D", tmp_path / "pg-standby/data", "-m", "immediate", "-w", "-s")
        deadline, answers = time.time() + 30, []
        while time.time() < deadline:
            status, payload = memories(d.port, token, "9495550042")
            answers.append(status)
            if status == 200:
                break
            assert status == 503, (status, payload)
            time.sleep(0.2)
        assert answers[-1] == 200 and payload["count"] == 1, answers
        time.sleep(1.1)
        memories(d.port, token, "9495550042")
        assert metric(d.port, "aimem_query_db_standby", f'node="127.0.0.1:{pport}"') == 0
        assert metric(d.port, "aimem_query_db_replay_lag_seconds", f'node="127.0.0.1:{pport}"') == 0
    finally:
        if d is not None:
            d.stop()
        dev("down", "--dir", tmp_path, "all", check=False)
