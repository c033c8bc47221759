#!/bin/sh
# mkdistro.sh OUTDIR: build a Debian 12 systemd guest from Debian packages
# with mmdebstrap (the apt sources this machine uses), for the tests and
# benchmarks that need a real distribution rather than the busybox guest.
#
# Outputs in OUTDIR:
#   disk.raw              ext4 root file system (sparse, no partition table)
#   vmlinuz, initrd.img   the image's own kernel and initramfs (linux-image-amd64:
#                         9p, vmgenid, virtio), for direct kernel boot
#   append                the kernel command line to boot it with
#   test_key, test_key.pub  ssh key in root's authorized_keys (root has no password)
#   MANIFEST              the script's hash, package versions, sha256 of the outputs
# A second run with the same script and an intact MANIFEST does nothing.
# Needs root (mmdebstrap's root mode), mmdebstrap, mke2fs, ssh-keygen.
set -eu

usage() {
	echo "usage: $0 OUTDIR" >&2
	exit 2
}
die() {
	echo "mkdistro: $*" >&2
	exit 1
}
say() {
	echo "mkdistro: $*" >&2
}

[ $# -eq 1 ] || usage
case $1 in -*) usage ;; esac
OUT=$1
mkdir -p "$OUT" || die "cannot create $OUT"
OUT=$(cd "$OUT" && pwd)

for t in mmdebstrap mke2fs ssh-keygen sha256sum flock; do
	command -v $t >/dev/null 2>&1 || die "$t is required (scripts/deps installs it)"
done
[ "$(id -u)" -eq 0 ] || die "needs root (mmdebstrap builds in a chroot)"

if [ -z "${MKDISTRO_LOCKED:-}" ]; then
	export MKDISTRO_LOCKED=1
	exec flock "$OUT/.lock" "$0" "$@"
fi

SELF_SHA=$(sha256sum <"$0" | cut -d' ' -f1)
OUTPUTS="disk.raw vmlinuz initrd.img"
up_to_date() {
	[ -f "$OUT/MANIFEST" ] && grep -qx "script $SELF_SHA" "$OUT/MANIFEST" || return 1
	sed -n 's/^sha256 //p' "$OUT/MANIFEST" | (cd "$OUT" && sha256sum -c --status -)
}
if up_to_date; then
	say "$OUT is up to date"
	exit 0
fi

# 2 GiB leaves room for a workload; the file is sparse.
SIZE=2G
PKGS="systemd,systemd-sysv,udev,dbus,libpam-systemd,qemu-guest-agent,openssh-server"
PKGS="$PKGS,linux-image-amd64,initramfs-tools,procps,iproute2,busybox,python3"
# The test guest's tuning of Debian's kernel (bench/results.md, "Boot to agent
# by phase, second round of levers"): vmsupd gives every VM virtio-rng, so the
# crypto self-tests, the certificate list, kprobe tracing and the timer check
# only cost time under TCG; systemd's status lines on the serial console (slow
# under TCG) are left out ("The Debian guest's boot (issue 25)").
APPEND="root=/dev/vda rw console=ttyS0 panic=-1 loglevel=4 cryptomgr.notests"
APPEND="$APPEND initcall_blacklist=crypto_kdf108_init,init_kprobe_trace,load_system_certificate_list"
APPEND="$APPEND no_timer_check systemd.show_status=0"
TMP=$(mktemp -d "$OUT/.build.XXXXXX")
# mmdebstrap mounts /proc and /sys (rbind) inside the root while it works:
# a build killed half-way may leave them there, and a plain rm -r would
# walk into the host's /sys. Unmount what is left, and never cross into
# another file system.
cleanup() {
	findmnt -rn -o TARGET | grep "^$TMP/" | sort -r | while read -r m; do
		umount -l "$m" 2>/dev/null
	done
	rm -rf --one-file-system "$TMP"
}
trap cleanup EXIT

rm -f "$OUT/test_key" "$OUT/test_key.pub"
ssh-keygen -q -t ed25519 -N '' -C mkdistro -f "$OUT/test_key"

# Shares: vmsupd names each 9p export on the kernel command line as
# vmshare=TAG:PATH (as the test guest's init reads them); a unit mounts
# them before the agent and sshd start, once the boot's clean-up of /tmp
# is over. Neither that unit nor the agent waits for basic.target: the
# agent answering is what vmsupd waits for.
mkdir -p "$TMP"
cat >"$TMP/vmshare-mount" <<'SH'
#!/bin/sh
# Mount each vmshare=TAG:PATH of the kernel command line (9p, virtio).
rc=0
for w in $(cat /proc/cmdline); do
	case $w in
	vmshare=*:*)
		v=${w#vmshare=}
		mkdir -p "${v#*:}" &&
			mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 "${v%%:*}" "${v#*:}" ||
			{ echo "vmshare: cannot mount ${v%%:*} on ${v#*:}" >&2; rc=1; }
		;;
	esac
done
exit $rc
SH
cat >"$TMP/vmshare.service" <<'UNIT'
[Unit]
Description=Mount the shares vmsupd names on the kernel command line
# after systemd-tmpfiles has cleaned /tmp: a share mounted there before
# would have its files removed on the host
After=systemd-tmpfiles-setup.service local-fs.target
Before=qemu-guest-agent.service ssh.service
DefaultDependencies=no
Conflicts=shutdown.target
Before=shutdown.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/vmshare-mount

[Install]
WantedBy=multi-user.target
UNIT

# The agent: Debian's unit is started by udev and bound to the port's device
# unit, which under TCG appears seconds after the kernel made the port (udev
# works through the whole coldplug queue first). This one replaces it: in
# sysinit, after the shares, on the port found in sysfs by its name.
cat >"$TMP/qga-early" <<'SH'
#!/bin/sh
# Run qemu-ga on its virtio port as soon as the kernel has the port.
modprobe -q virtio_console
i=0
while [ $i -lt 600 ]; do
	for n in /sys/class/virtio-ports/*/name; do
		if [ "$(cat "$n" 2>/dev/null)" = org.qemu.guest_agent.0 ]; then
			p=${n%/name}
			exec /usr/sbin/qemu-ga -m virtio-serial -p "/dev/${p##*/}"
		fi
	done
	sleep 0.05
	i=$((i + 1))
done
echo "qga-early: no org.qemu.guest_agent.0 port after 30 s" >&2
exit 1
SH
cat >"$TMP/qemu-guest-agent.service" <<'UNIT'
[Unit]
Description=QEMU Guest Agent (started early, see mkdistro.sh)
DefaultDependencies=no
After=local-fs.target systemd-tmpfiles-setup.service vmshare.service
Conflicts=shutdown.target
Before=shutdown.target

[Service]
ExecStart=/usr/local/sbin/qga-early
Restart=always
RestartSec=1

[Install]
WantedBy=sysinit.target
UNIT

say "mmdebstrap bookworm into $TMP/root (downloads about 150 MB the first time)"
# The network: systemd-networkd asks DHCP on every virtio NIC. Docs and
# translations are left out: the image is for tasks, not for reading.
mmdebstrap --variant=apt --include="$PKGS" \
	--dpkgopt='path-exclude=/usr/share/doc/*' \
	--dpkgopt='path-exclude=/usr/share/man/*' \
	--dpkgopt='path-exclude=/usr/share/locale/*' \
	--customize-hook='echo debian >"$1/etc/hostname"' \
	--customize-hook='printf "/dev/vda / ext4 rw,errors=remount-ro 0 1\n" >"$1/etc/fstab"' \
	--customize-hook='mkdir -p "$1/etc/systemd/network" && printf "[Match]\nName=en* eth*\n\n[Network]\nDHCP=yes\n" >"$1/etc/systemd/network/80-dhcp.network"' \
	--customize-hook='chroot "$1" systemctl enable systemd-networkd.service' \
	--customize-hook="install -D -m 755 '$TMP/vmshare-mount' \"\$1/usr/local/sbin/vmshare-mount\"" \
	--customize-hook="install -m 644 '$TMP/vmshare.service' \"\$1/etc/systemd/system/vmshare.service\"" \
	--customize-hook='chroot "$1" systemctl enable vmshare.service' \
	--customize-hook="install -m 755 '$TMP/qga-early' \"\$1/usr/local/sbin/qga-early\"" \
	--customize-hook="install -m 644 '$TMP/qemu-guest-agent.service' \"\$1/etc/systemd/system/qemu-guest-agent.service\"" \
	--customize-hook='chroot "$1" systemctl enable qemu-guest-agent.service' \
	--customize-hook='mkdir -p -m 700 "$1/root/.ssh"' \
	--customize-hook="cp '$OUT/test_key.pub' \"\$1/root/.ssh/authorized_keys\"" \
	--customize-hook='chmod 600 "$1/root/.ssh/authorized_keys"' \
	--customize-hook='chroot "$1" dpkg-query -W -f "package \${Package} \${Version}\n" >"$1/../packages"' \
	--customize-hook='cp "$1"/boot/vmlinuz-* "$1/../vmlinuz" && cp "$1"/boot/initrd.img-* "$1/../initrd.img"' \
	bookworm "$TMP/root" \
	"deb http://deb.debian.org/debian bookworm main" \
	"deb http://deb.debian.org/debian bookworm-updates main" \
	"deb http://deb.debian.org/debian-security bookworm-security main"

say "making the ext4 root file system ($SIZE, sparse)"
rm -f "$TMP/disk.raw"
mke2fs -q -t ext4 -L root -d "$TMP/root" "$TMP/disk.raw" $SIZE
for f in disk.raw vmlinuz initrd.img; do
	mv "$TMP/$f" "$OUT/$f"
done
echo "$APPEND" >"$OUT/append"
{
	echo "script $SELF_SHA"
	cat "$TMP/packages"
	(cd "$OUT" && sha256sum $OUTPUTS) | sed 's/^/sha256 /'
} >"$OUT/MANIFEST"
say "done: $OUT ($(du -sh "$OUT/disk.raw" | cut -f1) on disk)"
