#!/bin/sh
# guest-kernel.sh SOURCE_DEB CONFIG OUTDIR: build the test guest's kernel
# from Debian's kernel source package (the linux-source-X.Y .deb, unpacked
# here, not installed) with the options of CONFIG on top of `make
# allnoconfig`, and write OUTDIR/bzImage and OUTDIR/kernel-release.
#
# Why a kernel of our own: Debian's, as shipped, spends ~1.9 s of a TCG
# boot in its own initcalls (alternatives patching, the W+X check, ACPI,
# crypto self-tests) and ~0.3 s loading 19 modules from the initrd
# (bench/results.md); this one has every driver the guest needs built in
# and nothing else. Takes 8-10 minutes on two cores; mkguest.sh keeps the
# result until the package or CONFIG changes. Needs make, gcc, bc, flex,
# bison, perl and libelf's headers (objtool), which scripts/deps installs.
set -eu

die() {
	echo "guest-kernel: $*" >&2
	exit 1
}

[ $# -eq 3 ] || {
	echo "usage: $0 SOURCE_DEB CONFIG OUTDIR" >&2
	exit 2
}
DEB=$1
CONF=$2
OUT=$3
for t in dpkg-deb tar xz make gcc bc flex bison perl; do
	command -v $t >/dev/null 2>&1 || die "$t is required (scripts/deps installs it)"
done
[ -f /usr/include/gelf.h ] || die "libelf's headers are required (libelf-dev; scripts/deps installs it)"
[ -f "$CONF" ] || die "no $CONF"

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$OUT/build
rm -rf "$WORK"
mkdir -p "$WORK"
echo "guest-kernel: unpacking the source of $(basename "$DEB")" >&2
dpkg-deb --fsys-tarfile "$DEB" | tar -x -C "$WORK" --wildcards './usr/src/linux-source-*.tar.xz' ||
	die "no kernel source tarball in $DEB"
set -- "$WORK"/usr/src/linux-source-*.tar.xz
[ -f "$1" ] || die "no kernel source tarball in $DEB"
tar -xJf "$1" -C "$WORK" || die "cannot unpack $1"
rm -rf "$WORK/usr"
set -- "$WORK"/linux-source-*
[ -d "$1" ] || die "no source tree in $DEB"
SRC=$1
O=$WORK/obj

# The kernel's make must not see the flags of a make that runs this script
# (automake's `make check` passes its jobserver and variables down).
unset MAKEFLAGS MFLAGS MAKELEVEL
# reproducible: no user, host or date of this machine in the image
export KBUILD_BUILD_USER=mkguest KBUILD_BUILD_HOST=virtualmesos
export KBUILD_BUILD_TIMESTAMP="$(date -u -d @0)"
kmake() {
	make -s -C "$SRC" O="$O" "$@"
}
kmake allnoconfig >/dev/null || die "make allnoconfig failed"
"$SRC/scripts/kconfig/merge_config.sh" -m -O "$O" "$O/.config" "$CONF" >/dev/null ||
	die "cannot merge $CONF"
kmake olddefconfig >/dev/null || die "make olddefconfig failed"
# olddefconfig silently drops an option whose dependencies are not met:
# each line of CONF must be in the result ("=n" as "is not set").
sed -n 's/^\(CONFIG_[A-Za-z0-9_]*\)=\(.*\)$/\1 \2/p' "$CONF" | while read -r opt val; do
	if [ "$val" = n ]; then
		! grep -q "^$opt=" "$O/.config" || die "$opt is still set (a select forces it)"
	else
		grep -qxF "$opt=$val" "$O/.config" ||
			die "$opt=$val did not take (unmet dependencies?): $(grep "^$opt=\|^# $opt " "$O/.config" || echo unset)"
	fi
done || exit 1

echo "guest-kernel: building (about 10 minutes on two cores)" >&2
kmake -j"$(nproc)" bzImage || die "the kernel build failed"
cp "$O/arch/x86/boot/bzImage" "$OUT/bzImage.tmp"
kmake kernelrelease >"$OUT/kernel-release.tmp"
cp "$O/.config" "$OUT/config"
mv "$OUT/bzImage.tmp" "$OUT/bzImage"
mv "$OUT/kernel-release.tmp" "$OUT/kernel-release"
rm -rf "$WORK"
echo "guest-kernel: built $(cat "$OUT/kernel-release")" >&2
