# Shared by the live tests: start a private vmsupd (own socket, state and
# run dirs) from the build tree, talk to it with curl, and tear it down on
# exit, also on failure, leaving no qemu behind. Sourced, not run.

srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
builddir=${top_builddir:-.}
VMSUPD=${VMSUPD:-$builddir/src/daemon/vmsupd}
VMCTL=${VMCTL:-$builddir/src/cli/vmctl}
SCRIPTS=$srcdir/scripts
# the ops scripts as make generated them (scripts/*.in)
OPS=$builddir/scripts

live_dir=
live_pid=

live_fail()
{
	echo "FAIL: $*" >&2
	exit 1
}

# Kill what the daemon left: every qemu pidfile under our run dir, then the
# daemon. Only PIDs this test started (through its daemon) are touched.
live_teardown()
{
	rc=$?
	if [ -n "$live_pid" ] && kill -0 "$live_pid" 2>/dev/null; then
		kill -TERM "$live_pid" 2>/dev/null
		i=0
		while kill -0 "$live_pid" 2>/dev/null && [ $i -lt 300 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		kill -KILL "$live_pid" 2>/dev/null
		wait "$live_pid" 2>/dev/null
	fi
	if [ -n "$live_dir" ] && [ -d "$live_dir" ]; then
		for pf in $(find "$live_dir" -name '*.pid' 2>/dev/null); do
			p=$(cat "$pf" 2>/dev/null)
			case $p in
			'' | *[!0-9]*) continue ;;
			esac
			# only a qemu whose command line names our private run dir
			if tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -- "$live_dir"; then
				echo "teardown: killing leftover qemu $p" >&2
				kill -KILL "$p" 2>/dev/null
			fi
		done
		if [ $rc -ne 0 ] && [ $rc -ne 77 ] && [ -f "$live_dir/vmsupd.log" ]; then
			echo "--- vmsupd log (tail) ---" >&2
			tail -n 40 "$live_dir/vmsupd.log" >&2
		fi
		rm -rf "$live_dir"
	fi
	exit $rc
}

# live_start: exit 77 (skip) when vmsupd is not built yet.
live_start()
{
	if [ ! -x "$VMSUPD" ]; then
		echo "SKIP: $VMSUPD not built yet"
		exit 77
	fi
	command -v curl >/dev/null 2>&1 || { echo "SKIP: curl missing"; exit 77; }
	# short path: unix socket paths are limited to 108 bytes
	live_dir=$(mktemp -d /tmp/vmops-XXXXXX) || exit 1
	chmod 700 "$live_dir"
	trap live_teardown EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	mkdir -p "$live_dir/state" "$live_dir/run"
	# as root the daemon runs qemu as qemu_user's default user
	[ "$(id -u)" != 0 ] || sh "$SCRIPTS/mkuser-qemu" || live_fail "scripts/mkuser-qemu failed"
	echo "# private test instance: built-in defaults" >"$live_dir/vmsupd.conf"
	# a test's own settings (a test guest as the default kernel ...)
	[ -z "${LIVE_CONF:-}" ] || printf '%s\n' "$LIVE_CONF" >>"$live_dir/vmsupd.conf"
	SOCK=$live_dir/api.sock
	if [ -n "${LIVE_SOCKET_IN_CONFIG:-}" ]; then
		# the socket only in the config, which clients find through
		# $VMSUP_CONFIG: quoted, with a '#' kept by the quotes and an
		# earlier socket line the later one overrides
		SOCK="$live_dir/api#1.sock"
		printf '%s\n' "socket = $live_dir/overridden.sock  # the last one wins" \
			"  socket=\"$SOCK\"" >>"$live_dir/vmsupd.conf"
		unset VMSUP_SOCKET
		export VMSUP_CONFIG=$live_dir/vmsupd.conf
		set -- -c "$live_dir/vmsupd.conf"
	else
		export VMSUP_SOCKET=$SOCK
		set -- -c "$live_dir/vmsupd.conf" --socket "$SOCK"
	fi
	"$VMSUPD" -f "$@" --state-dir "$live_dir/state" --run-dir "$live_dir/run" \
		>"$live_dir/vmsupd.log" 2>&1 &
	live_pid=$!
	i=0
	until curl -sf --max-time 2 --unix-socket "$SOCK" http://localhost/v1/version >/dev/null 2>&1; do
		kill -0 "$live_pid" 2>/dev/null || live_fail "vmsupd exited at start-up"
		[ $i -lt 300 ] || live_fail "vmsupd did not answer within 30 s"
		sleep 0.1
		i=$((i + 1))
	done
}

# api METHOD PATH [JSON]: body on stdout, HTTP status in $api_status.
api()
{
	api_out=$live_dir/api.out
	if [ $# -ge 3 ]; then
		api_status=$(curl -s --max-time 120 --unix-socket "$SOCK" -X "$1" \
			-H 'Content-Type: application/json' --data "$3" \
			-o "$api_out" -w '%{http_code}' "http://localhost$2")
	else
		api_status=$(curl -s --max-time 120 --unix-socket "$SOCK" -X "$1" \
			-o "$api_out" -w '%{http_code}' "http://localhost$2")
	fi
	cat "$api_out"
}

# A guest-less VM (no kernel, no disk): QEMU and its QMP sockets only.
create_guestless()
{
	api POST /v1/vms "{\"name\":\"$1\",\"guest\":false,\"mem_mib\":${2:-128},\"accel\":\"tcg\"}" >/dev/null
	[ "$api_status" = 201 ] || live_fail "creating $1: HTTP $api_status: $(cat "$api_out")"
	state=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["state"])' "$api_out")
	[ "$state" = running ] || live_fail "$1 is $state, not running: $(cat "$api_out")"
}

# json_get FILE EXPR: print a Python expression over the JSON as "d".
json_get()
{
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}
