"""The gateway on a 3-broker KRaft cluster (issue 19 items 2 and 5, first part): scripts/dev up
--brokers 3, aimem-ingest producing with acks=all and idempotence to topics replicated 3 times
with min.insync.replicas=2. SIGKILL the broker that leads partition 0: calls are still
acknowledged (202) once a new leader is elected, or answered 503 + Retry-After, never anything
else. SIGKILL a second broker (no controller quorum, no in-sync minimum): every call is answered
503 + Retry-After within the produce timeout, never 202. `up` brings both back: 202 again. Then
every call that was answered 202 is in the topic exactly once.
"""
import json
import os
import time
import uuid

from confluent_kafka.admin import AdminClient

from conftest import BUILD, Daemon, consume, mint
from devstack import dev, read_env
from test_ingest import SECRET, call_body, request

PRODUCE_TIMEOUT_S = 6


def post(port, token, n):
    body = call_body(n, call_id=f"CL{uuid.uuid4().hex[:12]}")
    t0 = time.monotonic()
    status, headers, payload = request(port, "POST", "/v3/calls", body, token=token)
    return body["call_id"], status, headers, payload, time.monotonic() - t0


def leader_of(bootstrap, topic, partition):
    md = AdminClient({"bootstrap.servers": bootstrap}).list_topics(topic, timeout=10)
    return md.topics[topic].partitions[partition].leader


def test_ingest_on_a_cluster_with_brokers_killed(tmp_path):
    acked, outcomes = [], []
    d = None
    try:
        dev("up", "--dir", tmp_path, "--brokers", "3", "kafka")
        bootstrap = read_env(tmp_path / "env")["AIMEM_KAFKA_BOOTSTRAP_SERVERS"]
        d = Daemon([str(BUILD / "bin/aimem-ingest")],
                   {"AIMEM_HTTP_PORT": "0", "AIMEM_AUTH_JWT_SECRET": SECRET,
                    "AIMEM_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                    "AIMEM_TOPICS_CALLS": "aimem.calls.v1",
                    "AIMEM_PRODUCE_TIMEOUT": f"{PRODUCE_TIMEOUT_S}s"},
                   tmp_path / "ingest.log").wait_ready()
        token = mint(SECRET, customer_id=7)

        def send(phase, n):
            for i in range(n):
                call_id, status, headers, payload, secs = post(d.port, token, i)
                outcomes.append((phase, status, secs))
                if status == 202:
                    acked.append(call_id)
                else:
                    assert status == 503 and int(headers["Retry-After"]) >= 1, (phase, status, payload)
                    assert secs < PRODUCE_TIMEOUT_S + 5, (phase, secs)

        send("all up", 10)
        assert [s for p, s, _ in outcomes] == [202] * 10

        victim = leader_of(bootstrap, "aimem.calls.v1", 0)
        os.kill(int((tmp_path / f"kafka/node{victim}/pid").read_text()), 9)
        send("leader killed", 20)
        late = [s for p, s, _ in outcomes if p == "leader killed"]
        assert late[-5:] == [202] * 5, late  # a new leader took over within the timeout

        second = next(i for i in (1, 2, 3) if i != victim)
        os.kill(int((tmp_path / f"kafka/node{second}/pid").read_text()), 9)
        time.sleep(1)
        send("two killed", 3)
        assert [s for p, s, _ in outcomes if p == "two killed"] == [503] * 3, outcomes

        dev("up", "--dir", tmp_path, "kafka")
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            send("back", 1)
            if outcomes[-1][1] == 202:
                break
        assert outcomes[-1][1] == 202, outcomes[-5:]
        send("back", 5)
        assert [s for p, s, _ in outcomes[-5:]] == [202] * 5

        seen = {}
        for _, value, _, _ in consume(bootstrap, "aimem.calls.v1", len(acked), timeout=60):
            call_id = json.loads(value)["call_id"]
            seen[call_id] = seen.get(call_id, 0) + 1
        missing = [c for c in acked if c not in seen]
        assert not missing, f"{len(missing)} acknowledged calls are not in the topic"
        assert all(seen[c] == 1 for c in acked), {c: seen[c] for c in acked if seen[c] != 1}
        for phase in dict.fromkeys(p for p, _, _ in outcomes):
            got = [(s, t) for p, s, t in outcomes if p == phase]
            print(f"cluster: {phase}: {sum(s == 202 for s, _ in got)} x 202, "
                  f"{sum(s == 503 for s, _ in got)} x 503, slowest answer {max(t for _, t in got):.2f} s")
    finally:
        if d is not None:
            d.stop()
        dev("down", "--dir", tmp_path, "all", check=False)
