#!/usr/bin/env bash
# Inbound accept rate on each store, for docs/PERFORMANCE.md: a bbolt
# daemon, one node on PostgreSQL, and two nodes on one PostgreSQL database
# (the load split over both), each driven by `deskmail bench smtp` at 10
# persistent sessions with 5 KB messages, then by Postfix's smtp-source (a
# connection per message) when it is installed, and smtp-source against a
# local Postfix on 127.0.0.1:25 in the same run when one listens there.
#
# Each setup runs alone: its daemons start, take WARMUP messages (default
# 1000; printed as the cold start: the first few hundred messages after a
# start pay one-time costs, connections and prepared statements, the first
# pages of each table, the pipeline's first scans), then wait until their
# pipelines have processed every stored email, so that the measured run
# competes with no backlog of another run; the daemons stop before the next
# setup starts. --max-pending is raised so that backpressure (451 past
# 10,000 unprocessed emails) does not end a run early.
#
#   MESSAGES=5000 PGURL=postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable scripts/bench-store.sh
#
# DESKMAIL=/path/to/deskmail runs that binary instead of building this
# tree (to compare two builds in one hour); ONLY=postgres skips bbolt.
set -euo pipefail
cd "$(dirname "$0")/.."
MESSAGES=${MESSAGES:-5000}
WARMUP=${WARMUP:-1000}
PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
TOKEN=bench-store-token-0123456789abcdef
DB=deskmail_bench_$$
tmp=$(mktemp -d)
pids=()
stop_all() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  pids=()
}
cleanup() {
  stop_all
  psql "$PGURL" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
if [ -n "${DESKMAIL:-}" ]; then cp "$DESKMAIL" "$tmp/deskmail"; else go build -o "$tmp/deskmail" ./cmd/deskmail; fi
psql "$PGURL" -qc "CREATE DATABASE $DB" >/dev/null
store=$(echo "$PGURL" | sed -E "s|^([a-z]+://[^/?]*)(/[^?]*)?|\1/$DB|")

serve() { # name smtp-port http-port [store]
  local extra=()
  [ -n "${4:-}" ] && extra=(--store "$4")
  "$tmp/deskmail" serve --data "$tmp/$1" --domain localhost --smtp-addr 127.0.0.1:$2 \
    --http-addr 127.0.0.1:$3 --api-token "$TOKEN" --max-connections-per-ip 1000 \
    --max-pending 1000000 --log-level warn "${extra[@]}" 2>"$tmp/$1.log" &
  pids+=($!)
  for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/$2) 2>/dev/null && return; sleep 0.1; done
  echo "node $1 did not start:"; cat "$tmp/$1.log"; exit 1
}
bench() { # port sessions messages
  "$tmp/deskmail" bench smtp --addr 127.0.0.1:$1 --sessions $2 --messages $3 --size 5KB 2>/dev/null | grep -vE '^\s+[0-9]+s '
}
pending() { # http-port
  curl -s -H "Authorization: Bearer $TOKEN" 127.0.0.1:$1/metrics | awk '$1 == "deskmail_inbound_pending" {print int($2)}'
}
drain() { # http-port...
  for _ in $(seq 600); do
    local total=0
    for hp in "$@"; do total=$((total + $(pending "$hp"))); done
    [ "$total" -eq 0 ] && return
    sleep 0.5
  done
  echo "(the pipeline did not drain within 5 minutes)"
}
warm() { # smtp-port http-port...
  local port=$1; shift
  if [ "$WARMUP" -gt 0 ]; then
    echo "warm-up (cold start), $WARMUP messages:"
    bench "$port" 10 "$WARMUP" | grep -E 'latency'
  fi
  drain "$@"
}
source_run() { # label port
  if command -v smtp-source >/dev/null; then
    local t0 t1
    t0=$(date +%s.%N)
    smtp-source -s 10 -l 5000 -m "$MESSAGES" -f bench@example.org -t support@localhost 127.0.0.1:$2
    t1=$(date +%s.%N)
    echo "$1 smtp-source -s 10 -l 5000 -m $MESSAGES: $(echo "$MESSAGES / ($t1 - $t0)" | bc) msg/s"
  fi
}

if [ "${ONLY:-}" != postgres ]; then
echo "## bbolt, one node, 10 sessions"
serve bolt 2631 2641
warm 2631 2641
bench 2631 10 "$MESSAGES"
drain 2641
source_run "bbolt" 2631
stop_all
fi

echo "## PostgreSQL, one node, 10 sessions"
serve pgA 2632 2642 "$store"
warm 2632 2642
bench 2632 10 "$MESSAGES"
drain 2642
source_run "PostgreSQL one node" 2632

echo "## PostgreSQL, two nodes, 5 sessions each at once"
serve pgB 2633 2643 "$store"
warm 2633 2642 2643
t0=$(date +%s.%N)
bench 2632 5 $((MESSAGES / 2)) > "$tmp/a.out" &
b1=$!
bench 2633 5 $((MESSAGES / 2)) > "$tmp/b.out"
wait $b1
t1=$(date +%s.%N)
cat "$tmp/a.out" "$tmp/b.out"
echo "two nodes together: $(echo "$MESSAGES / ($t1 - $t0)" | bc) msg/s"
stop_all

if ! command -v smtp-source >/dev/null; then
  echo "(smtp-source not installed: no Postfix figures in this run)"
elif (echo >/dev/tcp/127.0.0.1/25) 2>/dev/null; then
  echo "## Postfix on 127.0.0.1:25"
  source_run "Postfix" 25
else
  echo "(no Postfix on 127.0.0.1:25)"
fi
