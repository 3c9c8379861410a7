-- 011: the key of a caller's erasure lock as a function (issue 18 item 4).
--
-- `aimem erase` takes pg_advisory_xact_lock on it (exclusive) before it deletes a caller's
-- rows; the workers take pg_advisory_xact_lock_shared on it for every caller of a batch before
-- they look at erasures (lib/worker_apply.c). Both statements used to splice the same SQL
-- expression from a C macro; now they call this function and stay plain strings. The key is
-- the one that expression computed (hashtextextended of "<tenant>:<user id>", seed 0), so a
-- program built before this migration and one built after lock the same key.
--
-- IMMUTABLE (hashtextextended and text concatenation are), so the planner folds or inlines it.
-- Functions are executable by PUBLIC; no table is read, so there is nothing for RLS to filter.

SET LOCAL ROLE aimem_owner;

CREATE FUNCTION erase_lock_key(tenant text, user_id text) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $f$ SELECT hashtextextended(tenant || ':' || user_id, 0) $f$;
