"""End-to-end tests of hot reload: rebuilt .so files under load, in-flight and
waiting invocations on their own version, broken changes refused, functions
added and deleted, host.json and local.settings.json, timers across reloads,
extensions unloaded, --no-watch, fileWatchingEnabled, app_offline.htm, the
debounce, SIGHUP; isolated (the default) and --in-process."""
import json
import os
import re
import shutil
import signal
import threading
import time

from harness import http_function

RELOADED = "Host reloaded ("
REFUSED = "The app was not reloaded"


def v_app(ctx, values=None, host_json=None, extra=None):
    files = {"hello/function.json": http_function(so="fn.so"),
             "hello/fn.so": ("copy", ctx.so("reload", "v1"))}
    if values is not None:
        files["local.settings.json"] = {"Values": values}
    files.update(extra or {})
    return ctx.make_app(files, host_json)


def write(path, content):
    with open(path, "w") as f:
        f.write(content if isinstance(content, str) else json.dumps(content))


def rebuild_in_place(ctx, app, version="v2", fn="hello"):
    # as a linker does: the same inode truncated and rewritten
    shutil.copyfile(ctx.so("reload", version), os.path.join(app, fn, "fn.so"))


def wait_count(h, needle, n, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if h.output.count(needle) >= n:
            return h.output
        time.sleep(0.02)
    raise AssertionError(f"log never had {n} x {needle!r}:\n{h.output[-3000:]}")


def load_generator(h, results, stop, limit=4000):
    """Sequential GETs until stop is set (or limit requests)."""
    for _ in range(limit):
        if stop.is_set():
            return
        try:
            r = h.get("/api/hello")
            results.append((r.status, r.body))
        except Exception as e:  # noqa: BLE001 - a failed request is a result
            results.append((0, repr(e).encode()))


def rebuilt_so_under_load(ctx, *args):
    app = v_app(ctx)
    h = ctx.start(app, *args)
    assert h.get("/api/hello").body == b"v1"
    results, stop = [], threading.Event()
    gens = [threading.Thread(target=load_generator, args=(h, results, stop)) for _ in range(2)]
    for g in gens:
        g.start()
    try:
        time.sleep(0.3)
        rebuild_in_place(ctx, app)
        h.wait_log(RELOADED)
        deadline = time.time() + 15
        while time.time() < deadline and results[-1:] != [(200, b"v2")]:
            time.sleep(0.05)
        time.sleep(0.2)
    finally:
        stop.set()
        for g in gens:
            g.join(30)
    bad = [r for r in results if r[0] != 200 or r[1] not in (b"v1", b"v2")]
    assert not bad, bad[:5]
    assert (200, b"v1") in results and (200, b"v2") in results, len(results)
    assert h.get("/api/hello").body == b"v2"
    out = h.output
    assert re.search(r"File change of type '\w+' detected for '[^']*/hello/fn\.so'", out), out
    assert "Host configuration has changed. Signaling restart" in out
    assert re.search(r"Host reloaded \(\d+ms\): functions changed: hello", out), out
    h.stop()


def test_rebuilt_so_under_load_isolated(ctx):
    rebuilt_so_under_load(ctx)


def test_rebuilt_so_under_load_in_process(ctx):
    rebuilt_so_under_load(ctx, "--in-process")


def in_flight_finishes_on_old_code(ctx, *args):
    app = v_app(ctx)
    h = ctx.start(app, *args)
    slow = {}
    t = threading.Thread(target=lambda: slow.update(r=h.get("/api/hello?sleep_ms=4000")))
    t.start()
    h.wait_log("Executing 'Functions.hello'")
    rebuild_in_place(ctx, app)
    h.wait_log(RELOADED)
    assert h.get("/api/hello").body == b"v2"  # new requests: new code
    t.join(30)
    assert slow["r"].status == 200 and slow["r"].body == b"v1"  # in flight: old code
    h.stop()


def test_in_flight_finishes_on_old_code_isolated(ctx):
    in_flight_finishes_on_old_code(ctx)


def test_in_flight_finishes_on_old_code_in_process(ctx):
    in_flight_finishes_on_old_code(ctx, "--in-process")


def test_broken_function_json_keeps_last_good(ctx):
    app = v_app(ctx)
    h = ctx.start(app)
    fj = os.path.join(app, "hello", "function.json")
    write(fj, '{"bindings": [')
    out = h.wait_log(REFUSED)
    assert "The 'hello' function is in error: hello/function.json: " in out, out
    assert h.get("/api/hello").body == b"v1"  # the old snapshot serves on
    assert RELOADED not in out
    write(fj, http_function(so="fn.so", route="fixed"))
    h.wait_log(RELOADED)
    assert h.get("/api/fixed").body == b"v1"
    assert h.get("/api/hello").status == 404
    h.stop()


def test_broken_host_json_keeps_last_good(ctx):
    app = v_app(ctx)
    h = ctx.start(app)
    write(os.path.join(app, "host.json"), {"version": "2.0", "functionTimeout": "soon"})
    out = h.wait_log(REFUSED)
    assert "host.json: functionTimeout: " in out, out
    assert h.get("/api/hello").body == b"v1"
    h.stop()


def test_function_folder_added_and_deleted(ctx):
    app = v_app(ctx)
    h = ctx.start(app)
    assert h.get("/api/other").status == 404
    os.makedirs(os.path.join(app, "other"))
    shutil.copy(ctx.so("reload", "v2"), os.path.join(app, "other", "fn.so"))
    write(os.path.join(app, "other", "function.json"), http_function(so="fn.so"))
    out = h.wait_log(RELOADED)
    assert re.search(r"Host reloaded \(\d+ms\): functions added: other", out), out
    assert h.get("/api/other").body == b"v2"
    assert h.get("/api/hello").body == b"v1"
    shutil.rmtree(os.path.join(app, "other"))
    out = wait_count(h, RELOADED, 2)
    assert "functions removed: other" in out, out
    assert h.get("/api/other").status == 404
    assert h.get("/api/hello").body == b"v1"
    funcs = [f["name"] for f in h.get("/admin/functions").json()]
    assert funcs == ["hello"], funcs
    h.stop()


def test_host_json_route_prefix(ctx):
    app = v_app(ctx)
    h = ctx.start(app)
    write(os.path.join(app, "host.json"),
          {"version": "2.0", "extensions": {"http": {"routePrefix": "v"}}})
    out = h.wait_log(RELOADED)
    assert "host.json changed" in out, out
    assert h.get("/v/hello").body == b"v1"
    assert h.get("/api/hello").status == 404
    h.stop()


def test_host_json_port_needs_restart(ctx):
    app = v_app(ctx, values={})
    h = ctx.start(app)
    write(os.path.join(app, "local.settings.json"),
          {"Values": {}, "Host": {"LocalHttpPort": 7999}})
    out = h.wait_log(RELOADED)
    assert f"the host keeps listening on port {h.port} until it is restarted" in out, out
    assert h.get("/api/hello").body == b"v1"
    h.stop()


def local_settings_value(ctx, *args):
    files = {"echo/function.json": http_function(so="echo.so"),
             "echo/echo.so": ("copy", ctx.so("native", "echo")),
             "local.settings.json": {"Values": {"GREETING": "one"}}}
    app = ctx.make_app(files)
    h = ctx.start(app, *args)
    assert h.get("/api/echo?setting=GREETING").body == b"one"
    write(os.path.join(app, "local.settings.json"), {"Values": {"GREETING": "two"}})
    out = h.wait_log(RELOADED)
    assert "local.settings.json changed" in out, out
    assert h.get("/api/echo?setting=GREETING").body == b"two"
    h.stop()


def test_local_settings_value_isolated(ctx):
    local_settings_value(ctx)


def test_local_settings_value_in_process(ctx):
    local_settings_value(ctx, "--in-process")


def test_real_environment_still_wins_after_reload(ctx):
    files = {"echo/function.json": http_function(so="echo.so"),
             "echo/echo.so": ("copy", ctx.so("native", "echo")),
             "local.settings.json": {"Values": {"GREETING": "one"}}}
    app = ctx.make_app(files)
    h = ctx.start(app, env={"GREETING": "from-env"})
    write(os.path.join(app, "local.settings.json"), {"Values": {"GREETING": "two"}})
    h.wait_log(RELOADED)
    assert h.get("/api/echo?setting=GREETING").body == b"from-env"
    h.stop()


def tick(schedule, **more):
    """function.json of the ticker fixture on schedule."""
    return {"bindings": [{"type": "timerTrigger", "direction": "in", "name": "myTimer",
                          "schedule": schedule, **more}], "scriptFile": "ticker.so"}


def tick_app(ctx, fj, **kw):
    """v_app with a "tick" timer function of function.json fj."""
    extra = {"tick/function.json": fj, "tick/ticker.so": ("copy", ctx.so("native", "ticker"))}
    return v_app(ctx, extra=extra, **kw)


def test_timer_keeps_state_across_unrelated_change(ctx):
    app = tick_app(ctx, tick("*/1 * * * * *", runOnStartup=True))
    h = ctx.start(app, "--verbose")
    wait_count(h, "Executed 'Functions.tick' (Succeeded", 2)
    write(os.path.join(app, "hello", "function.json"), http_function(so="fn.so", route="moved"))
    h.wait_log(RELOADED)
    before = h.output.count("Executed 'Functions.tick' (Succeeded")
    wait_count(h, "Executed 'Functions.tick' (Succeeded", before + 2)
    out = h.output
    assert "Function 'Functions.tick' keeps its schedule across the reload" in out, out
    # a fresh start of the timer would run it on startup again
    assert out.count("UnscheduledInvocationReason: RunOnStartup") == 1, out
    # never two runs for one occurrence
    fired = re.findall(r"Reason='Timer fired at (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)", out)
    assert len(fired) == len(set(fired)), fired
    assert h.get("/api/moved").body == b"v1"
    h.stop()


def test_changed_schedule_restarts_the_timer(ctx):
    app = tick_app(ctx, tick("0 0 0 1 1 *"))
    h = ctx.start(app, "--verbose")
    write(os.path.join(app, "tick", "function.json"), tick("*/1 * * * * *"))
    out = h.wait_log(RELOADED)
    assert "functions changed: tick" in out, out
    h.wait_log("Executed 'Functions.tick' (Succeeded")
    assert "keeps its schedule across the reload" not in h.output
    h.stop()


def test_unused_extension_unloaded(ctx):
    qrec = {"bindings": [{"type": "queueTrigger", "direction": "in", "name": "msg",
                          "queueName": "items"}], "scriptFile": "qrec.so"}
    app = v_app(ctx, values={"AzureWebJobsStorage": "UseDevelopmentStorage=true"},
                extra={"rec/function.json": qrec,
                       "rec/qrec.so": ("copy", ctx.so("queue", "qrec"))})
    h = ctx.start(app)
    assert "Loaded extension 'queue'" in h.output
    shutil.rmtree(os.path.join(app, "rec"))
    h.wait_log(RELOADED)
    out = h.wait_log("Unloaded extension 'queue': no function uses it any more")
    assert re.search(r"Host reloaded \(\d+ms\): functions removed: rec\n(.*\n)*.*Unloaded "
                     r"extension 'queue'", out), out
    assert h.get("/api/hello").body == b"v1"
    h.stop()


def no_reload(ctx, app, h):
    rebuild_in_place(ctx, app)
    write(os.path.join(app, "hello", "function.json"), http_function(so="fn.so", route="x"))
    time.sleep(1.5)  # three debounce periods
    assert "File change of type" not in h.output
    assert RELOADED not in h.output
    assert h.get("/api/hello").body == b"v1"


def test_no_watch_flag(ctx):
    app = v_app(ctx)
    h = ctx.start(app, "--no-watch")
    no_reload(ctx, app, h)
    h.stop()


def test_file_watching_disabled_in_host_json(ctx):
    app = v_app(ctx, host_json={"version": "2.0", "fileWatchingEnabled": False})
    h = ctx.start(app)
    assert "not a property" not in h.output and "fileWatchingEnabled" not in h.output.replace(
        "host.json fileWatchingEnabled: false", "")
    no_reload(ctx, app, h)
    h.stop()


def test_app_offline_on_and_off(ctx):
    app = v_app(ctx)
    h = ctx.start(app)
    page = "<html><body>Down for maintenance</body></html>"
    write(os.path.join(app, "app_offline.htm"), page)
    h.wait_log("app_offline.htm detected; the host is offline")
    r = h.get("/api/hello")
    assert r.status == 503 and r.body == page.encode(), r
    assert r.headers["content-type"].startswith("text/html"), r.headers
    assert h.get("/").status == 503
    assert h.get("/admin/host/status").json()["state"] == "Offline"
    os.remove(os.path.join(app, "app_offline.htm"))
    h.wait_log("app_offline.htm removed; the host is back online")
    h.wait_log(RELOADED)
    assert h.get("/api/hello").body == b"v1"
    assert h.get("/admin/host/status").json()["state"] == "Running"
    h.stop()


def test_app_offline_at_start(ctx):
    app = v_app(ctx, extra={"app_offline.htm": "offline"})
    h = ctx.start(app)
    r = h.get("/api/hello")
    assert r.status == 503 and r.body == b"offline", r
    h.stop()


def test_burst_of_writes_is_one_reload(ctx):
    app = v_app(ctx)
    h = ctx.start(app)
    fj = os.path.join(app, "hello", "function.json")
    for i in range(5):
        write(fj, http_function(so="fn.so", route=f"r{i}"))
        time.sleep(0.005)
    h.wait_log(RELOADED)
    time.sleep(1.2)  # more than twice the debounce: any second reload has happened
    out = h.output
    assert out.count(RELOADED) == 1, out
    assert out.count("Host configuration has changed. Signaling restart") == 1, out
    # one "File change" line per path and burst
    assert len(re.findall(r"File change of type '\w+' detected for '[^']*function\.json'",
                          out)) == 1, out
    assert h.get("/api/r4").body == b"v1"
    h.stop()


def test_irrelevant_files_do_not_reload(ctx):
    app = v_app(ctx)
    h = ctx.start(app)
    write(os.path.join(app, "hello", "notes.txt"), "x")
    write(os.path.join(app, "README.md"), "x")
    os.makedirs(os.path.join(app, ".fnhost", "x"), exist_ok=True)
    write(os.path.join(app, ".fnhost", "x", "host.json"), "{}")
    time.sleep(1.2)
    assert "File change of type" not in h.output
    assert RELOADED not in h.output
    h.stop()


def test_watch_directories(ctx):
    app = v_app(ctx, host_json={"version": "2.0", "watchDirectories": ["shared"]},
                extra={"shared/data.txt": "a"})
    h = ctx.start(app)
    write(os.path.join(app, "shared", "data.txt"), "b")
    out = h.wait_log(RELOADED)
    assert re.search(r"File change of type 'Changed' detected for '[^']*/shared/data\.txt'",
                     out), out
    assert "no function changed" in out
    h.stop()


def test_timer_run_in_progress_across_reloads(ctx):
    app = tick_app(ctx, tick("*/1 * * * * *"), values={"TICKER_SLEEP_MS": "1200"})
    h = ctx.start(app, "--verbose")
    h.wait_log("Executing 'Functions.tick'")
    # reload (more than once) while a run goes: the newest snapshot's timer
    # gets its completion
    for i in range(4):
        write(os.path.join(app, "hello", "function.json"),
              http_function(so="fn.so", route=f"r{i}"))
        wait_count(h, RELOADED, i + 1)
        if i >= 1 and "(a run is in progress)" in h.output:
            break
    assert "(a run is in progress)" in h.output, h.output
    done = h.output.count("TickerDone")
    wait_count(h, "TickerDone", done + 2, timeout=20)
    events = re.findall(r"(Executing|Executed) 'Functions.tick'", h.output)
    # runs never overlap: Executing and Executed alternate
    assert all(events[i] != events[i + 1] for i in range(len(events) - 1)), events
    fired = re.findall(r"Reason='Timer fired at (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)", h.output)
    assert len(fired) == len(set(fired)), fired
    h.stop()


def test_sighup_reloads_without_watching(ctx):
    app = v_app(ctx)
    h = ctx.start(app, "--no-watch")
    rebuild_in_place(ctx, app)
    time.sleep(0.7)
    assert h.get("/api/hello").body == b"v1"
    h.proc.send_signal(signal.SIGHUP)
    out = h.wait_log(RELOADED)
    assert "Host restart requested. Signaling restart" in out, out
    assert h.get("/api/hello").body == b"v2"
    h.stop()


def test_admin_restart_reloads_without_watching(ctx):
    app = v_app(ctx)
    h = ctx.start(app, "--no-watch")
    rebuild_in_place(ctx, app)
    time.sleep(0.7)
    assert h.get("/api/hello").body == b"v1"
    r = h.post("/admin/host/restart")
    assert r.status == 200 and r.json()["scriptPath"], r.body
    h.wait_log(RELOADED)
    assert h.get("/api/hello").body == b"v2"
    h.stop()


def test_first_setting_added_reaches_isolated_children(ctx):
    files = {"echo/function.json": http_function(so="echo.so"),
             "echo/echo.so": ("copy", ctx.so("native", "echo"))}
    app = ctx.make_app(files)
    h = ctx.start(app)
    assert h.get("/api/echo?setting=GREETING").body == b"(unset)"
    write(os.path.join(app, "local.settings.json"), {"Values": {"GREETING": "hi"}})
    h.wait_log(RELOADED)
    assert h.get("/api/echo?setting=GREETING").body == b"hi"
    h.stop()


def removed_setting_is_gone(ctx, *args):
    files = {"echo/function.json": http_function(so="echo.so"),
             "echo/echo.so": ("copy", ctx.so("native", "echo")),
             "local.settings.json": {"Values": {"GREETING": "hi", "KEEP": "k"}}}
    app = ctx.make_app(files)
    h = ctx.start(app, *args)
    assert h.get("/api/echo?setting=GREETING").body == b"hi"
    write(os.path.join(app, "local.settings.json"), {"Values": {"KEEP": "k"}})
    h.wait_log(RELOADED)
    assert h.get("/api/echo?setting=GREETING").body == b"(unset)", args
    assert h.get("/api/echo?setting=KEEP").body == b"k"
    h.stop()


def test_removed_setting_is_gone_from_isolated_children(ctx):
    removed_setting_is_gone(ctx)


def test_removed_setting_is_gone_in_process(ctx):
    removed_setting_is_gone(ctx, "--in-process")


def test_shadow_copies_of_old_builds_are_deleted(ctx):
    tmp = ctx.tmpdir()
    app = v_app(ctx)
    h = ctx.start(app, env={"TMPDIR": tmp})
    shadows = [d for d in os.listdir(tmp) if d.startswith(f"fnhost-shadow-{h.proc.pid}-")]
    assert len(shadows) == 1, os.listdir(tmp)
    folder = os.path.join(tmp, shadows[0])
    assert [f for f in os.listdir(folder) if f.endswith("-fn.so")], os.listdir(folder)
    for i, version in enumerate(["v2", "v1", "v2"]):
        rebuild_in_place(ctx, app, version)
        wait_count(h, RELOADED, i + 1)
        assert h.get("/api/hello").body == version.encode()
    builds = [f for f in os.listdir(folder) if f != ".lock"]
    assert len(builds) == 1, os.listdir(folder)  # only the build in use
    h.stop()
    assert not os.path.exists(folder)  # removed at exit


def shadow_of(tmp, pid):
    found = [d for d in os.listdir(tmp) if d.startswith(f"fnhost-shadow-{pid}-")]
    assert len(found) == 1, os.listdir(tmp)
    return os.path.join(tmp, found[0])


def test_shadow_folders_of_dead_hosts_go_and_of_live_ones_stay(ctx):
    """A host starting removes the shadow folders of hosts that died, judged
    by a lock the kernel drops with the process: a live host in another pid
    namespace (whose pid means nothing there) keeps its copies."""
    tmp = ctx.tmpdir()
    env = {"TMPDIR": tmp}
    live = ctx.start(v_app(ctx), env=env)
    dead = ctx.start(v_app(ctx), env=env)
    live_dir, dead_dir = shadow_of(tmp, live.proc.pid), shadow_of(tmp, dead.proc.pid)
    dead.stop(signal.SIGKILL, check=False)
    old = time.time() - 60  # not one being set up this moment
    for d in (live_dir, dead_dir):
        os.utime(os.path.join(d, ".lock"), (old, old))
    other = ctx.start_wrapped(v_app(ctx), ["unshare", "--pid", "--fork", "--mount-proc",
                                           "--kill-child=SIGKILL"], env=env)
    assert not os.path.exists(dead_dir), os.listdir(tmp)
    assert os.path.isdir(live_dir) and [f for f in os.listdir(live_dir) if f.endswith(".so")]
    assert live.get("/api/hello").body == b"v1"
    other.stop(signal.SIGKILL, check=False)  # unshare passes no SIGTERM on; this ends it all
    live.stop()


def test_waiting_invocations_run_their_own_version(ctx):
    # every isolated child busy: invocations of the old and the new version
    # wait side by side, and each runs the code of the version it started on
    slots = max(4, os.cpu_count() or 1)
    app = v_app(ctx)
    h = ctx.start(app)
    answers = {}

    def call(key, query):
        answers[key] = h.get("/api/hello" + query)

    def fire(keys, query):
        ts = [threading.Thread(target=call, args=(k, query)) for k in keys]
        for t in ts:
            t.start()
        return ts

    threads = fire([f"slow{i}" for i in range(slots)], "?sleep_ms=3000")
    wait_count(h, "Executing 'Functions.hello'", slots)
    threads += fire([f"old{i}" for i in range(slots)], "?sleep_ms=1")
    wait_count(h, "Executing 'Functions.hello'", 2 * slots)
    rebuild_in_place(ctx, app)
    h.wait_log(RELOADED)
    threads += fire([f"new{i}" for i in range(slots)], "?sleep_ms=1")
    for t in threads:
        t.join(60)
    got = {k: (r.status, r.body) for k, r in answers.items()}
    assert len(got) == 3 * slots, got
    for k, v in got.items():
        want = b"v2" if k.startswith("new") else b"v1"
        assert v == (200, want), (k, got)
    h.stop()


def test_language_worker_scripts_reload(ctx):
    app = v_app(ctx)
    h = ctx.start(app)
    write(os.path.join(app, "hello", "index.js"), "module.exports = async () => 1;\n")
    out = h.wait_log(RELOADED)
    assert re.search(r"File change of type '\w+' detected for '[^']*/hello/index\.js'", out), out
    assert "no function changed" in out
    h.stop()


def test_isolated_children_replaced_for_changed_code(ctx):
    app = v_app(ctx)
    h = ctx.start(app, "--verbose")
    assert h.get("/api/hello").body == b"v1"
    pids = set(re.findall(r"Child native-\d+ started \(pid (\d+)\)", h.output))
    assert pids, h.output
    rebuild_in_place(ctx, app)
    h.wait_log(RELOADED)
    assert h.get("/api/hello").body == b"v2"
    # the host's output is read by a thread and can lag the HTTP answer
    started = r"Child native-\d+ started \(pid (\d+)\)"
    deadline = time.time() + 10
    while not set(re.findall(started, h.output)) - pids and time.time() < deadline:
        time.sleep(0.02)
    out = h.output
    after = set(re.findall(started, out)) - pids
    assert after, out  # the new code runs in a fresh process
    ended = set(re.findall(r"Child native-\d+ \(pid (\d+)\) ended", out))
    assert pids <= ended, (pids, ended, out[-3000:])  # the old ones stopped
    assert "The app was not reloaded" not in out and "crashed" not in out
    h.stop()


def test_rebuilt_extension_loads_its_new_build(ctx):
    # a binding extension outside the app, rebuilt in place: its folder is
    # watched, the reload loads the new build beside the old one, and the
    # old build is finalised and unloaded once no snapshot binds it
    ext_dir = ctx.tmpdir()
    so = os.path.join(ext_dir, "tick.so")
    builds = {v: os.path.join(ctx.build, "tests", "ext", f"ticktrig{v}.so") for v in ("", "-v2")}
    shutil.copyfile(builds[""], so)
    write(os.path.join(ext_dir, "extensions.json"),
          {"extensions": [{"name": "tick", "file": so,
                           "types": ["tickTrigger", "constant", "memo"]}]})
    ticker = {"bindings": [{"type": "tickTrigger", "direction": "in", "name": "tick", "count": 1},
                           {"type": "memo", "direction": "out", "name": "memo", "label": "{n}"}],
              "scriptFile": "tickfn.so"}
    app = v_app(ctx, extra={"ticker/function.json": ticker,
                            "ticker/tickfn.so": ("copy", ctx.so("ext", "tickfn"))})
    h = ctx.start(app, env={"FNHOST_EXTENSIONS_PATH": ext_dir})

    def loaded():
        return [(e["name"], e["version"]) for e in h.get("/admin/host/status").json()["extensions"]]

    h.wait_log("complete token=1 ")
    assert loaded() == [("tick", "1.2.3")]
    shutil.copyfile(builds["-v2"], so)  # as a linker does: the same inode rewritten
    out = h.wait_log("Unloaded the previous build of extension 'tick'")
    assert f"Extension 'tick' was rebuilt ({so}); loading the new build" in out, out
    assert out.index("Extension 'tick' was rebuilt") < out.index(RELOADED), out
    assert loaded() == [("tick", "2.0.0")]
    assert wait_count(h, "complete token=1 status=0", 2)  # the new build's trigger fired
    assert out.count("lifecycle: init") == 2 and out.count("lifecycle: fini") == 1, out
    assert h.get("/api/hello").body == b"v1"
    # a rebuild that does not load: the functions using it are in error, the
    # reload is refused and the loaded build goes on
    with open(so, "w") as f:
        f.write("not an ELF file")
    out = h.wait_log(REFUSED)
    assert "cannot load" in out[out.index("Extension 'tick' was rebuilt", out.index(RELOADED)):]
    assert loaded() == [("tick", "2.0.0")]
    h.stop()
    assert h.output.count("lifecycle: fini") == 2
