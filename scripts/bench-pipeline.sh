#!/usr/bin/env bash
# End-to-end inbound figures for docs/PERFORMANCE.md: `deskmail bench
# pipeline` starts a test DNS server (answering after --dns-delay) and a
# daemon in-process pointed at it with --dns, sends MESSAGES emails from
# distinct customers of distinct domains to the support address over 10
# SMTP sessions, and reports emails/s from the first 250 to the last
# conversation commit and p50/p99 of 250-to-conversation.
#
#   MESSAGES=2000 scripts/bench-pipeline.sh
set -euo pipefail
cd "$(dirname "$0")/.."
MESSAGES=${MESSAGES:-2000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/deskmail" ./cmd/deskmail
for d in 0ms 20ms 200ms; do
  echo "## --dns-delay $d, as fast as 10 sessions go"
  "$tmp/deskmail" bench pipeline --messages "$MESSAGES" --sessions 10 --dns-delay $d
done
echo "## --dns-delay 20ms, 200 emails/s offered"
"$tmp/deskmail" bench pipeline --messages "$MESSAGES" --sessions 10 --dns-delay 20ms --rate 200
