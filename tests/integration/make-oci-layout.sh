#!/bin/sh
# Writes a real OCI image layout, the way skopeo or umoci would, of one
# tar+gzip layer holding the files under SRC: for convert's tests, without
# any image from outside this machine. usage: make-oci-layout.sh SRC DIR TAG
set -eu
src=$1 dir=$2 tag=$3
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
printf '{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":["%s"]}}' \
	"$diff_id" >"$tmp/config.json"
set -- $(put "$tmp/config.json")
config=$1 config_size=$2
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%s}]}' \
	"$config" "$config_size" "$layer" "$layer_size" >"$tmp/manifest.json"
set -- $(put "$tmp/manifest.json")
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"%s"}}]}' \
	"$1" "$2" "$tag" >"$dir/index.json"
printf '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
echo "$diff_id"
