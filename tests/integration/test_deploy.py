"""deploy/: the nginx config (nginx -t, then ChatStack's call flow through a local nginx in front of
aimem-ingest, aimem-query and the workers), YAML files that parse, and the example configs.

nginx runs from a temporary prefix on a free port with deploy/nginx/nginx.conf as it is;
aimem.conf is included verbatim except its `listen 8100` and log folder; the upstreams file is
written with the test's ports (as scripts/dev's stack does).
"""
import json
import os
import re
import shutil
import socket
import subprocess
import time
import uuid

import pytest

from conftest import BUILD, REPO, Daemon, create_database, make_topic, mint, run
from query_data import Client

SECRET = "deploy-test-secret-0123456789abcdef-0123"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
needs_nginx = pytest.mark.skipif(not os.path.exists(NGINX),
                                 reason="nginx not installed (scripts/deps.sh installs it)")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def nginx_prefix(tmp_path, upstreams, listen):
    """A self-contained nginx prefix (pid, logs, temp folders in tmp_path) with
    deploy/nginx/nginx.conf as it is, which includes aimem.conf and upstreams.local.conf (here:
    the text `upstreams`). Returns the nginx.conf path."""
    prefix = tmp_path / "nginx"
    (prefix / "logs").mkdir(parents=True, exist_ok=True)
    conf = (REPO / "deploy/nginx/aimem.conf").read_text()
    assert re.search(r"^\s*listen 8100;$", conf, re.M), "aimem.conf listens on 8100"
    conf = re.sub(r"^(\s*)listen 8100;$", rf"\1listen 127.0.0.1:{listen};", conf, flags=re.M)
    conf = conf.replace("/var/log/nginx/", "logs/")
    (prefix / "aimem.conf").write_text(conf)
    (prefix / "upstreams.local.conf").write_text(upstreams)
    shutil.copy(REPO / "deploy/nginx/nginx.conf", prefix / "nginx.conf")
    return prefix / "nginx.conf"


def local_upstreams(ingest_port, query_port):
    text = (REPO / "deploy/nginx/upstreams.local.conf").read_text()
    return text.replace("127.0.0.1:8101", f"127.0.0.1:{ingest_port}").replace(
        "127.0.0.1:8102", f"127.0.0.1:{query_port}")


@needs_nginx
def test_nginx_config_is_valid(tmp_path):
    conf = nginx_prefix(tmp_path, (REPO / "deploy/nginx/upstreams.local.conf").read_text(), free_port())
    proc = run([NGINX, "-t", "-q", "-p", str(conf.parent), "-e", str(conf.parent / "logs/error.log"),
                "-c", str(conf)], check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.fixture
def nginx_in_front(services, template_db, tmp_path):
    """aimem-ingest, aimem-query, the three workers on a fresh database and fresh topics, and
    nginx on a free port in front of ingest and query. Yields (client, daemons)."""
    from conftest import Database
    name = "d_" + uuid.uuid4().hex[:12]
    create_database(services, name, template=template_db)
    db = Database(services, name)
    calls, memories = make_topic(services), make_topic(services)
    common = {"AIMEM_KAFKA_BOOTSTRAP_SERVERS": services.bootstrap, "AIMEM_TOPICS_CALLS": calls,
              "AIMEM_TOPICS_MEMORIES": memories, "AIMEM_HTTP_PORT": "0",
              "AIMEM_LEXICONS_DIR": str(REPO / "workers/lexicons")}
    daemons = []
    try:
        for prog in ("aimem-summarizer", "aimem-personality", "aimem-memories"):
            env = dict(common, AIMEM_DB_URL=db.worker_url)
            daemons.append(Daemon([str(BUILD / "bin" / prog)], env, tmp_path / f"{prog}.log")
                           .wait_ready(pattern=r"\bready group="))
        ingest = Daemon([str(BUILD / "bin/aimem-ingest")], dict(common, AIMEM_AUTH_JWT_SECRET=SECRET),
                        tmp_path / "aimem-ingest.log").wait_ready()
        query = Daemon([str(BUILD / "bin/aimem-query")],
                       dict(common, AIMEM_AUTH_JWT_SECRET=SECRET, AIMEM_DB_URL=db.reader_url),
                       tmp_path / "aimem-query.log").wait_ready()
        daemons += [ingest, query]
        listen = free_port()
        conf = nginx_prefix(tmp_path, local_upstreams(ingest.port, query.port), listen)
        nginx = subprocess.Popen([NGINX, "-p", str(conf.parent), "-e", str(conf.parent / "logs/error.log"),
                                  "-c", str(conf), "-g", "daemon off;"], stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 15
            while True:
                try:
                    socket.create_connection(("127.0.0.1", listen), timeout=1).close()
                    break
                except OSError:
                    assert nginx.poll() is None, nginx.stderr.read()
                    assert time.monotonic() < deadline, "nginx did not listen"
                    time.sleep(0.05)
            client = Client(listen)
            yield client, {d.log_path.name: d for d in daemons}, db
            client.close()
        finally:
            nginx.terminate()
            nginx.wait(timeout=15)
    finally:
        for d in reversed(daemons):
            assert d.stop() == 0, d.output()


def wait_json(client, method, path, token, body, predicate, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        status, _, answer = client.json(method, path, token, body)
        if status == 200 and predicate(answer):
            return answer
        assert time.monotonic() < deadline, f"{method} {path}: {status} {answer}"
        time.sleep(0.1)


@needs_nginx
def test_chatstack_call_flow_through_nginx(nginx_in_front):
    """ChatStack's sequence against the one base URL: health, shared settings read, context of a
    new caller, per-turn memory writes, process-call at call end, then the next call's context
    shows the summary and the name. Tokens as ChatStack mints them (HS256, memory:read:write)."""
    client, daemons, db = nginx_in_front
    token = mint(SECRET, customer_id=42)
    user = "5035550177"

    status, _, health = client.json("GET", "/health")  # → query; ChatStack sends no token here
    assert status == 200 and health["status"] == "healthy", health

    # admin settings: a shared memory written (→ ingest), then read back (→ query)
    status, _, put = client.json("POST", "/v1/memories/shared", token,
                                 {"type": "setting", "key": "greeting", "value": "Thanks for calling"})
    assert status == 200 and put["success"] and put["queued"], put
    shared = wait_json(client, "GET", "/v1/memories/shared", token, None,
                       lambda a: "Thanks for calling" in json.dumps(a))
    assert shared

    status, _, ctx = client.json("POST", "/v2/context/enriched", token, {"user_id": user})  # → query
    assert status == 200 and ctx["success"] and ctx["summary_count"] == 0, ctx

    # per-turn writes during the call (→ ingest, method-split /v1/memories prefix)
    status, _, put = client.json("POST", f"/v1/memories/user?user_id={user}", token,
                                 {"type": "preference", "key": "contact_time", "value": "mornings"})
    assert status == 200 and put["scope"] == "user", put
    status, _, stored = client.json("POST", "/memory/store", token,
                                    {"role": "user", "content": "caller asked about adding a driver"})
    assert status == 200 and stored["success"], stored

    history = [["assistant", "Thanks for calling Peterson Insurance, this is Sam."],
               ["user", "Hi Sam, this is Marisol Vega. I'd like to add my son as a driver on my auto policy."],
               ["assistant", "Of course, Marisol. I've added him; the new premium starts next month."],
               ["user", "Great, thank you so much."]]
    status, _, done = client.json("POST", "/v2/process-call", token,
                                  {"user_id": user, "thread_id": "CA" + uuid.uuid4().hex,
                                   "conversation_history": history})  # → ingest
    assert status == 200 and done["success"] is True, done

    # the next call: the summary and the name are in the context (→ query)
    ctx = wait_json(client, "POST", "/v2/context/enriched", token, {"user_id": user},
                    lambda a: a.get("summary_count") == 1)
    assert "Name: Marisol Vega" in ctx["context"], ctx["context"]
    mems = wait_json(client, "GET", f"/v1/memories/user/{user}", token, None,
                     lambda a: "mornings" in json.dumps(a))
    assert mems

    # DELETE of the prefix goes to ingest; a 401 keeps its WWW-Authenticate through nginx
    status, _, deleted = client.json("DELETE", f"/v1/memories/{put['memory_id']}", token)
    assert status == 200 and deleted["success"], deleted
    status, headers, err = client.json("GET", f"/v2/summaries/{user}")
    assert status == 401 and headers.get("www-authenticate", "").startswith("Bearer"), (status, headers)
    status, _, _ = client.request("GET", "/metrics", token)
    assert status == 404  # the programs' metrics stay on their own ports

    # each request reached the program that owns it (the programs log one line per request)
    seen = {name: set(re.findall(r"\bmethod=(\S+) route=(\S+)", d.output())) for name, d in daemons.items()}
    assert {("POST", "v2_process_call"), ("POST", "v1_memories_shared"), ("POST", "v1_memories_user"),
            ("POST", "memory_store"), ("DELETE", "v1_memories_delete")} == seen["aimem-ingest.log"], seen
    assert {("GET", "health"), ("GET", "v1_memories_shared"), ("GET", "v1_memories_user"),
            ("POST", "v2_context_enriched"), ("GET", "v2_summaries")} == seen["aimem-query.log"], seen


PROGRAMS = ("aimem-ingest", "aimem-query", "aimem-summarizer", "aimem-personality", "aimem-memories",
            "aimem-embedder")


def test_example_configs_are_current(tmp_path):
    run([str(REPO / "scripts/example-configs.sh"), str(tmp_path)], env={"AIMEM_BUILD": str(BUILD)})
    for prog in PROGRAMS:
        committed = (REPO / "deploy/config" / f"{prog}.conf").read_text()
        assert (tmp_path / f"{prog}.conf").read_text() == committed, \
            f"run scripts/example-configs.sh (make docs) and commit deploy/config/{prog}.conf"


@pytest.mark.parametrize("prog", PROGRAMS)
def test_example_config_defaults_load(prog, tmp_path):
    """Every key of the example, uncommented at its default, is accepted by the program."""
    text = (REPO / "deploy/config" / f"{prog}.conf").read_text()
    keys = re.findall(r"^#([a-z][a-z0-9_.]*) = (\S.*)$", text, re.M)
    assert len(keys) >= 10
    conf = tmp_path / f"{prog}.conf"
    conf.write_text("".join(f"{k} = {v}\n" for k, v in keys if not k.startswith("kafka.")))
    secret = tmp_path / "secret"
    secret.write_text(SECRET)
    env = {"AIMEM_DB_URL": "postgresql://aimem_worker@127.0.0.1:1/aimem",
           "AIMEM_AUTH_JWT_SECRET_FILE": str(secret), "AIMEM_CONFIG": str(conf)}
    proc = run([str(BUILD / "bin" / prog), "--check-config"], env=env, check=False, cwd=REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_yaml_files_parse():
    yaml = pytest.importorskip("yaml")
    files = sorted((REPO / "deploy").rglob("*.yml")) + sorted((REPO / "deploy").rglob("*.yaml"))
    assert files
    kinds, by_kind = set(), {}
    for path in files:
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
        assert docs, path
        for d in docs:
            assert isinstance(d, dict), path
            if "kind" in d and d["kind"] != "Kustomization":
                assert d.get("apiVersion") and d.get("metadata", {}).get("name"), (path, d.get("kind"))
                kinds.add(d["kind"])
                by_kind.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
    compose = yaml.safe_load((REPO / "deploy/docker-compose.yml").read_text())
    assert {"kafka", "postgres", "migrate", "ingest", "query", "summarizer", "personality", "memories",
            "nginx"} <= set(compose["services"])
    assert "8100:8100" in compose["services"]["nginx"]["ports"]
    assert {"Deployment", "Service", "ConfigMap", "ScaledObject", "PodDisruptionBudget", "Job"} <= kinds
    kustomization = yaml.safe_load((REPO / "deploy/k8s/kustomization.yaml").read_text())
    for res in kustomization["resources"]:
        assert (REPO / "deploy/k8s" / res).exists(), res
    deployments = by_kind["Deployment"]
    assert {f"aimem-{p}" for p in ("ingest", "query", "summarizer", "personality", "memories", "nginx")} \
        <= set(deployments)
    for name, dep in deployments.items():
        for c in dep["spec"]["template"]["spec"]["containers"]:
            assert c["securityContext"]["runAsNonRoot"] is True, name
            assert c["securityContext"]["allowPrivilegeEscalation"] is False, name
    for name, so in by_kind["ScaledObject"].items():
        assert so["spec"]["scaleTargetRef"]["name"] in deployments, name
        assert "replicas" not in deployments[so["spec"]["scaleTargetRef"]["name"]]["spec"], name
        assert so["spec"]["triggers"][0]["type"] == "kafka", name
    for name, pdb in by_kind["PodDisruptionBudget"].items():
        assert pdb["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] in deployments, name


def test_systemd_units_are_well_formed():
    units = sorted((REPO / "deploy/systemd").glob("*.service"))
    assert len(units) == 7  # migrate and the six programs
    for unit in units:
        if unit.name == "aimem-migrate.service":
            continue
        text = unit.read_text()
        for needed in ("[Unit]", "[Service]", "[Install]", "Restart=on-failure", "NoNewPrivileges=yes",
                       "ProtectSystem=strict", "ExecStart=",
                       # the programs tell systemd themselves (lib/notify): ready, stopping, alive
                       "Type=notify", "NotifyAccess=main", "ExecReload=/bin/kill -HUP $MAINPID"):
            assert needed in text, (unit.name, needed)
        assert re.search(r"^WatchdogSec=\d+(s|min)$", text, re.M), unit.name
        assert "curl" not in text and "ExecStartPost" not in text, (unit.name, "no readiness polling")
    # the nginx drop-in deploy/README installs exists and is not hidden by .gitignore
    dropin = REPO / "deploy/systemd/nginx.service.d/aimem.conf"
    text = dropin.read_text()
    assert "[Unit]" in text and re.search(r"^After=.*aimem-ingest\.service", text, re.M) \
        and re.search(r"^After=.*aimem-query\.service", text, re.M), text
    readme = (REPO / "deploy/README.md").read_text()
    assert "deploy/systemd/nginx.service.d" in readme
    if shutil.which("git") and (REPO / ".git").exists():
        ignored = run(["git", "-C", str(REPO), "check-ignore", "-q", str(dropin)], check=False)
        assert ignored.returncode == 1, ".gitignore hides the nginx drop-in"
    verify = shutil.which("systemd-analyze")
    if verify:
        proc = run([verify, "verify", *map(str, units)], check=False)
        assert "Unknown key" not in proc.stderr and "Unknown section" not in proc.stderr, proc.stderr
