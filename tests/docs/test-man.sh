#!/bin/sh
# Every man page renders without a single warning: mandoc's linter at
# warning level and groff with all warnings; any output is a failure.
srcdir=${top_srcdir:-$(dirname "$0")/../..}
builddir=${top_builddir:-.}
# The pages as installed: man/gen/, with configure's paths in place of
# man/'s @sysconfdir@ and friends.
pages="man/gen/vmctl.1 man/gen/vmsupd.8 man/gen/vmsupd.conf.5 man/gen/mesos-vm-executor.8"
fail=0
have_mandoc=0 have_groff=0
command -v mandoc >/dev/null 2>&1 && have_mandoc=1
command -v groff >/dev/null 2>&1 && have_groff=1
if [ $have_mandoc = 0 ] && [ $have_groff = 0 ]; then
	echo "SKIP: neither mandoc nor groff installed"
	exit 77
fi
for p in $pages; do
	f=$builddir/$p
	if [ ! -s "$f" ]; then
		echo "FAIL: $p missing or empty"
		fail=1
		continue
	fi
	if [ $have_mandoc = 1 ]; then
		out=$(mandoc -T lint -W warning "$f" 2>&1)
		if [ -n "$out" ]; then
			echo "FAIL: mandoc -T lint $p:"
			echo "$out"
			fail=1
		fi
	fi
	if [ $have_groff = 1 ]; then
		out=$(LC_ALL=C groff -ww -z -mandoc "$f" 2>&1)
		if [ -n "$out" ]; then
			echo "FAIL: groff -ww $p:"
			echo "$out"
			fail=1
		fi
		# what man -l shows: it must render to text with the NAME section
		out=$(LC_ALL=C groff -ww -mandoc -Tutf8 -P-bu "$f" 2>&1)
		case $out in
		*NAME*) ;;
		*) echo "FAIL: $p renders without a NAME section"; fail=1 ;;
		esac
	fi
	# The page names itself the way the installed file is called.
	base=${p#man/gen/}
	name=${base%.*} sect=${base##*.}
	if ! grep -qi "^\.Dt $name $sect\$" "$f"; then
		echo "FAIL: $p: .Dt does not say $name $sect"
		fail=1
	fi
	if grep -n '@[a-z]*dir@' "$f"; then
		echo "FAIL: $p: a path placeholder was not replaced"
		fail=1
	fi
	[ $fail = 0 ] && echo "ok $p"
done
# FILES names the paths the binaries use: the config file vmsupd --help
# gives as its default, the socket vmctl --help gives as its default.
conf=$("$builddir/src/daemon/vmsupd" --help 2>&1 | sed -n 's/.*(default \([^ ]*vmsupd.conf\).*/\1/p')
sock=$("$builddir/src/cli/vmctl" --help 2>&1 | sed -n 's/.*else \([^ ]*api.sock\)).*/\1/p')
[ -n "$conf" ] && [ -n "$sock" ] || { echo "FAIL: no default paths in the binaries' --help (conf '$conf', socket '$sock')"; fail=1; }
for p in vmsupd.8 vmsupd.conf.5 vmctl.1; do
	sed -n '/^\.Sh FILES/,/^\.Sh /p' "$builddir/man/gen/$p" | grep -q "^\.It Pa $conf\$" ||
		{ echo "FAIL: $p: FILES does not name $conf, the config file the binaries read"; fail=1; }
done
for p in vmsupd.8 vmctl.1; do
	sed -n '/^\.Sh FILES/,/^\.Sh /p' "$builddir/man/gen/$p" | grep -q "^\.It Pa $sock\$" ||
		{ echo "FAIL: $p: FILES does not name $sock, the binaries' default socket"; fail=1; }
done
# Every key the config parser knows (its table in src/qemu/config.c) has an
# entry in vmsupd.conf(5), so a new key cannot go undocumented.
keys=$(sed -n 's/^[[:space:]]*{"\([a-z_0-9]*\)", K_.*/\1/p' "$srcdir/src/qemu/config.c")
[ -n "$keys" ] || { echo "FAIL: no config keys found in src/qemu/config.c"; fail=1; }
for k in $keys; do
	grep -q "^\.It Cm $k No" "$srcdir/man/vmsupd.conf.5" ||
		{ echo "FAIL: vmsupd.conf(5) does not document the key $k"; fail=1; }
done
exit $fail
