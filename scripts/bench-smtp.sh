#!/usr/bin/env bash
# Loopback SMTP load figures for docs/PERFORMANCE.md.
#
# Starts a fresh deskmail daemon on 127.0.0.1:2626 (data in a temp folder),
# drives it with `deskmail bench smtp` at 1, 10 and 50 sessions, then with
# Postfix's smtp-source (Debian package postfix) against deskmail and, when a
# Postfix answers on 127.0.0.1:25, against Postfix, so both are measured in
# the same run. Every load is bounded by a message count.
#
#   MESSAGES=5000 scripts/bench-smtp.sh
set -euo pipefail
cd "$(dirname "$0")/.."
MESSAGES=${MESSAGES:-5000}
PORT=${PORT:-2626}
tmp=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
go build -o "$tmp/deskmail" ./cmd/deskmail
"$tmp/deskmail" serve --data "$tmp/data" --domain localhost --smtp-addr 127.0.0.1:$PORT \
  --http-addr off --max-connections-per-ip 1000 --log-level warn 2>"$tmp/serve.log" &
pid=$!
for _ in $(seq 50); do (echo >/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done

echo "## deskmail bench smtp (persistent sessions, 5 KB)"
for s in 1 10 50; do
  "$tmp/deskmail" bench smtp --addr 127.0.0.1:$PORT --sessions $s --messages "$MESSAGES" --size 5KB 2>/dev/null
done
echo "## deskmail bench smtp --new-conn (a connection per message, 5 KB)"
for s in 1 10 50; do
  "$tmp/deskmail" bench smtp --addr 127.0.0.1:$PORT --sessions $s --messages "$MESSAGES" --size 5KB --new-conn 2>/dev/null
done

if command -v smtp-source >/dev/null; then
  rate() { # host:port sessions recipient (deskmail refuses unknown addresses at RCPT: its support address)
    local t0 t1
    t0=$(date +%s.%N)
    smtp-source -s "$2" -l 5000 -m "$MESSAGES" -f bench@example.org -t "$3" "$1"
    t1=$(date +%s.%N)
    echo "smtp-source -s $2 -l 5000 -m $MESSAGES $1: $(echo "$MESSAGES / ($t1 - $t0)" | bc) msg/s"
  }
  echo "## smtp-source (a connection per message, 5 KB body)"
  for s in 1 10 50; do
    rate 127.0.0.1:$PORT $s support@localhost
    if (echo >/dev/tcp/127.0.0.1/25) 2>/dev/null; then rate 127.0.0.1:25 $s bench@localhost; fi
  done
fi
