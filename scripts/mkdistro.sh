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
APPEND="root=/dev/vda rw console=ttyS0 panic=-1 loglevel=4"
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
# is over.
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

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/vmshare-mount

[Install]
WantedBy=multi-user.target
UNIT

say "mmdebstrap bookworm into $TMP/root (downloads about 150 MB the first time)"
# The network: systemd-networkd asks DHCP on every virtio NIC. The agent is
# started by udev when its port appears (Debian's unit). Docs and
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
