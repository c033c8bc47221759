#!/bin/sh
# bench/before-after.sh: the figures a user waits on, for two builds side by
# side in one run, interleaved round by round (old new, new old, ...), each
# build with its own vmsupd, vmctl and test guest (BUILD/guest):
#   guest-boot   spawn -> first guest-ping answered (the guest alone)
#   vmctl-run    `vmctl run -- true` through a private vmsupd, total
#   pool         `vmctl run --pool --via agent -- true`, a restore from a
#                template to agent ready, `vmctl run --via agent -- true` cold
# The programs are this build's (bench/*); VMSUPD, VMCTL and VMSUP_GUEST_DIR
# point them at each side. Medians and min-max of ROUNDS per side.
#
# Usage, from the new build directory:
#   sh ../bench/before-after.sh OLD_BUILD [ROUNDS]      (default 5)
# OLD_BUILD is a configured and built tree of the older commit whose guest
# its own scripts/mkguest.sh made in OLD_BUILD/guest.
set -u
old=${1:?usage: before-after.sh OLD_BUILD [ROUNDS]}
rounds=${2:-5}
new=$(pwd)
out=$(mktemp -d /tmp/vmsup-bench-ab.XXXXXX)
trap 'rm -rf "$out"' EXIT INT TERM

for b in "$old" "$new"; do
	for f in src/daemon/vmsupd src/cli/vmctl guest/vmlinuz; do
		[ -e "$b/$f" ] || { echo "before-after: no $b/$f" >&2; exit 2; }
	done
done

# one side's figures as lines "SIDE FIGURE MS"
side() {
	name=$1 b=$2
	export VMSUPD=$b/src/daemon/vmsupd VMCTL=$b/src/cli/vmctl VMSUP_GUEST_DIR=$b/guest
	bench/guest-boot -n 1 2>/dev/null |
		sed -n "s/^guest-boot: median \([0-9.]*\) ms.*/$name guest-boot \1/p"
	bench/vmctl-run -n 1 2>/dev/null |
		awk -F'\t' -v s="$name" '$1 == "BENCH" && $3 ~ /total/ { sub(/ \(median of [0-9]+\)/, "", $3); gsub(/ /, "_", $3); print s, "vmctl-run:" $3, $4 }'
	bench/pool -n 1 2>/dev/null |
		awk -F'\t' -v s="$name" '$1 == "BENCH" && $3 !~ /fill|refresh/ { gsub(/ /, "_", $3); print s, "pool:" $3, $4 }'
	unset VMSUPD VMCTL VMSUP_GUEST_DIR
}

i=1
while [ "$i" -le "$rounds" ]; do
	echo "before-after: round $i of $rounds" >&2
	if [ $((i % 2)) -eq 1 ]; then
		side old "$old"
		side new "$new"
	else
		side new "$new"
		side old "$old"
	fi >>"$out/all"
	i=$((i + 1))
done

echo "| figure | old, median (min-max) | new, median (min-max) | new/old |"
echo "| --- | ---: | ---: | ---: |"
awk '{ v[$2, $1] = v[$2, $1] " " $3; if (!($2 in seen)) { seen[$2] = 1; order[++n] = $2 } }
function med(s,   a, k, i, j, t) {
	k = split(s, a, " ")
	for (i = 2; i <= k; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
	lo = a[1]; hi = a[k]
	return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
}
END {
	for (i = 1; i <= n; i++) {
		f = order[i]
		mo = med(v[f, "old"]); lo_o = lo; hi_o = hi
		mn = med(v[f, "new"])
		gsub(/_/, " ", f)
		printf "| %s | %.0f ms (%.0f-%.0f) | %.0f ms (%.0f-%.0f) | %.2fx |\n", f, mo, lo_o, hi_o, mn, lo, hi, (mo > 0 ? mn / mo : 0)
	}
}' "$out/all"
