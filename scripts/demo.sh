#!/bin/sh
# The main job, from a fresh clone on a fresh Debian 12 machine: install the
# packages, build, load the sample Sơn La survey definition into a store and
# print its summary.
#
# The durable pipeline (collector, worker, sipas-submit, sipas-snapshot) is
# not built yet; when it lands this script will also start the daemons,
# submit sample responses and print the snapshot.
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)

scripts/bootstrap.sh
cmake -S "$ROOT" -B "$ROOT/build/demo" -DCMAKE_BUILD_TYPE=Release \
	-DSIPAS_TESTS=OFF >/dev/null
cmake --build "$ROOT/build/demo" -j "$(nproc 2>/dev/null || echo 2)" >/dev/null

ADMIN="$ROOT/build/demo/store/sipas-admin"
STORE="$ROOT/demo/sipas-store"
echo "== sipas-admin --store demo/sipas-store define examples/sonla-2024.json"
"$ADMIN" --store "$STORE" define "$ROOT/examples/sonla-2024.json"
echo "== sipas-admin --store demo/sipas-store define examples/national-2025.json"
"$ADMIN" --store "$STORE" define "$ROOT/examples/national-2025.json"
echo "== sipas-admin --store demo/sipas-store campaigns"
"$ADMIN" --store "$STORE" campaigns
echo "== sipas-admin --store demo/sipas-store show SL-2024"
"$ADMIN" --store "$STORE" show SL-2024
