#!/usr/bin/env bash
# One node against two on one PostgreSQL database, in the same run, each
# on a fresh database (docs/PERFORMANCE.md, docs/SCALING.md; issue 26):
#
# - end to end: `deskmail bench pipeline --nodes N` (N `deskmail serve`
#   processes, the 10 sessions split over them, MESSAGES emails from
#   distinct customers of distinct domains, 20 ms DNS; emails counted in
#   their conversations whichever node committed them; CPU of each daemon
#   and of PostgreSQL; what the database waited for, sampled every 100 ms);
# - accept with the pipeline behind: N `deskmail serve` nodes take WARMUP
#   messages and drain, then Postfix's smtp-source sends MESSAGES (5 KB,
#   a connection per message, human mail to the support address) with 10
#   sessions in all, 10/N to each node at once; the rate is MESSAGES over
#   the time until the last smtp-source ends; then the nodes drain and the
#   script prints each daemon's CPU per email and the database's waits.
#
# One and two nodes take turns, ROUNDS times. Run it under
# `flock /tmp/bench.lock` and read `uptime` beside it.
#
#   MESSAGES=3000 ROUNDS=2 scripts/bench-two-nodes.sh
#
# DESKMAIL=/path/to/deskmail runs that binary instead of building this
# tree; ONLY=e2e or ONLY=accept runs one half; NODES="1 2" the setups.
set -euo pipefail
cd "$(dirname "$0")/.."
MESSAGES=${MESSAGES:-3000}
ROUNDS=${ROUNDS:-2}
WARMUP=${WARMUP:-1000}
NODES=${NODES:-1 2}
PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
TOKEN=bench-nodes-token-0123456789abcdef
tmp=$(mktemp -d)
pids=()
dbs=()
stop_all() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  pids=()
}
cleanup() {
  exec 4>&- 2>/dev/null || true
  [ -z "${dnspid:-}" ] || { kill "$dnspid" 2>/dev/null; wait "$dnspid" 2>/dev/null; } || true
  stop_all
  for d in "${dbs[@]}"; do psql "$PGURL" -qc "DROP DATABASE IF EXISTS $d WITH (FORCE)" >/dev/null 2>&1 || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
if [ -n "${DESKMAIL:-}" ]; then cp "$DESKMAIL" "$tmp/deskmail"; else go build -o "$tmp/deskmail" ./cmd/deskmail; fi
hz=$(getconf CLK_TCK)

fresh() { # name: a fresh database; prints its URL
  psql "$PGURL" -qc "DROP DATABASE IF EXISTS $1 WITH (FORCE)" >/dev/null 2>&1
  psql "$PGURL" -qc "CREATE DATABASE $1" >/dev/null
  dbs+=("$1")
  echo "$PGURL" | sed -E "s|^([a-z]+://[^/?]*)(/[^?]*)?|\1/$1|"
}
e2e() { # nodes round
  local url
  url=$(fresh "deskmail_nodes_$$_e$2_$1")
  echo "### end to end, $1 node(s), fresh database (load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%H:%M:%S) UTC)"
  "$tmp/deskmail" bench pipeline --messages "$MESSAGES" --sessions 10 --dns-delay 20ms --nodes "$1" --store "$url"
  psql "$PGURL" -qc "DROP DATABASE IF EXISTS deskmail_nodes_$$_e$2_$1 WITH (FORCE)" >/dev/null 2>&1
}

mkfifo "$tmp/dns.in"
if [ "${ONLY:-}" != e2e ]; then
  command -v smtp-source >/dev/null || { echo "smtp-source (Debian package postfix) is needed"; exit 1; }
  "$tmp/deskmail" bench dns --dns-delay 1ms <"$tmp/dns.in" >"$tmp/dns.addr" &
  dnspid=$!
  exec 4>"$tmp/dns.in"
  for _ in $(seq 50); do [ -s "$tmp/dns.addr" ] && break; sleep 0.1; done
fi
pending() { # http-port
  curl -s -H "Authorization: Bearer $TOKEN" 127.0.0.1:$1/metrics | awk '$1 == "deskmail_inbound_pending" {print int($2)}'
}
drain() { # http-port...
  for _ in $(seq 600); do
    local total=0
    for hp in "$@"; do total=$((total + $(pending "$hp"))); done
    [ "$total" -eq 0 ] && return
    sleep 0.2
  done
  echo "(the pipeline did not drain within 2 minutes)"
}
cpu() { awk '{print $14 + $15}' /proc/$1/stat; }
accept() { # nodes round
  local n=$1 url db=deskmail_nodes_$$_a$2_$1 i hps=() dps=() c0=() cm=() t0 t1 src=() per
  url=$(fresh "$db")
  for i in $(seq "$n"); do
    "$tmp/deskmail" serve --data "$tmp/a$2n$n-$i" --domain localhost --smtp-addr 127.0.0.1:$((2670 + i)) \
      --http-addr 127.0.0.1:$((2680 + i)) --api-token "$TOKEN" --dns "$(cat "$tmp/dns.addr")" \
      --max-connections-per-ip 1000 --max-pending 1000000 --log-level warn --store "$url" 2>"$tmp/a$2n$n-$i.log" &
    pids+=($!)
    dps+=($!)
    hps+=($((2680 + i)))
    for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/$((2670 + i))) 2>/dev/null && break; sleep 0.1; done
  done
  echo "### accept, $n node(s), fresh database, smtp-source 10 sessions in all, 5 KB, to support@"
  for i in $(seq "$n"); do
    smtp-source -s $((10 / n)) -l 5000 -m $((WARMUP / n)) -S "A question about my order" -f customer@example.org \
      -t support@localhost 127.0.0.1:$((2670 + i)) &
    src+=($!)
  done
  wait "${src[@]}"
  drain "${hps[@]}"
  "$tmp/deskmail" bench pgwait --store "$url" --top 12 <"$tmp/pgwait.in" >"$tmp/pgwait.out" &
  local sampler=$!
  exec 5>"$tmp/pgwait.in"
  for i in $(seq "$n"); do c0+=($(cpu "${dps[$((i - 1))]}")); done
  echo "(load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%H:%M:%S) UTC)"
  src=()
  t0=$(date +%s.%N)
  for i in $(seq "$n"); do
    smtp-source -s $((10 / n)) -l 5000 -m $((MESSAGES / n)) -S "A question about my order" -f customer@example.org \
      -t support@localhost 127.0.0.1:$((2670 + i)) &
    src+=($!)
  done
  wait "${src[@]}"
  t1=$(date +%s.%N)
  for i in $(seq "$n"); do cm+=($(cpu "${dps[$((i - 1))]}")); done
  echo "$n node(s) together: $(echo "$((MESSAGES / n * n)) / ($t1 - $t0)" | bc) msg/s answered 250"
  drain "${hps[@]}"
  exec 5>&-
  wait $sampler
  for i in $(seq "$n"); do
    per=$(echo "scale=3; ($(cpu "${dps[$((i - 1))]}") - ${c0[$((i - 1))]}) * 1000 / $hz / ($MESSAGES / $n)" | bc)
    echo "node $i: CPU during the accept $(echo "scale=3; (${cm[$((i - 1))]} - ${c0[$((i - 1))]}) * 1000 / $hz / ($MESSAGES / $n)" | bc) ms per email it took, over the accept and the drain $per"
  done
  echo "during the accept and the drain:"
  cat "$tmp/pgwait.out"
  stop_all
  psql "$PGURL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
}
mkfifo "$tmp/pgwait.in"

for r in $(seq "$ROUNDS"); do
  echo "## round $r"
  if [ "${ONLY:-}" != accept ]; then
    for n in $NODES; do e2e "$n" "$r"; done
  fi
  if [ "${ONLY:-}" != e2e ]; then
    for n in $NODES; do accept "$n" "$r"; done
  fi
done
