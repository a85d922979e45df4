#!/usr/bin/env bash
# What limits two nodes on one PostgreSQL database (docs/PERFORMANCE.md):
# starts two daemons on a fresh database, warms them, then drives both with
# `deskmail bench smtp` (S sessions, M messages each) while sampling, every
# 100 ms, what the database's backends wait for (pg_stat_activity) and
# which advisory locks are waited for (pg_locks, by key and mode; the key
# of a lock name is FNV-1a 64 of "deskmail:lock:" + name, split into
# classid (high 32 bits) and objid). ONE=1 drives only the first node.
#
#   S=5 M=1500 scripts/profile-two-nodes.sh
set -u
cd "$(dirname "$0")/.."
S=${S:-5}
M=${M:-1500}
PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
DB=deskmail_prof_$$
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  psql "$PGURL" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
if [ -n "${DESKMAIL:-}" ]; then cp "$DESKMAIL" "$tmp/deskmail"; else go build -o "$tmp/deskmail" ./cmd/deskmail; fi
psql "$PGURL" -qc "CREATE DATABASE $DB"
store=$(echo "$PGURL" | sed -E "s|^([a-z]+://[^/?]*)(/[^?]*)?|\1/$DB|")
for n in 1 2; do
  "$tmp/deskmail" serve --data "$tmp/n$n" --domain localhost --smtp-addr 127.0.0.1:265$n --http-addr 127.0.0.1:266$n \
    --api-token prof-token-0123456789abcdef --max-connections-per-ip 1000 --max-pending 1000000 --log-level warn \
    --store "$store" 2>"$tmp/n$n.log" &
  pids+=($!)
done
for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/2652) 2>/dev/null && break; sleep 0.1; done
"$tmp/deskmail" bench smtp --addr 127.0.0.1:2651 --sessions 10 --messages 500 --size 5KB >/dev/null 2>&1
sleep 5
q="SELECT coalesce(wait_event_type, 'CPU') || ':' || coalesce(wait_event, '-') FROM pg_stat_activity WHERE datname = '$DB' AND state <> 'idle'
   UNION ALL
   SELECT 'waits for advisory lock ' || l.classid || '/' || l.objid || ' ' || l.mode FROM pg_locks l JOIN pg_database d ON d.oid = l.database
   WHERE d.datname = '$DB' AND l.locktype = 'advisory' AND NOT l.granted"
( while :; do psql "$PGURL" -Atc "$q"; sleep 0.1; done > "$tmp/samples" ) &
sampler=$!
t0=$(date +%s.%N)
"$tmp/deskmail" bench smtp --addr 127.0.0.1:2651 --sessions "$S" --messages "$M" --size 5KB 2>/dev/null | grep -E 'accepted|latency' &
b1=$!
nodes=1
if [ -z "${ONE:-}" ]; then
  nodes=2
  "$tmp/deskmail" bench smtp --addr 127.0.0.1:2652 --sessions "$S" --messages "$M" --size 5KB 2>/dev/null | grep -E 'accepted|latency'
fi
wait $b1
t1=$(date +%s.%N)
kill $sampler; wait $sampler 2>/dev/null
echo "together: $(echo "$M * $nodes / ($t1 - $t0)" | bc) msg/s"
echo "samples (every 100 ms) of what the database waits for:"
sort "$tmp/samples" | uniq -c | sort -rn | head -20
