#!/bin/sh
# etc/vmsupd.service: the keys issue 11 asks for, and systemd accepts it.
srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
in=$srcdir/etc/vmsupd.service.in
fail=0
for k in 'Type=notify' 'NotifyAccess=main' 'KillMode=process' 'RuntimeDirectory=vmsupd' 'StateDirectory=vmsupd' \
	'ExecStart=@sbindir@/vmsupd -f' 'WantedBy=multi-user.target'; do
	grep -qx "$k" "$in" || { echo "FAIL: $k missing"; fail=1; }
done
if command -v systemd-analyze >/dev/null 2>&1; then
	tmp=$(mktemp -d /tmp/vmops-u-XXXXXX) || exit 1
	trap 'rm -rf "$tmp"' EXIT
	# verify checks that ExecStart exists: point it at a binary that does
	sed -e 's|@sbindir@/vmsupd|/bin/true|' -e 's|@sysconfdir@|/etc|g' "$in" >"$tmp/vmsupd.service"
	out=$(timeout 60 systemd-analyze verify --man=no "$tmp/vmsupd.service" 2>&1)
	if [ -n "$out" ]; then
		echo "FAIL: systemd-analyze verify:"
		echo "$out"
		fail=1
	fi
else
	echo "note: systemd-analyze missing, unit syntax not verified"
fi
[ $fail = 0 ] && echo "ok vmsupd.service"
exit $fail
