#!/usr/bin/env python3
"""bench/reload.py: hot-reload benchmark (not a test). Edits one function.json
of a one-function and a 1,000-function app (isolated, --in-process) and prints
the host's own "Host reloaded (N ms)" times (loading and swapping on the loop;
not the 500 ms debounce) beside start-up, as Markdown. Loopback only, bounded
waits."""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import run as bench  # noqa: E402  (the f1000 generator)


def measure(fnhost, app, target, reloads, args):
    p = subprocess.Popen([fnhost, "start", "--script-root", app, "--port", "0", *args],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    threading.Thread(target=lambda: lines.extend(p.stdout), daemon=True).start()
    try:
        deadline = time.time() + 60
        while not any("Host started" in line for line in lines):
            if time.time() > deadline or p.poll() is not None:
                raise SystemExit("fnhost did not start:\n" + "".join(lines[-20:]))
            time.sleep(0.01)
        started = int(re.search(r"Host started \((\d+)ms\)",
                                "".join(lines)).group(1))
        fj = os.path.join(app, target, "function.json")
        times = []
        for k in range(reloads):
            done = sum("Host reloaded" in line for line in lines)
            conf = json.load(open(fj))
            conf["bindings"][0]["methods"] = ["get"] if k % 2 == 0 else ["get", "post"]
            with open(fj, "w") as f:
                json.dump(conf, f)
            deadline = time.time() + 30
            while sum("Host reloaded" in line for line in lines) <= done:
                if time.time() > deadline:
                    raise SystemExit("no reload:\n" + "".join(lines[-20:]))
                time.sleep(0.01)
            last = [line for line in lines if "Host reloaded" in line][-1]
            times.append(int(re.search(r"Host reloaded \((\d+)ms\)", last).group(1)))
        return started, times
    finally:
        p.terminate()
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--reloads", type=int, default=5)
    a = ap.parse_args()
    fnhost = os.path.join(ROOT, a.build, "fnhost")
    hello_so = os.path.join(ROOT, "samples", "hello", "hello", "hello.so")
    tmp = tempfile.mkdtemp(prefix="fnhost-bench-reload-")
    try:
        shutil.copytree(os.path.join(ROOT, "samples", "hello"), os.path.join(tmp, "hello"))
        bench.build_f1000_app(os.path.join(tmp, "f1000"), hello_so)
        print("| app | runner | start-up (ms) | reload median (ms) | reload max (ms) |")
        print("|---|---|---|---|---|")
        for label, app, target in (("samples/hello", "hello", "hello"),
                                   ("1,000 functions", "f1000", "f0001")):
            for runner, args in (("isolated", ()), ("in-process", ("--in-process",))):
                s, t = measure(fnhost, os.path.join(tmp, app), target, a.reloads, args)
                print(f"| {label} | {runner} | {s} | {statistics.median(t):g} | {max(t)} |")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
