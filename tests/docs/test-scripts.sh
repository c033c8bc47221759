#!/bin/sh
# The ops scripts without a daemon: --help, usage and unreachable-daemon
# errors, vm-qmp against a real QEMU monitor, and the bash completion.
srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
# the ops scripts as make generated them from scripts/*.in
S=${top_builddir:-.}/scripts
fail=0
tmp=$(mktemp -d /tmp/vmops-t-XXXXXX) || exit 1
qpid=
cleanup()
{
	[ -n "$qpid" ] && kill -KILL "$qpid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bad()
{
	echo "FAIL: $*"
	fail=1
}

# run CMD...: sets $rc, $out (stdout) and $err (stderr)
run()
{
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	out=$(cat "$tmp/out")
	err=$(cat "$tmp/err")
}

for s in vm-qmp vm-balloon-all vm-top vm-ip; do
	[ -x "$S/$s" ] || bad "$s is not executable"
	run "$S/$s" --help
	[ $rc = 0 ] || bad "$s --help exits $rc"
	case $out in
	"$s: "*Usage:*"$s "*) ;;
	*) bad "$s --help does not start with its name and usage: $out" ;;
	esac
	# every option the parser takes is documented in --help
	for opt in $(grep -o "add_argument(\"-[-a-z0-9]*\"" "$S/$s" | sed 's/.*("//; s/"$//'); do
		echo "$out" | grep -q -- "$opt" || bad "$s --help does not document $opt"
	done
	# usage errors exit 2 with the usage on stderr
	run "$S/$s" --no-such-option
	[ $rc = 2 ] || bad "$s --no-such-option exits $rc, not 2"
	case $err in *usage:*) ;; *) bad "$s: no usage on a usage error: $err" ;; esac
done

# stdout closed by its reader before a word is written (`vm-ip --help |
# head` where head is done first): stop quietly, as cat does, with no
# traceback. The pipe's read end is closed before the script starts.
for s in vm-qmp vm-balloon-all vm-top vm-ip; do
	python3 -c 'import os, subprocess, sys
r, w = os.pipe()
os.close(r)
sys.exit(subprocess.call(sys.argv[1:], stdout=w))' "$S/$s" --help 2>"$tmp/err"
	rc=$?
	[ $rc = 141 ] && [ ! -s "$tmp/err" ] ||
		bad "$s --help into a closed pipe: exit $rc, stderr: $(tail -n 3 "$tmp/err")"
done
echo "ok --help and usage errors"

# No daemon at that socket: exit 1 with one line naming the script and why.
nosock=$tmp/nothing.sock
run "$S/vm-ip" --socket "$nosock" vm1
[ $rc = 1 ] && echo "$err" | grep -q "^vm-ip: vm1: cannot reach vmsupd" || bad "vm-ip no daemon: $rc $err"
run "$S/vm-qmp" --socket "$nosock" vm1 query-status
[ $rc = 1 ] && echo "$err" | grep -q "^vm-qmp: vm1: cannot reach vmsupd" || bad "vm-qmp no daemon: $rc $err"
run "$S/vm-top" --socket "$nosock" -n 1 -d 0.1
[ $rc = 1 ] && echo "$err" | grep -q "^vm-top: cannot reach vmsupd" || bad "vm-top no daemon: $rc $err"
run env VMSUP_SOCKET="$nosock" "$S/vm-balloon-all" 0.5
[ $rc = 1 ] && echo "$err" | grep -q "^vm-balloon-all: cannot reach vmsupd" || bad "vm-balloon-all no daemon: $rc $err"
echo "ok unreachable daemon"

# The socket is found as vmctl finds it (issue 24): --socket, else
# $VMSUP_SOCKET, else the socket of vmsupd.conf ($VMSUP_CONFIG), read with
# the daemon's syntax, else the default. With no daemon there, the error
# names the path and where it came from; vmctl must name the same path.
VMCTL=${VMCTL:-${top_builddir:-.}/src/cli/vmctl}
conf=$tmp/c.conf
# want_socket PATH ORIGIN: vm-ip (and vmctl) with $conf try PATH
want_socket()
{
	run env -u VMSUP_SOCKET VMSUP_CONFIG="$conf" "$S/vm-ip" vm1
	[ $rc = 1 ] && [ "$err" = "vm-ip: vm1: cannot reach vmsupd at $1 ($2): No such file or directory" ] ||
		bad "config $(cat "$conf"): wanted $1 ($2), got $rc: $err"
	if [ -x "$VMCTL" ]; then
		run env -u VMSUP_SOCKET VMSUP_CONFIG="$conf" "$VMCTL" list
		case $err in
		*" at $1 (is it running?)") ;;
		*) bad "config $(cat "$conf"): vmctl does not try $1: $err" ;;
		esac
	fi
}
of="the socket of \$VMSUP_CONFIG $conf"
# configure's default, as make wrote it into the module (vmctl is checked
# against the same path)
def_sock=$(python3 -B -c 'import sys; sys.path.insert(0, sys.argv[1]); import vmsup_api
print(vmsup_api.DEFAULT_SOCKET)' "$S")
printf 'socket = %s\n' "$tmp/a.sock" >"$conf"
want_socket "$tmp/a.sock" "$of"
printf '# vmsupd.conf\n\n\t socket=%s   # a comment\nstop_grace_s = 2\n' "$tmp/b.sock" >"$conf"
want_socket "$tmp/b.sock" "$of"
printf 'socket = %s\r\n' "$tmp/crlf.sock" >"$conf"
want_socket "$tmp/crlf.sock" "$of"
# quotes keep a '#' and blanks; the last socket line wins
printf 'socket = %s\nsocket = "%s"  \n' "$tmp/first.sock" "$tmp/c #1 .sock" >"$conf"
want_socket "$tmp/c #1 .sock" "$of"
printf '# socket = /commented/out.sock\nsocketx = /not/it.sock\n' >"$conf"
want_socket "$def_sock" "the default: no socket in \$VMSUP_CONFIG $conf"
rm -f "$conf"
want_socket "$def_sock" "the default: no \$VMSUP_CONFIG $conf"
# $VMSUP_SOCKET before the config, --socket before both
printf 'socket = %s\n' "$tmp/conf.sock" >"$conf"
run env VMSUP_SOCKET="$tmp/env.sock" VMSUP_CONFIG="$conf" "$S/vm-top" -n 1
[ "$err" = "vm-top: cannot reach vmsupd at $tmp/env.sock (\$VMSUP_SOCKET): No such file or directory" ] ||
	bad "\$VMSUP_SOCKET does not come before the config: $err"
run env VMSUP_SOCKET="$tmp/env.sock" VMSUP_CONFIG="$conf" "$S/vm-balloon-all" --socket "$tmp/opt.sock" 1
[ "$err" = "vm-balloon-all: cannot reach vmsupd at $tmp/opt.sock (--socket): No such file or directory" ] ||
	bad "--socket does not come first: $err"
# a config the daemon would refuse: one line naming file and line, exit 1
for c in 'socket = "/x.sock' 'socket /x.sock' '= /x.sock' 'socket = x.sock'; do
	printf '# ok\n%s\n' "$c" >"$conf"
	run env -u VMSUP_SOCKET VMSUP_CONFIG="$conf" "$S/vm-qmp" vm1 query-status
	[ $rc = 1 ] && [ "$(echo "$err" | wc -l)" = 1 ] &&
		echo "$err" | grep -q "^vm-qmp: vm1: $conf:2: [a-z]" || bad "config '$c': $rc $err"
done
echo "ok socket from the config"

# Bad values are usage errors, before anything is asked of the daemon.
for args in "vm-balloon-all 0" "vm-balloon-all 1.5" "vm-balloon-all 120%" "vm-balloon-all abc" \
	"vm-balloon-all --min 0 0.5" "vm-top -n -1" "vm-top -d 0" "vm-ip --wait -1 a" \
	"vm-qmp a query-status [1]" "vm-qmp a {\"x\":1}" "vm-qmp a query-status {bad" \
	"vm-qmp --timeout 0 a query-status"; do
	set -- $args
	run "$S/$@" --socket "$nosock"
	[ $rc = 2 ] || bad "$args: exit $rc, not 2 ($err)"
done
echo "ok bad values"

# vm-qmp speaks QMP to a real QEMU monitor (guest-less, never started).
if command -v qemu-system-x86_64 >/dev/null 2>&1; then
	qemu-system-x86_64 -name ops-test -machine q35 -accel tcg -nodefaults -display none -S \
		-m 64 -qmp "unix:$tmp/ops.sock,server=on,wait=off" -pidfile "$tmp/qemu.pid" \
		-daemonize >"$tmp/qemu.log" 2>&1 || bad "qemu did not start: $(cat "$tmp/qemu.log")"
	qpid=$(cat "$tmp/qemu.pid" 2>/dev/null)
	run "$S/vm-qmp" --ops-socket "$tmp/ops.sock" - query-status
	[ $rc = 0 ] || bad "vm-qmp query-status: $rc $err"
	st=$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')
	[ "$st" = prelaunch ] || bad "vm-qmp query-status said $st: $out"
	run "$S/vm-qmp" --ops-socket "$tmp/ops.sock" - query-name
	[ "$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["name"])')" = ops-test ] ||
		bad "vm-qmp query-name: $out"
	# arguments reach QEMU: cont changes the state a second connection sees
	run "$S/vm-qmp" --ops-socket "$tmp/ops.sock" - '{"execute":"cont"}'
	[ $rc = 0 ] && [ "$out" = "{}" ] || bad "vm-qmp cont: $rc $out $err"
	run "$S/vm-qmp" --raw --ops-socket "$tmp/ops.sock" - query-status
	echo "$out" | grep -q '"status": "running"' || bad "state after cont: $out"
	echo "$out" | grep -q '"id": "vm-qmp-' || bad "--raw lacks the id: $out"
	run "$S/vm-qmp" --ops-socket "$tmp/ops.sock" - qom-list '{"path":"/machine"}'
	[ $rc = 0 ] && echo "$out" | grep -q '"name"' || bad "vm-qmp with arguments: $rc $out $err"
	# QEMU's error: exit 1, its class and description on stderr
	run "$S/vm-qmp" --ops-socket "$tmp/ops.sock" vmx no-such-command
	[ $rc = 1 ] && echo "$err" | grep -q "^vm-qmp: vmx: CommandNotFound: " || bad "vm-qmp error: $rc $err"
	run "$S/vm-qmp" --ops-socket "$tmp/ops.sock" - qom-list '{"path":"/nope"}'
	[ $rc = 1 ] && echo "$err" | grep -q "DeviceNotFound\|GenericError" || bad "vm-qmp bad argument: $rc $err"
	kill -TERM "$qpid" 2>/dev/null
	qpid=
	run "$S/vm-qmp" --ops-socket "$tmp/ops.sock" - query-status
	[ $rc = 1 ] || bad "vm-qmp on a dead socket exits $rc"
	echo "ok vm-qmp against qemu"
else
	echo "note: qemu-system-x86_64 missing, vm-qmp protocol part not run"
fi

# bash completion: commands, options, option values.
comp()
{
	bash --norc --noprofile -c '
		. "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
		_vmctl vmctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
		printf "%s\n" "${COMPREPLY[@]}"' comp "$srcdir/scripts/vmctl.bash-completion" "$@"
}
if command -v bash >/dev/null 2>&1; then
	bash --norc --noprofile -c '. "$1" && complete -p vmctl' x "$srcdir/scripts/vmctl.bash-completion" |
		grep -q -- '-F _vmctl vmctl' || bad "completion not registered for vmctl"
	got=$(comp vmctl "" | sort | tr '\n' ' ')
	for c in create list status start pause resume stop kill destroy memory cpu ip exec run qmp events metrics; do
		case " $got" in *" $c "*) ;; *) bad "completion lacks command $c: $got" ;; esac
	done
	[ "$(comp vmctl de | tr '\n' ' ')" = "destroy " ] || bad "vmctl de<TAB>: $(comp vmctl de)"
	[ "$(comp vmctl -o j)" = json ] || bad "vmctl -o j<TAB>: $(comp vmctl -o j)"
	[ "$(comp vmctl --socket /x s | sort | tr '\n' ' ')" = "shutdown start status stop " ] ||
		bad "command after --socket: $(comp vmctl --socket /x s)"
	comp vmctl create a --a | grep -qx -- --accel || bad "create --a<TAB>: $(comp vmctl create a --a)"
	[ "$(comp vmctl create a --accel k | tr '\n' ' ')" = "kvm kvm:tcg " ] ||
		bad "--accel k<TAB>: $(comp vmctl create a --accel k)"
	[ "$(comp vmctl exec a --via a)" = agent ] || bad "--via a<TAB>"
	comp vmctl cpu a --q | grep -qx -- --quota || bad "cpu --q<TAB>"
	# global options among a command's (issue 24), --quota none
	[ "$(comp vmctl status a -o t)" = table ] || bad "status a -o t<TAB>: $(comp vmctl status a -o t)"
	comp vmctl list --o | grep -qx -- --output || bad "list --o<TAB>: $(comp vmctl list --o)"
	[ "$(comp vmctl cpu a --quota n)" = none ] || bad "--quota n<TAB>: $(comp vmctl cpu a --quota n)"
	comp vmctl run --mem 512 -- l | grep -q . && bad "completes after --"
	echo "ok bash completion"
fi

exit $fail
