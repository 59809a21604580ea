#!/bin/sh
# Prints how fast `faasnet-image fetch --all` reads a 256 MB image from the
# registry (every block verified and decompressed, the diff_id checked),
# beside what curl gets for the same block-data blob, in the same run, on a
# registry link too fast to matter (34gbit), and beside openssl + zstd doing
# the same verifying and unpacking on the local blob. Three rounds.
# Needs root.
set -eu
cd "$(dirname "$0")/.."
TB=build/bin/faasnet-testbed
IMG=build/bin/faasnet-image
SIZE=${SIZE:-256MB}
ROUNDS=${ROUNDS:-3}

if [ "$(id -u)" != 0 ]; then
	echo "bench: needs root (sudo make bench)" >&2
	exit 1
fi
command -v curl >/dev/null || { echo "bench: needs curl" >&2; exit 1; }
work=$(mktemp -d /tmp/fnet-bench-XXXXXX)
trap '$TB down >/dev/null 2>&1 || true; rm -rf "$work"' EXIT INT TERM
$TB clean >/dev/null 2>&1 || true

cat >"$work/topo.yaml" <<TOPO
vms: 2
registry_link: { rate: 34gbit }
TOPO
$TB up "$work/topo.yaml" >/dev/null 2>&1
$TB registry start --storage "$work/reg" >/dev/null 2>&1
$IMG synth bench --size "$SIZE" --out "$work/layout" >/dev/null 2>&1
$IMG push "$work/layout" --registry 198.18.0.2:5000 --name fn/bench:v1 >/dev/null 2>&1
data=$(sed -n 's/.*"io.faasnet.block.data":"\(sha256:[0-9a-f]*\)".*/\1/p' \
	"$work/layout/blobs/sha256/$(sed -n 's/.*"digest":"sha256:\([0-9a-f]*\)".*/\1/p' "$work/layout/index.json")")
url="http://198.18.0.2:5000/v2/fn/bench/blobs/$data"

blob="$work/layout/blobs/sha256/${data#sha256:}"

# The same work done by the standard tools on the local blob, no network at
# all: sha256 of the compressed data, zstd decompression, sha256 of the
# result (diff_id), with the libraries fetch links. If fetch keeps pace with
# this, it is bound by verifying and unpacking, not by the network; curl,
# which checks nothing, is bound only by the copy.
t0=$(date +%s.%N)
openssl dgst -sha256 "$blob" >/dev/null
zstd -dc -q "$blob" | openssl dgst -sha256 >/dev/null
t1=$(date +%s.%N)
tools=$(echo "$(stat -c %s "$blob") $t0 $t1" | awk '{printf "%.1f", $1 / ($3 - $2) / 1e6}')

# Both sides write to /dev/null in the ratio, so it compares the fetch path,
# not the disk; "to file" adds writing the layer out, as a user would.
printf '%-6s %-11s %-16s %-14s %-13s %-10s %s\n' round "curl MB/s" \
	"fetch MB/s" "fetch to file" "tools, local" "fetch/curl" "fetch/tools"
for r in $(seq "$ROUNDS"); do
	c=$(curl -s -o /dev/null -w '%{size_download} %{time_total}' "$url" |
		awk '{printf "%.1f", $1 / $2 / 1e6}')
	f=$($IMG fetch 198.18.0.2:5000/fn/bench:v1 --all --out /dev/null --json 2>/dev/null |
		sed -n 's/.*"bytes":\([0-9]*\).*"seconds":\([0-9.e+-]*\).*/\1 \2/p' |
		awk '{printf "%.1f", $1 / $2 / 1e6}')
	ff=$($IMG fetch 198.18.0.2:5000/fn/bench:v1 --all --out "$work/out.tar" --json 2>/dev/null |
		sed -n 's/.*"bytes":\([0-9]*\).*"seconds":\([0-9.e+-]*\).*/\1 \2/p' |
		awk '{printf "%.1f", $1 / $2 / 1e6}')
	rm -f "$work/out.tar"
	printf '%-6s %-11s %-16s %-14s %-13s %-10.2f %.2f\n' "$r" "$c" "$f" "$ff" \
		"$tools" "$(echo "$f $c" | awk '{print $1 / $2}')" \
		"$(echo "$f $tools" | awk '{print $1 / $2}')"
done
echo "(MB/s of compressed block data, $(stat -c %s "$blob") bytes; tools measured once)"
