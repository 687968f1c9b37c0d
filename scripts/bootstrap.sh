#!/bin/sh
# Installs every Debian 12 package that sipas needs to build, test and run,
# then builds LazyFS (the power-cut file system of tests/e2e/test_powercut.py)
# from ../shared/tools/lazyfs beside the source folder, when it is there.
# Idempotent; run as root (or through sudo). Safe to run again at any time.
# --tests adds what only the tests need: Chromium and Pillow (they open and
# look at the HTML report), man-db (it checks the man pages) and systemd
# (systemd-analyze checks the unit files; it is not started), dpkg-dev and
# adduser (the .deb test builds the package and runs its scripts).
# SIPAS_SKIP_POWERCUT=1 leaves LazyFS out.
set -eu

PKGS="build-essential cmake pkg-config clang libclang-rt-14-dev \
      libzmq3-dev liblmdb-dev lmdb-utils libmsgpack-dev check \
      libjansson-dev libsystemd-dev libinih-dev libxxhash-dev python3 python3-zmq python3-msgpack \
      strace"
if [ "${1:-}" = "--tests" ]; then
	PKGS="$PKGS chromium python3-pil man-db systemd dpkg-dev adduser"
fi

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
else
	echo "bootstrap: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -q
	# shellcheck disable=SC2086
	$SUDO apt-get install -y -q --no-install-recommends $missing
fi

# LazyFS: its build.sh installs its own Debian packages (fuse3, libfuse3-dev,
# libspdlog-dev, libtoml11-dev, g++) and builds once (about a minute); later
# runs only check the build stamp. Its progress goes to a log, shown on
# failure. It builds for the user running this script, as the tests do.
if [ "${SIPAS_SKIP_POWERCUT:-0}" = 1 ]; then
	echo "bootstrap: LazyFS skipped (SIPAS_SKIP_POWERCUT=1)"
	exit 0
fi
LAZYFS_TOOL="$(cd "$(dirname "$0")/.." && pwd)/../shared/tools/lazyfs"
if [ ! -x "$LAZYFS_TOOL/build.sh" ]; then
	echo "bootstrap: warning: $LAZYFS_TOOL/build.sh not found;" \
		"the power-cut test will fail (SIPAS_SKIP_POWERCUT=1 skips it)" >&2
	exit 0
fi
log=$(mktemp)
if bin=$("$LAZYFS_TOOL/build.sh" 2>"$log"); then
	echo "bootstrap: LazyFS ready: $bin"
	rm -f "$log"
else
	cat "$log" >&2
	rm -f "$log"
	echo "bootstrap: LazyFS build failed" >&2
	exit 1
fi
