"""Fixtures for the integration tests: a real PostgreSQL and a real Kafka broker.

The services are started once per session by scripts/dev in a temporary folder (so a
developer's own `scripts/dev up` instance is never touched) and stopped at the end. Set
AIMEM_TEST_SERVICES=DIR to reuse services already running in DIR (faster iteration).

Each test that needs a database gets a fresh one, copied from a template database that was
migrated once with the real `aimem migrate`; roles are cluster-wide and come from that first
migration. Each Kafka test creates its own topics, so tests do not see each other's data.
"""
import json
import os
import shutil
import subprocess
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path

import psycopg2
import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("AIMEM_BUILD", REPO / "build"))
PYTHON = "/usr/bin/python3"
TEMPLATE_DB = "aimem_template"


def run(cmd, check=True, timeout=300, env=None, **kw):
    """Runs a command, captures its output, and on failure shows everything it printed."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=timeout,
                          env=full_env, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, cmd))} exited {proc.returncode}\n"
            f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}")
    return proc


def read_env(path):
    env = {}
    for line in Path(path).read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            env[k.strip()] = v.strip()
    return env


class Services:
    def __init__(self, env, folder):
        self.env = env
        self.dir = folder
        self.pg_port = int(env["AIMEM_PG_PORT"])
        self.admin_url = env["AIMEM_DB_ADMIN_URL"]
        self.bootstrap = env["AIMEM_KAFKA_BOOTSTRAP_SERVERS"]

    def url(self, dbname, user="postgres"):
        return f"postgresql://{user}@127.0.0.1:{self.pg_port}/{dbname}"

    def logs(self):
        out = []
        for name in ("pg/log", "kafka/logs/server.log", "kafka/kafka.out"):
            p = Path(self.dir) / name
            if p.exists():
                out.append(f"--- {p} (tail)\n" + "\n".join(p.read_text(errors="replace").splitlines()[-40:]))
        return "\n".join(out)


@pytest.fixture(scope="session")
def services():
    reuse = os.environ.get("AIMEM_TEST_SERVICES")
    if reuse:
        yield Services(read_env(Path(reuse) / "env"), reuse)
        return
    folder = tempfile.mkdtemp(prefix="aimem-it-")
    os.chmod(folder, 0o755)  # the postgres user runs the cluster inside
    try:
        run([str(REPO / "scripts/dev"), "up", "--dir", folder, "all"], timeout=240)
        yield Services(read_env(Path(folder) / "env"), folder)
    finally:
        run([str(REPO / "scripts/dev"), "down", "--dir", folder, "all"], check=False, timeout=120)
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def connected(url, autocommit=False):
    """A connection closed on exit; committed on a clean exit unless autocommit.

    (psycopg2's own `with conn` neither closes nor, since 2.9, leaves autocommit alone.)
    """
    conn = psycopg2.connect(url)
    conn.autocommit = autocommit
    try:
        yield conn
        if not autocommit:
            conn.commit()
    finally:
        conn.close()


def admin_connect(services, dbname="postgres"):
    return connected(services.url(dbname), autocommit=True)


def create_database(services, name, template=None):
    with admin_connect(services) as conn, conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cur.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))


def aimem(*args, env=None, check=True, timeout=120, input=None):
    return run([str(BUILD / "bin/aimem"), *args], env=env, check=check, timeout=timeout,
               input=input)


@pytest.fixture(scope="session")
def template_db(services):
    create_database(services, TEMPLATE_DB)
    aimem("migrate", "--dir", str(REPO / "migrations"),
          env={"AIMEM_DB_URL": services.url(TEMPLATE_DB)})
    return TEMPLATE_DB


class Database:
    def __init__(self, services, name):
        self.services = services
        self.name = name
        self.admin_url = services.url(name)
        self.worker_url = services.url(name, "aimem_worker")
        self.reader_url = services.url(name, "aimem_reader")

    def connect(self, role="postgres", autocommit=False):
        return connected(self.services.url(self.name, role), autocommit)


@pytest.fixture
def db(services, template_db):
    """A fresh, migrated database for one test."""
    name = "t_" + uuid.uuid4().hex[:12]
    create_database(services, name, template=template_db)
    yield Database(services, name)
    with admin_connect(services) as conn, conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def empty_db(services):
    """A fresh database with nothing applied (roles may already exist cluster-wide)."""
    name = "e_" + uuid.uuid4().hex[:12]
    create_database(services, name)
    yield Database(services, name)
    with admin_connect(services) as conn, conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_topic(services, partitions=4):
    name = "t." + uuid.uuid4().hex[:12]
    run([PYTHON, str(REPO / "scripts/kafka_admin.py"), "create-topics", "--bootstrap",
         services.bootstrap, "--partitions", str(partitions), name])
    return name


@pytest.fixture
def topic(services):
    """A fresh 4-partition topic for one test."""
    return make_topic(services)


def consume(bootstrap, topic, expect, timeout=30.0):
    """Reads every message of topic from the start until `expect` arrived or timeout passed,
    then a little longer to catch extras. Returns (key, value, headers, partition) tuples."""
    import time
    from confluent_kafka import Consumer
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "check." + uuid.uuid4().hex[:8],
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([topic])
    out = []
    deadline = time.monotonic() + timeout
    settle = None
    try:
        while time.monotonic() < deadline:
            m = c.poll(0.2)
            if len(out) >= expect and settle is None:
                settle = time.monotonic() + 1.0
            if settle is not None and time.monotonic() > settle:
                break
            if m is None or m.error():
                continue
            out.append((m.key().decode() if m.key() else None, m.value(),
                        dict((k, v.decode()) for k, v in (m.headers() or [])), m.partition()))
    finally:
        c.close()
    return out


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing test that used the services prints the tail of their logs."""
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call" and rep.failed and "services" in item.fixturenames:
        svc = item.funcargs.get("services")
        if svc is not None:
            rep.sections.append(("service logs", svc.logs()))


def b64url(data):
    import base64
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint(secret, alg="HS256", header=None, **claims):
    """An HS256 JWT built by hand (no PyJWT on Debian's python here), for the HTTP tests."""
    import hashlib
    import hmac
    import time
    now = int(time.time())
    body = {"customer_id": 7, "scope": "memory:read:write", "iat": now, "exp": now + 3600}
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    head = header or {"alg": alg, "typ": "JWT"}
    signing = f"{b64url(json.dumps(head).encode())}.{b64url(json.dumps(body).encode())}"
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    sig = hmac.new(secret.encode(), signing.encode(), digest).digest()
    return f"{signing}.{b64url(sig)}"


class Daemon:
    """A program of ours run for a test: waits for its "ready ... port=N" log line, keeps its
    log, and stops it with SIGTERM (checking the exit status)."""

    def __init__(self, argv, env, log_path):
        import subprocess
        self.log_path = log_path
        self.log = open(log_path, "w")
        full = dict(os.environ)
        full.update(env)
        self.proc = subprocess.Popen(argv, env=full, stdout=self.log, stderr=subprocess.STDOUT)
        self.port = None

    def wait_ready(self, timeout=30.0, pattern=r"\bready\b.*\bport=(\d+)"):
        """Polls the log for pattern; its first group, if any, is the port."""
        import re
        import time
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = Path(self.log_path).read_text(errors="replace")
            m = re.search(pattern, text)
            if m:
                self.port = int(m.group(1)) if m.groups() else None
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"daemon not ready (exit {self.proc.poll()}):\n{self.output()}")

    def output(self):
        return Path(self.log_path).read_text(errors="replace")

    def stop(self, timeout=30.0):
        import signal
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=timeout)
        self.log.close()
        return rc

