#!/bin/sh
# bench/net-modes.sh: network modes side by side (issue 22), on the test
# guest under TCG: create -> address (POST returns running, then the agent
# reports an address) and TCP throughput host -> guest for a few seconds,
# for mode user (through a published port) and mode bridge (the guest's
# own address on a bridge). Root only: it makes a network namespace with a
# bridge (10.77.0.1/24) and dnsmasq, runs a private vmsupd in it, and
# removes all of it on exit. Run from the build directory:
#   sudo bench/net-modes.sh            (BENCH_RUNS=N, BENCH_SECONDS=S)
# Needs ./guest (scripts/mkguest.sh), dnsmasq, python3.
set -eu

runs=${BENCH_RUNS:-2}
secs=${BENCH_SECONDS:-4}
guest=${VMSUP_GUEST_DIR:-./guest}
b=$(pwd)
[ "$(id -u)" -eq 0 ] || { echo "net-modes: needs root (taps, a network namespace)" >&2; exit 77; }
command -v dnsmasq >/dev/null || { echo "net-modes: no dnsmasq (dnsmasq-base)" >&2; exit 77; }
[ -r "$guest/vmlinuz" ] || { echo "net-modes: no test guest in $guest" >&2; exit 77; }

ns=vmsup-bench-$$
dir=$(mktemp -d /tmp/vmsup-net-bench.XXXXXX)
dpid=
vpid=
cleanup() {
	[ -n "$vpid" ] && { kill "$vpid" 2>/dev/null; wait "$vpid" 2>/dev/null || true; }
	# qemu outlives the daemon by design: end each by its pidfile
	find "$dir/run" -name qemu.pid 2>/dev/null | while read -r p; do
		kill -9 "$(cat "$p")" 2>/dev/null || true
	done
	if [ -n "$dpid" ]; then kill "$dpid" 2>/dev/null || true; fi
	ip netns del "$ns" 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

ip netns add "$ns"
in_ns() { ip netns exec "$ns" "$@"; }
in_ns sh -c 'ip link set lo up && ip link add vmsbr0 type bridge &&
	ip addr add 10.77.0.1/24 dev vmsbr0 && ip link set vmsbr0 up'
in_ns dnsmasq --conf-file=/dev/null --port=0 --bind-interfaces --interface=vmsbr0 \
	--except-interface=lo --dhcp-range=10.77.0.50,10.77.0.99,255.255.255.0,1h \
	--dhcp-authoritative --user=root --dhcp-leasefile="$dir/leases" \
	--pid-file="$dir/dnsmasq.pid"
dpid=$(cat "$dir/dnsmasq.pid")

mkdir -p "$dir/state" "$dir/run"
printf 'bridge = vmsbr0\non_exit = stop\n' >"$dir/vmsupd.conf"
in_ns "$b/src/daemon/vmsupd" -c "$dir/vmsupd.conf" --socket "$dir/api.sock" \
	--state-dir "$dir/state" --run-dir "$dir/run" -f -q 2>"$dir/vmsupd.log" &
vpid=$!
vmctl() { "$b/src/cli/vmctl" --socket "$dir/api.sock" "$@"; }
for _ in $(seq 50); do vmctl list >/dev/null 2>&1 && break; sleep 0.1; done

now() { date +%s.%N; }
# send zeros to $1:$2 for $secs s; prints MB/s (bytes the kernel took)
send() {
	in_ns python3 - "$1" "$2" "$secs" <<'PY'
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
buf, n, end = bytes(65536), 0, time.time() + float(sys.argv[3])
t0 = time.time()
while time.time() < end:
    n += s.send(buf)
print("%.1f" % (n / (time.time() - t0) / 1e6))
s.close()
PY
}

printf '| mode | create -> running (s) | create -> address (s) | address | host -> guest TCP (MB/s, %s s) |\n' "$secs"
printf '| --- | --- | --- | --- | --- |\n'
for mode in user bridge; do
	for r in $(seq "$runs"); do
		name=$mode$r
		set -- --net "$mode"
		[ "$mode" = user ] && set -- "$@" --publish 127.0.0.1:0:5001
		t0=$(now)
		vmctl create "$name" --accel tcg --mem 256 --kernel "$guest/vmlinuz" \
			--initrd "$guest/initrd.img" --append "$(cat "$guest/append")" "$@" >/dev/null
		t1=$(now)
		addr=$(vmctl ip "$name" --wait 300)
		t2=$(now)
		# a sink in the guest, left running after exec returns
		vmctl exec "$name" --via agent -- sh -c '(nc -l -p 5001 >/dev/null 2>&1 &); sleep 1'
		if [ "$mode" = user ]; then
			port=$(vmctl -o json status "$name" | python3 -c \
				'import json,sys; print(json.load(sys.stdin)["ports"][0]["host_port"])')
			mbs=$(send 127.0.0.1 "$port")
		else
			mbs=$(send "$addr" 5001)
		fi
		awk -v m="$mode" -v a="$t0" -v b="$t1" -v c="$t2" -v ip="$addr" -v t="$mbs" \
			'BEGIN { printf "| %s | %.2f | %.2f | %s | %s |\n", m, b - a, c - a, ip, t }' 
		vmctl destroy "$name" >/dev/null
	done
done
