"""aimem-query on a primary and its hot standby (issue 19 item 3, first part): libpq's list of
hosts with target_session_attrs=prefer-standby sends the reads to the standby, RLS and the
one-round-trip read work there, /metrics names the node and its replay lag; the standby stopped,
the reads go to the primary.
"""
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


def metric(port, name, node):
    _, _, text = request(port, "GET", "/metrics")
    m = re.search(rf'^{name}{{node="{re.escape(node)}"}} (\S+)$', text.decode(), re.M)
    return float(m.group(1)) if m else None


def memories(port, token, user):
    status, _, payload = request(port, "GET", f"/v1/memories?user_id={user}&limit=10", token=token)
    return status, payload


def test_reads_from_a_standby_then_the_primary(tmp_path):
    d = None
    try:
        dev("up", "--dir", tmp_path, "--pg-standby", "pg")
        env = read_env(tmp_path / "env")
        primary, standby = env["AIMEM_DB_ADMIN_URL"], env["AIMEM_DB_STANDBY_ADMIN_URL"]
        pport, sport = env["AIMEM_PG_PORT"], env["AIMEM_PG_STANDBY_PORT"]
        run([str(BUILD / "bin/aimem"), "migrate", "--dir", str(REPO / "migrations")],
            env={"AIMEM_DB_URL": primary})
        conn = psycopg2.connect(primary)
        with conn, conn.cursor() as cur:
            cur.execute("SELECT set_config('app.current_tenant', '7', true)")
            put_memory(cur, "9495550042", "user", "fact", "greeting", {"v": "on the standby"})
        conn.close()
        deadline = time.time() + 30
        while sql(standby, "SELECT count(*) FROM memories") != [(1,)]:
            assert time.time() < deadline, "the row never reached the standby"
            time.sleep(0.1)

        url = (f"postgresql://aimem_reader@127.0.0.1:{pport},127.0.0.1:{sport}/aimem"
               "?target_session_attrs=prefer-standby")
        d = Daemon([str(BUILD / "bin/aimem-query")],
                   {"AIMEM_HTTP_PORT": "0", "AIMEM_AUTH_JWT_SECRET": SECRET, "AIMEM_DB_URL": url,
                    "AIMEM_EMBED_PROVIDER": "hashed"}, tmp_path / "query.log").wait_ready()
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
        assert metric(d.port, "aimem_query_db_standby", f"127.0.0.1:{sport}") == 1
        lag = metric(d.port, "aimem_query_db_replay_lag_seconds", f"127.0.0.1:{sport}")
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
        assert metric(d.port, "aimem_query_db_standby", f"127.0.0.1:{pport}") == 0
        assert metric(d.port, "aimem_query_db_replay_lag_seconds", f"127.0.0.1:{pport}") == 0
    finally:
        if d is not None:
            d.stop()
        dev("down", "--dir", tmp_path, "all", check=False)
