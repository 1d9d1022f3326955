#!/usr/bin/env bash
# stripe-mock.sh: Stripe's official API mock (github.com/stripe/stripe-mock,
# MIT), pinned, for the contract tests of package stripe. It installs the
# pinned version into $(go env GOPATH)/bin when that is missing or another
# version, and runs it on 127.0.0.1 only.
#
#   scripts/stripe-mock.sh start [PORT]  start in the background (default
#                                        port 12111), wait until it listens,
#                                        print its URL on stdout and nothing
#                                        else; its log and PID file are in
#                                        ${TMPDIR:-/tmp}
#   scripts/stripe-mock.sh stop [PORT]   stop the one started for PORT
#   scripts/stripe-mock.sh run [PORT]    run in the foreground
#   scripts/stripe-mock.sh install       only install
#
# In CI:
#   export EVBILL_TEST_STRIPE_MOCK_URL=$(scripts/stripe-mock.sh start 12111)
#   trap 'scripts/stripe-mock.sh stop 12111' EXIT
#
# stripe-mock opens an HTTPS listener on every interface unless told
# otherwise, even when given -http-addr; it is given one on 127.0.0.1 at a
# port the system picks, which nothing here uses.
set -euo pipefail

version=v0.203.0
module=github.com/stripe/stripe-mock

cmd=${1:-start}
port=${2:-12111}
if ! [[ "$port" =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
	echo "stripe-mock.sh: port '$port' is not a TCP port" >&2
	exit 2
fi

gobin=$(go env GOBIN)
if [[ -z "$gobin" ]]; then
	gopath=$(go env GOPATH)
	gobin=${gopath%%:*}/bin
fi
bin=$gobin/stripe-mock
state=${TMPDIR:-/tmp}/evbill-stripe-mock-$port
pidfile=$state.pid
logfile=$state.log
url=http://127.0.0.1:$port

# installed_version prints the module version the binary was built from,
# which `go install module@version` records in it.
installed_version() {
	go version -m "$bin" 2>/dev/null | awk '$1 == "mod" { print $3; exit }'
}

install() {
	if [[ -x "$bin" && "$(installed_version)" == "$version" ]]; then
		return
	fi
	echo "stripe-mock.sh: installing $module@$version into $gobin" >&2
	GOBIN=$gobin go install "$module@$version" >&2
}

# running is true when the PID file names a live stripe-mock (not another
# process that was given the same PID later).
running() {
	local pid
	[[ -f "$pidfile" ]] || return 1
	pid=$(cat "$pidfile")
	kill -0 "$pid" 2>/dev/null || return 1
	if [[ -r /proc/$pid/comm ]]; then
		[[ "$(cat "/proc/$pid/comm")" == stripe-mock ]] || return 1
	fi
}

case "$cmd" in
install)
	install
	;;
run)
	install
	exec "$bin" -http-addr "127.0.0.1:$port" -https-addr 127.0.0.1:0
	;;
start)
	install
	if running; then
		echo "stripe-mock.sh: already running for port $port (pid $(cat "$pidfile"))" >&2
		echo "$url"
		exit 0
	fi
	: >"$logfile"
	# Detached from this script's stdout, so that $(...) around it returns.
	"$bin" -http-addr "127.0.0.1:$port" -https-addr 127.0.0.1:0 >"$logfile" 2>&1 </dev/null &
	pid=$!
	echo "$pid" >"$pidfile"
	for _ in $(seq 1 300); do
		if grep -q '^Listening for HTTP at address' "$logfile"; then
			echo "stripe-mock.sh: stripe-mock $version pid $pid at $url, log $logfile" >&2
			echo "$url"
			exit 0
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			break
		fi
		sleep 0.1
	done
	echo "stripe-mock.sh: stripe-mock did not start on 127.0.0.1:$port:" >&2
	cat "$logfile" >&2
	kill "$pid" 2>/dev/null || true
	rm -f "$pidfile"
	exit 1
	;;
stop)
	if running; then
		pid=$(cat "$pidfile")
		kill "$pid"
		for _ in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
	fi
	rm -f "$pidfile"
	;;
*)
	echo "usage: scripts/stripe-mock.sh start|stop|run [PORT] | install" >&2
	exit 2
	;;
esac
