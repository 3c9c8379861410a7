"""A Python client generated from aimem-query's own GET /openapi.json calls the native context
route and the compat route with a real JWT (minted by `aimem token`) and gets the stored
caller's data back.

The generator is openapi-python-client, which scripts/deps.sh installs into
$AIMEM_CACHE/openapi-python-client (default ~/.cache/ai-memory); the client is generated into
the test's temporary folder and never committed. A missing generator fails the test (CI runs
scripts/deps.sh first), naming how to install it.
"""
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from conftest import Database, admin_connect, aimem, create_database
from query_data import KELLY, Client, seed_all
from test_query import SECRET, start_query

CACHE = Path(os.environ.get("AIMEM_CACHE", Path.home() / ".cache/ai-memory"))
GENERATOR = CACHE / "openapi-python-client"


def generator_path():
    if not (GENERATOR / "openapi_python_client").is_dir():
        pytest.fail(f"openapi-python-client is not installed in {GENERATOR}: run scripts/deps.sh "
                    "(it pip-installs the pinned version there; AIMEM_CACHE moves the cache)")
    return GENERATOR


@pytest.fixture(scope="module")
def query(services, template_db, tmp_path_factory):
    name = "oc_" + uuid.uuid4().hex[:12]
    create_database(services, name, template=template_db)
    seed_all(Database(services, name))
    d = start_query(Database(services, name), tmp_path_factory.mktemp("oc") / "query.log")
    yield d
    assert d.stop() == 0, d.output()
    with admin_connect(services) as conn, conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# Runs in a child with the generator's folder (httpx, attrs) and the generated package on its
# path: prints what the client's two calls returned, as JSON.
CALLER = r"""
import json, sys
from aimem_query_client import AuthenticatedClient
from aimem_query_client.api.query import v3_context, v2_context_enriched
from aimem_query_client.models import Context, V2ContextEnrichedBody, V2ContextEnrichedResponse200
base_url, token, user_id = sys.argv[1:4]
with AuthenticatedClient(base_url=base_url, token=token) as client:
    native = v3_context.sync_detailed(user_id, client=client, summaries=3)
    compat = v2_context_enriched.sync_detailed(client=client, body=V2ContextEnrichedBody(user_id=user_id))
    assert isinstance(native.parsed, Context), native
    assert isinstance(compat.parsed, V2ContextEnrichedResponse200), compat
    denied = v3_context.sync_detailed(user_id, client=AuthenticatedClient(base_url=base_url, token="x"))
print(json.dumps({"native": [native.status_code, native.parsed.to_dict()],
                  "compat": [compat.status_code, compat.parsed.to_dict()],
                  "denied": denied.status_code}))
"""


def test_generated_client_reads_the_context_routes(query, tmp_path):
    gen = generator_path()
    status, _, raw = Client(query.port).request("GET", "/openapi.json")
    assert status == 200
    doc = tmp_path / "openapi.json"
    doc.write_bytes(raw)
    config = tmp_path / "generator.yaml"  # no post-hooks (they would need ruff on PATH)
    config.write_text("project_name_override: aimem-query-client\n"
                      "package_name_override: aimem_query_client\npost_hooks: []\n")
    env = dict(os.environ, PYTHONPATH=str(gen))
    out = tmp_path / "client"
    p = subprocess.run([sys.executable, "-m", "openapi_python_client", "generate", "--path",
                        str(doc), "--output-path", str(out), "--meta", "none", "--config",
                        str(config)], env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "Warning" not in p.stdout + p.stderr, p.stdout + p.stderr  # every route generated
    assert (out / "api/query/v3_context.py").is_file()

    # a real JWT, as an operator mints one
    token = aimem("token", "--customer", "1", "--scope", "memory:read",
                  env={"AIMEM_AUTH_JWT_SECRET": SECRET}).stdout.strip()
    script = tmp_path / "call.py"
    script.write_text(CALLER)
    env["PYTHONPATH"] = f"{tmp_path}{os.pathsep}{gen}"
    (tmp_path / "aimem_query_client").symlink_to(out)
    p = subprocess.run([sys.executable, str(script), f"http://127.0.0.1:{query.port}", token,
                        KELLY], env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    got = json.loads(p.stdout)

    # the same answers as the routes give a plain HTTP client
    c = Client(query.port)
    s, _, body = c.request("GET", f"/v3/callers/{KELLY}/context?summaries=3", token)
    assert got["native"] == [s, json.loads(body)]
    s, _, body = c.request("POST", "/v2/context/enriched", token, {"user_id": KELLY})
    assert got["compat"] == [s, json.loads(body)]
    c.close()
    # and they are the stored caller's
    native = got["native"][1]
    assert native["known"] is True and native["profile"]["preferred_name"] == "Kelly"
    assert [x["call_id"] for x in native["summaries"]] == ["CA-kelly-4", "CA-kelly-3", "CA-kelly-2"]
    assert "Name: Kelly" in got["compat"][1]["context"] and got["compat"][1]["success"] is True
    assert got["denied"] == 401
