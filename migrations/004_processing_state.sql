-- 004: tables that are not tenant-scoped, for the workers and operators only.
--
-- consumer_offsets is the source of truth for where each consumer group resumes: the next
-- offset is stored in the same transaction as the rows a batch produced (DESIGN §5).
-- dead_letters keeps what could not be processed, written in the same transaction that
-- advances the offset; a replay of the same offset updates the row instead of adding one.
-- The reader role gets nothing here.
SET LOCAL ROLE aimem_owner;

CREATE TABLE consumer_offsets (
    consumer_group text        NOT NULL,
    topic          text        NOT NULL,
    partition      int         NOT NULL CHECK (partition >= 0),
    next_offset    bigint      NOT NULL CHECK (next_offset >= 0),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_group, topic, partition)
);

CREATE TABLE dead_letters (
    consumer_group text        NOT NULL,
    topic          text        NOT NULL,
    partition      int         NOT NULL CHECK (partition >= 0),
    "offset"       bigint      NOT NULL CHECK ("offset" >= 0),
    msg_key        text,
    customer_id    int,
    event_id       text,
    error_code     text        NOT NULL,
    error          text        NOT NULL,
    payload_prefix bytea,
    payload_size   int         NOT NULL DEFAULT 0,
    received_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_group, topic, partition, "offset")
);
CREATE INDEX dead_letters_received ON dead_letters (received_at DESC);

GRANT SELECT, INSERT, UPDATE ON consumer_offsets TO aimem_worker;
GRANT SELECT, INSERT, UPDATE ON dead_letters TO aimem_worker;
