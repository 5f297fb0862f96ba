"""End-to-end tests of running functions under pressure, for both native
runners (isolated in child processes, the default, and in-process on the
worker pool with --in-process): queued work fans out over idle workers or
children, blocked calls run side by side beyond the CPU count (extra
children stop once idle), queue time is not function time, one function's backlog cannot
starve another, hung functions neither block the rest nor get the blame of
healthy ones, crashes are named, and shutdown is bounded whatever functions
do."""
import re
import signal
import socket
import threading
import time

from harness import child_pids, http_function, read_response


def pool_app(ctx, timeout=None, names=("slow", "fast")):
    files = {}
    for name in names:
        files[f"{name}/function.json"] = http_function(route=name, so="gauge.so", methods=None)
        files[f"{name}/gauge.so"] = ("copy", ctx.so("pool", "gauge"))
    host_json = {"version": "2.0"}
    if timeout:
        host_json["functionTimeout"] = timeout
    return ctx.make_app(files, host_json)


def quietly(fn, *args, **kw):
    """Calls fn, ignoring its failure (for callers left hanging on purpose)."""
    try:
        fn(*args, **kw)
    except Exception:  # noqa: BLE001
        pass


def pipeline(h, path, count, timeout=30):
    """Sends count pipelined GETs of path on one connection; returns the responses."""
    s = h.connect(timeout)
    try:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode() * count)
        out, buf = [], b""
        for _ in range(count):
            r, buf = read_response(s, buf=buf)
            out.append(r)
        return out
    finally:
        s.close()


IN_PROCESS = ("--in-process",)


def test_pipelined_work_fans_out_to_idle_workers(ctx):
    # 20 calls of 300 ms arriving together must run side by side, and with a
    # 1 s functionTimeout none may time out: time spent queued is not
    # function time (serially they would take 6 s and the last ones fail)
    h = ctx.start(pool_app(ctx, timeout="00:00:01"), *IN_PROCESS)
    rs = pipeline(h, "/api/slow?ms=300", 20)
    assert [r.status for r in rs] == [200] * 20, [(r.status, r.body) for r in rs]
    assert max(r.json()["peak"] for r in rs) >= 3, [r.body for r in rs]
    assert "Timeout value" not in h.output


def test_pipelined_work_fans_out_to_isolated_children(ctx):
    h = ctx.start(pool_app(ctx, timeout="00:00:01"))
    rs = pipeline(h, "/api/slow?ms=300", 20)
    assert [r.status for r in rs] == [200] * 20, [(r.status, r.body) for r in rs]
    pids = {r.json()["pid"] for r in rs}
    assert len(pids) >= 3 and h.proc.pid not in pids, pids
    assert "Timeout value" not in h.output


def test_blocked_functions_run_side_by_side_beyond_the_cpu_count(ctx):
    # 8 calls that sleep 1 s, arriving together, on a host whose base is 4
    # workers or children: a call blocked for over 10 ms no longer holds a
    # CPU's share, so all 8 sleep at once (one wave, not two)
    for args in ((), IN_PROCESS):
        h = ctx.start(pool_app(ctx), *args)
        socks = [h.connect(30) for _ in range(8)]
        try:
            t0 = time.time()
            for s in socks:
                s.sendall(b"GET /api/slow?ms=1000 HTTP/1.1\r\nHost: x\r\n\r\n")
            rs = [read_response(s)[0] for s in socks]
            took = time.time() - t0
        finally:
            for s in socks:
                s.close()
        assert [r.status for r in rs] == [200] * 8, [(r.status, r.body) for r in rs]
        assert took < 1.8, f"8 blocked calls took {took:.2f} s: they ran in waves ({args})"
        if args:
            assert max(r.json()["peak"] for r in rs) == 8, [r.body for r in rs]
        else:
            assert len({r.json()["pid"] for r in rs}) == 8, [r.body for r in rs]
        h.stop()


def test_extra_children_stop_once_idle(ctx):
    # the extra children started beside blocked ones stop after 10 s idle;
    # the base children (4 here) stay warm
    h = ctx.start(pool_app(ctx))
    socks = [h.connect(30) for _ in range(8)]
    try:
        for s in socks:
            s.sendall(b"GET /api/slow?ms=500 HTTP/1.1\r\nHost: x\r\n\r\n")
        rs = [read_response(s)[0] for s in socks]
    finally:
        for s in socks:
            s.close()
    assert len({r.json()["pid"] for r in rs}) > 4, [r.body for r in rs]
    assert len(child_pids(h.proc.pid)) > 4
    deadline = time.time() + 20
    while len(child_pids(h.proc.pid)) > 4 and time.time() < deadline:
        time.sleep(0.2)
    assert len(child_pids(h.proc.pid)) == 4, child_pids(h.proc.pid)
    assert h.get("/api/fast?ms=0").status == 200
    h.stop()


def test_one_functions_backlog_does_not_starve_another(ctx):
    for args in ((), IN_PROCESS):
        backlog_then_fast(ctx, args)


def backlog_then_fast(ctx, args):
    h = ctx.start(pool_app(ctx), *args)
    backlog = threading.Thread(target=quietly, args=(pipeline, h, "/api/slow?ms=1000", 40, 60),
                               daemon=True)
    backlog.start()
    h.wait_log("Executing 'Functions.slow'")
    time.sleep(0.3)  # the backlog is queued: 40 runs of 1 s on a pool of 4
    t0 = time.time()
    r = h.get("/api/fast")
    waited = time.time() - t0
    assert r.status == 200, r
    # at most one run of the slow function (1 s), where a first-come pool
    # would make it wait for the whole 10 s backlog
    assert waited < 4, f"fast waited {waited:.1f} s behind the slow backlog ({args})"
    h.proc.send_signal(signal.SIGKILL)
    h.wait_exit()


def test_hung_functions_neither_block_the_pool_nor_blame_others(ctx):
    h = ctx.start(pool_app(ctx, timeout="00:00:01", names=("hang", "fast")), *IN_PROCESS)
    threads = [threading.Thread(target=quietly, args=(h.get, "/api/hang?hang=1"), daemon=True)
               for _ in range(6)]
    for t in threads:
        t.start()
    h.wait_log("Timeout value of 00:00:01 exceeded by function 'Functions.hang'")
    for _ in range(5):
        r = h.get("/api/fast")
        assert r.status == 200, r
    assert "exceeded by function 'Functions.fast'" not in h.output
    assert "Executed 'Functions.fast' (Failed" not in h.output
    # the stuck calls are still running: a second signal exits at once
    h.proc.send_signal(signal.SIGTERM)
    h.wait_log("stopping the host")
    t0 = time.time()
    h.proc.send_signal(signal.SIGINT)
    rc = h.wait_exit(timeout=5)
    assert rc == 128 + signal.SIGINT, rc
    assert time.time() - t0 < 5
    assert "Received SIGINT again; exiting now" in h.output


def test_hung_isolated_functions_are_killed_and_blame_no_one_else(ctx):
    h = ctx.start(pool_app(ctx, timeout="00:00:01", names=("hang", "fast")))
    threads = [threading.Thread(target=quietly, args=(h.get, "/api/hang?hang=1"), daemon=True)
               for _ in range(6)]
    for t in threads:
        t.start()
    h.wait_log("Timeout value of 00:00:01 exceeded by function 'Functions.hang'")
    h.wait_log("killing its isolated process")
    for _ in range(5):
        r = h.get("/api/fast")
        assert r.status == 200, r
    assert "exceeded by function 'Functions.fast'" not in h.output
    # the timed-out work really stopped: shutdown does not wait for it
    t0 = time.time()
    assert h.stop() == 0
    assert time.time() - t0 < 5
    assert "were still running after" not in h.output


def test_shutdown_is_bounded_after_a_function_outlived_its_timeout(ctx):
    h = ctx.start(pool_app(ctx, timeout="00:00:01", names=("hang",)), *IN_PROCESS)
    caller = threading.Thread(target=quietly, args=(h.get, "/api/hang?hang=1"), daemon=True)
    caller.start()
    h.wait_log("Timeout value of 00:00:01 exceeded by function 'Functions.hang'")
    t0 = time.time()
    rc = h.stop()  # checks exit status 0 and no sanitizer report
    assert rc == 0
    took = time.time() - t0
    assert took < 14, f"shutdown took {took:.1f} s"
    assert "were still running after the 10 s shutdown bound" in h.output


def test_timer_that_outlives_its_timeout_never_overlaps_the_next_run(ctx):
    files = {"tick/function.json": {"bindings": [{"type": "timerTrigger", "direction": "in",
                                                  "name": "myTimer",
                                                  "schedule": "*/1 * * * * *"}],
                                    "scriptFile": "ticker.so"},
             "tick/ticker.so": ("copy", ctx.so("native", "ticker")),
             "local.settings.json": {"Values": {"TICKER_SLEEP_MS": "1800"}}}
    h = ctx.start(ctx.make_app(files, {"version": "2.0", "functionTimeout": "00:00:01"}),
                  *IN_PROCESS)
    h.wait_log("Timeout value of 00:00:01 exceeded by function 'Functions.tick'")
    time.sleep(3.5)
    events = re.findall(r"Executing 'Functions.tick'|TickerDone", h.output)
    assert events.count("TickerDone") >= 1, h.output
    # a run starts only after the previous one really returned
    for i, e in enumerate(events[:-1]):
        assert ("Executing" in e) == (i % 2 == 0), events


def test_timed_out_isolated_timer_is_stopped_before_the_next_run(ctx):
    files = {"tick/function.json": {"bindings": [{"type": "timerTrigger", "direction": "in",
                                                  "name": "myTimer",
                                                  "schedule": "*/1 * * * * *"}],
                                    "scriptFile": "ticker.so"},
             "tick/ticker.so": ("copy", ctx.so("native", "ticker")),
             "local.settings.json": {"Values": {"TICKER_SLEEP_MS": "5000"}}}
    h = ctx.start(ctx.make_app(files, {"version": "2.0", "functionTimeout": "00:00:01"}))
    h.wait_log("killing its isolated process")
    time.sleep(2.5)
    events = re.findall(r"Executing 'Functions.tick'|killing its isolated process", h.output)
    assert events.count("killing its isolated process") >= 1, h.output
    # a run starts only after the previous one was stopped
    for i, e in enumerate(events[:-1]):
        assert ("Executing" in e) == (i % 2 == 0), events
    assert "TickerDone" not in h.output


def test_queue_backlog_does_not_delay_http_functions(ctx):
    # queue messages of a 1 s function ahead of an HTTP call: the call waits
    # for at most one run (under 1 s), not behind the queue's batch (3.5 s
    # in a first-come pool of 4)
    files = {"rec/function.json": {"bindings": [{"type": "queueTrigger", "direction": "in",
                                                 "name": "msg", "queueName": "work"}],
                                   "scriptFile": "qrec.so"},
             "rec/qrec.so": ("copy", ctx.so("queue", "qrec")),
             "fast/function.json": http_function(route="fast", so="gauge.so", methods=None),
             "fast/gauge.so": ("copy", ctx.so("pool", "gauge")),
             "local.settings.json": {"Values": {"AzureWebJobsStorage":
                                                "UseDevelopmentStorage=true"}}}
    app = ctx.make_app(files)
    for i in range(60):
        p = ctx.run("queue", "put", "work", f"sleep:1000 m{i}", "--script-root", app)
        assert p.returncode == 0, p.stderr
    h = ctx.start(app, *IN_PROCESS)
    h.wait_log("QSTART")
    time.sleep(0.5)
    t0 = time.time()
    r = h.get("/api/fast")
    waited = time.time() - t0
    assert r.status == 200, r
    assert waited < 2.5, f"the HTTP call waited {waited:.1f} s behind the queue backlog"
    h.proc.send_signal(signal.SIGKILL)
    h.wait_exit()


def test_in_process_crash_names_the_function_and_signal(ctx):
    for how, needle in (("segv", "fatal signal SIGSEGV (Segmentation fault) while running "
                                 "function 'crash' (Id="),
                        ("abort", "fatal signal SIGABRT (Aborted) while running function "
                                  "'crash' (Id="),
                        ("exit", "exit() was called while running function 'crash' (Id=")):
        h = ctx.start(pool_app(ctx, names=("crash",)), *IN_PROCESS)
        quietly(h.get, f"/api/crash?crash={how}", timeout=10)
        rc = h.crashed()
        assert rc != 0, rc
        assert needle in h.output, (how, h.output[-2000:])


def test_isolated_crash_fails_one_call_names_function_and_signal(ctx):
    h = ctx.start(pool_app(ctx, names=("crash", "fast")))
    for how, needle in (("segv", "signal 11 (SIGSEGV)"), ("abort", "signal 6 (SIGABRT)"),
                        ("exit", "exit status 3")):
        r = h.get(f"/api/crash?crash={how}")
        assert r.status == 500, (how, r)
        out = h.wait_log(needle)
        assert "Function 'crash'" in out or "'Functions.crash'" in out, out[-2000:]
        assert h.get("/api/fast").status == 200  # a fresh child takes the next call
    assert h.proc.poll() is None
