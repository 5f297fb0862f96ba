#!/bin/sh
# test.sh: end-to-end test of this extension against a real fnhost: checks the
# descriptor, serves example/ with this folder's manifest, waits for the
# three events, checks what the output binding wrote and that the host stops
# cleanly. Usage: ./test.sh [path/to/fnhost]   (make test runs it)
set -eu
FNHOST=${1:-${FNHOST:-fnhost}}
cd "$(dirname "$0")"
log=$(mktemp)
trap 'rm -f "$log"' EXIT

"$FNHOST" extensions check ./fnh_template.so >/dev/null

rm -rf example/out
FNHOST_EXTENSIONS_PATH=$PWD "$FNHOST" start --script-root example --port 0 >"$log" 2>&1 &
pid=$!
i=0
until grep -q "event 2 of onevent completed: ok, returned done 2" "$log"; do
    i=$((i + 1))
    if [ $i -gt 100 ] || ! kill -0 $pid 2>/dev/null; then
        cat "$log"; echo "FAIL: the three events did not complete"; kill $pid 2>/dev/null; exit 1
    fi
    sleep 0.1
done
kill -TERM $pid
wait $pid || { cat "$log"; echo "FAIL: fnhost did not exit cleanly"; exit 1; }

for n in 0 1 2; do
    expected="event $n: {\"n\":$n,\"message\":\"hello\"}"
    [ "$(cat example/out/event-$n.txt)" = "$expected" ] || {
        echo "FAIL: example/out/event-$n.txt is not '$expected'"; exit 1; }
done
echo "PASS: templateTrigger fired 3 events and templateOut wrote them"
