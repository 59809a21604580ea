#!/bin/sh
# Writes scenarios/traces/iot.csv, the IoT-like trace of scenarios/fig11.yaml:
# requests of function f, one line per 100 ms with the number that arrive
# then. The shape follows the paper's Fig. 11 with its minutes made seconds
# and its rates divided by four (so that the pool fits 128 VMs):
#
#   0-30 s     2.5 per second          (the paper: 10 RPS)
#   30-130 s   75-100, rising and falling with a 37 s period
#                                      (300-400 RPS for about 18 minutes)
#   130-160 s  2.5 per second          (quiet: idle containers are reclaimed)
#   160-180 s  25 per second           (the second burst starts at 100 RPS)
#   180-240 s  about 100, +-5          (then about 400 RPS)
#
# Deterministic (no random numbers): running it again writes the same file.
# Usage: scripts/make-iot-trace.sh [OUT]   (default scenarios/traces/iot.csv)
set -eu
out=${1:-scenarios/traces/iot.csv}
awk 'BEGIN {
	pi = atan2(0, -1)
	print "# IoT-like bursts (scripts/make-iot-trace.sh); see scenarios/fig11.yaml"
	print "time,function,requests"
	carry = 0
	for (k = 0; k < 2400; k++) {
		t = k / 10
		if (t < 30)       r = 2.5
		else if (t < 130) r = 87.5 + 12.5 * sin(2 * pi * (t - 30) / 37)
		else if (t < 160) r = 2.5
		else if (t < 180) r = 25
		else              r = 100 + 5 * sin(2 * pi * (t - 180) / 11)
		# Whole requests per 100 ms, carrying the fraction over so that
		# every stretch gets its rate on average.
		carry += r / 10
		n = int(carry)
		carry -= n
		if (n > 0)
			printf "%.1f,f,%d\n", t, n
	}
}' > "$out"
echo "$out: $(grep -c '^[0-9]' "$out") lines, $(awk -F, '/^[0-9]/ { s += $3 } END { print s }' "$out") requests"
