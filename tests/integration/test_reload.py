"""systemd and SIGHUP (issue 17 item 5) on a real aimem-query: READY=1, WATCHDOG=1 and
STOPPING=1 reach a fake $NOTIFY_SOCKET; a SIGHUP reads the JWT secret folder again, so a new
secret is accepted beside the old one (a kid selects), the old one can then be withdrawn, and a
bad secret file changes nothing; log.level follows the settings file."""
import os
import signal
import socket
import time

import pytest

from conftest import BUILD, Daemon, mint
from query_data import Client

OLD = "reload-old-secret-0123456789abcdef-0123"
NEW = "reload-new-secret-0123456789abcdef-0123"


class FakeSystemd:
    """A datagram socket standing in for systemd's notification socket."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.seen = []

    def wait_for(self, line, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(line in m.split("\n") for m in self.seen):
                return
            try:
                self.seen.append(self.sock.recv(4096).decode())
            except socket.timeout:
                pass
        raise AssertionError(f"no {line} from the program; got {self.seen}")


def status(client, token, path="/v3/callers/5035550100/profile"):
    s, _, _ = client.request("GET", path, token)
    return s


def wait_until(predicate, what, timeout=15):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_notify_and_sighup_rotate_the_jwt_secret(db, tmp_path):
    keys = tmp_path / "jwt"
    keys.mkdir()
    (keys / "2024").write_text(OLD + "\n")
    conf = tmp_path / "query.conf"
    conf.write_text("log.level = info\n")
    systemd = FakeSystemd(tmp_path / "notify.sock")
    env = {"AIMEM_HTTP_PORT": "0", "AIMEM_DB_URL": db.reader_url, "AIMEM_EMBED_PROVIDER": "hashed",
           "AIMEM_CONFIG": str(conf), "AIMEM_AUTH_JWT_SECRET_FILE": str(keys),
           "NOTIFY_SOCKET": systemd.path, "WATCHDOG_USEC": "400000"}
    os.environ.pop("WATCHDOG_PID", None)
    d = Daemon([str(BUILD / "bin/aimem-query")], env, tmp_path / "query.log").wait_ready()
    try:
        systemd.wait_for("READY=1")
        systemd.wait_for("WATCHDOG=1")
        client = Client(d.port)
        old, new = mint(OLD, scope="memory:read"), mint(NEW, scope="memory:read")
        assert status(client, old) != 401 and status(client, new) == 401

        # rotation step 1: the new secret beside the old; both accepted after SIGHUP
        (keys / "2025").write_text(NEW)
        d.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: status(client, new) != 401, "the new secret accepted after SIGHUP")
        assert status(client, old) != 401
        # a kid the folder names selects that file's secret only
        wrong_kid = mint(OLD, scope="memory:read", header={"alg": "HS256", "typ": "JWT", "kid": "2025"})
        assert status(client, wrong_kid) == 401
        right_kid = mint(NEW, scope="memory:read", header={"alg": "HS256", "typ": "JWT", "kid": "2025"})
        assert status(client, right_kid) != 401

        # a secret too short: the reload is refused, the keys in use stay
        (keys / "2026").write_text("short")
        d.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 15
        while "reload refused" not in d.output():
            assert time.monotonic() < deadline, d.output()
            time.sleep(0.05)
        assert "key 2026: HS256 secret is 5 bytes" in d.output()
        assert status(client, new) != 401 and status(client, old) != 401
        (keys / "2026").unlink()

        # step 2: the old secret withdrawn, and log.level from the file
        (keys / "2024").unlink()
        conf.write_text("log.level = debug\n")
        d.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: status(client, old) == 401, "the old secret refused after SIGHUP")
        assert status(client, new) != 401
        assert "reloaded log_level=debug" in d.output()
        assert "jwt keys reloaded keys=1" in d.output()
        client.close()
    finally:
        assert d.stop() == 0, d.output()
    systemd.wait_for("STOPPING=1")
