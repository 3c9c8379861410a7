"""Issue 17 item 3: --check-config gates a deployment. It exits 2 on what start-up would refuse
(a short or missing JWT secret, processor llm without a URL, a bad number, an unreadable
lexicon folder, a kafka.* property librdkafka does not know) and on an AIMEM_* variable that is
no program's setting (with a "did you mean"); the env file scripts/dev writes for its stack
(sourced by users before running aimem) passes every program's check."""
import os
import re
import subprocess

from conftest import BUILD, REPO

PROGRAMS = ["aimem", "aimem-ingest", "aimem-memories", "aimem-summarizer", "aimem-personality",
            "aimem-query"]
SECRET = "0123456789abcdef0123456789abcdef"


def check(prog, **env):
    full = {k: v for k, v in os.environ.items() if not k.startswith("AIMEM_")}
    full.update({"AIMEM_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9", "AIMEM_DB_URL": "postgresql://x"})
    full.update(env)
    return subprocess.run([str(BUILD / "bin" / prog), "--check-config"], env=full,
                          capture_output=True, text=True, timeout=60)


def test_refuses_what_start_up_refuses():
    cases = [
        ("aimem-ingest", {"AIMEM_AUTH_JWT_SECRET": "short"}, "at least 32"),
        ("aimem-query", {}, "HS256 key is empty"),
        ("aimem-summarizer", {"AIMEM_PROCESSOR": "llm"}, "llm.base_url"),
        ("aimem-personality", {"AIMEM_PROCESSOR": "llm", "AIMEM_LLM_BASE_URL": "http://x",
                               "AIMEM_LLM_MODEL": "m", "AIMEM_LLM_TEMPERATURE": "hot"},
         "llm.temperature"),
        ("aimem-memories", {"AIMEM_BATCH_MAX_EVENTS": "12x"}, "must be an integer"),
        ("aimem-summarizer", {"AIMEM_LEXICONS_DIR": "/nonexistent"}, "/nonexistent"),
        ("aimem-ingest", {"AIMEM_AUTH_JWT_SECRET": SECRET, "AIMEM_KAFKA_NO_SUCH_PROPERTY": "1"},
         "No such configuration property"),
        # the embedder opens its provider as start-up does: a model folder without the model
        ("aimem-embedder", {"AIMEM_EMBED_MODEL_DIR": "/nonexistent-model"},
         "/nonexistent-model/config.json"),
        ("aimem-embedder", {"AIMEM_EMBED_PROVIDER": "hashed", "AIMEM_CHUNK_WORDS": "40",
                            "AIMEM_CHUNK_OVERLAP": "20"}, "chunk.overlap"),
    ]
    for prog, env, message in cases:
        p = check(prog, **env)
        assert p.returncode == 2 and message in p.stderr, (prog, env, p.stderr)


def test_unknown_variable_fails_the_check_and_warns_at_start():
    p = check("aimem-ingest", AIMEM_AUTH_JWT_SECRET=SECRET, AIMEM_LLM_BASEURL="http://x")
    assert p.returncode == 2, p.stderr
    assert "AIMEM_LLM_BASEURL is not a setting" in p.stderr
    assert "did you mean AIMEM_LLM_BASE_URL?" in p.stderr
    p = check("aimem-ingest", AIMEM_AUTH_JWT_SECRET=SECRET)
    assert p.returncode == 0 and "configuration ok" in p.stdout, p.stderr
    # a normal start only warns (the command fails later for another reason: no database)
    full = {k: v for k, v in os.environ.items() if not k.startswith("AIMEM_")}
    full.update({"AIMEM_DB_URL": "", "AIMEM_DB_ULR": "x"})
    p = subprocess.run([str(BUILD / "bin/aimem"), "migrate", "--status"], env=full,
                       capture_output=True, text=True, timeout=60)
    assert "did you mean AIMEM_DB_URL?" in p.stderr and " warn aimem[" in p.stderr, p.stderr


def test_the_dev_stack_env_passes_every_program(tmp_path):
    """Every name scripts/dev writes to DIR/env, with values of the right shape."""
    text = (REPO / "scripts/dev").read_text()
    names = set(re.findall(r'"(AIMEM_[A-Z0-9_]+)=', text))
    assert {"AIMEM_BASE_URL", "AIMEM_DB_ADMIN_URL", "AIMEM_PG_PORT"} <= names, names
    secret = tmp_path / "jwt_secret"
    secret.write_text(SECRET)
    values = {n: "x" for n in names}
    values.update({"AIMEM_DB_URL": "postgresql://x", "AIMEM_AUTH_JWT_SECRET_FILE": str(secret),
                   "AIMEM_JWT_SECRET_FILE": str(secret),
                   "AIMEM_MIGRATIONS_DIR": str(REPO / "migrations"),
                   "AIMEM_LEXICONS_DIR": str(REPO / "workers/lexicons"),
                   "AIMEM_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9"})
    for prog in PROGRAMS:
        p = check(prog, **values)
        assert p.returncode == 0, (prog, p.stderr)
