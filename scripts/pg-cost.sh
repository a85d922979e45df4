#!/usr/bin/env bash
# What one email costs on PostgreSQL, end to end (`deskmail bench pipeline`
# at 20 ms DNS into a fresh database): the daemon's CPU and its read and
# write system calls per email (each round trip to the database is one
# write and one or more reads; SMTP and DNS add a constant ten or so), the
# database server's CPU per email (every backend of the cluster, including
# those that exited), and the statements per email by kind
# (pg_stat_statements).
#
# It needs a cluster of its own with pg_stat_statements loaded, so that
# nobody else's statements or CPU count; on Debian:
#
#   pg_createcluster 15 cost --port 5439 -- --auth=trust
#   echo "shared_preload_libraries = 'pg_stat_statements'" >> /etc/postgresql/15/cost/postgresql.conf
#   pg_ctlcluster --skip-systemctl-redirect 15 cost start
#   psql -h 127.0.0.1 -p 5439 -U postgres -d template1 -c 'CREATE EXTENSION pg_stat_statements'
#
#   flock /tmp/bench.lock scripts/pg-cost.sh ./deskmail 3000
#
# PORT (5439) and PGDATA (/var/lib/postgresql/15/cost) name the cluster.
set -euo pipefail
BIN=$1; N=${2:-3000}; PORT=${PORT:-5439}; PGDATA=${PGDATA:-/var/lib/postgresql/15/cost}
DB=pgcost_$$
P="psql -h 127.0.0.1 -p $PORT -U postgres -Atq"
$P -c "CREATE DATABASE $DB"
trap '$P -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)"' EXIT
pm=$(head -1 "$PGDATA/postmaster.pid")
cpu() { # clock ticks of the cluster: the postmaster with its reaped children, and the live ones
  local t f
  read -r -a f < <(sed 's/^.*) //' /proc/$pm/stat); t=$((f[11]+f[12]+f[13]+f[14]))
  for c in $(pgrep -P "$pm"); do
    read -r -a f < <(sed 's/^.*) //' /proc/$c/stat 2>/dev/null) || continue
    t=$((t+f[11]+f[12]))
  done
  echo $t
}
$P -d $DB -c "SELECT pg_stat_statements_reset()" >/dev/null
$P -d $DB -c "SELECT pg_stat_reset_shared('wal')" >/dev/null
c0=$(cpu)
"$BIN" bench pipeline --messages "$N" --sessions 10 --dns-delay 20ms --store "postgres://postgres@127.0.0.1:$PORT/$DB?sslmode=disable" >/tmp/pgcost.$$.out 2>&1 &
bp=$!
io=""
while kill -0 $bp 2>/dev/null; do
  x=$(awk '/syscr|syscw/{printf "%s ", $2}' /proc/$bp/io 2>/dev/null || true)
  [ -n "$x" ] && io=$x
  sleep 0.2
done
wait $bp || { cat /tmp/pgcost.$$.out; exit 1; }
c1=$(cpu); sleep 1
grep -E "emails|CPU|store:|accepting" /tmp/pgcost.$$.out; rm -f /tmp/pgcost.$$.out
echo "$io" | awk -v n="$N" '{printf "daemon read syscalls %.1f/email, write syscalls %.1f/email\n", $1/n, $2/n}'
tck=$(getconf CLK_TCK)
echo "postgres CPU: $(( (c1-c0)*1000/tck )) ms total, $(echo "scale=3; ($c1-$c0)*1000/$tck/$N" | bc) ms/email"
q="FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = '$DB')"
$P -d $DB -c "SELECT sum(calls) $q" | awk -v n="$N" '{printf "statements: %d (%.1f per email)\n", $1, $1/n}'
# Rows the database read for this run's database (sequential scans' rows
# and index scans' entries: tup_returned; heap rows fetched by index:
# tup_fetched), the WAL the whole cluster wrote, and the statements by
# server time.
$P -d $DB -F ' ' -c "SELECT tup_returned, tup_fetched, tup_inserted, tup_updated, tup_deleted FROM pg_stat_database WHERE datname = '$DB'" |
  awk -v n="$N" '{printf "rows read %.1f/email (returned %.1f, fetched %.1f); written: inserted %.1f, updated %.1f, deleted %.1f per email\n", ($1+$2)/n, $1/n, $2/n, $3/n, $4/n, $5/n}'
$P -d $DB -F ' ' -c "SELECT wal_records, wal_fpi, wal_bytes FROM pg_stat_wal" |
  awk -v n="$N" '{printf "WAL: %.1f records/email, %.2f full-page images/email, %.0f bytes/email\n", $1/n, $2/n, $3/n}'
$P -d $DB -F ' ' -c "SELECT n_tup_hot_upd, n_tup_upd, idx_scan FROM pg_stat_user_tables WHERE relname = 'kv'" |
  awk -v n="$N" '{printf "kv updates: %d, HOT %d; index scans of kv %.1f/email\n", $2, $1, $3/n}'
# Buffer accesses (shared blocks hit or read) of every statement: each
# index descent, heap fetch and page written is one or more.
$P -d $DB -c "SELECT sum(shared_blks_hit + shared_blks_read) $q" | awk -v n="$N" '{printf "shared blocks hit or read: %.1f/email\n", $1/n}'
$P -d $DB -F $'\t' -c "SELECT round(sum(total_exec_time)::numeric, 0) $q" | awk -v n="$N" '{printf "statement time: %d ms (%.3f ms/email)\n", $1, $1/n}'
echo "by server time: calls, rows, ms, shared blocks hit, statement"
$P -d $DB -F $'\t' -c "SELECT calls, plans, rows, round(total_exec_time::numeric, 0), round(total_plan_time::numeric,0), left(regexp_replace(query, '\s+', ' ', 'g'), 100) $q ORDER BY total_exec_time DESC LIMIT 15"
