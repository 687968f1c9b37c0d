#!/bin/bash
# scripts/fuzz.sh - run the libFuzzer targets of tests/fuzz/ for a long time.
#
# Usage: scripts/fuzz.sh [OPTIONS] [TARGET...]
#
# Builds build/fuzz when needed (clang, -DSIPAS_FUZZ=ON: every target under
# AddressSanitizer and UndefinedBehaviorSanitizer), then runs each TARGET
# (default: all of them, see --list) for the given time, up to --jobs at
# once, each under `nice`. Each target starts from its seed corpus in the
# repository (tests/fuzz/corpus/TARGET) and its work corpus
# (build/fuzz/corpus/TARGET, kept from run to run); the inputs a run finds
# that add coverage are merged into the work corpus at the end, and into the
# repository's corpus only with --update-corpus. A crash, a leak, undefined
# behaviour, a hang (-timeout) or a failed check of the target stops that
# target; its input is kept under build/fuzz/crashes/TARGET/ (reproduce
# with build/fuzz/tests/fuzz_TARGET FILE). At the end a table gives, per
# target, the result, executions, executions per second, coverage (edges,
# features) and corpus size; it is also written to build/fuzz/summary.txt.
#
# Options:
#   -t, --time SECONDS   time per target (default 3600)
#   -j, --jobs N         targets run at once (default: nproc)
#   --fresh              start from the seed corpus only and keep no corpus
#                        (the brief runs of scripts/test.sh)
#   --update-corpus      also merge new coverage into tests/fuzz/corpus/
#   --no-build           do not (re)build build/fuzz
#   --build-dir DIR      use DIR instead of build/fuzz
#   --list               print the targets and their input size limit, exit
#   -h, --help           this text
#
# Exit status: 0 every target ran its time without a finding, 1 a finding
# (or a target that did not run), 2 usage or build error.
#
# Examples:
#   scripts/fuzz.sh                      # all targets, one hour each
#   scripts/fuzz.sh -t 600 validate spool
#   scripts/fuzz.sh -t 14400 -j 4 --update-corpus
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD="$ROOT/build/fuzz"

# Each target and the largest input it is given (-max_len): about the largest
# input that can mean something to its parser, so that mutations stay
# where the parser looks.
TARGETS="request:70000 validate:16384 definition:20000 counts:8192
submit_input:16384 config:4096 relay:256 spool:8192 status:8192"

usage() {
	sed -n '2,/^set -eu/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
}

seconds=3600
jobs=$(nproc 2>/dev/null || echo 2)
fresh=0
update=0
build=1
chosen=""
while [ $# -gt 0 ]; do
	case $1 in
	-t | --time)
		seconds=${2:?--time needs SECONDS}
		shift
		;;
	--time=*) seconds=${1#*=} ;;
	-j | --jobs)
		jobs=${2:?--jobs needs N}
		shift
		;;
	--jobs=*) jobs=${1#*=} ;;
	--fresh) fresh=1 ;;
	--update-corpus) update=1 ;;
	--no-build) build=0 ;;
	--build-dir)
		BUILD=$(realpath -m "${2:?--build-dir needs DIR}")
		shift
		;;
	--build-dir=*) BUILD=$(realpath -m "${1#*=}") ;;
	--list)
		for t in $TARGETS; do echo "${t%%:*} max_len ${t#*:}"; done
		exit 0
		;;
	-h | --help)
		usage
		exit 0
		;;
	-*)
		echo "fuzz.sh: unknown option $1 (see --help)" >&2
		exit 2
		;;
	*) chosen="$chosen $1" ;;
	esac
	shift
done
case $seconds$jobs in
*[!0-9]*)
	echo "fuzz.sh: --time and --jobs take whole numbers" >&2
	exit 2
	;;
esac
[ "$jobs" -ge 1 ] || jobs=1

# The targets to run, each as name:max_len.
run_list=""
if [ -z "$chosen" ]; then
	run_list=$TARGETS
else
	for name in $chosen; do
		found=""
		for t in $TARGETS; do
			[ "${t%%:*}" = "$name" ] && found=$t
		done
		if [ -z "$found" ]; then
			echo "fuzz.sh: no target $name (see --list)" >&2
			exit 2
		fi
		run_list="$run_list $found"
	done
fi

if [ "$build" -eq 1 ]; then
	if [ ! -f "$BUILD/CMakeCache.txt" ]; then
		cmake -S "$ROOT" -B "$BUILD" -DCMAKE_C_COMPILER=clang \
			-DCMAKE_BUILD_TYPE=RelWithDebInfo -DSIPAS_FUZZ=ON \
			-DSIPAS_TESTS=OFF >/dev/null || exit 2
	fi
	cmake --build "$BUILD" -j "$jobs" >/dev/null || exit 2
fi

# UBSan in the fuzz build may recover: make every report a finding.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

# fuzz_one NAME MAX_LEN: one target, its output in build/fuzz/run/NAME/.
fuzz_one() {
	name=$1
	max_len=$2
	bin="$BUILD/tests/fuzz_$name"
	run="$BUILD/run/$name"
	seeds="$ROOT/tests/fuzz/corpus/$name"
	crashes="$BUILD/crashes/$name"
	if [ "$fresh" -eq 1 ]; then
		work="$run/corpus"
	else
		work="$BUILD/corpus/$name"
	fi
	rm -rf "$run"
	mkdir -p "$run/new" "$work" "$crashes"
	touch "$run/started"
	if [ ! -x "$bin" ]; then
		echo "no $bin: build it first" >"$run/fuzz.log"
		echo "$name MISSING 0 0 0 0 0" >"$run/result"
		return
	fi
	# New inputs go to the first folder (run/new); the work corpus and
	# the seeds are read.
	status=ok
	(cd "$run" && exec nice -n 10 "$bin" -max_total_time="$seconds" \
		-max_len="$max_len" -timeout=30 -print_final_stats=1 \
		-artifact_prefix="$crashes/" new "$work" "$seeds" \
		>fuzz.log 2>&1) || status=CRASH
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$run/fuzz.log")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$run/fuzz.log")
	last=$(grep -a -E '^#[0-9]+.* cov: ' "$run/fuzz.log" | tail -n 1)
	cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
	corp=$(echo "$last" | sed -n 's/.* corp: \([0-9]*\).*/\1/p')
	# Keep what added coverage: into the work corpus, and on request
	# into the repository's seeds.
	if [ "$fresh" -eq 0 ] && [ -n "$(ls -A "$run/new")" ]; then
		(cd "$run" && nice -n 10 "$bin" -merge=1 -max_len="$max_len" \
			"$work" new >merge.log 2>&1) || true
		if [ "$update" -eq 1 ]; then
			(cd "$run" && nice -n 10 "$bin" -merge=1 \
				-max_len="$max_len" "$seeds" new \
				>merge-seeds.log 2>&1) || true
		fi
	fi
	echo "$name $status ${execs:-0} ${rate:-0} ${cov:-0} ${ft:-0} ${corp:-0}" \
		>"$run/result"
	echo "   fuzz_$name: $status, ${execs:-0} executions"
}

echo "== fuzz:$(for t in $run_list; do printf ' %s' "${t%%:*}"; done)" \
	"(${seconds} s each, $jobs at once)"
running=0
for t in $run_list; do
	if [ "$running" -ge "$jobs" ]; then
		wait -n || true
		running=$((running - 1))
	fi
	fuzz_one "${t%%:*}" "${t#*:}" &
	running=$((running + 1))
done
wait

found=0
summary="$BUILD/summary.txt"
printf '%-14s %-7s %12s %9s %7s %8s %7s\n' target result executions \
	exec/s cov ft corpus >"$summary"
for t in $run_list; do
	name=${t%%:*}
	if [ -f "$BUILD/run/$name/result" ]; then
		# shellcheck disable=SC2046 # the fields are words
		set -- $(cat "$BUILD/run/$name/result")
	else
		set -- "$name" FAILED 0 0 0 0 0
	fi
	printf '%-14s %-7s %12s %9s %7s %8s %7s\n' "$@" >>"$summary"
	if [ "$2" != ok ]; then
		found=1
		echo "== fuzz_$name: $2 ($BUILD/run/$name/fuzz.log)"
		tail -n 40 "$BUILD/run/$name/fuzz.log" 2>/dev/null || true
		find "$BUILD/crashes/$name" -type f -newer \
			"$BUILD/run/$name/started" 2>/dev/null |
			sed "s|^$ROOT/|   kept: |" || true
	fi
done
cat "$summary"
exit "$found"
