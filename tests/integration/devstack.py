"""The whole stack as deployed, for tests that want ai-memory behind its one base URL.

    from devstack import stack
    with stack(tmp_path / "stack") as env:
        env["AIMEM_BASE_URL"]          # http://127.0.0.1:<port>, nginx in front of ingest/query
        env["AIMEM_JWT_SECRET_FILE"]   # the HS256 secret the programs check tokens with

`stack(folder)` runs `scripts/dev up --dir folder stack` (its own PostgreSQL and Kafka,
`aimem migrate`, the five programs of ${AIMEM_BUILD:-build}/bin, nginx with
deploy/nginx/nginx.conf on a free port of 127.0.0.1), yields folder/env parsed into a dict
(docs/dev-services.md lists the keys) and runs `scripts/dev down --dir folder` when the block
ends, also when it fails or `up` itself failed half-way. AIMEM_BUILD in the environment picks
the build (the sanitizer run's build/san). A failing `up` raises AssertionError with its
output and the tail of the programs' logs.

What it does not do: share anything with conftest's session services (each stack has its own
PostgreSQL and Kafka, about 15 s to start), or remove the folder (pytest's tmp_path does).
"""
import os
import subprocess
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEV = REPO / "scripts/dev"
PG_BIN = "/usr/lib/postgresql/15/bin"


def pg_ctl(*args):
    """pg_ctl as the postgres user, who runs scripts/dev's clusters."""
    subprocess.run(["runuser", "-u", "postgres", "--", f"{PG_BIN}/pg_ctl", *map(str, args)],
                   check=True, capture_output=True, timeout=120)


def promote_standby(folder, port):
    """Starts the standby of `scripts/dev up --pg-standby` in folder again (its primary gone)
    with scripts/dev's server options, and promotes it."""
    folder = Path(folder)
    pg_ctl("start", "-D", folder / "pg-standby/data", "-w", "-s", "-l", folder / "pg-standby/log",
           "-o", f"-p {port} -k {folder}/pg-standby/sock -c listen_addresses=127.0.0.1 "
                 "-c fsync=off -c full_page_writes=off -c max_connections=200")
    pg_ctl("promote", "-D", folder / "pg-standby/data", "-w", "-s")
PROGRAMS = ("aimem-memories", "aimem-summarizer", "aimem-personality", "aimem-embedder", "aimem-query",
            "aimem-ingest")


def read_env(path):
    """KEY=VALUE lines (no quoting, as scripts/dev writes them) into a dict."""
    env = {}
    for line in Path(path).read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            env[key.strip()] = value.strip()
    return env


def logs(folder, lines=30):
    """The tail of every log of the stack in folder, for a failure message."""
    folder = Path(folder)
    paths = [folder / "stack/migrate.log", *(folder / "stack" / f"{p}.log" for p in PROGRAMS),
             folder / "nginx/logs/error.log", folder / "pg/log", folder / "kafka/logs/server.log"]
    out = []
    for p in paths:
        if p.exists():
            tail = p.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {p} (tail)\n" + "\n".join(tail))
    return "\n".join(out)


def dev(*args, timeout=300, check=True):
    """Runs scripts/dev with the caller's environment (AIMEM_BUILD, AIMEM_DEV_LISTEN...)."""
    proc = subprocess.run([str(DEV), *map(str, args)], capture_output=True, text=True,
                          errors="replace", timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"scripts/dev {' '.join(map(str, args))} exited {proc.returncode}\n"
                             f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}")
    return proc


@contextmanager
def stack(tmp_dir, listen=None, timeout=300):
    """Context manager: the stack in tmp_dir (created if missing); yields DIR/env as a dict.
    listen: nginx's address (default 127.0.0.1). timeout bounds `up` and `down` each."""
    folder = Path(tmp_dir)
    folder.mkdir(parents=True, exist_ok=True)
    extra = ["--listen", listen] if listen else []
    try:
        try:
            dev("up", "--dir", folder, *extra, "stack", timeout=timeout)
        except AssertionError as e:
            raise AssertionError(f"{e}\n{logs(folder)}") from None
        yield read_env(folder / "env")
    finally:
        dev("down", "--dir", folder, timeout=timeout, check=False)
