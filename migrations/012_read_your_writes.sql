-- 012: read-your-writes for the context read (issue 19 item 3).
--
-- A client that has just sent a call (POST /v3/calls answers its event's occurred_at) can ask
-- the next context read for a context that has applied it: GET
-- /v3/callers/{id}/context?min_event_time=T. A hot standby serves the read when its copy of the
-- caller's context is that new; otherwise the primary does (query-api/README.md). Both need to
-- know, per caller, how new the stored context is:
--
--   call_summaries.event_at  the occurred_at of the event whose summary the row holds
--                            (aimem-summarizer; a replay writes the same value)
--   caller_context.event_at  the newest event_at of the caller's summaries, derived with the
--                            rest of the row (calls/context.c), so a rebuild, a replay or an
--                            erasure gives it the same way as the document
--
-- NULL is "not known" (rows written before this migration): such a context is never taken as
-- new enough, so the read goes to the primary until the caller's next call, a reprocess or
-- `aimem context rebuild` after a replay fills it.
SET LOCAL ROLE aimem_owner;

ALTER TABLE call_summaries ADD COLUMN event_at timestamptz;
ALTER TABLE caller_context ADD COLUMN event_at timestamptz;

COMMENT ON COLUMN call_summaries.event_at IS
    'occurred_at of the event this summary was made from (NULL: written before migration 012)';
COMMENT ON COLUMN caller_context.event_at IS
    'newest event_at of the caller''s summaries: how new the stored context is (read-your-writes)';
