"""End-to-end tests of Node.js apps run by Azure's Node.js worker (workers/node)
over the host's gRPC server: both app models, every trigger kind, HTTP shapes, logs,
failures, timeouts and supervision. The gRPC server's edges are in
tests/unit/test-grpc.c; the apps' node_modules come from `make samples-node`."""
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import threading
import time

from harness import gone_within

WORKERS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "workers")
ENV = {"FNHOST_WORKERS_PATH": WORKERS}


def app_path(ctx, *parts):
    p = ctx.path(*parts)
    assert os.path.isdir(os.path.join(p, "node_modules")) or "node-v3" in p, \
        f"{p}/node_modules is missing; run make samples-node"
    return p


def start_fixture(ctx, env=None, *args):
    e = dict(ENV)
    e.update(env or {})
    return ctx.start(app_path(ctx, "tests", "apps", "node-v4"), *args, env=e, wait=False)


def started(h, timeout=60):
    # the worker's start is part of the host's: generous on a busy machine
    return h.wait_started(timeout)


def test_node_v4_sample_http_and_route_constraints(ctx):
    h = started(ctx.start(app_path(ctx, "samples", "node-v4"), env=ENV, wait=False))
    r = h.get("/api/hello?name=Ann")
    assert (r.status, r.body) == (200, b"Hello, Ann!"), r
    assert r.headers["content-type"].startswith("text/plain")
    r = h.post("/api/hello", body="Bob")
    assert (r.status, r.body) == (200, b"Hello, Bob!"), r
    assert h.request("PUT", "/api/hello").status == 404  # methods from the worker's metadata
    r = h.get("/api/products/books/42")
    assert r.status == 200 and r.json() == {"category": "books", "id": "42"}, r
    assert h.get("/api/products/books").json() == {"category": "books", "id": None}
    assert h.get("/api/products/b00ks/1").status == 404  # {category:alpha}
    assert h.get("/api/products/books/x").status == 404  # {id:int?}
    out = h.output
    for line in ("\thello: [GET,POST] http://localhost:",
                 "\tproduct: [GET] http://localhost:%d/api/products/{category:alpha}/{id:int?}"
                 % h.port,
                 "\tprocessOrder: queueTrigger", "\ttick: timerTrigger"):
        assert line in out, out
    h.wait_log("Executed 'Functions.hello' (Succeeded")  # the output is read by a thread


def test_node_v4_queue_trigger_from_http_queue_output(ctx):
    app = ctx.copy_app(app_path(ctx, "samples", "node-v4"))
    h = started(ctx.start(app, env=ENV, wait=False))
    r = h.post("/api/orders", body='{"id": 7, "item": "tea"}',
               headers={"Content-Type": "application/json"})
    assert r.status == 202 and r.json() == {"queued": {"id": 7, "item": "tea"}}, r
    out = h.wait_log("Executed 'Functions.processOrder' (Succeeded", timeout=30)
    assert 'Processing order {"id":7,"item":"tea"}' in out, out
    assert "Executing 'Functions.processOrder' (Reason='New queue message detected on " \
           "'orders'.'" in out


def test_node_v4_admin_functions_and_timer_invoke(ctx):
    h = started(ctx.start(app_path(ctx, "samples", "node-v4"), env=ENV, wait=False))
    r = h.get("/admin/functions")
    assert r.status == 200, r
    names = sorted(f["name"] for f in r.json())
    assert names == ["hello", "placeOrder", "processOrder", "product", "tick"], names
    r = h.post("/admin/functions/tick", body="{}", headers={"Content-Type": "application/json"})
    assert r.status == 202, r
    out = h.wait_log("Executed 'Functions.tick' (Succeeded", timeout=30)
    assert "Tick; past due: " in out


def test_node_v4_functions_option_selects_indexed_functions(ctx):
    h = started(ctx.start(app_path(ctx, "samples", "node-v4"), "--functions", "hello,tick",
                          env=ENV, wait=False))
    assert h.get("/api/hello").status == 200
    assert h.get("/api/products/books/1").status == 404
    out = h.output
    assert "\thello: [GET,POST]" in out and "\ttick: timerTrigger" in out, out
    assert "\tproduct:" not in out and "processOrder" not in out, out


def test_node_v4_broken_function_is_reported_and_skipped(ctx):
    app = ctx.make_app({
        "package.json": {"main": "src/index.js"},
        "local.settings.json": {"Values": {"FUNCTIONS_WORKER_RUNTIME": "node"}},
        "src/index.js": "const { app } = require('@azure/functions');\n"
                        "app.http('good', { handler: async () => ({ body: 'good' }) });\n"
                        "app.http('bad', { route: 'x/{id:nope}', handler: async () => ({}) });\n"
                        "app.timer('badtimer', { schedule: 'never', handler: async () => {} });\n",
    })
    os.symlink(os.path.join(app_path(ctx, "tests", "apps", "node-v4"), "node_modules"),
               os.path.join(app, "node_modules"))
    h = started(ctx.start(app, env=ENV, wait=False))
    assert h.get("/api/good").body == b"good"
    out = h.output
    assert "The 'bad' function is in error: bad (indexed by the node worker): " \
           "bindings[0].route: unknown route constraint 'nope'" in out, out
    assert "The 'badtimer' function is in error: badtimer (indexed by the node worker): " \
           "bindings[0].schedule: 'never' is not a valid NCRONTAB expression" in out, out


def test_node_routes_match_starts_worker_to_index(ctx):
    p = ctx.run("routes", "--script-root", app_path(ctx, "samples", "node-v4"),
                "--match", "GET", "/api/products/books/3", env=ENV, timeout=90)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout.strip()) == {"function": "product",
                                            "params": {"category": "books", "id": "3"}}
    p = ctx.run("routes", "--script-root", app_path(ctx, "samples", "node-v4"), env=ENV,
                timeout=90)
    assert p.returncode == 0 and "api/products/{category:alpha}/{id:int?}" in p.stdout, p


# ---- the v3 model: function.json folders ----------------------------------------

def test_node_v3_function_json_sample(ctx):
    h = started(ctx.start(ctx.path("samples", "node-v3"), env=ENV, wait=False))
    r = h.get("/api/hello/Ann")
    assert (r.status, r.body) == (200, b"Hello, Ann!"), r
    assert h.get("/api/hello?name=Bo").body == b"Hello, Bo!"
    r = h.post("/api/Echo", body=b'{"a": 1}', headers={"Content-Type": "application/json"})
    assert (r.status, r.body) == (200, b'{"a": 1}'), r
    assert r.headers["content-type"] == "application/json"
    assert "\tHttpHello: [GET,POST] http://localhost:" in h.output


def test_node_v3_timer_fires(ctx):
    app = ctx.make_app({
        "local.settings.json": {"Values": {"FUNCTIONS_WORKER_RUNTIME": "node"}},
        "Every/function.json": {"bindings": [{"type": "timerTrigger", "direction": "in",
                                              "name": "timer", "schedule": "*/1 * * * * *"}]},
        "Every/index.js": "module.exports = async function (context, timer) {\n"
                          "  context.log('timer says past due=' + timer.isPastDue);\n};\n",
    })
    h = started(ctx.start(app, env=ENV, wait=False))
    out = h.wait_log("Executed 'Functions.Every' (Succeeded", timeout=30)
    assert "timer says past due=false" in out, out
    assert "Executing 'Functions.Every' (Reason='Timer fired at " in out


def test_node_v3_blob_trigger_and_blob_output(ctx):
    app = ctx.make_app({
        "local.settings.json": {"Values": {"FUNCTIONS_WORKER_RUNTIME": "node",
                                           "AzureWebJobsStorage": "UseDevelopmentStorage=true"}},
        "Copy/function.json": {"bindings": [
            {"type": "blobTrigger", "direction": "in", "name": "src", "path": "inbox/{name}.txt",
             "connection": "AzureWebJobsStorage"},
            {"type": "blob", "direction": "out", "name": "dst", "path": "outbox/{name}.txt",
             "connection": "AzureWebJobsStorage"}]},
        "Copy/index.js": "module.exports = async function (context, src) {\n"
                         "  context.log(`blob ${context.bindingData.name}: ${src.length} bytes`);\n"
                         "  context.bindings.dst = src.toString().toUpperCase();\n};\n",
    })
    h = started(ctx.start(app, env=ENV, wait=False))
    inbox = os.path.join(app, ".fnhost", "storage", "blobs", "inbox")
    os.makedirs(inbox, exist_ok=True)
    with open(os.path.join(inbox, "note.txt"), "w") as f:
        f.write("hello blob")
    out = h.wait_log("Executed 'Functions.Copy' (Succeeded", timeout=30)
    assert "blob note: 10 bytes" in out, out
    dst = os.path.join(app, ".fnhost", "storage", "blobs", "outbox", "note.txt")
    deadline = time.time() + 10
    while not os.path.exists(dst) and time.time() < deadline:
        time.sleep(0.05)
    with open(dst) as f:
        assert f.read() == "HELLO BLOB"


# ---- HTTP in every shape ---------------------------------------------------------

def test_node_http_bodies_headers_status(ctx):
    h = started(start_fixture(ctx))
    r = h.post("/api/echo", body="plain text", headers={"Content-Type": "text/plain"})
    assert (r.status, r.body, r.headers["content-type"]) == (200, b"plain text", "text/plain")
    doc = {"a": [1, 2, {"b": "\u00fcml\u00e4ut"}]}
    r = h.post("/api/echo", body=json.dumps(doc), headers={"Content-Type": "application/json"})
    assert r.status == 200 and r.json() == doc, r
    binary = bytes(range(256)) * 4
    r = h.request("PUT", "/api/echo?status=201", body=binary,
                  headers={"Content-Type": "application/octet-stream", "X-In": "hdr-value"})
    assert (r.status, r.body) == (201, binary), r
    assert r.headers["x-echo"] == "hdr-value"
    assert h.request("GET", "/api/echo").status == 404
    r = h.request("PUT", "/api/items/12")
    assert r.status == 200 and r.json() == {"method": "PUT", "id": "12"}, r
    assert h.request("DELETE", "/api/items/12").json()["method"] == "DELETE"
    assert h.request("PUT", "/api/items/twelve").status == 404
    r = h.get("/api/setting")
    assert r.json()["greeting"] == "from local.settings.json", r
    assert os.path.realpath(r.json()["cwd"]) == os.path.realpath(h.app)


def test_node_http_20_mib_each_way(ctx):
    h = started(start_fixture(ctx))
    n = 20 << 20
    body = bytes((i * 7) % 256 for i in range(65536)) * (n // 65536)
    r = h.post("/api/echo", body=body, headers={"Content-Type": "application/octet-stream"},
               timeout=120)
    assert r.status == 200 and len(r.body) == n and r.body == body, (r.status, len(r.body))
    r = h.get(f"/api/big?bytes={n}", timeout=120)
    assert r.status == 200 and len(r.body) == n, (r.status, len(r.body))
    assert r.body[:502] == bytes(i % 251 for i in range(502))


# ---- logs ----------------------------------------------------------------------

def test_node_logs_levels_and_filtering(ctx):
    h = started(start_fixture(ctx))
    assert h.get("/api/logs").body == b"logged"
    out = h.wait_log("Executed 'Functions.logs' (Succeeded")
    for m in ("log at information", "log at warning", "log at error"):
        assert m in out, out
    assert "log at debug" not in out and "log at trace" not in out  # default: Information
    # host.json can open the user category to Trace, or close it to Error
    app = ctx.copy_app(ctx.path("tests", "apps", "node-v4"))
    with open(os.path.join(app, "host.json"), "w") as f:
        json.dump({"version": "2.0", "logging": {"logLevel": {
            "Function.logs.User": "Trace", "Function.echo.User": "Error"}}}, f)
    h2 = started(ctx.start(app, env=ENV, wait=False))
    h2.get("/api/logs")
    out = h2.wait_log("Executed 'Functions.logs' (Succeeded")
    for m in ("log at trace", "log at debug", "log at information", "log at error"):
        assert m in out, out


def test_node_worker_output_in_host_log(ctx):
    h = started(start_fixture(ctx))
    assert h.get("/api/console").body == b"ok"
    out = h.wait_log("console says hi")
    # the worker's system lines lose their LanguageWorkerConsoleLog marker
    assert re.search(r"\] Worker [0-9a-f-]{36} connecting on 127\.0\.0\.1:\d+", out), out
    assert "LanguageWorkerConsoleLog" not in out, out


def test_node_thrown_error_is_500_with_message_and_stack(ctx):
    h = started(start_fixture(ctx))
    r = h.get("/api/fail")
    assert r.status == 500, r
    out = h.wait_log("Executed 'Functions.fail' (Failed")
    assert "boom from node" in out, out
    assert re.search(r"at .*index\.js:\d+", out), out  # the stack trace
    assert h.get("/api/pid").status == 200  # the worker goes on


def test_node_function_timeout(ctx):
    h = started(start_fixture(ctx, {"AzureFunctionsJobHost__functionTimeout": "00:00:02"}))
    t0 = time.time()
    r = h.get("/api/slow?ms=8000", timeout=60)
    assert r.status == 500, r
    assert time.time() - t0 < 7.5
    out = h.wait_log("Timeout value of 00:00:02 exceeded by function 'Functions.slow'")
    assert "Initiating cancellation." in out
    assert h.get("/api/slow?ms=10").status == 200


# ---- supervision -----------------------------------------------------------------

def test_node_worker_killed_mid_invocation_then_restarted(ctx):
    h = started(start_fixture(ctx))
    pid = int(h.get("/api/pid").body)
    res = {}
    t = threading.Thread(target=lambda: res.setdefault("r", h.get("/api/slow?ms=20000",
                                                                    timeout=60)))
    t.start()
    h.wait_log("Executing 'Functions.slow'")
    time.sleep(0.3)
    os.kill(pid, signal.SIGKILL)
    t.join(60)
    assert res["r"].status == 500, res
    out = h.wait_log("its language worker node-1 ended with signal 9 (SIGKILL) while running it")
    assert "Function 'slow' (Id=" in out
    deadline, r = time.time() + 60, None
    while time.time() < deadline:
        r = h.get("/api/pid", timeout=30)
        if r.status == 200:
            break
        time.sleep(0.2)
    assert r.status == 200, r
    assert int(r.body) != pid


def test_node_worker_crash_loop_is_reported_and_callers_answered(ctx):
    workers = os.path.join(ctx.tmpdir(), "workers")
    shutil.copytree(WORKERS, workers)
    cfg = os.path.join(workers, "node", "worker.config.json")
    with open(cfg) as f:
        doc = json.load(f)
    doc["processOptions"]["initializationTimeout"] = "00:00:03"
    with open(cfg, "w") as f:
        json.dump(doc, f)
    app = ctx.copy_app(ctx.path("tests", "apps", "node-v4"))
    h = started(ctx.start(app, env={"FNHOST_WORKERS_PATH": workers}, wait=False))
    pid = int(h.get("/api/pid").body)
    open(os.path.join(app, "broken"), "w").close()
    os.kill(pid, signal.SIGKILL)
    h.wait_log(f"(pid {pid}) ended: signal 9 (SIGKILL)")
    t0 = time.time()
    r = h.get("/api/pid", timeout=60)
    assert r.status == 500, r
    assert time.time() - t0 < 30
    out = h.wait_log("no node language worker was ready to run it within 00:00:03 "
                     "(initializationTimeout)")
    # every failed restart is in the log, with its back-off
    pattern = r"Child node-1 \(pid \d+\) ended: exit status 3; restarting it in \d+ ms"
    deadline = time.time() + 60
    while len(re.findall(pattern, h.output)) < 2 and time.time() < deadline:
        time.sleep(0.1)
    assert len(re.findall(pattern, h.output)) >= 2, h.output
    assert "the app is broken: exiting" in out


def test_node_process_count_spreads_invocations(ctx):
    h = started(start_fixture(ctx, {"FUNCTIONS_WORKER_PROCESS_COUNT": "2"}))
    pids = set()
    deadline = time.time() + 60
    while len(pids) < 2 and time.time() < deadline:
        r = h.get("/api/pid")
        assert r.status == 200, r
        pids.add(int(r.body))
    assert len(pids) == 2, pids


def test_node_no_orphan_after_sigterm(ctx):
    h = started(start_fixture(ctx, {"FUNCTIONS_WORKER_PROCESS_COUNT": "2"}))
    pids = set()
    for _ in range(6):
        pids.add(int(h.get("/api/pid").body))
    assert h.stop() == 0
    for pid in pids:
        assert gone_within(pid, 10), f"worker {pid} outlived the host"
        # WorkerTerminate: each exits by itself, not by the SIGTERM that follows
        assert f"(pid {pid}) ended: exit status 0" in h.output, h.output


def fake_worker(ctx, config, script=None):
    d = os.path.join(ctx.tmpdir(), "node")
    os.makedirs(d)
    with open(os.path.join(d, "worker.config.json"), "w") as f:
        json.dump(config, f)
    if script:
        p = os.path.join(d, "worker.sh")
        with open(p, "w") as f:
            f.write(script)
        os.chmod(p, os.stat(p).st_mode | stat.S_IXUSR)
    return os.path.dirname(d)


def test_node_worker_that_never_connects(ctx):
    marker = f"fnhost-never-{os.getpid()}-{time.time_ns()}"
    workers = fake_worker(ctx, {
        "description": {"language": "node", "defaultExecutablePath": "/bin/sh",
                        "defaultWorkerPath": "worker.sh", "workerIndexing": "true"},
        "processOptions": {"initializationTimeout": "00:00:02"}},
        f"#!/bin/sh\nexec sleep 300 # {marker}\n")
    h = ctx.start(ctx.path("samples", "node-v4"), env={"FNHOST_WORKERS_PATH": workers},
                  wait=False)
    rc = h.wait_exit(60)
    assert rc != 0
    out = h.output
    assert "did not connect to the host within its initializationTimeout of 00:00:02" in out, out
    assert os.path.join(os.path.realpath(workers), "node") in out, out
    p = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True)
    assert p.stdout.strip() == "", f"the fake worker survived: {p.stdout}"


def test_node_missing_worker_is_one_sentence(ctx):
    bindir = os.path.join(ctx.tmpdir(), "bin")
    os.makedirs(bindir)
    exe = os.path.join(bindir, "fnhost")
    shutil.copy(ctx.fnhost, exe)  # no workers/ beside this copy
    env = dict(os.environ, FNHOST_WORKERS_PATH="/nonexistent", PATH="/usr/bin:/bin")
    p = subprocess.run([exe, "start", "--script-root", ctx.path("samples", "node-v4"),
                        "--port", "0"], capture_output=True, text=True, timeout=60, env=env)
    assert p.returncode != 0
    out = p.stdout + p.stderr
    assert "FUNCTIONS_WORKER_RUNTIME is 'node' but no node language worker was found" in out, out
    assert "set FNHOST_WORKERS_PATH" in out


def test_node_missing_runtime_is_one_sentence(ctx):
    workers = fake_worker(ctx, {"description": {"language": "node",
                                                "defaultExecutablePath": "no-such-node-xyz",
                                                "defaultWorkerPath": "dist/worker.js"}})
    h = ctx.start(ctx.path("samples", "node-v4"), env={"FNHOST_WORKERS_PATH": workers},
                  wait=False)
    assert h.wait_exit(60) != 0
    assert "runs 'no-such-node-xyz', which is not on PATH; install it" in h.output, h.output


# ---- hot reload -------------------------------------------------------------------

def test_changed_and_removed_settings_reach_the_worker_after_reload(ctx):
    app = os.path.join(ctx.tmpdir(), "app")
    shutil.copytree(app_path(ctx, "tests", "apps", "node-v4"), app, symlinks=True)
    settings = os.path.join(app, "local.settings.json")
    with open(settings) as f:
        doc = json.load(f)
    h = started(ctx.start(app, env=ENV, wait=False))
    assert h.get("/api/setting").json()["greeting"] == "from local.settings.json"
    for value, want in (("changed", "changed"), (None, None)):
        if value is None:
            del doc["Values"]["GREETING"]
        else:
            doc["Values"]["GREETING"] = value
        with open(settings, "w") as f:
            json.dump(doc, f)
        before = h.output.count("Host reloaded (")
        deadline = time.time() + 60
        while h.output.count("Host reloaded (") == before and time.time() < deadline:
            time.sleep(0.05)
        r = h.get("/api/setting")
        assert r.json()["greeting"] == want, (value, r)
    h.stop()


def test_reload_of_a_changed_script_restarts_the_worker(ctx):
    app = os.path.join(ctx.tmpdir(), "app")
    shutil.copytree(app_path(ctx, "samples", "node-v4"), app, symlinks=True)
    h = started(ctx.start(app, env=ENV, wait=False))
    assert h.get("/api/hello?name=Ann").body == b"Hello, Ann!"
    pids = set(re.findall(r"worker process (\d+)|pid (\d+)", h.output))
    src = os.path.join(app, "src", "index.js")
    with open(src) as f:
        text = f.read()
    assert "Hello, ${name}!" in text
    with open(src, "w") as f:
        f.write(text.replace("Hello, ${name}!", "Howdy, ${name}!"))
    h.wait_log("Host reloaded (", timeout=60)
    r = h.get("/api/hello?name=Ann")
    assert (r.status, r.body) == (200, b"Howdy, Ann!"), r
    # a script that no longer loads keeps the last good version serving
    with open(src, "w") as f:
        f.write("this is not javascript (\n")
    h.wait_log("The app was not reloaded", timeout=60)
    assert h.get("/api/hello?name=Ann").body == b"Howdy, Ann!"
    del pids
    h.stop()
