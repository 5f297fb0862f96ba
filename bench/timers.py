#!/usr/bin/env python3
"""bench/timers.py: timer-trigger benchmark (not a test). Measures
(1) scheduling precision: lateness of each fire of a one-second schedule
    ("*/1 * * * * *") over --duration seconds, from the host's own
    "Timer fired at" reasons (fires are due on whole seconds), and
(2) the cost of 10,000 timer functions in one app: start-up time, idle RSS
    and idle CPU over --idle seconds.
Writes bench/timers.md. Only loopback; every wait is bounded."""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def build_so(tmp):
    src = os.path.join(ROOT, "samples", "timer", "tick", "tick.c")
    so = os.path.join(tmp, "tick.so")
    subprocess.run(["cc", "-std=c11", "-O2", "-fPIC", "-shared", "-fvisibility=hidden",
                    "-I" + os.path.join(ROOT, "host", "include"), "-o", so, src], check=True)
    return so


def make_app(tmp, name, count, schedule, so):
    app = os.path.join(tmp, name)
    os.makedirs(app)
    with open(os.path.join(app, "host.json"), "w") as f:
        f.write('{"version": "2.0", "logging": {"logLevel": {"Host.Triggers.Timer": "Warning"}}}')
    for i in range(count):
        d = os.path.join(app, f"t{i:05d}")
        os.makedirs(d)
        with open(os.path.join(d, "function.json"), "w") as f:
            f.write('{"bindings":[{"type":"timerTrigger","direction":"in","name":"myTimer",'
                    f'"schedule":"{schedule}"}}],"scriptFile":"../tick.so"}}')
    shutil.copy(so, os.path.join(app, "tick.so"))
    return app


start_t = 0.0


def start(fnhost, app, log):
    global start_t
    t0 = start_t = time.perf_counter()
    p = subprocess.Popen([fnhost, "start", "--script-root", app, "--port", "0"],
                         stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while time.time() < deadline:
        with open(log.name) as f:
            if "Host started" in f.read():
                return p, time.perf_counter() - t0
        if p.poll() is not None:
            raise SystemExit(f"fnhost exited early; see {log.name}")
        time.sleep(0.01)
    p.kill()
    raise SystemExit("fnhost did not start within 60 s")


def proc_cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--duration", type=int, default=60)
    ap.add_argument("--idle", type=int, default=10)
    ap.add_argument("--count", type=int, default=10000)
    args = ap.parse_args()
    fnhost = os.path.join(ROOT, args.build, "fnhost")
    tmp = tempfile.mkdtemp(prefix="fnhost-timerbench-")
    try:
        so = build_so(tmp)
        # 1. precision
        app = make_app(tmp, "one", 1, "*/1 * * * * *", so)
        with open(os.path.join(tmp, "one.log"), "w") as log:
            p, _ = start(fnhost, app, log)
            time.sleep(args.duration)
            p.terminate()
            p.wait(15)
        with open(os.path.join(tmp, "one.log")) as f:
            fired = [int(ms) for ms in
                     re.findall(r"Timer fired at \S+T\d\d:\d\d:\d\d\.(\d{3})", f.read())]
        late = sorted(fired)
        # 2. 10,000 timers
        app = make_app(tmp, "many", args.count, "0 0 0 1 1 *", so)
        with open(os.path.join(tmp, "many.log"), "w") as log:
            p, startup = start(fnhost, app, log)
            # the schedule status files are written in the background: wait for them
            tdir = os.path.join(app, ".fnhost", "timers")
            deadline = time.time() + 120
            while time.time() < deadline:
                n = len([f for f in os.listdir(tdir) if f.endswith(".status.json")]) \
                    if os.path.isdir(tdir) else 0
                if n >= args.count:
                    break
                time.sleep(0.2)
            status_done = time.perf_counter()
            time.sleep(1)
            rss = rss_kib(p.pid)
            c0 = proc_cpu_s(p.pid)
            time.sleep(args.idle)
            c1 = proc_cpu_s(p.pid)
            p.terminate()
            p.wait(30)
        lines = [
            "# fnhost timer benchmark",
            "",
            f"Measured {time.strftime('%Y-%m-%d %H:%M:%S')} with `python3 bench/timers.py`.",
            "",
            "## Scheduling precision (`*/1 * * * * *`)",
            "",
            f"- fires: {len(late)} over {args.duration} s",
            f"- lateness median: {statistics.median(late) if late else 'n/a'} ms, "
            f"max: {max(late) if late else 'n/a'} ms (after the whole second each fire is due)",
            "",
            f"## {args.count:,} timer functions in one app",
            "",
            f"- start-up (exec to 'Host started'): {startup * 1000:.0f} ms",
            f"- all {args.count:,} schedule status files written (in the background) by: "
            f"{(status_done - start_t) * 1000:.0f} ms",
            f"- idle RSS: {rss / 1024:.1f} MiB",
            f"- idle CPU: {(c1 - c0) * 1000 / args.idle:.1f} ms of CPU per second over {args.idle} s",
            "",
        ]
        out = os.path.join(ROOT, "bench", "timers.md")
        with open(out, "w") as f:
            f.write("\n".join(lines))
        print("\n".join(lines))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
