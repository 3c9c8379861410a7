"""aimem-personality against the real broker and PostgreSQL (and a fake LLM server): call.ended
events become personality_metrics rows and per-caller personality_averages exactly once;
averages and trends are recomputed from the metrics, never incremented."""
import copy
import json
import re
import uuid

import pytest

from conftest import BUILD, REPO, Daemon, make_topic
from pipeline import FakeLLM, produce, query, stored_total, wait_for

FIXDIR = REPO / "tests/fixtures/personality"
FIXTURES = sorted(p for p in FIXDIR.glob("[0-9][0-9]_*.json") if not p.name.endswith(".expect.json"))
SCORES = ["openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism",
          "formality", "directness", "detail_orientation", "patience", "technical_comfort",
          "frustration_level", "satisfaction_level", "urgency_level"]


def fixture(name_part):
    return json.loads(next(p for p in FIXTURES if name_part in p.name).read_text())


def call(base, customer, user, n, ended=None):
    """A copy of a fixture event as a new call (fresh ids) of customer/user."""
    ev = copy.deepcopy(base)
    ev.update(event_id=str(uuid.uuid4()), customer_id=customer, user_id=user,
              call_id=f"CA{customer}x{user}x{n}x{uuid.uuid4().hex[:6]}")
    if ended:
        ev["ended_at"] = ended
        ev.pop("started_at", None)
    return ev


@pytest.fixture
def worker_env(services, db):
    topic = make_topic(services)
    group = "p-" + uuid.uuid4().hex[:8]
    env = {"AIMEM_DB_URL": db.worker_url, "AIMEM_KAFKA_BOOTSTRAP_SERVERS": services.bootstrap,
           "AIMEM_TOPICS_CALLS": topic, "AIMEM_CONSUMER_GROUP": group, "AIMEM_HTTP_PORT": "0",
           "AIMEM_LEXICONS_DIR": str(REPO / "workers/lexicons"),
           "AIMEM_LLM_PROMPT": str(REPO / "workers/personality/prompts/personality.v1.txt"),
           "AIMEM_KAFKA_SESSION_TIMEOUT_MS": "6000"}
    return topic, group, env


def start(env, tmp_path, name="personality.log"):
    return Daemon([str(BUILD / "bin/aimem-personality")], env, tmp_path / name).wait_ready(
        pattern=r"\bready group=")


def metrics(db):
    return query(db, "SELECT * FROM personality_metrics ORDER BY customer_id, call_id")


def averages(db):
    return query(db, "SELECT * FROM personality_averages ORDER BY customer_id, user_id")


def named(db, sql, *args):
    with db.connect(autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(sql, args or None)
        cols = [c.name for c in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]


def test_fixtures_scored_exactly_once_and_a_replay_changes_nothing(services, db, worker_env, tmp_path):
    topic, group, env = worker_env
    events = []
    for i, path in enumerate(FIXTURES):  # every fixture, two tenants, ten callers
        ev = json.loads(path.read_text())
        ev["customer_id"] = 7 + i % 2
        ev["user_id"] = f"94955500{i % 10:02d}"
        ev["ended_at"] = f"2026-11-{1 + i % 28:02d}T10:00:00Z"
        events.append(ev)
    good = fixture("01_")
    bad = [(7, b"{not json"), (9, call(good, 7, "1", 1)), (7, {**call(good, 7, "1", 2), "turns": []}),
           (7, {**call(good, 7, "1", 3), "version": 9})]
    mixed = [(ev["customer_id"], ev) for ev in events]
    for i, b in enumerate(bad):
        mixed.insert(i * 9 + 3, b)
    produce(services.bootstrap, topic, mixed)
    d = start(env, tmp_path)
    try:
        wait_for(lambda: stored_total(db, group) == len(mixed), what="every offset stored")
        rows = named(db, "SELECT * FROM personality_metrics")
        assert len(rows) == len(events)
        by_call = {(r["customer_id"], r["call_id"]): r for r in rows}
        for ev in events:  # ids, tenant and caller come from the event
            r = by_call[(ev["customer_id"], ev["call_id"])]
            assert r["user_id"] == ev["user_id"] and r["event_id"] == ev["event_id"]
            assert r["processor"] == "builtin-lexicon/1" and r["needs_reprocess"] is False
            assert r["rationale"] is None and 0 <= r["confidence"] <= 0.95
            assert all(0 <= r[s] <= 100 for s in SCORES)
        angry = by_call[(7, fixture("01_angry")["call_id"])]
        assert angry["frustration_level"] >= 60 and angry["satisfaction_level"] <= 40
        short = next(r for r in rows if r["call_id"] == fixture("05_short")["call_id"])
        assert short["confidence"] < 0.1 and all(abs(short[s] - 50) < 8 for s in SCORES)
        dead = query(db, "SELECT error_code FROM dead_letters WHERE consumer_group = %s", group)
        assert sorted(c for c, in dead) == sorted(["bad_json", "key_mismatch", "too_short", "bad_version"])

        # averages: one row per caller, recomputed from the metrics
        avg = named(db, "SELECT * FROM personality_averages ORDER BY customer_id, user_id")
        expected = {}
        for ev in events:
            expected.setdefault((ev["customer_id"], ev["user_id"]), []).append(ev)
        assert {(a["customer_id"], a["user_id"]): a["call_count"] for a in avg} == \
            {k: len(v) for k, v in expected.items()}
        check = query(db, """
            SELECT customer_id, user_id,
                   round(sum(greatest(confidence::numeric, 0.01) * openness::numeric)
                         / sum(greatest(confidence::numeric, 0.01)), 1)
              FROM personality_metrics GROUP BY 1, 2 ORDER BY 1, 2""")
        assert [(a["customer_id"], a["user_id"], round(a["avg_openness"], 1)) for a in avg] == \
            [(c, u, float(o)) for c, u, o in check]

        # the same events again (new offsets): metrics and averages stay byte-identical
        before_m, before_a = metrics(db), averages(db)
        produce(services.bootstrap, topic, [(ev["customer_id"], ev) for ev in events])
        wait_for(lambda: stored_total(db, group) == len(mixed) + len(events), what="replay stored")
        assert metrics(db) == before_m
        assert averages(db) == before_a
    finally:
        assert d.stop() == 0, d.output()
    out = d.output()
    assert "third time" not in out and "ridiculous" not in out  # no transcript text in the logs


def scored_call(customer, user, n, ended, **scores):
    """A call whose caller text carries the scores the fake LLM will answer with."""
    ev = call(fixture("27_billing"), customer, user, n, ended=ended)
    ev["turns"][1]["text"] = "SCORES " + json.dumps(scores)
    return ev


def scores_from_prompt(body):
    m = re.search(r"SCORES (\{[^}]*\})", body["messages"][-1]["content"])
    return json.loads(m.group(1)) if m else {}


@pytest.fixture
def llm():
    f = FakeLLM()
    yield f
    f.close()


def llm_env(env, fake, **over):
    e = dict(env, AIMEM_PROCESSOR="llm", AIMEM_LLM_BASE_URL=fake.base_url, AIMEM_LLM_MODEL="test-model",
             AIMEM_LLM_TIMEOUT="5s", AIMEM_LLM_MAX_ATTEMPTS="2", AIMEM_LLM_BACKOFF_BASE="50ms",
             AIMEM_LLM_BACKOFF_CAP="200ms", AIMEM_RETRY_BASE="100ms", AIMEM_RETRY_CAP="500ms")
    e.update(over)
    return e


# caller: [(satisfaction, frustration) per call, in call-time order], expected trends
TRENDS = {
    "rising":   ([(20, 80), (30, 70), (25, 75), (70, 30), (80, 20), (75, 25)], "improving", "improving"),
    "falling":  ([(80, 20), (85, 15), (75, 20), (40, 60), (30, 70), (35, 65)], "declining", "declining"),
    "flat":     ([(60, 40), (62, 41), (58, 39), (61, 40), (59, 42), (60, 40)], "stable", "stable"),
    "small":    ([(50, 50), (52, 50), (50, 48), (56, 45), (57, 44), (58, 43)], "stable", "stable"),
    "too_few":  ([(10, 90), (90, 10), (95, 5), (95, 5)], "stable", "stable"),
    "one_call": ([(90, 10)], "stable", "stable"),
}


def test_averages_recent_values_and_trends(services, db, worker_env, tmp_path, llm):
    topic, group, env = worker_env
    llm.handler = lambda body: (200, {}, FakeLLM.completion(dict(
        {s: 50 for s in SCORES}, confidence=0.8, rationale="test",
        **scores_from_prompt(body))), 0)
    events = []
    for k, (name, (seq, _, _)) in enumerate(TRENDS.items()):
        for n, (sat, fru) in enumerate(seq):
            events.append(scored_call(7, f"55500000{k}", n, f"2026-10-{10 + n:02d}T12:00:00Z",
                                      satisfaction_level=sat, frustration_level=fru,
                                      openness=40 + 10 * n))
    events.reverse()  # arrival order is not call order: recency is by call time
    produce(services.bootstrap, topic, [(7, ev) for ev in events])
    d = start(llm_env(env, llm), tmp_path)
    try:
        wait_for(lambda: stored_total(db, group) == len(events), what="all stored")
        avg = {a["user_id"]: a for a in named(db, "SELECT * FROM personality_averages")}
        for k, (name, (seq, sat_trend, fru_trend)) in enumerate(TRENDS.items()):
            a = avg[f"55500000{k}"]
            assert a["call_count"] == len(seq), name
            assert (a["satisfaction_trend"], a["frustration_trend"]) == (sat_trend, fru_trend), name
            recent = seq[-3:]
            assert a["recent_satisfaction"] == pytest.approx(sum(s for s, _ in recent) / len(recent), abs=0.05), name
            assert a["recent_frustration"] == pytest.approx(sum(f for _, f in recent) / len(recent), abs=0.05), name
            assert a["recent_urgency"] == 50
            # equal confidences: the plain mean of every call
            assert a["avg_openness"] == pytest.approx(sum(40 + 10 * n for n in range(len(seq))) / len(seq), abs=0.05)
        m = named(db, "SELECT processor, rationale, needs_reprocess FROM personality_metrics")
        assert {(r["processor"], r["rationale"], r["needs_reprocess"]) for r in m} == \
            {("llm:test-model/v1", "test", False)}
        sent = llm.requests[0]["messages"]
        assert sent[0]["role"] == "system" and "Rate the caller only" in sent[0]["content"]
    finally:
        assert d.stop() == 0, d.output()


def test_confidence_weights_the_averages(services, db, worker_env, tmp_path, llm):
    """A low-confidence call barely moves a caller described by a confident one."""
    topic, group, env = worker_env
    llm.handler = lambda body: (200, {}, FakeLLM.completion(dict(
        {s: 50 for s in SCORES}, **scores_from_prompt(body))), 0)
    events = [scored_call(7, "5550001000", 0, "2026-10-01T12:00:00Z", formality=80, confidence=0.9),
              scored_call(7, "5550001000", 1, "2026-10-02T12:00:00Z", formality=20, confidence=0.1)]
    produce(services.bootstrap, topic, [(7, ev) for ev in events])
    d = start(llm_env(env, llm), tmp_path)
    try:
        wait_for(lambda: stored_total(db, group) == 2, what="both stored")
        a = named(db, "SELECT * FROM personality_averages")[0]
        assert a["avg_formality"] == pytest.approx((0.9 * 80 + 0.1 * 20) / 1.0, abs=0.05)  # 74, not 50
    finally:
        assert d.stop() == 0, d.output()


GOOD = dict({s: 10 * (i % 10) + 5 for i, s in enumerate(SCORES)}, confidence=0.7,
            rationale="Polite, asks for details.\nSecond line.")


@pytest.mark.parametrize("mode", ["good", "fenced_nested", "out_of_range", "injected_ids", "garbage",
                                  "too_few_numbers", "http500"])
def test_llm_answers_end_as_designed(services, db, worker_env, tmp_path, llm, mode):
    topic, group, env = worker_env
    answers = {
        "good": GOOD,
        "fenced_nested": "Sure:\n```json\n" + json.dumps(
            {"scores": {s: v for s, v in GOOD.items() if s in SCORES}, "confidence": 0.7,
             "rationale": GOOD["rationale"]}) + "\n```",
        "out_of_range": dict(GOOD, openness=150, neuroticism=-20, formality="72.25", patience=None,
                             confidence=3),
        "injected_ids": dict(GOOD, customer_id=8, user_id="0000000000", call_id="CAother",
                             processor="evil", needs_reprocess=True),
        "garbage": "I can't rate this caller, sorry.",
        "too_few_numbers": {"openness": 70, "formality": "high", "patience": "low"},
    }
    if mode == "http500":
        llm.handler = lambda body: (500, {}, '{"error":{"code":"server_error"}}', 0)
    else:
        llm.handler = lambda body: (200, {}, FakeLLM.completion(answers[mode]), 0)
    ev = call(fixture("02_polite"), 7, "9495551234", 1)
    produce(services.bootstrap, topic, [(7, ev)])
    d = start(llm_env(env, llm), tmp_path)
    try:
        wait_for(lambda: stored_total(db, group) == 1, what="the call handled")
        rows = named(db, "SELECT * FROM personality_metrics")
        assert len(rows) == 1
        r = rows[0]
        assert (r["customer_id"], r["user_id"], r["call_id"]) == (7, "9495551234", ev["call_id"])
        want = {s: float(v) for s, v in GOOD.items() if s in SCORES}
        if mode in ("good", "fenced_nested", "injected_ids"):
            assert {s: r[s] for s in SCORES} == want
            assert r["confidence"] == pytest.approx(0.7)
            assert r["rationale"] == "Polite, asks for details. Second line."
            assert (r["processor"], r["needs_reprocess"]) == ("llm:test-model/v1", False)
        elif mode == "out_of_range":
            assert r["openness"] == 100 and r["neuroticism"] == 0
            assert r["formality"] == pytest.approx(72.3, abs=0.01) and r["patience"] == 50
            assert r["confidence"] == 1
            assert (r["processor"], r["needs_reprocess"]) == ("llm:test-model/v1", False)
        else:  # unusable or unavailable: the built-in scores, marked for reprocessing
            assert (r["processor"], r["needs_reprocess"]) == ("builtin-lexicon/1", True)
            assert r["formality"] > 55 and r["rationale"] is None
        assert query(db, "SELECT count(*) FROM personality_averages WHERE customer_id = 7"
                         " AND user_id = '9495551234' AND call_count = 1") == [(1,)]
        assert query(db, "SELECT count(*) FROM personality_metrics WHERE customer_id = 8") == [(0,)]
    finally:
        assert d.stop() == 0, d.output()
    if mode in ("garbage", "too_few_numbers", "http500"):
        assert "llm failed" in d.output() and "policy=fallback" in d.output()
    assert "Margaret" not in d.output() and "Polite, asks" not in d.output()


def test_llm_policy_dead_letter(services, db, worker_env, tmp_path, llm):
    topic, group, env = worker_env
    llm.handler = lambda body: (200, {}, FakeLLM.completion("not json at all"), 0)
    produce(services.bootstrap, topic, [(7, call(fixture("02_polite"), 7, "9495551234", 1))])
    d = start(llm_env(env, llm, AIMEM_LLM_POLICY="dead-letter"), tmp_path)
    try:
        wait_for(lambda: stored_total(db, group) == 1, what="the call handled")
        assert query(db, "SELECT count(*) FROM personality_metrics") == [(0,)]
        assert query(db, "SELECT error_code FROM dead_letters WHERE consumer_group = %s", group) == \
            [("llm_failed",)]
    finally:
        assert d.stop() == 0, d.output()


def test_a_call_moved_to_another_caller_recomputes_both(services, db, worker_env, tmp_path):
    topic, group, env = worker_env
    first = call(fixture("01_angry"), 7, "5550002000", 1, ended="2026-10-01T12:00:00Z")
    other = call(fixture("11_calm"), 7, "5550002000", 2, ended="2026-10-02T12:00:00Z")
    moved = dict(copy.deepcopy(first), user_id="5550003000")  # a correction: same call, other caller
    only = call(fixture("13_tech"), 7, "5550004000", 1, ended="2026-10-01T12:00:00Z")
    only_moved = dict(copy.deepcopy(only), user_id="5550005000")
    produce(services.bootstrap, topic, [(7, first), (7, other), (7, only)])
    d = start(env, tmp_path)
    try:
        wait_for(lambda: stored_total(db, group) == 3, what="first calls")
        produce(services.bootstrap, topic, [(7, moved), (7, only_moved)])
        wait_for(lambda: stored_total(db, group) == 5, what="moved calls")
        counts = dict(query(db, "SELECT user_id, call_count FROM personality_averages"))
        assert counts == {"5550002000": 1, "5550003000": 1, "5550005000": 1}
    finally:
        assert d.stop() == 0, d.output()


def test_erased_callers_events_are_dropped(services, db, worker_env, tmp_path):
    topic, group, env = worker_env
    with db.connect(autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO erasures (customer_id, user_id) VALUES (7, '5550000000')")
    produce(services.bootstrap, topic, [(7, call(fixture("01_"), 7, "5550000000", 1)),
                                        (7, call(fixture("01_"), 7, "5550000001", 2))])
    d = start(env, tmp_path)
    try:
        wait_for(lambda: stored_total(db, group) == 2, what="both handled")
        assert query(db, "SELECT user_id FROM personality_metrics") == [("5550000001",)]
        assert query(db, "SELECT user_id FROM personality_averages") == [("5550000001",)]
    finally:
        assert d.stop() == 0, d.output()


def test_postgres_restart_reprepares_statements(services, db, worker_env, tmp_path):
    """The worker's statements are prepared per connection: after PostgreSQL comes back on a
    new connection they are prepared again, and nothing is lost or counted twice."""
    import time

    from pipeline import pg_start, pg_stop
    topic, group, env = worker_env
    base = [fixture("01_"), fixture("11_"), fixture("13_")]
    first = [call(base[i % 3], 7, f"55500{i % 7:05d}", i, ended=f"2026-10-{1 + i % 28:02d}T12:00:00Z")
             for i in range(40)]
    second = [call(base[i % 3], 7, f"55500{i % 7:05d}", 100 + i, ended=f"2026-11-{1 + i % 28:02d}T12:00:00Z")
              for i in range(40)]
    d = start(dict(env, AIMEM_BATCH_MAX_EVENTS="10", AIMEM_RETRY_CAP="1s"), tmp_path)
    try:
        produce(services.bootstrap, topic, [(7, ev) for ev in first])
        wait_for(lambda: stored_total(db, group) == len(first), what="first calls")
        pg_stop(services)
        try:
            time.sleep(2)
            assert d.proc.poll() is None, d.output()
        finally:
            pg_start(services)
        produce(services.bootstrap, topic, [(7, ev) for ev in second])
        wait_for(lambda: stored_total(db, group) == len(first) + len(second), timeout=120,
                 what="all after the restart")
        assert query(db, "SELECT count(*) FROM personality_metrics") == [(80,)]
        assert sorted(query(db, "SELECT user_id, call_count FROM personality_averages")) == \
            sorted((f"55500{u:05d}", sum(1 for i in range(40) if i % 7 == u) * 2) for u in range(7))
    finally:
        assert d.stop() == 0, d.output()
