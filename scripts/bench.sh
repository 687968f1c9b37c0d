#!/bin/sh
# The benchmark of docs/benchmark.md, from a fresh clone on Debian 12:
#   install what sipas and the PostgreSQL peer need, build sipas
#   (RelWithDebInfo, as a package would) and ../shared/bench/pg_peer, then
#   run bench/run.py: sipas and PostgreSQL on the same corpus, same disk,
#   same run; prints the table of medians and ratios.
# Usage: scripts/bench.sh [bench/run.py options]   e.g. --runs 5, --skip-pg
# Takes about 10 minutes with the defaults (200k and 1M responses).
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SHARED="$ROOT/../shared"
BUILD="$ROOT/build/bench"

[ -f "$SHARED/bench/gen.py" ] || { echo "bench: $SHARED/bench not found" >&2; exit 1; }
SIPAS_SKIP_POWERCUT=1 scripts/bootstrap.sh
# The peer's packages (postgresql, libpq-dev): its own installer.
for p in postgresql libpq-dev; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		"$SHARED/bench/deps.sh"
		break
	fi
done

echo "== build sipas ($BUILD)"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSIPAS_TESTS=OFF >/dev/null
cmake --build "$BUILD" -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
echo "== build pg_peer (../shared/bench, built into $BUILD)"
# The flags of its Makefile, output kept out of ../shared.
rm -f "$BUILD/pg_peer"
cc -O2 -g -std=gnu11 -Wall -Wextra -pthread $(pkg-config --cflags libpq msgpack) \
	-o "$BUILD/pg_peer" "$SHARED/bench/pg_peer.c" $(pkg-config --libs libpq msgpack) -lm

exec /usr/bin/python3 "$ROOT/bench/run.py" --build "$BUILD" --shared "$SHARED" "$@"
