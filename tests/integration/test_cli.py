"""The shared program options, through the real `aimem` binary (no services needed)."""
from conftest import BUILD, REPO, aimem, run


def test_help_lists_commands_and_settings():
    out = aimem("--help").stdout
    assert "migrate" in out
    assert "| `db.url` | `AIMEM_DB_URL` or `AIMEM_DB_URL_FILE` |" in out
    assert "--print-config" in out


def test_version():
    assert aimem("--version").stdout.startswith("aimem ")


def test_print_config_redacts_secrets_and_shows_origins(tmp_path):
    conf = tmp_path / "aimem.conf"
    conf.write_text("log.level = debug\nmigrations.dir = /srv/m\n")
    out = aimem("--config", str(conf), "--print-config",
                env={"AIMEM_DB_URL": "postgresql://u:hunter2@db/x"}).stdout
    assert "hunter2" not in out
    assert "db.url = <redacted>  # AIMEM_DB_URL" in out
    assert f"log.level = debug  # {conf}:1" in out
    assert "db.connect_timeout = 30s  # default" in out


def test_bad_config_names_file_and_line(tmp_path):
    conf = tmp_path / "aimem.conf"
    conf.write_text("# ok\nlog.level = loud\n")
    proc = aimem("--config", str(conf), "--check-config", check=False)
    assert proc.returncode == 2
    assert f"{conf}:2: log.level: must be one of debug|info|warn|error" in proc.stderr


def test_secret_from_file(tmp_path):
    secret = tmp_path / "url"
    secret.write_text("postgresql://u:pw-from-file@db/x\n")
    out = aimem("--print-config", env={"AIMEM_DB_URL_FILE": str(secret)}).stdout
    assert "pw-from-file" not in out
    assert f"db.url = <redacted>  # AIMEM_DB_URL_FILE (file {secret})" in out


def test_unknown_command_and_missing_url():
    proc = aimem("frobnicate", check=False)
    assert proc.returncode == 2 and 'unknown command "frobnicate"' in proc.stderr
    proc = aimem("migrate", check=False, env={"AIMEM_DB_URL": ""})
    assert proc.returncode == 1 and "db.url is required" in proc.stderr


def test_configuration_reference_is_current(tmp_path):
    """docs/configuration.md is generated from the settings tables: regenerate and compare."""
    out = tmp_path / "configuration.md"
    run([str(REPO / "scripts/config-docs.sh"), str(out)], env={"AIMEM_BUILD": str(BUILD)})
    committed = (REPO / "docs/configuration.md").read_text()
    assert out.read_text() == committed, "run scripts/config-docs.sh and commit docs/configuration.md"
