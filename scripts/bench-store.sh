#!/usr/bin/env bash
# Inbound accept rate on each store, in one run, for docs/PERFORMANCE.md:
# a bbolt daemon, one node on PostgreSQL, and two nodes on one PostgreSQL
# database (the load split over both), each driven by `deskmail bench smtp`
# at 10 persistent sessions with 5 KB messages; then Postfix's smtp-source
# against the same three when it is installed.
#
# Each daemon first takes WARMUP messages (default 1000; its figures are
# printed, as the cold start): the first few hundred messages after a start
# pay one-time costs (connections and prepared statements, the first
# sequence and table pages, the pipeline's first scans), which a running
# node has long paid. The measured run follows.
#
#   MESSAGES=5000 PGURL=postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable scripts/bench-store.sh
set -euo pipefail
cd "$(dirname "$0")/.."
MESSAGES=${MESSAGES:-5000}
WARMUP=${WARMUP:-1000}
PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
DB=deskmail_bench_$$
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  psql "$PGURL" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
go build -o "$tmp/deskmail" ./cmd/deskmail
psql "$PGURL" -qc "CREATE DATABASE $DB" >/dev/null
store=$(echo "$PGURL" | sed "s|/[^/?]*?|/$DB?|")

serve() { # name port [store]
  local extra=()
  [ -n "${3:-}" ] && extra=(--store "$3")
  "$tmp/deskmail" serve --data "$tmp/$1" --domain localhost --smtp-addr 127.0.0.1:$2 \
    --http-addr off --max-connections-per-ip 1000 --log-level warn "${extra[@]}" 2>"$tmp/$1.log" &
  pids+=($!)
  for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/$2) 2>/dev/null && return; sleep 0.1; done
  echo "node $1 did not start:"; cat "$tmp/$1.log"; exit 1
}
bench() { # port sessions messages
  "$tmp/deskmail" bench smtp --addr 127.0.0.1:$1 --sessions $2 --messages $3 --size 5KB 2>/dev/null
}

serve bolt 2631
serve pgA 2632 "$store"
serve pgB 2633 "$store"

if [ "$WARMUP" -gt 0 ]; then
  for port in 2631 2632 2633; do
    echo "## warm-up (cold start), 127.0.0.1:$port, $WARMUP messages"
    bench $port 10 "$WARMUP" | grep -E 'accepted|latency'
  done
fi

echo "## bbolt, one node, 10 sessions"
bench 2631 10 "$MESSAGES"
echo "## PostgreSQL, one node, 10 sessions"
bench 2632 10 "$MESSAGES"
echo "## PostgreSQL, two nodes, 5 sessions each at once"
t0=$(date +%s.%N)
bench 2632 5 $((MESSAGES / 2)) > "$tmp/a.out" &
b1=$!
bench 2633 5 $((MESSAGES / 2)) > "$tmp/b.out"
wait $b1
t1=$(date +%s.%N)
cat "$tmp/a.out" "$tmp/b.out"
echo "two nodes together: $(echo "$MESSAGES / ($t1 - $t0)" | bc) msg/s"

if command -v smtp-source >/dev/null; then
  echo "## smtp-source -s 10 -l 5000 -m $MESSAGES (a connection per message)"
  for port in 2631 2632; do
    t0=$(date +%s.%N)
    smtp-source -s 10 -l 5000 -m "$MESSAGES" -f bench@example.org -t bench@localhost 127.0.0.1:$port
    t1=$(date +%s.%N)
    echo "127.0.0.1:$port: $(echo "$MESSAGES / ($t1 - $t0)" | bc) msg/s"
  done
  if (echo >/dev/tcp/127.0.0.1/25) 2>/dev/null; then
    t0=$(date +%s.%N)
    smtp-source -s 10 -l 5000 -m "$MESSAGES" -f bench@example.org -t bench@localhost 127.0.0.1:25
    t1=$(date +%s.%N)
    echo "Postfix 127.0.0.1:25: $(echo "$MESSAGES / ($t1 - $t0)" | bc) msg/s"
  fi
else
  echo "(smtp-source not installed: no Postfix figures in this run)"
fi
