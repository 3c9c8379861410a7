"""Helpers for tests that push events through Kafka into a worker and look at PostgreSQL,
and a fake OpenAI-compatible LLM server (the only test double: the model is external and paid).
"""
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from confluent_kafka import Producer


def produce(bootstrap, topic, messages, partition=None):
    """messages: (key, value bytes or dict) pairs, produced in order, all acknowledged."""
    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    failures = []
    for key, value in messages:
        data = value if isinstance(value, (bytes, str)) else json.dumps(value)
        etype = value.get("type", "unknown") if isinstance(value, dict) else "unknown"
        kw = {} if partition is None else {"partition": partition}
        p.produce(topic, key=None if key is None else (key if isinstance(key, bytes) else str(key)),
                  value=data, headers={"aimem-type": str(etype)},
                  on_delivery=lambda err, msg: failures.append(err) if err else None, **kw)
        p.poll(0)
    p.flush(60)
    assert not failures, failures


def wait_for(predicate, timeout=60.0, what="condition", interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


def query(db, sql, *args):
    with db.connect(autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(sql, args or None)
        return cur.fetchall()


def stored_total(db, group):
    rows = query(db, "SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets WHERE consumer_group = %s", group)
    return rows[0][0]


class FakeLLM:
    """An OpenAI-compatible /chat/completions endpoint on 127.0.0.1 whose behaviour a test sets.

    handler(request_json) -> (status, headers dict, body bytes or str, delay seconds); the
    default answers every request with `answer` (a dict dumped as the message content). A
    callable body is called with the request handler to write raw bytes (resets, drips).
    Requests are recorded (bodies) so tests can check what was sent.
    """

    def __init__(self):
        self.requests = []
        self.lock = threading.Lock()
        self.handler = None
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(n))
                with fake.lock:
                    fake.requests.append(body)
                status, headers, out, delay = fake.handler(body)
                if delay:
                    time.sleep(delay)
                if callable(out):  # raw misbehaviour: out(handler) writes what it wants
                    try:
                        out(self)
                    except (BrokenPipeError, ConnectionResetError):
                        pass
                    self.close_connection = True
                    return
                data = out.encode() if isinstance(out, str) else out
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        class Server(ThreadingHTTPServer):
            request_queue_size = 256  # many requests in flight connect at once

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    @staticmethod
    def completion(content):
        text = content if isinstance(content, str) else json.dumps(content)
        return json.dumps({"id": "cmpl-test", "object": "chat.completion",
                           "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                        "finish_reason": "stop"}]})

    def answer_with(self, content, delay=0.0):
        self.handler = lambda body: (200, {}, self.completion(content), delay)

    def count(self):
        with self.lock:
            return len(self.requests)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


PG_BIN = "/usr/lib/postgresql/15/bin"


def pg_stop(services, mode="immediate"):
    """Stops the test cluster (crash-like with mode immediate); pg_start brings it back on the
    same port with the same options."""
    import subprocess
    subprocess.run(["runuser", "-u", "postgres", "--", f"{PG_BIN}/pg_ctl", "stop", "-D",
                    f"{services.dir}/pg/data", "-m", mode, "-w", "-s"], check=True, timeout=60)


def pg_start(services):
    import shlex
    import subprocess
    from pathlib import Path
    data = Path(services.dir) / "pg/data"
    argv = shlex.split((data / "postmaster.opts").read_text())
    opts = []
    skip = False
    for a in argv[1:]:  # the postgres binary first, then its options (-D is given below)
        if skip:
            skip = False
            continue
        if a == "-D":
            skip = True
            continue
        opts.append(a)
    subprocess.run(["runuser", "-u", "postgres", "--", f"{PG_BIN}/pg_ctl", "start", "-D", str(data),
                    "-l", f"{services.dir}/pg/log", "-w", "-s", "-t", "60", "-o", shlex.join(opts)],
                   check=True, timeout=90, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
