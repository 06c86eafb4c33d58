#!/bin/sh
# The man pages against groff and the binaries: meshgate(1), meshgated(8)
# and meshgate.conf(5) render without a warning (groff -ww), no .TP or .TQ
# tag leaves a bracket open (a tag is one input line: a synopsis continued
# on the next line renders as "ping [-c" above "N] PEER ..."), and the
# options of meshgate(1) and meshgated(8) are those of the binary's --help
# (meshgate's with each command's --help), both ways; meshgate.conf(5) may
# only name options of either binary.
# Usage: check-man.sh MESHGATE MESHGATED      (from the source tree; 77: no groff)
set -eu

meshgate=$1
meshgated=$2
man=packaging/man
fail=0
bad() {
	echo "FAIL: $*"
	fail=1
}

if ! command -v groff >/dev/null 2>&1; then
	echo "SKIP: groff is not installed (packaging/install-deps.sh installs groff-base)"
	exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Options named where they are not ours (journalctl -u, sysctl -w): PAGE OPTION.
allowed='meshgated.8 -u meshgated.8 -w'

# Options in a man page source: \-x and \-\-long\-name, fonts stripped.
page_options() {
	sed -e 's/\\f[BIRP]//g' -e 's/\\f([A-Z][A-Z]//g' "$1" |
		grep -oP '(?<![\w\\-])(\\-){1,2}[a-zA-Z][a-zA-Z0-9]*(\\-[a-z0-9]+)*' |
		sed 's/\\-/-/g' | sort -u
}

# Options in --help text on stdin.
help_options() {
	grep -oP '(?<![\w-])--?[a-zA-Z][a-zA-Z0-9]*(-[a-z0-9]+)*' | sort -u
}

# Every tag with as many [ as ].
check_tags() { # PAGE
	awk -v page="$1" '
		tag { t = $0; gsub(/\\f[BIRP]/, "", t); o = gsub(/\[/, "", t);
		      c = gsub(/\]/, "", t)
		      if (o != c) printf "%s:%d: tag with unbalanced brackets: %s\n", page, NR, $0
		      tag = 0; next }
		/^\.(TP|TQ)/ { tag = 1 }' "$man/$1"
}

compare() { # PAGE HELP_FILE: both ways
	page_options "$man/$1" >"$work/page"
	for opt in $(comm -23 "$work/page" "$2"); do
		case " $allowed " in *" $1 $opt "*) continue ;; esac
		bad "$1 documents $opt, which --help does not list"
	done
	for opt in $(comm -13 "$work/page" "$2"); do
		bad "--help lists $opt, which $1 does not document"
	done
}

for page in meshgate.1 meshgated.8 meshgate.conf.5; do
	warnings=$(LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z "$man/$page" 2>&1) || bad "$page: groff failed"
	[ -z "$warnings" ] || bad "$page: groff -ww: $warnings"
	tags=$(check_tags "$page")
	[ -z "$tags" ] || bad "$tags"
done

"$meshgated" --help | help_options >"$work/meshgated"
{
	"$meshgate" --help
	for cmd in $("$meshgate" --help | awk '/^Commands:/ { on = 1; next }
			/^$/ { on = 0 } on { print $1 }'); do
		"$meshgate" "$cmd" --help </dev/null
	done
} | help_options >"$work/meshgate"
if [ ! -s "$work/meshgate" ] || [ ! -s "$work/meshgated" ]; then
	bad "no options in --help"
fi
compare meshgate.1 "$work/meshgate"
compare meshgated.8 "$work/meshgated"
sort -u "$work/meshgate" "$work/meshgated" >"$work/both"
for opt in $(page_options "$man/meshgate.conf.5" | comm -23 - "$work/both"); do
	bad "meshgate.conf.5 names $opt, which neither binary's --help lists"
done

[ "$fail" = 0 ] && echo "man pages: no groff warning, tags whole, options as in --help"
exit "$fail"
