"""scripts/dev's stack (`scripts/dev up --dir DIR stack`, tests/integration/devstack.py) and the
complete deploy/nginx/nginx.conf it runs: the stack answers through nginx on 127.0.0.1, DIR/env
is all `aimem` and a client need, `up` is idempotent, and `down` leaves no process behind.
"""
import json
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import BUILD, REPO, mint, run
from devstack import DEV, PROGRAMS, dev, read_env, stack

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
needs_nginx = pytest.mark.skipif(not os.path.exists(NGINX),
                                 reason="nginx not installed (scripts/deps.sh installs it)")

REQUIRED_KEYS = {"AIMEM_BASE_URL", "AIMEM_JWT_SECRET_FILE", "AIMEM_AUTH_JWT_SECRET_FILE",
                 "AIMEM_KAFKA_BOOTSTRAP_SERVERS", "AIMEM_DB_URL", "AIMEM_DB_ADMIN_URL",
                 "AIMEM_DB_WORKER_URL", "AIMEM_DB_READER_URL", "AIMEM_PG_PORT", "AIMEM_INGEST_URL",
                 "AIMEM_QUERY_URL"}


@needs_nginx
def test_nginx_conf_is_complete_and_valid(tmp_path):
    """nginx -t accepts deploy/nginx/nginx.conf as it is, from any prefix, and every path the
    file names is relative (to the prefix, or to its own folder for include)."""
    conf = REPO / "deploy/nginx/nginx.conf"
    text = conf.read_text()
    for directive in ("pid", "error_log", "access_log", "include", "client_body_temp_path",
                      "proxy_temp_path", "fastcgi_temp_path", "uwsgi_temp_path", "scgi_temp_path"):
        values = re.findall(rf"^\s*{directive}\s+(\S+?);?\s*(?:\S.*)?$", text, re.M)
        assert values, directive
        assert not any(v.startswith("/") for v in values), (directive, values)
    assert re.search(r"^\s*include upstreams\.local\.conf;", text, re.M)
    assert re.search(r"^\s*include aimem\.conf;", text, re.M)
    (tmp_path / "logs").mkdir()
    proc = run([NGINX, "-t", "-q", "-p", f"{tmp_path}/", "-e", str(tmp_path / "logs/error.log"),
                "-c", str(conf)], check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_listen_must_be_an_address(tmp_path):
    proc = subprocess.run([str(DEV), "up", "--dir", str(tmp_path), "--listen", "localhost", "stack"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "--listen takes an IPv4 or IPv6 address" in proc.stderr, proc.stderr
    assert not (tmp_path / "pg").exists()


def http(method, url, token=None, body=None):
    """(status, parsed JSON or text) of one request."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


def alive(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def children(pid):
    out = set()
    for p in Path("/proc").glob("[0-9]*"):
        try:
            ppid = int(p.joinpath("stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid:
            out.add(int(p.name))
    return out


def main_pids(folder):
    """{name: pid} of the programs, nginx's master, the postmaster and the broker."""
    folder = Path(folder)
    pids = {p: int((folder / "stack" / f"{p}.pid").read_text()) for p in PROGRAMS}
    pids["nginx"] = int((folder / "nginx/pid").read_text())
    pids["pg"] = int((folder / "pg/data/postmaster.pid").read_text().split()[0])
    pids["kafka"] = int((folder / "kafka/pid").read_text())
    assert all(alive(p) for p in pids.values()), pids
    return pids


def stack_pids(folder):
    """Every process the stack of folder runs: main_pids, nginx's workers, the backends."""
    main = main_pids(folder)
    return set(main.values()) | children(main["nginx"]) | children(main["pg"])


def listening(port):
    """The local addresses (hex, as /proc/net/tcp* shows them) listening on port."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            addr, hexport = fields[1].rsplit(":", 1)
            if int(hexport, 16) == port and fields[3] == "0A":  # LISTEN
                found.append(addr)
    return found


def with_env_only(folder, *argv):
    """Runs argv in bash after `set -a; . DIR/env` with an otherwise empty environment (PATH
    only) from /, so nothing but DIR/env can tell it where the stack is."""
    script = f'set -a; . "{folder}/env"; set +a; exec "$@"'
    return subprocess.run(["bash", "-c", script, "bash", *map(str, argv)], capture_output=True,
                          text=True, cwd="/", timeout=60,
                          env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})


def wait_for(predicate, what, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


@needs_nginx
def test_stack_as_deployed(tmp_path):
    folder = tmp_path / "stack"
    aimem = BUILD / "bin/aimem"
    with stack(folder) as env:
        # DIR/env: the keys, nginx's URL on loopback, the secret in a private file
        assert REQUIRED_KEYS <= set(env), sorted(REQUIRED_KEYS - set(env))
        base = env["AIMEM_BASE_URL"]
        m = re.fullmatch(r"http://127\.0\.0\.1:(\d+)", base)
        assert m, base
        port = int(m.group(1))
        assert listening(port) == ["0100007F"], listening(port)  # 127.0.0.1 only
        secret_file = Path(env["AIMEM_JWT_SECRET_FILE"])
        assert env["AIMEM_AUTH_JWT_SECRET_FILE"] == str(secret_file)
        assert secret_file.parent == folder and secret_file.stat().st_mode & 0o777 == 0o600
        secret = secret_file.read_text()
        assert len(secret) >= 32 and "\n" not in secret
        pids, before = stack_pids(folder), main_pids(folder)
        for name, pid in before.items():  # never on a command line
            assert secret not in Path(f"/proc/{pid}/cmdline").read_text(errors="replace"), name

        # nginx in front of query and ingest: /health is public, reads need a token
        status, health = http("GET", f"{base}/health")
        assert status == 200 and health["status"] == "healthy", (status, health)
        status, _ = http("GET", f"{base}/v2/profiles")
        assert status == 401

        # `aimem token` with nothing but DIR/env, and the token read through nginx
        proc = with_env_only(folder, aimem, "token", "--customer", "7")
        assert proc.returncode == 0, proc.stderr
        token = proc.stdout.strip()
        status, profiles = http("GET", f"{base}/v2/profiles", token)
        assert status == 200 and profiles["customer_id"] == 7, (status, profiles)
        status, profiles = http("GET", f"{base}/v2/profiles", mint(secret, customer_id=8))
        assert status == 200 and profiles["customer_id"] == 8, (status, profiles)

        # a write through nginx (→ ingest → Kafka → aimem-memories → PostgreSQL) read back (→ query)
        status, put = http("POST", f"{base}/v1/memories/shared", token,
                           {"type": "setting", "key": "greeting", "value": "Thanks for calling"})
        assert status == 200 and put["success"], (status, put)
        wait_for(lambda: "Thanks for calling" in json.dumps(http("GET", f"{base}/v1/memories/shared", token)[1]),
                 "the shared memory never came back through query")

        # other aimem subcommands with nothing but DIR/env
        proc = with_env_only(folder, aimem, "migrate", "--status")
        assert proc.returncode == 0 and "applied" in proc.stdout and "pending" not in proc.stdout, \
            proc.stdout + proc.stderr
        proc = with_env_only(folder, aimem, "lag", "--json")
        assert proc.returncode == 0, proc.stderr
        assert "aimem-memories" in proc.stdout, proc.stdout

        # status names every program and nginx as running
        status_out = dev("status", "--dir", folder).stdout
        for name in (*PROGRAMS, "nginx", "pg", "kafka"):
            assert re.search(rf"^{name}\s+running\s+port=\d+\s+pid=\d+", status_out, re.M), status_out

        # `up` again changes nothing: same processes, same env
        dev("up", "--dir", folder, "stack")
        assert read_env(folder / "env") == env
        assert main_pids(folder) == before
        pids |= stack_pids(folder)

    # down stopped every process it started
    left = [p for p in pids if alive(p)]
    assert not left, [(p, Path(f"/proc/{p}/cmdline").read_text(errors="replace")) for p in left]
    status_out = dev("status", "--dir", folder).stdout
    assert "running" not in status_out, status_out
    assert "AIMEM_BASE_URL" not in (folder / "env").read_text()
    assert listening(port) == []


def test_pg_standby_streams_and_refuses_writes(tmp_path):
    """`up --pg-standby pg` (issue 19 item 1): a hot standby made by pg_basebackup, on its own
    port, streaming from the primary with hot_standby_feedback on; a row written on the primary
    is read on the standby; the standby refuses writes; `down pg` stops both; `up` again
    resumes streaming."""
    import psycopg2

    def sql(url, q):
        conn = psycopg2.connect(url)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute(q)
                return cur.fetchall() if cur.description else None
        finally:
            conn.close()

    try:
        dev("up", "--dir", tmp_path, "--pg-standby", "pg")
        env = read_env(tmp_path / "env")
        primary, standby = env["AIMEM_DB_ADMIN_URL"], env["AIMEM_DB_STANDBY_ADMIN_URL"]
        assert env["AIMEM_PG_STANDBY_PORT"] != env["AIMEM_PG_PORT"]
        assert sql(standby, "SELECT pg_is_in_recovery(), current_setting('hot_standby_feedback')") == [(True, "on")]
        assert sql(primary, "SELECT state FROM pg_stat_replication") == [("streaming",)]
        sql(primary, "CREATE TABLE replicated (x int); INSERT INTO replicated VALUES (42)")

        def seen(n):
            deadline = time.time() + 30
            while time.time() < deadline:
                try:
                    if sql(standby, "SELECT count(*) FROM replicated") == [(n,)]:
                        return True
                except psycopg2.Error:
                    pass  # the table's creation not replayed yet
                time.sleep(0.1)
            return False

        assert seen(1)
        with pytest.raises(psycopg2.errors.ReadOnlySqlTransaction):
            sql(standby, "INSERT INTO replicated VALUES (1)")
        status = dev("status", "--dir", tmp_path).stdout
        assert re.search(r"^pg-standby\s+running", status, re.M), status
        dev("down", "--dir", tmp_path, "pg")
        status = dev("status", "--dir", tmp_path).stdout
        assert re.search(r"^pg\s+stopped", status, re.M) and re.search(r"^pg-standby\s+stopped", status, re.M), status
        assert "AIMEM_PG_STANDBY_PORT" not in (tmp_path / "env").read_text()
        dev("up", "--dir", tmp_path, "--pg-standby", "pg")
        env = read_env(tmp_path / "env")
        primary, standby = env["AIMEM_DB_ADMIN_URL"], env["AIMEM_DB_STANDBY_ADMIN_URL"]
        sql(primary, "INSERT INTO replicated VALUES (43)")
        assert seen(2)
    finally:
        dev("down", "--dir", tmp_path, "all", check=False)


def test_three_broker_cluster_survives_one_broker(tmp_path):
    """`up --brokers 3 kafka` (issue 19 item 1): three KRaft nodes, the topics replicated 3
    times with min.insync.replicas=2; with one broker SIGKILLed an acks=all producer still gets
    every message acknowledged; `up` starts the missing node again on its port; the DIR keeps
    its broker count; `down` stops all three."""
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, ConfigResource

    def produce_all(bootstrap, n=20):
        results = []
        p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all",
                      "message.timeout.ms": 20000})
        for i in range(n):
            p.produce("aimem.calls.v1", key=str(i % 5), value=b"{}",
                      on_delivery=lambda err, msg: results.append(err))
        p.flush(30)
        return results

    try:
        dev("up", "--dir", tmp_path, "--brokers", "3", "kafka")
        env = read_env(tmp_path / "env")
        bootstrap = env["AIMEM_KAFKA_BOOTSTRAP_SERVERS"]
        assert len(bootstrap.split(",")) == 3 and env["AIMEM_DEV_KAFKA_BROKERS"] == "3", env
        admin = AdminClient({"bootstrap.servers": bootstrap})
        topics = ("aimem.calls.v1", "aimem.memories.v1", "aimem.erasures.v1")
        deadline = time.time() + 30
        while True:  # each broker learns of new topics a moment after the controller
            md = admin.list_topics(timeout=10)
            if all(t in md.topics and md.topics[t].partitions for t in topics) or time.time() > deadline:
                break
            time.sleep(0.2)
        assert sorted(md.brokers) == [1, 2, 3]
        for topic in topics:
            assert all(len(p.replicas) == 3 for p in md.topics[topic].partitions.values()), topic
        res = ConfigResource(ConfigResource.Type.TOPIC, "aimem.calls.v1")
        assert admin.describe_configs([res])[res].result()["min.insync.replicas"].value == "2"
        assert produce_all(bootstrap) == [None] * 20

        victim = int((tmp_path / "kafka/node2/pid").read_text())
        port2 = bootstrap.split(",")[1]
        os.kill(victim, 9)
        status = dev("status", "--dir", tmp_path).stdout
        assert re.search(r"^kafka-2\s+stopped", status, re.M), status
        assert produce_all(bootstrap) == [None] * 20  # two in-sync replicas are enough

        refused = dev("up", "--dir", tmp_path, "--brokers", "1", "kafka", check=False)
        assert refused.returncode != 0 and "holds 3 broker(s)" in refused.stderr, refused.stderr
        dev("up", "--dir", tmp_path, "kafka")  # the missing node, on its old port
        assert read_env(tmp_path / "env")["AIMEM_KAFKA_BOOTSTRAP_SERVERS"].split(",")[1] == port2
        status = dev("status", "--dir", tmp_path).stdout
        assert len(re.findall(r"^kafka-\d\s+running", status, re.M)) == 3, status
        assert produce_all(bootstrap) == [None] * 20
    finally:
        dev("down", "--dir", tmp_path, "all", check=False)
    left = subprocess.run(["pgrep", "-f", f"{tmp_path}/kafka"], capture_output=True, text=True).stdout
    assert left == "", left
