#!/bin/sh
# The default job (`make run`): the quickstart scenario, every strategy on
# the same emulated network, and its per-strategy table. Leaves nothing
# behind but the results folder.
set -eu
cd "$(dirname "$0")/.."
BIN=build/bin/faasnet-testbed

if [ "$(id -u)" != 0 ]; then
	echo "run: needs root to create network namespaces (sudo make run)" >&2
	exit 1
fi
# The verdict is printed and in report.md; a degraded run (exit 4) is no
# failure of the default job.
exec $BIN run scenarios/quickstart.yaml --allow-degraded
