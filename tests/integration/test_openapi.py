"""schemas/openapi.yaml against real responses of both HTTP programs.

Every route of aimem-query is called with the answers it documents (200, 304, 400, 401,
403, 404, 422) and each JSON body is validated against the schema the file gives for that
path, method and status; aimem-ingest's routes likewise against a real broker. A status the
file does not list for a route fails the test, as does a route the file does not describe.
"""
import copy
import json
import uuid
from pathlib import Path

import jsonschema
import pytest
import yaml

from conftest import REPO, admin_connect, create_database, make_topic, mint, Database
from query_data import KELLY, SHARED_CALLER, Client, seed_all
from test_ingest import SECRET as INGEST_SECRET, start_ingest, call_body
from test_query import SECRET, start_query

SPEC = yaml.safe_load((REPO / "schemas/openapi.yaml").read_text())


def to_json_schema(node):
    """OpenAPI 3.0 schema objects -> JSON Schema (nullable becomes a null alternative)."""
    if isinstance(node, list):
        return [to_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: to_json_schema(v) for k, v in node.items() if k != "nullable"}
    if node.get("nullable"):
        return {"anyOf": [out, {"type": "null"}]}
    return out


ROOT = to_json_schema(SPEC)
RESOLVER = jsonschema.RefResolver.from_schema(ROOT)


def deref(node):
    while isinstance(node, dict) and "$ref" in node:
        node = RESOLVER.resolve(node["$ref"])[1]
    return node


def check(template, method, status, headers, raw):
    op = SPEC["paths"].get(template, {}).get(method.lower())
    assert op is not None, f"{method} {template} is not in openapi.yaml"
    responses = op["responses"]
    assert str(status) in responses, f"{method} {template}: status {status} not documented"
    resp = deref(to_json_schema(responses[str(status)]))
    content = resp.get("content", {})
    if not content:
        assert raw == b"", f"{method} {template} {status}: a body where none is documented"
        return
    if "application/json" in content:
        body = json.loads(raw)
        schema = content["application/json"]["schema"]
        jsonschema.Draft7Validator(schema, resolver=RESOLVER).validate(body)
    for name, spec in resp.get("headers", {}).items():
        if spec.get("required") is False:  # said to come only with some requests
            continue
        if status != 304 or name == "ETag":
            assert name.lower() in headers, f"{method} {template} {status}: header {name} missing"


@pytest.fixture(scope="module")
def query(services, template_db, tmp_path_factory):
    name = "o_" + uuid.uuid4().hex[:12]
    create_database(services, name, template=template_db)
    db = Database(services, name)
    seed_all(db)
    d = start_query(db, tmp_path_factory.mktemp("oq") / "query.log")
    yield d
    assert d.stop() == 0, d.output()
    with admin_connect(services) as conn, conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(client, token, template, method, path, body=None, headers=None, status=None):
    s, h, raw = client.request(method, path, token, body, headers)
    if status is not None:
        assert s == status, (method, path, s, raw[:300])
    check(template, method, s, h, raw)
    return s, h, raw


QUERY_CASES = [
    # (template, method, path, body, expected status)
    ("/v3/callers/{user_id}/context", "GET", f"/v3/callers/{KELLY}/context", None, 200),
    ("/v3/callers/{user_id}/context", "GET", f"/v3/callers/{KELLY}/context?format=text", None, 200),
    ("/v3/callers/{user_id}/context", "GET", "/v3/callers/nobody/context", None, 200),
    ("/v3/callers/{user_id}/context", "GET", f"/v3/callers/{KELLY}/context?summaries=-2", None, 400),
    ("/v3/callers/{user_id}/summaries", "GET", f"/v3/callers/{KELLY}/summaries?limit=2", None, 200),
    ("/v3/callers/{user_id}/summaries", "GET", f"/v3/callers/{KELLY}/summaries?before=x", None, 400),
    ("/v3/callers/{user_id}/profile", "GET", f"/v3/callers/{KELLY}/profile", None, 200),
    ("/v3/callers/{user_id}/profile", "GET", "/v3/callers/nobody/profile", None, 404),
    ("/v3/callers/{user_id}/personality", "GET", f"/v3/callers/{SHARED_CALLER}/personality", None, 200),
    ("/v3/callers/{user_id}/personality", "GET", "/v3/callers/nobody/personality", None, 404),
    ("/v3/callers", "GET", "/v3/callers?limit=3", None, 200),
    ("/v3/calls/{call_id}", "GET", "/v3/calls/CA-shared-1", None, 200),
    ("/v3/calls/{call_id}", "GET", "/v3/calls/CA-kelly-4", None, 200),
    ("/v3/calls/{call_id}", "GET", "/v3/calls/nope", None, 404),
    ("/v3/search", "GET", "/v3/search?q=auto+bill", None, 200),
    ("/v3/search", "GET", "/v3/search?q=auto&mode=text", None, 200),
    ("/v3/search", "GET", "/v3/search?mode=x&q=a", None, 400),
    ("/health", "GET", "/health", None, 200),
    ("/v1/memories", "GET", f"/v1/memories?user_id={SHARED_CALLER}&limit=3", None, 200),
    ("/v1/memories", "GET", "/v1/memories?user_id=admin&memory_type=admin_setting", None, 200),
    ("/v1/memories", "GET", "/v1/memories?limit=0", None, 400),
    ("/v1/memories/user/{user_id}", "GET", f"/v1/memories/user/{SHARED_CALLER}", None, 200),
    ("/v1/memories/shared", "GET", "/v1/memories/shared", None, 200),
    ("/memory/retrieve", "POST", "/memory/retrieve", {"user_id": SHARED_CALLER, "limit": 5}, 200),
    ("/memory/retrieve", "POST", "/memory/retrieve", {"user_id": []}, 422),
    ("/v2/context/enriched", "POST", "/v2/context/enriched", {"user_id": KELLY}, 200),
    ("/v2/context/enriched", "POST", "/v2/context/enriched", {"user_id": "nobody"}, 200),
    ("/v2/context/enriched", "POST", "/v2/context/enriched", {}, 422),
    ("/v2/summaries/{user_id}", "GET", f"/v2/summaries/{KELLY}", None, 200),
    ("/v2/profiles", "GET", "/v2/profiles", None, 200),
    ("/v2/profile/{user_id}", "GET", f"/v2/profile/{KELLY}", None, 200),
    ("/v2/profile/{user_id}", "GET", "/v2/profile/nobody", None, 404),
    ("/v2/personality/{user_id}", "GET", f"/v2/personality/{KELLY}", None, 200),
    ("/v2/personality/{user_id}", "GET", "/v2/personality/nobody", None, 200),
    ("/v2/summaries/search", "POST", "/v2/summaries/search", {"query": "auto bill"}, 200),
    ("/v2/summaries/search", "POST", "/v2/summaries/search", {"query": 3}, 422),
]


def test_query_responses_match_the_spec(query):
    c = Client(query.port)
    token = mint(SECRET, customer_id=1, scope="memory:read")
    write_only = mint(SECRET, customer_id=1, scope="memory:write")
    seen = set()
    for template, method, path, body, status in QUERY_CASES:
        run(c, token, template, method, path, body, status=status)
        if template == "/health":  # public: ChatStack sends no token; any token is ignored
            run(c, None, template, method, path, body, status=200)
            run(c, write_only, template, method, path, body, status=200)
        elif template not in seen:  # 401 and 403 once per route
            run(c, None, template, method, path, body, status=401)
            run(c, write_only, template, method, path, body, status=403)
            seen.add(template)
    # 304 on the ETag routes
    for template, path in [("/v3/callers/{user_id}/context", f"/v3/callers/{KELLY}/context"),
                           ("/v3/callers/{user_id}/summaries", f"/v3/callers/{KELLY}/summaries"),
                           ("/v3/callers/{user_id}/profile", f"/v3/callers/{KELLY}/profile"),
                           ("/v3/callers/{user_id}/personality",
                            f"/v3/callers/{KELLY}/personality")]:
        _, h, _ = run(c, token, template, "GET", path, status=200)
        run(c, token, template, "GET", path, headers={"If-None-Match": h["etag"]}, status=304)
    for path in ("/healthz", "/readyz", "/metrics"):
        run(c, None, path, "GET", path, status=200)
    query_paths = {t for t, *_ in QUERY_CASES} | {"/healthz", "/readyz", "/metrics"}
    documented = {p for p, ops in SPEC["paths"].items()
                  if any("query" in op.get("tags", []) for op in ops.values())}
    assert documented <= query_paths, documented - query_paths  # every query route exercised
    c.close()


def test_ingest_responses_match_the_spec(services, tmp_path):
    d = start_ingest(services.bootstrap, make_topic(services), make_topic(services),
                     tmp_path / "ingest.log")
    try:
        c = Client(d.port)
        token = mint(INGEST_SECRET, customer_id=7)
        read_only = mint(INGEST_SECRET, customer_id=7, scope="memory:read")
        mid = str(uuid.uuid4())
        cases = [
            ("/v3/calls", "POST", "/v3/calls", call_body(), 202),
            ("/v3/calls", "POST", "/v3/calls", {"call_id": "x"}, 400),
            ("/v3/memories", "POST", "/v3/memories",
             {"scope": "shared", "mtype": "admin_setting", "key": "k", "value": 1}, 202),
            ("/v3/memories/{memory_id}", "DELETE", f"/v3/memories/{mid}", None, 202),
            ("/v2/process-call", "POST", "/v2/process-call",
             {"user_id": KELLY, "thread_id": "CA1", "conversation_history": [["user", "hi"]]}, 200),
            ("/v1/memories", "POST", "/v1/memories", {"type": "fact", "key": "k", "value": "v"}, 200),
            ("/v1/memories/user", "POST", f"/v1/memories/user?user_id={KELLY}",
             {"type": "person", "key": "name", "value": "Kelly"}, 200),
            ("/v1/memories/shared", "POST", "/v1/memories/shared",
             {"type": "admin_setting", "key": "g", "value": {"v": 1}}, 200),
            ("/v1/memories/{id}", "DELETE", f"/v1/memories/{mid}", None, 200),
            ("/memory/store", "POST", "/memory/store", {"user_id": KELLY, "content": "hi"}, 200),
        ]
        for template, method, path, body, status in cases:
            run(c, token, template, method, path, body, status=status)
            run(c, None, template, method, path, body, status=401)
            run(c, read_only, template, method, path, body, status=403)
        documented = {(p, m.upper()) for p, ops in SPEC["paths"].items()
                      for m, op in ops.items() if "ingest" in op.get("tags", [])}
        assert documented == {(t, m) for t, m, *_ in cases}
        c.close()
    finally:
        assert d.stop() == 0, d.output()


def route_tables():
    """The programs' route tables as the C sources declare them: program -> {(METHOD, pattern
    with {} for a parameter): route name}; the built-ins of lib/http belong to both."""
    import re
    entry = re.compile(r'\{\s*"(GET|POST|DELETE|PUT|PATCH)",\s*"([^"]+)",\s*"([a-z0-9_]+)"')

    def read(*files):
        return {(m[1], m[2]): m[3] for f in files for m in entry.finditer(f.read_text())}
    builtins = read(REPO / "lib/http.c")
    return {"query": {**builtins, **read(*sorted((REPO / "query-api").glob("*.c")))},
            "ingest": {**builtins, **read(REPO / "ingest/routes.c")}}


def served_routes(doc):
    import re
    return {(m.upper(), re.sub(r"\{[^}]+\}", "{}", path)): op["operationId"]
            for path, item in doc["paths"].items() for m, op in item.items()
            if m in ("get", "post", "delete", "put", "patch")}


def test_served_documents_match_the_route_tables(query, services, tmp_path):
    """GET /openapi.json, without a token, on both programs: exactly the program's routes (its
    table in the C sources, plus lib/http's built-ins), each operationId the route's name in
    the logs and metrics (suffixed with the method where the two programs share a name), and
    the same document schemas/openapi.yaml gives for that program."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("openapi_c", REPO / "scripts/openapi-c.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    ingest = start_ingest(services.bootstrap, make_topic(services), make_topic(services),
                          tmp_path / "ingest.log")
    try:
        tables = route_tables()
        for program, port in (("query", query.port), ("ingest", ingest.port)):
            status, headers, raw = Client(port).request("GET", "/openapi.json")
            assert status == 200 and headers["content-type"].startswith("application/json")
            doc = json.loads(raw)
            assert doc == gen.program_document(SPEC, program)
            served, table = served_routes(doc), tables[program]
            assert set(served) == set(table), (program, set(served) ^ set(table))
            for key, operation_id in served.items():
                assert operation_id in (table[key], f"{table[key]}_{key[0].lower()}"), (key, operation_id)
        every = [op["operationId"] for item in SPEC["paths"].values() for op in item.values()
                 if isinstance(op, dict) and "operationId" in op]
        assert len(every) == len(set(every)), "operationIds are unique"
        assert all("summary" in op for item in SPEC["paths"].values() for op in item.values()
                   if isinstance(op, dict) and "responses" in op)
    finally:
        assert ingest.stop() == 0, ingest.output()
