#!/bin/sh
# Installs the Debian packages the project needs, when any is missing.
# Idempotent and quick when everything is there; needs root to install.
set -eu

PKGS="build-essential pkg-config libnl-3-dev libnl-route-3-dev libnl-genl-3-dev
libyaml-dev libjansson-dev libcmocka-dev libcurl4-openssl-dev libzstd-dev
libssl-dev zlib1g-dev libmicrohttpd-dev clang libclang-rt-14-dev iproute2 iputils-ping docker-registry skopeo gnuplot-nox
opentracker aria2 mktorrent curl zstd openssl libfaketime strace"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "deps: installing$missing" >&2
if [ "$(id -u)" != 0 ]; then
	echo "deps: need root to install$missing (run: sudo $0)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >&2
