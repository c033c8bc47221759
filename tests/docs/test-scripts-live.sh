#!/bin/sh
# The ops scripts against a live, private vmsupd with guest-less VMs (and,
# when $VMSUP_GUEST_DIR holds the test guest, a booted guest under TCG for
# vm-ip and the balloon). Skips (77) while vmsupd is not built.
# The daemon's socket is named only in its config, which the scripts (and
# vmctl) find through $VMSUP_CONFIG: no --socket, no $VMSUP_SOCKET (issue 24).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/docs/live-lib.sh"
LIVE_SOCKET_IN_CONFIG=1
live_start

fail=0
bad()
{
	echo "FAIL: $*"
	fail=1
}
run()
{
	"$@" >"$live_dir/out" 2>"$live_dir/err"
	rc=$?
	out=$(cat "$live_dir/out")
	err=$(cat "$live_dir/err")
}

create_guestless ops-a 128
create_guestless ops-b 256

# each script reaches the daemon through the config alone (the runs below
# do too); a config naming a wrong socket gives one clear line and exit 1
[ -z "${VMSUP_SOCKET:-}" ] && grep -q '^  socket="' "$VMSUP_CONFIG" || bad "socket not only in the config"
wrong_conf=$live_dir/wrong.conf
printf 'socket = %s\n' "$live_dir/wrong.sock" >"$wrong_conf"
for args in "vm-ip --wait 0 ops-a" "vm-qmp ops-a query-status" "vm-top -n 1 -d 0.1" \
	"vm-balloon-all --dry-run 0.5"; do
	set -- $args
	run "$OPS/$@"
	[ $rc = 0 ] || [ "$1" = vm-ip ] || bad "$args with the socket from the config: $rc $err"
	case $1 in vm-ip | vm-qmp) who="$1: ops-a" ;; *) who=$1 ;; esac
	# vm-ip reaches the daemon, which says there is no agent
	[ "$1" != vm-ip ] || echo "$err" | grep -q "^vm-ip: ops-a: .*agent" || bad "vm-ip through the config: $err"
	run env VMSUP_CONFIG="$wrong_conf" "$OPS/$@"
	[ $rc = 1 ] && [ "$err" = "$who: cannot reach vmsupd at $live_dir/wrong.sock (the socket of \$VMSUP_CONFIG $wrong_conf): No such file or directory" ] ||
		bad "$args with a wrong config: $rc $out $err"
done
if [ -x "$VMCTL" ]; then
	run "$VMCTL" -q list
	[ "$(echo "$out" | sort | tr '\n' ' ')" = "ops-a ops-b " ] || bad "vmctl through the config: $rc $out $err"
fi
echo "ok the socket from \$VMSUP_CONFIG"

# vm-qmp: the ops socket comes from the VM's status; the answer is QEMU's.
run "$OPS/vm-qmp" ops-a query-status
[ $rc = 0 ] || bad "vm-qmp query-status: $rc $err"
st=$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])' 2>&1)
[ "$st" = running ] || bad "vm-qmp says $st: $out"
# the same answer as the daemon's passthrough (an independent path to QEMU)
api POST /v1/vms/ops-a/qmp '{"execute":"query-name"}' >/dev/null
[ "$api_status" = 200 ] && [ "$(json_get "$api_out" 'd["return"].get("name")')" = ops-a ] ||
	bad "passthrough query-name: $api_status $(cat "$api_out")"
run "$OPS/vm-qmp" ops-a query-name
[ "$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("name"))')" = ops-a ] ||
	bad "vm-qmp query-name: $out $err"
# pausing through the ops socket is seen by the supervisor (a QMP STOP event)
run "$OPS/vm-qmp" ops-b stop
[ $rc = 0 ] || bad "vm-qmp stop: $err"
i=0
while [ $i -lt 50 ]; do
	api GET /v1/vms/ops-b >/dev/null
	[ "$(json_get "$api_out" 'd["state"]')" = paused ] && break
	sleep 0.1
	i=$((i + 1))
done
[ "$(json_get "$api_out" 'd["state"]')" = paused ] || bad "ops-b not paused after vm-qmp stop"
run "$OPS/vm-qmp" ops-b cont
run "$OPS/vm-qmp" nosuchvm query-status
[ $rc = 1 ] && echo "$err" | grep -q "^vm-qmp: nosuchvm: " || bad "vm-qmp unknown VM: $rc $err"
run "$OPS/vm-qmp" ops-a no-such-command
[ $rc = 1 ] && echo "$err" | grep -q "CommandNotFound" || bad "vm-qmp QEMU error: $rc $err"
echo "ok vm-qmp"

# socat on the ops socket (vmsupd relays it to qemu): a half-close after the
# last command still gets every answer; a migrate to exec: is refused in
# qemu's error form and the VM runs on (issue 27 item 5)
if command -v socat >/dev/null 2>&1; then
	api GET /v1/vms/ops-a >/dev/null
	ops=$(json_get "$api_out" 'd["qmp_ops_socket"]')
	printf '%s\n' '{"execute":"qmp_capabilities"}' \
		'{"execute":"migrate","arguments":{"uri":"exec:cat >/dev/null"}}' \
		'{"execute":"query-status"}' |
		timeout 10 socat -t 5 - "UNIX-CONNECT:$ops" >"$live_dir/socat" 2>&1
	grep -q '"error": {"class": "GenericError", "desc": "QMP command .migrate. refused' \
		"$live_dir/socat" || bad "socat migrate exec: not refused: $(cat "$live_dir/socat")"
	grep -q '"status": "running"' "$live_dir/socat" ||
		bad "socat: no query-status answer after the half-close: $(cat "$live_dir/socat")"
	run "$OPS/vm-qmp" ops-a query-status
	echo "$out" | grep -q running || bad "ops-a not running after migrate exec:: $out $err"
	echo "ok socat ops socket"
fi

# vm-ip: a guest-less VM has no agent: a fast, clear error, no hang.
t0=$(date +%s)
run "$OPS/vm-ip" ops-a
[ $rc = 1 ] && echo "$err" | grep -q "^vm-ip: ops-a: " || bad "vm-ip without agent: $rc $out $err"
echo "$err" | grep -qi "agent" || bad "vm-ip error does not mention the agent: $err"
[ $(($(date +%s) - t0)) -le 5 ] || bad "vm-ip --wait 0 took over 5 s"
run "$OPS/vm-ip" nosuchvm
[ $rc = 1 ] && echo "$err" | grep -q "^vm-ip: nosuchvm: " || bad "vm-ip unknown VM: $rc $err"
echo "ok vm-ip error paths"

# vm-top: one table with both VMs and their state.
run "$OPS/vm-top" -n 1 -d 0.5
[ $rc = 0 ] || bad "vm-top: $rc $err"
echo "$out" | grep -q "^NAME  *STATE  *CPU%" || bad "vm-top header: $out"
echo "$out" | grep -q "^ops-a  *running  *[0-9.-]" || bad "vm-top lacks ops-a running: $out"
echo "$out" | grep -q "^ops-b  *running " || bad "vm-top lacks ops-b: $out"
# the CPU column is measured: a number for a running qemu
echo "$out" | grep "^ops-a" | awk '{ if ($3 !~ /^[0-9]+\.[0-9]$/) exit 1 }' ||
	bad "vm-top CPU% of ops-a is not a number: $out"
run "$OPS/vm-top" -n 2 -d 0.2
[ "$(echo "$out" | grep -c '^NAME')" = 2 ] || bad "vm-top -n 2 printed $(echo "$out" | grep -c '^NAME') tables"
# on a terminal (script(1)'s pty), q quits as in top(1), without Enter;
# the terminal stays open past the timeout, so only q can end it in time
out=$( (sleep 2; printf q; sleep 10) | timeout 8 script -qec "$OPS/vm-top -d 0.3" /dev/null 2>&1)
rc=$?
[ $rc = 0 ] || bad "vm-top on a terminal did not quit on q (exit $rc): $out"
echo "$out" | grep -q "NAME  *STATE  *CPU%" || bad "vm-top on a terminal drew no table: $out"
echo "ok vm-top"

# vm-balloon-all: a target for every running VM, none for a paused one.
run "$OPS/vm-qmp" ops-b stop
sleep 0.5
run "$OPS/vm-balloon-all" --dry-run 50%
[ $rc = 0 ] && [ "$out" = "ops-a: 128 MiB -> 64 MiB (dry run)" ] || bad "dry run: $rc '$out' $err"
run "$OPS/vm-balloon-all" 0.75
[ "$out" = "ops-a: 128 MiB -> 96 MiB" ] || bad "vm-balloon-all output: '$out'"
# a guest-less VM has no balloon driver: the daemon may accept the target
# or refuse; either way the script reports it and exits accordingly
if [ $rc = 0 ]; then
	echo "ok vm-balloon-all (target accepted)"
else
	echo "$err" | grep -q "^vm-balloon-all: ops-a: " || bad "vm-balloon-all failure not reported: $rc $err"
	echo "ok vm-balloon-all (refused on a guest-less VM: $err)"
fi
run "$OPS/vm-qmp" ops-b cont

# bash completion offers the VM names from `vmctl -o json list`.
if [ -x "$VMCTL" ]; then
	names=$(PATH=$(cd "$(dirname "$VMCTL")" && pwd):$PATH bash --norc --noprofile -c '
		. "$1"
		COMP_WORDS=(vmctl status ops-); COMP_CWORD=2
		_vmctl vmctl ops- status
		printf "%s\n" "${COMPREPLY[@]}"' x "$SCRIPTS/vmctl.bash-completion" | sort | tr '\n' ' ')
	[ "$names" = "ops-a ops-b " ] || bad "completion of VM names: '$names'"
	echo "ok completion of VM names"
else
	echo "note: $VMCTL not built, completion of VM names not tested"
fi

# With the test guest: the real address and a balloon the guest follows.
if [ -n "$VMSUP_GUEST_DIR" ] && [ -f "$VMSUP_GUEST_DIR/vmlinuz" ] && [ -f "$VMSUP_GUEST_DIR/initrd.img" ]; then
	api POST /v1/vms "{\"name\":\"ops-g\",\"mem_mib\":256,\"accel\":\"tcg\",\"kernel\":\"$VMSUP_GUEST_DIR/vmlinuz\",\"initrd\":\"$VMSUP_GUEST_DIR/initrd.img\",\"append\":\"console=ttyS0\"}" >/dev/null
	[ "$api_status" = 201 ] || bad "creating ops-g: $api_status $(cat "$api_out")"
	run "$OPS/vm-ip" --wait 120 ops-g
	[ $rc = 0 ] || bad "vm-ip --wait 120: $rc $err"
	ip=$out
	echo "$ip" | grep -Eq '^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$' || bad "vm-ip printed '$ip'"
	# the address the guest itself has (through the agent, not the script)
	api POST /v1/vms/ops-g/exec '{"argv":["ip","-4","-o","addr","show"]}' >/dev/null
	guest_ips=$(json_get "$api_out" '__import__("base64").b64decode(d.get("stdout_b64","")).decode()')
	echo "$guest_ips" | grep -q "inet $ip/" || bad "guest does not have $ip: $guest_ips"
	# the same flag spellings and the same one line as vmctl (issue 24)
	run "$OPS/vm-ip" -o json ops-g
	[ "$(json_get "$live_dir/out" 'd["ip"]')" = "$ip" ] || bad "vm-ip -o json: $rc $out $err"
	if [ -x "$VMCTL" ]; then
		run "$VMCTL" ip ops-g
		[ "$out" = "$ip" ] || bad "vmctl ip printed '$out', vm-ip '$ip'"
	fi
	run "$OPS/vm-ip" --all ops-g
	echo "$out" | grep -q " ipv4 $ip/" || bad "vm-ip --all: $out"
	run "$OPS/vm-balloon-all" --min 64 0.5
	echo "$out" | grep -qx "ops-g: 256 MiB -> 128 MiB" || bad "balloon-all with guest: $out $err"
	i=0
	actual=0
	while [ $i -lt 60 ]; do
		run "$OPS/vm-qmp" ops-g query-balloon
		actual=$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["actual"] >> 20)')
		[ "$actual" -le 136 ] && break
		sleep 0.5
		i=$((i + 1))
	done
	[ "$actual" -le 136 ] && [ "$actual" -ge 120 ] || bad "balloon actual ${actual} MiB, wanted ~128"
	echo "ok with the test guest: ip $ip, balloon ${actual} MiB"
else
	echo "note: no test guest in \$VMSUP_GUEST_DIR; guest part not run"
fi

exit $fail
