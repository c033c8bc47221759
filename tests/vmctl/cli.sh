#!/bin/sh
# vmctl end to end against a real vmsupd (started here on a private socket
# and directories, stopped by the trap): lifecycle on guest-less VMs, the
# error and usage contracts, the event stream; with the test guest also
# exec over ssh and the agent, and run.
set -u
b=${top_builddir:-.}
VMCTL=$b/src/vmctl
VMSUPD=$b/src/vmsupd
[ -x "$VMCTL" ] || { echo "SKIP: $VMCTL not built"; exit 77; }
[ -x "$VMSUPD" ] || { echo "SKIP: $VMSUPD not built"; exit 77; }
command -v qemu-system-x86_64 >/dev/null || { echo "SKIP: no qemu"; exit 77; }

tmp=$(mktemp -d /tmp/vmctl-cli.XXXXXX) || exit 99
chmod 700 "$tmp"
dpid=
fails=0

cleanup() {
	for p in $(jobs -p); do [ "$p" = "$dpid" ] || kill "$p" 2>/dev/null; done
	if [ -n "$dpid" ]; then
		kill -TERM "$dpid" 2>/dev/null
		# Bounded: the daemon stops its VMs within its grace period.
		i=0
		while kill -0 "$dpid" 2>/dev/null && [ $i -lt 600 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		kill -KILL "$dpid" 2>/dev/null
		wait "$dpid" 2>/dev/null
	fi
	[ $fails -eq 0 ] || { echo "--- vmsupd log"; tail -30 "$tmp/vmsupd.log"; }
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}
ok() { echo "ok: $*"; }

# expect STATUS DESCRIPTION -- vmctl args...: runs vmctl, output in $out/$err.
expect() {
	want=$1 what=$2
	shift 3
	"$VMCTL" "$@" >"$tmp/out" 2>"$tmp/err"
	got=$?
	out=$(cat "$tmp/out")
	err=$(cat "$tmp/err")
	if [ "$got" -ne "$want" ]; then
		fail "$what: exit $got, want $want (vmctl $*): $err"
		return 1
	fi
	ok "$what"
}

state_of() { "$VMCTL" -o json status "$1" | jq -r .state; }

guest=${VMSUP_GUEST_DIR:-}
[ -n "$guest" ] && [ -f "$guest/vmlinuz" ] || guest=
[ -z "$guest" ] && [ -f /tmp/guest-ready ] && [ -f /tmp/guest/vmlinuz ] && guest=/tmp/guest

{
	echo "stop_grace_s = 10"
	if [ -n "$guest" ]; then
		echo "default_kernel = $guest/vmlinuz"
		echo "default_initrd = $guest/initrd.img"
		echo "default_append = $(cat "$guest/append" 2>/dev/null || echo console=ttyS0)"
	fi
} >"$tmp/vmsupd.conf"
sock=$tmp/api.sock
"$VMSUPD" -f -c "$tmp/vmsupd.conf" --socket "$sock" --state-dir "$tmp/state" \
	--run-dir "$tmp/run" 2>"$tmp/vmsupd.log" &
dpid=$!
i=0
while [ ! -S "$sock" ] && [ $i -lt 300 ]; do
	kill -0 "$dpid" 2>/dev/null || { fails=1; echo "FAIL: vmsupd exited"; exit 1; }
	sleep 0.1
	i=$((i + 1))
done
[ -S "$sock" ] || { fails=1; echo "FAIL: vmsupd did not open $sock"; exit 1; }
export VMSUP_SOCKET="$sock"

# --- contracts that need no VM
expect 0 "version" -- version && echo "$out" | grep -q '^vmsupd ' || fail "version text: $out"
expect 2 "unknown command" -- frobnicate
expect 2 "create without name" -- create
expect 2 "bad option" -- list --nope
expect 0 "--help" -- --help && echo "$out" | grep -q 'exec NAME' || fail "--help lists exec"
for c in create list status start pause resume stop kill destroy memory cpu ip exec run qmp \
	events metrics version; do
	"$VMCTL" "$c" --help >"$tmp/out" 2>&1 && grep -q "^usage: vmctl .*$c" "$tmp/out" ||
		fail "$c --help"
done
expect 1 "status of a missing VM" -- status nosuch &&
	[ "$(echo "$err" | wc -l)" -eq 1 ] && echo "$err" | grep -q '^vmctl: nosuch: ' ||
	fail "error line format: $err"
expect 1 "unreachable daemon" -- --socket "$tmp/none.sock" list &&
	echo "$err" | grep -q "^vmctl: list: cannot connect" || fail "unreachable message: $err"
VMSUP_SOCKET=$tmp/none.sock "$VMCTL" --socket "$sock" list >/dev/null 2>&1 ||
	fail "--socket must win over \$VMSUP_SOCKET"

# --- lifecycle on a guest-less VM
"$VMCTL" -o json events a >"$tmp/events" 2>"$tmp/events.err" &
epid=$!
expect 0 "create guest-less" -- create a --no-guest --mem 64 --accel tcg
[ "$(state_of a)" = running ] || fail "a not running after create"
pid=$("$VMCTL" -o json status a | jq -r .pid)
[ -d "/proc/$pid" ] || fail "qemu pid $pid of a not alive"
expect 0 "list" -- list && echo "$out" | grep -q '^a  *running' || fail "list text: $out"
expect 0 "list json" -- -o json list &&
	[ "$(echo "$out" | jq -r '.vms[] | select(.name=="a") | .state')" = running ] ||
	fail "list json: $out"
expect 1 "duplicate create" -- create a --no-guest && echo "$err" | grep -q '^vmctl: a: ' ||
	fail "duplicate message: $err"
expect 0 "pause" -- pause a
expect 0 "qmp passthrough" -- qmp a '{"execute":"query-status"}' &&
	[ "$(echo "$out" | jq -r .return.status)" = paused ] || fail "qmp says: $out"
[ "$(state_of a)" = paused ] || fail "a not paused"
expect 1 "pause twice is a conflict" -- pause a
expect 0 "resume" -- resume a
[ "$(state_of a)" = running ] || fail "a not running after resume"
expect 0 "status text" -- status a && echo "$out" | grep -q '^state  *running' ||
	fail "status text: $out"
expect 0 "kill" -- kill a
[ -d "/proc/$pid" ] && sleep 1
[ -d "/proc/$pid" ] && fail "qemu $pid still alive after kill"
expect 0 "destroy" -- destroy a
expect 1 "status after destroy" -- status a
"$VMCTL" -o json list | jq -e '.vms | map(select(.name=="a")) | length == 0' >/dev/null ||
	fail "a still listed"
expect 0 "create --no-start" -- create b --no-guest --no-start
[ "$(state_of b)" = defined ] || fail "b not defined"
expect 0 "start" -- start b
[ "$(state_of b)" = running ] || fail "b not running after start"
expect 0 "destroy running" -- destroy b
i=0
while ! grep -q '"paused"' "$tmp/events" && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
grep -q '"paused"' "$tmp/events" || fail "event stream showed no pause of a"
grep -q '"vm": *"b"' "$tmp/events" && fail "events a showed b"
kill "$epid" 2>/dev/null
wait "$epid" 2>/dev/null

# --- with the test guest
if [ -z "$guest" ]; then
	echo "SKIP (part): no test guest (VMSUP_GUEST_DIR or /tmp/guest)"
else
	key=$guest/test_key
	expect 0 "create guest" -- create g --accel tcg --mem 256
	expect 0 "ip --wait" -- ip g --wait 120
	# Hostile arguments come back exactly, nothing of them runs.
	rm -f "$tmp/pwned"
	"$VMCTL" exec g --via ssh --ssh-key "$key" -- printf '%s\n' "a b" "'" '$HOME' \
		"; touch $tmp/pwned" '`id`' 'x
y' 'back\slash' '' >"$tmp/out" 2>"$tmp/err"
	rc=$?
	printf '%s\n' "a b" "'" '$HOME' "; touch $tmp/pwned" '`id`' 'x
y' 'back\slash' '' >"$tmp/want"
	[ $rc -eq 0 ] && cmp -s "$tmp/out" "$tmp/want" || fail "exec ssh hostile args ($rc): $(cat "$tmp/err")"
	[ -e "$tmp/pwned" ] && fail "injection"
	expect 3 "exec ssh exit status" -- exec g --ssh-key "$key" -- sh -c 'exit 3'
	expect 137 "exec ssh signal" -- exec g --ssh-key "$key" -- sh -c 'kill -9 $$'
	echo "from stdin" | "$VMCTL" exec g --ssh-key "$key" -- cat >"$tmp/out" 2>&1
	[ "$(cat "$tmp/out")" = "from stdin" ] || fail "exec stdin: $(cat "$tmp/out")"
	expect 3 "exec agent exit status" -- exec g --via agent -- sh -c 'echo o; echo e >&2; exit 3' &&
		[ "$out" = o ] && [ "$err" = e ] || fail "exec agent streams: $out / $err"
	expect 0 "destroy guest" -- destroy g --timeout 5

	expect 7 "run exit status" -- -q run --accel tcg --ssh-key "$key" -- \
		sh -c 'echo out; echo err >&2; exit 7' &&
		[ "$out" = out ] && [ "$err" = err ] || fail "run streams: '$out' / '$err'"
	"$VMCTL" -o json list | jq -e '.vms | length == 0' >/dev/null || fail "run left a VM"
	mkdir "$tmp/share"
	echo host >"$tmp/share/from-host"
	expect 0 "run with share, workdir, env" -- -q run --accel tcg --ssh-key "$key" \
		--share "$tmp/share" --workdir "$tmp/share" --env "V=it's \$x" -- \
		sh -c 'cat from-host; printf "%s" "$V" >from-guest'
	[ "$out" = host ] || fail "guest read the host file: $out"
	[ "$(cat "$tmp/share/from-guest" 2>/dev/null)" = "it's \$x" ] || fail "file from the guest"

	# SIGTERM mid-task: the command stops, the VM goes, exit 143.
	"$VMCTL" -q run --name r1 --accel tcg --ssh-key "$key" -- sleep 300 >/dev/null 2>&1 &
	rpid=$!
	"$VMCTL" ip r1 --wait 120 >/dev/null 2>&1 || fail "r1 got no address"
	sleep 3
	kill -TERM "$rpid"
	wait "$rpid"
	rc=$?
	[ $rc -eq 143 ] || fail "run after SIGTERM exited $rc, want 143"
	"$VMCTL" status r1 >/dev/null 2>&1 && fail "r1 still exists after SIGTERM"
fi

[ $fails -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "all passed"
