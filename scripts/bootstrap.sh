#!/bin/sh
# Installs every Debian 12 package that sipas needs to build, test and run.
# Idempotent; run as root (or through sudo). Safe to run again at any time.
set -eu

PKGS="build-essential cmake pkg-config clang libclang-rt-14-dev \
      libzmq3-dev liblmdb-dev lmdb-utils libmsgpack-dev check \
      libjansson-dev libsystemd-dev libinih-dev libxxhash-dev python3 python3-zmq python3-msgpack"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	SUDO="sudo"
fi

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done

if [ -z "$missing" ]; then
	echo "bootstrap: all packages present"
	exit 0
fi

echo "bootstrap: installing$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
