-- 006: caller facts that accumulate (issue 13 item 6).
--
-- call_summaries.facts holds the typed facts of each call as the summarizer found them
-- (calls/facts.h: [{"kind", "value", "key", "single"}]); it is written with the rest of the
-- call's row, so a duplicate event or a replay that changes nothing rewrites nothing.
--
-- caller_facts is what the calls of one caller add up to, one row per (caller, kind, key):
-- first and last seen (the calls' end times), the call that last confirmed it and the number of
-- distinct calls that said it. Like caller_profiles it is recomputed from the caller's calls in
-- the batch that wrote them (never incremented), so replays and duplicates cannot inflate a
-- count. For a single-valued kind (name, email, address, contact_preference) the value of the
-- newest call is current; an older value stays as history with superseded_at (the end of the
-- first later call that said another value) and superseded_by (that call's id).
--
-- Tenant-scoped like the tables of 002 and 003: customer_id leads the key, RLS enabled and
-- forced with the same policy, the same grants.
SET LOCAL ROLE aimem_owner;

ALTER TABLE call_summaries ADD COLUMN facts jsonb NOT NULL DEFAULT '[]';

CREATE TABLE caller_facts (
    customer_id   int         NOT NULL CHECK (customer_id > 0),
    user_id       text        NOT NULL CHECK (octet_length(user_id) BETWEEN 1 AND 128),
    kind          text        NOT NULL CHECK (kind ~ '^[a-z_]{1,32}$'),
    value_key     text        NOT NULL CHECK (octet_length(value_key) BETWEEN 1 AND 256),
    value         text        NOT NULL CHECK (octet_length(value) BETWEEN 1 AND 256),
    single        boolean     NOT NULL,
    first_seen_at timestamptz NOT NULL,
    last_seen_at  timestamptz NOT NULL,
    last_call_id  text        NOT NULL,
    call_count    int         NOT NULL CHECK (call_count > 0),
    superseded_at timestamptz,
    superseded_by text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (customer_id, user_id, kind, value_key),
    CHECK ((superseded_at IS NULL) = (superseded_by IS NULL)),
    CHECK (single OR superseded_at IS NULL)
);
-- the context read: a caller's current facts, newest first
CREATE INDEX caller_facts_current
    ON caller_facts (customer_id, user_id, last_seen_at DESC, kind, value_key)
    WHERE superseded_at IS NULL;

ALTER TABLE caller_facts ENABLE ROW LEVEL SECURITY;
ALTER TABLE caller_facts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON caller_facts
    USING (customer_id = (SELECT NULLIF(current_setting('app.current_tenant', true), '')::int))
    WITH CHECK (customer_id = (SELECT NULLIF(current_setting('app.current_tenant', true), '')::int));
GRANT SELECT, INSERT, UPDATE, DELETE ON caller_facts TO aimem_worker;
GRANT SELECT ON caller_facts TO aimem_reader;
