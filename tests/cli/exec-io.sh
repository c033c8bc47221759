#!/bin/sh
# vmctl exec against a real vmsupd (issue 24): an immediate error with the
# reason on a VM that cannot run it (guest-less, paused, stopped, never
# started); with the test guest, -i (stdin through the agent and over ssh)
# and -t (a pty over ssh, refused through the agent).
set -u
. "${top_srcdir:-$(dirname "$0")/../..}/tests/docs/live-lib.sh"
[ -x "$VMCTL" ] || { echo "SKIP: $VMCTL not built"; exit 77; }
command -v qemu-system-x86_64 >/dev/null || { echo "SKIP: no qemu"; exit 77; }
command -v jq >/dev/null || { echo "SKIP: no jq"; exit 77; }
fails=0

fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}
ok() { echo "ok: $*"; }

now() { date +%s.%N; }
# secs START: seconds since START
secs() { echo "$(now) - $1" | bc; }

# refused WHAT PATTERN -- vmctl args: exits 1 within 3 s, stderr matches
refused() {
	what=$1 pat=$2
	shift 3
	t0=$(now)
	"$VMCTL" "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
	got=$?
	s=$(secs "$t0")
	if [ $got -ne 1 ]; then
		fail "$what: exit $got, want 1: $(cat "$tmp/err")"
	elif ! grep -q "$pat" "$tmp/err"; then
		fail "$what: '$(cat "$tmp/err")' does not say '$pat'"
	elif [ "$(echo "$s > 3" | bc)" = 1 ]; then
		fail "$what: took $s s"
	else
		ok "$what ($s s): $(cat "$tmp/err")"
	fi
}

guest=${VMSUP_GUEST_DIR:-}
[ -n "$guest" ] && [ -f "$guest/vmlinuz" ] || guest=
LIVE_CONF="stop_grace_s = 10
on_exit = stop"
[ -z "$guest" ] || LIVE_CONF="$LIVE_CONF
default_kernel = $guest/vmlinuz
default_initrd = $guest/initrd.img
default_append = $(cat "$guest/append" 2>/dev/null || echo console=ttyS0)"
live_start
sock=$SOCK
tmp=$live_dir

# --- VMs that cannot run a command: the reason at once
"$VMCTL" create n --no-guest --accel tcg --mem 64 >/dev/null || fail "create n"
for via in ssh agent; do
	refused "guest-less, --via $via" "no guest OS" -- exec n --via $via -- true
done
refused "guest-less, default" "no guest OS" -- exec n -- true
# the API itself: 409 with the reason
api POST /v1/vms/n/exec '{"argv":["true"]}' >"$tmp/body"
[ "$api_status" = 409 ] && grep -q "no guest OS" "$tmp/body" &&
	ok "API: 409 on a guest-less VM" || fail "API guest-less: $api_status $(cat "$tmp/body")"

if [ -z "$guest" ]; then
	echo "SKIP (part): no test guest (VMSUP_GUEST_DIR)"
	exit $((fails > 0))
fi

"$VMCTL" create d --accel tcg --mem 128 --no-start >/dev/null || fail "create d"
refused "never started" "is defined" -- exec d --via agent -- true
"$VMCTL" create p --accel tcg --mem 128 >/dev/null || fail "create p"
"$VMCTL" pause p >/dev/null || fail "pause p"
for via in ssh agent; do
	refused "paused, --via $via" "paused" -- exec p --via $via -- true
done
"$VMCTL" kill p >/dev/null || fail "kill p"
for via in ssh agent; do
	refused "stopped, --via $via" "is stopped\|is crashed" -- exec p --via $via -- true
done
"$VMCTL" destroy p >/dev/null
"$VMCTL" destroy d >/dev/null
"$VMCTL" destroy n >/dev/null

# --- -i and -t with the test guest
"$VMCTL" create g --accel tcg --mem 256 >/dev/null || fail "create g"
if ! "$VMCTL" ip g --wait 150 >/dev/null 2>"$tmp/err"; then
	fail "no agent in g: $(cat "$tmp/err")"
	exit 1
fi
sshkey=$("$VMCTL" -o json status g | jq -r '.ssh_key // empty')
keyopt=
[ -n "$sshkey" ] && [ -r "$sshkey" ] || keyopt="--ssh-key $guest/test_key"

out=$(echo x | "$VMCTL" exec -i g --via agent -- wc -c 2>&1)
[ "$(echo $out)" = 2 ] && ok "stdin through the agent" || fail "exec -i --via agent: $out"
out=$(echo x | "$VMCTL" exec g --via agent -- wc -c 2>&1)
[ "$(echo $out)" = 0 ] && ok "no -i: no stdin through the agent" || fail "exec --via agent: $out"
head -c 600000 /dev/zero >"$tmp/big"
"$VMCTL" exec -i g --via agent -- wc -c <"$tmp/big" >"$tmp/out" 2>"$tmp/err"
grep -q "limited to 524288 bytes" "$tmp/err" && ok "600000 bytes refused" ||
	fail "600000 bytes of stdin: $(cat "$tmp/out" "$tmp/err")"
head -c 524288 /dev/zero | "$VMCTL" exec -i g --via agent -- wc -c >"$tmp/out" 2>"$tmp/err"
[ "$(echo $(cat "$tmp/out"))" = 524288 ] && ok "524288 bytes through the agent" ||
	fail "524288 bytes: $(cat "$tmp/out" "$tmp/err")"
# -t through the agent: a usage error (exit 2) before any request
"$VMCTL" exec -t g --via agent -- tty </dev/null >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "agent has no terminal" "$tmp/err" && ok "-t --via agent is a usage error" ||
	fail "-t --via agent: $(cat "$tmp/err")"

# sshd comes a little after the agent
i=0
until "$VMCTL" exec g --via ssh $keyopt -- true </dev/null 2>"$tmp/err"; do
	i=$((i + 1))
	[ $i -lt 40 ] || break
	sleep 3
done
[ $i -lt 40 ] || fail "ssh into g never worked: $(cat "$tmp/err")"
out=$(echo x | "$VMCTL" exec -i g --via ssh $keyopt -- wc -c 2>&1)
[ "$(echo $out)" = 2 ] && ok "stdin over ssh" || fail "exec -i --via ssh: $out"
# -t under a pty of our own (script(1)): the command sees a terminal
script -qec "$VMCTL exec -t g --via ssh $keyopt -- tty" /dev/null </dev/null >"$tmp/out" 2>&1
# (script echoes a ^@ for its end of input before the line, and CRs)
grep -q '/dev/pts/[0-9]' "$tmp/out" && ok "exec -t: $(tr -d '\r' <"$tmp/out")" ||
	fail "exec -t tty: $(cat "$tmp/out")"
# without -t: no terminal
"$VMCTL" exec g --via ssh $keyopt -- tty </dev/null >"$tmp/out" 2>&1
grep -q "not a tty" "$tmp/out" && ok "no -t: not a tty" || fail "exec without -t: $(cat "$tmp/out")"
"$VMCTL" destroy g --timeout 5 >/dev/null || fail "destroy g"
exit $((fails > 0))
