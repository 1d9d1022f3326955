#!/usr/bin/env bash
# loadtest.sh: evbill serve and evbill simulate in separate processes, for
# the OCPP benchmarks of the README. It builds the binary, starts a server
# on a fresh database (SQLite in a temporary directory, or PostgreSQL when
# EVBILL_DATABASE_URL is set), creates a site under the example tariff
# through the API, runs the simulator with the arguments given, prints its
# JSON summary and the server's resource use, and stops the server.
# EVBILL_BIN runs a binary built before instead (to compare two builds);
# SERVE_GOMEMLIMIT sets the server's soft memory limit alone; PPROF_ADDR and
# SIM_PPROF_ADDR serve the server's and the simulator's profiles; SERVER_LOG
# keeps the server's log at that path.
#
#   scripts/loadtest.sh --chargers 500 --samples-per-session 3 --chaos=false --duration 60s
#   scripts/loadtest.sh --chargers 19900 --meter-interval 60s --chaos=false --duration 5m --connect-rate 300
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; if [[ -n "${SERVER_LOG:-}" ]]; then cp "$work/log" "$SERVER_LOG"; fi; rm -rf "$work"' EXIT
if [[ -n "${EVBILL_BIN:-}" ]]; then
	cp "$EVBILL_BIN" "$work/evbill"
else
	go build -o "$work/evbill" ./cmd/evbill
fi
port=${PORT:-18080}
ulimit -n "$(ulimit -Hn)"
GOMEMLIMIT=${SERVE_GOMEMLIMIT:-${GOMEMLIMIT:-}} EVBILL_PPROF_ADDR=${PPROF_ADDR:-} "$work/evbill" serve --addr "127.0.0.1:$port" --data "$work/data" >"$work/out" 2>"$work/log" &
server=$!
for _ in $(seq 100); do
	grep -q '^evb_' "$work/out" 2>/dev/null && break
	sleep 0.1
done
key=$(grep '^evb_' "$work/out")
api() { curl -sf -H "Authorization: Bearer $key" -H 'Content-Type: application/json' "$@"; }
site=$(api -d '{"name":"Load test","country":"NL","time_zone":"Europe/Amsterdam"}' "http://127.0.0.1:$port/api/v1/sites" | sed 's/^{"id":"\([^"]*\)".*/\1/')
tariff=$(api -d @examples/tariff.json "http://127.0.0.1:$port/api/v1/tariffs" | sed 's/^{"id":"\([^"]*\)".*/\1/')
api -d "{\"tariff_id\":\"$tariff\",\"site_id\":\"$site\"}" "http://127.0.0.1:$port/api/v1/tariff-assignments" >/dev/null
EVBILL_PPROF_ADDR=${SIM_PPROF_ADDR:-} "$work/evbill" simulate --url "ws://127.0.0.1:$port/ocpp" --api-key "$key" --site-id "$site" --json "$@" &
sim=$!
peak=0
cpu0=$(awk '{print $14+$15}' "/proc/$server/stat")
tick=0
while kill -0 "$sim" 2>/dev/null; do
	rss=$(awk '/VmRSS/{print $2}' "/proc/$server/status")
	((rss > peak)) && peak=$rss
	if ((tick++ % 10 == 0)); then
		# The last sample before the simulator stops: the steady state.
		last="RSS $((rss / 1024)) MiB, $(ls "/proc/$server/fd" | wc -l) open files, $(curl -s "http://127.0.0.1:$port/metrics" |
			awk '/^go_memstats_heap_inuse_bytes /{h=$2} /^go_goroutines /{g=$2} END{printf "Go heap in use %d MiB, %d goroutines", h/1048576, g}')"
	fi
	sleep 1
done
wait "$sim"
cpu1=$(awk '{print $14+$15}' "/proc/$server/stat")
echo "server: peak RSS $((peak / 1024)) MiB, CPU $(awk -v t="$((cpu1 - cpu0))" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.2f", t / hz}') s during the run; last sample: $last" >&2
# Paid sessions (simulate --pay-by): how many payments the worker captured
# while the simulator ran, and once it has caught up.
captured() { curl -s "http://127.0.0.1:$port/metrics" | awk '/^evbill_payments_moved_total\{to="captured"\}/{n=$2} END{printf "%d", n}'; }
atEnd=$(captured)
if ((atEnd > 0)); then
	t0=$(date +%s.%N)
	prev=-1 now=$atEnd
	while ((now != prev)); do
		sleep 2
		prev=$now now=$(captured)
	done
	echo "payments captured: $atEnd when the simulator stopped, $now once the worker caught up ($(awk -v s="$t0" -v e="$(date +%s.%N)" 'BEGIN{printf "%.0f", e - s - 2}') s later)" >&2
fi
