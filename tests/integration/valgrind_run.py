"""A short integration run under valgrind (issue 8, part 6): `make valgrind-integration`.

aimem-ingest handles a few hundred requests (every route, and the error paths: 400, 401, 404,
405, 413, refused framing) and aimem-summarizer a few hundred events (good ones and dead
letters), each under valgrind --leak-check=full, then SIGTERM: exit 0, no valgrind error and
0 bytes definitely lost. Named *_run.py so plain `pytest tests/integration` (make test) does not
collect it: valgrind makes it slow (a minute or two).
"""
import http.client
import json
import re
import socket
import uuid

from conftest import BUILD, REPO, Daemon, make_topic, mint
from pipeline import produce, query, stored_total, wait_for
from test_ingest import call_body
from test_summarizer import FIXTURES, call, malformed

SECRET = "valgrind-test-secret-0123456789abcdef-01"  # test only
VG_ERROR = 99


def valgrind(log):
    return ["valgrind", "--leak-check=full", "--show-leak-kinds=definite",
            "--errors-for-leak-kinds=definite", f"--error-exitcode={VG_ERROR}",
            "--track-fds=no", "--num-callers=30", f"--log-file={log}"]


def leak_summary(log):
    text = log.read_text(errors="replace")
    lost = re.search(r"definitely lost: ([\d,]+) bytes in ([\d,]+) blocks", text)
    errors = re.search(r"ERROR SUMMARY: (\d+) errors", text)
    return (int(lost.group(1).replace(",", "")) if lost else 0,
            int(errors.group(1)) if errors else -1, text)


def send(port, method, path, body=None, token=None, raw=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    h = {"Authorization": f"Bearer {token}"} if token else {}
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    if data is not None:
        h["Content-Type"] = "application/json"
    conn.request(method, path, body=data, headers=h)
    r = conn.getresponse()
    r.read()
    conn.close()
    return r.status


def raw(port, data):
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    out = b""
    while chunk := s.recv(65536):
        out += chunk
    s.close()
    return out


def test_ingest_under_valgrind(services, tmp_path):
    vlog = tmp_path / "valgrind-ingest.txt"
    env = {"AIMEM_HTTP_PORT": "0", "AIMEM_AUTH_JWT_SECRET": SECRET,
           "AIMEM_KAFKA_BOOTSTRAP_SERVERS": services.bootstrap,
           "AIMEM_TOPICS_CALLS": make_topic(services), "AIMEM_TOPICS_MEMORIES": make_topic(services),
           "AIMEM_HTTP_MAX_BODY": "64KiB"}
    d = Daemon([*valgrind(vlog), str(BUILD / "bin/aimem-ingest")], env, tmp_path / "ingest.log")
    d.wait_ready(timeout=180)
    token = mint(SECRET, customer_id=7, scope="memory:read memory:write")
    seen = {}
    for i in range(300):
        k = i % 10
        if k in (0, 1, 2):
            st = send(d.port, "POST", "/v3/calls", call_body(i), token)
        elif k == 3:
            st = send(d.port, "POST", "/v3/memories",
                      {"scope": "shared", "mtype": "admin_setting", "key": f"k{i}", "value": i}, token)
        elif k == 4:
            st = send(d.port, "DELETE", f"/v3/memories/{uuid.uuid4()}", None, token)
        elif k == 5:
            st = send(d.port, "POST", "/v3/calls", raw=b"{not json", token=token)
        elif k == 6:
            st = send(d.port, "POST", "/v3/calls", call_body(i), "not.a.token")
        elif k == 7:
            st = send(d.port, "POST", "/v2/process-call",
                      {"user_id": "9495551234", "thread_id": f"t{i}",
                       "conversation_history": [["user", "hello"], ["assistant", "hi"]]}, token)
        elif k == 8:
            st = send(d.port, "POST", "/v3/calls", raw=b"x" * 70000, token=token)
        else:
            out = raw(d.port, b"POST /v3/calls HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                              b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
            st = int(out.split()[1])
        seen[st] = seen.get(st, 0) + 1
    for path in ("/healthz", "/readyz", "/metrics", "/nope"):
        st = send(d.port, "GET", path)
        seen[st] = seen.get(st, 0) + 1
    rc = d.stop(timeout=180)
    lost, errors, text = leak_summary(vlog)
    assert "Memcheck" in text, text[-2000:]
    print(f"ingest under valgrind: statuses {sorted(seen.items())}; exit {rc}; "
          f"definitely lost {lost} bytes; {errors} errors")
    assert 202 in seen and 400 in seen and 401 in seen and 413 in seen, seen
    assert rc == 0 and lost == 0 and errors == 0, text[-6000:]


def test_summarizer_under_valgrind(services, db, tmp_path):
    topic, group = make_topic(services), "vg-" + uuid.uuid4().hex[:8]
    events = [(7 + i % 3, call(json.loads(FIXTURES[i % len(FIXTURES)].read_text()), 7 + i % 3,
                               f"94955500{i % 10:02d}", i)) for i in range(240)]
    for i in range(12):
        events.insert(i * 19 + 5, malformed(i))
    produce(services.bootstrap, topic, events)
    vlog = tmp_path / "valgrind-summarizer.txt"
    env = {"AIMEM_DB_URL": db.worker_url, "AIMEM_KAFKA_BOOTSTRAP_SERVERS": services.bootstrap,
           "AIMEM_TOPICS_CALLS": topic, "AIMEM_CONSUMER_GROUP": group, "AIMEM_HTTP_PORT": "0",
           "AIMEM_LEXICONS_DIR": str(REPO / "workers/lexicons"),
           "AIMEM_LLM_PROMPT": str(REPO / "workers/summarizer/prompts/summarize.v1.txt"),
           "AIMEM_KAFKA_SESSION_TIMEOUT_MS": "30000"}
    d = Daemon([*valgrind(vlog), str(BUILD / "bin/aimem-summarizer")], env,
               tmp_path / "summarizer.log")
    d.wait_ready(timeout=180, pattern=r"\bready group=")
    wait_for(lambda: stored_total(db, group) == len(events), timeout=300,
             what="every offset stored")
    rows = query(db, "SELECT count(*) FROM call_summaries")[0][0]
    dead = query(db, "SELECT count(*) FROM dead_letters WHERE consumer_group = %s", group)[0][0]
    rc = d.stop(timeout=180)
    lost, errors, text = leak_summary(vlog)
    assert "Memcheck" in text, text[-2000:]
    print(f"summarizer under valgrind: {len(events)} events, {rows} summaries, {dead} dead "
          f"letters; exit {rc}; definitely lost {lost} bytes; {errors} errors")
    assert rows == 240 and dead == 12
    assert rc == 0 and lost == 0 and errors == 0, text[-6000:]
