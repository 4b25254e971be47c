#!/bin/sh
# Installs the Debian packages smelt needs, only those missing.
set -e
PKGS="cmake make gcc libc6-dev libprotobuf-c-dev protobuf-c-compiler libonnx-dev \
libcmocka-dev libclang-dev libcjson-dev zlib1g-dev dataset-fashion-mnist \
python3 python3-venv python3-pip"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
if [ "$(id -u)" != 0 ]; then
  echo "error: missing packages:$missing (run as root or install them)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq $missing >/dev/null
