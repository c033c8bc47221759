#!/bin/sh
# docs/API.md and the router agree (issue 24): every route the document's
# tables name is answered by a live vmsupd with something other than the
# router's "no such path", and every path word the router matches on
# (src/daemon/api*.c) appears in a documented route. Skips (77) while
# vmsupd is not built.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/docs/live-lib.sh"

doc=$srcdir/docs/API.md

fail=0
bad()
{
	echo "FAIL: $*"
	fail=1
}

live_start
routes=$live_dir/routes
# `METHOD /path...` at the start of a table row; `{...}` bodies, query
# strings and shell-ish alternatives dropped; NAME becomes our VM's name
sed -n 's/^| `\(GET\|POST\|PUT\|DELETE\) \(\/[^` ?]*\).*/\1 \2/p' "$doc" | sort -u >"$routes"
[ "$(wc -l <"$routes")" -ge 20 ] || live_fail "only $(wc -l <"$routes") routes read from $doc"

create_guestless rt-a 64
# the VM's own DELETE last: the other VM routes need it
for r in $(sed 's/ /@/' "$routes" | sort -t@ -k1,1r); do
	m=${r%%@*}
	p=$(printf '%s' "${r#*@}" | sed 's/NAME/rt-a/g')
	[ "$m $p" != "DELETE /v1/vms/rt-a" ] || continue
	# streams (events, console) are cut after 2 s: the status line is enough
	out=$(curl -s --max-time 2 --unix-socket "$SOCK" -X "$m" -w ' HTTP=%{http_code}' \
		"http://localhost$p" 2>/dev/null)
	case $out in
	*'no such path'* | *'HTTP=000') bad "$m $p (docs/API.md) is not routed: $out" ;;
	esac
done
api DELETE /v1/vms/rt-a >/dev/null
[ "$api_status" = 200 ] || bad "DELETE /v1/vms/NAME: HTTP $api_status"
# and an undocumented path is what the check above would catch
api GET /v1/vms/rt-a/nosuch >/dev/null
grep -q 'no such path\|no VM named' "$api_out" || bad "unknown path answered: $(cat "$api_out")"

# the router's words: the path segments of its table's rows ({name} and
# {verb} match any), and the verbs a route file compares with strcmp
words=$(sed -n '/routes\[\] = {/,/^};/p' "$srcdir/src/daemon/api.c" |
	grep -o '"/[^"]*"' | tr -d '"' | tr '/' '\n' | grep -v '^{\|^$' | sort -u)
words="$words $(grep -ho 'strcmp(\(action\|verb\), "[a-z_]*")' "$srcdir"/src/daemon/api*.c |
	sed 's/.*"\([a-z_]*\)")/\1/' | sort -u)"
[ -n "$words" ] || live_fail "no route words read from src/daemon/api*.c"
rows=$(grep '^| `\(GET\|POST\|PUT\|DELETE\) /' "$doc")
for w in $words; do
	printf '%s\n' "$rows" | grep -q "/$w[][\` ?/]\|/$w\$\|\`$w\`" ||
		bad "the router matches '$w' but no route in docs/API.md names it"
done

[ $fail = 0 ] && echo "ok: $(wc -l <"$routes") documented routes routed, router words documented: $(echo $words | wc -w)"
exit $fail
