#!/usr/bin/env python3
"""bench/node_worker.py: a Node.js v4 hello run by Azure's Node.js worker
through fnhost's gRPC server, beside the reference server in the same run.

Measures (server pinned to CPU 0 as in bench/run.py; the worker process may
use both CPUs; wrk on CPU 1, 64 connections):
  - exec -> first 200, the worker's start included (median of 3 starts)
  - requests/s, p50/p99 latency
  - the host's own CPU per request (utime+stime of the fnhost process only,
    from /proc/<pid>/stat; the worker's CPU is not counted)
  - idle RSS of the host and of the worker after the run
and the reference server's requests/s at the same connection count.
Targets: host CPU <= 25 us per invocation, first 200 <= 600 ms.

Usage: python3 bench/node_worker.py [--build DIR] [--duration S] [--warmup S]
Needs wrk, taskset and node; samples/node-v4/node_modules (make samples-node).
Exit status: 0 targets met, 1 a target missed, 2 could not run."""

import argparse
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  bench/run.py: Server, run_wrk, /proc readers

CONNECTIONS = 64
STARTS = 3
HOST_CPU_US_TARGET = 25.0
FIRST_200_MS_TARGET = 600.0
APP = os.path.join(run.REPO, "samples", "node-v4")
PATH = "/api/hello?name=bench"


def children(pid):
    """Every descendant pid of pid."""
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                for c in f.read().split():
                    out.append(int(c))
                    out.extend(children(int(c)))
    except OSError:
        pass
    return out


def measure_wrk(srv, port, duration):
    cpu0 = run.read_cpu_ticks(srv.pid)
    w = run.run_wrk(port, PATH, duration)
    cpu1 = run.read_cpu_ticks(srv.pid)
    w["cpu_us"] = (cpu1 - cpu0) / run.CLK_TCK / max(1, w["requests"]) * 1e6
    return w


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    fnhost = os.path.join(build, "fnhost")
    refserver = os.path.join(build, "bench", "refserver")
    for p in (fnhost, refserver):
        if not os.access(p, os.X_OK):
            print(f"node_worker: {run.show(p)} missing; run make bench", file=sys.stderr)
            return 2
    if not os.path.isdir(os.path.join(APP, "node_modules")):
        print("node_worker: samples/node-v4/node_modules missing; run make samples-node",
              file=sys.stderr)
        return 2
    run.CONNECTIONS = CONNECTIONS
    os.environ["FNHOST_WORKERS_PATH"] = os.path.join(run.REPO, "workers")

    def fnhost_argv(port):
        return [fnhost, "start", "--script-root", APP, "--port", str(port)]

    # the reference, same connection count
    port = run.free_port()
    ref = run.Server([refserver, str(port)], port, "/api/hello")
    try:
        ref.wait_first_200()
        run.run_wrk(port, "/api/hello", args.warmup)
        c0 = run.read_cpu_ticks(ref.pid)
        ref_w = run.run_wrk(port, "/api/hello", args.duration)
        ref_w["cpu_us"] = (run.read_cpu_ticks(ref.pid) - c0) / run.CLK_TCK / \
            max(1, ref_w["requests"]) * 1e6
        # ... and at one connection, where (as for the host behind a worker
        # that answers a few thousand calls a second) each request wakes the
        # server from idle: what a request costs here when nothing batches
        run.CONNECTIONS = 1
        c0 = run.read_cpu_ticks(ref.pid)
        ref_one = run.run_wrk(port, "/api/hello", min(args.duration, 5))
        ref_one["cpu_us"] = (run.read_cpu_ticks(ref.pid) - c0) / run.CLK_TCK / \
            max(1, ref_one["requests"]) * 1e6
        run.CONNECTIONS = CONNECTIONS
    finally:
        ref.stop()

    starts = []
    for _ in range(STARTS):
        port = run.free_port()
        srv = run.Server(fnhost_argv(port), port, PATH)
        try:
            starts.append(srv.wait_first_200() * 1e3)
        finally:
            srv.stop()

    port = run.free_port()
    srv = run.Server(fnhost_argv(port), port, PATH)
    try:
        srv.wait_first_200()
        kids = children(srv.pid)
        for k in kids:  # the worker may use both CPUs; the host stays on CPU 0
            subprocess.run(["taskset", "-a", "-p", "-c", "0,1", str(k)],
                           capture_output=True)
        time.sleep(0.3)
        host_idle = run.read_rss_kib(srv.pid)
        run.run_wrk(port, PATH, args.warmup)
        w = measure_wrk(srv, port, args.duration)
        host_rss = run.read_rss_kib(srv.pid)
        worker_rss = sum(run.read_rss_kib(k) for k in children(srv.pid) if os.path.exists(
            f"/proc/{k}/status"))
    finally:
        srv.stop()

    first = statistics.median(starts)
    rows = [
        ("reference req/s (64 conns)", f"{ref_w['rps']:.0f}"),
        ("reference CPU per request", f"{ref_w['cpu_us']:.1f} us"),
        ("reference CPU per request, one connection", f"{ref_one['cpu_us']:.1f} us "
                                                      f"({ref_one['rps']:.0f} req/s)"),
        ("node v4 hello req/s (64 conns)", f"{w['rps']:.0f} ({w['rps'] / ref_w['rps']:.1%} "
                                           f"of the reference)"),
        ("p50 / p99", f"{w['p50']:.2f} ms / {w['p99']:.2f} ms"),
        ("host CPU per request", f"{w['cpu_us']:.1f} us (target <= {HOST_CPU_US_TARGET:.0f})"),
        ("exec -> first 200 (worker start included)",
         f"{first:.0f} ms, median of {STARTS} (target <= {FIRST_200_MS_TARGET:.0f})"),
        ("host RSS idle / after the run", f"{host_idle / 1024:.1f} MiB / "
                                          f"{host_rss / 1024:.1f} MiB"),
        ("worker RSS after the run", f"{worker_rss / 1024:.1f} MiB"),
        ("non-2xx / socket errors", f"{w['non2xx']} / {w['errors']}"),
    ]
    print("\nNode.js worker (samples/node-v4, GET " + PATH + ")")
    for k, v in rows:
        print(f"  {k:44} {v}")
    ok = w["cpu_us"] <= HOST_CPU_US_TARGET and first <= FIRST_200_MS_TARGET and \
        w["non2xx"] == 0
    print("  targets: " + ("met" if ok else "MISSED"))
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except run.BenchError as e:
        print(f"node_worker: {e}", file=sys.stderr)
        sys.exit(2)
