-- 010: an inverted index of our own for text search (issue 14, search speed).
--
-- Row-level security kept the GIN indexes on call_chunks.tsv and call_summaries.search_tsv
-- unused: `@@` (ts_match_vq) is not leakproof, so PostgreSQL will not evaluate it in an index
-- scan ahead of the tenant policy, and every text search read all of the tenant's passages
-- (2.5 s for one rare word at 300,000 passages; docs/search.md, "Speed"). search_postings is
-- the same index as a plain tenant table: one row per (passage, lexeme) with the lexeme's
-- count in the passage (tf) and the passage's length in words, under a btree led by
-- (customer_id, lexeme, tf). Its conditions are integer and text equality, which are
-- leakproof, so the planner uses the btree under the policy; a search reads, per query
-- lexeme, its postings with the highest tf first and stops after a bounded number
-- (query-api/search_sql.h). The summary is passage -1 of its call (words 0: search ranks it
-- at the tenant's average length).
--
-- The rows are kept by triggers on call_chunks (aimem-embedder) and call_summaries
-- (aimem-summarizer, aimem import-previous), in the writer's own statement and transaction:
-- a passage's postings change exactly when its tsvector does (a replay that rewrites nothing
-- writes nothing, aimem erase deletes the passages and so their postings), whoever writes,
-- so the index cannot drift from the passages. The triggers run as the writer (SECURITY
-- INVOKER, under the same policy); they read only the statement's transition tables.
--
-- Existing rows are indexed here, once: the owner lifts FORCE on the two source tables for
-- the length of this transaction (the owner is then exempt from their policies, as the
-- table owner is without FORCE) and puts it back before commit; search_postings gets its
-- policy after it is filled. The GIN indexes go: nothing can use them under RLS and every
-- passage write paid for them.
--
-- Tenant-scoped like the tables of 002 and 003: customer_id leads the key, RLS enabled and
-- forced with the same policy, the same grants.
SET LOCAL ROLE aimem_owner;

CREATE TABLE search_postings (
    customer_id int  NOT NULL CHECK (customer_id > 0),
    tf          int  NOT NULL CHECK (tf > 0),
    chunk_no    int  NOT NULL CHECK (chunk_no >= -1),
    words       int  NOT NULL CHECK (words >= 0),
    lexeme      text NOT NULL,
    call_id     text NOT NULL
);

-- Postings of rows of call_chunks (chunk_no >= 0) or call_summaries (chunk_no -1, words 0),
-- the row's lexemes with their number of positions (1 for a stripped tsvector).
CREATE FUNCTION search_postings_chunks() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO search_postings (customer_id, lexeme, tf, call_id, chunk_no, words)
        SELECT n.customer_id, u.lexeme, greatest(coalesce(cardinality(u.positions), 0), 1),
               n.call_id, n.chunk_no, n.words
        FROM new_rows n, unnest(n.tsv) u ORDER BY 1, 2, 3, 4, 5;
    ELSIF TG_OP = 'DELETE' THEN
        DELETE FROM search_postings p USING old_rows o, unnest(o.tsv) u
        WHERE p.customer_id = o.customer_id AND p.lexeme = u.lexeme
          AND p.tf = greatest(coalesce(cardinality(u.positions), 0), 1)
          AND p.call_id = o.call_id AND p.chunk_no = o.chunk_no;
    ELSE
        -- the keys that left, then the rows that came or changed length
        DELETE FROM search_postings p USING (
            SELECT o.customer_id, u.lexeme, greatest(coalesce(cardinality(u.positions), 0), 1),
                   o.call_id, o.chunk_no FROM old_rows o, unnest(o.tsv) u
            EXCEPT SELECT n.customer_id, u.lexeme,
                   greatest(coalesce(cardinality(u.positions), 0), 1), n.call_id, n.chunk_no
            FROM new_rows n, unnest(n.tsv) u) d (customer_id, lexeme, tf, call_id, chunk_no)
        WHERE p.customer_id = d.customer_id AND p.lexeme = d.lexeme AND p.tf = d.tf
          AND p.call_id = d.call_id AND p.chunk_no = d.chunk_no;
        INSERT INTO search_postings AS p (customer_id, lexeme, tf, call_id, chunk_no, words)
        SELECT * FROM (SELECT n.customer_id, u.lexeme,
                   greatest(coalesce(cardinality(u.positions), 0), 1), n.call_id, n.chunk_no,
                   n.words FROM new_rows n, unnest(n.tsv) u
            EXCEPT SELECT o.customer_id, u.lexeme,
                   greatest(coalesce(cardinality(u.positions), 0), 1), o.call_id, o.chunk_no,
                   o.words FROM old_rows o, unnest(o.tsv) u) x ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (customer_id, lexeme, tf, call_id, chunk_no)
            DO UPDATE SET words = excluded.words;
    END IF;
    RETURN NULL;
END
$f$;

-- The same for call_summaries: its search_tsv as passage -1 of the call, words 0.
CREATE FUNCTION search_postings_summaries() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO search_postings (customer_id, lexeme, tf, call_id, chunk_no, words)
        SELECT n.customer_id, u.lexeme, greatest(coalesce(cardinality(u.positions), 0), 1),
               n.call_id, -1, 0
        FROM new_rows n, unnest(n.search_tsv) u ORDER BY 1, 2, 3, 4;
    ELSIF TG_OP = 'DELETE' THEN
        DELETE FROM search_postings p USING old_rows o, unnest(o.search_tsv) u
        WHERE p.customer_id = o.customer_id AND p.lexeme = u.lexeme
          AND p.tf = greatest(coalesce(cardinality(u.positions), 0), 1)
          AND p.call_id = o.call_id AND p.chunk_no = -1;
    ELSE
        DELETE FROM search_postings p USING (
            SELECT o.customer_id, u.lexeme, greatest(coalesce(cardinality(u.positions), 0), 1),
                   o.call_id FROM old_rows o, unnest(o.search_tsv) u
            EXCEPT SELECT n.customer_id, u.lexeme,
                   greatest(coalesce(cardinality(u.positions), 0), 1), n.call_id
            FROM new_rows n, unnest(n.search_tsv) u) d (customer_id, lexeme, tf, call_id)
        WHERE p.customer_id = d.customer_id AND p.lexeme = d.lexeme AND p.tf = d.tf
          AND p.call_id = d.call_id AND p.chunk_no = -1;
        INSERT INTO search_postings (customer_id, lexeme, tf, call_id, chunk_no, words)
        SELECT *, -1, 0 FROM (SELECT n.customer_id, u.lexeme,
                   greatest(coalesce(cardinality(u.positions), 0), 1), n.call_id
            FROM new_rows n, unnest(n.search_tsv) u
            EXCEPT SELECT o.customer_id, u.lexeme,
                   greatest(coalesce(cardinality(u.positions), 0), 1), o.call_id
            FROM old_rows o, unnest(o.search_tsv) u) x ORDER BY 1, 2, 3, 4;
    END IF;
    RETURN NULL;
END
$f$;

-- Existing rows, once (see above), then the key (sorted in memory where it fits) and the policy.
SET LOCAL maintenance_work_mem = '256MB';
ALTER TABLE call_chunks NO FORCE ROW LEVEL SECURITY;
ALTER TABLE call_summaries NO FORCE ROW LEVEL SECURITY;
INSERT INTO search_postings (customer_id, lexeme, tf, call_id, chunk_no, words)
SELECT customer_id, lexeme, tf, call_id, chunk_no, words FROM (
    SELECT c.customer_id, u.lexeme, greatest(coalesce(cardinality(u.positions), 0), 1) AS tf,
           c.call_id, c.chunk_no, c.words FROM call_chunks c, unnest(c.tsv) u
    UNION ALL
    SELECT s.customer_id, u.lexeme, greatest(coalesce(cardinality(u.positions), 0), 1),
           s.call_id, -1, 0 FROM call_summaries s, unnest(s.search_tsv) u) x;
ALTER TABLE call_chunks FORCE ROW LEVEL SECURITY;
ALTER TABLE call_summaries FORCE ROW LEVEL SECURITY;

-- The key is the search's access path: a lexeme's postings of one tenant, highest tf first
-- (a backward scan), words read from the index (index-only scans).
ALTER TABLE search_postings
    ADD PRIMARY KEY (customer_id, lexeme, tf, call_id, chunk_no) INCLUDE (words);

CREATE TRIGGER search_postings_ins AFTER INSERT ON call_chunks
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION search_postings_chunks();
CREATE TRIGGER search_postings_upd AFTER UPDATE ON call_chunks
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION search_postings_chunks();
CREATE TRIGGER search_postings_del AFTER DELETE ON call_chunks
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION search_postings_chunks();
CREATE TRIGGER search_postings_ins AFTER INSERT ON call_summaries
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION search_postings_summaries();
CREATE TRIGGER search_postings_upd AFTER UPDATE ON call_summaries
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION search_postings_summaries();
CREATE TRIGGER search_postings_del AFTER DELETE ON call_summaries
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION search_postings_summaries();

DROP INDEX IF EXISTS call_chunks_tsv;
DROP INDEX IF EXISTS call_summaries_search;

ALTER TABLE search_postings ENABLE ROW LEVEL SECURITY;
ALTER TABLE search_postings FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON search_postings
    USING (customer_id = (SELECT NULLIF(current_setting('app.current_tenant', true), '')::int))
    WITH CHECK (customer_id = (SELECT NULLIF(current_setting('app.current_tenant', true), '')::int));
GRANT SELECT, INSERT, UPDATE, DELETE ON search_postings TO aimem_worker;
GRANT SELECT ON search_postings TO aimem_reader;
