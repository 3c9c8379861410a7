-- 001: roles, schema privileges and extensions.
--
-- Runs as the administrator that applies migrations (a superuser on a fresh cluster, or a
-- role with CREATEROLE on a managed one where pgvector is already installed). Roles are
-- cluster-wide, so this is written to be a no-op where they already exist (several
-- databases of one cluster, e.g. test databases, share them).
--
--   aimem_owner   owns every object; cannot log in; never used by a program.
--   aimem_worker  the workers and the CLI: writes tenant tables under RLS, offsets, dead letters.
--   aimem_reader  the query API: SELECT on tenant tables only, read-only transactions by default.
--
-- None is superuser or BYPASSRLS. Login roles get no password here: the throwaway local
-- cluster trusts loopback; a deployment sets passwords (or certificates) out of band, never
-- in this repository.
CREATE EXTENSION IF NOT EXISTS vector;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'aimem_owner') THEN
        CREATE ROLE aimem_owner NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'aimem_worker') THEN
        CREATE ROLE aimem_worker LOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'aimem_reader') THEN
        CREATE ROLE aimem_reader LOGIN;
    END IF;
    -- a non-superuser administrator must be a member to create objects as the owner
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        EXECUTE format('GRANT aimem_owner TO %I', current_user);
    END IF;
END
$$;

-- Re-asserted every time, in case a role existed before with more rights.
ALTER ROLE aimem_owner NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
ALTER ROLE aimem_worker LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
ALTER ROLE aimem_reader LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
ALTER ROLE aimem_reader SET default_transaction_read_only = on;

GRANT USAGE, CREATE ON SCHEMA public TO aimem_owner;
GRANT USAGE ON SCHEMA public TO aimem_worker, aimem_reader;
