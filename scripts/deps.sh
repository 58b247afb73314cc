#!/bin/sh
# Installs the Debian packages tillgroup needs to build, test and demo.
# As root it installs what is missing with apt-get; otherwise it prints the
# exact command to run and fails.
set -eu

packages="build-essential pkg-config clang libclang-rt-14-dev
libsqlite3-dev libjansson-dev libsodium-dev libcmocka-dev
tzdata jq
libinih-dev libusb-1.0-0-dev umockdev libumockdev-dev libqrencode-dev libcurl4-openssl-dev libmicrohttpd-dev zlib1g-dev libpq-dev postgresql libcairo2-dev libpango1.0-dev libglib2.0-dev fonts-wqy-microhei zbar-tools unicode-data chromium"

missing=""
for p in $packages; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing="$missing $p"
  fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "tillgroup needs these Debian packages:$missing" >&2
  echo "run: sudo apt-get install -y --no-install-recommends$missing" >&2
  exit 1
fi
echo "installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends $missing >&2; then
  apt-get update >&2
  apt-get install -y --no-install-recommends $missing >&2
fi
