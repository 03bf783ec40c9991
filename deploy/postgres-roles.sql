-- PostgreSQL roles and database for Bookwell. Run as a superuser:
--   psql -v owner=bookwell_owner -v app=bookwell_app -v db=bookwell -f deploy/postgres-roles.sql
-- then give both roles passwords (\password bookwell_owner, \password bookwell_app) unless
-- they connect through local peer authentication. (scripts/cluster-test.py runs this file.)
--
-- The owner owns the schema and runs migrations (DATABASE_OWNER_URL). The app role serves
-- (DATABASE_URL, BOOKWELL_DB_APP_ROLE): it owns nothing, is no superuser and cannot bypass
-- row-level security, so every query it makes sees one clinic (P1). Backups run as a
-- superuser or a role with BYPASSRLS (DATABASE_BACKUP_URL).
\set ON_ERROR_STOP on
CREATE ROLE :"owner" LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE;
CREATE ROLE :"app" LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
CREATE DATABASE :"db" OWNER :"owner";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"db" TO :"app";
\connect :"db"
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
ALTER SCHEMA public OWNER TO :"owner";
