#!/bin/sh
# Build the libFuzzer harnesses with clang and run each one briefly from its
# seed corpus. ASan and UBSan turn memory errors and undefined behaviour into
# findings (a MESHGATE_FUZZ tree links without them too). Only the harnesses
# are built. Usage: run.sh SOURCE_DIR BUILD_DIR [SECONDS]
set -eu
src=$1
build=$2
seconds=${3:-${MG_FUZZ_SECONDS:-20}}

if ! command -v clang >/dev/null 2>&1; then
	echo "clang not installed: skipping libFuzzer run"
	exit 77
fi
cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER=clang -DMESHGATE_FUZZ=ON \
	-DMESHGATE_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$build.log" 2>&1 ||
	{ cat "$build.log"; exit 1; }
cmake --build "$build" -j"$(nproc)" --target fuzzers >>"$build.log" 2>&1 ||
	{ tail -50 "$build.log"; exit 1; }

status=0
for harness in "$build"/tests/fuzz_*; do
	[ -x "$harness" ] || continue
	name=$(basename "$harness")
	corpus="$build/corpus-$name"
	mkdir -p "$corpus"
	seeds="$src/tests/fuzz/seeds/$name"
	[ -d "$seeds" ] || seeds=
	echo "== $name for ${seconds}s"
	if ! "$harness" -max_total_time="$seconds" -print_final_stats=0 "$corpus" $seeds \
		>"$build/$name.log" 2>&1; then
		tail -40 "$build/$name.log"
		status=1
	else
		grep -E '^(#[0-9]+ *DONE|Done)' "$build/$name.log" | tail -1
	fi
done
exit $status
