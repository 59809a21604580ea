#!/bin/sh
# Prints how fast `faasnet-image fetch --all` reads a 256 MB image from the
# registry (every block verified and decompressed, the layer written out),
# beside what curl gets for the same block-data blob, in the same run, on a
# registry link too fast to matter (34gbit). Three rounds, alternating.
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

printf '%-6s %-22s %-22s %s\n' round "curl MB/s (blob)" "fetch MB/s (verified)" "fetch/curl"
for r in $(seq "$ROUNDS"); do
	c=$(curl -s -o /dev/null -w '%{size_download} %{time_total}' "$url" |
		awk '{printf "%.1f", $1 / $2 / 1e6}')
	f=$($IMG fetch 198.18.0.2:5000/fn/bench:v1 --all --out "$work/out.tar" --json 2>/dev/null |
		sed -n 's/.*"bytes":\([0-9]*\).*"seconds":\([0-9.e+-]*\).*/\1 \2/p' |
		awk '{printf "%.1f", $1 / $2 / 1e6}')
	rm -f "$work/out.tar"
	printf '%-6s %-22s %-22s %.2f\n' "$r" "$c" "$f" "$(echo "$f $c" | awk '{print $1 / $2}')"
done
