"""Every `aimem` subcommand's command line (cli/cmdline): --help, --opt=value, an unknown option
and a missing value, table-driven over the commands `aimem --help` lists.

No services: a command that gets past its options without db.url says so (exit 1), which shows
the options were taken; where a value is checked, the refusal quotes the value as given after
"=", which shows it reached the check."""
import jwt
import pytest

from conftest import aimem

SECRET = "cli-options-test-secret-0123456789abcdef"
NO_DB = {"AIMEM_DB_URL": "", "AIMEM_KAFKA_BOOTSTRAP_SERVERS": ""}

# (command words, the usage's first words, an option that takes a value)
COMMANDS = [
    (["migrate"], "usage: aimem migrate", "--dir"),
    (["publish"], "usage: aimem publish", None),
    (["erase"], "usage: aimem erase", "--customer"),
    (["token"], "usage: aimem token", "--ttl"),
    (["lag"], "usage: aimem lag", "--group"),
    (["offsets", "show"], "usage: aimem offsets", "--topic"),
    (["offsets", "reset"], "usage: aimem offsets", "--to"),
    (["dead-letters", "list"], "usage: aimem dead-letters", "--since"),
    (["dead-letters", "show"], "usage: aimem dead-letters", "--offset"),
    (["dead-letters", "requeue"], "usage: aimem dead-letters", "--limit"),
    (["replay"], "usage: aimem replay", "--group"),
    (["import-previous"], "usage: aimem import-previous", "--from"),
    (["context", "rebuild"], "usage: aimem context", "--customer"),
    (["summarize"], "usage: aimem summarize", "--only"),
]

IDS = [" ".join(words) for words, *_ in COMMANDS]

# --opt=value: (argv, environment, exit code, text in stderr (or stdout when exit is 0))
EQUALS = {
    "migrate": (["migrate", "--dir=/nonexistent/m", "--status"], NO_DB, 1, "db.url is required"),
    "publish": (["publish", "--dry-run", "/nonexistent/events.jsonl"], NO_DB, 2,
                "/nonexistent/events.jsonl"),
    "erase": (["erase", "--customer=7", "--user="], NO_DB, 2, "--user U is required"),
    "token": (["token", "--customer=7", "--ttl=2h", "--scope=memory:read"],
              {"AIMEM_AUTH_JWT_SECRET": SECRET}, 0, "."),
    "lag": (["lag", "--group=summarizer", "--json"], NO_DB, 1, "db.url is required"),
    "offsets show": (["offsets", "show", "--group=g", "--topic=t"], NO_DB, 1, "db.url is required"),
    "offsets reset": (["offsets", "reset", "--group=g", "--topic=t", "--to=sideways"], NO_DB, 2,
                      '--to takes earliest, latest or an offset >= 0: "sideways"'),
    "dead-letters list": (["dead-letters", "list", "--since=yesterday"], NO_DB, 2,
                          '--since takes RFC 3339 or a duration (24h): "yesterday"'),
    "dead-letters show": (["dead-letters", "show", "--topic=t", "--partition=0", "--offset=x"],
                          NO_DB, 2, '--offset takes an integer 0..9223372036854775807: "x"'),
    "dead-letters requeue": (["dead-letters", "requeue", "--limit=0", "--dry-run"], NO_DB, 2,
                             '--limit takes an integer 1..100000: "0"'),
    "replay": (["replay", "--group=kitchen", "--from=earliest"], NO_DB, 2,
               '--group takes summarizer, personality, memories or embedder: "kitchen"'),
    "import-previous": (["import-previous", "--from=host=/nonexistent/pg dbname=x"], NO_DB, 1,
                        "/nonexistent/pg"),
    "context rebuild": (["context", "rebuild", "--customer=0"], NO_DB, 2,
                        "--customer must be an integer 1..2147483647"),
    "summarize": (["summarize", "--only=everything"], NO_DB, 2,
                  '--only takes summary or personality: "everything"'),
}


def test_every_command_is_listed_and_covered():
    out = aimem("--help").stdout
    assert "Every command takes --help" in out
    listed = {words[0] for words, *_ in COMMANDS}
    for name in listed:
        assert f"\n  {name} " in out, name
    assert set(EQUALS) == set(IDS)


@pytest.mark.parametrize("words,usage,valued", COMMANDS, ids=IDS)
def test_help(words, usage, valued):
    p = aimem(*words, "--help", env=NO_DB, check=False)
    assert p.returncode == 0 and p.stdout.startswith(usage) and p.stderr == "", p
    if len(words) > 1:  # before the verb too
        p = aimem(words[0], "--help", env=NO_DB, check=False)
        assert p.returncode == 0 and p.stdout.startswith(usage), p


@pytest.mark.parametrize("words,usage,valued", COMMANDS, ids=IDS)
def test_unknown_option(words, usage, valued):
    p = aimem(*words, "--frobnicate=1", env=NO_DB, check=False)
    cmd = " ".join(words)
    assert p.returncode == 2 and p.stdout == "", p
    assert f'aimem {cmd}: unknown option "--frobnicate=1"\n{usage}' in p.stderr, p.stderr


@pytest.mark.parametrize("words,usage,valued", COMMANDS, ids=IDS)
def test_missing_value(words, usage, valued):
    cmd = " ".join(words)
    if valued is None:  # publish has only a flag: a value given to it is refused instead
        p = aimem(*words, "--dry-run=yes", "-", env=NO_DB, check=False)
        assert p.returncode == 2 and f"aimem {cmd}: option --dry-run takes no value" in p.stderr
        return
    p = aimem(*words, valued, env=NO_DB, check=False)  # the value missing at the end
    assert p.returncode == 2 and p.stdout == "", p
    assert f"aimem {cmd}: option {valued} needs a value\n{usage}" in p.stderr, p.stderr


@pytest.mark.parametrize("words,usage,valued", COMMANDS, ids=IDS)
def test_option_equals_value(words, usage, valued):
    argv, env, code, text = EQUALS[" ".join(words)]
    p = aimem(*argv, env=env, check=False)
    assert p.returncode == code, p
    assert text in (p.stdout if code == 0 else p.stderr), p


def test_token_equals_and_space_forms_mint_the_same_claims():
    env = {"AIMEM_AUTH_JWT_SECRET": SECRET}
    claims = []
    for argv in (["--customer=7", "--ttl=2h", "--scope=memory:read"],
                 ["--customer", "7", "--ttl", "2h", "--scope", "memory:read"],
                 ["--ttl=2h", "--scope", "memory:read", "--customer=7"]):
        token = aimem("token", *argv, env=env).stdout.strip()
        c = jwt.decode(token, SECRET, algorithms=["HS256"])
        claims.append((c["customer_id"], c["scope"], c["exp"] - c["iat"]))
    assert claims == [(7, "memory:read", 7200)] * 3


def test_stray_argument_and_missing_subcommand():
    p = aimem("lag", "extra", env=NO_DB, check=False)
    assert p.returncode == 2 and 'aimem lag: unexpected argument "extra"' in p.stderr
    for cmd, verbs in (("offsets", "show or reset"), ("dead-letters", "list, show or requeue"),
                       ("context", "rebuild")):
        p = aimem(cmd, env=NO_DB, check=False)
        assert p.returncode == 2 and f"aimem {cmd}: a subcommand is needed: {verbs}" in p.stderr
        p = aimem(cmd, "frob", env=NO_DB, check=False)
        assert p.returncode == 2 and f'unknown subcommand "frob" ({verbs})' in p.stderr
