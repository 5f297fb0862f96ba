#!/usr/bin/env python3
"""bench/custom_handler.py: the custom-handler benchmark (Python 3 stdlib,
wrk, node). In one run it measures the same Node.js hello server
(bench/custom-hello/server.js, the http module) hit directly, then through
fnhost as a custom handler, in forwarding mode (the request replayed as it
came) and in the default mode (JSON {"Data", "Metadata"} both ways). wrk
runs with 64 connections pinned to CPU 1; the servers (node alone, or fnhost
and its node) get CPU 0, so each side has the same one CPU. Prints a table
and checks the target: through fnhost keeps at least 70% of the direct
server's requests/s (forwarding mode).

Usage: python3 bench/custom_handler.py [--build DIR] [--duration S] [--out FILE]
Exit status: 0 the target is met, 1 it is not, 2 the benchmark could not run."""
import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
APP = os.path.join(REPO, "bench", "custom-hello")
CONNECTIONS = 64
SERVER_CPU, CLIENT_CPU = "0", "1"
TARGET = 0.70


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_200(port, path, timeout=15.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"no 200 from 127.0.0.1:{port}{path} within {timeout} s")


def wrk(port, path, seconds):
    out = subprocess.run(["taskset", "-c", CLIENT_CPU, "wrk", "-t1", f"-c{CONNECTIONS}",
                          f"-d{seconds}s", "--latency", f"http://127.0.0.1:{port}{path}"],
                         capture_output=True, text=True, timeout=seconds + 60).stdout
    rps = float(re.search(r"^Requests/sec:\s*([\d.]+)", out, re.M).group(1))
    p99 = re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errs = re.search(r"Socket errors: .*", out)
    return {"rps": rps, "p99": p99, "non2xx": int(bad.group(1)) if bad else 0,
            "errors": errs.group(0) if errs else ""}


def stop(p):
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def measure(argv, env, port, path, args, cwd):
    p = subprocess.Popen(["taskset", "-c", SERVER_CPU] + argv, cwd=cwd, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_200(port, path)
        wrk(port, path, args.warmup)
        return wrk(port, path, args.duration)
    finally:
        stop(p)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    for tool in ("node", "wrk", "taskset"):
        if not shutil.which(tool):
            print(f"custom-handler benchmark skipped: {tool} is not installed")
            return 2
    fnhost = os.path.abspath(os.path.join(args.build, "fnhost"))
    tmp = tempfile.mkdtemp(prefix="fnhost-bench-custom-")
    try:
        rows = []
        port = free_port()
        env = dict(os.environ, FUNCTIONS_CUSTOMHANDLER_PORT=str(port))
        rows.append(("node http server, direct", measure(["node", "server.js"], env, port,
                                                          "/api/hello", args, APP)))
        for mode, fwd in (("forwarding", True), ("default (JSON)", False)):
            app = os.path.join(tmp, "app-" + ("fwd" if fwd else "json"))
            shutil.copytree(APP, app)
            with open(os.path.join(app, "host.json")) as f:
                hj = json.load(f)
            hj["customHandler"]["enableForwardingHttpRequest"] = fwd
            with open(os.path.join(app, "host.json"), "w") as f:
                json.dump(hj, f)
            port = free_port()
            rows.append((f"fnhost + node, {mode}",
                         measure([fnhost, "start", "--script-root", app, "--port", str(port)],
                                 dict(os.environ), port, "/api/hello", args, app)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    direct = rows[0][1]["rps"]
    lines = [f"Custom handler: wrk -t1 -c{CONNECTIONS} -d{args.duration}s on CPU {CLIENT_CPU}; "
             f"servers on CPU {SERVER_CPU}",
             "", "| target | req/s | vs direct | p99 | non-2xx |", "|---|---|---|---|---|"]
    for name, r in rows:
        lines.append(f"| {name} | {r['rps']:.0f} | {r['rps'] / direct:.0%} | {r['p99']} | "
                     f"{r['non2xx']} |")
    ratio = rows[1][1]["rps"] / direct
    ok = ratio >= TARGET and all(r["non2xx"] == 0 for _, r in rows)
    lines += ["", f"target: through fnhost (forwarding) >= {TARGET:.0%} of direct: "
                  f"{ratio:.0%} {'PASS' if ok else 'FAIL'}"]
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
