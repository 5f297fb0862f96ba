#!/bin/sh
# tests/fuzz/run.sh: runs libFuzzer targets built by `make fuzz-build`.
#   tests/fuzz/run.sh [--check] BUILD SECONDS [NAME...]
# Each target runs for SECONDS with its dictionary and the -max_len that suits
# it. Without --check the corpus lives in BUILD/corpus/NAME (seeded from
# tests/fuzz/corpus/NAME, grows across runs); with --check a fresh copy of the
# seeds is used and the seed is fixed. Crashes, leaks and timeouts leave a
# reproducer in BUILD/artifacts/ and make the script fail (after every target
# ran). Logs: BUILD/logs/NAME.log.
set -u
check=0
if [ "${1:-}" = "--check" ]; then check=1; shift; fi
build=$1 seconds=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
names=${*:-$(cd "$here" && ls fuzz_*.c | sed -e 's/^fuzz_//' -e 's/\.c$//' | grep -v '^common$')}

max_len() {
    case $1 in
    http) echo 8192 ;;
    route) echo 1024 ;;
    ncrontab) echo 256 ;;
    tz) echo 8192 ;;
    elf) echo 32768 ;;
    *) echo 4096 ;;
    esac
}

mkdir -p "$build/logs" "$build/artifacts"
failed=""
for n in $names; do
    bin="$build/fuzz_$n"
    if [ $check = 1 ]; then
        corpus="$build/check-corpus/$n"
        rm -rf "$corpus"
        opts="-seed=1"
    else
        corpus="$build/corpus/$n"
        opts=""
    fi
    mkdir -p "$corpus"
    if [ -d "$here/corpus/$n" ]; then cp "$here/corpus/$n"/* "$corpus"/ 2>/dev/null; fi
    [ -f "$here/$n.dict" ] && opts="$opts -dict=$here/$n.dict"
    log="$build/logs/$n.log"
    ASAN_OPTIONS=detect_leaks=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "$bin" $opts -max_total_time="$seconds" -max_len="$(max_len "$n")" \
        -rss_limit_mb=2048 -timeout=20 -print_final_stats=1 \
        -artifact_prefix="$build/artifacts/$n-" "$corpus" >"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    if [ $rc = 0 ]; then
        echo "fuzz_$n: ok, ${runs:-?} runs in ${seconds}s (corpus $corpus)"
    else
        echo "fuzz_$n: FAILED (exit $rc) after ${runs:-?} runs; see $log"
        grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error|fuzz_)|Test unit written to' "$log" | head -n 8 | sed 's/^/  /'
        failed="$failed $n"
    fi
done
if [ -n "$failed" ]; then
    echo "fuzz targets failed:$failed"
    exit 1
fi
