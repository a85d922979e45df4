#!/usr/bin/env bash
# Accept rate with the whole pipeline behind, for docs/PERFORMANCE.md
# (issue 27): Postfix's smtp-source (10 sessions, a connection per message,
# 5 KB, a unique Message-ID each) sends human mail to deskmail's support
# address on bbolt, to a Postfix on 127.0.0.1:25 (Debian's package,
# local_transport = discard:, fsync on its queue) and to smtp-sink (accepts
# and forgets: the loopback's and the client's ceiling), taking turns in
# the same run, ROUNDS times. deskmail's pipeline processes every email
# (SPF, DMARC against a test DNS server answering after 1 ms; loop guard,
# threading, its conversation); after each of deskmail's runs the script
# waits until nothing is pending and prints the daemon's CPU seconds
# (/proc/PID/stat) per email over the run and the drain. "Nothing pending"
# is the pending gauge; beside it the drain line prints when the emails
# themselves were all processed (the "ok" count reached the run's emails)
# and how many took over 2.56 s from their 250 to their conversation (the
# to-conversation histogram, counted since the daemon started), so that a gauge gone wrong is told from
# emails processed late.
#
#   MESSAGES=5000 ROUNDS=2 scripts/bench-accept.sh
#
# SERVE_ARGS adds flags to the daemon's command line; PROFILE=FILE writes a
# CPU profile of the daemon over deskmail's last round and its drain
# (PROFILE_SECONDS long, default 20; the control socket's pprof); TRACE=FILE an
# execution trace (go tool trace) of TRACE_SECONDS (default 1) from 0.5 s into
# deskmail's last round; ONLY=deskmail
# skips Postfix and smtp-sink. STRACE=FILE counts the daemon's system calls
# (strace -c -f) over deskmail's last round and its drain into FILE (it slows
# the daemon: its rate is not comparable); PERF=FILE records the daemon with
# perf (cpu-clock, call graphs, kernel included) over the same span.
# SERVE_LOG=FILE keeps the daemon's log (with GODEBUG=gctrace=1 in the
# environment: one line per garbage collection, with its CPU). Each round prints the bytes the
# daemon wrote to the disk (/proc/PID/io write_bytes) and read from it
# (read_bytes) per email too. STORE=postgres runs the daemon on a fresh
# PostgreSQL database (created at PGURL's server, dropped at the end)
# instead of bbolt; DESKMAIL=/path/to/deskmail runs that binary instead of
# building this tree.
#
# Each round also prints, over deskmail's run, the daemon's user and system
# CPU, its context switches and its wait for a core on the kernel's run
# queues per email, and how busy the machine's cores were. On a shared
# machine the other processes decide most of the rate (docs/PERFORMANCE.md,
# branch acceptvar): BOOST=-20 runs the script (deskmail, smtp-source,
# smtp-sink) in a scheduling group of its own (setsid: an autogroup) at that
# nice value, and Postfix's (its master's session) at the same one for the
# script's duration (root only), so that every contestant gets the cores as
# on a quiet machine.
set -euo pipefail
if [ -n "${BOOST:-}" ] && [ -z "${BENCH_BOOSTED:-}" ]; then
  exec env BENCH_BOOSTED=1 setsid -w "$0" "$@"
fi
cd "$(dirname "$0")/.."
MESSAGES=${MESSAGES:-5000}
ROUNDS=${ROUNDS:-2}
WARMUP=${WARMUP:-1000}
PORT=${PORT:-2651}
HTTP=${HTTP:-2652}
SINK=${SINK:-2653}
TOKEN=bench-accept-token-0123456789abcdef
command -v smtp-source >/dev/null || { echo "smtp-source (Debian package postfix) is needed"; exit 1; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time (Debian package time) is needed"; exit 1; }
tmp=$(mktemp -d)
pids=()
PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
DB=deskmail_accept_$$
store_args=()
label=bbolt
cleanup() {
  exec 4>&- 2>/dev/null || true
  [ -z "${pfgroup:-}" ] || echo "$pfgroup" >"/proc/$pfmaster/autogroup" 2>/dev/null || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  [ -z "${SERVE_LOG:-}" ] || cp "$tmp/serve.log" "$SERVE_LOG" 2>/dev/null || true
  [ "${STORE:-}" != postgres ] || psql "$PGURL" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
pfgroup=
if [ -n "${BOOST:-}" ]; then
  echo "$BOOST" 2>/dev/null >/proc/self/autogroup || echo "(BOOST: cannot set the nice value of this scheduling group; not boosted)"
  pfmaster=$(tr -d ' ' </var/spool/postfix/pid/master.pid 2>/dev/null || true)
  if [ -n "$pfmaster" ] && [ -w "/proc/$pfmaster/autogroup" ]; then
    pfgroup=$(awk '{print $3}' "/proc/$pfmaster/autogroup")
    echo "$BOOST" >"/proc/$pfmaster/autogroup"
  fi
fi
if [ -n "${DESKMAIL:-}" ]; then cp "$DESKMAIL" "$tmp/deskmail"; else go build -o "$tmp/deskmail" ./cmd/deskmail; fi
case "${STORE:-}" in
  "" | bbolt) ;;
  postgres)
    psql "$PGURL" -qc "CREATE DATABASE $DB" >/dev/null
    store_args=(--store "$(echo "$PGURL" | sed -E "s|^([a-z]+://[^/?]*)(/[^?]*)?|\1/$DB|")")
    label="PostgreSQL (fresh database)"
    ;;
  *) echo "STORE: want postgres or nothing (bbolt), not $STORE"; exit 1 ;;
esac

mkfifo "$tmp/dns.in"
"$tmp/deskmail" bench dns --dns-delay 1ms <"$tmp/dns.in" >"$tmp/dns.addr" &
pids+=($!)
exec 4>"$tmp/dns.in"
for _ in $(seq 50); do [ -s "$tmp/dns.addr" ] && break; sleep 0.1; done

"$tmp/deskmail" serve --data "$tmp/data" --domain localhost --smtp-addr 127.0.0.1:$PORT \
  --http-addr 127.0.0.1:$HTTP --api-token "$TOKEN" --dns "$(cat "$tmp/dns.addr")" \
  --max-connections-per-ip 1000 --max-pending 1000000 --log-level warn "${store_args[@]}" ${SERVE_ARGS:-} 2>"$tmp/serve.log" &
dpid=$!
pids+=($dpid)
for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done

smtp-sink -u nobody 127.0.0.1:$SINK 256 &
pids+=($!)
sleep 0.5

pending() {
  curl -s -H "Authorization: Bearer $TOKEN" 127.0.0.1:$HTTP/metrics | awk '$1 == "deskmail_inbound_pending" {print int($2)}'
}
# The emails processed into their conversations (the pipeline's "ok"
# outcomes), and how many of them took longer than 2.56 s from their 250
# (the to-conversation histogram's count above its 2.56 s bucket).
processed() {
  curl -s -H "Authorization: Bearer $TOKEN" 127.0.0.1:$HTTP/metrics | awk '
    $1 == "deskmail_inbound_processed_total{result=\"ok\"}" {ok = $2}
    $1 == "deskmail_inbound_to_conversation_seconds_bucket{le=\"2.56\"}" {fast = $2}
    $1 == "deskmail_inbound_to_conversation_seconds_count" {all = $2}
    END {printf "%d %d\n", ok, all - fast}'
}
# drain waits until the pending gauge reads 0; it records in drained_ok when
# the "ok" count had reached want (the emails themselves processed).
drain() {
  local want=${1:-} t
  drained_ok=
  for _ in $(seq 1200); do
    if [ -n "$want" ] && [ -z "$drained_ok" ]; then
      t=$(date +%s.%N)
      [ "$(processed | cut -d' ' -f1)" -ge "$want" ] && drained_ok=$t
    fi
    [ "$(pending)" = 0 ] && return
    sleep 0.1
  done
  echo "(the pipeline did not drain within 2 minutes)"
}
metrics() { # the sums and counts of the commit and the commit wait, space separated
  curl -s -H "Authorization: Bearer $TOKEN" 127.0.0.1:$HTTP/metrics | awk '
    $1 ~ /^deskmail_store_commit_(duration_seconds|batch_size)_(sum|count)$/ || $1 ~ /^deskmail_smtp_commit_wait_seconds_(sum|count)$/ || $1 == "go_gc_duration_seconds_count" {m[$1] = $2}
    END {printf "%s %s %s %s %s %s\n", m["deskmail_store_commit_duration_seconds_count"], m["deskmail_store_commit_duration_seconds_sum"],
      m["deskmail_store_commit_batch_size_sum"], m["deskmail_smtp_commit_wait_seconds_count"], m["deskmail_smtp_commit_wait_seconds_sum"], m["go_gc_duration_seconds_count"]}'
}
cpu() { awk '{print $14 + $15}' /proc/$dpid/stat; } # clock ticks, user + system
# The daemon's time waiting for a core on the kernel's run queues (run_delay,
# summed over its threads, nanoseconds), and every core's busy and total ticks
# (/proc/stat): the machine's other load during a run.
rundelay() { cat /proc/$dpid/task/*/schedstat 2>/dev/null | awk '{s += $2} END {printf "%d\n", s}'; }
usys() { awk '{print $14, $15}' /proc/$dpid/stat; } # user and system ticks
switches() { cat /proc/$dpid/task/*/status 2>/dev/null | awk '$1 == "voluntary_ctxt_switches:" {v += $2} $1 == "nonvoluntary_ctxt_switches:" {n += $2} END {print v + 0, n + 0}'; }
busy() { awk '$1 == "cpu" {print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8}' /proc/stat; }
wbytes() { awk '$1 == "write_bytes:" {print $2}' /proc/$dpid/io; }
rbytes() { awk '$1 == "read_bytes:" {print $2}' /proc/$dpid/io; }
rate() { # label host:port recipient messages
  local t0 t1
  t0=$(date +%s.%N)
  /usr/bin/time -o "$tmp/client.time" -f "%U %S %w %c" smtp-source -s 10 -l 5000 -m "$4" -S "A question about my order" -f customer@example.org -t "$3" "$2"
  t1=$(date +%s.%N)
  last=$(echo "$4 / ($t1 - $t0)" | bc)
  echo "$1: $last msg/s$(awk -v n="$4" '{printf " (smtp-source: %.3f ms CPU, %.1f waits, %.1f preemptions per message)", 1000 * ($1 + $2) / n, $3 / n, $4 / n}' "$tmp/client.time")"
}

echo "warm-up, deskmail, $WARMUP messages"
rate "deskmail (cold)" 127.0.0.1:$PORT support@localhost "$WARMUP"
drain
hz=$(getconf CLK_TCK)
postfix= sink=
for r in $(seq "$ROUNDS"); do
  echo "## round $r (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  if [ "${ONLY:-}" = deskmail ]; then
    :
  elif (echo >/dev/tcp/127.0.0.1/25) 2>/dev/null; then
    rate "Postfix" 127.0.0.1:25 bench@localhost "$MESSAGES"
    postfix=$last
  else
    echo "(no Postfix on 127.0.0.1:25)"
  fi
  [ "${ONLY:-}" = deskmail ] || { rate "smtp-sink" 127.0.0.1:$SINK bench@localhost "$MESSAGES"; sink=$last; }
  prof=
  if [ -n "${PROFILE:-}" ] && [ "$r" = "$ROUNDS" ]; then
    curl -s --unix-socket "$tmp/data/deskmail.sock" -o "$PROFILE" "http://deskmail/debug/pprof/profile?seconds=${PROFILE_SECONDS:-20}" &
    prof=$!
  fi
  tr=
  if [ -n "${TRACE:-}" ] && [ "$r" = "$ROUNDS" ]; then
    (sleep 0.5; curl -s --unix-socket "$tmp/data/deskmail.sock" -o "$TRACE" "http://deskmail/debug/pprof/trace?seconds=${TRACE_SECONDS:-1}") &
    tr=$!
  fi
  pf=
  if [ -n "${PERF:-}" ] && [ "$r" = "$ROUNDS" ]; then
    perf record -q -e cpu-clock -F 1999 -g -o "$PERF" -p "$dpid" 2>/dev/null &
    pf=$!
    sleep 0.5
  fi
  st=
  if [ -n "${STRACE:-}" ] && [ "$r" = "$ROUNDS" ]; then
    strace -c -f -o "$STRACE" -p "$dpid" 2>/dev/null &
    st=$!
    sleep 1
  fi
  ok0=$(processed | cut -d' ' -f1)
  c0=$(cpu) w0=$(wbytes) r0=$(rbytes) m0=$(metrics) q0=$(rundelay) b0=$(busy) u0=$(usys) x0=$(switches)
  rate "deskmail, $label" 127.0.0.1:$PORT support@localhost "$MESSAGES"
  dm=$last
  cm=$(cpu) p0=$(pending) mm=$(metrics) q1=$(rundelay) b1=$(busy) u1=$(usys) x1=$(switches)
  d0=$(date +%s.%N)
  drain "$(( ok0 + MESSAGES ))"
  d1=$(date +%s.%N)
  c1=$(cpu) w1=$(wbytes) r1=$(rbytes)
  [ -z "$st" ] || { kill -INT "$st"; wait "$st" || true; }
  [ -z "$pf" ] || { kill -INT "$pf"; wait "$pf" || true; }
  echo "deskmail: $(( (w1 - w0) / MESSAGES )) bytes written to the disk per email (write_bytes, run and drain), $(( (r1 - r0) / MESSAGES )) read from it (read_bytes)"
  echo "deskmail: $p0 emails still pending at the last 250 (the gauge), processed $(echo "scale=2; ($d1 - $d0) / 1" | bc) s after it by the gauge, $(echo "scale=2; (${drained_ok:-$d1} - $d0) / 1" | bc) s by the ok count; $(processed | cut -d' ' -f2) emails in all took over 2.56 s from their 250 to their conversation; daemon CPU during the accept $(echo "scale=3; ($cm - $c0) * 1000 / $hz / $MESSAGES" | bc) ms per email, during the drain $(echo "scale=3; ($c1 - $cm) * 1000 / $hz / $MESSAGES" | bc)"
  echo "$b0 $b1 $cm $c0" | awk -v q="$(( (q1 - q0) / MESSAGES ))" '{
    printf "deskmail: during the accept the daemon waited %.3f ms per email for a core (run_delay); the machine was busy %.0f%% of its cores, the daemon %.0f%% of them\n",
      q / 1e6, 100 * ($3 - $1) / ($4 - $2), 100 * ($5 - $6) / ($4 - $2) }'
  echo "$u0 $u1 $x0 $x1 $hz $MESSAGES" | awk '{
    printf "deskmail: during the accept user %.3f, system %.3f ms per email; %.1f voluntary, %.1f involuntary context switches per email\n",
      1000 * ($3 - $1) / $9 / $10, 1000 * ($4 - $2) / $9 / $10, ($7 - $5) / $10, ($8 - $6) / $10 }'
  echo "deskmail daemon CPU over the run and its drain: $(echo "scale=3; ($c1 - $c0) * 1000 / $hz / $MESSAGES" | bc) ms per email"
  echo "$m0 $mm $(metrics) $MESSAGES" | awk '{
    printf "deskmail: during the accept %d commits (%.2f per email), %.2f writes per commit, %.3f ms per commit; %.3f ms mean wait for the commit per accept\n",
      $7 - $1, ($7 - $1) / $19, ($9 - $3) / ($7 - $1), 1000 * ($8 - $2) / ($7 - $1), 1000 * ($11 - $5) / ($10 - $4)
    printf "deskmail: run and drain %d commits (%.2f per email), %.2f writes per commit; %d garbage collections\n", $13 - $1, ($13 - $1) / $19, ($15 - $3) / ($13 - $1), $18 - $6 }'
  [ -z "${postfix:-}" ] || echo "deskmail: $(echo "scale=2; $dm / $postfix" | bc)x Postfix"
  [ -z "${sink:-}" ] || echo "deskmail: $(echo "scale=1; 100 * $dm / $sink" | bc)% of smtp-sink"
  [ -z "$prof" ] || wait "$prof"
  [ -z "$tr" ] || wait "$tr"
done
echo "deskmail: peak resident memory $(awk '$1 == "VmHWM:" {print $2, $3}' /proc/$dpid/status)"
