#!/bin/bash
# check-layers.sh: the module's include and call graph has no cycle and no
# edge that goes up a layer (docs/architecture.md).  Run by "make unit".
#
# A node is a module: src/<layer>/<name>, its .c and .h together.  An edge
# A -> B is "A includes B's header" or "A calls a function that B defines
# (not static)"; a header shared by several .c files is a node of its own.
# Layers, lowest first:
#   0 core   1 service   2 adapters' leaves (pg_compat, spi, errors, settings,
#   listeners)   3 adapters   4 session   5 entry
# Every edge must go to the same layer or a lower one, and the graph must
# have no cycle (tsort finds one).
set -euo pipefail
cd "$(dirname "$0")/.."

rank() {
	case $1 in
	core/*) echo 0 ;;
	service/*) echo 1 ;;
	adapters/pg_compat | adapters/spi | adapters/errors | adapters/settings | adapters/listeners) echo 2 ;;
	adapters/session) echo 4 ;;
	adapters/*) echo 3 ;;
	entry/*) echo 5 ;;
	*) echo 9 ;;
	esac
}

files=$(ls src/core/*.[ch] src/service/*.[ch] src/adapters/*.[ch] src/entry/*.[ch])
mod() { local f=${1#src/}; echo "${f%.[ch]}"; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# functions defined with external linkage: "name(" at the start of a line,
# the line before not starting with "static"
for f in $files; do
	case $f in *.c) ;; *) continue ;; esac
	awk -v m="$(mod "$f")" '
		/^[a-z_][a-z0-9_]*\(/ && prev !~ /^static/ { sub(/\(.*/, ""); print $0, m }
		{ prev = $0 }' "$f"
done | sort -u > "$tmp/defs"

# headers by name
for f in $files; do
	case $f in *.h) echo "$(basename "$f") $(mod "$f")" ;; esac
done | sort -u > "$tmp/hdrs"

: > "$tmp/edges"
for f in $files; do
	m=$(mod "$f")
	# includes of our headers
	sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f" | sort -u |
		join - "$tmp/hdrs" | awk -v m="$m" '{ print m, $2, "includes" }' >> "$tmp/edges"
	# calls of functions defined in other modules (not a header's
	# declarations)
	case $f in *.h) continue ;; esac
	grep -oE '\b[a-z_][a-z0-9_]*\(' "$f" | tr -d '(' | sort -u |
		join - "$tmp/defs" | awk -v m="$m" '{ print m, $2, "calls " $1 }' >> "$tmp/edges"
done
awk '$1 != $2' "$tmp/edges" | sort -u > "$tmp/e"

bad=0
while read -r a b how; do
	if [ "$(rank "$a")" -lt "$(rank "$b")" ]; then
		echo "check-layers: $a $how $b: an edge up a layer" >&2
		bad=1
	fi
done < "$tmp/e"
if ! awk '{ print $1, $2 }' "$tmp/e" | tsort > /dev/null 2> "$tmp/tsort"; then
	echo "check-layers: a cycle:" >&2
	cat "$tmp/tsort" >&2
	bad=1
fi
[ "$bad" = 0 ] || exit 1
echo "check-layers: $(wc -l < "$tmp/e") edges between $(awk '{ print $1; print $2 }' "$tmp/e" | sort -u | wc -l) modules, no cycle, none up a layer"
