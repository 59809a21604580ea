#!/bin/sh
# Writes a real OCI image layout, the way skopeo or umoci would, of one
# tar+gzip layer holding the files under SRC: for convert's tests, without
# any image from outside this machine. With SRC2, a second layer, a plain
# (uncompressed) tar of SRC2, as some builders write them.
# usage: make-oci-layout.sh SRC DIR TAG [SRC2]; prints layer 1's diff_id
set -eu
src=$1 dir=$2 tag=$3 src2=${4:-}
mkdir -p "$dir/blobs/sha256"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

put() { # file -> prints "sha256:<hex> <size>" and stores it as a blob
	d=$(sha256sum "$1" | cut -d' ' -f1)
	s=$(stat -c %s "$1")
	cp "$1" "$dir/blobs/sha256/$d"
	echo "sha256:$d $s"
}

tar -C "$src" --sort=name --mtime=@0 --owner=0 --group=0 -cf "$tmp/layer.tar" .
diff_id=sha256:$(sha256sum "$tmp/layer.tar" | cut -d' ' -f1)
gzip -n "$tmp/layer.tar"
set -- $(put "$tmp/layer.tar.gz")
layer=$1 layer_size=$2
diff_ids="\"$diff_id\""
layers="{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"$layer\",\"size\":$layer_size}"
if [ -n "$src2" ]; then
	tar -C "$src2" --sort=name --mtime=@0 --owner=0 --group=0 -cf "$tmp/layer2.tar" .
	set -- $(put "$tmp/layer2.tar")
	diff_ids="$diff_ids,\"$1\""
	layers="$layers,{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"$1\",\"size\":$2}"
fi
printf '{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":[%s]}}' \
	"$diff_ids" >"$tmp/config.json"
set -- $(put "$tmp/config.json")
config=$1 config_size=$2
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[%s]}' \
	"$config" "$config_size" "$layers" >"$tmp/manifest.json"
set -- $(put "$tmp/manifest.json")
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"%s"}}]}' \
	"$1" "$2" "$tag" >"$dir/index.json"
printf '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
echo "$diff_id"
