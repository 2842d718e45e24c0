#!/usr/bin/env bash
# Side by side on the same packet stream over loopback UDP: librato statsd, and node statsd
# 0.9 with statsd-librato-backend 2.0.16 (from the npm registry, pinned by
# interop/package-lock.json), both forwarding to one librato serve. statsdload sends PACKETS
# packets (default 5,000,000) of one line with 3 tags each, at RATE a second (default 100,000,
# which node keeps up with here), to each in turn, and reads each server's CPU time and the
# kernel's drop counter at its socket. Then it sends the same to librato statsd as fast as it
# can (RATE 0). It prints each run and the ratio of packets per CPU-second.
#
#   bench/statsd.sh
#   PACKETS=1000000 RATE=50000 bench/statsd.sh
set -euo pipefail
cd "$(dirname "$0")/.."
packets="${PACKETS:-5000000}"
rate="${RATE:-100000}"
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

go build -o "$work/librato" ./cmd/librato
(cd bench && go build -o "$work/statsdload" ./statsdload)
modules="$(bash interop/install.sh)"

free_port() { python3 -c 'import socket,sys; s=socket.socket(socket.AF_INET, getattr(socket, sys.argv[1])); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' "$1"; }
wait_udp() { for _ in $(seq 200); do grep -q ":$(printf '%04X' "$1") " /proc/net/udp && return 0; sleep 0.05; done; echo "nothing listens on udp $1" >&2; return 1; }

api_port="$(free_port SOCK_STREAM)"
"$work/librato" serve --addr "127.0.0.1:$api_port" --max-series 0 >"$work/serve.out" 2>/dev/null &
pids+=($!)
for _ in $(seq 100); do grep -q "listening" "$work/serve.out" 2>/dev/null && break; sleep 0.05; done
export LIBRATO_URL="http://127.0.0.1:$api_port" LIBRATO_USER=test@example.com LIBRATO_TOKEN=libratotest-token

ours_port="$(free_port SOCK_DGRAM)"
"$work/librato" statsd --listen "127.0.0.1:$ours_port" --flush 10s --tag host=bench >"$work/ours.out" 2>"$work/ours.err" &
ours_pid=$!
pids+=($ours_pid)
wait_udp "$ours_port"

node_port="$(free_port SOCK_DGRAM)"
cat >"$work/statsd.json" <<JSON
{"address": "127.0.0.1", "port": $node_port, "mgmt_address": "127.0.0.1", "mgmt_port": $(free_port SOCK_STREAM),
 "flushInterval": 10000, "backends": ["statsd-librato-backend"], "keyNameSanitize": false, "deleteIdleStats": true,
 "librato": {"email": "$LIBRATO_USER", "token": "$LIBRATO_TOKEN", "api": "$LIBRATO_URL", "tags": {"host": "bench"}}}
JSON
NODE_PATH="$modules" node "$modules/statsd/bin/statsd" "$work/statsd.json" >"$work/node.out" 2>&1 &
node_pid=$!
pids+=($node_pid)
wait_udp "$node_port"

echo "commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo -dirty); $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "packets: $packets, one line of 3 tags each; rate: $rate/s"
ours="$("$work/statsdload" -addr "127.0.0.1:$ours_port" -pid "$ours_pid" -packets "$packets" -rate "$rate")"
echo "librato statsd:          $ours"
theirs="$("$work/statsdload" -addr "127.0.0.1:$node_port" -pid "$node_pid" -packets "$packets" -rate "$rate")"
echo "node statsd + backend:   $theirs"
fast="$("$work/statsdload" -addr "127.0.0.1:$ours_port" -pid "$ours_pid" -packets "$packets" -rate 0)"
echo "librato statsd, rate 0:  $fast"
per_cpu() { sed -E 's/.*pkts_per_cpu_s=([0-9]+).*/\1/' <<<"$1"; }
awk -v a="$(per_cpu "$ours")" -v b="$(per_cpu "$theirs")" 'BEGIN { printf "packets per CPU-second, librato statsd / node statsd: %.1fx\n", a / b }'
