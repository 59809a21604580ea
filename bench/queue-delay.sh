#!/bin/sh
# Queueing delay under a saturated link, at the rates scaled scenarios use:
# one shaped TCP flow from vm0000 to vm0001 (faasnet-testbed calibrate) and
# a ping beside it over the same link. Prints the median and 90th
# percentile round trip per rate; the idle round trip on veth is about
# 0.05 ms, so the round trip is the queue. The target (docs/fidelity.md):
# 12 ms of queue at every rate (6 to 18 ms passes). Needs root.
set -eu
cd "$(dirname "$0")/.."
BIN=build/bin/faasnet-testbed
RATES=${RATES:-"5mbit 20mbit 50mbit"}
PINGS=${PINGS:-40}

if [ "$(id -u)" != 0 ]; then
	echo "bench: needs root (sudo make bench)" >&2
	exit 1
fi
cal=""
cleanup() {
	[ -n "$cal" ] && kill "$cal" 2>/dev/null && wait "$cal" 2>/dev/null
	$BIN clean >/dev/null 2>&1 || true
}
trap cleanup EXIT INT TERM
$BIN clean >/dev/null 2>&1 || true

pct() { sort -n | awk -v p="$1" '{v[NR]=$1} END {i=int(NR*p+0.999); if(i<1)i=1; print v[i]}'; }
busy() { awk '/^cpu /{print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8}' /proc/stat; }

printf '%-8s %12s %12s %10s %9s\n' rate "rtt p50 ms" "rtt p90 ms" "goodput" "host cpu"
for r in $RATES; do
	secs=$(awk -v n="$PINGS" 'BEGIN{print int(n*0.1)+4}')
	$BIN calibrate --pairs 1 --rate "$r" --seconds "$secs" --json \
		>/tmp/fnet-qd.json 2>/dev/null &
	cal=$!
	# The flow starts after the build and a warm-up.
	i=0
	while ! ip netns list 2>/dev/null | grep -q '^fnet-vm0001'; do
		i=$((i + 1)); [ $i -gt 200 ] && { echo "no network" >&2; exit 1; }
		sleep 0.05
	done
	sleep 3
	set -- $(busy)
	b0=$1 t0=$2
	rtts=$(ip netns exec fnet-vm0000 ping -n -c "$PINGS" -i 0.1 198.18.1.2 2>/dev/null |
		sed -n 's/.*time=\([0-9.]*\) ms/\1/p')
	set -- $(busy)
	cpu=$(awk -v b="$(($1 - b0))" -v t="$(($2 - t0))" 'BEGIN{printf "%.0f%%", t ? 100*b/t : 0}')
	wait "$cal" || true
	cal=""
	gp=$(sed -n 's/.*"goodput_bps":\([0-9.e+]*\).*/\1/p' /tmp/fnet-qd.json | head -1)
	printf '%-8s %12s %12s %9.1fM %9s\n' "$r" \
		"$(echo "$rtts" | pct 0.5)" "$(echo "$rtts" | pct 0.9)" \
		"$(awk -v g="${gp:-0}" 'BEGIN{print g/1e6}')" "$cpu"
	rm -f /tmp/fnet-qd.json
done
