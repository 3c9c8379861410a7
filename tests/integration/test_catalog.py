"""Catalog checks on the migrated schema: RLS everywhere, keys lead with the tenant, roles tame."""
import pytest

TENANT_TABLES = {"call_summaries", "caller_profiles", "personality_metrics",
                 "personality_averages", "memories", "erasures", "caller_facts",
                 "call_chunks", "search_terms", "search_stats", "caller_context",
                 "search_postings"}


def query(db, sql, *args):
    with db.connect(autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(sql, args or None)
        return cur.fetchall()


def test_every_table_with_customer_id_has_forced_rls_and_the_policy(db):
    rows = query(db, """
        SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
               (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid
                  AND pg_get_expr(p.polqual, p.polrelid) LIKE '%NULLIF(current_setting(''app.current_tenant''::text, true)%'
                  AND pg_get_expr(p.polwithcheck, p.polrelid) LIKE '%NULLIF(current_setting(''app.current_tenant''::text, true)%'
                  AND p.polcmd = '*' AND p.polpermissive)
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
          AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                        AND a.attname = 'customer_id' AND NOT a.attisdropped)
          AND c.relname <> 'dead_letters'""")
    assert {r[0] for r in rows} == TENANT_TABLES
    for name, enabled, forced, policies in rows:
        assert enabled and forced, name
        assert policies == 1, name


def test_primary_keys_lead_with_customer_id_and_unique_indexes_include_it(db):
    rows = query(db, """
        SELECT c.relname, i.relname, x.indisprimary,
               (SELECT array_agg(a.attname ORDER BY k.ord) FROM unnest(x.indkey) WITH ORDINALITY k(attnum, ord)
                  LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum)
        FROM pg_index x JOIN pg_class c ON c.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND x.indisunique AND c.relname = ANY(%s)""", list(TENANT_TABLES))
    assert {r[0] for r in rows if r[2]} == TENANT_TABLES  # every tenant table has a primary key
    for table, index, primary, cols in rows:
        assert cols[0] == "customer_id", (table, index, cols)


def test_roles_are_neither_superuser_nor_bypassrls(db):
    rows = dict((r[0], r[1:]) for r in query(db, """
        SELECT rolname, rolsuper, rolbypassrls, rolcanlogin, rolcreaterole, rolcreatedb,
               coalesce((SELECT array_agg(cfg) FROM pg_db_role_setting s, unnest(s.setconfig) cfg
                         WHERE s.setrole = r.oid), '{}')
        FROM pg_roles r WHERE rolname LIKE 'aimem%%'"""))
    assert set(rows) == {"aimem_owner", "aimem_worker", "aimem_reader"}
    for name, (sup, bypass, login, createrole, createdb, _) in rows.items():
        assert not sup and not bypass and not createrole and not createdb, name
    assert rows["aimem_owner"][2] is False
    assert rows["aimem_worker"][2] and rows["aimem_reader"][2]
    assert "default_transaction_read_only=on" in rows["aimem_reader"][5]


def test_tables_are_owned_by_the_owner_role(db):
    rows = query(db, """
        SELECT c.relname, pg_get_userbyid(c.relowner) FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname <> 'schema_migrations'""")
    assert rows
    for name, owner in rows:
        assert owner == "aimem_owner", name


def test_no_security_definer_functions_or_privileged_views(db):
    assert query(db, """
        SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public' AND p.prosecdef""") == []
    for (name, options) in query(db, """
        SELECT c.relname, c.reloptions FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind = 'v'"""):
        assert options and "security_invoker=true" in options, name


@pytest.mark.parametrize("role", ["aimem_worker", "aimem_reader"])
def test_program_roles_have_no_ddl_rights(db, role):
    rows = query(db, "SELECT has_schema_privilege(%s, 'public', 'CREATE')", role)
    assert rows == [(False,)]


def test_pgvector_and_hnsw_index_present(db):
    assert query(db, "SELECT extversion FROM pg_extension WHERE extname = 'vector'")[0][0].startswith("0.8")
    # the passages carry the vectors (007); summaries no longer do, and have no HNSW index
    assert query(db, """SELECT am.amname FROM pg_class i JOIN pg_am am ON am.oid = i.relam
                        WHERE i.relname = 'call_chunks_embedding'""") == [("hnsw",)]
    assert query(db, "SELECT count(*) FROM pg_class WHERE relname = 'call_summaries_embedding'") == [(0,)]
