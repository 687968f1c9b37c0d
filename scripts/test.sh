#!/bin/sh
# The whole test suite, from a fresh clone on a fresh Debian 12 machine:
#   1. install the Debian packages (scripts/bootstrap.sh --tests),
#   2. build with gcc, warnings as errors, and run every test,
#   3. build with clang, AddressSanitizer + UndefinedBehaviorSanitizer,
#      warnings as errors, and run every test again,
#   4. build the libFuzzer targets and run each briefly on its seed corpus
#      (scripts/fuzz.sh --fresh; that script also runs them for hours).
# Usage: scripts/test.sh [--quick]   (--quick: gcc build and tests only)
# SIPAS_FUZZ_SECONDS sets the time per fuzz target (default 12; the
# targets run nproc at a time).
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
QUICK=0
[ "${1:-}" = "--quick" ] && QUICK=1
FUZZ_SECONDS=${SIPAS_FUZZ_SECONDS:-12}
JOBS=$(nproc 2>/dev/null || echo 2)
passed=0
failed=0

scripts/bootstrap.sh --tests

# build NAME CMAKE-ARGS...: configure and build into build/NAME.
build() {
	name=$1
	shift
	echo "== build $name"
	cmake -S "$ROOT" -B "$ROOT/build/$name" -DSIPAS_WERROR=ON "$@" >/dev/null
	cmake --build "$ROOT/build/$name" -j "$JOBS"
}

# suite NAME [CTEST-ARGS...]: run ctest in build/NAME, add its counts to
# the totals.
suite() {
	name=$1
	shift
	echo "== test $name $*"
	if ctest --test-dir "$ROOT/build/$name" -j "$JOBS" --output-on-failure \
		"$@" >"$ROOT/build/$name/ctest.log" 2>&1; then :; fi
	set -- "$name"
	cat "$ROOT/build/$1/ctest.log"
	total=$(sed -n 's/.*tests failed out of \([0-9]*\).*/\1/p' "$ROOT/build/$1/ctest.log")
	bad=$(sed -n 's/.*, \([0-9]*\) tests failed out of.*/\1/p' "$ROOT/build/$1/ctest.log")
	if [ -z "$total" ]; then
		echo "ctest in build/$1 did not finish"
		failed=$((failed + 1))
		return
	fi
	passed=$((passed + total - bad))
	failed=$((failed + bad))
}

build gcc -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=RelWithDebInfo
suite gcc
if [ "$QUICK" -eq 0 ]; then
	# clang: the sanitizer and fuzz builds are clang builds with
	# warnings as errors, so the same code builds clean under both
	# compilers without a third, plain clang build.
	build asan -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
		-DSIPAS_SANITIZE=ON
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		suite asan

	build fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DSIPAS_FUZZ=ON -DSIPAS_TESTS=OFF
	# Every libFuzzer target, briefly, from its seed corpus, $JOBS at a
	# time (scripts/fuzz.sh runs them for hours). One result per target.
	rm -f "$ROOT/build/fuzz/summary.txt"
	if scripts/fuzz.sh --no-build --fresh --time "$FUZZ_SECONDS" \
		--jobs "$JOBS"; then :; fi
	if [ -f "$ROOT/build/fuzz/summary.txt" ]; then
		while read -r target result _; do
			[ "$target" = target ] && continue
			if [ "$result" = ok ]; then
				passed=$((passed + 1))
			else
				failed=$((failed + 1))
			fi
		done <"$ROOT/build/fuzz/summary.txt"
	else
		echo "scripts/fuzz.sh did not finish"
		failed=$((failed + 1))
	fi
fi

echo
echo "sipas: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
