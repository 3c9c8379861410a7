"""aimem-ingest over real HTTP against the real broker.

Each test module run starts one gateway on fresh topics; the broker-outage test runs its own
broker so stopping it cannot disturb the others.
"""
import http.client
import json
import shutil
import socket
import tempfile
import time
import uuid

import pytest

from conftest import BUILD, REPO, Daemon, consume, make_topic, mint, read_env, run

SECRET = "test-secret-0123456789abcdef-0123456789"  # 38 bytes, test only


def start_ingest(bootstrap, calls, memories, log_path, **extra):
    env = {"AIMEM_HTTP_PORT": "0", "AIMEM_AUTH_JWT_SECRET": SECRET,
           "AIMEM_KAFKA_BOOTSTRAP_SERVERS": bootstrap, "AIMEM_TOPICS_CALLS": calls,
           "AIMEM_TOPICS_MEMORIES": memories, "AIMEM_HTTP_MAX_BODY": "64KiB"}
    env.update(extra)
    return Daemon([str(BUILD / "bin/aimem-ingest")], env, log_path).wait_ready()


@pytest.fixture(scope="module")
def gateway(services, tmp_path_factory):
    calls, memories = make_topic(services), make_topic(services)
    log = tmp_path_factory.mktemp("ingest") / "ingest.log"
    d = start_ingest(services.bootstrap, calls, memories, log)
    d.calls, d.memories, d.bootstrap = calls, memories, services.bootstrap
    yield d
    assert d.stop() == 0, d.output()


def request(port, method, path, body=None, token=None, headers=None, raw_body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    h = dict(headers or {})
    if token is not None:
        h["Authorization"] = f"Bearer {token}"
    data = raw_body if raw_body is not None else (json.dumps(body).encode() if body is not None else None)
    if data is not None:
        h.setdefault("Content-Type", "application/json")
    conn.request(method, path, body=data, headers=h)
    resp = conn.getresponse()
    text = resp.read()
    conn.close()
    try:
        payload = json.loads(text) if text else None
    except ValueError:
        payload = text
    return resp.status, dict(resp.getheaders()), payload


def call_body(n=1, **over):
    body = {"call_id": f"CA{uuid.uuid4().hex[:10]}", "user_id": "9495551234",
            "started_at": "2026-11-20T15:04:05Z", "ended_at": "2026-11-20T15:09:41Z",
            "turns": [{"role": "assistant", "text": "Thanks for calling Peterson Insurance."},
                      {"role": "user", "text": f"Hi, this is Kelly Nguyen, bill question {n}."}]}
    body.update(over)
    return body


ROUTES = [
    ("POST", "/v3/calls", call_body()),
    ("POST", "/v3/memories", {"scope": "shared", "mtype": "admin_setting", "key": "k", "value": 1}),
    ("DELETE", f"/v3/memories/{uuid.uuid4()}", None),
    ("POST", "/v2/process-call", {"user_id": "9495551234", "thread_id": "CA123",
                                  "conversation_history": [["user", "hi"], ["assistant", "hello"]]}),
    ("POST", "/v1/memories", {"type": "fact", "key": "k", "value": "v"}),
    ("POST", "/v1/memories/user?user_id=9495551234", {"type": "person", "key": "name", "value": "Kelly"}),
    ("POST", "/v1/memories/shared", {"type": "admin_setting", "key": "greeting", "value": {"v": 1}}),
    ("DELETE", f"/v1/memories/{uuid.uuid4()}", None),
    ("POST", "/memory/store", {"user_id": "9495551234", "role": "user", "content": "remember me"}),
]


@pytest.mark.parametrize("method,path,body", ROUTES, ids=[f"{m} {p.split('?')[0]}" for m, p, _ in ROUTES])
def test_every_route_needs_a_valid_token_with_write_scope(gateway, method, path, body):
    status, headers, payload = request(gateway.port, method, path, body)
    assert status == 401 and headers.get("WWW-Authenticate", "").startswith("Bearer")
    assert payload["error"]["code"] == "unauthorized"
    for bad in ("garbage", mint("wrong-secret-0123456789abcdef-0123456789"),
                mint(SECRET, alg="HS512"), mint(SECRET, exp=int(time.time()) - 3600),
                mint(SECRET, customer_id="7"), mint(SECRET, exp=None)):
        assert request(gateway.port, method, path, body, token=bad)[0] == 401
    status, _, payload = request(gateway.port, method, path, body,
                                 token=mint(SECRET, scope="memory:read"))
    assert status == 403 and payload["error"]["code"] == "forbidden"


@pytest.mark.parametrize("method,path,body", [r for r in ROUTES if r[2] is not None],
                         ids=[f"{m} {p.split('?')[0]}" for m, p, b in ROUTES if b is not None])
def test_body_naming_another_tenant_is_forbidden(gateway, method, path, body):
    status, _, payload = request(gateway.port, method, path, dict(body, customer_id=8),
                                 token=mint(SECRET, customer_id=7))
    assert status == 403 and payload["error"]["code"] == "tenant_mismatch"


@pytest.mark.parametrize("method,path,body", ROUTES, ids=[f"{m} {p.split('?')[0]}" for m, p, _ in ROUTES])
def test_query_string_naming_another_tenant_is_forbidden(gateway, method, path, body):
    """?customer_id=8 with a tenant-7 token: refused before anything is produced, as a body
    customer_id is; the token's own tenant in the query is accepted."""
    sep = "&" if "?" in path else "?"
    status, _, payload = request(gateway.port, method, f"{path}{sep}customer_id=8", body,
                                 token=mint(SECRET, customer_id=7))
    assert status == 403 and payload["error"]["code"] == "tenant_mismatch", payload
    status, _, payload = request(gateway.port, method, f"{path}{sep}customer_id=7", body,
                                 token=mint(SECRET, customer_id=7))
    assert status in (200, 202), payload


def test_v3_calls_accepted_after_broker_ack_and_on_the_topic(gateway):
    body = call_body(thread_id="T-1", metadata={"campaign": "renewals"})
    status, headers, payload = request(gateway.port, "POST", "/v3/calls", body,
                                       token=mint(SECRET, customer_id=7))
    assert status == 202, payload
    assert payload["call_id"] == body["call_id"] and uuid.UUID(payload["event_id"])
    assert headers.get("X-Request-Id")
    got = on_topic(gateway, gateway.calls, payload["event_id"])
    assert len(got) == 1
    key, value, hdrs, _ = got[0]
    ev = json.loads(value)
    assert key == "7" and hdrs["aimem-type"] == "call.ended"
    assert ev["customer_id"] == 7 and ev["type"] == "call.ended" and ev["version"] == 1
    assert ev["turns"] == body["turns"] and ev["thread_id"] == "T-1"
    # the client's metadata, with what the redactor did first (docs/redaction.md)
    assert ev["metadata"] == {"redaction": {"policy": "1/default-7f", "counts": {}},
                              "campaign": "renewals"}


def on_topic(gateway, topic, event_id):
    """The messages of topic carrying event_id (every message is read from the start)."""
    return [m for m in consume(gateway.bootstrap, topic, 1, timeout=10)
            if json.loads(m[1])["event_id"] == event_id]


def test_v3_memories_put_and_delete(gateway):
    token = mint(SECRET, customer_id=7)
    status, _, put = request(gateway.port, "POST", "/v3/memories",
                             {"scope": "user", "user_id": "9495551234", "mtype": "person",
                              "key": "name", "value": {"first": "Kelly"}, "ttl_days": 365},
                             token=token)
    assert status == 202 and uuid.UUID(put["memory_id"]) and uuid.UUID(put["event_id"])
    status, _, dele = request(gateway.port, "DELETE", f"/v3/memories/{put['memory_id']}",
                              token=token)
    assert status == 202 and dele["memory_id"] == put["memory_id"]
    ev = json.loads(on_topic(gateway, gateway.memories, put["event_id"])[0][1])
    assert ev["type"] == "memory.put" and ev["value"] == {"first": "Kelly"} and ev["ttl_days"] == 365
    msg = on_topic(gateway, gateway.memories, dele["event_id"])[0]
    assert msg[0] == "7" and msg[2]["aimem-type"] == "memory.delete"
    assert json.loads(msg[1])["memory_id"] == put["memory_id"]


def test_compat_process_call_keeps_the_previous_shape(gateway):
    status, _, body = request(gateway.port, "POST", "/v2/process-call",
                              {"user_id": "9495551234", "thread_id": "CAabc123",
                               "conversation_history": [["assistant", "Peterson Insurance, Sam speaking."],
                                                        ["user", "Hi, this is Kelly."]]},
                              token=mint(SECRET, customer_id=7))
    assert status == 200, body
    assert body["success"] is True and body["call_id"] == "CAabc123" and body["queued"] is True
    assert isinstance(body["summary"], str) and isinstance(body["sentiment"], str)
    ev = json.loads(on_topic(gateway, gateway.calls, body["event_id"])[0][1])
    assert ev["call_id"] == "CAabc123" and ev["thread_id"] == "CAabc123"
    assert [t["role"] for t in ev["turns"]] == ["assistant", "user"]
    assert ev["ended_at"].endswith("Z")


def test_compat_memory_writes_keep_the_previous_shape(gateway):
    token = mint(SECRET, customer_id=7, scope="memory:read:write")
    status, _, user = request(gateway.port, "POST", "/v1/memories/user?user_id=9495551234",
                              {"type": "thread_recap", "key": "thread_history:CA1",
                               "value": {"summary": "talked about billing"}, "ttl_days": 365,
                               "source": "chatstack"}, token=token)
    assert status == 200 and user["success"] is True and user["id"] == user["memory_id"]
    status, _, shared = request(gateway.port, "POST", "/v1/memories/shared",
                                {"type": "admin_setting", "key": "greeting",
                                 "value": {"setting_key": "greeting", "value": "Hello",
                                           "setting_value": "Hello", "timestamp": "t",
                                           "updated_at": "t"}}, token=token)
    assert status == 200 and shared["success"] is True
    status, _, store = request(gateway.port, "POST", "/memory/store",
                               {"user_id": "9495551234", "role": "user", "message": "legacy field"},
                               token=token)
    assert status == 200 and store["success"] is True and store["id"] == store["memory_id"]
    status, _, gone = request(gateway.port, "DELETE", f"/v1/memories/{user['memory_id']}", token=token)
    assert status == 200 and gone["success"] is True
    evs = {e["event_id"]: e for e in (json.loads(m[1]) for m in consume(gateway.bootstrap, gateway.memories, 4, timeout=10))}
    u = evs[user["event_id"]]
    assert (u["scope"], u["user_id"], u["mtype"], u["key"]) == ("user", "9495551234", "thread_recap", "thread_history:CA1")
    s = evs[shared["event_id"]]
    assert (s["scope"], s["user_id"], s["mtype"]) == ("shared", None, "admin_setting")
    st = evs[store["event_id"]]
    assert st["value"]["content"] == "legacy field" and st["scope"] == "user"
    assert evs[gone["event_id"]]["type"] == "memory.delete"


@pytest.mark.parametrize("path,body,code,fragment", [
    ("/v3/calls", "{not json", "bad_json", "invalid JSON"),
    ("/v3/calls", "[1,2]", "not_object", "JSON object"),
    ("/v3/calls", json.dumps(call_body(turns=[])), "too_short", "turns: at least one turn"),
    ("/v3/calls", json.dumps(call_body(call_id="bad id")), "bad_value", "call_id"),
    ("/v3/calls", json.dumps(call_body(turns=[{"role": "caller", "text": "x"}])), "bad_value", "turns[0].role"),
    ("/v3/calls", json.dumps(dict(call_body(), type="memory.put")), "unknown_type", "takes call.ended"),
    ("/v3/memories", json.dumps({"scope": "user", "mtype": "person", "key": "k", "value": 1}), "missing_field", "user_id"),
    ("/v2/process-call", json.dumps({"user_id": "1", "conversation_history": []}), "bad_value", "conversation_history"),
    ("/v2/process-call", json.dumps({"user_id": "1", "conversation_history": [["robot", "x"]]}), "bad_value", "known role"),
    ("/v1/memories/user", json.dumps({"type": "person", "key": "k", "value": 1}), "missing_field", "user_id"),
    ("/memory/store", json.dumps({"user_id": "1"}), "missing_field", "content"),
])
def test_malformed_bodies_get_a_precise_400(gateway, path, body, code, fragment):
    status, _, payload = request(gateway.port, "POST", path, raw_body=body.encode(),
                                 token=mint(SECRET))
    assert status == 400, payload
    assert payload["error"]["code"] == code and fragment in payload["error"]["message"]


def test_bad_memory_id_in_path_is_400(gateway):
    for path in ("/v3/memories/not-a-uuid", "/v1/memories/123"):
        status, _, payload = request(gateway.port, "DELETE", path, token=mint(SECRET))
        assert status == 400 and payload["error"]["code"] == "bad_value"


def test_body_over_the_limit_is_413(gateway):
    big = call_body(turns=[{"role": "user", "text": "x" * 30000}] * 3)  # ~90 KB > 64 KiB
    status, _, payload = request(gateway.port, "POST", "/v3/calls", big, token=mint(SECRET))
    assert status == 413, payload


def raw_exchange(port, data, wait=2.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(data)
    s.settimeout(wait)
    chunks = []
    try:
        while True:
            c = s.recv(65536)
            if not c:
                break
            chunks.append(c)
    except socket.timeout:
        pass
    s.close()
    return b"".join(chunks).decode(errors="replace")


@pytest.mark.parametrize("framing", [
    b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
    b"Content-Length: 5\r\nContent-Length: 5\r\n",
    b"Content-Length: 5\r\nContent-Length: 6\r\n",
    b"Transfer-Encoding : chunked\r\n",
    b"Content-Length: 5\r\nAuthorization: Bearer x\r\n",  # two Authorization headers
])
def test_ambiguous_framing_is_refused_and_nothing_smuggled(gateway, framing):
    token = mint(SECRET).encode()
    smuggled = (b"POST /v3/calls HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token +
                b"\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
    first = (b"POST /v3/calls HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token + b"\r\n" +
             framing + b"\r\n0\r\n\r\n" + smuggled)
    out = raw_exchange(gateway.port, first)
    assert out.startswith("HTTP/1.1 400"), out[:200]
    assert out.count("HTTP/1.1 ") == 1, out  # the second request was never processed


def dev(*args, timeout=180):
    return run([str(REPO / "scripts/dev"), *args], timeout=timeout)


@pytest.fixture
def own_broker():
    """A broker of this test's own, so stopping it disturbs nobody else."""
    folder = tempfile.mkdtemp(prefix="aimem-broker-")
    try:
        dev("up", "--dir", folder, "kafka")
        yield folder, read_env(f"{folder}/env")["AIMEM_KAFKA_BOOTSTRAP_SERVERS"]
    finally:
        run([str(REPO / "scripts/dev"), "down", "--dir", folder, "all"], check=False, timeout=120)
        shutil.rmtree(folder, ignore_errors=True)


def test_broker_outage_gives_503_never_a_false_2xx(own_broker, tmp_path):
    folder, bootstrap = own_broker
    d = start_ingest(bootstrap, "aimem.calls.v1", "aimem.memories.v1", tmp_path / "ingest.log",
                     AIMEM_PRODUCE_TIMEOUT="2s")
    token = mint(SECRET, customer_id=7)
    accepted = []
    try:
        status, _, body = request(d.port, "POST", "/v3/calls", call_body(1), token=token)
        assert status == 202, body
        accepted.append(body["event_id"])

        dev("down", "--dir", folder, "kafka")
        t0 = time.monotonic()
        status, headers, body = request(d.port, "POST", "/v3/calls", call_body(2), token=token)
        took = time.monotonic() - t0
        assert status == 503, body
        assert int(headers["Retry-After"]) >= 1 and body["error"]["code"] == "unavailable"
        # bounded by produce.timeout (2 s) plus librdkafka's timeout scan; a hang would run
        # into the client's 30 s timeout (20 s leaves room for sanitizer builds on a busy box)
        assert took < 20, took

        dev("up", "--dir", folder, "kafka")
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            status, _, body = request(d.port, "POST", "/v3/calls", call_body(3), token=token)
            if status == 202:
                accepted.append(body["event_id"])
                break
            assert status == 503, body
        else:
            pytest.fail("no 202 within 90 s of the broker's restart:\n" + d.output())
    finally:
        assert d.stop() == 0, d.output()
    on_topic = {json.loads(m[1])["event_id"] for m in consume(bootstrap, "aimem.calls.v1", len(accepted))}
    assert set(accepted) <= on_topic, "a 2xx was given for an event that is not on the topic"


def test_sigterm_answers_in_flight_requests_and_exits_zero(own_broker, tmp_path):
    import signal
    import threading
    folder, bootstrap = own_broker
    d = start_ingest(bootstrap, "aimem.calls.v1", "aimem.memories.v1", tmp_path / "ingest.log",
                     AIMEM_PRODUCE_TIMEOUT="20s", AIMEM_SHUTDOWN_DRAIN="3s")
    token = mint(SECRET, customer_id=7)
    assert request(d.port, "POST", "/v3/calls", call_body(1), token=token)[0] == 202
    dev("down", "--dir", folder, "kafka")  # the next request cannot be acknowledged
    result = {}

    def client():
        result["status"] = request(d.port, "POST", "/v3/calls", call_body(2), token=token)[0]

    t = threading.Thread(target=client)
    t.start()
    time.sleep(0.5)  # let the request reach the gateway and wait on the broker
    t0 = time.monotonic()
    d.proc.send_signal(signal.SIGTERM)
    t.join(timeout=30)
    rc = d.stop()
    assert rc == 0, d.output()
    assert result.get("status") == 503  # answered, and honestly: not acknowledged
    assert time.monotonic() - t0 < 15
    assert "stopped" in d.output()


def test_client_event_id_is_kept_for_idempotent_retries(gateway):
    """A client retrying with its own event_id gets the same id on the topic (the workers'
    upserts make the retry harmless); unknown fields travel on for newer consumers."""
    event_id = str(uuid.uuid4())
    body = call_body(event_id=event_id, future_field={"x": 1})
    for _ in range(2):
        status, _, payload = request(gateway.port, "POST", "/v3/calls", body, token=mint(SECRET))
        assert status == 202 and payload["event_id"] == event_id
    got = on_topic(gateway, gateway.calls, event_id)
    assert len(got) == 2
    assert all(json.loads(m[1])["future_field"] == {"x": 1} for m in got)
