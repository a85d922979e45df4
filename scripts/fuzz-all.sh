#!/usr/bin/env bash
# Runs every fuzz target of the module for FUZZTIME each, one at a time
# (go test -fuzz takes one target of one package). Targets are discovered
# with `go test -list`, so a target added to any package is run without
# editing this file. Stops at the first failure, which go test reports
# with the failing input saved under the package's testdata/fuzz/.
#
# FUZZMINIMIZE bounds how long go test minimizes an input (default 5s;
# go test's own default is 60s): minimizing a large new input, such as a
# mutation of a 300 KiB corpus message, otherwise takes a whole minute
# during which the run shows "0/sec", and a short run is mostly that.
#
#   FUZZTIME=30s scripts/fuzz-all.sh            # every target
#   FUZZTIME=60s scripts/fuzz-all.sh ./loopguard # the targets of some packages
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-30s}
FUZZMINIMIZE=${FUZZMINIMIZE:-5s}
pkgs=("$@")
if [ ${#pkgs[@]} -eq 0 ]; then
  mapfile -t pkgs < <($GO list ./...)
fi
n=0
for pkg in "${pkgs[@]}"; do
  # -list prints the matching names, then "ok  pkg"; keep the names.
  targets=$($GO test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true)
  for target in $targets; do
    n=$((n + 1))
    echo "== $pkg $target ($FUZZTIME)"
    $GO test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime "$FUZZMINIMIZE" "$pkg"
  done
done
echo "== $n fuzz targets passed"
