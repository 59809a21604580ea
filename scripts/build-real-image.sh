#!/bin/sh
# Builds the real image of issue 12 reproducibly: a Debian bookworm root
# filesystem (debootstrap --variant=minbase, the distribution's packages)
# with python3 and python3-numpy, one tar+gzip layer in an OCI image layout,
# converted to block blobs (faasnet-image convert) and given the recorded
# start-up trace of `python3 -c 'import numpy'` (faasnet-image trace).
# Too large to commit (docs/trace.md has its numbers): it lands in a cache
# folder, images/real-numpy/ by default, which git ignores.
#
# Idempotent: a step whose output is there is skipped (remove the folder,
# or one step's output, to redo it). Each step's seconds go to build.log.
# Needs root (debootstrap, the traced chroot) and Debian's mirror.
#
# usage: scripts/build-real-image.sh [OUT-DIR]
#   MIRROR=URL          Debian mirror (default: the one apt uses here)
#   SOURCE_DATE_EPOCH=N  mtime clamp (default: the newest changelog of the
#                        installed packages, below)
#   BLOCK_SIZE=SIZE     convert's block size (default 512KiB, the paper's)
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/images/real-numpy}
img=$root/build/bin/faasnet-image
suite=bookworm
block_size=${BLOCK_SIZE:-512KiB}

if [ "$(id -u)" != 0 ]; then
	echo "build-real-image: needs root (debootstrap, chroot)" >&2
	exit 2
fi

# The mirror apt already uses here (deb822 or one-line sources), else
# Debian's own.
mirror_default() {
	for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list; do
		[ -r "$f" ] || continue
		m=$(sed -n 's/^URIs: *\(http[^ ]*\/debian\)\/*$/\1/p; s/^deb  *\(http[^ ]*\/debian\)\/* .*/\1/p' "$f" | head -n 1)
		[ -n "$m" ] && { echo "$m"; return; }
	done
	echo http://deb.debian.org/debian
}
MIRROR=${MIRROR:-$(mirror_default)}

# Only this script needs these, not the tests: installed here rather than
# by scripts/deps.sh (strace is the tests' too, and is there).
"$root/scripts/deps.sh"
missing=""
for p in debootstrap strace; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "build-real-image: installing$missing" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >&2
fi
[ -x "$img" ] || make -C "$root" build/bin/faasnet-image >&2

mkdir -p "$out"
log=$out/build.log
now() { date +%s.%N; }
took() { # step start
	t=$(echo "$(now) - $2" | bc)
	printf '%s %.1f s\n' "$1" "$t" | tee -a "$log" >&2
}

# 1. The root filesystem. Into rootfs.part, renamed when whole, so a
# broken debootstrap is redone rather than taken.
if [ ! -d "$out/rootfs" ]; then
	t0=$(now)
	rm -rf "$out/rootfs.part"
	echo "build-real-image: debootstrap $suite from $MIRROR" >&2
	debootstrap --variant=minbase --include=python3,python3-numpy \
		"$suite" "$out/rootfs.part" "$MIRROR" >&2
	# What varies from one build to the next and no start reads:
	# logs, apt's caches and lists, ldconfig's auxiliary cache.
	rm -rf "$out/rootfs.part/var/log/"* "$out/rootfs.part/var/cache/apt/"*.bin \
		"$out/rootfs.part/var/lib/apt/lists/"* \
		"$out/rootfs.part/var/cache/ldconfig/aux-cache" \
		"$out/rootfs.part/tmp/"* "$out/rootfs.part/debootstrap"
	chroot "$out/rootfs.part" dpkg-query -W -f='${Package} ${Version}\n' \
		>"$out/packages.txt"
	mv "$out/rootfs.part" "$out/rootfs"
	took debootstrap "$t0"
fi

# 2. One layer, tar'd reproducibly, in an OCI image layout. Names sorted,
# owner 0 (numeric), no atime/ctime. mtimes are clamped to
# SOURCE_DATE_EPOCH, not set to it: the files the packages ship keep their
# own (older) mtimes, and only those made at install time (byte-compiled
# Python, configuration) are clamped. Setting every mtime would make every
# .pyc stale (Python checks the source's mtime recorded in it), and the
# traced start would recompile instead of reading them. The default epoch is
# the newest packaged changelog: a function of the package versions alone.
if [ ! -f "$out/oci/index.json" ]; then
	t0=$(now)
	if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
		SOURCE_DATE_EPOCH=$(find "$out/rootfs/usr/share/doc" -name 'changelog*' \
			-type f -printf '%T@\n' | sort -n | tail -n 1 | cut -d. -f1)
	fi
	echo "build-real-image: layer (SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH)" >&2
	rm -rf "$out/oci.part"
	mkdir -p "$out/oci.part/blobs/sha256"
	tmp=$(mktemp -d /tmp/fnet-realimg-XXXXXX)
	trap 'rm -rf "$tmp"' EXIT
	tar -C "$out/rootfs" --sort=name --format=gnu \
		--mtime="@$SOURCE_DATE_EPOCH" --clamp-mtime \
		--numeric-owner --owner=0 --group=0 -cf "$tmp/layer.tar" .
	diff_id=sha256:$(sha256sum "$tmp/layer.tar" | cut -d' ' -f1)
	echo "$diff_id $(stat -c %s "$tmp/layer.tar")" >"$out/layer.diffid"
	gzip -n -6 "$tmp/layer.tar"
	put() { # file -> "sha256:<hex> <size>", stored as a blob
		d=$(sha256sum "$1" | cut -d' ' -f1)
		mv "$1" "$out/oci.part/blobs/sha256/$d"
		echo "sha256:$d $(stat -c %s "$out/oci.part/blobs/sha256/$d")"
	}
	set -- $(put "$tmp/layer.tar.gz")
	layer=$1 layer_size=$2
	printf '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["/usr/bin/python3","-c","import numpy"]},"rootfs":{"type":"layers","diff_ids":["%s"]}}' \
		"$diff_id" >"$tmp/config.json"
	set -- $(put "$tmp/config.json")
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%s}]}' \
		"$1" "$2" "$layer" "$layer_size" >"$tmp/manifest.json"
	set -- $(put "$tmp/manifest.json")
	printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"v1"}}]}' \
		"$1" "$2" >"$out/oci.part/index.json"
	printf '{"imageLayoutVersion":"1.0.0"}' >"$out/oci.part/oci-layout"
	rm -rf "$tmp"
	trap - EXIT
	mv "$out/oci.part" "$out/oci"
	took layer "$t0"
fi

# 3. Block blobs (convert draws a start-up set, which the trace replaces).
if [ ! -f "$out/layout/index.json" ]; then
	t0=$(now)
	rm -rf "$out/layout.part"
	"$img" convert "$out/oci" --out "$out/layout.part" --tag v1 \
		--block-size "$block_size" >&2
	mv "$out/layout.part" "$out/layout"
	took convert "$t0"
fi

# 4. The recorded start-up trace, written into the layout in place.
if [ ! -f "$out/trace.json" ]; then
	t0=$(now)
	"$img" trace "$out/layout" --tag v1 --json \
		-- /usr/bin/python3 -c 'import numpy' >"$out/trace.json.part"
	mv "$out/trace.json.part" "$out/trace.json"
	took trace "$t0"
fi

echo "build-real-image: $out/layout" >&2
du -sh "$out/rootfs" "$out/oci" "$out/layout" >&2
cat "$out/trace.json" >&2
