-- 005: an identity for each stored position (issue 17).
--
-- A stored next offset only means something for the partition log it was read from. When the
-- topic is deleted and recreated, or the broker comes back with an emptied or restored data
-- directory, the same offsets name other messages (or none), and a worker resuming there would
-- skip every new event below them. librdkafka 2.0.2 exposes no Kafka topic ids, so the workers
-- keep a fingerprint of the last message they committed (lib/position: FNV-1a over its
-- timestamp, key and payload), written in the same upsert and transaction as next_offset. On
-- each assignment a worker compares it with the message now at next_offset - 1 and checks
-- next_offset against the partition's watermarks; a mismatch stops the partition until an
-- operator runs `aimem offsets reset`. NULL: unknown (rows from before this migration, or
-- rewritten by a reset): nothing to compare, the watermark check still applies.
SET LOCAL ROLE aimem_owner;

ALTER TABLE consumer_offsets ADD COLUMN last_fingerprint bigint;

COMMENT ON COLUMN consumer_offsets.last_fingerprint IS
    'fingerprint of the message at next_offset - 1 when it was committed (lib/position); NULL unknown';
