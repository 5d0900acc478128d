#!/usr/bin/env bash
# Builds the acpgw container image with podman (or docker: ENGINE=docker)
# from the static binary, without pulling anything from a registry.
#
#   deploy/container/build.sh [IMAGE]      # default localhost/acpgw:$VERSION
#
# VERSION defaults to `git describe --tags --always --dirty`; it is stamped
# into the binary (acpgw version) and the image label.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

engine="${ENGINE:-podman}"
version="${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}"
image="${1:-localhost/acpgw:$version}"
certs="${CA_CERTIFICATES:-/etc/ssl/certs/ca-certificates.crt}"
if [ ! -s "$certs" ]; then
  echo "no CA bundle at $certs (Debian: apt-get install ca-certificates; or set CA_CERTIFICATES)" >&2
  exit 1
fi

# The build context: rootfs/ (owned by root in the image) and data/ (owned
# by the image's user), with the modes the image keeps.
ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
rootfs="$ctx/rootfs"
mkdir -p "$rootfs/usr/local/bin" "$rootfs/etc/ssl/certs" "$rootfs/tmp" "$rootfs/var/lib" "$ctx/data/acpgw"
# -trimpath keeps the build machine's paths out of the binary; CI passes
# GO_BUILD_FLAGS= to reuse the build cache of its other builds.
# shellcheck disable=SC2086
CGO_ENABLED=0 go build ${GO_BUILD_FLAGS--trimpath} -ldflags "-s -w -X main.version=$version" \
  -o "$rootfs/usr/local/bin/acpgw" ./cmd/acpgw
cp "$certs" "$rootfs/etc/ssl/certs/ca-certificates.crt"
cp deploy/container/passwd deploy/container/group "$rootfs/etc/"
chmod 0555 "$rootfs/usr/local/bin/acpgw"
chmod 0444 "$rootfs/etc/ssl/certs/ca-certificates.crt" "$rootfs/etc/passwd" "$rootfs/etc/group"
chmod 0755 "$rootfs" "$rootfs/usr" "$rootfs/usr/local" "$rootfs/usr/local/bin" "$rootfs/etc" "$rootfs/etc/ssl" \
  "$rootfs/etc/ssl/certs" "$rootfs/var" "$rootfs/var/lib" "$ctx/data"
chmod 1777 "$rootfs/tmp"
chmod 0750 "$ctx/data/acpgw"

# podman: no intermediate images left behind (every step is a cheap COPY).
layers=()
[ "$engine" = podman ] && layers=(--layers=false)
"$engine" build --quiet "${layers[@]}" --build-arg "VERSION=$version" -f deploy/container/Containerfile -t "$image" "$ctx" >/dev/null
echo "$image"
