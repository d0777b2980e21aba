-- A read-only role for analysts on the PostgreSQL warehouse (schema digest).
-- Run with psql as the owner of the digest schema (the role in DATABASE_URL), after the first
-- pipeline run created the schema:
--
--   psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -v analyst_password='change-me' \
--        -f deploy/analyst_role.sql
--
-- Analysts then connect as digest_analyst: they can SELECT every table and view in digest,
-- present and future, and nothing else. Safe to run again (e.g. to rotate the password).

SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'digest_analyst') AS create_role \gset
\if :create_role
CREATE ROLE digest_analyst;
\endif
ALTER ROLE digest_analyst WITH LOGIN PASSWORD :'analyst_password'
    NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION;

-- Read-only sessions even if someone grants more by mistake; no runaway queries.
ALTER ROLE digest_analyst SET default_transaction_read_only = on;
ALTER ROLE digest_analyst SET statement_timeout = '5min';
ALTER ROLE digest_analyst SET search_path = digest;

SELECT format('GRANT CONNECT ON DATABASE %I TO digest_analyst', current_database()) \gexec
GRANT USAGE ON SCHEMA digest TO digest_analyst;
GRANT SELECT ON ALL TABLES IN SCHEMA digest TO digest_analyst;  -- tables and views
-- Tables and views the pipeline creates later (new assets, new views) are readable too.
ALTER DEFAULT PRIVILEGES IN SCHEMA digest GRANT SELECT ON TABLES TO digest_analyst;
