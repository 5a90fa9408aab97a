#!/usr/bin/env bash
# Builds the container image the engine tests run: a rootfs holding Debian's busybox-static
# and a symlink per applet, imported with `docker import` (no registry is reachable in CI).
# Usage: scripts/build-test-image.sh [tag]   (default groundwork-test:latest)
set -euo pipefail
tag="${1:-groundwork-test:latest}"
busybox="$(command -v busybox || true)"
[ -x /bin/busybox ] && busybox=/bin/busybox
if [ -z "$busybox" ]; then
  echo "build-test-image: busybox not found; install Debian's busybox-static (apt-get install busybox-static)" >&2
  exit 1
fi
if ldd "$busybox" >/dev/null 2>&1; then
  echo "build-test-image: $busybox is dynamically linked; install busybox-static, whose binary runs in an empty rootfs" >&2
  exit 1
fi
# Rebuilt only when busybox changed, so repeated runs leave no dangling images behind.
sum="$(sha256sum "$busybox" | cut -d' ' -f1)"
if [ "$(docker image inspect -f '{{index .Config.Labels "groundwork.busybox-sha256"}}' "$tag" 2>/dev/null || true)" = "$sum" ]; then
  echo "build-test-image: $tag is up to date"
  exit 0
fi
rootfs="$(mktemp -d)"
trap 'rm -rf "$rootfs"' EXIT
mkdir -p "$rootfs"/{bin,etc,tmp,root,proc,sys,dev}
chmod 1777 "$rootfs/tmp"
cp "$busybox" "$rootfs/bin/busybox"
for applet in $("$rootfs/bin/busybox" --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$rootfs/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
tar -C "$rootfs" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["/bin/sh"]' \
  --change "LABEL groundwork.busybox-sha256=$sum" \
  --message 'groundwork test image: busybox-static' \
  - "$tag" >/dev/null
echo "build-test-image: built $tag ($("$busybox" | head -1))"
