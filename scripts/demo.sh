#!/bin/sh
# The main job, from a fresh clone on a fresh Debian 12 machine:
#   install the packages, build, start a worker and a collector on loopback,
#   load the Sơn La survey (examples/sonla-2024.json) and the same survey
#   for 2023, submit responses built to reproduce the figures Sơn La
#   published (scripts/seedgen.py) through sipas-submit, print the snapshot
#   compared with 2023, write the HTML report, stop the daemons cleanly.
# Usage: scripts/demo.sh
# Everything lives in ./demo (store, logs, responses, report); each run
# starts fresh.
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
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

echo "== sipas-admin define examples/sonla-2024.json, and the same survey for 2023"
"$BIN/store/sipas-admin" --store "$STORE" define "$ROOT/examples/sonla-2024.json"
/usr/bin/python3 "$ROOT/scripts/seedgen.py" sl23-definition "$DEMO/sonla-2023.json"
"$BIN/store/sipas-admin" --store "$STORE" define "$DEMO/sonla-2023.json"

echo "== start sipas-worker ($WORKER_EP) and sipas-collector ($COLLECTOR_EP)"
"$BIN/worker/sipas-worker" --store "$STORE" --bind "$WORKER_EP" \
	2>"$DEMO/worker.log" &
WORKER_PID=$!
wait_port 7301
"$BIN/ingest/sipas-collector" --bind "$COLLECTOR_EP" --worker "$WORKER_EP" \
	--source postal --spool "$DEMO/spool" 2>"$DEMO/collector.log" &
COLLECTOR_PID=$!
wait_port 7300

echo "== responses reproducing Sơn La's published 2023 and 2024 figures (scripts/seedgen.py)"
for year in 23 24; do
	/usr/bin/python3 "$ROOT/scripts/seedgen.py" "sl$year" "$DEMO/responses-20$year.jsonl"
done
n=$(cat "$DEMO/responses-2023.jsonl" "$DEMO/responses-2024.jsonl" | wc -l)
start=$(date +%s%N)
"$BIN/ingest/sipas-submit" --endpoint "$COLLECTOR_EP" \
	"$DEMO/responses-2023.jsonl" "$DEMO/responses-2024.jsonl"
ms=$((($(date +%s%N) - start) / 1000000))
echo "$n responses in $ms ms end to end ($((n * 1000 / (ms + 1))) responses/s), every ack after fsync"

echo "== sipas-snapshot --campaign SL-2024 --compare SL-2023 --format table"
"$BIN/store/sipas-snapshot" --store "$STORE" --campaign SL-2024 \
	--compare SL-2023 --format table

echo "== sipas-snapshot ... --format html --locale vi -o demo/report.html"
"$BIN/store/sipas-snapshot" --store "$STORE" --campaign SL-2024 \
	--compare SL-2023 --format html --locale vi -o "$DEMO/report.html"

echo "== stop the daemons (SIGTERM)"
stop
echo "done; the report page is ./demo/report.html; store, logs and responses are in ./demo"
