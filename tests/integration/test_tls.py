"""TLS to PostgreSQL, once, with a self-signed certificate (issue 17 item 6; docs/OPERATIONS.md).

A scripts/dev PostgreSQL of its own with ssl=on, a certificate made here with openssl for
127.0.0.1 and localhost, and pg_hba accepting TCP only over TLS (hostssl; no hostnossl line).
Our programs pass db.url to libpq untouched, so sslmode=verify-full with sslrootcert works as
libpq documents it: `aimem migrate` (administrator) and `aimem erase` (aimem_worker) connect;
a connection without TLS, with another root certificate or with another host name is refused.

Kafka over TLS is not tested here (kafka.* pass to librdkafka verbatim; see OPERATIONS.md)."""
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from conftest import REPO, aimem, read_env, run


def self_signed(folder, name, cn, san):
    key, crt = folder / f"{name}.key", folder / f"{name}.crt"
    run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
         f"/CN={cn}", "-addext", f"subjectAltName={san}", "-keyout", str(key), "-out", str(crt)])
    return key, crt


@pytest.fixture(scope="module")
def tls_pg():
    folder = Path(tempfile.mkdtemp(prefix="aimem-tls-"))
    os.chmod(folder, 0o755)  # the postgres user runs the cluster inside
    try:
        run([str(REPO / "scripts/dev"), "up", "--dir", str(folder), "pg"], timeout=120)
        env = read_env(folder / "env")
        data = folder / "pg/data"
        key, crt = self_signed(folder, "server", "localhost", "DNS:localhost,IP:127.0.0.1")
        _, other = self_signed(folder, "other", "localhost", "DNS:localhost,IP:127.0.0.1")
        shutil.copy(crt, data / "server.crt")
        shutil.copy(key, data / "server.key")
        os.chmod(data / "server.key", 0o600)
        shutil.chown(data / "server.crt", "postgres", "postgres")
        shutil.chown(data / "server.key", "postgres", "postgres")
        (data / "pg_hba.conf").write_text("local all all trust\nhostssl all all 127.0.0.1/32 trust\n")
        admin = env["AIMEM_DB_ADMIN_URL"]
        run(["/usr/lib/postgresql/15/bin/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", admin,
             "-c", "ALTER SYSTEM SET ssl = on", "-c", "SELECT pg_reload_conf()"])
        yield env["AIMEM_PG_PORT"], crt, other
    finally:
        run([str(REPO / "scripts/dev"), "down", "--dir", str(folder), "pg"], check=False, timeout=120)
        shutil.rmtree(folder, ignore_errors=True)


def url(port, user, **extra):
    opts = {"host": "127.0.0.1", "port": port, "user": user, "dbname": "aimem", **extra}
    return " ".join(f"{k}={v}" for k, v in opts.items())


def test_programs_connect_with_verify_full(tls_pg):
    port, crt, _ = tls_pg
    env = {"AIMEM_DB_CONNECT_TIMEOUT": "0", "AIMEM_KAFKA_BOOTSTRAP_SERVERS": ""}
    admin = url(port, "postgres", sslmode="verify-full", sslrootcert=crt)
    aimem("migrate", "--dir", str(REPO / "migrations"), env=dict(env, AIMEM_DB_URL=admin))
    worker = url(port, "aimem_worker", sslmode="verify-full", sslrootcert=crt)
    p = aimem("erase", "--customer", "7", "--user", "9495550401", env=dict(env, AIMEM_DB_URL=worker))
    assert "erased customer 7" in p.stdout


@pytest.mark.parametrize("extra, why", [
    ({"sslmode": "disable"}, "no encryption"),
    ({"sslmode": "verify-full", "sslrootcert": "OTHER"}, "certificate verify failed"),
    ({"sslmode": "verify-full", "sslrootcert": "CRT", "host": "db.example.com",
      "hostaddr": "127.0.0.1"}, "does not match host name"),
])
def test_refused_without_tls_or_with_the_wrong_certificate(tls_pg, extra, why):
    port, crt, other = tls_pg
    extra = {k: {"OTHER": other, "CRT": crt}.get(v, v) for k, v in extra.items()}
    env = {"AIMEM_DB_CONNECT_TIMEOUT": "0", "AIMEM_DB_URL": url(port, "postgres", **extra)}
    p = aimem("migrate", "--status", "--dir", str(REPO / "migrations"), env=env, check=False)
    assert p.returncode == 1 and why in p.stderr, p.stderr
