#!/bin/sh
# mkguest.sh OUTDIR: build the test guest (OUTDIR/vmlinuz, OUTDIR/initrd.img)
# from Debian packages fetched with `apt-get download` and unpacked with
# `dpkg -x`; nothing is installed on the host. The kernel is built from
# Debian's kernel source package for this guest (guest-kernel.sh, with
# guest-kernel.config): every driver built in, no modules.
#
# Outputs in OUTDIR:
#   vmlinuz, initrd.img   kernel and initramfs (cpio newc, uncompressed); vmlinuz is
#                         the uncompressed ELF kernel with its PVH entry
#                         (pvh-kernel.sh)
#   bzImage               the same kernel, compressed
#   append                the kernel command line the guest is meant to run with
#   kernel-release        `uname -r` of the guest
#   test_key, test_key.pub  ssh key baked into root's authorized_keys
#   MANIFEST              package versions and sha256 of the outputs
# Package files and the built kernel are cached in OUTDIR/.cache; a second
# run with the same package versions (and the same scripts) does nothing.
set -eu

usage() {
	echo "usage: $0 OUTDIR" >&2
	exit 2
}
die() {
	echo "mkguest: $*" >&2
	exit 1
}
# Progress on stderr: a first build downloads and unpacks for minutes.
say() {
	echo "mkguest: $*" >&2
}

[ $# -eq 1 ] || usage
case $1 in -*) usage ;; esac
OUT=$1
mkdir -p "$OUT" || die "cannot create $OUT"
OUT=$(cd "$OUT" && pwd)
CACHE=$OUT/.cache
DEBS=$CACHE/debs
mkdir -p "$DEBS"

for t in apt-get apt-cache dpkg-deb cpio gzip sha256sum readelf ssh-keygen perl od; do
	command -v $t >/dev/null 2>&1 || die "$t is required"
done

# Several test programs may build the shared copy at the same time.
if command -v flock >/dev/null 2>&1 && [ -z "${MKGUEST_LOCKED:-}" ]; then
	export MKGUEST_LOCKED=1
	exec flock "$OUT/.lock" "$0" "$@"
fi

HERE=$(cd "$(dirname "$0")" && pwd)
# the helper it runs is part of the script: a change to it rebuilds
SELF_SHA=$(cat "$0" "$HERE/pvh-kernel.sh" "$HERE/guest-kernel.sh" "$HERE/guest-kernel.config" |
	sha256sum | cut -d' ' -f1)
# the kernel is rebuilt only when its own script or options change
KCONF_SHA=$(cat "$HERE/guest-kernel.sh" "$HERE/guest-kernel.config" | sha256sum | cut -c1-16)
# no_timer_check: under TCG on a loaded host the kernel's IO-APIC timer
# check misses its ticks and panics ("IO-APIC + timer doesn't work!"; seen
# in cli.sh's four concurrent runs); the emulated timer does work.
# noapictimer: the kernel spends 100 ms of guest time calibrating the local
# APIC timer against the HPET at every boot (TCG offers no TSC-deadline timer
# that would skip it); without it the HPET is the tick and the boot to the
# agent is ~150 ms shorter under TCG (bench/results.md). Under KVM the guest
# then programs the HPET (a qemu exit) instead of the in-kernel APIC timer:
# a few microseconds a timer, for a guest made for tests.
APPEND="console=ttyS0 panic=-1 loglevel=4 no_timer_check noapictimer"
TOP="busybox-static qemu-guest-agent dropbear-bin"
# Programs taken from the packages (path inside the package tree).
PROGS="usr/sbin/qemu-ga usr/sbin/dropbear usr/bin/dropbearkey"

# apt rebuilds its package cache on every call where the system keeps
# none (container images), which costs seconds per call: keep one here.
APT_OPTS="-o Dir::Cache::pkgcache=$CACHE/pkgcache.bin -o Dir::Cache::srcpkgcache=$CACHE/srcpkgcache.bin"
# apt as root drops to _apt, which cannot write into OUT; downloading as
# root into our own directory is what we want here.
[ "$(id -u)" -ne 0 ] || APT_OPTS="$APT_OPTS -o APT::Sandbox::User=root"

# "PKG VERSION" for each package apt has a candidate for (one apt call).
versions() {
	apt-cache $APT_OPTS policy "$@" 2>/dev/null | awk '
		/^[^ ].*:$/ { p = substr($0, 1, length($0) - 1) }
		/^  Candidate:/ { if ($2 != "(none)") print p, $2 }'
}
candidate() {
	versions "$1" | awk '{ print $2 }'
}

say "checking package versions"
# The kernel source (linux-source-X.Y) that the metapackage points at.
KMETA_VER=$(candidate linux-source)
[ -n "$KMETA_VER" ] || die "apt knows no linux-source (run apt-get update?)"
KPKG=$(apt-cache $APT_OPTS show "linux-source=$KMETA_VER" |
	sed -n 's/^Depends: //p' | head -n1 | tr ',' '\n' |
	sed -n 's/^ *\(linux-source-[0-9][^ ]*\).*/\1/p' | head -n1)
[ -n "$KPKG" ] || die "cannot find the kernel source package linux-source depends on"

# Versions of every package the previous build used; unchanged versions
# and unchanged outputs mean there is nothing to do.
want_versions() {
	versions $KPKG $TOP $([ ! -f "$OUT/MANIFEST" ] || sed -n 's/^lib-package \([^ ]*\) .*/\1/p' "$OUT/MANIFEST")
}

up_to_date() {
	[ -f "$OUT/MANIFEST" ] && [ -f "$OUT/test_key" ] && [ -f "$OUT/test_key.pub" ] || return 1
	grep -qx "script $SELF_SHA" "$OUT/MANIFEST" || return 1
	want_versions | while read -r p v; do
		grep -qx "package $p $v" "$OUT/MANIFEST" ||
			grep -qx "lib-package $p $v" "$OUT/MANIFEST" || exit 1
	done || return 1
	sed -n 's/^sha256 //p' "$OUT/MANIFEST" | (cd "$OUT" && sha256sum -c --status -) || return 1
}

if up_to_date; then
	say "$OUT is up to date"
	exit 0
fi
say "building the guest in $OUT"

# The cached .deb of PKG VERSION, if any (apt-get download names files
# PKG_VERSION_ARCH.deb with ':' written as %3a).
debfile() {
	set -- "$DEBS/${1}_$(echo "$2" | sed 's/:/%3a/g')"_*.deb
	[ -f "$1" ] && echo "$1"
}

# Download the packages given as "PKG VERSION" lines on stdin that are not
# cached yet (kept across runs), with one apt call.
fetch() {
	missing=
	while read -r pkg ver; do
		debfile "$pkg" "$ver" >/dev/null || missing="$missing $pkg=$ver"
	done
	[ -n "$missing" ] || return 0
	say "downloading$missing"
	(cd "$DEBS" && apt-get -q $APT_OPTS download $missing >/dev/null) ||
		die "apt-get download$missing failed"
}

# Unpack the packages given as "PKG VERSION" lines on stdin into $PKGS.
unpack() {
	while read -r pkg ver; do
		f=$(debfile "$pkg" "$ver") || die "$pkg $ver is not in $DEBS"
		dpkg -x "$f" "$PKGS" || die "cannot unpack $f"
	done
}

WORK=$CACHE/work
rm -rf "$WORK"
mkdir -p "$WORK/pkgs" "$WORK/root"
PKGS=$WORK/pkgs # every package unpacked into one tree
ROOT=$WORK/root # the initramfs
VERSIONS=$WORK/versions
: >"$VERSIONS"

# --- packages -----------------------------------------------------------
versions $KPKG $TOP >"$WORK/top"
for p in $KPKG $TOP; do
	grep -q "^$p " "$WORK/top" || die "apt knows no $p"
done
fetch <"$WORK/top"
say "unpacking $TOP"
grep -v "^$KPKG " "$WORK/top" | unpack
sed 's/^/package /' "$WORK/top" >>"$VERSIONS"
DONE_PKGS=" $TOP "

# --- kernel -----------------------------------------------------------
# Built once per source version and options, kept in the cache (a build
# takes minutes); an older build is dropped.
KDEB=$(debfile $(grep "^$KPKG " "$WORK/top"))
KBUILT=$CACHE/kernel-$(grep "^$KPKG " "$WORK/top" | cut -d' ' -f2 | tr ':~' '__')-$KCONF_SHA
if [ ! -f "$KBUILT/bzImage" ] || [ ! -s "$KBUILT/kernel-release" ]; then
	for d in "$CACHE"/kernel-*; do
		[ ! -d "$d" ] || rm -rf "$d"
	done
	say "building the kernel from $KPKG"
	sh "$HERE/guest-kernel.sh" "$KDEB" "$HERE/guest-kernel.config" "$KBUILT" ||
		die "cannot build the kernel"
fi
KREL=$(cat "$KBUILT/kernel-release")
cp "$KBUILT/bzImage" "$WORK/bzImage"

# The uncompressed kernel with its PVH entry, when the bzImage holds one:
# qemu boots it without the bzImage's decompression, seconds under TCG.
sh "$HERE/pvh-kernel.sh" "$WORK/bzImage" "$WORK/vmlinuz" ||
	die "no PVH entry in the kernel built from $KPKG (CONFIG_PVH)"

# --- user space -------------------------------------------------------

# Shared libraries: the NEEDED entries of every program and library we
# ship, found in the unpacked packages (never on the host, which may lack
# them). A missing one is looked for in the library packages the unpacked
# packages depend on, until all are found.
needed() {
	readelf -d "$1" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'
}
findlib() {
	for d in lib/x86_64-linux-gnu usr/lib/x86_64-linux-gnu lib64 lib usr/lib; do
		if pkgfile "$d/$1" >/dev/null; then
			echo "$d/$1"
			return 0
		fi
	done
	return 1
}
# A file of the package tree with its symlinks followed inside the tree
# (packages carry absolute links such as /lib64/ld-linux-x86-64.so.2).
pkgfile() {
	f=$1
	n=0
	while [ -L "$PKGS/$f" ]; do
		n=$((n + 1))
		[ $n -lt 20 ] || die "symlink loop at $f"
		t=$(readlink "$PKGS/$f")
		case $t in
		/*) f=${t#/} ;;
		*) f=${f%/*}/$t ;;
		esac
	done
	[ -f "$PKGS/$f" ] || return 1
	echo "$PKGS/$f"
}
# Prints the sonames still missing, and records the ones found in $WORK/libs.
scan_libs() {
	: >"$WORK/libs"
	: >"$WORK/missing"
	queue=$PROGS
	seen=" "
	while [ -n "$queue" ]; do
		next=
		for f in $queue; do
			for so in $(needed "$(pkgfile "$f")"); do
				case $seen in *" $so "*) continue ;; esac
				seen="$seen$so "
				if l=$(findlib "$so"); then
					echo "$l" >>"$WORK/libs"
					next="$next $l"
				else
					echo "$so" >>"$WORK/missing"
				fi
			done
		done
		queue=$next
	done
}
for f in $PROGS; do
	[ -f "$PKGS/$f" ] || die "$f missing from the packages"
done
say "finding shared libraries"
: >"$WORK/libpkgs"
tries=0
while scan_libs && [ -s "$WORK/missing" ]; do
	tries=$((tries + 1))
	[ $tries -le 8 ] || die "shared libraries not found: $(tr '\n' ' ' <"$WORK/missing")"
	new=
	for d in $(apt-cache $APT_OPTS depends --no-recommends --no-suggests --no-conflicts \
		--no-breaks --no-replaces --no-enhances $DONE_PKGS 2>/dev/null |
		sed -n 's/^ *|\{0,1\}\(Pre\)\{0,1\}Depends: \([^ <]*\)$/\2/p' |
		sed 's/:any$//' | sort -u); do
		case $d in lib* | zlib*) ;; *) continue ;; esac
		case "$DONE_PKGS" in *" $d "*) continue ;; esac
		new="$new $d"
	done
	[ -n "$new" ] || die "shared libraries not found: $(tr '\n' ' ' <"$WORK/missing")"
	versions $new >"$WORK/new"
	fetch <"$WORK/new"
	unpack <"$WORK/new"
	cat "$WORK/new" >>"$WORK/libpkgs"
	for p in $new; do
		DONE_PKGS="$DONE_PKGS$p "
	done
done

# Keep only the library packages that provide a shipped file (the others
# were fetched while searching) so that the manifest names what the guest
# really contains.
while read -r p v; do
	if dpkg-deb -c "$(debfile "$p" "$v")" | awk '{print $6}' | sed 's|^\./||' |
		grep -qxF -f "$WORK/libs"; then
		echo "lib-package $p $v" >>"$VERSIONS"
	fi
done <"$WORK/libpkgs"

# The dynamic loader named in the programs' PT_INTERP.
INTERP=$(readelf -l "$PKGS/usr/sbin/qemu-ga" | sed -n 's/.*interpreter: \(.*\)\]/\1/p')
[ -n "$INTERP" ] || die "cannot read the program interpreter of qemu-ga"
ldso=$(findlib "${INTERP##*/}") || die "dynamic loader ${INTERP##*/} not found in libc6"

# --- the tree -----------------------------------------------------------
cd "$ROOT"
mkdir -p bin sbin usr/bin usr/sbin lib/x86_64-linux-gnu lib64 etc root/.ssh proc sys dev run tmp \
	var/run var/log var/lib etc/dropbear etc/acpi/PWRF usr/share/udhcpc mnt
chmod 0700 root root/.ssh
chmod 1777 tmp
cp "$PKGS/bin/busybox" bin/busybox
# Debian 12's busybox is built without FEATURE_WGET_TIMEOUT, yet wget still
# declares -T as a number option ("T:+") whose destination is then NULL:
# `wget -T 10 URL` dies of SIGSEGV while parsing its options. The guest's
# sh runs applets before PATH (FEATURE_SH_STANDALONE), so no wrapper can
# stand in: drop the "+" from the option string (the literal, with its
# complementary part after the NUL, moves one byte left and keeps its
# length) so that -T is taken as a string and ignored, as upstream does
# when the feature is off. A busybox with another string is left as it is;
# either way a -T that still crashes stops the build. A fetch that needs a
# bound runs as `timeout N wget ...`.
perl -0777 -pi -e '
	$n = s/\^cqSO:o:P:Y:U:T:\+t:n::\0([^\0]*)\0/^cqSO:o:P:Y:U:T:t:n::\0$1\0\0/g;
	die "mkguest: busybox wget option string found $n times\n" if $n > 1;
' bin/busybox || die "cannot patch busybox wget"
rc=0
bin/busybox wget -q -T 1 -O /dev/null http://127.0.0.1:1/ 2>/dev/null || rc=$?
[ $rc -lt 128 ] || die "busybox wget -T still crashes (exit $rc)"
# Applet links where the applets say they live.
bin/busybox --list-full | while read -r a; do
	case $a in */busybox) continue ;; esac
	dir=${a%/*}
	[ -e "$a" ] || ln -s "$(echo "$dir" | sed 's|[^/]*|..|g')/bin/busybox" "$a"
done
for f in $PROGS; do
	cp "$PKGS/$f" "$f"
done
while read -r l; do
	cp "$(pkgfile "$l")" "lib/x86_64-linux-gnu/${l##*/}"
done <"$WORK/libs"
cp "$(pkgfile "$ldso")" "lib/x86_64-linux-gnu/${INTERP##*/}"
[ -e ".$INTERP" ] || ln -s "/lib/x86_64-linux-gnu/${INTERP##*/}" ".$INTERP"
cp "$WORK/vmlinuz" "$WORK/vmlinuz.out"

cat >etc/passwd <<'EOF'
root:x:0:0:root:/root:/bin/sh
EOF
cat >etc/shadow <<'EOF'
root:*:19000:0:99999:7:::
EOF
chmod 0600 etc/shadow
echo "root:x:0:" >etc/group
echo /bin/sh >etc/shells
echo guest >etc/hostname
printf '127.0.0.1\tlocalhost\n127.0.1.1\tguest\n' >etc/hosts

# Test key (kept across rebuilds: tests and other helpers hold its path).
if [ ! -f "$OUT/test_key" ] || [ ! -f "$OUT/test_key.pub" ]; then
	rm -f "$OUT/test_key" "$OUT/test_key.pub"
	ssh-keygen -q -t ed25519 -N '' -C mkguest-test -f "$OUT/test_key" || die "ssh-keygen failed"
fi
cp "$OUT/test_key.pub" root/.ssh/authorized_keys
chmod 0600 root/.ssh/authorized_keys

cat >usr/share/udhcpc/default.script <<'EOF'
#!/bin/sh
# udhcpc hook: apply the lease to the interface.
case $1 in
deconfig)
	ip -4 addr flush dev "$interface"
	ip link set "$interface" up
	;;
bound | renew)
	ip -4 addr flush dev "$interface"
	ip addr add "$ip/${mask:-24}" ${broadcast:+broadcast "$broadcast"} dev "$interface"
	for r in $router; do
		ip route replace default via "$r" dev "$interface"
		break
	done
	: >/etc/resolv.conf
	for d in $dns; do
		echo "nameserver $d" >>/etc/resolv.conf
	done
	;;
esac
exit 0
EOF

# qemu-ga runs /sbin/shutdown for guest-shutdown; power off at once, but
# after qemu-ga has seen its child exit.
cat >sbin/shutdown <<'EOF'
#!/bin/sh
# Called by qemu-ga (guest-shutdown): -r reboots, anything else powers off.
act=poweroff
for a in "$@"; do
	case $a in -r) act=reboot ;; -H) act=halt ;; esac
done
(sleep 0.2; sync; $act -f) </dev/null >/dev/null 2>&1 &
exit 0
EOF

# busybox acpid maps KEY_POWER to the action file PWRF/00000080.
cat >etc/acpi/PWRF/00000080 <<'EOF'
#!/bin/sh
sync
exec poweroff -f
EOF

cat >etc/inittab <<'EOF'
::sysinit:/etc/rc
::respawn:/etc/svc/qemu-ga
::respawn:/usr/sbin/dropbear -F -E -R -p 22
EOF

mkdir -p etc/svc
cat >etc/svc/qemu-ga <<'EOF'
#!/bin/sh
# Waits for the port: its name arrives from the host after the driver loads.
p=/dev/virtio-ports/org.qemu.guest_agent.0
i=0
while [ ! -e $p ] && [ $i -lt 100 ]; do
	/etc/vports
	[ -e $p ] && break
	sleep 0.1
	i=$((i + 1))
done
[ -e $p ] || { echo "qemu-ga: no $p" >&2; sleep 5; exit 1; }
exec /usr/sbin/qemu-ga -m virtio-serial -p $p -t /run/qemu-ga
EOF

cat >etc/vports <<'EOF'
#!/bin/sh
# No udev here: link /dev/virtio-ports/NAME to each named port.
mkdir -p /dev/virtio-ports
for d in /sys/class/virtio-ports/vport*; do
	[ -r "$d/name" ] || continue
	n=$(cat "$d/name")
	[ -n "$n" ] || continue
	[ -e "/dev/virtio-ports/$n" ] || ln -s "../${d##*/}" "/dev/virtio-ports/$n"
done
EOF

cat >etc/rc <<'EOF'
#!/bin/sh
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
mkdir -p /run/qemu-ga
hostname -F /etc/hostname
ip link set lo up
# The power button must work as soon as the agent answers (the supervisor
# may stop the VM right away): acpid starts here, before the services, and
# rc waits below until it holds the input devices open. It starts before
# the DHCP exchange so that it comes up while udhcpc waits for its lease.
acpid -f -c /etc/acpi </dev/null &
acpid=$!
if [ -e /sys/class/net/eth0 ]; then
	# Returns once bound (then renews in the background), or goes to the
	# background after ~10 s without a lease.
	udhcpc -i eth0 -t 10 -T 1 -b -s /usr/share/udhcpc/default.script
fi
/etc/vports
i=0
while [ $i -lt 50 ] && ! ls -l /proc/$acpid/fd 2>/dev/null | grep -q /dev/input/event; do
	sleep 0.05
	i=$((i + 1))
done
# vmshare=TAG:PATH[,TAG:PATH...], may be repeated.
for arg in $(cat /proc/cmdline); do
	case $arg in vmshare=*) ;; *) continue ;; esac
	for s in $(echo "${arg#vmshare=}" | tr ',' ' '); do
		tag=${s%%:*}
		path=${s#*:}
		if [ -z "$tag" ] || [ "$tag" = "$s" ] || [ -z "$path" ]; then
			echo "rc: bad vmshare entry '$s' (want TAG:PATH)" >&2
			continue
		fi
		mkdir -p "$path" &&
			mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 "$tag" "$path" ||
			echo "rc: cannot mount 9p $tag on $path" >&2
	done
done
echo "rc: guest up ($(uname -r))"
EOF

cat >init <<'EOF'
#!/bin/sh
# busybox init reaps orphans, respawns the services and runs /etc/rc.
exec /sbin/init
EOF
chmod 0755 init etc/rc etc/vports etc/svc/qemu-ga sbin/shutdown etc/acpi/PWRF/00000080 \
	usr/share/udhcpc/default.script
[ -e sbin/init ] || die "busybox has no init applet"

say "writing the initramfs"
# Reproducible archive: sorted names, fixed owner and times. Not
# compressed: with this kernel, unpacking a gzip initrd is about a fifth of
# the boot's CPU under TCG (10 MB against 4.6 MB on disk; bench/results.md).
find . -exec touch -h -d @0 {} +
find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --reproducible --quiet >"$WORK/initrd.img" ||
	die "cannot write the initramfs"
cd "$OUT"

mv "$WORK/vmlinuz.out" "$OUT/vmlinuz.tmp"
mv "$OUT/vmlinuz.tmp" "$OUT/vmlinuz"
mv "$WORK/bzImage" "$OUT/bzImage"
mv "$WORK/initrd.img" "$OUT/initrd.img"
echo "$APPEND" >"$OUT/append"
echo "$KREL" >"$OUT/kernel-release"
{
	echo "# mkguest.sh manifest"
	echo "script $SELF_SHA"
	echo "kernel-release $KREL"
	sort "$VERSIONS"
	for f in vmlinuz bzImage initrd.img append kernel-release test_key.pub; do
		echo "sha256 $(sha256sum "$f" | sed 's/ .*//')  $f"
	done
} >"$OUT/MANIFEST.tmp"
mv "$OUT/MANIFEST.tmp" "$OUT/MANIFEST"
rm -rf "$WORK"
echo "mkguest: built $OUT (kernel $KREL, initrd $(wc -c <"$OUT/initrd.img") bytes)"
