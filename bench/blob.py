#!/usr/bin/env python3
"""bench/blob.py: the blob trigger's benchmark (Python 3 stdlib only).

Owns the blob measurements and bench/blob-results.md (generated). Each run
starts the real build/fnhost on a temporary app with one blobTrigger function
(tests/apps/blob/blobtrig, which logs its start time) and measures:

  burst    1,000 files written back to back: from each file's close to its
           function's start, median and p99
  trickle  100 files, one every 20 ms: the same latency
  rss      the host's RSS (VmRSS, and the peak VmHWM) after 100,000 blobs
           were processed, and its receipt files
  hosts    two hosts on one app folder, one in its own pid namespace
           (unshare, needs root), 200 blobs: how many ran more than once

Each figure is the median of --runs runs (3), the earlier figures
beside it; the RSS run, which takes minutes, is done --rss-runs times (1).
Usage: python3 bench/blob.py [--build DIR] [--runs N] [--blobs N] [--quick]
(--quick: 10,000 blobs for rss, 1 run). Exit status 0, or 2 when it could
not run.
"""

import argparse
import collections
import datetime
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

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURE = os.path.join(REPO, "tests", "apps", "blob", "blobtrig", "blobtrig.so")
CONTAINER = "bench-blobs"
BEFORE = {  # the same machine, before claims and content hashes
    "burst_p50": "211 ms", "burst_p99": "307 ms", "trickle_p50": "0.06 ms",
    "rss": "unbounded (an entry per blob name ever seen)",
    "receipts": "a folder per version, never cleaned",
    "dups": "197-199 of 200",
}


class Host:
    """A running fnhost; keeps its log lines that matter and counts the rest."""

    def __init__(self, build, app, prefix=()):
        cmd = list(prefix) + [os.path.join(build, "fnhost"), "start", "--script-root", app,
                              "--port", "0"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     cwd=tempfile.gettempdir())
        self.infos, self.done, self.tail = [], 0, collections.deque(maxlen=20)
        self.started = threading.Event()
        self.keep_infos = True
        threading.Thread(target=self._read, daemon=True).start()
        if not self.started.wait(20):
            raise SystemExit("fnhost did not start:\n" + "".join(self.tail))

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace")
            self.tail.append(line)
            if "Executed 'Functions.blobtrig' (Succeeded" in line:
                self.done += 1
            elif self.keep_infos and "BlobInfo: " in line:
                self.infos.append(json.loads(line.split("BlobInfo: ", 1)[1]))
            elif "listening on" in line:
                self.started.set()

    def pid(self):
        """The fnhost process (under unshare: its child)."""
        if os.path.basename(self.proc.args[0]) != "unshare":
            return self.proc.pid
        with open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children") as f:
            return int(f.read().split()[0])

    def status(self, key):
        with open(f"/proc/{self.pid()}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024  # MiB
        return 0.0

    def stop(self):
        if os.path.basename(self.proc.args[0]) == "unshare":
            self.proc.kill()  # --kill-child passes SIGTERM on
        else:
            self.proc.terminate()
        self.proc.wait(30)


def make_app(host_json=None):
    app = tempfile.mkdtemp(prefix="fnhost-bench-blob-")
    os.makedirs(os.path.join(app, "blobtrig"))
    shutil.copy(FIXTURE, os.path.join(app, "blobtrig"))
    with open(os.path.join(app, "host.json"), "w") as f:
        json.dump(host_json or {"version": "2.0"}, f)
    with open(os.path.join(app, "blobtrig", "function.json"), "w") as f:
        json.dump({"bindings": [{"type": "blobTrigger", "direction": "in", "name": "myBlob",
                                 "path": CONTAINER + "/{name}"}],
                   "scriptFile": "blobtrig.so"}, f)
    return app


def container(app):
    d = os.path.join(app, ".fnhost", "storage", "blobs", CONTAINER)
    os.makedirs(d, exist_ok=True)
    return d


def wait(cond, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.01)
    raise SystemExit(f"timed out waiting for {what}")


def latencies(build, n, gap):
    """Writes n files (gap seconds apart) and returns close->start in ms."""
    app = make_app()
    h = Host(build, app)
    d = container(app)
    time.sleep(0.3)
    closed = {}
    for i in range(n):
        with open(os.path.join(d, f"b{i:05d}"), "w") as f:
            f.write("x")
            f.flush()
            closed[f"b{i:05d}"] = time.time_ns()  # just before close(2)
        if gap:
            time.sleep(gap)
    wait(lambda: h.done >= n, 120, f"{n} invocations")
    h.stop()
    shutil.rmtree(app, ignore_errors=True)
    return sorted((i["start_ns"] - closed[i["meta"]["name"]]) / 1e6 for i in h.infos)


def pct(values, p):
    return values[min(len(values) - 1, int(len(values) * p / 100))]


def rss_after(build, count):
    """RSS of a host that processed `count` blobs, and its receipt files."""
    app = make_app()
    h = Host(build, app)
    h.keep_infos = False
    d = container(app)
    for k in range(0, count, 1000):  # 1,000 per folder
        sub = os.path.join(d, f"f{k // 1000:03d}")
        os.makedirs(sub, exist_ok=True)
        for i in range(k, min(k + 1000, count)):
            with open(os.path.join(sub, f"b{i:06d}"), "w") as f:
                f.write(str(i))
    wait(lambda: h.done >= count, 3600, f"{count} invocations")
    time.sleep(1)
    rss, hwm = h.status("VmRSS"), h.status("VmHWM")
    h.stop()
    rdir = os.path.join(app, ".fnhost", "blobreceipts")
    nrec = sum(len([f for f in fs if not f.startswith(".fnh-tmp.")])
               for _, _, fs in os.walk(rdir))
    shutil.rmtree(app, ignore_errors=True)
    return rss, hwm, nrec


def duplicates(build, n=200):
    app = make_app()
    a = Host(build, app)
    b = Host(build, app, prefix=("unshare", "--pid", "--fork", "--mount-proc",
                                 "--kill-child=SIGTERM"))
    d = container(app)
    time.sleep(0.3)
    for i in range(n):
        with open(os.path.join(d, f"h{i:03d}"), "w") as f:
            f.write(str(i))
    wait(lambda: a.done + b.done >= n, 120, f"{n} invocations")
    time.sleep(1.5)
    ran = collections.Counter(i["meta"]["name"] for h in (a, b) for i in h.infos)
    a.stop()
    b.stop()
    shutil.rmtree(app, ignore_errors=True)
    return sum(c - 1 for c in ran.values()), len(ran), a.done, b.done


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--blobs", type=int, default=100000, help="blobs for the RSS run")
    ap.add_argument("--rss-runs", type=int, default=1, help="RSS runs (slow; default 1)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=os.path.join(REPO, "bench", "blob-results.md"))
    args = ap.parse_args()
    if args.quick:
        args.runs, args.blobs = 1, 10000
    build = args.build if os.path.isabs(args.build) else os.path.join(REPO, args.build)
    if not os.path.exists(os.path.join(build, "fnhost")) or not os.path.exists(FIXTURE):
        print(f"no {build}/fnhost or {FIXTURE}; run make first")
        return 2
    res = collections.defaultdict(list)
    for r in range(args.runs):
        lat = latencies(build, 1000, 0)
        res["burst_p50"].append(statistics.median(lat))
        res["burst_p99"].append(pct(lat, 99))
        lat = latencies(build, 100, 0.02)
        res["trickle_p50"].append(statistics.median(lat))
        res["trickle_p99"].append(pct(lat, 99))
        if os.geteuid() == 0 and shutil.which("unshare"):
            dups, distinct, na, nb = duplicates(build)
            res["dups"].append(dups)
            res["split"].append(f"{na}/{nb}")
        print(f"run {r + 1}: burst p50 {res['burst_p50'][-1]:.2f} ms p99 "
              f"{res['burst_p99'][-1]:.2f} ms; trickle p50 {res['trickle_p50'][-1]:.3f} ms; "
              f"duplicates {res['dups'][-1] if res['dups'] else 'n/a'}", flush=True)
    for r in range(args.rss_runs):
        rss, hwm, nrec = rss_after(build, args.blobs)
        res["rss"].append(rss)
        res["hwm"].append(hwm)
        res["receipts"].append(nrec)
        print(f"run {r + 1}: after {args.blobs:,} blobs RSS {rss:.1f} MiB (peak {hwm:.1f}), "
              f"{nrec:,} receipt files", flush=True)
    med = {k: statistics.median(v) for k, v in res.items() if k != "split"}
    rev = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True).stdout.strip()
    rows = [
        ("burst of 1,000 files: close -> start, median", f"{med['burst_p50']:.2f} ms",
         BEFORE["burst_p50"]),
        ("burst of 1,000 files: p99", f"{med['burst_p99']:.2f} ms", BEFORE["burst_p99"]),
        ("trickle (one file per 20 ms): median", f"{med['trickle_p50']:.3f} ms",
         BEFORE["trickle_p50"]),
        ("trickle: p99", f"{med['trickle_p99']:.3f} ms", ""),
        (f"RSS after {args.blobs:,} blobs (peak; {args.rss_runs} run)", f"{med['rss']:.1f} MiB ({med['hwm']:.1f})",
         BEFORE["rss"]),
        (f"receipt files after {args.blobs:,} blobs", f"{med['receipts']:,.0f}",
         BEFORE["receipts"]),
    ]
    if "dups" in med:
        rows.append(("two hosts (one in a pid namespace), 200 blobs: duplicate runs",
                     f"{med['dups']:.0f} (split {', '.join(res['split'])})", BEFORE["dups"]))
    text = [f"# Blob trigger benchmark\n",
            f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, revision "
            f"{rev}, {os.cpu_count()} CPUs, median of {args.runs} run(s)"
            f"{' (--quick: indicative only)' if args.quick else ''}; the host runs the "
            f"function in isolated child processes (the default).\n",
            "| measure | now | before |", "|---|---|---|"]
    text += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    with open(args.out, "w") as f:
        f.write("\n".join(text) + "\n")
    print("\n".join(text))
    return 0


if __name__ == "__main__":
    sys.exit(main())
