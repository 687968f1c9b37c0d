#!/bin/sh
# soak.sh - the long crash and power-cut runs of the fault harness.
#
# A client streams numbered survey responses through a spooling
# sipas-collector to a sipas-worker while the daemons are SIGKILLed at random
# moments (kill rounds: the worker, the collector, or the worker and then the
# spooling collector) and while the power is cut under them (power cuts: the
# store and the spool on LazyFS, both daemons SIGKILLed, every write not yet
# fsync'd dropped, the file system unmounted and mounted again). After each
# run of --per-run rounds or cuts it checks that every response acked
# `accepted` is counted, that re-sending everything gives only `duplicate`,
# and that the snapshot equals a clean single run of the same responses.
# The harness is tests/e2e/faults.py; the short CI variants are
# tests/e2e/test_crash.py and tests/e2e/test_powercut.py.
#
# Usage: scripts/soak.sh [--rounds N] [--cuts N] [--per-run N] [--seed S]
#                        [--rate R] [--cache-size SIZE] [--no-build]
#   --rounds N       SIGKILL rounds (default 1000; 0: none)
#   --cuts N         power cuts (default 200; 0: none). Needs root, /dev/fuse
#                    and LazyFS (scripts/bootstrap.sh builds it);
#                    SIPAS_SKIP_POWERCUT=1 sets 0.
#   --per-run N      rounds or cuts per checked run (default 100)
#   --seed S         replay the random choices of an earlier run (its seed is
#                    printed first; the timing differs)
#   --rate R         new responses per second at most (default 1500)
#   --cache-size S   LazyFS cache, e.g. 64mb (default 64mb)
#   --no-build       use build/soak as it is
#
# It builds what it needs first: a gcc build in build/soak. The defaults take
# about 25 minutes on 2 cores; run it niced on a shared machine:
#   nice scripts/soak.sh
#   nice scripts/soak.sh --rounds 100 --cuts 20
#
# Prints the figures (kill rounds, power cuts, responses sent, acked accepted,
# acked-lost, double-counted, elapsed, ...). Exit status: 0 every invariant
# held; 1 one failed (the store, spool and logs of that run are kept in a
# folder named in the output); 2 usage error or the build failed.
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=$ROOT/build/soak
ARGS=""
BUILD_IT=1

usage() {
	sed -n '2,/^set -eu/{/^set -eu/d;s/^# \{0,1\}//;p}' "$0"
}

while [ $# -gt 0 ]; do
	case $1 in
	-h | --help)
		usage
		exit 0
		;;
	--rounds | --cuts | --per-run | --seed | --rate | --cache-size)
		[ $# -ge 2 ] || { echo "soak.sh: $1 needs a value" >&2; exit 2; }
		case $1 in
		--cache-size) ;;
		*) case $2 in '' | *[!0-9.]*)
			echo "soak.sh: $1 needs a number, not '$2'" >&2
			exit 2 ;;
		   esac ;;
		esac
		if [ "$1" = --cuts ] && [ "${SIPAS_SKIP_POWERCUT:-0}" = 1 ]; then
			shift 2
			continue
		fi
		ARGS="$ARGS $1 $2"
		shift 2
		;;
	--no-build)
		BUILD_IT=0
		shift
		;;
	*)
		echo "soak.sh: unknown argument '$1' (see --help)" >&2
		exit 2
		;;
	esac
done
if [ "${SIPAS_SKIP_POWERCUT:-0}" = 1 ]; then
	echo "soak.sh: SIPAS_SKIP_POWERCUT=1: no power cuts"
	ARGS="$ARGS --cuts 0"
fi

if [ "$BUILD_IT" = 1 ]; then
	echo "== build build/soak (gcc)"
	if ! { cmake -S "$ROOT" -B "$BUILD" -DCMAKE_C_COMPILER=gcc \
		-DCMAKE_BUILD_TYPE=RelWithDebInfo -DSIPAS_WERROR=ON >/dev/null &&
		cmake --build "$BUILD" -j "$(nproc 2>/dev/null || echo 2)" \
			>"$ROOT/build/soak-build.log" 2>&1; }; then
		tail -n 40 "$ROOT/build/soak-build.log" >&2 || true
		echo "soak.sh: the build failed" >&2
		exit 2
	fi
fi
for p in worker/sipas-worker ingest/sipas-collector store/sipas-admin \
	store/sipas-snapshot; do
	[ -x "$BUILD/$p" ] || { echo "soak.sh: $BUILD/$p missing" >&2; exit 2; }
done

echo "== soak"
# shellcheck disable=SC2086 # ARGS holds checked words
exec /usr/bin/python3 "$ROOT/tests/e2e/faults.py" "$BUILD" "$ROOT" $ARGS
