#!/bin/sh
# Prints what the FaaSNet agent costs (issue 11), on loopback, no root:
# a burst through a binary tree of real agents (CPU seconds per MB
# received, beside the floor: sha256 and zstd decompression of the same
# bytes here), then the time for 200 and 1000 idle agents to be listening
# and their RSS each. build/bench/agent-bench does the work; read its
# header for what each figure is. The machine is shared: run it alone
# (it measures CPU) and read the medians.
#   AGENTS=15 SIZE=67108864 BLOCK=10240 REPS=3 IDLE=200,1000 \
#     ./bench/agent-cpu.sh [extra agent-bench options]
set -eu
cd "$(dirname "$0")/.."
AGENTS=${AGENTS:-15}
SIZE=${SIZE:-67108864}
BLOCK=${BLOCK:-10240}
REPS=${REPS:-3}
IDLE=${IDLE:-200,1000}
cmd="build/bench/agent-bench --agents $AGENTS --size $SIZE --block-size $BLOCK --reps $REPS --idle $IDLE $*"
echo "== agent CPU and start-up ($(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(git rev-parse --short HEAD 2>/dev/null || echo '?'))"
echo "\$ $cmd"
# shellcheck disable=SC2086
exec $cmd
