#!/usr/bin/env bash
# CI helper: install and start a local PostgreSQL, create a wattlm test database, print its URL.
#
# Prints exactly one line on stdout, the URL (postgresql://wattlm_test:PASSWORD@127.0.0.1:PORT/
# wattlm_test), for WATTLM_TEST_POSTGRES_URL. Anything that fails (no root, no apt, no network,
# port taken) prints a note on stderr and exits 0 with nothing on stdout, so the PostgreSQL tests
# skip instead of failing the build. Needs root (apt-get, pg_ctlcluster).
set -uo pipefail

note() { echo "postgres.sh: $*; the PostgreSQL store tests will be skipped" >&2; exit 0; }

[ "$(id -u)" = 0 ] || note "not root, cannot install or start PostgreSQL"
if ! command -v pg_lsclusters >/dev/null 2>&1; then
    command -v apt-get >/dev/null 2>&1 || note "no apt-get to install PostgreSQL"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2 \
        || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2; } \
        || note "apt-get install postgresql failed"
fi
version="$(ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -n 1)"
[ -n "$version" ] || note "no PostgreSQL server binaries under /usr/lib/postgresql"
if ! pg_lsclusters -h | awk '{print $1, $2}' | grep -qx "$version main"; then
    pg_createcluster "$version" main >&2 || note "pg_createcluster $version main failed"
fi
port="$(pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" {print $3}')"
if ! pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" {print $4}' | grep -q online; then
    pg_ctlcluster "$version" main start >&2 || note "pg_ctlcluster $version main start failed"
fi
for _ in $(seq 1 30); do
    pg_isready -q -h 127.0.0.1 -p "$port" && break
    sleep 1
done
pg_isready -q -h 127.0.0.1 -p "$port" || note "the server on port $port does not answer"

password="$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
psql_admin() { su postgres -c "psql -v ON_ERROR_STOP=1 -q -p $port $*" >&2; }
psql_admin "-c \"DROP DATABASE IF EXISTS wattlm_test WITH (FORCE)\"" || note "cannot drop the old test database"
psql_admin "-c \"DROP ROLE IF EXISTS wattlm_test\"" || note "cannot drop the old test role"
psql_admin "-c \"CREATE ROLE wattlm_test LOGIN PASSWORD '$password'\"" || note "cannot create the test role"
psql_admin "-c \"CREATE DATABASE wattlm_test OWNER wattlm_test\"" || note "cannot create the test database"
echo "postgres.sh: PostgreSQL $version on 127.0.0.1:$port, database wattlm_test" >&2
echo "postgresql://wattlm_test:$password@127.0.0.1:$port/wattlm_test"
