"""The JSON Schemas in schemas/ and our C event validator agree on every example.

For each file under schemas/examples/<event>/{valid,invalid}/ this runs a standard JSON Schema
validator (python3-jsonschema, draft 2020-12) with the schema of the folder's event, and the C
validator `$AIMEM_BUILD/tests/event_check FILE`. Valid files: both accept. Invalid files: both
reject, and the C error code equals the `code:` line of the file's `.why` sidecar.

Needs no PostgreSQL and no Kafka (it uses no fixture from conftest.py).

The Python side reads each file the way the C side (jansson) does, which is stricter than
`json.loads` defaults: UTF-8 only (no byte order mark), no duplicate object keys, no NaN or
Infinity, no lone surrogate escapes, no \\u0000 in strings, and a number written with a
fraction or exponent stays a non-integer (parsed as Decimal, which jsonschema does not count
as an "integer", so 1.0 is rejected where an integer is required). Sidecars marked `naive: accepted` name the files that a
plain `json.loads` plus the schema would accept; test_naive_reading_gaps_are_the_listed_ones
keeps that list exact, so README's table of gaps cannot go stale.
"""
import json
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from conftest import BUILD, REPO

SCHEMAS = REPO / "schemas"
EXAMPLES = SCHEMAS / "examples"
EVENTS = ("call.ended", "memory.put", "memory.delete")
EVENT_CHECK = BUILD / "tests" / "event_check"
CODES = {"bad_json", "not_object", "missing_field", "wrong_type", "bad_value", "too_long",
         "too_short", "too_large", "key_mismatch", "unknown_type", "bad_version"}


def schema_path(event):
    return SCHEMAS / f"{event}.v1.schema.json"


def load_schema(event):
    return json.loads(schema_path(event).read_text(encoding="utf-8"))


VALIDATORS = {event: Draft202012Validator(load_schema(event)) for event in EVENTS}


def example_files():
    """(event, kind, path) for every example, in a stable order."""
    out = []
    for event in EVENTS:
        for kind in ("valid", "invalid"):
            out.extend((event, kind, p) for p in sorted((EXAMPLES / event / kind).glob("*.json")))
    return out


CASES = example_files()


def case_id(case):
    event, kind, path = case
    return f"{event}/{kind}/{path.stem}"


class NotJansson(ValueError):
    """The text is something jansson (our C parser) refuses to parse."""


def _no_duplicates(pairs):
    obj = {}
    for k, v in pairs:
        if k in obj:
            raise NotJansson(f"duplicate object key {k!r}")
        obj[k] = v
    return obj


def _no_constant(name):
    raise NotJansson(f"{name} is not JSON")


def _check_strings(value):
    """Lone surrogates (\\ud800 alone) and \\u0000 load in Python; jansson refuses both."""
    if isinstance(value, str):
        value.encode("utf-8")  # raises UnicodeEncodeError on a lone surrogate
        if "\0" in value:
            raise NotJansson("\\u0000 in a string (jansson without JSON_ALLOW_NUL)")
    elif isinstance(value, dict):
        for k, v in value.items():
            _check_strings(k)
            _check_strings(v)
    elif isinstance(value, list):
        for v in value:
            _check_strings(v)


def strict_load(data: bytes):
    """Parses like jansson does; raises ValueError (NotJansson, JSONDecodeError, Unicode*Error) where it fails."""
    text = data.decode("utf-8")  # strict: invalid UTF-8 fails; a BOM survives as U+FEFF and json refuses it
    value = json.loads(text, parse_float=Decimal, parse_constant=_no_constant,
                       object_pairs_hook=_no_duplicates)
    _check_strings(value)
    return value


def schema_errors(event, value):
    return sorted(VALIDATORS[event].iter_errors(value), key=lambda e: list(e.absolute_path))


def strict_verdict(event, path):
    """None if the schema accepts the file, else a short reason."""
    try:
        value = strict_load(path.read_bytes())
    except ValueError as exc:
        return f"parse: {exc}"
    errors = schema_errors(event, value)
    if errors:
        e = errors[0]
        return f"schema: at /{'/'.join(map(str, e.absolute_path))}: {e.message}"
    return None


def naive_accepts(event, path):
    try:
        value = json.loads(path.read_bytes())
    except ValueError:
        return False
    return not schema_errors(event, value)


def read_why(path):
    """The sidecar of an invalid example: {'why': line 1, 'code': ..., 'naive': ...}."""
    side = path.with_suffix(".why")
    assert side.exists(), f"{side.relative_to(REPO)} is missing (every invalid example has one)"
    lines = side.read_text(encoding="utf-8").splitlines()
    assert len(lines) >= 2 and lines[0].strip() and not lines[0].startswith("code:"), \
        f"{side.name}: line 1 says what is wrong, line 2 is 'code: <code>'"
    out = {"why": lines[0]}
    for line in lines[1:]:
        key, sep, value = line.partition(": ")
        assert sep and key in ("code", "naive"), f"{side.name}: unexpected line {line!r}"
        out[key] = value.strip()
    assert out.get("code") in CODES, f"{side.name}: code {out.get('code')!r} is not one of {sorted(CODES)}"
    assert out.get("naive", "accepted") == "accepted", f"{side.name}: the only naive value is 'accepted'"
    return out


def event_check(path):
    """Runs the C validator; returns (exit code, its single stdout line)."""
    if not EVENT_CHECK.exists():
        pytest.skip(f"{EVENT_CHECK} is not built (make builds tests/tools/event_check.c); "
                    "schema-only checks still ran in the other tests")
    proc = subprocess.run([str(EVENT_CHECK), str(path)], capture_output=True, text=True,
                          errors="replace", timeout=30)
    lines = proc.stdout.splitlines()
    assert proc.returncode in (0, 1), \
        f"event_check exited {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
    assert len(lines) == 1, f"event_check printed {len(lines)} lines, expected exactly one:\n{proc.stdout}"
    return proc.returncode, lines[0]


# --------------------------------------------------------------------------- the schemas


@pytest.mark.parametrize("event", EVENTS)
def test_schema_is_valid_draft_2020_12(event):
    schema = load_schema(event)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)
    assert schema["properties"]["type"]["const"] == event
    assert schema["type"] == "object"
    assert "additionalProperties" not in schema, "unknown fields must stay allowed (forward compatibility)"


def test_shared_definitions_are_identical():
    """The common fields are defined once per file (no cross-file $ref); keep the copies equal."""
    common = ("version", "customer_id", "uuid", "rfc3339", "label", "no_control")
    defs = {event: load_schema(event)["$defs"] for event in EVENTS}
    for name in common:
        copies = {json.dumps(defs[event][name], sort_keys=True) for event in EVENTS}
        assert len(copies) == 1, f"$defs/{name} differs between the schema files"
    for event in ("memory.put", "memory.delete"):
        assert defs[event]["scope"] == defs["memory.put"]["scope"]


def test_every_example_file_is_covered():
    """No stray files: every file under schemas/examples is a listed example or its sidecar."""
    listed = {p for _, _, p in CASES}
    sidecars = {p.with_suffix(".why") for _, kind, p in CASES if kind == "invalid"}
    found = {p for p in EXAMPLES.rglob("*") if p.is_file()}
    assert found - listed - sidecars == set(), "files outside <event>/{valid,invalid}/*.json(.why)"
    assert {p for p in found if p.suffix == ".why"} == sidecars, "a .why without its .json"
    stray_schemas = {p.name for p in SCHEMAS.glob("*.json")} - {schema_path(e).name for e in EVENTS}
    assert stray_schemas == set()
    for event in EVENTS:
        assert len([c for c in CASES if c[0] == event and c[1] == "valid"]) >= 4
    assert len([c for c in CASES if c[:2] == ("call.ended", "invalid")]) >= 12
    assert len([c for c in CASES if c[:2] == ("memory.put", "invalid")]) >= 8
    assert len([c for c in CASES if c[:2] == ("memory.delete", "invalid")]) >= 4


def test_naive_reading_gaps_are_the_listed_ones():
    """Plain json.loads + the schema disagrees with our reading exactly on the `naive: accepted` files."""
    expected, actual = set(), set()
    for event, kind, path in CASES:
        name = f"{event}/{kind}/{path.name}"
        if kind == "invalid" and "naive" in read_why(path):
            expected.add(name)
        if kind == "invalid" and naive_accepts(event, path):
            actual.add(name)
        if kind == "valid":
            assert naive_accepts(event, path), f"{name}: plain json.loads + schema rejects a valid example"
    assert actual == expected


# --------------------------------------------------------------------------- the examples


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_schema_verdict(case):
    """The schema alone: accepts valid/, rejects invalid/ (runs even before event_check exists)."""
    event, kind, path = case
    verdict = strict_verdict(event, path)
    if kind == "valid":
        assert verdict is None, f"{path.name}: schema rejects a valid example: {verdict}"
        assert json.loads(path.read_bytes())["type"] == event, "a valid example's type names its folder"
    else:
        read_why(path)
        assert verdict is not None, f"{path.name}: schema accepts an invalid example"


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_c_validator_agrees(case):
    event, kind, path = case
    rc, line = event_check(path)
    verdict = strict_verdict(event, path)
    if kind == "valid":
        assert verdict is None, f"schema rejects: {verdict}"
        assert (rc, line) == (0, "ok"), f"event_check rejects a valid example: {line}"
        return
    why = read_why(path)
    assert verdict is not None, "schema accepts an invalid example"
    assert rc == 1 and line.startswith("invalid "), f"event_check accepts ({rc}: {line}); {why['why']}"
    code = line[len("invalid "):].split(":", 1)[0]
    assert code == why["code"], f"event_check says {line!r}, sidecar expects {why['code']} ({why['why']})"


# --------------------------------------------------------------------------- beyond JSON Schema
# What no JSON Schema can say (schemas/README.md, "Gaps"). These events are built on the fly,
# not kept as examples, because here the two validators are *expected* to differ.


def _valid(event, stem):
    return json.loads((EXAMPLES / event / "valid" / f"{stem}.json").read_text(encoding="utf-8"))


def _write(tmp_path, name, value):
    path = tmp_path / name
    path.write_text(json.dumps(value, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.mark.parametrize("field,limit", [("user_id", 128), ("thread_id", 128)])
def test_gap_c_counts_utf8_bytes(tmp_path, field, limit):
    """65 'é' are 65 characters for JSON Schema but 130 bytes for the C validator."""
    ev = _valid("call.ended", "billing_dispute_named_caller")
    ev[field] = "é" * (limit // 2 + 1)
    path = _write(tmp_path, "bytes.json", ev)
    assert strict_verdict("call.ended", path) is None
    rc, line = event_check(path)
    assert rc == 1 and line.startswith(f"invalid too_long: {field}:"), line


def test_gap_whole_event_size_cap(tmp_path):
    """Each turn within its limits, the event over 1 MiB: only the C validator sees the size."""
    ev = _valid("call.ended", "one_turn_hangup")
    ev["turns"] = [{"role": "user", "text": "x" * 32768} for _ in range(33)]
    path = _write(tmp_path, "large.json", ev)
    assert path.stat().st_size > 1 << 20
    assert strict_verdict("call.ended", path) is None
    rc, line = event_check(path)
    assert rc == 1 and line.startswith("invalid too_large:"), line


def test_gap_customer_id_must_match_message_key():
    path = EXAMPLES / "call.ended" / "valid" / "billing_dispute_named_caller.json"
    assert json.loads(path.read_text(encoding="utf-8"))["customer_id"] == 7
    if not EVENT_CHECK.exists():
        event_check(path)  # skips with the reason
    for key, expected in (("7", "ok"), ("8", "invalid key_mismatch:"), ("07x", "invalid key_mismatch:")):
        proc = subprocess.run([str(EVENT_CHECK), "--key", key, str(path)], capture_output=True,
                              text=True, timeout=30)
        assert proc.stdout.startswith(expected), f"--key {key}: {proc.stdout}{proc.stderr}"
