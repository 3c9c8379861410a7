-- 002: the tenant tables of DESIGN §4, owned by aimem_owner.
--
-- Every table leads its primary key with customer_id, and every unique index includes it:
-- uniqueness checks ignore RLS, so a key without the tenant would reveal that another
-- tenant holds a value. Row-level security is added in 003.
SET LOCAL ROLE aimem_owner;

CREATE TABLE call_summaries (
    customer_id       int         NOT NULL CHECK (customer_id > 0),
    call_id           text        NOT NULL CHECK (call_id ~ '^[A-Za-z0-9._:-]{1,128}$'),
    user_id           text        NOT NULL CHECK (octet_length(user_id) BETWEEN 1 AND 128),
    thread_id         text,
    call_started_at   timestamptz,
    call_ended_at     timestamptz NOT NULL,
    summary           text        NOT NULL DEFAULT '',
    key_topics        jsonb       NOT NULL DEFAULT '[]',
    key_variables     jsonb       NOT NULL DEFAULT '{}',
    sentiment         text,
    resolution_status text,
    duration_seconds  int         CHECK (duration_seconds >= 0),
    embedding         vector(384),
    search_tsv        tsvector,
    processor         text        NOT NULL,
    needs_reprocess   boolean     NOT NULL DEFAULT false,
    event_id          uuid        NOT NULL,
    source_topic      text,
    source_partition  int,
    source_offset     bigint,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (customer_id, call_id)
);
-- a caller's newest calls first (context reads, keyset pagination)
CREATE INDEX call_summaries_caller_recent
    ON call_summaries (customer_id, user_id, call_ended_at DESC, call_id DESC);
CREATE INDEX call_summaries_event ON call_summaries (customer_id, event_id);
CREATE INDEX call_summaries_embedding ON call_summaries USING hnsw (embedding vector_cosine_ops);
CREATE INDEX call_summaries_search ON call_summaries USING gin (search_tsv);

CREATE TABLE caller_profiles (
    customer_id    int         NOT NULL CHECK (customer_id > 0),
    user_id        text        NOT NULL CHECK (octet_length(user_id) BETWEEN 1 AND 128),
    first_call_at  timestamptz,
    last_call_at   timestamptz,
    total_calls    int         NOT NULL DEFAULT 0 CHECK (total_calls >= 0),
    preferred_name text,
    preferences    jsonb       NOT NULL DEFAULT '{}',
    context        jsonb       NOT NULL DEFAULT '{}',
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (customer_id, user_id)
);
CREATE INDEX caller_profiles_recent
    ON caller_profiles (customer_id, last_call_at DESC NULLS LAST, user_id);

CREATE TABLE personality_metrics (
    customer_id        int         NOT NULL CHECK (customer_id > 0),
    call_id            text        NOT NULL CHECK (call_id ~ '^[A-Za-z0-9._:-]{1,128}$'),
    user_id            text        NOT NULL CHECK (octet_length(user_id) BETWEEN 1 AND 128),
    measured_at        timestamptz NOT NULL,
    openness           real NOT NULL CHECK (openness BETWEEN 0 AND 100),
    conscientiousness  real NOT NULL CHECK (conscientiousness BETWEEN 0 AND 100),
    extraversion       real NOT NULL CHECK (extraversion BETWEEN 0 AND 100),
    agreeableness      real NOT NULL CHECK (agreeableness BETWEEN 0 AND 100),
    neuroticism        real NOT NULL CHECK (neuroticism BETWEEN 0 AND 100),
    formality          real NOT NULL CHECK (formality BETWEEN 0 AND 100),
    directness         real NOT NULL CHECK (directness BETWEEN 0 AND 100),
    detail_orientation real NOT NULL CHECK (detail_orientation BETWEEN 0 AND 100),
    patience           real NOT NULL CHECK (patience BETWEEN 0 AND 100),
    technical_comfort  real NOT NULL CHECK (technical_comfort BETWEEN 0 AND 100),
    frustration_level  real NOT NULL CHECK (frustration_level BETWEEN 0 AND 100),
    satisfaction_level real NOT NULL CHECK (satisfaction_level BETWEEN 0 AND 100),
    urgency_level      real NOT NULL CHECK (urgency_level BETWEEN 0 AND 100),
    confidence         real NOT NULL CHECK (confidence BETWEEN 0 AND 1),
    rationale          text,
    processor          text        NOT NULL,
    needs_reprocess    boolean     NOT NULL DEFAULT false,
    event_id           uuid        NOT NULL,
    source_topic       text,
    source_partition   int,
    source_offset      bigint,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (customer_id, call_id)
);
CREATE INDEX personality_metrics_caller_recent
    ON personality_metrics (customer_id, user_id, measured_at DESC, call_id DESC);

CREATE TABLE personality_averages (
    customer_id            int         NOT NULL CHECK (customer_id > 0),
    user_id                text        NOT NULL CHECK (octet_length(user_id) BETWEEN 1 AND 128),
    call_count             int         NOT NULL CHECK (call_count >= 0),
    avg_openness           real,
    avg_conscientiousness  real,
    avg_extraversion       real,
    avg_agreeableness      real,
    avg_neuroticism        real,
    avg_formality          real,
    avg_directness         real,
    avg_detail_orientation real,
    avg_patience           real,
    avg_technical_comfort  real,
    recent_frustration     real,
    recent_satisfaction    real,
    recent_urgency         real,
    satisfaction_trend     text NOT NULL DEFAULT 'stable'
        CHECK (satisfaction_trend IN ('improving', 'stable', 'declining')),
    frustration_trend      text NOT NULL DEFAULT 'stable'
        CHECK (frustration_trend IN ('improving', 'stable', 'declining')),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (customer_id, user_id)
);

CREATE TABLE memories (
    customer_id int         NOT NULL CHECK (customer_id > 0),
    memory_id   uuid        NOT NULL,
    user_id     text        CHECK (user_id IS NULL OR octet_length(user_id) BETWEEN 1 AND 128),
    scope       text        NOT NULL CHECK (scope IN ('user', 'shared')),
    mtype       text        NOT NULL CHECK (octet_length(mtype) BETWEEN 1 AND 64),
    key         text        NOT NULL CHECK (octet_length(key) BETWEEN 1 AND 512),
    value       jsonb       NOT NULL,
    source      text,
    ttl_days    int         CHECK (ttl_days IS NULL OR ttl_days > 0),
    expires_at  timestamptz,
    event_id    uuid,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (customer_id, memory_id),
    CHECK (scope = 'shared' OR user_id IS NOT NULL)
);
-- "latest wins": one row per (tenant, scope, caller, type, key)
CREATE UNIQUE INDEX memories_slot
    ON memories (customer_id, scope, coalesce(user_id, ''), mtype, key);
CREATE INDEX memories_caller_recent ON memories (customer_id, user_id, updated_at DESC);
CREATE INDEX memories_type_recent ON memories (customer_id, scope, mtype, updated_at DESC);

CREATE TABLE erasures (
    customer_id int         NOT NULL CHECK (customer_id > 0),
    user_id     text        NOT NULL CHECK (octet_length(user_id) BETWEEN 1 AND 128),
    erased_at   timestamptz NOT NULL DEFAULT now(),
    rows_deleted jsonb      NOT NULL DEFAULT '{}',
    PRIMARY KEY (customer_id, user_id)
);
