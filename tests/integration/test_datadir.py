"""Programs started outside the repository find their data (lexicons, prompts, migrations), in
the build tree and in a `make install` layout, and --check-config refuses a file it cannot open.

No services needed: everything runs the real binaries with --print-config / --check-config,
from the root folder and with no AIMEM_* variable but the ones a case sets.
"""
import os
import shutil
import subprocess

from conftest import BUILD, REPO, run

DB = {"AIMEM_DB_URL": "postgresql://u@127.0.0.1:1/x"}  # required by the workers, never used
DATA = {  # program: its data settings and their paths in the source tree
    "aimem": {"migrations.dir": "migrations", "lexicons.dir": "workers/lexicons",
              "llm.prompt": "workers/summarizer/prompts/summarize.v2.txt"},  # summarize
    "aimem-summarizer": {"lexicons.dir": "workers/lexicons",
                         "llm.prompt": "workers/summarizer/prompts/summarize.v2.txt"},
    "aimem-personality": {"lexicons.dir": "workers/lexicons",
                          "llm.prompt": "workers/personality/prompts/personality.v1.txt"},
}


def prog(path, *args, env=None, cwd="/"):
    """Runs a program with no AIMEM_* variable from the caller's environment."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("AIMEM_")}
    full.update(env or {})
    return subprocess.run([str(path), *args], capture_output=True, text=True, env=full, cwd=cwd,
                          timeout=60)


def settings(proc):
    """--print-config lines as {key: (value, origin)}."""
    out = {}
    for line in proc.stdout.splitlines():
        kv, _, origin = line.partition("  # ")
        key, _, value = kv.partition(" = ")
        out[key] = (value, origin)
    return out


def check_finds_data(bindir, datadir):
    for name, items in DATA.items():
        shown = settings(prog(bindir / name, "--print-config", env=DB))
        for key, rel in items.items():
            assert shown[key] == (str(datadir / rel), "default"), (name, key, shown.get(key))
        proc = prog(bindir / name, "--check-config", env=DB)
        assert proc.returncode == 0, (name, proc.stderr)
        assert "configuration ok" in proc.stdout


def test_build_tree_programs_find_their_data_from_anywhere():
    check_finds_data(BUILD / "bin", REPO.resolve())


def test_installed_programs_find_their_data_under_share(tmp_path):
    dest = tmp_path / "stage"
    # -o: install what is built, never rebuild it here (the build is the suite's, maybe ASan)
    bins = sorted((BUILD / "bin").iterdir())
    assume_old = [a for b in bins for a in ("-o", str(b))]
    out = run(["make", "-s", "-C", str(REPO), "install", f"BUILD={BUILD}", "PREFIX=/opt/aimem",
               f"DESTDIR={dest}", "SKIP_DEPS=1", *assume_old]).stdout
    assert "data files in" in out
    prefix = dest / "opt/aimem"
    for b in bins:
        assert (prefix / "bin" / b.name).stat().st_mode & 0o111
    share = prefix / "share/ai-memory"
    for rel in ("workers/lexicons/topics.txt", "workers/summarizer/prompts/summarize.v1.txt",
                "workers/personality/prompts/personality.v1.txt", "migrations/001_roles.sql"):
        assert (share / rel).read_bytes() == (REPO / rel).read_bytes()
    check_finds_data(prefix / "bin", share)


def test_data_not_found_is_refused_with_the_setting_to_use(tmp_path):
    lone = tmp_path / "bin"
    lone.mkdir()
    shutil.copy(BUILD / "bin/aimem-summarizer", lone)
    proc = prog(lone / "aimem-summarizer", "--check-config", env=DB, cwd=tmp_path)
    assert proc.returncode == 2
    assert "default: lexicons.dir: cannot find workers/lexicons in ../share/ai-memory" in proc.stderr
    assert "set lexicons.dir or AIMEM_LEXICONS_DIR" in proc.stderr
    # an explicit setting is taken as written and wins over the search
    env = dict(DB, AIMEM_LEXICONS_DIR=str(REPO / "workers/lexicons"),
               AIMEM_LLM_PROMPT=str(REPO / "workers/summarizer/prompts/summarize.v1.txt"))
    proc = prog(lone / "aimem-summarizer", "--check-config", env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr


def test_check_config_fails_on_a_file_it_cannot_open(tmp_path):
    summarizer = BUILD / "bin/aimem-summarizer"
    missing = tmp_path / "missing"
    cases = [
        (summarizer, ["--config", str(missing)], {}, f"config file {missing}: cannot open"),
        (summarizer, [], {"AIMEM_CONFIG": str(missing)}, f"config file {missing}: cannot open"),
        (summarizer, [], {"AIMEM_DB_URL_FILE": str(missing)},
         f"AIMEM_DB_URL_FILE: db.url_file: {missing}: cannot open"),
        (summarizer, [], dict(DB, AIMEM_LEXICONS_DIR=str(missing)),
         f"AIMEM_LEXICONS_DIR: lexicons.dir: cannot open {missing}: No such file"),
        (BUILD / "bin/aimem-personality", [], dict(DB, AIMEM_LLM_PROMPT=str(missing)),
         f"AIMEM_LLM_PROMPT: llm.prompt: cannot open {missing}"),
        (BUILD / "bin/aimem-query", [], dict(DB, AIMEM_AUTH_PUBLIC_KEY_FILE=str(missing)),
         f"AIMEM_AUTH_PUBLIC_KEY_FILE: auth.public_key_file: cannot open {missing}"),
        (BUILD / "bin/aimem", [], {"AIMEM_MIGRATIONS_DIR": str(missing)},
         f"AIMEM_MIGRATIONS_DIR: migrations.dir: cannot open {missing}"),
    ]
    for path, args, env, message in cases:
        proc = prog(path, *args, "--check-config", env=env)
        assert proc.returncode == 2, (path.name, env, proc.stdout, proc.stderr)
        assert message in proc.stderr, (path.name, env, proc.stderr)
    # a setting file's line names itself
    conf = tmp_path / "summarizer.conf"
    conf.write_text(f"db.url = x\nlexicons.dir = {missing}\n")
    proc = prog(summarizer, "--config", str(conf), "--check-config")
    assert proc.returncode == 2
    assert f"{conf}:2: lexicons.dir: cannot open {missing}" in proc.stderr
