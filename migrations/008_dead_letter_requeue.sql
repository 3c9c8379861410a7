-- 008: a dead letter remembers that an operator sent it back (issue 17, `aimem dead-letters`).
--
-- `aimem dead-letters requeue` republishes a dead-lettered event to its source topic with a new
-- event id (the old one may already name rows or a duplicate check) and records here, on every
-- group's row of that message, when it did, the new event id and where the new message landed
-- ("topic/partition/offset"), in the same transaction that held the rows locked while it
-- produced. A requeued row is not requeued again (unless asked: --again), so a second run does
-- not publish twice. NULL: never requeued.
SET LOCAL ROLE aimem_owner;

ALTER TABLE dead_letters
    ADD COLUMN requeued_at       timestamptz,
    ADD COLUMN requeued_event_id text,
    ADD COLUMN requeued_to       text;

-- the tenant filter of `aimem dead-letters list|requeue --customer N --since ...`
CREATE INDEX dead_letters_tenant_received ON dead_letters (customer_id, received_at DESC);

COMMENT ON COLUMN dead_letters.requeued_event_id IS
    'event id of the copy `aimem dead-letters requeue` published (the original keeps event_id)';
COMMENT ON COLUMN dead_letters.requeued_to IS 'topic/partition/offset of that copy';
