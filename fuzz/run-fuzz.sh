#!/bin/sh
# FUZZ-01 (RELIABILITY.md B10): build libmockit and fuzz/fuzz_api.cpp with
# clang -fsanitize=fuzzer,address,undefined in build-fuzz/ and run libFuzzer
# for SECONDS (default 60) over a working copy of fuzz/corpus/.
#
#   sh fuzz/run-fuzz.sh [SECONDS] [--update]
#
# Afterwards the working corpus is minimised (-merge=1) into
# build-fuzz/corpus-merged/; the inputs that add coverage beyond
# fuzz/corpus/ are listed, and with --update copied into fuzz/corpus/
# (commit them: make check replays that folder).  Crashes, model
# violations and time-outs (a hang) leave their input in
# build-fuzz/artifacts/; the script then exits 1.  FUZZ_BUILD_DIR
# overrides build-fuzz/; JOBS (default 2) is the build's parallelism.
# Needs Debian's clang (14) and libclang-rt-14-dev (scripts/install-deps.sh
# fuzz).
set -eu

secs=60
update=0
for a in "$@"; do
    case "$a" in
        --update) update=1 ;;
        *[!0-9]*|'') echo "usage: $0 [SECONDS] [--update]" >&2; exit 2 ;;
        *) secs=$a ;;
    esac
done

root=$(cd "$(dirname "$0")/.." && pwd)
b=${FUZZ_BUILD_DIR:-"$root/build-fuzz"}   # FUZZ_BUILD_DIR=/tmp/x: build and work there
CC=${CC:-clang}
CXX=${CXX:-clang++}
command -v "$CXX" >/dev/null || { echo "run-fuzz: $CXX not found (apt-get install clang libclang-rt-14-dev)" >&2; exit 2; }

# The core with coverage instrumentation (fuzzer-no-link) and ASan+UBSan.
if [ ! -f "$b/build.ninja" ]; then
    CC="$CC" CXX="$CXX" meson setup "$b" "$root" --libdir=lib -Dbuildtype=debugoptimized \
        -Db_sanitize=address,undefined -Db_lundef=false \
        -Dlua=disabled -Dtests=disabled -Dman=false -Dbench=false \
        -Dc_args=-fsanitize=fuzzer-no-link -Dcpp_args=-fsanitize=fuzzer-no-link >/dev/null
fi
# Only the static core: with clang the sanitizer runtime comes with the
# executable, so the shared library (linked --no-undefined) cannot be made;
# the fuzzer links the core and the C ABI shim directly.
if ! meson compile -C "$b" -j "${JOBS:-2}" mockit_core >"$b/compile.log" 2>&1; then
    cat "$b/compile.log" >&2
    exit 1
fi

"$CXX" -std=c++20 -g -O1 -fno-omit-frame-pointer \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I"$root/include" -I"$root/src" \
    "$root/fuzz/fuzz_api.cpp" "$root/src/abi/mockit.cpp" "$b/src/libmockit_core.a" \
    -pthread -o "$b/fuzz_api"

work="$b/corpus-work"
merged="$b/corpus-merged"
art="$b/artifacts"
mkdir -p "$work" "$art"
cp -n "$root/fuzz/corpus/"* "$work/" 2>/dev/null || true

export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
echo "run-fuzz: fuzzing for $secs s (log: $b/fuzz.log)"
rc=0
"$b/fuzz_api" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$art/" "$work" >"$b/fuzz.log" 2>&1 || rc=$?
grep -E '^#[0-9]+ +(DONE|INITED)|stat::number_of_executed_units|stat::peak_rss_mb|cov:' "$b/fuzz.log" | tail -4
if [ "$rc" -ne 0 ]; then
    echo "run-fuzz: the fuzzer stopped with status $rc; inputs in $art/:" >&2
    ls -l "$art" >&2
    grep -E 'violation|ERROR|SUMMARY' "$b/fuzz.log" | head -5 >&2
    exit 1
fi

# Minimise: to a copy of fuzz/corpus/, add only the inputs of the working
# corpus that reach new coverage (libFuzzer -merge=1 semantics).
rm -rf "$merged"
mkdir -p "$merged"
cp "$root/fuzz/corpus/"* "$merged/"
# -use_counters=0: edge coverage only, so that the committed corpus stays
# small (thread timing makes hit counts differ from run to run).
"$b/fuzz_api" -merge=1 -use_counters=0 -timeout=10 "$merged" "$work" >"$b/merge.log" 2>&1
new=""
for f in "$merged"/*; do
    [ -e "$f" ] || continue
    n=$(basename "$f")
    [ -e "$root/fuzz/corpus/$n" ] || new="$new $n"
done
count=$(echo $new | wc -w)
echo "run-fuzz: merged corpus: $(ls "$merged" | wc -l) inputs, $count new beyond fuzz/corpus/ (in $merged)"
if [ "$update" = 1 ] && [ -n "$new" ]; then
    for n in $new; do cp "$merged/$n" "$root/fuzz/corpus/$n"; done
    echo "run-fuzz: copied into fuzz/corpus/ (commit them)"
fi
