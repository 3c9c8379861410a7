-- 003: row-level security on every tenant table.
--
-- ENABLE and FORCE (FORCE makes the policy apply to the owner too), one policy for every
-- command, USING and WITH CHECK the same predicate. The tenant is the per-transaction
-- setting app.current_tenant (set_config(..., true)). NULLIF turns the '' that an unset
-- setting reads as after the first transaction of a session into NULL, so an unset tenant
-- matches no row instead of raising; the sub-select makes the planner evaluate it once per
-- query rather than once per row.
SET LOCAL ROLE aimem_owner;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['call_summaries', 'caller_profiles', 'personality_metrics',
                             'personality_averages', 'memories', 'erasures']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format($p$CREATE POLICY tenant_isolation ON %I
            USING (customer_id = (SELECT NULLIF(current_setting('app.current_tenant', true), '')::int))
            WITH CHECK (customer_id = (SELECT NULLIF(current_setting('app.current_tenant', true), '')::int))$p$, t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO aimem_worker', t);
        EXECUTE format('GRANT SELECT ON %I TO aimem_reader', t);
    END LOOP;
END
$$;
