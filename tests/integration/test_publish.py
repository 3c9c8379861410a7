"""`aimem publish` against the real broker: good lines are delivered, bad lines are named."""
import json
import uuid

from conftest import aimem, consume, make_topic


def call_event(customer, n, **over):
    ev = {"type": "call.ended", "version": 1, "event_id": str(uuid.uuid4()),
          "customer_id": customer, "occurred_at": "2026-11-20T15:09:41Z",
          "call_id": f"CA{customer}x{n}", "user_id": f"94955512{n:02d}",
          "turns": [{"role": "assistant", "text": "Thanks for calling Peterson Insurance."},
                    {"role": "user", "text": f"Hi, this is caller {n}, my bill looks wrong."}]}
    ev.update(over)
    return json.dumps(ev)


def put_event(customer):
    return json.dumps({"type": "memory.put", "version": 1, "event_id": str(uuid.uuid4()),
                       "customer_id": customer, "occurred_at": "2026-11-20T15:09:41Z",
                       "memory_id": str(uuid.uuid4()), "scope": "shared", "user_id": None,
                       "mtype": "admin_setting", "key": "greeting",
                       "value": {"setting_key": "greeting", "value": "Hello"}})


def env_for(services, calls, memories):
    return {"AIMEM_KAFKA_BOOTSTRAP_SERVERS": services.bootstrap, "AIMEM_TOPICS_CALLS": calls,
            "AIMEM_TOPICS_MEMORIES": memories}


def test_publish_good_and_bad_lines(services, tmp_path):
    calls, memories = make_topic(services), make_topic(services)
    lines = [call_event(7, 1), call_event(8, 2), "", "{not json", put_event(7),
             call_event(9, 3, customer_id="9"), call_event(7, 4, turns=[]), call_event(3, 5)]
    src = tmp_path / "backfill.jsonl"
    src.write_text("\n".join(lines) + "\n")
    proc = aimem("publish", str(src), env=env_for(services, calls, memories), check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "publish: 7 lines, 4 sent, 3 rejected, 0 failed" in proc.stdout
    assert "line 4: bad_json:" in proc.stderr
    assert "line 6: wrong_type: customer_id: must be an integer" in proc.stderr
    assert "line 7: too_short: turns: at least one turn is required" in proc.stderr
    assert "Hi, this is caller" not in proc.stderr  # no transcript text in messages

    got = consume(services.bootstrap, calls, 3)
    assert sorted(k for k, *_ in got) == ["3", "7", "8"]
    for key, value, headers, _ in got:
        ev = json.loads(value)
        assert str(ev["customer_id"]) == key
        assert headers["aimem-type"] == "call.ended"
    mem = consume(services.bootstrap, memories, 1)
    assert [(k, h["aimem-type"]) for k, _, h, _ in mem] == [("7", "memory.put")]


def test_publish_all_good_from_stdin_exits_zero(services):
    calls, memories = make_topic(services), make_topic(services)
    body = "\n".join(call_event(c, c) for c in range(1, 21))
    proc = aimem("publish", "-", env=env_for(services, calls, memories), check=False,
                 input=body)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "publish: 20 lines, 20 sent, 0 rejected, 0 failed" in proc.stdout
    assert len(consume(services.bootstrap, calls, 20)) == 20


def test_publish_dry_run_sends_nothing(services, tmp_path):
    calls, memories = make_topic(services), make_topic(services)
    src = tmp_path / "x.jsonl"
    src.write_text(call_event(7, 1) + "\n" + call_event(7, 2, version=2) + "\n")
    proc = aimem("publish", "--dry-run", str(src), env=env_for(services, calls, memories),
                 check=False)
    assert proc.returncode == 1
    assert "publish: 2 lines, 1 valid, 1 rejected" in proc.stdout
    assert "line 2: bad_version" in proc.stderr
    assert consume(services.bootstrap, calls, 0, timeout=3) == []


def test_publish_unreachable_broker_fails_every_line(services, tmp_path):
    src = tmp_path / "x.jsonl"
    src.write_text(call_event(7, 1) + "\n")
    proc = aimem("publish", str(src), env={"AIMEM_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
                                          "AIMEM_PRODUCE_TIMEOUT": "2s"}, check=False)
    assert proc.returncode == 1
    assert "publish: 1 lines, 0 sent, 0 rejected, 1 failed" in proc.stdout
