#!/bin/sh
# vmctl's own help is the truth: every command and every option it lists is
# in vmctl(1) and in the bash completion, and the completion offers no
# command or option vmctl does not know (issue 24: docs that cannot drift).
srcdir=${top_srcdir:-$(dirname "$0")/../..}
builddir=${top_builddir:-.}
vmctl=$builddir/src/cli/vmctl
man=$srcdir/man/vmctl.1
comp=$srcdir/scripts/vmctl.bash-completion
[ -x "$vmctl" ] || { echo "FAIL: $vmctl not built"; exit 1; }
fail=0
bad() { echo "FAIL: $*"; fail=1; }

# The commands: the first word of each line of the "Commands:" block.
cmds=$("$vmctl" --help | sed -n '/^Commands:/,/^$/p' | sed -n 's/^  \([a-z][a-z-]*\).*/\1/p' | sort -u)
[ "$(echo "$cmds" | wc -w)" -ge 20 ] || bad "vmctl --help lists too few commands: $cmds"

# Every --option vmctl prints in its main help and in each command's help.
opts_of() { grep -o -- '--[a-z][a-z-]*' | grep -v -- '--$' | sort -u; }
known=$("$vmctl" --help | opts_of)
for c in $cmds; do
	h=$("$vmctl" "$c" --help 2>&1) || bad "vmctl $c --help exits non-zero"
	case $h in *usage:*) ;; *) bad "vmctl $c --help prints no usage" ;; esac
	known="$known
$(echo "$h" | opts_of)"
	# the man page has an entry (.It Cm CMD) for the command
	# (.It Cm CMD ..., or .It Xo then .Cm CMD on the next line)
	awk -v c="$c" '($1 == ".It" && $2 == "Cm" && $3 == c) || (xo && $1 == ".Cm" && $2 == c) { f = 1 }
		{ xo = ($0 == ".It Xo") } END { exit !f }' "$man" ||
		bad "vmctl(1) has no entry for the command $c"
	# the completion offers the command
	sed -n '/local commands=/,/"$/p' "$comp" | grep -qw -- "$c" ||
		bad "the completion does not offer the command $c"
done
known=$(echo "$known" | sort -u)
for o in $known; do
	grep -q -- "Fl -${o#--}\\b" "$man" || bad "vmctl(1) does not describe $o"
	grep -q -- "$o\\b" "$comp" || bad "the completion does not offer $o"
done
# Nothing unknown is completed: every --word the completion names is one
# vmctl prints in some help.
for o in $(grep -o -- '--[a-z][a-z-]*' "$comp" | sort -u); do
	echo "$known" | grep -qx -- "$o" || bad "the completion offers $o, which vmctl --help never names"
done
# The completion's commands are vmctl's.
for c in $(sed -n '/local commands=/,/"$/p' "$comp" | sed 's/.*commands="//; s/"//'); do
	echo "$cmds" | grep -qx -- "$c" || bad "the completion offers the command $c, which vmctl --help does not list"
done
# The completion itself, run by bash on a few command lines (no daemon: the
# name lists are empty, the words are not).
bash=$(command -v bash)
if [ -n "$bash" ]; then
	complete_words() {
		PATH=/nonexistent "$bash" -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
			_vmctl; echo "${COMPREPLY[*]}"' sh "$comp" "$@"
	}
	check_comp() {
		want=$1
		shift
		got=$(complete_words "$@")
		[ "$got" = "$want" ] || bad "completing '$*': got '$got', want '$want'"
	}
	check_comp "template" vmctl temp
	check_comp "create list rm verify" vmctl template ""
	check_comp "--force" vmctl destroy a --fo
	check_comp "on off" vmctl autostart a ""
	check_comp "--all" vmctl shutdown --al
	check_comp "--from" vmctl create a --fr
fi
[ $fail = 0 ] && echo "ok: $(echo "$cmds" | wc -w) commands and $(echo "$known" | wc -w) options in vmctl(1) and the completion"
exit $fail
