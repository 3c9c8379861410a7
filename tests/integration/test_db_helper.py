"""lib/db against a real PostgreSQL, through the C program tests/tools/db_check.c."""
import socket

from conftest import BUILD, run


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_db_helper_checks(db):
    proc = run([str(BUILD / "tests/db_check"), db.worker_url, str(closed_port())], check=False,
               timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "FAIL" not in proc.stdout
    assert ", 0 failed" in proc.stdout
