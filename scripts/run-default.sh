#!/bin/sh
# The default job (`make run`) until a scenario runner exists: what this
# machine can do, the default topology brought up and looked at, and how much
# shaped bandwidth the host carries faithfully. Leaves nothing behind.
set -eu
cd "$(dirname "$0")/.."
BIN=build/bin/faasnet-testbed

if [ "$(id -u)" != 0 ]; then
	echo "run: needs root to create network namespaces (sudo make run)" >&2
	exit 1
fi
trap '$BIN down >/dev/null 2>&1 || true' EXIT INT TERM

echo "== probe"
$BIN probe
echo
echo "== up (built-in default topology)"
$BIN up
echo "namespaces: $(ip netns list | grep -c '^fnet-') (for example: ip netns exec fnet-vm0003 ip addr)"
ip -n fnet-vm0003 -br addr show dev eth0
tc -n fnet-vm0003 class show dev eth0
echo
echo "== down"
$BIN down
echo
echo "== calibrate: 10 VM pairs at 100mbit"
$BIN calibrate --pairs 10 --rate 100mbit --seconds 5
