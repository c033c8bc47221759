#!/bin/sh
# pvh-kernel.sh BZIMAGE OUT: write to OUT the uncompressed kernel inside
# BZIMAGE if it is an ELF with a PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY,
# type 18); exit 1 (OUT removed) if there is none.
#
# qemu boots such an ELF directly (-kernel), which skips the bzImage's
# self-decompression: seconds of emulated code under TCG (issue 25:
# spawn -> agent 31 s against 11 s, qemu CPU 7.3 s against 4.3 s on the
# test guest). As the kernel's scripts/extract-vmlinux: try each
# compressed stream's magic in turn until one unpacks to an ELF. Used by
# mkguest.sh (any image with a Debian kernel can use it the same way);
# needs perl, od, readelf and the unpacker (xz, zstd or gzip) the kernel
# was built with.
set -u

[ $# -eq 2 ] || {
	echo "usage: $0 BZIMAGE OUT" >&2
	exit 2
}
in=$1
out=$2
for c in 'xz:\xfd7zXZ\x00' 'zstd:\x28\xb5\x2f\xfd' 'gzip:\x1f\x8b\x08'; do
	tool=${c%%:*}
	command -v "$tool" >/dev/null 2>&1 || continue
	for off in $(perl -0777 -ne 'my $m = "'"${c#*:}"'"; while (/\Q$m\E/g) { print pos() - length($m), "\n" }' "$in" | head -n 4); do
		tail -c +$((off + 1)) "$in" | "$tool" -dc >"$out" 2>/dev/null
		[ "$(head -c 4 "$out" | od -An -c | tr -d ' ')" = '177ELF' ] || continue
		readelf -n "$out" 2>/dev/null | grep -q 'Xen.*(0x00000012)\|PHYS32_ENTRY' && exit 0
		rm -f "$out"
		exit 1
	done
done
rm -f "$out"
exit 1
