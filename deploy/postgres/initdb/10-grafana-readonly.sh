#!/bin/sh
# Creates the SELECT-only role Grafana's PostgreSQL datasource uses. Runs once, as the database
# owner (POSTGRES_USER), when the postgres container initialises an empty data volume
# (/docker-entrypoint-initdb.d). The Dropscope migrations run later as that same owner, so the
# default privileges below cover the tables and the daily partitions they create.
#
# Environment (docker-compose.yml): GRAFANA_DB_USER (default grafana_ro), GRAFANA_DB_PASSWORD.
set -e

: "${GRAFANA_DB_USER:=grafana_ro}"
if [ -z "${GRAFANA_DB_PASSWORD:-}" ]; then
  echo "10-grafana-readonly.sh: GRAFANA_DB_PASSWORD is not set; not creating the Grafana role" >&2
  exit 1
fi

psql -v ON_ERROR_STOP=1 --no-psqlrc \
  --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v ro_user="$GRAFANA_DB_USER" -v ro_password="$GRAFANA_DB_PASSWORD" \
  -v owner="$POSTGRES_USER" -v db="$POSTGRES_DB" <<'SQL'
-- The password goes through a psql variable (:'ro_password'), quoted by psql, never spliced by the shell.
CREATE ROLE :"ro_user" LOGIN PASSWORD :'ro_password'
  NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION
  CONNECTION LIMIT 20;

-- Read-only even if a grant is ever widened by mistake, and no runaway dashboard queries.
ALTER ROLE :"ro_user" SET default_transaction_read_only = on;
ALTER ROLE :"ro_user" SET statement_timeout = '30s';
ALTER ROLE :"ro_user" SET idle_in_transaction_session_timeout = '60s';

GRANT CONNECT ON DATABASE :"db" TO :"ro_user";
GRANT USAGE ON SCHEMA public TO :"ro_user";
GRANT SELECT ON ALL TABLES IN SCHEMA public TO :"ro_user";
-- Tables and partitions the owner creates later (migrations, PartitionManager).
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public GRANT SELECT ON TABLES TO :"ro_user";
SQL

echo "10-grafana-readonly.sh: created read-only role ${GRAFANA_DB_USER}"
