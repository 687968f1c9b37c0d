#!/bin/sh
# The main job, from a fresh clone on a fresh Debian 12 machine:
#   install the packages, build, start a worker and a collector on loopback,
#   load the Sơn La sample survey, submit generated responses through
#   sipas-submit, print the snapshot table, stop the daemons cleanly.
# Usage: scripts/demo.sh [N]   (N responses, default 5000)
# Everything lives in ./demo (store, logs, responses); each run starts fresh.
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
N=${1:-5000}
DEMO="$ROOT/demo"
BIN="$ROOT/build/demo"
COLLECTOR_EP="tcp://127.0.0.1:7300"
WORKER_EP="tcp://127.0.0.1:7301"

scripts/bootstrap.sh
echo "== build"
cmake -S "$ROOT" -B "$BIN" -DCMAKE_BUILD_TYPE=Release -DSIPAS_TESTS=OFF >/dev/null
cmake --build "$BIN" -j "$(nproc 2>/dev/null || echo 2)" >/dev/null

rm -rf "$DEMO"
mkdir -p "$DEMO"
STORE="$DEMO/sipas-store"
WORKER_PID=""
COLLECTOR_PID=""
stop() {
	for pid in $COLLECTOR_PID $WORKER_PID; do
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	COLLECTOR_PID=""
	WORKER_PID=""
}
trap stop EXIT INT TERM

# wait_port PORT: until something listens on 127.0.0.1:PORT (10 s at most).
wait_port() {
	i=0
	hex=$(printf '%04X' "$1")
	while ! awk -v p=":$hex" '$2 ~ p"$" && $4 == "0A" { f = 1 } END { exit !f }' \
		/proc/net/tcp; do
		i=$((i + 1))
		[ "$i" -lt 100 ] || { echo "nothing listens on port $1"; exit 1; }
		sleep 0.1
	done
}

echo "== sipas-admin define examples/sonla-2024.json"
"$BIN/store/sipas-admin" --store "$STORE" define "$ROOT/examples/sonla-2024.json"

echo "== start sipas-worker ($WORKER_EP) and sipas-collector ($COLLECTOR_EP)"
"$BIN/worker/sipas-worker" --store "$STORE" --bind "$WORKER_EP" \
	2>"$DEMO/worker.log" &
WORKER_PID=$!
wait_port 7301
"$BIN/ingest/sipas-collector" --bind "$COLLECTOR_EP" --worker "$WORKER_EP" \
	--source postal --spool "$DEMO/spool" 2>"$DEMO/collector.log" &
COLLECTOR_PID=$!
wait_port 7300

echo "== generate $N responses (scripts/gen_responses.py) and submit them"
/usr/bin/python3 "$ROOT/scripts/gen_responses.py" \
	"$ROOT/examples/sonla-2024.json" "$N" >"$DEMO/responses.jsonl"
start=$(date +%s%N)
"$BIN/ingest/sipas-submit" --endpoint "$COLLECTOR_EP" "$DEMO/responses.jsonl"
ms=$((($(date +%s%N) - start) / 1000000))
echo "$N responses in $ms ms end to end ($((N * 1000 / (ms + 1))) responses/s), every ack after fsync"

echo "== sipas-snapshot --format table"
"$BIN/store/sipas-snapshot" --store "$STORE" --format table

echo "== stop the daemons (SIGTERM)"
stop
echo "done; store, logs and responses are in ./demo"
