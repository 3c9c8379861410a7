"""`aimem migrate` against a real PostgreSQL: in order, once, checksummed, loud on edits."""
import shutil
from pathlib import Path

from conftest import REPO, aimem

MIGRATIONS = sorted(p.name for p in (REPO / "migrations").glob("*.sql"))


def migrate(db, folder, *extra, check=True):
    return aimem("migrate", "--dir", str(folder), *extra, env={"AIMEM_DB_URL": db.admin_url},
                 check=check)


def applied(db):
    with db.connect(autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("SELECT name, checksum FROM schema_migrations ORDER BY version")
        return cur.fetchall()


def test_apply_then_rerun_is_a_noop(empty_db):
    first = migrate(empty_db, REPO / "migrations")
    for name in MIGRATIONS:
        assert f"applied {name}" in first.stdout
    assert f"{len(MIGRATIONS)} applied, 0 already applied" in first.stdout
    rows = applied(empty_db)
    assert [r[0] for r in rows] == MIGRATIONS
    assert all(len(r[1]) == 64 for r in rows)  # sha256 hex

    second = migrate(empty_db, REPO / "migrations")
    assert f"0 applied, {len(MIGRATIONS)} already applied" in second.stdout
    assert applied(empty_db) == rows


def test_status_lists_applied_and_pending(empty_db, tmp_path):
    folder = tmp_path / "m"
    shutil.copytree(REPO / "migrations", folder)
    migrate(empty_db, folder)
    (folder / "900_later.sql").write_text("CREATE TABLE later_one (id int);\n")
    out = migrate(empty_db, folder, "--status").stdout
    assert "pending  900_later.sql" in out
    assert f"applied  {MIGRATIONS[0]}" in out
    with empty_db.connect(autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("SELECT to_regclass('later_one')")
        assert cur.fetchone()[0] is None  # --status changes nothing


def test_new_file_is_applied_alone(empty_db, tmp_path):
    folder = tmp_path / "m"
    shutil.copytree(REPO / "migrations", folder)
    migrate(empty_db, folder)
    (folder / "900_later.sql").write_text("CREATE TABLE later_one (id int);\n")
    out = migrate(empty_db, folder).stdout
    assert "applied 900_later.sql" in out
    assert f"1 applied, {len(MIGRATIONS)} already applied, schema at version 900" in out


def test_edited_applied_file_is_an_error(empty_db, tmp_path):
    folder = tmp_path / "m"
    shutil.copytree(REPO / "migrations", folder)
    migrate(empty_db, folder)
    target = folder / MIGRATIONS[-1]
    target.write_text(target.read_text() + "\n-- a harmless-looking edit\n")
    proc = migrate(empty_db, folder, check=False)
    assert proc.returncode == 1
    assert f"{MIGRATIONS[-1]} was edited after it was applied" in proc.stderr


def test_failing_migration_rolls_back_and_names_the_line(empty_db, tmp_path):
    folder = tmp_path / "m"
    shutil.copytree(REPO / "migrations", folder)
    (folder / "900_broken.sql").write_text(
        "CREATE TABLE half_done (id int);\n"
        "\n"
        "SELECT no_such_function();\n")
    proc = migrate(empty_db, folder, check=False)
    assert proc.returncode == 1
    assert "900_broken.sql:3:" in proc.stderr
    assert "42883" in proc.stderr
    with empty_db.connect(autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("SELECT to_regclass('half_done')")
        assert cur.fetchone()[0] is None
        cur.execute("SELECT count(*) FROM schema_migrations WHERE name = '900_broken.sql'")
        assert cur.fetchone()[0] == 0
        cur.execute("SELECT count(*) FROM schema_migrations")
        assert cur.fetchone()[0] == len(MIGRATIONS)  # the good ones stayed applied


def test_badly_named_or_duplicate_files_are_refused(empty_db, tmp_path):
    folder = tmp_path / "m"
    shutil.copytree(REPO / "migrations", folder)
    (folder / "5_Bad Name.sql").write_text("SELECT 1;\n")
    proc = migrate(empty_db, folder, check=False)
    assert proc.returncode == 1 and "NNN_lowercase_name.sql" in proc.stderr
    (folder / "5_Bad Name.sql").unlink()
    (folder / "001_again.sql").write_text("SELECT 1;\n")
    proc = migrate(empty_db, folder, check=False)
    assert proc.returncode == 1 and "have the same number" in proc.stderr


def test_unreachable_database_fails_cleanly(services):
    proc = aimem("migrate", env={"AIMEM_DB_URL": "postgresql://postgres@127.0.0.1:1/x",
                                 "AIMEM_DB_CONNECT_TIMEOUT": "1s"}, check=False)
    assert proc.returncode == 1
    assert "cannot connect to PostgreSQL" in proc.stderr
