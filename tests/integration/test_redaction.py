"""Redaction at the edge (issue 20): a card number spoken in a call never reaches Kafka,
PostgreSQL, the model, the logs or any API answer.

A call with a card read digit by digit across the caller's turns ("four five three nine ...",
"oh" for zero, "double"), its CVV after the agent asks, and a written one on the compatible
route go through aimem-ingest (as every ingest test sends them); aimem-summarizer (processor llm,
on a fake LLM), aimem-embedder and aimem-query run on the real broker and PostgreSQL. Then the
number is looked for in every digit form (written with any separators, or as words) in: every
message of the calls topic, a pg_dump of the test database, every prompt the fake model got, every
program's log, and the query API's answers for the caller. A second part produces an unredacted
event straight to Kafka (as another tool might) and checks the workers redact it before the model
and the database see it.
"""
import json
import re
import signal
import uuid

import pytest

from conftest import BUILD, REPO, Daemon, aimem, consume, make_topic, mint, run
from pipeline import FakeLLM, produce, query, stored_total, wait_for
from test_ingest import SECRET, request

PG_BIN = "/usr/lib/postgresql/15/bin"

CARD = "4539148803436467"   # Luhn-valid Visa test number
CARD2 = "5425233430109903"  # Mastercard test number
CVV = "318"
WORDS = {"zero": "0", "oh": "0", "o": "0", "one": "1", "two": "2", "three": "3", "four": "4",
         "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9"}
SAID = ["oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]

GOOD = {"summary": "The caller paid the renewal by card.", "key_topics": ["billing"],
        "key_variables": {}, "caller_name": "Dana Reyes", "sentiment": "neutral",
        "resolution_status": "resolved"}


def digit_forms(text):
    """Every digit the text holds, in order, written or said (numbers words, 'double X'):
    a card number anywhere in it shows up as a substring whatever separated its digits."""
    out, mult = [], 1
    for tok in re.findall(r"[0-9]|[A-Za-z]+", text):
        t = tok.lower()
        if t.isdigit():
            out.append(t * mult)
            mult = 1
        elif t in WORDS:
            out.append(WORDS[t] * mult)
            mult = 1
        elif t in ("double", "triple"):
            mult = 2 if t == "double" else 3
    return "".join(out)


def assert_no_card(where, text):
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    digits = digit_forms(text)
    for number in (CARD, CARD2):
        assert number not in digits, f"{where}: holds the card number {number[:4]}..."
    assert CARD not in re.sub(r"[^0-9]", "", text), f"{where}: holds the card's digits"


def spoken(number):
    return " ".join(SAID[int(d)] for d in number)


def card_call(call_id, user):
    # split across two of the caller's turns, the agent's "mm-hmm" between; "double eight"
    first = spoken(CARD[:8]).replace("eight eight", "double eight", 1)
    second_words = spoken(CARD[8:])
    return {"call_id": call_id, "user_id": user, "started_at": "2026-11-20T15:04:05Z",
            "ended_at": "2026-11-20T15:09:41Z", "metadata": {"campaign": "renewals"},
            "turns": [
                {"role": "assistant", "text": "Thanks for calling Peterson Insurance, how can I help?"},
                {"role": "user", "text": "Hi, this is Dana Reyes, I want to pay my renewal by card."},
                {"role": "assistant", "text": "Sure, go ahead with the card number."},
                {"role": "user", "text": f"It's {first}"},
                {"role": "assistant", "text": "mm-hmm"},
                {"role": "user", "text": second_words},
                {"role": "assistant", "text": "And the security code on the back?"},
                {"role": "user", "text": spoken(CVV)},
                {"role": "assistant", "text": "Thank you, the payment of 412 dollars went through."},
            ]}


@pytest.fixture
def stack(services, db, tmp_path):
    calls, memories = make_topic(services), make_topic(services)
    llm = FakeLLM()
    llm.answer_with(GOOD)
    group = "r-" + uuid.uuid4().hex[:8]
    common = {"AIMEM_DB_URL": db.worker_url, "AIMEM_KAFKA_BOOTSTRAP_SERVERS": services.bootstrap,
              "AIMEM_TOPICS_CALLS": calls, "AIMEM_HTTP_PORT": "0",
              "AIMEM_KAFKA_SESSION_TIMEOUT_MS": "6000", "AIMEM_LOG_LEVEL": "debug"}
    daemons = {}
    try:
        daemons["ingest"] = Daemon([str(BUILD / "bin/aimem-ingest")],
                                   {"AIMEM_HTTP_PORT": "0", "AIMEM_AUTH_JWT_SECRET": SECRET,
                                    "AIMEM_KAFKA_BOOTSTRAP_SERVERS": services.bootstrap,
                                    "AIMEM_TOPICS_CALLS": calls, "AIMEM_TOPICS_MEMORIES": memories,
                                    "AIMEM_LOG_LEVEL": "debug"},
                                   tmp_path / "ingest.log").wait_ready()
        daemons["summarizer"] = Daemon(
            [str(BUILD / "bin/aimem-summarizer")],
            dict(common, AIMEM_CONSUMER_GROUP=group + "-s", AIMEM_PROCESSOR="llm",
                 AIMEM_LLM_BASE_URL=llm.base_url, AIMEM_LLM_MODEL="test-model", AIMEM_LLM_TIMEOUT="5s",
                 AIMEM_LEXICONS_DIR=str(REPO / "workers/lexicons")),
            tmp_path / "summarizer.log").wait_ready(pattern=r"\bready group=")
        daemons["embedder"] = Daemon(
            [str(BUILD / "bin/aimem-embedder")],
            dict(common, AIMEM_CONSUMER_GROUP=group + "-e", AIMEM_EMBED_PROVIDER="hashed"),
            tmp_path / "embedder.log").wait_ready(pattern=r"\bready group=")
        daemons["query"] = Daemon([str(BUILD / "bin/aimem-query")],
                                  {"AIMEM_HTTP_PORT": "0", "AIMEM_AUTH_JWT_SECRET": SECRET,
                                   "AIMEM_DB_URL": db.reader_url, "AIMEM_EMBED_PROVIDER": "hashed",
                                   "AIMEM_LOG_LEVEL": "debug"},
                                  tmp_path / "query.log").wait_ready()
        yield {"calls": calls, "group": group, "llm": llm, "d": daemons, "db": db,
               "bootstrap": services.bootstrap}
    finally:
        for d in daemons.values():
            d.stop()
        llm.close()


def everything_else(stack, tmp_path, user, n_events):
    """The checks every part ends with: topic, database, prompts, logs, API answers."""
    db = stack["db"]
    wait_for(lambda: stored_total(db, stack["group"] + "-s") == n_events
             and stored_total(db, stack["group"] + "-e") == n_events, timeout=90, what="both workers")
    wait_for(lambda: query(db, "SELECT count(*) FROM call_summaries WHERE user_id = %s", user)[0][0] > 0,
             what="a summary")
    for key, value, _, _ in consume(stack["bootstrap"], stack["calls"], n_events):
        assert_no_card("kafka", value)
    dump = tmp_path / "dump.sql"
    run([f"{PG_BIN}/pg_dump", "--data-only", "-f", str(dump), db.admin_url])
    assert "COPY public.call_chunks" in dump.read_text()
    assert_no_card("pg_dump", dump.read_text())
    assert stack["llm"].count() > 0
    for body in stack["llm"].requests:
        assert_no_card("llm prompt", json.dumps(body))
    q = stack["d"]["query"].port
    token = mint(SECRET, customer_id=7, scope="memory:read")
    answers = []
    for path in (f"/v3/callers/{user}/context", f"/v3/callers/{user}/context?format=text",
                 f"/v2/context/enriched?user_id={user}", f"/v3/search?q=card+number&user_id={user}",
                 f"/v3/search?q={CARD[:4]}+{CARD[4:8]}", f"/v3/callers/{user}/summaries",
                 f"/v2/summaries/{user}", f"/v3/callers/{user}/profile"):
        status, _, payload = request(q, "GET", path, token=token)
        answers.append((path, status, payload))
        assert_no_card(f"GET {path}", json.dumps(payload))
    assert any(s == 200 for _, s, _ in answers), answers
    return answers


def test_a_spoken_card_appears_nowhere(stack, tmp_path):
    user, ingest = "9495551234", stack["d"]["ingest"].port
    token = mint(SECRET, customer_id=7)
    body = card_call(f"CA{uuid.uuid4().hex[:10]}", user)
    status, _, payload = request(ingest, "POST", "/v3/calls", body, token=token)
    assert status == 202, payload
    assert_no_card("ingest answer", json.dumps(payload))
    # the written form on the ChatStack-compatible route (the tree path)
    status, _, payload = request(ingest, "POST", "/v2/process-call",
                                 {"user_id": user, "thread_id": f"CA{uuid.uuid4().hex[:10]}",
                                  "conversation_history": [
                                      ["assistant", "Card number please"],
                                      ["user", f"{CARD2[:4]} {CARD2[4:8]}-{CARD2[8:12]} {CARD2[12:]}"]]},
                                 token=token)
    assert status == 200, payload
    everything_else(stack, tmp_path, user, 2)
    # what the topic holds: placeholders with the last four, and the counts in the metadata
    values = [json.loads(v) for _, v, _, _ in consume(stack["bootstrap"], stack["calls"], 2)]
    spoken_ev = next(v for v in values if v["call_id"] == body["call_id"])
    text = " ".join(t["text"] for t in spoken_ev["turns"])
    assert f"[CARD \u2022\u2022\u2022\u2022{CARD[-4:]}]" in text and "[CVV]" in text, text
    assert "412 dollars" in text  # an amount is not a secret
    red = spoken_ev["metadata"]["redaction"]
    assert red["counts"] == {"card": 1, "cvv": 1} and red["policy"].startswith("1/default-")
    assert spoken_ev["metadata"]["campaign"] == "renewals"
    # metrics: counted per kind, never the value
    status, _, metrics = request(stack["d"]["ingest"].port, "GET", "/metrics")
    assert 'aimem_redactions_total{kind="card"} 2' in metrics.decode(), metrics
    for name, d in stack["d"].items():
        assert_no_card(f"{name} log", d.output())


def test_read_your_writes_from_ingest_to_the_context(stack, tmp_path):
    """Not redaction: this file's stack is the whole path (ingest, summarizer, aimem-query), so the
    read-your-writes handshake is checked on it. The 202 of POST /v3/calls names the event's
    occurred_at; a context read with that min_event_time is fresh once the summarizer has applied
    the call (and holds it), and not fresh for a time no event of the caller has reached."""
    user, ingest = "9495557788", stack["d"]["ingest"].port
    body = card_call(f"CA{uuid.uuid4().hex[:10]}", user)
    status, _, payload = request(ingest, "POST", "/v3/calls", body, token=mint(SECRET, customer_id=7))
    assert status == 202 and set(payload) == {"event_id", "call_id", "occurred_at"}, payload
    at = payload["occurred_at"]
    q, token = stack["d"]["query"].port, mint(SECRET, customer_id=7, scope="memory:read")

    def read(t):
        status, headers, doc = request(q, "GET", f"/v3/callers/{user}/context?min_event_time={t}",
                                       token=token)
        assert status == 200, doc
        return headers.get("Aimem-Context-Fresh"), [s["call_id"] for s in doc["summaries"]]

    wait_for(lambda: read(at)[0] == "true", timeout=60, what="a fresh context")
    assert read(at) == ("true", [body["call_id"]])
    assert read("2999-01-01T00:00:00Z") == ("false", [body["call_id"]])
    status, headers, doc = request(q, "GET", f"/v3/callers/{user}/context?after_call={body['call_id']}",
                                   token=token)
    assert (status, headers.get("Aimem-Context-Fresh")) == (200, "true"), doc
    other = mint(SECRET, customer_id=8, scope="memory:read")
    status, headers, doc = request(q, "GET", f"/v3/callers/{user}/context?min_event_time={at}",
                                   token=other)
    assert (status, headers.get("Aimem-Context-Fresh"), doc["known"]) == (200, "false", False)


def test_workers_redact_events_other_tools_produce(stack, tmp_path):
    """Defence in depth: an event produced around the gateway, with the number in it."""
    user = "9495550007"
    ev = dict(card_call(f"CA{uuid.uuid4().hex[:10]}", user), type="call.ended", version=1,
              event_id=str(uuid.uuid4()), customer_id=7, occurred_at="2026-11-20T15:09:41Z")
    ev["turns"].append({"role": "user", "text": f"also my other card {CARD2}"})
    produce(stack["bootstrap"], stack["calls"], [(7, ev)])
    db = stack["db"]
    wait_for(lambda: stored_total(db, stack["group"] + "-s") == 1
             and stored_total(db, stack["group"] + "-e") == 1, timeout=90, what="both workers")
    dump = tmp_path / "dump.sql"
    run([f"{PG_BIN}/pg_dump", "--data-only", "-f", str(dump), db.admin_url])
    assert_no_card("pg_dump", dump.read_text())
    assert stack["llm"].count() > 0
    for body in stack["llm"].requests:
        assert_no_card("llm prompt", json.dumps(body))
        if "[CARD" in json.dumps(body):
            break
    else:
        raise AssertionError("the model never saw the placeholder")
    for name, d in stack["d"].items():
        assert_no_card(f"{name} log", d.output())


def test_aimem_publish_redacts_each_line(services, tmp_path):
    calls, memories = make_topic(services), make_topic(services)
    ev = dict(card_call("CA-pub-1", "9495550001"), type="call.ended", version=1,
              event_id=str(uuid.uuid4()), customer_id=7, occurred_at="2026-11-20T15:09:41Z")
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps(ev) + "\n")
    proc = aimem("publish", str(path), check=False,
                 env={"AIMEM_KAFKA_BOOTSTRAP_SERVERS": services.bootstrap,
                      "AIMEM_TOPICS_CALLS": calls, "AIMEM_TOPICS_MEMORIES": memories})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 sent, 0 rejected, 0 failed, 2 values redacted" in proc.stdout, proc.stdout
    assert_no_card("publish output", proc.stdout + proc.stderr)
    (key, value, _, _), = consume(services.bootstrap, calls, 1)
    assert_no_card("kafka", value)
    assert json.loads(value)["metadata"]["redaction"]["counts"] == {"card": 1, "cvv": 1}


def test_tenant_policy_files_reload_on_sighup(services, tmp_path):
    """redact.tenant_dir: tenant 7's file adds e-mail; another tenant keeps the defaults; a bad
    file on SIGHUP keeps the policy in use."""
    calls, memories = make_topic(services), make_topic(services)
    policies = tmp_path / "redact"
    policies.mkdir()
    d = Daemon([str(BUILD / "bin/aimem-ingest")],
               {"AIMEM_HTTP_PORT": "0", "AIMEM_AUTH_JWT_SECRET": SECRET,
                "AIMEM_KAFKA_BOOTSTRAP_SERVERS": services.bootstrap, "AIMEM_TOPICS_CALLS": calls,
                "AIMEM_TOPICS_MEMORIES": memories, "AIMEM_REDACT_TENANT_DIR": str(policies)},
               tmp_path / "ingest.log").wait_ready()
    try:
        def send(tenant, text):
            body = {"call_id": f"CA{uuid.uuid4().hex[:10]}", "user_id": "9495550002",
                    "turns": [{"role": "user", "text": text}]}
            status, _, payload = request(d.port, "POST", "/v3/calls", body,
                                         token=mint(SECRET, customer_id=tenant))
            assert status == 202, payload
            return body["call_id"]

        def produced(call_id):
            for _, value, _, _ in consume(services.bootstrap, calls, 1, timeout=5):
                ev = json.loads(value)
                if ev["call_id"] == call_id:
                    return ev
            raise AssertionError(f"{call_id} not on the topic")

        text = f"mail me at dana@example.com, card {CARD}"
        ev = produced(send(7, text))
        assert ev["turns"][0]["text"] == "mail me at dana@example.com, card [CARD \u2022\u2022\u2022\u20226467]"
        assert ev["metadata"]["redaction"]["policy"] == "1/default-7f"
        (policies / "7.conf").write_text("# tenant 7\nemail on\niban off\n")
        d.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "[EMAIL]" in produced(send(7, text))["turns"][0]["text"], timeout=20,
                 what="the reloaded policy")
        ev = produced(send(7, text))
        assert ev["metadata"]["redaction"]["policy"].startswith("1/t")
        assert ev["metadata"]["redaction"]["counts"] == {"card": 1, "email": 1}
        assert "dana@example.com" in produced(send(8, text))["turns"][0]["text"]  # tenant 8: defaults
        (policies / "7.conf").write_text("fax on\n")
        d.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "7.conf:1:" in d.output(), timeout=20, what="the refused file logged")
        assert "[EMAIL]" in produced(send(7, text))["turns"][0]["text"]  # the old policy stays
    finally:
        assert d.stop() == 0, d.output()


def test_memory_values_are_redacted(services, db, tmp_path):
    """memory.put values: ChatStack's /memory/store (a message's content), the native
    /v3/memories and an event produced around the gateway (aimem-memories redacts it) keep no
    card or SSN in the memories topic, the database or the memories API's answers."""
    calls, memories = make_topic(services), make_topic(services)
    group = "m-" + uuid.uuid4().hex[:8]
    user = "9495550009"
    daemons = {}
    try:
        daemons["ingest"] = Daemon([str(BUILD / "bin/aimem-ingest")],
                                   {"AIMEM_HTTP_PORT": "0", "AIMEM_AUTH_JWT_SECRET": SECRET,
                                    "AIMEM_KAFKA_BOOTSTRAP_SERVERS": services.bootstrap,
                                    "AIMEM_TOPICS_CALLS": calls, "AIMEM_TOPICS_MEMORIES": memories},
                                   tmp_path / "ingest.log").wait_ready()
        daemons["memories"] = Daemon(
            [str(BUILD / "bin/aimem-memories")],
            {"AIMEM_DB_URL": db.worker_url, "AIMEM_KAFKA_BOOTSTRAP_SERVERS": services.bootstrap,
             "AIMEM_TOPICS_MEMORIES": memories, "AIMEM_CONSUMER_GROUP": group, "AIMEM_HTTP_PORT": "0"},
            tmp_path / "memories.log").wait_ready(pattern=r"metrics port=(\d+)")
        daemons["query"] = Daemon([str(BUILD / "bin/aimem-query")],
                                  {"AIMEM_HTTP_PORT": "0", "AIMEM_AUTH_JWT_SECRET": SECRET,
                                   "AIMEM_DB_URL": db.reader_url, "AIMEM_EMBED_PROVIDER": "hashed"},
                                  tmp_path / "query.log").wait_ready()
        ingest, token = daemons["ingest"].port, mint(SECRET, customer_id=7)
        # what ChatStack sends: POST /memory/store {"user_id","role","content","metadata"}
        status, _, payload = request(ingest, "POST", "/memory/store",
                                     {"user_id": user, "role": "user",
                                      "content": f"my card is {spoken(CARD)} and my social is "
                                                 "123-45-6789", "metadata": {"source": "call"}},
                                     token=token)
        assert status == 200 and payload["success"], payload
        status, _, payload = request(ingest, "POST", "/v3/memories",
                                     {"user_id": user, "scope": "user", "mtype": "payment",
                                      "key": "card", "value": {"number": CARD2, "note": "visa"}},
                                     token=token)
        assert status == 202, payload
        around = {"type": "memory.put", "version": 1, "event_id": str(uuid.uuid4()),
                  "customer_id": 7, "occurred_at": "2026-11-20T15:00:00Z",
                  "memory_id": str(uuid.uuid4()), "scope": "user", "user_id": user,
                  "mtype": "fact", "key": "other-tool", "value": [f"card {CARD}", 42]}
        produce(services.bootstrap, memories, [(7, around)])
        wait_for(lambda: stored_total(db, group) == 3, timeout=60, what="the memories worker")
        rows = query(db, "SELECT key, value FROM memories WHERE customer_id = 7 ORDER BY key")
        assert len(rows) == 3, rows
        stored = json.dumps([r[1] for r in rows], ensure_ascii=False)
        assert f"[CARD \u2022\u2022\u2022\u2022{CARD[-4:]}]" in stored and "[SSN]" in stored, stored
        assert "123-45-6789" not in stored and '"visa"' in stored and "42" in stored, stored
        produced = [json.loads(v) for _, v, _, _ in consume(services.bootstrap, memories, 3)]
        via_gateway = [ev for ev in produced if ev["key"] != "other-tool"]
        assert len(via_gateway) == 2, produced
        for ev in via_gateway:  # the other tool's event is on the topic as it produced it
            assert_no_card("memories topic", json.dumps(ev))
            assert "123-45-6789" not in json.dumps(ev)
        dump = tmp_path / "dump.sql"
        run([f"{PG_BIN}/pg_dump", "--data-only", "-f", str(dump), db.admin_url])
        assert_no_card("pg_dump", dump.read_text())
        assert "123-45-6789" not in dump.read_text()
        q, rtoken = daemons["query"].port, mint(SECRET, customer_id=7, scope="memory:read")
        for path in (f"/v1/memories?user_id={user}&limit=50", f"/v1/memories/user/{user}",
                     f"/v3/callers/{user}/context"):
            status, _, payload = request(q, "GET", path, token=rtoken)
            assert status == 200, (path, status, payload)
            assert_no_card(f"GET {path}", json.dumps(payload))
        status, _, payload = request(q, "POST", "/memory/retrieve", {"user_id": user, "limit": 50},
                                     token=rtoken)
        assert status == 200 and payload["count"] == 3, payload
        assert_no_card("POST /memory/retrieve", json.dumps(payload))
        status, _, metrics = request(daemons["memories"].port, "GET", "/metrics")
        assert 'aimem_redactions_total{kind="card"} 1' in metrics.decode(), metrics
    finally:
        for d in daemons.values():
            d.stop()
    for name, d in daemons.items():
        assert_no_card(f"{name} log", d.output())
