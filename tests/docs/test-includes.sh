#!/bin/sh
# The include check (scripts/check-includes): the tree passes; a copy of it
# passes; the copy with bad includes planted fails, naming each file:line.
srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
CHECK=$srcdir/scripts/check-includes
fail=0
tmp=$(mktemp -d /tmp/vminc-t-XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bad()
{
	echo "FAIL: $*"
	fail=1
}

# run ARGS...: runs the check, sets $rc and $out (stdout and stderr)
run()
{
	python3 "$CHECK" "$@" >"$tmp/out" 2>&1
	rc=$?
	out=$(cat "$tmp/out")
}

# The tree itself, by default root and by argument.
run
[ "$rc" -eq 0 ] || bad "the tree fails the include check (rc $rc): $out"
run "$srcdir"
[ "$rc" -eq 0 ] || bad "the tree given as ROOT fails (rc $rc): $out"

# A copy of the sources (writable: distcheck's srcdir is read-only).
root=$tmp/root
mkdir -p "$root" && cp -R "$srcdir/qmp" "$srcdir/src" "$root/" && chmod -R u+w "$root" ||
	{ echo "FAIL: cannot copy the sources"; exit 1; }
run "$root"
[ "$rc" -eq 0 ] || bad "the clean copy fails (rc $rc): $out"

# plant FILE HEADER RULE-WORDS: appends #include "HEADER" to FILE, runs the
# check, which must fail naming FILE:LINE and RULE-WORDS; then the file is
# put back and the copy passes again.
plant()
{
	f=$1 h=$2 why=$3
	cp "$root/$f" "$tmp/saved"
	printf '#include "%s"\n' "$h" >>"$root/$f"
	line=$(wc -l <"$root/$f" | tr -d ' ')
	run "$root"
	[ "$rc" -eq 1 ] || bad "$f -> $h: rc $rc, want 1: $out"
	printf '%s\n' "$out" | grep -F "$f:$line: #include \"$h\"" | grep -qF "$why" ||
		bad "$f -> $h: no '$f:$line' line naming '$why' in: $out"
	n=$(printf '%s\n' "$out" | grep -c "^[a-z].*:[0-9][0-9]*: ")
	[ "$n" -eq 1 ] || bad "$f -> $h: $n violations reported, want 1: $out"
	cp "$tmp/saved" "$root/$f"
}

plant src/util/log.c src/daemon/api.h "util includes nothing but util"
plant src/util/err.c ../daemon/api.h "util includes nothing but util"
plant qmp/session.c src/util/log.h "qmp includes nothing of src/"
plant src/qemu/argv.c src/core/vm.h "qemu includes only util and qmp"
plant src/core/vm.c src/limits/vm-limits.h "the core includes only qemu, util and qmp"
plant src/core/op.c src/daemon/http.h "the core includes only qemu, util and qmp"
plant src/core/op.c src/cli/vmctl.h "the core includes only qemu, util and qmp"
plant src/metrics/vm-stats.c src/guest/vm-agent.h "another feature's glue"
plant src/limits/pin.c src/pool/pool-internal.h "private to its folder (src/pool)"
plant src/daemon/api.c src/core/sup-internal.h "private to its folder (src/core)"
plant src/guest/keys.c src/snapshot/snapshot.h "allowlist"
plant src/limits/pin.c src/metrics/metrics.h "allowlist"
plant src/pool/pool.c src/daemon/api.h "never the daemon, the cli"
plant src/executor/main.c src/daemon/http.h "the executor includes only util and the client"
plant src/executor/main.c src/core/vm.h "the executor includes only util and the client"
plant src/cli/vmctl.c src/core/vm.h "only the in-process entry point"
plant src/client/client.c src/qemu/config.h "the client uses util only"
plant src/daemon/http.c src/client/client.h "never includes the client, the cli"
plant src/util/log.c src/daemon/no-such.h "util includes nothing but util"
plant src/util/log.c no-such.h "not found"

# Allowed edges stay allowed when added again (no false alarm).
for edge in "src/cli/vmctl.c src/daemon/daemon.h" "src/cli/vmctl.c src/qemu/config.h" \
	"src/executor/main.c src/client/client.h" "src/core/vm.c qmp/qmp.h" \
	"src/daemon/api.c src/limits/vm-limits.h" "src/pool/pool.c src/guest/agent.h" \
	"src/util/log.c config.h"; do
	set -- $edge
	cp "$root/$1" "$tmp/saved"
	printf '#include "%s"\n' "$2" >>"$root/$1"
	run "$root"
	[ "$rc" -eq 0 ] || bad "allowed $1 -> $2 refused (rc $rc): $out"
	cp "$tmp/saved" "$root/$1"
done

# A new folder under src/ must be placed in the layers first.
mkdir -p "$root/src/newlayer" && echo '#include "src/util/log.h"' >"$root/src/newlayer/x.c"
run "$root"
{ [ "$rc" -eq 1 ] && printf '%s\n' "$out" | grep -qF "src/newlayer/x.c:1: file in unknown layer"; } ||
	bad "a file in an unknown layer passes (rc $rc): $out"
rm -rf "$root/src/newlayer"

# The planted violations the issue names, together: both reported, rc 1.
printf '#include "src/daemon/api.h"\n' >>"$root/src/util/name.c"
l1=$(wc -l <"$root/src/util/name.c" | tr -d ' ')
printf '#include "src/core/vm.h"\n' >>"$root/qmp/command.c"
l2=$(wc -l <"$root/qmp/command.c" | tr -d ' ')
run "$root"
[ "$rc" -eq 1 ] || bad "two planted violations: rc $rc, want 1"
printf '%s\n' "$out" | grep -qF "src/util/name.c:$l1: " || bad "src/util/name.c:$l1 not named: $out"
printf '%s\n' "$out" | grep -qF "qmp/command.c:$l2: " || bad "qmp/command.c:$l2 not named: $out"
printf '%s\n' "$out" | grep -qF "2 bad include(s)" || bad "count of 2 not reported: $out"

# Usage errors.
run "$tmp/nowhere"
[ "$rc" -eq 2 ] || bad "a root without src/: rc $rc, want 2"

[ "$fail" -eq 0 ] && echo "include check: all cases pass"
exit $fail
