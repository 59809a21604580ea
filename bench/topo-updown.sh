#!/bin/sh
# Prints how long `up` and `down` take for 100, 500 and 1000 VMs (three runs
# each, and the median), with the release build. Needs root. The machine is
# shared and noisy: read the medians, and compare figures from one run.
set -eu
cd "$(dirname "$0")/.."
BIN=build/bin/faasnet-testbed
SIZES=${SIZES:-"100 500 1000"}
REPS=${REPS:-3}

if [ "$(id -u)" != 0 ]; then
	echo "bench: needs root (sudo make bench)" >&2
	exit 1
fi
trap '$BIN clean >/dev/null 2>&1 || true' EXIT INT TERM
$BIN clean >/dev/null 2>&1 || true

seconds() { sed -n 's/.*"seconds":\([0-9.e+-]*\).*/\1/p'; }
median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

printf '%-6s %-28s %-28s\n' vms "up seconds (runs; median)" "down seconds (runs; median)"
for n in $SIZES; do
	ups="" downs=""
	for _ in $(seq "$REPS"); do
		u=$($BIN up --vms "$n" --json 2>/dev/null | seconds)
		d=$($BIN down --json 2>/dev/null | seconds)
		ups="$ups $(printf '%.2f' "$u")"
		downs="$downs $(printf '%.2f' "$d")"
		# Let the kernel finish freeing the last namespaces, which it
		# does in the background, so runs do not overlap.
		sleep 3
	done
	um=$(echo "$ups" | tr ' ' '\n' | grep . | median)
	dm=$(echo "$downs" | tr ' ' '\n' | grep . | median)
	printf '%-6s %-28s %-28s\n' "$n" "$ups; $um" "$downs; $dm"
done
