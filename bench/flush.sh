#!/bin/sh
# Prints how long the flush before each strategy run takes (neighbour
# tables and TCP metrics of every namespace, topo/flush.h) for 128 and
# 1000 VMs: on empty tables, and with a neighbour entry in every VM (the
# harness pings each VM first). Three flushes each, and the median. Needs
# root; the machine is shared and noisy: read the medians.
set -eu
cd "$(dirname "$0")/.."
BIN=build/bin/faasnet-testbed
SIZES=${SIZES:-"128 1000"}
REPS=${REPS:-3}

if [ "$(id -u)" != 0 ]; then
	echo "bench: needs root (sudo make bench)" >&2
	exit 1
fi
trap '$BIN clean >/dev/null 2>&1 || true' EXIT INT TERM
$BIN clean >/dev/null 2>&1 || true

ms() { sed -n 's/.*"seconds":\([0-9.e+-]*\).*/\1/p' | awk '{printf "%.1f", $1 * 1000}'; }
entries() { sed -n 's/.*"neigh":\([0-9]*\).*/\1/p'; }
median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
# One ping to every VM, 100 at a time: each VM learns the harness's
# address (a neighbour entry in its namespace).
ping_all() {
	i=0
	while [ "$i" -lt "$1" ]; do
		ping -c1 -W1 -q "198.18.$((1 + i / 250)).$((1 + i % 250))" \
			>/dev/null 2>&1 &
		i=$((i + 1))
		[ $((i % 100)) -eq 0 ] && wait
	done
	wait
}

printf '%-6s %-24s %-24s %s\n' vms "empty: ms (runs; median)" \
	"pinged: ms (runs; median)" "entries deleted"
for n in $SIZES; do
	$BIN up --vms "$n" >/dev/null 2>&1
	empty="" full="" ents=""
	for _ in $(seq "$REPS"); do
		empty="$empty $($BIN flush --json 2>/dev/null | ms)"
	done
	for _ in $(seq "$REPS"); do
		ping_all "$n"
		out=$($BIN flush --json 2>/dev/null)
		full="$full $(echo "$out" | ms)"
		ents=$(echo "$out" | entries)
	done
	$BIN down >/dev/null 2>&1
	em=$(echo "$empty" | tr ' ' '\n' | grep . | median)
	fm=$(echo "$full" | tr ' ' '\n' | grep . | median)
	printf '%-6s %-24s %-24s %s\n' "$n" "$empty; $em" "$full; $fm" "$ents"
	sleep 3
done
