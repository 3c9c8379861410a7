"""ChatStack's real call flow against the whole stack as deployed (`scripts/dev up stack`: the five
programs behind the project's nginx config), for two tenants, driven by ChatStack's own client
behaviour (chatstack.py: its routes, headers, bodies, timeouts and parsing).

Call 1 of a new caller, then call 2 of the same caller, in each of two tenants that share the
caller's phone number: nothing of one tenant may show in the other's answers. Writes are queued
(Kafka, workers), so where ChatStack would see a write only minutes later (the next call), the
test repeats that read step until the workers caught up; writes are sent once, and every
request must be answered 200, as ChatStack's client requires.
"""
import asyncio
import json
import time
import uuid
from pathlib import Path

import pytest

from chatstack import SETTINGS, ChatStackMemory
from devstack import stack

PHONE = "9495551234"  # the same caller number in both tenants
TENANTS = {
    31: {"name": "Marisol Vega", "agency": "Peterson Insurance", "agent": "Sam",
         "ask": "add my son as a driver on my auto policy", "vehicle": "2019 Honda Civic"},
    32: {"name": "Dmitri Okafor", "agency": "Lakeside Dental", "agent": "Ana",
         "ask": "move my cleaning appointment to next Tuesday", "vehicle": None},
}


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    with stack(tmp_path_factory.mktemp("stack")) as env:
        yield env


def run(coro):
    return asyncio.run(coro)


def until(step, check, what, timeout=60):
    """Runs ChatStack's step until check(answer) holds (the workers are asynchronous)."""
    deadline = time.monotonic() + timeout
    while True:
        answer = run(step())
        if answer is not None and check(answer):
            return answer
        assert time.monotonic() < deadline, f"{what}: last answer {answer!r}"
        time.sleep(0.2)


def conversation(t):
    """The turns of call 1 as ChatStack keeps them: {"role","content"} messages."""
    first = t["name"].split()[0]
    return [
        {"role": "assistant", "content": f"Thanks for calling {t['agency']}, this is {t['agent']}."},
        {"role": "user", "content": f"Hi {t['agent']}, this is {t['name']}. I'd like to {t['ask']}."},
        {"role": "assistant", "content": f"Of course, {first}. That's done; you'll get a confirmation."},
        {"role": "user", "content": "Great, thank you so much."},
    ]


def first_call(cs, t, thread_id):
    """Incoming call to hang-up, for a caller the tenant has never seen."""
    assert run(cs.available()) is True  # GET /health, no token
    assert run(cs.is_returning(PHONE)) is False
    settings = run(cs.settings())
    assert settings == {k: f"{k} of {t['agency']}" for k in SETTINGS}, settings
    ctx = run(cs.enriched_context(PHONE))
    assert ctx is not None
    text, name, raw = ctx
    assert name is None and raw["summary_count"] == 0 and raw["has_personality_data"] is False
    assert run(cs.restore_thread(PHONE, thread_id)) == []

    messages = conversation(t)
    items = [("person", "name", {"name": t["name"]}), ("preference", "contact_time", "mornings")]
    if t["vehicle"]:
        items.append(("fact", "vehicle", t["vehicle"]))
    for n in range(1, len(messages) + 1):  # one recap per agent turn, the whole thread so far
        assert run(cs.save_turn(PHONE, thread_id, messages[:n], items if n == 2 else ())) is True

    # a dropped call restored mid-way: the recap of this thread comes back whole
    restored = until(lambda: cs.restore_thread(PHONE, thread_id), lambda m: len(m) == len(messages),
                     "thread history restored")
    assert restored == messages

    # call end: the transcript rebuilt from the recap, then process-call
    end = until(lambda: cs.end_call(PHONE, thread_id), lambda e: len(e[0]) == len(messages),
                "the latest recap read back at call end")
    transcript, done, logged = end
    assert transcript == [[m["role"], m["content"]] for m in messages]
    assert done["call_id"] == thread_id and done["queued"] is True
    assert isinstance(done["summary"], str) and isinstance(done["sentiment"], str) and logged


def second_call(cs, t, first_thread):
    """The same caller calls again: the agent sees the summary and the full name."""
    assert run(cs.available()) is True
    assert run(cs.is_returning(PHONE)) is True
    ctx = until(lambda: cs.enriched_context(PHONE), lambda c: c[2]["summary_count"] == 1,
                "the first call's summary in the context")
    text, name, raw = ctx
    assert name == t["name"], text  # the full name, with nothing of the next line
    assert "=== CALLER PROFILE ===" in text and "Total Calls: 1" in text
    assert "=== RECENT CALL SUMMARIES ===" in text and "Summary: " in text
    other = [o for o in TENANTS.values() if o is not t][0]
    for word in (other["name"].split()[0], other["agency"].split()[0], other["agent"]):
        assert word not in text, (word, text)
    thread = "CA" + uuid.uuid4().hex
    assert run(cs.restore_thread(PHONE, thread)) == []  # a new thread starts empty
    assert run(cs.restore_thread(PHONE, first_thread)) == conversation(t)


def test_chatstack_call_flow_two_tenants(deployed):
    base = deployed["AIMEM_BASE_URL"]
    secret = Path(deployed["AIMEM_JWT_SECRET_FILE"]).read_text().strip()
    clients = {cid: ChatStackMemory(base, secret, cid) for cid in TENANTS}

    # the admin panel saves the six settings of each agency, then reads them back
    for cid, t in TENANTS.items():
        for key in SETTINGS:
            assert run(clients[cid].save_setting(key, f"{key} of {t['agency']}")) is True
    for cid, t in TENANTS.items():
        until(clients[cid].settings, lambda s, t=t: all(s[k] == f"{k} of {t['agency']}" for k in SETTINGS),
              "the settings saved")

    threads = {cid: "CA" + uuid.uuid4().hex for cid in TENANTS}
    for cid, t in TENANTS.items():
        first_call(clients[cid], t, threads[cid])
    for cid, t in TENANTS.items():
        second_call(clients[cid], t, threads[cid])

    # the caller list of each agency: its own caller, by its own name
    for cid, t in TENANTS.items():
        profiles = until(clients[cid].profiles, lambda p: len(p) == 1 and p[0]["total_calls"] == 1,
                         "the profile list")
        assert profiles[0]["user_id"] == PHONE and profiles[0]["preferred_name"] == t["name"]

    # user memories: the carry-kit items are the tenant's own
    for cid, t in TENANTS.items():
        mems = run(clients[cid]._call("GET", f"/v1/memories/user/{PHONE}", 10))
        keys = {m["key"]: m["value"] for m in mems["memories"]}
        assert keys["name"] == {"name": t["name"]} and keys["contact_time"] == "mornings"
        assert ("vehicle" in keys) == bool(t["vehicle"])
        other = [o for o in TENANTS.values() if o is not t][0]
        assert other["name"] not in json.dumps(mems)

    # every ChatStack request was answered 200 (its client treats anything else as a failure)
    for cid, cs in clients.items():
        bad = [entry for entry in cs.log if entry[2] != 200]
        assert not bad, bad
        assert ("GET", "/health", 200) in cs.log
