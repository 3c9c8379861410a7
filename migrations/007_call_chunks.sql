-- 007: what was said, indexed for search (issue 14).
--
-- call_chunks holds each call's transcript cut into overlapping passages (calls/chunk.h:
-- about 200 words, speaker labels kept), written by aimem-embedder from call.ended events in
-- its own consumer group: the passage text, its full-text vector (to_tsvector('english')), its
-- length in words (BM25's document length) and its embedding with the id of the model that
-- made it (search compares only vectors of the current model; re-embedding after a model
-- change is a replay of the embedder group).
--
-- search_terms and search_stats are the tenant's term statistics for BM25 ranking: for each
-- lexeme the number of passages holding it (df), and the tenant's passage count and total
-- words. They change in the same statement that writes or deletes passages, by exactly what
-- left and what came (a replay that rewrites nothing changes nothing), so they never drift
-- from call_chunks; aimem erase decrements them with the passages it deletes.
--
-- The summarizer no longer embeds summaries: call_summaries' HNSW index goes (it was what
-- capped the summarizer's write rate, ~0.3 ms of server CPU per insert); the column stays for
-- the previous service's import and is left NULL by new rows.
--
-- Tenant-scoped like the tables of 002 and 003: customer_id leads every key, RLS enabled and
-- forced with the same policy, the same grants.
SET LOCAL ROLE aimem_owner;

DROP INDEX IF EXISTS call_summaries_embedding;

CREATE TABLE call_chunks (
    customer_id      int         NOT NULL CHECK (customer_id > 0),
    call_id          text        NOT NULL CHECK (call_id ~ '^[A-Za-z0-9._:-]{1,128}$'),
    chunk_no         int         NOT NULL CHECK (chunk_no >= 0),
    user_id          text        NOT NULL CHECK (octet_length(user_id) BETWEEN 1 AND 128),
    call_ended_at    timestamptz NOT NULL,
    content          text        NOT NULL CHECK (octet_length(content) BETWEEN 1 AND 16384),
    words            int         NOT NULL CHECK (words > 0),
    tsv              tsvector    NOT NULL,
    model            text        NOT NULL CHECK (octet_length(model) BETWEEN 1 AND 200),
    embedding        vector(384),
    event_id         uuid,
    source_topic     text,
    source_partition int,
    source_offset    bigint,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (customer_id, call_id, chunk_no)
);
CREATE INDEX call_chunks_tsv ON call_chunks USING gin (tsv);
CREATE INDEX call_chunks_embedding ON call_chunks USING hnsw (embedding vector_cosine_ops);
-- a caller's passages (search within one caller, erasure)
CREATE INDEX call_chunks_user ON call_chunks (customer_id, user_id);

CREATE TABLE search_terms (
    customer_id int    NOT NULL CHECK (customer_id > 0),
    lexeme      text   NOT NULL,
    df          bigint NOT NULL CHECK (df >= 0),
    PRIMARY KEY (customer_id, lexeme)
);

CREATE TABLE search_stats (
    customer_id int    NOT NULL CHECK (customer_id > 0) PRIMARY KEY,
    passages    bigint NOT NULL CHECK (passages >= 0),
    words       bigint NOT NULL CHECK (words >= 0)
);

ALTER TABLE call_chunks ENABLE ROW LEVEL SECURITY;
ALTER TABLE call_chunks FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON call_chunks
    USING (customer_id = (SELECT NULLIF(current_setting('app.current_tenant', true), '')::int))
    WITH CHECK (customer_id = (SELECT NULLIF(current_setting('app.current_tenant', true), '')::int));
ALTER TABLE search_terms ENABLE ROW LEVEL SECURITY;
ALTER TABLE search_terms FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON search_terms
    USING (customer_id = (SELECT NULLIF(current_setting('app.current_tenant', true), '')::int))
    WITH CHECK (customer_id = (SELECT NULLIF(current_setting('app.current_tenant', true), '')::int));
ALTER TABLE search_stats ENABLE ROW LEVEL SECURITY;
ALTER TABLE search_stats FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON search_stats
    USING (customer_id = (SELECT NULLIF(current_setting('app.current_tenant', true), '')::int))
    WITH CHECK (customer_id = (SELECT NULLIF(current_setting('app.current_tenant', true), '')::int));

GRANT SELECT, INSERT, UPDATE, DELETE ON call_chunks, search_terms, search_stats TO aimem_worker;
GRANT SELECT ON call_chunks, search_terms, search_stats TO aimem_reader;
