"""`aimem summarize`: call.ended events through the workers' processors, no services needed
(the model path against an in-process fake OpenAI-compatible server)."""
import json

from conftest import REPO, aimem
from pipeline import FakeLLM

FIXTURES = REPO / "tests/fixtures/transcripts"
SCORES = ("openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism",
          "formality", "directness", "detail_orientation", "patience", "technical_comfort",
          "frustration_level", "satisfaction_level", "urgency_level")


def event(name):
    return json.loads((FIXTURES / name).read_text())


def lines(*events):
    return "".join((e if isinstance(e, str) else json.dumps(e)) + "\n" for e in events)


def test_builtin_fields_and_bad_lines(tmp_path):
    billing, claim = event("01_billing_increase_named.json"), event("02_auto_claim_rear_ended.json")
    memory = {"type": "memory.put", "version": 1, "customer_id": 7}
    path = tmp_path / "calls.jsonl"
    path.write_text(lines(billing, "{not json", "", memory, claim))
    proc = aimem("summarize", str(path), check=False)
    assert proc.returncode == 1
    assert "line 2: bad_json" in proc.stderr
    assert "line 4:" in proc.stderr and "line 1:" not in proc.stderr
    out = [json.loads(l) for l in proc.stdout.splitlines()]
    assert [o["call_id"] for o in out] == [billing["call_id"], claim["call_id"]]
    first = out[0]
    for key in ("summary", "key_topics", "key_variables", "caller_name", "sentiment",
                "resolution_status", "processor", "personality"):
        assert key in first, key
    assert first["caller_name"] == "Kelly Nguyen"
    assert {"kind": "name", "value": "Kelly Nguyen", "key": "kelly nguyen", "single": True} in first["facts"]
    assert first["processor"] == "builtin-extractive/3"
    assert "billing" in first["key_topics"]
    assert set(SCORES) <= set(first["personality"])
    assert 0 <= first["personality"]["confidence"] <= 1
    # the same events through stdin give the same lines
    again = aimem("summarize", "-", input=lines(billing, claim)).stdout
    assert again == proc.stdout


def test_only_narrows_the_output():
    ev = event("01_billing_increase_named.json")
    summary = json.loads(aimem("summarize", "--only", "summary", input=lines(ev)).stdout)
    assert "personality" not in summary and summary["summary"]
    pers = json.loads(aimem("summarize", "--only", "personality", input=lines(ev)).stdout)
    assert set(pers) == {"call_id", "personality"}
    bad = aimem("summarize", "--only", "everything", input="", check=False)
    assert bad.returncode == 2 and "usage: aimem summarize" in bad.stderr
    assert aimem("summarize", "/nonexistent.jsonl", check=False).returncode == 2


def llm_env(fake, **extra):
    env = {"AIMEM_LLM_BASE_URL": fake.base_url, "AIMEM_LLM_MODEL": "test-model",
           "AIMEM_LLM_MAX_ATTEMPTS": "1"}
    env.update(extra)
    return env


def test_llm_answer_with_the_builtin_filling_what_it_left_out():
    fake = FakeLLM()
    try:
        fake.answer_with({"summary": "The caller asked why the bill rose; the agent restored "
                                     "the discount.", "key_topics": [], "caller_name": "",
                          "key_variables": {"amounts": ["$212.00"]}, "sentiment": "",
                          "resolution_status": "resolved"})
        ev = event("01_billing_increase_named.json")
        out = json.loads(aimem("summarize", "--processor", "llm", input=lines(ev, ev),
                               env=llm_env(fake)).stdout.splitlines()[0])
        builtin = json.loads(aimem("summarize", input=lines(ev)).stdout)
        assert out["processor"] == "llm:test-model/v2"
        assert out["summary"].startswith("The caller asked why the bill rose")
        assert out["key_topics"] == builtin["key_topics"] and out["key_topics"]
        assert out["caller_name"] == "Kelly Nguyen"
        assert out["key_variables"]["amounts"] == ["$212.00"]
        assert out["key_variables"]["policy_numbers"] == builtin["key_variables"]["policy_numbers"]
        assert out["sentiment"] == builtin["sentiment"]
        assert out["resolution_status"] == "resolved"
        assert out["personality"] == builtin["personality"]
        assert fake.count() == 2
        sent = fake.requests[0]["messages"]
        assert "third person" in sent[0]["content"]  # the v2 prompt
        assert sent[1]["content"].startswith("Agent: ") or sent[1]["content"].startswith("Caller: ")
    finally:
        fake.close()


def test_llm_failure_is_reported_with_the_line_and_the_rest_goes_on():
    fake = FakeLLM()
    try:
        def handler(body):
            if "Kelly" in body["messages"][1]["content"]:
                return 500, {}, "{}", 0
            return 200, {}, FakeLLM.completion({"summary": "The caller reported an accident."}), 0
        fake.handler = handler
        billing, claim = event("01_billing_increase_named.json"), event("02_auto_claim_rear_ended.json")
        proc = aimem("summarize", "--processor", "llm", input=lines(billing, claim),
                     env=llm_env(fake), check=False)
        assert proc.returncode == 1
        assert "line 1: llm failed: unavailable" in proc.stderr
        out = [json.loads(l) for l in proc.stdout.splitlines()]
        assert [o["call_id"] for o in out] == [claim["call_id"]]
        assert out[0]["summary"] == "The caller reported an accident."
        missing = aimem("summarize", "--processor", "llm", input="", check=False)
        assert missing.returncode == 2 and "llm.base_url and llm.model" in missing.stderr
    finally:
        fake.close()
