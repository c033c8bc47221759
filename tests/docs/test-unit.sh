#!/bin/sh
# etc/vmsupd.service: the keys issue 11 asks for; etc/vmsupd-guests.service
# (issue 20): a oneshot that runs `vmctl shutdown --all` at ExecStop, ordered
# after vmsupd (so it stops before it) and not bound to its restarts; and
# systemd accepts both.
srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
in=$srcdir/etc/vmsupd.service.in
gin=$srcdir/etc/vmsupd-guests.service.in
fail=0
for k in 'Type=notify' 'NotifyAccess=main' 'KillMode=process' 'RuntimeDirectory=vmsupd' 'StateDirectory=vmsupd' \
	'ExecStart=@sbindir@/vmsupd -f' 'WantedBy=multi-user.target'; do
	grep -qx "$k" "$in" || { echo "FAIL: vmsupd.service: $k missing"; fail=1; }
done
for k in 'Type=oneshot' 'RemainAfterExit=yes' 'ExecStop=@bindir@/vmctl shutdown --all' \
	'After=vmsupd.service' 'Wants=vmsupd.service' 'WantedBy=multi-user.target'; do
	grep -qx "$k" "$gin" || { echo "FAIL: vmsupd-guests.service: $k missing"; fail=1; }
done
# Requires=/BindsTo=/PartOf= vmsupd would stop this unit, and so every VM, on
# `systemctl restart vmsupd`
if grep -Eq '^(Requires|BindsTo|PartOf|Requisite)=.*vmsupd' "$gin"; then
	echo "FAIL: vmsupd-guests.service is bound to vmsupd.service's stops"
	fail=1
fi
if command -v systemd-analyze >/dev/null 2>&1; then
	tmp=$(mktemp -d /tmp/vmops-u-XXXXXX) || exit 1
	trap 'rm -rf "$tmp"' EXIT
	# verify checks that ExecStart/ExecStop exist: point them at a binary that does
	sed -e 's|@sbindir@/vmsupd|/bin/true|' -e 's|@sysconfdir@|/etc|g' "$in" >"$tmp/vmsupd.service"
	sed -e 's|@bindir@/vmctl|/bin/true|' -e 's|@sysconfdir@|/etc|g' "$gin" >"$tmp/vmsupd-guests.service"
	for u in vmsupd.service vmsupd-guests.service; do
		out=$(cd "$tmp" && timeout 60 systemd-analyze verify --man=no "$tmp/$u" 2>&1)
		if [ -n "$out" ]; then
			echo "FAIL: systemd-analyze verify $u:"
			echo "$out"
			fail=1
		fi
	done
else
	echo "SKIP: systemd-analyze missing (Debian package systemd): unit syntax not verified"
fi
[ $fail = 0 ] && echo "ok vmsupd.service vmsupd-guests.service"
exit $fail
