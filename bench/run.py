#!/usr/bin/env python3
"""bench/run.py: fnhost's benchmark harness (Python 3 stdlib only).

Owns the benchmark procedure and bench/results.md (generated; see
bench/README.md for what is measured and how to read it). In one run it
measures the reference server (bench/refserver.c) and four fnhost targets:

  ref     build/bench/refserver, the yardstick (libuv + llhttp, fixed reply)
  inline  fnhost --in-process, hello app built with -DHELLO_INLINE (non-blocking, on the loop)
  worker  fnhost --in-process, hello app built by default (runs on worker threads)
  isolated fnhost (the default), the same hello in isolated child processes
  f1000   fnhost, generated app of 1,000 HTTP functions with constrained
          route parameters (inline hello.so); wrk hits one of them

For each: time from exec to the first 200 (median of 5 starts) and idle
RSS. Then rounds (5 by default): in each, every fnhost target is measured
right beside a run of the reference (reference first in odd rounds, last in
even ones), each run a fresh server, a wrk warm-up and one measured run, the
server on CPU 0 and wrk on CPU 1: requests/s, p50/p99 latency, server CPU
time per request. Each number is the median of its runs; each ratio to the
reference is the median of the ratios to the adjacent reference runs, so
the machine's drift within a minute reaches both sides of a ratio. Every
ratio is checked against fnhost's targets. Servers' output goes to a pipe
read by the harness, which keeps only its tail.

Usage: python3 bench/run.py [--build DIR] [--duration S] [--runs N] [--quick] [--out FILE]
Exit status: 0 every check passed, 1 some check failed, 2 the harness could
not run (missing tool, reference server broken, ...). Skipped targets (no
build/fnhost or no hello sample) do not fail the run.
"""

import argparse
import copy
import datetime
import fcntl
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HELLO_APP = os.path.join(REPO, "samples", "hello")
HELLO_FN = "hello"
SERVER_CPU = 0
CLIENT_CPU = 1
CONNECTIONS = 50
START_TIMEOUT = 5.0  # seconds to wait for a server's first 200
STOP_TIMEOUT = 5.0  # seconds to wait for a server to exit after SIGTERM
STARTS = 5  # starts per target for the exec-to-first-200 median
F1000_COUNT = 1000
F1000_TARGET = 500  # f0500 is an items{i}/{id:int}/{name:alpha} route
F1000_PATH_TAIL = "42/abc"
NOISE_WARN_PCT = 5.0  # CPU 0 time used by others above which results get a warning
STEAL_LIMIT_PCT = 1.0  # hypervisor steal of CPU 0 or 1 above which a pair is measured again
PAIR_TRIES = 3  # measurements of one pair at most, the least disturbed kept
CLK_TCK = os.sysconf("SC_CLK_TCK")
MIB = 1024 * 1024
TAIL_BYTES = 64 * 1024  # server output kept for error reports
F_SETPIPE_SZ = 1031  # fcntl.F_SETPIPE_SZ, named in Python 3.10+
READ_NAP_S = 0.005  # the output reader's pause between reads (a 1 MiB pipe holds far more)


class BenchError(Exception):
    """A target could not be measured; the message says why."""


def show(path):
    """A path relative to the repository when inside it, else absolute."""
    rel = os.path.relpath(path, REPO)
    return path if rel.startswith("..") else rel


def log(msg):
    print(msg, flush=True)


# ---------------------------------------------------------------- processes

def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_cpu_ticks(pid):
    """utime + stime of the whole process (all threads), in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of stat(5)


def read_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise BenchError(f"no VmRSS in /proc/{pid}/status")


def read_cpu_stat(cpus):
    """For each CPU in cpus, from one read of /proc/stat: (busy, steal) ticks,
    busy being the time it ran anything (user, nice, system, steal) and steal
    the time the hypervisor took it away from this machine."""
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            name, *v = line.split()
            if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus:
                v = [int(x) for x in v]
                steal = v[7] if len(v) > 7 else 0
                out[int(name[3:])] = (v[0] + v[1] + v[2] + steal, steal)
    missing = [c for c in cpus if c not in out]
    if missing:
        raise BenchError(f"no cpu{missing[0]} line in /proc/stat")
    return out


class OutputTail:
    """Reads a server's output (its log: two lines per invocation) from a pipe
    as a terminal would, keeping only the last TAIL_BYTES for error reports.
    A log file would put gigabytes of page cache and disk writes behind a
    benchmark; their writeback lands in later runs, reference included."""

    def __init__(self, pipe):
        self.pipe = pipe
        self.last = b""  # the last read, and the one before it
        self.prev = b""
        try:
            # A large pipe lets the reader wake rarely and read much at once.
            self.nap = fcntl.fcntl(pipe.fileno(), F_SETPIPE_SZ, MIB) >= MIB and READ_NAP_S
        except OSError:
            self.nap = 0
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        fd = self.pipe.fileno()
        buf = bytearray(MIB)
        view = memoryview(buf)
        while True:
            try:
                n = os.readv(fd, [buf])
            except OSError:
                return
            if n == 0:
                return
            self.prev, self.last = self.last, bytes(view[max(0, n - TAIL_BYTES):n])
            if self.nap:
                time.sleep(self.nap)

    def tail(self):
        return (self.prev + self.last)[-TAIL_BYTES:]

    def close(self):
        self.thread.join(timeout=STOP_TIMEOUT)
        self.pipe.close()


class Server:
    """One server process, pinned to SERVER_CPU (taskset execs, so the pid we
    hold is the server's own)."""

    def __init__(self, argv, port, path):
        self.port = port
        self.path = path
        self.t_spawn = time.perf_counter()
        self.proc = subprocess.Popen(
            ["taskset", "-c", str(SERVER_CPU)] + argv,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.output = OutputTail(self.proc.stdout)

    @property
    def pid(self):
        return self.proc.pid

    def log_tail(self, n=15):
        lines = self.output.tail().decode("utf-8", "replace").splitlines()
        return "\n".join("    " + line for line in lines[-n:])

    def wait_first_200(self):
        """Polls (connect, GET, read status line) in a tight loop until a 200
        comes back; returns seconds since spawn. Gives up after START_TIMEOUT."""
        req = (f"GET {self.path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
               f"Connection: close\r\n\r\n").encode()
        deadline = self.t_spawn + START_TIMEOUT
        last = "no connection accepted"
        while True:
            rc = self.proc.poll()
            if rc is not None:
                raise BenchError(f"server exited with status {rc} before answering 200\n"
                                 + self.log_tail())
            now = time.perf_counter()
            if now >= deadline:
                raise BenchError(f"no 200 from GET {self.path} within {START_TIMEOUT:.0f} s "
                                 f"(last: {last})\n" + self.log_tail())
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                s.settimeout(max(0.01, deadline - now))
                s.connect(("127.0.0.1", self.port))
                s.sendall(req)
                data = b""
                while b"\r\n" not in data and len(data) < 4096:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            except OSError as e:
                last = f"{type(e).__name__}: {e}"
                continue
            finally:
                s.close()
            status = data.split(b"\r\n", 1)[0]
            parts = status.split()
            if len(parts) >= 2 and parts[0].startswith(b"HTTP/") and parts[1] == b"200":
                return time.perf_counter() - self.t_spawn
            last = f"status line {status[:80]!r}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=STOP_TIMEOUT)
        self.output.close()


# ---------------------------------------------------------------------- wrk

UNIT_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def parse_latency_ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if not m:
        raise BenchError(f"cannot parse wrk latency {text!r}")
    return float(m.group(1)) * UNIT_MS[m.group(2)]


def parse_wrk(out):
    res = {}
    m = re.search(r"^\s*(\d+) requests in ([\d.]+\w+)", out, re.M)
    if not m:
        raise BenchError("wrk output has no request count:\n" + out)
    res["requests"] = int(m.group(1))
    m = re.search(r"^Requests/sec:\s*([\d.]+)", out, re.M)
    if not m:
        raise BenchError("wrk output has no Requests/sec:\n" + out)
    res["rps"] = float(m.group(1))
    for pct, key in (("50", "p50"), ("99", "p99")):
        m = re.search(rf"^\s*{pct}%\s+(\S+)", out, re.M)
        if not m:
            raise BenchError(f"wrk output has no {pct}% latency (--latency missing?):\n" + out)
        res[key] = parse_latency_ms(m.group(1))
    errors = 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        errors += sum(int(g) for g in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    non2xx = int(m.group(1)) if m else 0
    res["errors"] = errors
    res["non2xx"] = non2xx
    return res


def run_wrk(port, path, seconds):
    url = f"http://127.0.0.1:{port}{path}"
    argv = ["taskset", "-c", str(CLIENT_CPU), "wrk", "-t1", f"-c{CONNECTIONS}",
            f"-d{seconds}s", "--latency", url]
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    except subprocess.TimeoutExpired:
        raise BenchError(f"wrk did not finish within {seconds + 60} s")
    if p.returncode != 0:
        raise BenchError(f"wrk failed (status {p.returncode}): {p.stderr.strip() or p.stdout}")
    return parse_wrk(p.stdout)


# ------------------------------------------------------------------ targets

class Target:
    def __init__(self, key, label, make_argv, path):
        self.key = key
        self.label = label
        self.make_argv = make_argv  # port -> argv
        self.path = path
        self.result = None  # dict of measurements
        self.error = None  # BenchError text when measuring failed
        self.skipped = None  # reason when not measured at all


def measure_starts(target):
    """Exec to first 200 (median of STARTS starts) and idle RSS."""
    starts = []
    for _ in range(STARTS):
        port = free_port()
        srv = Server(target.make_argv(port), port, target.path)
        try:
            starts.append(srv.wait_first_200())
        finally:
            srv.stop()
    res = {"start_ms": statistics.median(starts) * 1e3}
    port = free_port()
    srv = Server(target.make_argv(port), port, target.path)
    try:
        srv.wait_first_200()
        time.sleep(0.2)  # let startup settle before reading idle RSS
        res["rss_kib"] = read_rss_kib(srv.pid)
    finally:
        srv.stop()
    return res


def measure_run(target, args):
    """One measured run: a fresh server, the warm-up, one wrk run."""
    port = free_port()
    srv = Server(target.make_argv(port), port, target.path)
    try:
        srv.wait_first_200()
        if args.warmup > 0:
            run_wrk(port, target.path, args.warmup)
        if srv.proc.poll() is not None:
            raise BenchError(f"server died during warm-up (status {srv.proc.returncode})\n"
                             + srv.log_tail())
        cpu0 = read_cpu_ticks(srv.pid)
        stat0 = read_cpu_stat((SERVER_CPU, CLIENT_CPU))
        kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        w = run_wrk(port, target.path, args.duration)
        wall = time.perf_counter() - t0
        kids1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        stat1 = read_cpu_stat((SERVER_CPU, CLIENT_CPU))
        if srv.proc.poll() is not None:
            raise BenchError(f"server died during the run (status {srv.proc.returncode})\n"
                             + srv.log_tail())
        cpu1 = read_cpu_ticks(srv.pid)
        if w["requests"] <= 0:
            raise BenchError("wrk completed no requests")
        w["cpu_us"] = (cpu1 - cpu0) / CLK_TCK / w["requests"] * 1e6
        # Time CPU 0 spent on anything but the server: interference.
        other = max(0, (stat1[SERVER_CPU][0] - stat0[SERVER_CPU][0]) - (cpu1 - cpu0)) / CLK_TCK
        # ... and CPU 1 on anything but wrk.
        wrk_s = (kids1.ru_utime + kids1.ru_stime) - (kids0.ru_utime + kids0.ru_stime)
        cother = max(0.0, (stat1[CLIENT_CPU][0] - stat0[CLIENT_CPU][0]) / CLK_TCK - wrk_s)
        w["noise_pct"] = max(other, cother) / wall * 100
        steal = max(stat1[c][1] - stat0[c][1] for c in (SERVER_CPU, CLIENT_CPU))
        w["steal_pct"] = steal / CLK_TCK / wall * 100
        w["server_cpu_pct"] = (cpu1 - cpu0) / CLK_TCK / wall * 100
        w["client_cpu_pct"] = wrk_s / wall * 100
        return w
    finally:
        srv.stop()


RUN_KEYS = ("rps", "p50", "p99", "cpu_us", "noise_pct", "steal_pct", "server_cpu_pct",
            "client_cpu_pct", "requests")
RATIO_KEYS = ("rps", "p50", "p99", "cpu_us")


def summarize(res, runs, pairs):
    """Medians of each run metric; each ratio to the reference is the median
    of the ratios of the pairs (a run of this target and the reference's run
    right beside it), so a ratio compares runs seconds apart."""
    for key in RUN_KEYS:
        res[key] = statistics.median(r[key] for r in runs)
    res["non2xx"] = sum(r["non2xx"] for r in runs)
    res["errors"] = sum(r["errors"] for r in runs)
    res["all_rps"] = [r["rps"] for r in runs]
    if pairs:
        res["ratios"] = {k: statistics.median(r[k] / q[k] if q[k] else float("inf")
                                              for r, q in pairs)
                         for k in RATIO_KEYS}
    return res


# --------------------------------------------------------------- app builds

def read_json(path):
    with open(path) as f:
        return json.load(f)


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def route_prefix(app_dir):
    try:
        host = read_json(os.path.join(app_dir, "host.json"))
        prefix = host.get("extensions", {}).get("http", {}).get("routePrefix", "api")
    except (OSError, ValueError, AttributeError):
        prefix = "api"
    prefix = prefix.strip("/")
    return "/" + prefix if prefix else ""


def compile_so(src, out, inline):
    argv = ["cc", "-std=c11", "-O2", "-fPIC", "-shared", "-fvisibility=hidden",
            "-I" + os.path.join(REPO, "host", "include")]
    if inline:
        argv.append("-DHELLO_INLINE")
    argv += ["-o", out, src, "-lcjson"]
    p = subprocess.run(argv, capture_output=True, text=True, cwd=REPO, timeout=120)
    if p.returncode != 0:
        raise BenchError("compiling " + os.path.relpath(src, REPO) + " failed:\n"
                         + " ".join(argv) + "\n" + p.stderr)


def build_hello_app(dest, inline):
    """Copies samples/hello to dest and compiles each function's .c into the
    .so its function.json names. Returns the URL path of the hello function."""
    shutil.copytree(HELLO_APP, dest,
                    ignore=shutil.ignore_patterns("*.so", "*.o", "*.d", ".fnhost"))
    for name in sorted(os.listdir(dest)):
        fdir = os.path.join(dest, name)
        fjson = os.path.join(fdir, "function.json")
        if not os.path.isfile(fjson):
            continue
        script = read_json(fjson).get("scriptFile", "")
        sources = [s for s in os.listdir(fdir) if s.endswith(".c")]
        if script.endswith(".so") and len(sources) == 1:
            compile_so(os.path.join(HELLO_APP, name, sources[0]),
                       os.path.normpath(os.path.join(fdir, script)), inline)
    fjson = read_json(os.path.join(dest, HELLO_FN, "function.json"))
    route = HELLO_FN
    for b in fjson.get("bindings", []):
        if b.get("type") == "httpTrigger" and b.get("route"):
            route = b["route"].strip("/")
    return route_prefix(dest) + "/" + route


def f1000_route(i):
    """Routes with a spread of constraints; i % 6 == 2 is the wrk target kind."""
    kind = i % 6
    if kind == 0:
        return f"orders{i}/{{id:guid}}"
    if kind == 1:
        return f"stock{i}/{{qty:int:min(1)}}"
    if kind == 2:
        return f"items{i}/{{id:int}}/{{name:alpha}}"
    if kind == 3:
        return f"codes{i}/{{code:length(3,8)}}"
    if kind == 4:
        return f"users{i}/{{name:alpha}}/{{page:int?}}"
    return f"pages{i}/{{slug?}}"


def build_f1000_app(dest, hello_so):
    """Generates f0000..f0999, each a copy of the hello function (hard links
    to one hello.so, so the dynamic loader maps it once) with its own route."""
    os.makedirs(dest)
    host_json = os.path.join(HELLO_APP, "host.json")
    if os.path.isfile(host_json):
        shutil.copy(host_json, os.path.join(dest, "host.json"))
    else:
        write_json(os.path.join(dest, "host.json"), {"version": "2.0"})
    base = read_json(os.path.join(HELLO_APP, HELLO_FN, "function.json"))
    so_name = os.path.basename(base.get("scriptFile", "hello.so"))
    for i in range(F1000_COUNT):
        fdir = os.path.join(dest, f"f{i:04d}")
        os.makedirs(fdir)
        fj = copy.deepcopy(base)
        fj["scriptFile"] = so_name
        for b in fj.get("bindings", []):
            if b.get("type") == "httpTrigger":
                b["route"] = f1000_route(i)
        write_json(os.path.join(fdir, "function.json"), fj)
        try:
            os.link(hello_so, os.path.join(fdir, so_name))
        except OSError:
            shutil.copy(hello_so, os.path.join(fdir, so_name))
    assert F1000_TARGET % 6 == 2
    return f"{route_prefix(dest)}/items{F1000_TARGET}/{F1000_PATH_TAIL}"


# ------------------------------------------------------------------ checks

def ratio(r, rr, key):
    """r's metric over the reference's: the median of the ratios of its pairs
    with the reference's adjacent runs, else the ratio of medians."""
    if key in r.get("ratios", {}):
        return r["ratios"][key]
    return r[key] / rr[key] if rr[key] else float("inf")


def checks_for(t, ref, by_key):
    """[(description, value text, limit text, passed)] for one target."""
    r = t.result
    out = [("all responses 2xx, no socket errors",
            f"{r['non2xx']} non-2xx, {r['errors']} errors", "0", r["non2xx"] == 0 and r["errors"] == 0)]
    if t.key == "ref" or ref is None:
        return out
    rr = ref.result

    def ratio_check(desc, key, op, limit):
        v = ratio(r, rr, key)
        ok = v >= limit if op == ">=" else v <= limit
        out.append((desc, f"{v:.2f}x", f"{op} {limit:.2f}x", ok))

    if t.key == "inline":
        ratio_check("req/s vs reference", "rps", ">=", 0.95)
        ratio_check("CPU/request vs reference", "cpu_us", "<=", 1.2)
    if t.key == "worker":
        ratio_check("req/s vs reference", "rps", ">=", 0.85)
    if t.key == "isolated":
        ratio_check("req/s vs reference", "rps", ">=", 0.5)
    if t.key in ("inline", "worker", "f1000"):
        ratio_check("p99 latency vs reference", "p99", "<=", 1.5)
    if t.key in ("inline", "worker", "isolated"):
        out.append(("idle RSS", f"{r['rss_kib'] / 1024:.2f} MiB", "< 4 MiB",
                    r["rss_kib"] * 1024 < 4 * MIB))
        out.append(("exec to first 200", f"{r['start_ms']:.1f} ms", "<= 15 ms",
                    r["start_ms"] <= 15.0))
    if t.key == "f1000":
        one = by_key.get("inline")
        if one is not None and one.result:
            v = r["cpu_us"] / one.result["cpu_us"] if one.result["cpu_us"] else float("inf")
            out.append(("CPU/request vs one-function app (inline)", f"{v:.2f}x", "<= 1.20x",
                        v <= 1.2))
        else:
            out.append(("CPU/request vs one-function app (inline)", "n/a (inline not measured)",
                        "<= 1.20x", False))
        out.append(("exec to first 200", f"{r['start_ms']:.1f} ms", "<= 100 ms",
                    r["start_ms"] <= 100.0))
    return out


# ------------------------------------------------------------------ report

def fmt_ratio(r, rr, key):
    if key not in r.get("ratios", {}) and not rr[key]:
        return "n/a"
    return f"{ratio(r, rr, key):.2f}x"


def machine_info():
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} CPUs, Linux {platform.release()}"


def git_revision():
    try:
        p = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                           capture_output=True, text=True, timeout=10)
        rev = p.stdout.strip() if p.returncode == 0 else "no commit"
        d = subprocess.run(["git", "-C", REPO, "status", "--porcelain"],
                           capture_output=True, text=True, timeout=10)
        if d.returncode == 0 and d.stdout.strip():
            rev += " (working tree modified)"
        return rev
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def write_report(path, targets, args, notes, all_checks):
    ref = targets[0] if targets and targets[0].result else None
    notes = list(notes)
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    L = []
    L.append("# fnhost benchmark results")
    L.append("")
    L.append("Generated by `bench/run.py`; do not edit. See `bench/README.md` for the method.")
    L.append("")
    L.append(f"- Run: {now}, revision {git_revision()}"
             + (" — **quick smoke run, numbers are indicative only**" if args.quick else ""))
    L.append(f"- Machine: {machine_info()}")
    L.append(f"- Load: `taskset -c {CLIENT_CPU} wrk -t1 -c{CONNECTIONS} -d{args.duration}s "
             f"--latency URL` after a {args.warmup} s warm-up; server on CPU {SERVER_CPU}")
    L.append(f"- Start time: median of {STARTS} starts, exec to first 200 response")
    L.append(f"- {args.runs} round(s); in each, every fnhost target is measured right beside "
             f"a run of the reference (a fresh server, the warm-up, one run each); each "
             f"number is the median of its runs, each ratio the median of the ratios to "
             f"the adjacent reference run")
    L.append("")
    L.append("## Measurements")
    L.append("")
    L.append("Ratios are to the reference server measured in this run.")
    L.append("")
    L.append("| target | path | req/s | p50 ms | p99 ms | CPU µs/req | idle RSS MiB "
             "| first 200 ms | non-2xx / errors | server / wrk CPU | noise | steal |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    rr = ref.result if ref else None
    for t in targets:
        if t.skipped:
            L.append(f"| {t.label} | – | skipped | | | | | | | | | |")
            continue
        if t.error:
            L.append(f"| {t.label} | `{t.path}` | **error** (see below) | | | | | | | | | |")
            continue
        r = t.result

        def cell(key, fmt, scale=1.0):
            s = fmt.format(r[key] * scale)
            if rr and t is not ref:
                s += f" ({fmt_ratio(r, rr, key)})"
            return s

        L.append(f"| {t.label} | `{t.path}` | {cell('rps', '{:,.0f}')} | {cell('p50', '{:.3f}')} "
                 f"| {cell('p99', '{:.3f}')} | {cell('cpu_us', '{:.2f}')} "
                 f"| {cell('rss_kib', '{:.2f}', 1 / 1024)} | {cell('start_ms', '{:.1f}')} "
                 f"| {r['non2xx']} / {r['errors']} "
                 f"| {r['server_cpu_pct']:.0f}% / {r['client_cpu_pct']:.0f}% | {r['noise_pct']:.1f}% "
                 f"| {r['steal_pct']:.1f}% |")
        if len(r["all_rps"]) > 1:
            notes.append(f"{t.label}: req/s of the {len(r['all_rps'])} runs: "
                         + ", ".join(f"{v:,.0f}" for v in r["all_rps"]))
        if r["noise_pct"] > NOISE_WARN_PCT:
            notes.append(f"{t.label}: other tasks used {r['noise_pct']:.1f}% of CPU {SERVER_CPU} or "
                         f"{CLIENT_CPU} during the measured run; its numbers are disturbed "
                         f"(rerun on a quiet machine)")
        if r["steal_pct"] > STEAL_LIMIT_PCT:
            notes.append(f"{t.label}: the hypervisor took {r['steal_pct']:.1f}% of CPU "
                         f"{SERVER_CPU} or {CLIENT_CPU} (steal, median of the runs kept) even "
                         f"after measuring again; its numbers are disturbed (rerun later)")
    L.append("")
    L.append("## Targets")
    L.append("")
    L.append("| target | check | measured | limit | result |")
    L.append("|---|---|---|---|---|")
    for label, (desc, val, limit, ok) in all_checks:
        L.append(f"| {label} | {desc} | {val} | {limit} | {'PASS' if ok else '**FAIL**'} |")
    npass = sum(1 for _, c in all_checks if c[3])
    L.append("")
    L.append(f"{npass} of {len(all_checks)} checks passed.")
    if notes:
        L.append("")
        L.append("## Notes")
        L.append("")
        for n in notes:
            first, _, rest = n.partition("\n")
            L.append(f"- {first}")
            if rest.strip():
                L.append("")
                L.append("  ```")
                L.extend("  " + line for line in rest.splitlines())
                L.append("  ```")
    with open(path, "w") as f:
        f.write("\n".join(L) + "\n")


# -------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description="fnhost benchmark (writes bench/results.md)")
    ap.add_argument("--build", default="build", help="build directory (default: build)")
    ap.add_argument("--duration", type=int, default=5,
                    help="seconds of each measured wrk run (default: 5)")
    ap.add_argument("--warmup", type=int, default=None,
                    help="seconds of wrk warm-up before each measured run (default: 3; 1 with --quick)")
    ap.add_argument("--runs", type=int, default=5,
                    help="rounds; each measures every target once, medians reported "
                         "(default: 5; 1 with --quick)")
    ap.add_argument("--quick", action="store_true", help="2 s runs, 1 s warm-up (smoke test)")
    ap.add_argument("--out", default=os.path.join(REPO, "bench", "results.md"),
                    help="report file (default: bench/results.md)")
    args = ap.parse_args()
    if args.quick:
        args.duration = 2
        args.runs = 1
    if args.warmup is None:
        args.warmup = 1 if args.quick else 3
    if args.duration < 1 or args.warmup < 0 or args.runs < 1:
        ap.error("--duration and --runs must be >= 1, --warmup >= 0")

    build = args.build if os.path.isabs(args.build) else os.path.join(REPO, args.build)
    refserver = os.path.join(build, "bench", "refserver")
    fnhost = os.path.join(build, "fnhost")

    for tool in ("wrk", "taskset", "cc"):
        if shutil.which(tool) is None:
            print(f"bench: '{tool}' not found (apt-get install -y wrk util-linux build-essential)",
                  file=sys.stderr)
            return 2
    if not os.access(refserver, os.X_OK):
        print(f"bench: {show(refserver)} missing; build it with `make bench` "
              f"(or `make BUILD=DIR DIR/bench/refserver`)", file=sys.stderr)
        return 2
    allowed = os.sched_getaffinity(0)
    if SERVER_CPU not in allowed or CLIENT_CPU not in allowed:
        print(f"bench: needs CPUs {SERVER_CPU} and {CLIENT_CPU}; this process may use "
              f"{sorted(allowed)}", file=sys.stderr)
        return 2
    os.sched_setaffinity(0, {CLIENT_CPU})  # the start-time poller stays off the server CPU

    notes = []
    workdir = tempfile.mkdtemp(prefix="fnhost-bench-")
    try:
        targets = [Target("ref", "reference (refserver)",
                          lambda port: [refserver, str(port)], "/api/hello")]

        def fnhost_argv(app, extra=("--in-process",)):
            return lambda port: [fnhost, "start", "--script-root", app, "--port", str(port),
                                 "--host", "127.0.0.1", *extra]

        fn_targets = [("inline", "fnhost inline hello"), ("worker", "fnhost worker hello"),
                      ("isolated", "fnhost isolated hello"), ("f1000", "fnhost 1,000 functions")]
        skip = None
        if not os.access(fnhost, os.X_OK):
            skip = f"{show(fnhost)} not found: fnhost targets skipped (run `make`)"
        elif not os.path.isfile(os.path.join(HELLO_APP, HELLO_FN, "function.json")):
            skip = "samples/hello/hello/function.json not found: fnhost targets skipped"
        if skip:
            notes.append(skip)
            for key, label in fn_targets:
                t = Target(key, label, None, None)
                t.skipped = skip
                targets.append(t)
        else:
            apps = {}
            try:
                log("bench: building apps in " + workdir)
                inline_dir = os.path.join(workdir, "inline")
                apps["inline"] = (inline_dir, build_hello_app(inline_dir, inline=True))
                worker_dir = os.path.join(workdir, "worker")
                apps["worker"] = (worker_dir, build_hello_app(worker_dir, inline=False))
                apps["isolated"] = apps["worker"]
                so = os.path.basename(read_json(os.path.join(HELLO_APP, HELLO_FN,
                                                             "function.json"))["scriptFile"])
                f_dir = os.path.join(workdir, "f1000")
                apps["f1000"] = (f_dir, build_f1000_app(f_dir, os.path.join(inline_dir, HELLO_FN,
                                                                            so)))
            except (BenchError, OSError, ValueError, KeyError) as e:
                notes.append(f"building the fnhost apps failed: fnhost targets skipped\n{e}")
                apps = {}
            for key, label in fn_targets:
                if key in apps:
                    app_dir, path = apps[key]
                    extra = () if key == "isolated" else ("--in-process",)
                    targets.append(Target(key, label, fnhost_argv(app_dir, extra), path))
                else:
                    t = Target(key, label, None, None)
                    t.skipped = "app build failed"
                    targets.append(t)

        live = []
        for t in targets:
            if t.skipped:
                log(f"bench: {t.label}: skipped")
                continue
            log(f"bench: {t.label}: start time and idle RSS ...")
            try:
                t.result = measure_starts(t)
                live.append(t)
            except BenchError as e:
                t.error = str(e)
                notes.append(f"{t.label}: {e}")
                log(f"bench:   error: {e}")
        # Rounds: in each, every fnhost target is measured right beside its
        # own run of the reference (after it in odd rounds, before it in even
        # ones), and its ratios are to that run: on a shared VM the machine's
        # speed moves by tens of percent within a minute, and adjacent runs
        # share most of that drift.
        ref = targets[0]
        runs = {t.key: [] for t in live}
        pairs = {t.key: [] for t in live}  # key -> [(its run, the reference's run)]

        def measure_logged(t, rnd):
            if t.error:
                return None
            log(f"bench: round {rnd + 1}/{args.runs}: {t.label}: GET {t.path} ...")
            try:
                w = measure_run(t, args)
            except BenchError as e:
                t.error = str(e)
                notes.append(f"{t.label}: {e}")
                log(f"bench:   error: {e}")
                return None
            log(f"bench:   {w['rps']:,.0f} req/s, p50 {w['p50']:.3f} ms, "
                f"p99 {w['p99']:.3f} ms, {w['cpu_us']:.2f} µs CPU/req; CPU server "
                f"{w['server_cpu_pct']:.0f}%, wrk {w['client_cpu_pct']:.0f}%, "
                f"noise {w['noise_pct']:.1f}%, steal {w['steal_pct']:.1f}%")
            return w

        def measure_pair(t, rnd):
            """t and the reference side by side; measured again (PAIR_TRIES in
            all) while the hypervisor stole over STEAL_LIMIT_PCT of a CPU from
            either run, keeping the least disturbed pair. (t's run, ref's run)
            or None."""
            first, second = (ref, t) if rnd % 2 == 0 else (t, ref)
            best = None
            for attempt in range(PAIR_TRIES):
                a = measure_logged(first, rnd)
                b = measure_logged(second, rnd) if a else None
                if not b:
                    return None
                pair = (b, a) if first is ref else (a, b)
                steal = max(a["steal_pct"], b["steal_pct"])
                if best is None or steal < best[0]:
                    best = (steal, pair)
                if steal <= STEAL_LIMIT_PCT:
                    break
                if attempt + 1 < PAIR_TRIES:
                    retried[t.key] = retried.get(t.key, 0) + 1
                    log(f"bench:   the hypervisor took {steal:.1f}% of a CPU: measuring the "
                        f"pair again")
            return best[1]

        others = [t for t in live if t is not ref]
        retried = {}
        for rnd in range(args.runs):
            if ref in live and not others:
                w = measure_logged(ref, rnd)
                if w:
                    runs[ref.key].append(w)
            for t in others:
                if ref not in live:
                    w = measure_logged(t, rnd)
                    if w:
                        runs[t.key].append(w)
                    continue
                pair = measure_pair(t, rnd)
                if pair:
                    runs[t.key].append(pair[0])
                    runs[ref.key].append(pair[1])
                    pairs[t.key].append(pair)
        for key, n in retried.items():
            notes.append(f"{key}: {n} pair(s) measured again, the hypervisor having taken "
                         f"over {STEAL_LIMIT_PCT:.0f}% of a CPU (steal) during a run")
        for t in live:
            if not t.error:
                summarize(t.result, runs[t.key], pairs[t.key])
            else:
                t.result = None

        if ref.error:
            print("bench: the reference server could not be measured; no ratios", file=sys.stderr)
        by_key = {t.key: t for t in targets}
        all_checks = []
        for t in targets:
            if t.skipped:
                continue
            if t.error:
                all_checks.append((t.label, ("measured", "error", "no error", False)))
                continue
            for c in checks_for(t, ref if ref.result else None, by_key):
                all_checks.append((t.label, c))
        write_report(args.out, targets, args, notes, all_checks)
        log(f"bench: wrote {show(os.path.abspath(args.out))}")
        failed = [(lbl, c) for lbl, c in all_checks if not c[3]]
        for lbl, c in failed:
            log(f"bench: FAIL {lbl}: {c[0]}: {c[1]} (limit {c[2]})")
        log(f"bench: {len(all_checks) - len(failed)} of {len(all_checks)} checks passed")
        if ref.error:
            return 2
        return 1 if failed else 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
