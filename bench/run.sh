#!/usr/bin/env bash
# Runs the benchmarks of this module COUNT times (default 6) and prints benchstat's medians.
# The test binary is built once and run COUNT times, each run going through every benchmark
# once: on a shared machine whose load changes, each round measures the peers at about the
# same time (go test -count 6 would run the 6 samples of one benchmark back to back).
# The raw output, headed by the commit and the load average, goes to OUT (default
# /tmp/librato-bench.txt).
#
#   bench/run.sh                    # everything (about 20 minutes on 2 cores)
#   bench/run.sh 'EndToEnd'         # only some: any go test -bench regexp
set -euo pipefail
cd "$(dirname "$0")"
out="${OUT:-/tmp/librato-bench.txt}"
benchstat="$(go env GOPATH)/bin/benchstat"
if [ ! -x "$benchstat" ]; then
	go install golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da
fi
bin="$(mktemp -d)"
trap 'rm -rf "$bin"' EXIT
go test -c -o "$bin/bench.test" .
dirty=""
git diff --quiet HEAD -- .. || dirty="-dirty"
{
	echo "commit: $(git rev-parse --short HEAD)$dirty"
	echo "load-before: $(cut -d' ' -f1-3 /proc/loadavg)"
	for _ in $(seq "${COUNT:-6}"); do
		"$bin/bench.test" -test.run '^$' -test.bench "${1:-.}" -test.benchmem
	done
	echo "load-after: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out"
"$benchstat" "$out"
