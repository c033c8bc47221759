#!/bin/sh
# bench/run.sh [--quick] [NAME...]: run the benchmark programs built under
# bench/ (all of them, or the NAMEs given), print one Markdown table and
# write it, with the machine's description, to bench-results.md in the build
# directory ($BENCH_RESULTS overrides). The committed bench/results.md is an
# example run: an in-tree build must not overwrite it.
# bench/run.sh --report: only render bench/logs/results.tsv again.
# Run from the build directory (`make bench` does). See bench/README.md.
set -u

usage() {
	echo "usage: $0 [--quick] [NAME...] | --report   (names: $order)"
}

# The order puts the light runs first and the machine-filling scale run late.
# pool-distro: bench/pool on scripts/mkdistro.sh's Debian image (./distro).
order="launch vmsupd-launch api-rtt qmp-rtt restart scale guest-boot time-to-ip restore clock-first pool pool-distro vmctl-run cpu-quota"
quick=${BENCH_QUICK:+--quick}
names=
report_only=
for a in "$@"; do
	case $a in
	--quick) quick=--quick ;;
	--report) report_only=1 ;;
	-h | --help) usage; exit 0 ;;
	-*) usage >&2; exit 2 ;;
	*) names="$names $a" ;;
	esac
done

if [ ! -d bench ] || [ ! -f Makefile ]; then
	echo "bench/run.sh: run me from the build directory (make bench)" >&2
	exit 2
fi
timeout_s=${BENCH_TIMEOUT:-300}
VMSUPD=${VMSUPD:-$PWD/src/daemon/vmsupd}
VMSUP_GUEST_DIR=${VMSUP_GUEST_DIR:-$PWD/guest}
export VMSUPD VMSUP_GUEST_DIR

if [ -z "$names" ]; then
	names=$order
	# anything else built under bench/ too, after the known ones
	for f in bench/*; do
		n=${f#bench/}
		[ -f "$f" ] && [ -x "$f" ] || continue
		case " $order " in *" $n "*) continue ;; esac
		case $n in *.sh | *.la | *.o | *.lo) continue ;; esac
		names="$names $n"
	done
fi

mkdir -p bench/logs
tsv=bench/logs/results.tsv
tab=$(printf '\t')
if [ -n "$report_only" ]; then
	names=
	[ -f "$tsv" ] || { echo "bench/run.sh: no $tsv to report" >&2; exit 2; }
else
	: >"$tsv"
fi

# Programs that do not print BENCH lines: turn their output into some.
adapt() { # name outfile
	case $1 in
	cpu-quota)
		# "| quota % | share % (cgroup usage) | share % (/proc/PID/stat) | error |"
		awk -F'|' -v OFS='\t' '
			$2 ~ /^ *[0-9]+ *$/ {
				q = $2 + 0; s = $3 + 0; p = $4 + 0
				print "BENCH", "cpu-quota", "CPU share at quota " q " %", s, "%", q,
					sprintf("%.2f", s / q), "+-5 points",
					"from /proc/PID/stat: " p " %; error " $5 + 0 " points"
			}' "$2"
		;;
	guest-boot)
		# "guest-boot: median X ms, min Y, max Z, N boots, accel A"
		sed -n 's/^guest-boot: median \([0-9.]*\) ms, min \([0-9.]*\), max \([0-9.]*\), \([0-9]*\) boots, accel \([a-z]*\).*/\1 \2 \3 \4 \5/p' "$2" |
			awk -v OFS='\t' '{
				print "BENCH", "guest-boot", "spawn -> first guest-ping answer, median", $1, "ms",
					"-", "-", "-", "n=" $4 " boots, " $5 ", min-max " $2 "-" $3
			}'
		;;
	vmsupd-launch)
		# "launch (guest-less, tcg, N rounds): vmsupd API median X ms, raw spawn+QMP median Y ms, ratio R"
		# "vmsupd RSS: idle A KiB, with 20 VMs B KiB"
		sed -n 's/^launch (guest-less, \([a-z]*\), \([0-9]*\) rounds): vmsupd API median \([0-9.]*\) ms, raw spawn+QMP median \([0-9.]*\) ms.*/\1 \2 \3 \4/p' "$2" |
			awk -v OFS='\t' '{
				print "BENCH", "vmsupd-launch", "POST /v1/vms -> running, median (baseline: raw spawn + QMP)",
					$3, "ms", $4, sprintf("%.2f", $3 / $4), "<= 1.10x", "n=" $2 ", " $1
			}'
		sed -n 's/^vmsupd RSS: idle \([0-9]*\) KiB, with 20 VMs \([0-9]*\) KiB.*/\1 \2/p' "$2" |
			awk -v OFS='\t' '{
				print "BENCH", "vmsupd-launch", "vmsupd RSS with 20 VMs (baseline: idle)", $2, "KiB",
					$1, sprintf("%.2f", $2 / $1), "-", "-"
			}'
		;;
	*)
		last=$(grep -v '^[[:space:]]*$' "$2" | tail -n 1 | tr "$tab" ' ')
		printf 'BENCH\t%s\toutput (not in BENCH form)\t-\t-\t-\t-\t-\t%s\n' "$1" \
			"${last:-no output}"
		;;
	esac
}

args_for() { # name -> extra arguments
	case $1 in
	time-to-ip) [ -n "$quick" ] && echo 2 ;;
	guest-boot) [ -n "$quick" ] && echo "-n 2" ;;
	vmsupd-launch | restore) [ -n "$quick" ] && echo 2 ;;
	clock-first) [ -n "$quick" ] && echo 1 ;;
	cpu-quota) [ -n "$quick" ] && echo "--seconds 1" ;;
	launch | api-rtt | scale | qmp-rtt | vmctl-run | restart) echo "$quick" ;;
	*) ;; # unknown programs run with their defaults
	esac
}

failed=0
[ -n "$names" ] && printf 'DATE\t%s\n' "$(date -u '+%Y-%m-%d %H:%M:%S UTC')" >>"$tsv"
if [ -n "$names" ]; then
	if [ -n "$quick" ]; then mode="--quick (smoke run: small N, figures indicative only)"; else mode=full; fi
	printf 'MODE\t%s\n' "$mode" >>"$tsv"
fi
for n in $names; do
	prog=bench/$n
	distro=
	if [ "$n" = pool-distro ]; then
		prog=bench/pool
		distro=$PWD/distro
		if [ ! -f "$distro/MANIFEST" ]; then
			printf 'RUN\t%s\tskipped: no Debian image (make distro/MANIFEST as root)\t-\t-\t-\n' "$n" >>"$tsv"
			continue
		fi
	fi
	if [ ! -x "$prog" ]; then
		printf 'RUN\t%s\tnot built\t-\t-\t-\n' "$n" >>"$tsv"
		continue
	fi
	l0=$(cut -d' ' -f1 /proc/loadavg)
	t0=$(date +%s)
	echo "bench: $n $(args_for "$n") (load $l0) ..." >&2
	# shellcheck disable=SC2046 # the arguments are words
	# the guest-booting runs boot a TCG Linux 10 times: slow on a loaded machine
	# restart makes 100 VMs and restarts them 100 times over
	case $n in guest-boot | time-to-ip | restore | clock-first | vmctl-run | restart | pool-distro) t=$((timeout_s * 3)) ;; *) t=$timeout_s ;; esac
	BENCH_DISTRO=$distro timeout -k 20 "$t" "$prog" $(args_for "$n") >"bench/logs/$n.out" 2>"bench/logs/$n.err"
	rc=$?
	t1=$(date +%s)
	l1=$(cut -d' ' -f1 /proc/loadavg)
	if grep -q '^BENCH' "bench/logs/$n.out"; then
		grep '^BENCH' "bench/logs/$n.out" >>"$tsv"
	else
		adapt "$n" "bench/logs/$n.out" >>"$tsv"
	fi
	case $rc in
	0) st=ok ;;
	124 | 137) st="timed out after $t s"; failed=$((failed + 1)) ;;
	*) st="failed (exit $rc): $(tail -n 1 "bench/logs/$n.err" | tr "$tab" ' ')"; failed=$((failed + 1)) ;;
	esac
	printf 'RUN\t%s\t%s\t%s\t%s\t%s\n' "$n" "$st" "$((t1 - t0))" "$l0" "$l1" >>"$tsv"
done

# ---- the report ----------------------------------------------------------
qemu=${QEMU:-qemu-system-x86_64}
qver=$("$qemu" --version 2>/dev/null | head -n 1 | sed 's/^QEMU emulator version //')
accel=$(awk -F'\t' '$1 == "BENCHINFO" && $2 == "accel" { print $3; exit }' "$tsv")
if [ -z "$accel" ]; then
	if [ -w /dev/kvm ]; then accel="kvm (expected)"; else accel="tcg (no /dev/kvm)"; fi
fi
memtotal=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
memavail=$(awk '/^MemAvailable:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)

report() {
	echo "# virtualmesos benchmark results"
	echo
	started=$(awk -F'\t' '$1 == "DATE" { print $2; exit }' "$tsv")
	echo "- date: ${started:-unknown} (run started), report $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "- machine: $(nproc) CPUs ($cpu), memory $memtotal ($memavail available at the end)"
	echo "- qemu: ${qver:-unknown}; accel used: $accel"
	echo "- kernel: $(uname -r); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
	if grep -q '^MODE' "$tsv"; then
		echo "- mode: $(awk -F'\t' '$1 == "MODE" { print $2; exit }' "$tsv")"
	fi
	echo
	echo "| bench | figure | value | baseline | ratio | goal | spread / notes |"
	echo "| --- | --- | ---: | ---: | ---: | --- | --- |"
	awk -F'\t' '
		function cell(s) { gsub(/\|/, "\\|", s); return s == "" ? "-" : s }
		$1 == "BENCH" {
			unit = ($5 == "-" ? "" : " " $5)
			val = ($4 == "-" ? "-" : $4 unit)
			base = ($6 == "-" ? "-" : $6 unit)
			ratio = ($7 == "-" ? "-" : $7 "x")
			printf "| %s | %s | %s | %s | %s | %s | %s |\n", cell($2), cell($3), val, base,
				ratio, cell($8), cell($9)
		}' "$tsv"
	echo
	echo "Ratios are value / baseline, both measured in the same run, interleaved."
	echo "The machine is shared: compare ratios more than absolute figures."
	echo
	echo "| run | result | seconds | load (1 min) before -> after |"
	echo "| --- | --- | ---: | --- |"
	awk -F'\t' '$1 == "RUN" { printf "| %s | %s | %s | %s -> %s |\n", $2, $3, $4, $5, $6 }' "$tsv"
	if grep -q '^BENCHINFO' "$tsv"; then
		echo
		awk -F'\t' '$1 == "BENCHINFO" && $2 != "accel" { printf "- %s: %s\n", $2, $3 }' "$tsv"
	fi
	echo
	echo "Raw output of each program: bench/logs/NAME.out and NAME.err in the build directory."
}

results=${BENCH_RESULTS:-bench-results.md}
report >"$results"
cat "$results"
echo "bench: written to $(cd "$(dirname "$results")" && pwd)/$(basename "$results")" >&2
[ "$failed" -eq 0 ]
