#!/usr/bin/env bash
# A local stand-in for the Dockerfile's base images (python:3.11-slim-bookworm, node:20-bookworm-slim) where no
# container registry is reachable: Debian bookworm from its package mirror (debootstrap), with Python 3.11, venv,
# Node.js and npm, imported into podman as localhost/takeoff-base:bookworm. The container test builds the real
# Dockerfile on it (--build-arg PYTHON_IMAGE=... NODE_IMAGE=...). The image trusts the certificate authorities this
# machine trusts (pip and npm reach their registries the way the host does). Idempotent: an existing image is kept.
set -euo pipefail
IMAGE=${1:-localhost/takeoff-base:bookworm}
if podman image exists "$IMAGE"; then echo "$IMAGE exists"; exit 0; fi
ROOT=$(mktemp -d /tmp/takeoff-base.XXXXXX)
trap 'rm -rf "$ROOT"' EXIT
debootstrap --variant=minbase --include=python3,python3-venv,python-is-python3,ca-certificates \
  bookworm "$ROOT" http://deb.debian.org/debian >/dev/null
# npm's dependency tree is more than debootstrap's resolver handles: apt installs it inside the new root.
chroot "$ROOT" apt-get update -qq
DEBIAN_FRONTEND=noninteractive chroot "$ROOT" apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
chroot "$ROOT" apt-get clean
rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/*
cp /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/ca-certificates.crt"
CA=/etc/ssl/certs/ca-certificates.crt
tar -C "$ROOT" -c . | podman import --change 'CMD ["/bin/bash"]' --change "ENV PIP_CERT=$CA" \
  --change "ENV SSL_CERT_FILE=$CA" --change "ENV NODE_EXTRA_CA_CERTS=$CA" - "$IMAGE" >/dev/null
echo "$IMAGE built"
