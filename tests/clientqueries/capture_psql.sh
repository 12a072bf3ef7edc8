#!/usr/bin/env bash
# tests/clientqueries/capture_psql.sh: re-capture the queries psql sends for its
# backslash commands into tests/clientqueries/psql/*.sql.
#
# Starts (or reuses) the private PostgreSQL of tests/services/postgres.sh, creates
# one object of each kind (table with index and primary key, view, materialized
# view, schema), runs `psql -E` for each command and keeps the text between
# psql's "********* QUERY **********" markers. OIDs in the output are the ones
# this server assigns.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
eval "$("$root/tests/services/postgres.sh" start | sed 's/^/export /')"
psql -X -q -v ON_ERROR_STOP=1 <<'SQL'
DROP SCHEMA IF EXISTS s1 CASCADE;
DROP MATERIALIZED VIEW IF EXISTS mv_bids;
DROP VIEW IF EXISTS v_bids;
DROP TABLE IF EXISTS bids;
CREATE TABLE bids (id bigint PRIMARY KEY, price numeric(10,2), bidder text NOT NULL, ts timestamptz DEFAULT now());
CREATE INDEX ON bids (bidder);
CREATE VIEW v_bids AS SELECT bidder, price FROM bids;
CREATE MATERIALIZED VIEW mv_bids AS SELECT bidder, count(*) AS n FROM bids GROUP BY bidder;
CREATE SCHEMA s1;
SQL
version=$(psql -X -At -c 'SHOW server_version' | cut -d' ' -f1)
capture() { # name command
  local out="$here/psql/$1.sql"
  {
    printf -- '-- Queries psql %s sends for %s (captured with psql -E against PostgreSQL %s).\n' "$(psql --version | awk '{print $3}')" "$2" "$version"
    psql -E -X -c "$2" | awk '
      /^\*+ QUERY \*+$/ { inq = 1; q = ""; next }
      /^\*+$/ && inq    { inq = 0; sub(/;?[ \t\n]*$/, "", q); print q ";\n"; next }
      inq               { q = q (q == "" ? "" : "\n") $0 }'
  } > "$out"
  echo "wrote $out"
}
mkdir -p "$here/psql"
capture l '\l'
capture dn '\dn'
capture dt '\dt'
capture dv '\dv'
capture dm '\dm'
capture d '\d'
capture d_table '\d bids'
capture d_view '\d v_bids'
capture d_matview '\d mv_bids'
capture dplus_table '\d+ bids'
capture dplus_view '\d+ v_bids'
capture dplus_matview '\d+ mv_bids'
