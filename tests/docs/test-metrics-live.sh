#!/bin/sh
# GET /metrics of a live, private vmsupd passes the strict format checker
# and reports what the daemon knows. Skips (77) while vmsupd is not built
# or does not serve /metrics yet.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/docs/live-lib.sh"
live_start

fail=0
bad()
{
	echo "FAIL: $*"
	fail=1
}

create_guestless met-a 128
api GET /v1/vms/met-a >/dev/null
pid=$(json_get "$api_out" 'd["pid"]')

curl -s --max-time 30 --unix-socket "$SOCK" -D "$live_dir/headers" -o "$live_dir/metrics" \
	http://localhost/metrics
code=$(head -n 1 "$live_dir/headers" | awk '{print $2}')
if [ "$code" = 404 ]; then
	echo "SKIP: this vmsupd does not serve GET /metrics yet"
	exit 77
fi
[ "$code" = 200 ] || live_fail "GET /metrics: HTTP $code"
grep -i '^content-type: text/plain; version=0.0.4' "$live_dir/headers" >/dev/null ||
	bad "Content-Type: $(grep -i '^content-type' "$live_dir/headers")"

python3 "$srcdir/tests/docs/promcheck.py" "$live_dir/metrics" || bad "promcheck rejects /metrics"

has()
{
	grep -q "^$1" "$live_dir/metrics" || bad "no line starting '$1'"
}
has 'vmsup_vm_state{vm="met-a",state="running"} 1$'
has 'vmsup_vm_vcpus{vm="met-a"} 1$'
has 'vmsup_vm_memory_bytes{vm="met-a"} 134217728$'
has 'vmsup_vm_restarts_total{vm="met-a"} 0$'
has 'vmsup_vm_agent_ready{vm="met-a"} 0$'
has 'vmsup_uptime_seconds '
has 'vmsup_api_requests_total{code="201"} '
has 'vmsup_qmp_roundtrip_seconds_bucket{le="+Inf"} '

# CPU time matches the qemu process's own (/proc/PID/stat): a fresh qemu
# burns CPU while it starts, so a fresh /metrics reading is bracketed by
# /proc readings just before and after it (0.1 s of slack for the
# cgroup's finer counter and the moment qemu was moved into its cgroup).
proc_cpu()
{
	python3 -c 'import os,sys; f=open("/proc/%s/stat"%sys.argv[1]).read().rsplit(")",1)[1].split(); print((int(f[11])+int(f[12]))/os.sysconf("SC_CLK_TCK"))' "$1"
}
before=$(proc_cpu "$pid")
curl -s --max-time 30 --unix-socket "$SOCK" -o "$live_dir/metrics2" http://localhost/metrics
after=$(proc_cpu "$pid")
cpu=$(sed -n 's/^vmsup_vm_cpu_seconds_total{vm="met-a"} //p' "$live_dir/metrics2")
python3 -c 'import sys; c,b,a=map(float,sys.argv[1:]); sys.exit(0 if b-0.1 <= c <= a+0.1 else 1)' "$cpu" "$before" "$after" ||
	bad "vmsup_vm_cpu_seconds_total $cpu not within /proc's $before..$after"

# QMP round trips were made (cont, query-*): the histogram counted them.
n=$(sed -n 's/^vmsup_qmp_roundtrip_seconds_count //p' "$live_dir/metrics")
[ "${n:-0}" -gt 0 ] 2>/dev/null || bad "vmsup_qmp_roundtrip_seconds_count is '$n'"

# Requests are counted by status: a 404 shows up after one.
api GET /v1/vms/no-such-vm >/dev/null
curl -s --max-time 30 --unix-socket "$SOCK" -o "$live_dir/metrics2" http://localhost/metrics
grep -q '^vmsup_api_requests_total{code="404"} [1-9]' "$live_dir/metrics2" || bad "404 not counted"
python3 "$srcdir/tests/docs/promcheck.py" "$live_dir/metrics2" || bad "promcheck rejects the 2nd scrape"

# A destroyed VM leaves the exposition.
api DELETE /v1/vms/met-a >/dev/null
curl -s --max-time 30 --unix-socket "$SOCK" -o "$live_dir/metrics3" http://localhost/metrics
grep -q 'vm="met-a"' "$live_dir/metrics3" && bad "met-a still in /metrics after destroy"
python3 "$srcdir/tests/docs/promcheck.py" "$live_dir/metrics3" || bad "promcheck rejects the 3rd scrape"

# vmctl metrics prints the same format.
if [ -x "$VMCTL" ]; then
	"$VMCTL" --socket "$SOCK" metrics >"$live_dir/vmctl-metrics" 2>"$live_dir/err" || bad "vmctl metrics: $(cat "$live_dir/err")"
	python3 "$srcdir/tests/docs/promcheck.py" "$live_dir/vmctl-metrics" || bad "promcheck rejects vmctl metrics"
fi
[ $fail = 0 ] && echo "ok /metrics"
exit $fail
