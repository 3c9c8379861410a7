"""The row-level security matrix, against a real PostgreSQL, as the roles the programs use.

Rows are seeded as the superuser (which bypasses RLS); every check then runs as aimem_worker
or aimem_reader with the tenant set per transaction, exactly as lib/db does it.
"""
import psycopg2
import pytest
from psycopg2 import errors

A, B = 101, 202

# table -> (columns, a function giving the values of one row for a tenant)
ROWS = {
    "call_summaries": (
        "customer_id, call_id, user_id, call_ended_at, summary, processor, event_id",
        lambda t: (t, f"CA{t}", f"u{t}", "2026-11-20T15:09:41Z", f"summary of {t}", "test/1",
                   f"00000000-0000-4000-8000-{t:012d}")),
    "caller_profiles": (
        "customer_id, user_id, total_calls, preferred_name",
        lambda t: (t, f"u{t}", 1, f"Name{t}")),
    "personality_metrics": (
        "customer_id, call_id, user_id, measured_at, openness, conscientiousness, extraversion,"
        " agreeableness, neuroticism, formality, directness, detail_orientation, patience,"
        " technical_comfort, frustration_level, satisfaction_level, urgency_level, confidence,"
        " processor, event_id",
        lambda t: (t, f"CA{t}", f"u{t}", "2026-11-20T15:09:41Z", *([50] * 13), 0.5, "test/1",
                   f"00000000-0000-4000-8000-{t:012d}")),
    "personality_averages": (
        "customer_id, user_id, call_count",
        lambda t: (t, f"u{t}", 1)),
    "memories": (
        "customer_id, memory_id, user_id, scope, mtype, key, value",
        lambda t: (t, f"00000000-0000-4000-9000-{t:012d}", None, "shared", "admin_setting",
                   "greeting", '{"v": 1}')),
    "erasures": (
        "customer_id, user_id",
        lambda t: (t, f"gone{t}")),
    "caller_facts": (
        "customer_id, user_id, kind, value_key, value, single, first_seen_at, last_seen_at,"
        " last_call_id, call_count",
        lambda t: (t, f"u{t}", "email", f"k{t}@x.com", f"k{t}@x.com", True, "2026-11-20T15:09:41Z",
                   "2026-11-20T15:09:41Z", f"CA{t}", 1)),
    "call_chunks": (
        "customer_id, call_id, chunk_no, user_id, call_ended_at, content, words, tsv, model",
        lambda t: (t, f"CA{t}", 0, f"u{t}", "2026-11-20T15:09:41Z", f"Caller: passage of {t}", 4,
                   "", "test/1")),  # no lexeme: the postings below are the table's one row
    "search_terms": (
        "customer_id, lexeme, df",
        lambda t: (t, f"lex{t}", 1)),
    "search_stats": (
        "customer_id, passages, words",
        lambda t: (t, 1, 4)),
    "search_postings": (
        "customer_id, lexeme, tf, call_id, chunk_no, words",
        lambda t: (t, f"lex{t}", 1, f"CA{t}", 0, 4)),
    "caller_context": (
        "customer_id, user_id, doc_head, text_head, has_personality, etag",
        lambda t: (t, f"u{t}", f'{{"user_id" : "u{t}"', f"context of {t}", False,
                   f"{t:016x}")),
}
TABLES = list(ROWS)


def insert_sql(table):
    cols, make = ROWS[table]
    n = len(make(1))
    return f"INSERT INTO {table} ({cols}) VALUES ({', '.join(['%s'] * n)})"


def seed(db):
    with db.connect(autocommit=True) as conn, conn.cursor() as cur:
        for table in TABLES:
            for tenant in (A, B):
                cur.execute(insert_sql(table), ROWS[table][1](tenant))


def set_tenant(cur, tenant):
    cur.execute("SELECT set_config('app.current_tenant', %s, true)", (str(tenant),))


@pytest.fixture
def seeded(db):
    seed(db)
    return db


@pytest.mark.parametrize("table", TABLES)
def test_unset_tenant_sees_nothing_and_does_not_fail(seeded, table):
    with seeded.connect("aimem_worker") as conn:
        with conn.cursor() as cur:
            cur.execute(f"SELECT count(*) FROM {table}")  # never set in this session: NULL
            assert cur.fetchone()[0] == 0
            conn.commit()
            set_tenant(cur, A)
            cur.execute(f"SELECT count(*) FROM {table}")
            assert cur.fetchone()[0] == 1
            conn.commit()
            cur.execute(f"SELECT count(*) FROM {table}")  # after a transaction: reads ''
            assert cur.fetchone()[0] == 0
            cur.execute("SELECT set_config('app.current_tenant', '', true)")
            cur.execute(f"SELECT count(*) FROM {table}")
            assert cur.fetchone()[0] == 0


@pytest.mark.parametrize("table", TABLES)
def test_worker_sees_only_its_tenant(seeded, table):
    with seeded.connect("aimem_worker") as conn, conn.cursor() as cur:
        set_tenant(cur, A)
        cur.execute(f"SELECT DISTINCT customer_id FROM {table}")
        assert cur.fetchall() == [(A,)]


@pytest.mark.parametrize("table", TABLES)
def test_worker_cannot_insert_for_another_tenant(seeded, table):
    with seeded.connect("aimem_worker") as conn:
        with conn.cursor() as cur:
            set_tenant(cur, A)
            row = list(ROWS[table][1](B))
            with pytest.raises(errors.InsufficientPrivilege, match="row-level security"):
                cur.execute(insert_sql(table), row)


@pytest.mark.parametrize("table", TABLES)
def test_worker_cannot_update_or_delete_another_tenant(seeded, table):
    with seeded.connect("aimem_worker") as conn:
        with conn.cursor() as cur:
            set_tenant(cur, A)
            cur.execute(f"UPDATE {table} SET customer_id = customer_id WHERE customer_id = %s", (B,))
            assert cur.rowcount == 0
            cur.execute(f"DELETE FROM {table} WHERE customer_id = %s", (B,))
            assert cur.rowcount == 0
            cur.execute(f"DELETE FROM {table}")
            assert cur.rowcount == 1  # only A's own row
            conn.rollback()
            set_tenant(cur, A)
            with pytest.raises(errors.InsufficientPrivilege, match="row-level security"):
                cur.execute(f"UPDATE {table} SET customer_id = %s", (B,))  # moving a row out
        conn.rollback()
    with seeded.connect(autocommit=True) as admin, admin.cursor() as cur:
        cur.execute(f"SELECT customer_id, count(*) FROM {table} GROUP BY 1 ORDER BY 1")
        assert cur.fetchall() == [(A, 1), (B, 1)]


@pytest.mark.parametrize("table", TABLES)
def test_reader_cannot_write(seeded, table):
    with seeded.connect("aimem_reader") as conn:
        with conn.cursor() as cur:
            set_tenant(cur, A)
            cur.execute(f"SELECT count(*) FROM {table}")
            assert cur.fetchone()[0] == 1
            for sql, args in ((insert_sql(table), ROWS[table][1](A)),
                              (f"UPDATE {table} SET customer_id = customer_id", None),
                              (f"DELETE FROM {table}", None)):
                with pytest.raises(errors.ReadOnlySqlTransaction):
                    cur.execute(sql, args)
                conn.rollback()
                set_tenant(cur, A)
            # even a transaction explicitly opened read-write has no privilege to write
            conn.rollback()
            cur.execute("BEGIN READ WRITE")
            set_tenant(cur, A)
            with pytest.raises(errors.InsufficientPrivilege):
                cur.execute(f"DELETE FROM {table}")
            conn.rollback()


@pytest.mark.parametrize("table", ["consumer_offsets", "dead_letters", "schema_migrations"])
def test_reader_cannot_see_processing_state(seeded, table):
    with seeded.connect("aimem_reader") as conn:
        with conn.cursor() as cur, pytest.raises(errors.InsufficientPrivilege):
            cur.execute(f"SELECT * FROM {table}")


def test_worker_writes_offsets_and_dead_letters(seeded):
    with seeded.connect("aimem_worker") as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO consumer_offsets (consumer_group, topic, partition, next_offset)"
                    " VALUES ('g', 't', 0, 10)"
                    " ON CONFLICT (consumer_group, topic, partition)"
                    " DO UPDATE SET next_offset = excluded.next_offset")
        cur.execute("INSERT INTO dead_letters (consumer_group, topic, partition, \"offset\","
                    " error_code, error) VALUES ('g', 't', 0, 9, 'bad_json', 'x')")
        with pytest.raises(errors.InsufficientPrivilege):
            cur.execute("DELETE FROM consumer_offsets")


def test_tenant_does_not_leak_into_next_transaction(seeded):
    with seeded.connect("aimem_worker") as conn:
        with conn.cursor() as cur:
            set_tenant(cur, A)
            cur.execute("SELECT count(*) FROM caller_profiles")
            assert cur.fetchone()[0] == 1
            conn.commit()
            cur.execute("SELECT current_setting('app.current_tenant', true)")
            assert cur.fetchone()[0] in ("", None)
            cur.execute("SELECT count(*) FROM caller_profiles")
            assert cur.fetchone()[0] == 0
            conn.rollback()
            set_tenant(cur, B)
            conn.rollback()  # a rolled-back transaction leaks nothing either
            cur.execute("SELECT count(*) FROM caller_profiles")
            assert cur.fetchone()[0] == 0


def test_same_keys_in_two_tenants_do_not_collide(seeded):
    """Unique keys include customer_id: B's rows with A's ids are fine, and A cannot probe them."""
    with seeded.connect("aimem_worker") as conn, conn.cursor() as cur:
        set_tenant(cur, A)
        cols, make = ROWS["call_summaries"]
        row = list(make(B))
        row[0] = A  # A stores a call with the id that B already uses
        cur.execute(insert_sql("call_summaries"), row)
        cur.execute("INSERT INTO memories (customer_id, memory_id, user_id, scope, mtype, key, value)"
                    " VALUES (%s, gen_random_uuid(), NULL, 'shared', 'admin_setting', 'greeting', '2')"
                    " ON CONFLICT (customer_id, scope, coalesce(user_id, ''), mtype, key)"
                    " DO UPDATE SET value = excluded.value", (A,))
        cur.execute("SELECT value FROM memories WHERE key = 'greeting'")
        assert cur.fetchall() == [(2,)]  # A's own slot was replaced, B's untouched
    with seeded.connect(autocommit=True) as admin, admin.cursor() as cur:
        cur.execute("SELECT customer_id, value FROM memories ORDER BY 1")
        assert cur.fetchall() == [(A, 2), (B, {"v": 1})]


def test_bad_tenant_text_is_an_error_not_all_rows(seeded):
    with seeded.connect("aimem_worker") as conn:
        with conn.cursor() as cur:
            cur.execute("SELECT set_config('app.current_tenant', '1 OR true', true)")
            with pytest.raises(psycopg2.DataError):
                cur.execute("SELECT count(*) FROM caller_profiles")
