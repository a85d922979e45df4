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
c1=$(cpu)
grep -E "emails|CPU|store:|accepting" /tmp/pgcost.$$.out; rm -f /tmp/pgcost.$$.out
echo "$io" | awk -v n="$N" '{printf "daemon read syscalls %.1f/email, write syscalls %.1f/email\n", $1/n, $2/n}'
tck=$(getconf CLK_TCK)
echo "postgres CPU: $(( (c1-c0)*1000/tck )) ms total, $(echo "scale=3; ($c1-$c0)*1000/$tck/$N" | bc) ms/email"
q="FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = '$DB')"
$P -d $DB -c "SELECT sum(calls) $q" | awk -v n="$N" '{printf "statements: %d (%.1f per email)\n", $1, $1/n}'
$P -d $DB -F $'\t' -c "SELECT calls, rows, left(regexp_replace(query, '\s+', ' ', 'g'), 100) $q ORDER BY calls DESC LIMIT 15"
