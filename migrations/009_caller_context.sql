-- 009: the stored caller context (issue 16 item 1).
--
-- The live-call read used to derive the caller's context on every request (profile,
-- personality averages, current facts and the newest summaries assembled into JSON, then the
-- compat text rendered from it). Now the workers keep it ready: one row per caller, rewritten
-- in the same transaction as the rows it is derived from (aimem-summarizer: summaries, profile,
-- facts; aimem-personality: averages), so it is exactly-once and replay-safe like them, and
-- deleted by `aimem erase` with the caller's other rows. aimem-query serves both context
-- routes from it in one primary-key lookup (calls/context.h describes the pieces).
--
--   doc_head        the native JSON document up to its "summaries" member's value (exclusive)
--   doc_sums        each summary's JSON object, newest first, the 2nd on with the ", "
--                   separator in front: the document with the newest N summaries is
--                   doc_head || '[' || array_to_string(doc_sums[1:N], '') || ']}'
--   text_head       the compat prompt text before the summaries, JSON-escaped (no quotes)
--   text_sums       each summary's block of that text, JSON-escaped, the first with the
--                   section header: the text with N summaries is text_head || text_sums[1:N]
--   has_personality the text has the personality block (compat has_personality_data)
--   etag            16 hex digits, a hash of the whole stored context; aimem-query derives
--                   each answer's ETag from it and the request's variant without hashing a body
--
-- At most CONTEXT_SUMMARIES_MAX (calls/context.h) summaries are stored: the largest
-- `summaries` / `num_summaries` the context routes serve. A caller with nothing to say (no
-- profile, personality, fact or summary) has no row; the read answers known:false for it.
--
-- Existing databases: the rows are built by `aimem context rebuild` (docs/OPERATIONS.md),
-- which derives every caller's context from the tables; run it once after this migration.
--
-- Tenant-scoped like the tables of 002 and 003: customer_id leads the key, RLS enabled and
-- forced with the same policy, the same grants.
SET LOCAL ROLE aimem_owner;

CREATE TABLE caller_context (
    customer_id     int         NOT NULL CHECK (customer_id > 0),
    user_id         text        NOT NULL CHECK (octet_length(user_id) BETWEEN 1 AND 128),
    doc_head        text        NOT NULL,
    doc_sums        text[]      NOT NULL DEFAULT '{}',
    text_head       text        NOT NULL,
    text_sums       text[]      NOT NULL DEFAULT '{}',
    has_personality boolean     NOT NULL,
    etag            text        NOT NULL CHECK (etag ~ '^[0-9a-f]{16}$'),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (customer_id, user_id),
    CHECK (cardinality(doc_sums) = cardinality(text_sums))
);

ALTER TABLE caller_context ENABLE ROW LEVEL SECURITY;
ALTER TABLE caller_context FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON caller_context
    USING (customer_id = (SELECT NULLIF(current_setting('app.current_tenant', true), '')::int))
    WITH CHECK (customer_id = (SELECT NULLIF(current_setting('app.current_tenant', true), '')::int));
GRANT SELECT, INSERT, UPDATE, DELETE ON caller_context TO aimem_worker;
GRANT SELECT ON caller_context TO aimem_reader;
