#!/bin/sh
# vmctl end to end against a real vmsupd (started here on a private socket
# and directories, stopped by the trap): lifecycle on guest-less VMs, the
# error and usage contracts, the event stream; with the test guest also
# exec over ssh and the agent, and run.
set -u
b=${top_builddir:-.}
VMCTL=$b/src/cli/vmctl
VMSUPD=$b/src/daemon/vmsupd
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
	# the cleanup's SIGTERM takes the VMs down with the daemon
	echo "on_exit = stop"
	if [ -n "$guest" ]; then
		echo "default_kernel = $guest/vmlinuz"
		echo "default_initrd = $guest/initrd.img"
		echo "default_append = $(cat "$guest/append" 2>/dev/null || echo console=ttyS0)"
	fi
} >"$tmp/vmsupd.conf"
sock=$tmp/api.sock
# as root the daemon runs qemu as qemu_user's default user
[ "$(id -u)" != 0 ] || sh "${top_srcdir:-$(dirname "$0")/../..}/scripts/mkuser-qemu" || exit 1
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

# A stream for a VM that does not exist: 404 and exit 1 at once (it used to
# answer 200 and wait forever: bounded here, 124 is still waiting).
timeout 10 "$VMCTL" events nosuch --socket "$sock" >/dev/null 2>"$tmp/err"
rc=$?
[ $rc -eq 1 ] && grep -q "^vmctl: nosuch: no VM named 'nosuch'" "$tmp/err" &&
	ok "events of a missing VM" || fail "events nosuch: exit $rc: $(cat "$tmp/err")"

# --- lifecycle on a guest-less VM (--mem with a unit)
expect 0 "create guest-less" -- create a --no-guest --mem 64M --accel tcg
[ "$(state_of a)" = running ] || fail "a not running after create"
[ "$("$VMCTL" -o json status a | jq -r .mem_mib)" = 64 ] || fail "--mem 64M is not 64 MiB"
"$VMCTL" -o json events a >"$tmp/events" 2>"$tmp/events.err" &
epid=$!
# global options after the command, before "--"
expect 0 "status NAME -o json" -- status a -o json &&
	[ "$(echo "$out" | jq -r .name)" = a ] || fail "status a -o json: $out"
expect 0 "list -q: names only" -- list -q && [ "$out" = a ] || fail "list -q: $out"
expect 0 "status shows created in UTC" -- status a &&
	echo "$out" | grep -Eq '^created  *[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} UTC$' ||
	fail "status created: $(echo "$out" | grep created)"
expect 2 "--mem above the daemon's limit" -- create big --no-guest --mem 1025G
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
expect 0 "qmp bare command name" -- qmp a query-status &&
	[ "$(echo "$out" | jq -r .return.status)" = paused ] || fail "qmp query-status: $out"
[ "$(state_of a)" = paused ] || fail "a not paused"
expect 1 "pause twice is a conflict" -- pause a
expect 0 "resume" -- resume a
[ "$(state_of a)" = running ] || fail "a not running after resume"
expect 0 "status text" -- status a && echo "$out" | grep -q '^state  *running' ||
	fail "status text: $out"
# null through vmctl: --pin '' (every CPU again), --quota none (no quota)
expect 0 "cpu --pin ''" -- cpu a --pin ''
if "$VMCTL" cpu a --quota 50 >/dev/null 2>"$tmp/err"; then
	expect 0 "cpu --quota none" -- cpu a --quota none &&
		[ "$("$VMCTL" -o json status a | jq -r .cpu_quota_pct)" = null ] ||
		fail "quota left after --quota none"
else
	echo "SKIP (part): --quota none (no CPU quota here: $(cat "$tmp/err"))"
fi
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
# Every vmctl that boots a guest is bounded; on expiry timeout(1) sends
# SIGTERM, which vmctl answers by destroying its VM.
T="timeout 300"

# qemu processes of this test (daemon's or in-process), by their paths.
our_qemu() { pgrep -f "qemu-system.*$tmp/" 2>/dev/null; }

# runs STATUS DESCRIPTION -- vmctl run args...: like expect, bounded, with
# the ssh key option when needed and $RUNENV in the environment.
RUNENV=
runs() {
	want=$1 what=$2
	shift 3
	# shellcheck disable=SC2086 # RUNENV: NAME=VALUE words without spaces
	$T env $RUNENV "$VMCTL" -q run --accel tcg --mem 256 $keyopt "$@" \
		>"$tmp/out" 2>"$tmp/err"
	got=$?
	out=$(cat "$tmp/out")
	err=$(cat "$tmp/err")
	if [ "$got" -ne "$want" ]; then
		fail "$what: exit $got, want $want (vmctl run $*): $err"
		return 1
	fi
	ok "$what"
}

no_vm_left() {
	"$VMCTL" -o json list | jq -e '.vms | length == 0' >/dev/null || fail "$1: a VM is left"
	[ -z "$(our_qemu)" ] || fail "$1: qemu left: $(our_qemu)"
}

if [ -z "$guest" ]; then
	echo "SKIP (part): no test guest (VMSUP_GUEST_DIR or /tmp/guest)"
else
	expect 0 "create guest" -- create g --accel tcg --mem 256
	# The agent path (issue 5): the daemon reports the address and the key
	# it injected. Without it, the guest's baked test key and the ssh port.
	agent=
	"$VMCTL" ip g --wait 120 >/dev/null 2>"$tmp/err" && agent=1
	sshkey=$("$VMCTL" -o json status g | jq -r '.ssh_key // empty')
	if [ -n "$agent" ] && [ -n "$sshkey" ] && [ -r "$sshkey" ]; then
		keyopt=
		echo "info: ssh key: the supervisor's, injected by the agent ($sshkey)"
	else
		keyopt="--ssh-key $guest/test_key"
		echo "info: ssh key: the guest's baked test_key (no agent-injected key:" \
			"$(cat "$tmp/err"))"
	fi
	# Up when ssh answers (bounded: the machine is loaded, TCG boots are slow).
	i=0
	until "$VMCTL" exec g --via ssh $keyopt -- true 2>"$tmp/err"; do
		i=$((i + 1))
		[ $i -lt 40 ] || break
		sleep 3
	done
	[ $i -lt 40 ] || fail "ssh into g never worked: $(cat "$tmp/err")"
	# Hostile arguments come back exactly, nothing of them runs.
	rm -f "$tmp/pwned"
	hostile() {
		printf '%s\n' "a b" "'" '"' '$HOME' "; touch $tmp/pwned" '`id`' '$(id)' 'x
y' 'back\slash' '' '*' "tab	x"
	}
	hostile >"$tmp/want"
	"$VMCTL" exec g --via ssh $keyopt -- printf '%s\n' "a b" "'" '"' '$HOME' \
		"; touch $tmp/pwned" '`id`' '$(id)' 'x
y' 'back\slash' '' '*' "tab	x" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ $rc -eq 0 ] && cmp -s "$tmp/out" "$tmp/want" &&
		ok "exec ssh hostile args" || fail "exec ssh hostile args ($rc): $(cat "$tmp/err")"
	[ -e "$tmp/pwned" ] && fail "injection"
	expect 3 "exec ssh exit status" -- exec g $keyopt -- sh -c 'exit 3'
	expect 137 "exec ssh signal" -- exec g $keyopt -- sh -c 'kill -9 $$'
	echo "from stdin" | "$VMCTL" exec g $keyopt -- cat >"$tmp/out" 2>&1
	[ "$(cat "$tmp/out")" = "from stdin" ] && ok "exec stdin" ||
		fail "exec stdin: $(cat "$tmp/out")"
	if [ -n "$agent" ]; then
		expect 3 "exec agent exit status" -- exec g --via agent -- \
			sh -c 'echo o; echo e >&2; exit 3' &&
			[ "$out" = o ] && [ "$err" = e ] || fail "exec agent streams: $out / $err"
	else
		echo "SKIP (part): exec --via agent (the daemon has no guest agent)"
	fi
	expect 0 "destroy guest" -- destroy g --timeout 5
	no_vm_left "destroy guest"

	runs 7 "run exit status" -- sh -c 'echo out; echo err >&2; exit 7' &&
		{ [ "$out" = out ] && [ "$err" = err ] || fail "run streams: '$out' / '$err'"; }
	no_vm_left "run"

	# Hostile arguments and environment values reach the task exactly.
	rm -f "$tmp/pwned"
	hostile >"$tmp/want"
	hv="it's \"q\" \$HOME; touch $tmp/pwned \`id\` \$(id)
line2 \\ *"
	runs 0 "run hostile args and env" -- --env "HV=$hv" --env "E=" -- \
		sh -c 'printf "%s\n" "$@"; printf "[%s][%s]" "$HV" "${E-unset}" >&2' sh \
		"a b" "'" '"' '$HOME' "; touch $tmp/pwned" '`id`' '$(id)' 'x
y' 'back\slash' '' '*' "tab	x"
	cmp -s "$tmp/out" "$tmp/want" || fail "run hostile args: $(cat "$tmp/out")"
	[ "$err" = "[$hv][]" ] || fail "run hostile env: $err"
	[ -e "$tmp/pwned" ] && fail "run injection"

	runs 137 "run task killed by SIGKILL" -- sh -c 'kill -9 $$'

	mkdir "$tmp/share"
	echo host >"$tmp/share/from-host"
	runs 0 "run with share, workdir, env" -- --share "$tmp/share" --workdir "$tmp/share" \
		--env "V=it's \$x" -- sh -c 'pwd; cat from-host; printf "%s" "$V" >from-guest'
	[ "$out" = "$tmp/share
host" ] || fail "guest in the workdir, read the host file: $out"
	[ "$(cat "$tmp/share/from-guest" 2>/dev/null)" = "it's \$x" ] && ok "file from the guest" ||
		fail "file from the guest: $(cat "$tmp/share/from-guest" 2>&1)"

	# SIGTERM mid-task: the command stops, the VM goes, exit 143.
	mkdir "$tmp/s2"
	$T "$VMCTL" -q run --name r1 --accel tcg --mem 256 $keyopt --share "$tmp/s2" \
		--workdir "$tmp/s2" -- sh -c 'touch started; sleep 300' >/dev/null 2>&1 &
	rpid=$!
	i=0
	while [ ! -e "$tmp/s2/started" ] && [ $i -lt 1500 ]; do
		sleep 0.2
		i=$((i + 1))
	done
	[ -e "$tmp/s2/started" ] || fail "r1's task never started"
	kill -TERM "$rpid"
	wait "$rpid"
	rc=$?
	[ $rc -eq 143 ] && ok "run after SIGTERM: 143" || fail "run after SIGTERM exited $rc, want 143"
	"$VMCTL" status r1 >/dev/null 2>&1 && fail "r1 still exists after SIGTERM"
	no_vm_left "SIGTERM"

	# qemu killed mid-boot: run notices within 2 s and names the reason
	# (it used to retry ssh until its timeout).
	$T "$VMCTL" -q run --name r3 --accel tcg --mem 256 $keyopt -- true \
		>/dev/null 2>"$tmp/r3.err" &
	rpid=$!
	i=0
	while [ "$(state_of r3 2>/dev/null)" != running ] && [ $i -lt 300 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	qpid=$(pgrep -f "qemu-system.*guest=r3 .*$tmp/" | head -1)
	if [ -z "$qpid" ]; then
		fail "r3's qemu never ran"
	else
		sleep 1
		t0=$(date +%s%N)
		kill -KILL "$qpid"
		wait "$rpid"
		rc=$?
		ms=$((($(date +%s%N) - t0) / 1000000))
		[ $rc -ne 0 ] || fail "run of a killed VM exited 0"
		[ $ms -lt 2000 ] && ok "run failed ${ms} ms after its qemu was killed" ||
			fail "run took ${ms} ms to notice its qemu was killed"
		grep -q "crashed.*signal 9" "$tmp/r3.err" && ok "run names the reason" ||
			fail "run's reason: $(cat "$tmp/r3.err")"
	fi
	no_vm_left "killed qemu"

	# Progress on a terminal (script(1) gives vmctl one), none with -q.
	if script -qec true /dev/null >/dev/null 2>&1; then
		$T script -qec "$VMCTL run --accel tcg --mem 256 $keyopt -- true" /dev/null \
			>"$tmp/tty" 2>&1
		rc=$?
		for w in spawned running "done, exit 0"; do
			grep -q "^vmctl run: .*s $w" "$tmp/tty" || fail "progress lacks '$w'"
		done
		[ $rc -eq 0 ] && ok "progress on a tty" || fail "run on a tty exited $rc"
		$T script -qec "$VMCTL -q run --accel tcg --mem 256 $keyopt -- true" /dev/null \
			>"$tmp/tty" 2>&1
		grep -q "^vmctl run:" "$tmp/tty" && fail "-q still shows progress"
	else
		echo "SKIP (part): progress on a tty (no util-linux script)"
	fi

	# No daemon: vmctl runs its own supervisor for the command, in a
	# private dir under $TMPDIR, and leaves nothing behind.
	mkdir "$tmp/t"
	# the file's on_exit left at its default (keep): the in-process
	# supervisor stops its VMs on exit all the same
	grep -v '^on_exit' "$tmp/vmsupd.conf" >"$tmp/inproc.conf"
	RUNENV="VMSUP_SOCKET=$tmp/nodaemon.sock VMSUP_CONFIG=$tmp/inproc.conf TMPDIR=$tmp/t"
	runs 7 "in-process run (no daemon)" -- sh -c 'echo out; echo err >&2; exit 7' &&
		{ [ "$out" = out ] && [ "$err" = err ] || fail "in-process streams: '$out' / '$err'"; }
	[ -z "$(ls -A "$tmp/t")" ] || fail "in-process left $(ls -A "$tmp/t")"
	[ -z "$(our_qemu)" ] || fail "in-process left qemu: $(our_qemu)"
	# shellcheck disable=SC2086
	$T env $RUNENV "$VMCTL" -q run --accel tcg --mem 256 $keyopt --share "$tmp/s2" \
		--workdir "$tmp/s2" -- sh -c 'touch started2; sleep 300' >/dev/null 2>&1 &
	rpid=$!
	i=0
	while [ ! -e "$tmp/s2/started2" ] && [ $i -lt 1500 ]; do
		sleep 0.2
		i=$((i + 1))
	done
	kill -TERM "$rpid"
	wait "$rpid"
	rc=$?
	[ $rc -eq 143 ] && ok "in-process run after SIGTERM: 143" ||
		fail "in-process run after SIGTERM exited $rc, want 143"
	[ -z "$(ls -A "$tmp/t")" ] || fail "in-process (SIGTERM) left $(ls -A "$tmp/t")"
	[ -z "$(our_qemu)" ] || fail "in-process (SIGTERM) left qemu: $(our_qemu)"

	RUNENV=
	# The slowest part: 4 runs at once on the 2-core machine. Four TCG
	# boots at once (beside other tests) can take minutes: give the guests
	# time to come up; the point is that all four succeed.
	cfails=$fails
	for n in 1 2 3 4; do
		timeout 900 "$VMCTL" -q run --accel tcg --mem 256 --timeout 600 $keyopt -- echo "run $n" \
			>"$tmp/c$n.out" 2>"$tmp/c$n.err" &
		eval "cpid$n=\$!"
	done
	for n in 1 2 3 4; do
		eval "wait \$cpid$n"
		rc=$?
		[ $rc -eq 0 ] && [ "$(cat "$tmp/c$n.out")" = "run $n" ] ||
			fail "concurrent run $n: exit $rc: $(cat "$tmp/c$n.out" "$tmp/c$n.err")"
	done
	[ $fails -eq $cfails ] && ok "4 concurrent runs"
	no_vm_left "concurrent runs"
fi

[ $fails -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "all passed"
