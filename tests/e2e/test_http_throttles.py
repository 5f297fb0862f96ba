"""End-to-end tests of host.json extensions.http throttles and HSTS:
maxConcurrentRequests makes excess requests wait (all succeed, never more
running than allowed), maxOutstandingRequests answers 429 at once beyond
it, hsts adds Strict-Transport-Security, dynamicThrottlesEnabled is
accepted with a warning, and bad values are one sentence each."""
import threading
import time

from harness import http_function


def gauge_app(ctx, http=None, names=("slow",)):
    """HTTP functions running tests/apps/pool/gauge (sleeps ?ms=N, reports
    how many of its invocations ran at once in its process)."""
    files = {}
    for name in names:
        files[f"{name}/function.json"] = http_function(route=name, so="gauge.so", methods=None)
        files[f"{name}/gauge.so"] = ("copy", ctx.so("pool", "gauge"))
    host_json = {"version": "2.0"}
    if http is not None:
        host_json["extensions"] = {"http": http}
    return ctx.make_app(files, host_json)


def concurrently(h, paths, timeout=60):
    """GETs every path at once, each on its own connection; the responses in
    order (an exception instead of a response when one failed)."""
    out = [None] * len(paths)

    def one(i, p):
        try:
            out[i] = h.get(p, timeout=timeout)
        except Exception as e:  # noqa: BLE001
            out[i] = e

    ts = [threading.Thread(target=one, args=(i, p)) for i, p in enumerate(paths)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout + 5)
    return out


def wait_count(h, needle, n, timeout=30):
    """Waits (bounded) until the host's log holds needle n times."""
    deadline = time.time() + timeout
    while h.output.count(needle) < n and time.time() < deadline:
        time.sleep(0.02)
    assert h.output.count(needle) == n, h.output[-3000:]


IN_PROCESS = ("--in-process",)  # one process: the gauge sees every invocation


def test_max_concurrent_requests_queues_and_bounds_concurrency(ctx):
    # without a limit, 8 slow requests at once run side by side (the worker
    # pool has at least 4 threads), so the bound below is the throttle's
    h = ctx.start(gauge_app(ctx), *IN_PROCESS)
    rs = concurrently(h, ["/api/slow?ms=400"] * 8)
    assert all(getattr(r, "status", None) == 200 for r in rs), rs
    assert max(r.json()["peak"] for r in rs) >= 3, [r.body for r in rs]
    h.stop()

    h = ctx.start(gauge_app(ctx, {"maxConcurrentRequests": 2}), *IN_PROCESS)
    rs = concurrently(h, ["/api/slow?ms=300"] * 8)
    # every request waited its turn and succeeded; never more than 2 ran
    assert [getattr(r, "status", r) for r in rs] == [200] * 8, rs
    assert max(r.json()["peak"] for r in rs) == 2, [r.body for r in rs]
    wait_count(h, "Executed 'Functions.slow' (Succeeded", 8)


def overlap(log, name):
    """The most invocations of function name the log shows running at once
    (between their Executing and Executed lines)."""
    now = peak = 0
    for line in log.splitlines():
        if f"Executing 'Functions.{name}'" in line:
            now += 1
            peak = max(peak, now)
        elif f"Executed 'Functions.{name}'" in line:
            now -= 1
    return peak


def test_max_concurrent_one_runs_requests_one_at_a_time_in_isolated_children(ctx):
    # the default runner (child processes): without a limit they overlap ...
    h = ctx.start(gauge_app(ctx))
    rs = concurrently(h, ["/api/slow?ms=400"] * 5)
    assert [getattr(r, "status", r) for r in rs] == [200] * 5, rs
    wait_count(h, "Executed 'Functions.slow' (Succeeded", 5)
    assert overlap(h.output, "slow") >= 2, h.output
    h.stop()
    # ... and with maxConcurrentRequests 1 each starts after the last ended
    h = ctx.start(gauge_app(ctx, {"maxConcurrentRequests": 1}))
    rs = concurrently(h, ["/api/slow?ms=200"] * 5)
    assert [getattr(r, "status", r) for r in rs] == [200] * 5, rs
    wait_count(h, "Executed 'Functions.slow' (Succeeded", 5)
    assert overlap(h.output, "slow") == 1, h.output


def test_max_outstanding_requests_answers_429_at_once(ctx):
    h = ctx.start(gauge_app(ctx, {"maxOutstandingRequests": 2,
                                  "customHeaders": {"X-Frame-Options": "DENY"}}), *IN_PROCESS)
    slow = []
    for _ in range(2):
        t = threading.Thread(target=lambda: slow.append(h.get("/api/slow?ms=3000", timeout=60)))
        t.start()
        slow.append(t)
    wait_count(h, "Executing 'Functions.slow'", 2)
    # two outstanding: the third is refused at once, with Azure's empty 429
    r = h.get("/api/slow?ms=1")
    assert r.status == 429, r
    assert r.body == b""
    assert r.headers["x-frame-options"] == "DENY"  # the host's headers still apply
    for t in [x for x in slow if isinstance(x, threading.Thread)]:
        t.join(60)
    done = [x for x in slow if not isinstance(x, threading.Thread)]
    assert [r.status for r in done] == [200, 200], done
    # the slots are free again
    assert h.get("/api/slow?ms=1").status == 200
    wait_count(h, "Executing 'Functions.slow'", 3)
    # other routes are not throttled
    assert h.get("/").status == 200


def test_waiting_requests_count_as_outstanding(ctx):
    h = ctx.start(gauge_app(ctx, {"maxConcurrentRequests": 1, "maxOutstandingRequests": 3}),
                  *IN_PROCESS)
    rs = concurrently(h, ["/api/slow?ms=2500"] * 6)
    statuses = sorted(getattr(r, "status", 0) for r in rs)
    # one runs, two wait, the rest are refused; nothing else happens
    assert statuses == [200, 200, 200, 429, 429, 429], rs
    assert max(r.json()["peak"] for r in rs if r.status == 200) == 1


def test_hsts_header(ctx):
    h = ctx.start(gauge_app(ctx, {"hsts": {"isEnabled": True, "maxAge": "365",
                                           "includeSubDomains": True, "preload": True}}))
    want = "max-age=31536000; includeSubDomains; preload"
    assert h.get("/api/slow").headers.get("strict-transport-security") == want
    assert h.get("/api/nothing-here").headers.get("strict-transport-security") == want
    h.stop()
    # ASP.NET Core's default max-age is 30 days; a TimeSpan gives seconds
    h = ctx.start(gauge_app(ctx, {"hsts": {"isEnabled": True}}))
    assert h.get("/api/slow").headers.get("strict-transport-security") == "max-age=2592000"
    h.stop()
    h = ctx.start(gauge_app(ctx, {"hsts": {"isEnabled": True, "maxAge": "00:01:30",
                                           "excludedHosts": ["example.test"]}}))
    assert h.get("/api/slow").headers.get("strict-transport-security") == "max-age=90"
    r = h.get("/api/slow", headers={"Host": "Example.test:7071"})
    assert "strict-transport-security" not in r.headers
    h.stop()
    # not enabled: no header
    for hsts in ({"isEnabled": False, "maxAge": "10"}, None):
        h = ctx.start(gauge_app(ctx, {"hsts": hsts} if hsts else None))
        assert "strict-transport-security" not in h.get("/api/slow").headers
        h.stop()


def test_dynamic_throttles_are_accepted_with_a_warning(ctx):
    h = ctx.start(gauge_app(ctx, {"dynamicThrottlesEnabled": True}))
    assert h.get("/api/slow").status == 200
    assert "extensions.http.dynamicThrottlesEnabled: Azure answers 429 when its sandbox's " \
           "health counters" in h.output
    assert "the setting has no effect here" in h.output


BAD = [
    ({"maxConcurrentRequests": 0}, "host.json: extensions.http.maxConcurrentRequests: 0 is not "
                                   "a request count; write a whole number from 1 to 2147483647, "
                                   "or -1 for no limit (the default)"),
    ({"maxOutstandingRequests": "lots"}, "host.json: extensions.http.maxOutstandingRequests: "
                                         "\"lots\" is not a request count"),
    ({"maxConcurrentRequests": 2.5}, "extensions.http.maxConcurrentRequests: 2.5 is not a "
                                     "request count"),
    ({"dynamicThrottlesEnabled": "yes"}, "host.json: extensions.http.dynamicThrottlesEnabled: "
                                         "\"yes\" is not a boolean; write true or false"),
    ({"hsts": True}, "host.json: extensions.http.hsts: must be an object like "
                     "{\"isEnabled\": true, \"maxAge\": \"365\"}, not a boolean"),
    ({"hsts": {"isEnabled": 1}}, "host.json: extensions.http.hsts.isEnabled: 1 is not a boolean"),
    ({"hsts": {"isEnabled": True, "maxAge": "soon"}},
     "host.json: extensions.http.hsts.maxAge: \"soon\" is not a TimeSpan of zero or more"),
    ({"hsts": {"excludedHosts": "localhost"}},
     "host.json: extensions.http.hsts.excludedHosts: must be an array of host names"),
]


def test_bad_throttle_settings_are_one_sentence_each(ctx):
    for http, sentence in BAD:
        app = gauge_app(ctx, http)
        p = ctx.run("routes", "--script-root", app)
        assert p.returncode == 1, (http, p.stdout, p.stderr)
        assert sentence in p.stderr, (http, p.stderr)
    # -1 everywhere is the default, accepted (also as strings, as environment
    # overrides give them)
    app = gauge_app(ctx, {"maxConcurrentRequests": -1, "maxOutstandingRequests": "-1"})
    p = ctx.run("routes", "--script-root", app)
    assert p.returncode == 0, p.stderr
    env = {"AzureFunctionsJobHost__extensions__http__maxOutstandingRequests": "1"}
    h = ctx.start(app, *IN_PROCESS, env=env)
    t = threading.Thread(target=lambda: h.get("/api/slow?ms=2000", timeout=60))
    t.start()
    wait_count(h, "Executing 'Functions.slow'", 1)
    assert h.get("/api/slow").status == 429
    t.join(60)
