#!/usr/bin/env python3
"""bench/instructions.py: instructions per request, counted by callgrind, for
the reference server and fnhost's inline and f1000 apps (see README.md,
"Instructions per request").

CPU time per request moves by 10% or more between runs on a shared machine;
the instructions the server process executes in user space per request do
not (a few tens of 6,000). They leave out the kernel (about four fifths of
the time here, the same for both servers), so they show the part of the
cost that is the host's own: what a change to the request path adds or
saves. Each server runs under valgrind with counting off until it answers,
then `wrk -t1 -c10 -d4s` runs with counting on.

Usage: bench/instructions.py [--build DIR] [--top N]   (needs valgrind, wrk)
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import run as bench  # the app builders and helpers of bench/run.py

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def wait_answer(url, proc, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise bench.BenchError(f"the server exited ({proc.returncode}) before answering")
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            time.sleep(0.2)
    raise bench.BenchError(f"no answer from {url} in {timeout} s")


def count(argv, path, out_file):
    """Runs argv (a server command; "{port}" in it becomes a free port) under
    callgrind while wrk sends requests for path; returns (requests,
    instructions, callgrind_annotate's report)."""
    port = bench.free_port()
    cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no",
           f"--callgrind-out-file={out_file}"] + [a.format(port=port) for a in argv]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}{path}"
        wait_answer(url, proc)
        subprocess.run(["callgrind_control", "-i", "on", str(proc.pid)], check=True,
                       capture_output=True)
        wrk = subprocess.run(["wrk", "-t1", "-c10", "-d4s", url], check=True,
                             capture_output=True, text=True).stdout
        subprocess.run(["callgrind_control", "-i", "off", str(proc.pid)], check=True,
                       capture_output=True)
    finally:
        proc.terminate()
        proc.wait()
    requests = int(re.search(r"(\d+) requests in", wrk).group(1))
    ann = subprocess.run(["callgrind_annotate", out_file], capture_output=True,
                         text=True).stdout
    total = int(re.search(r"([\d,]+) \(100\.0%\)\s+PROGRAM TOTALS", ann).group(1)
                .replace(",", ""))
    return requests, total, ann


def top_functions(ann, requests, n):
    """The n functions with the most instructions of their own, per request."""
    rows = []
    for line in ann.splitlines():
        if len(rows) >= n:
            break
        m = re.match(r"\s*([\d,]+) \(\s*[\d.]+%\)\s+(\S+)", line)
        if m and "PROGRAM TOTALS" not in line and ":" in m.group(2):
            rows.append((int(m.group(1).replace(",", "")) / requests, m.group(2)))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--top", type=int, default=12, help="functions to list per fnhost app")
    args = ap.parse_args()
    for tool in ("valgrind", "callgrind_annotate", "callgrind_control", "wrk"):
        if not shutil.which(tool):
            print(f"instructions: {tool} not found (apt-get install valgrind wrk)",
                  file=sys.stderr)
            return 2
    build = os.path.join(REPO, args.build)
    fnhost, ref = os.path.join(build, "fnhost"), os.path.join(build, "bench", "refserver")
    work = tempfile.mkdtemp(prefix="fnhost-instr-")
    try:
        inline_dir = os.path.join(work, "inline")
        inline_path = bench.build_hello_app(inline_dir, inline=True)
        so = os.path.basename(bench.read_json(os.path.join(bench.HELLO_APP, bench.HELLO_FN,
                                                           "function.json"))["scriptFile"])
        f_dir = os.path.join(work, "f1000")
        f_path = bench.build_f1000_app(f_dir, os.path.join(inline_dir, bench.HELLO_FN, so))

        def host(app):
            return [fnhost, "start", "--script-root", app, "--port", "{port}",
                    "--host", "127.0.0.1", "--in-process"]

        rows = [("reference (refserver)", [ref, "{port}"], "/api/hello"),
                ("fnhost inline hello", host(inline_dir), inline_path),
                ("fnhost 1,000 functions", host(f_dir), f_path)]
        results = []
        for label, argv, path in rows:
            n, total, ann = count(argv, path, os.path.join(work, "callgrind.out"))
            results.append((label, n, total / n, ann))
        ref_ir = results[0][2]
        print("| server | requests | instructions/request | vs reference |")
        print("|---|---|---|---|")
        for label, n, per, _ in results:
            print(f"| {label} | {n:,} | {per:,.0f} | {per / ref_ir:.2f}x |")
        for label, n, _, ann in results[1:]:
            print(f"\n{label}: the functions with most instructions of their own, per request")
            for per, name in top_functions(ann, n, args.top):
                print(f"  {per:7,.0f}  {name}")
    except (bench.BenchError, subprocess.CalledProcessError, OSError, AttributeError) as e:
        print(f"instructions: {e}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
