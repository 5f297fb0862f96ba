"""End-to-end tests of the Core Tools flags and behaviours of fnhost start:
--cors/--cors-credentials over Host.CORS, --address, --functions a b,
--enable-json-output, --user-log-level, --timeout, the version banner,
"No job functions found.", one warning per unimplemented setting,
identity-based connections, the message for a binding type no extension
provides, and fnhost help extensions."""
import json
import os
import time

from harness import http_function

HELLO_SO = ("samples", "hello", "hello", "hello.so")


def hello_app(ctx, names=("hello",), settings=None, host_json=None, extra=None):
    files = {}
    for n in names:
        files[f"{n}/function.json"] = http_function(so="hello.so")
        files[f"{n}/hello.so"] = ("copy", ctx.path(*HELLO_SO))
    if settings is not None:
        files["local.settings.json"] = settings
    files.update(extra or {})
    return ctx.make_app(files, host_json)


def cors_headers(r):
    return {k: v for k, v in r.headers.items() if k.startswith("access-control-")}


def test_cors_flag_overrides_host_cors(ctx):
    app = hello_app(ctx, settings={"Values": {}, "Host": {"CORS": "http://a.example"}})
    h = ctx.start(app, "--cors", "http://b.example,http://c.example")
    r = h.get("/api/hello", headers={"Origin": "http://b.example"})
    assert r.status == 200
    assert cors_headers(r) == {"access-control-allow-origin": "http://b.example"}
    # the origin of local.settings.json is replaced, not added to
    r = h.get("/api/hello", headers={"Origin": "http://a.example"})
    assert cors_headers(r) == {}
    # a preflight of an allowed origin
    r = h.request("OPTIONS", "/api/hello",
                  headers={"Origin": "http://c.example", "Access-Control-Request-Method": "POST",
                           "Access-Control-Request-Headers": "x-custom"})
    assert r.status == 204
    assert cors_headers(r) == {"access-control-allow-origin": "http://c.example",
                               "access-control-allow-methods": "POST",
                               "access-control-allow-headers": "x-custom"}
    # without the flag, Host.CORS applies
    h.stop()
    h = ctx.start(app)
    r = h.get("/api/hello", headers={"Origin": "http://a.example"})
    assert cors_headers(r) == {"access-control-allow-origin": "http://a.example"}
    r = h.get("/api/hello", headers={"Origin": "http://b.example"})
    assert cors_headers(r) == {}


def test_cors_credentials_flag(ctx):
    app = hello_app(ctx)
    h = ctx.start(app, "--cors", "*")
    r = h.get("/api/hello", headers={"Origin": "http://x.example"})
    assert cors_headers(r) == {"access-control-allow-origin": "*"}
    h.stop()
    # with credentials a wildcard cannot be sent: the origin is echoed
    h = ctx.start(app, "--cors", "*", "--cors-credentials")
    r = h.get("/api/hello", headers={"Origin": "http://x.example"})
    assert cors_headers(r) == {"access-control-allow-origin": "http://x.example",
                               "access-control-allow-credentials": "true"}
    r = h.request("OPTIONS", "/api/hello",
                  headers={"Origin": "http://y.example", "Access-Control-Request-Method": "PUT"})
    assert r.status == 204 and r.headers["access-control-allow-credentials"] == "true"
    assert r.headers["access-control-allow-origin"] == "http://y.example"


def test_address_is_host(ctx):
    h = ctx.start(hello_app(ctx), "--address", "127.0.0.1")
    assert "listening on 127.0.0.1:" in h.output
    assert h.get("/api/hello").status == 200
    p = ctx.run("start", "--script-root", hello_app(ctx), "--port", "0", "--address",
                "203.0.113.7")
    assert p.returncode == 1 and "Cannot listen on 203.0.113.7:" in p.stdout


def test_functions_space_separated_and_unknown_names(ctx):
    app = hello_app(ctx, names=("alpha", "beta", "gamma"))
    h = ctx.start(app, "--functions", "alpha", "gamma", "nope", "--verbose")
    assert h.get("/api/alpha").status == 200
    assert h.get("/api/gamma").status == 200
    assert h.get("/api/beta").status == 404
    assert "'--verbose' matches" not in h.output  # the next flag ends the list
    assert "Mapped function route 'api/alpha'" in h.output  # and still applies
    line = (f"--functions: 'nope' matches no function in {app}, so it is ignored; the functions "
            "there are alpha, beta, gamma")
    assert h.output.count(line) == 1
    h.stop()
    # comma-separated as before, no warning when all match
    h = ctx.start(app, "--functions", "alpha,beta")
    assert h.get("/api/beta").status == 200 and h.get("/api/gamma").status == 404
    assert "matches no function" not in h.output
    p = ctx.run("start", "--script-root", app, "--functions", "--verbose")
    assert p.returncode == 2 and "--functions: no function name follows" in p.stderr


def test_enable_json_output(ctx):
    h = ctx.start(hello_app(ctx), "--enable-json-output")
    h.get("/api/hello")
    h.wait_log("Executed 'Functions.hello'")
    lines = h.output.strip().splitlines()
    objs = [json.loads(line) for line in lines]  # every line is JSON
    banner = [o for o in objs if o["message"].startswith("fnhost version ")]
    assert banner and banner[0]["category"] == "Host.Startup"
    assert any(o["message"].startswith("Executed 'Functions.hello'") for o in objs)


def test_user_log_level(ctx):
    app = hello_app(ctx)
    h = ctx.start(app, "--user-log-level", "Warning")
    assert h.get("/api/hello").status == 200
    h.stop()
    assert "Executing 'Functions.hello'" not in h.output  # Function.hello, Information
    assert "Host started" in h.output                    # other categories keep theirs
    # it wins over host.json's Function level
    app = hello_app(ctx, host_json={"version": "2.0",
                                    "logging": {"logLevel": {"Function": "Warning"}}})
    h = ctx.start(app, "--user-log-level", "Information")
    h.get("/api/hello")
    h.wait_log("Executed 'Functions.hello' (Succeeded")
    h.stop()
    p = ctx.run("start", "--script-root", app, "--user-log-level", "Chatty")
    assert p.returncode == 2
    assert "--user-log-level: 'Chatty' is not a log level; use one of Trace" in p.stderr


def test_function_category_log_level(ctx):
    # a level for one function's category (a prefix, in any case) turns its
    # Information lines off; a function whose name merely starts the same
    # keeps them
    app = hello_app(ctx, names=("alpha", "alphabet"),
                    host_json={"version": "2.0",
                               "logging": {"logLevel": {"function.ALPHA": "Warning"}}})
    h = ctx.start(app)
    assert h.get("/api/alpha").status == 200
    assert h.get("/api/alphabet").status == 200
    assert h.get("/api/alpha").status == 200
    h.wait_log("Executed 'Functions.alphabet' (Succeeded")
    h.stop()
    assert "Executing 'Functions.alphabet' (Reason=" in h.output
    assert "Functions.alpha'" not in h.output


def test_banner_shows_version(ctx):
    version = ctx.run("--version").stdout.split()[1]
    h = ctx.start(hello_app(ctx))
    first = h.output.splitlines()[0]
    assert first == f"fnhost version {version} (Azure Functions host 2.x compatible)"


def test_no_job_functions_found(ctx):
    h = ctx.start(ctx.make_app({}))
    assert "No job functions found. A function is a folder of the script root with a " \
           "function.json" in h.output
    assert h.get("/").status == 200  # the host runs anyway, as Azure's does
    h.stop()
    # every function filtered out: the same warning
    h = ctx.start(hello_app(ctx), "--functions", "other")
    assert "No job functions found." in h.output
    h.stop()
    h = ctx.start(hello_app(ctx))
    assert "No job functions found" not in h.output


def test_unimplemented_settings_warn_once_each(ctx):
    host_json = {"version": "2.0", "singleton": {"lockPeriod": "00:00:15"},
                 "healthMonitor": {"enabled": True}, "aggregator": {"batchSize": 1000},
                 "concurrency": {"dynamicConcurrencyEnabled": True},
                 "managedDependency": {"enabled": True},
                 "logging": {"applicationInsights": {"samplingSettings": {"isEnabled": True}}}}
    fj = http_function(so="hello.so")
    fj["bindings"][0]["dataType"] = "binary"
    blob = {"bindings": [{"type": "blobTrigger", "direction": "in", "name": "b",
                          "path": "inbox/{name}", "source": "EventGrid"}], "scriptFile": "hello.so"}
    polled = {"bindings": [{"type": "blobTrigger", "direction": "in", "name": "b",
                            "path": "scans/{name}", "source": "LogsAndContainerScan"}],
              "scriptFile": "hello.so"}
    queue = {"bindings": [{"type": "queueTrigger", "direction": "in", "name": "m",
                           "queueName": "jobs", "cardinality": "many"}], "scriptFile": "hello.so"}
    so = ("copy", ctx.path(*HELLO_SO))
    app = ctx.make_app({"web/function.json": fj, "web/hello.so": so,
                        "blob/function.json": blob, "blob/hello.so": so,
                        "polled/function.json": polled, "polled/hello.so": so,
                        "queue/function.json": queue, "queue/hello.so": so,
                        "proxies.json": {"proxies": {}},
                        "local.settings.json": {"Values": {
                            "AzureWebJobsStorage": "UseDevelopmentStorage=true"}}},
                       host_json)
    h = ctx.start(app)
    expected = [
        "host.json: singleton: not implemented by fnhost, so this setting has no effect here",
        "host.json: healthMonitor: not implemented by fnhost",
        "host.json: aggregator: not implemented by fnhost",
        "host.json: concurrency: not implemented by fnhost",
        "host.json: managedDependency: not implemented by fnhost",
        "host.json: logging.applicationInsights: not implemented by fnhost",
        "web/function.json: bindings[0].dataType: not implemented by fnhost for a 'httpTrigger' "
        "binding, so this setting has no effect here",
        "blob/function.json: bindings[0].source: not implemented by fnhost for a 'blobTrigger' "
        "binding",
        "queue/function.json: bindings[0].cardinality: not implemented by fnhost for a "
        "'queueTrigger' binding",
        "proxies.json: Azure Functions proxies are not implemented by fnhost",
    ]
    for e in expected:
        assert h.output.count(e) == 1, (e, h.output)
    assert "polled/function.json: bindings[0].source" not in h.output  # the default: polling
    assert h.get("/api/web").status == 200  # warnings only: everything runs
    fs = {f["name"]: f for f in h.get("/admin/functions").json()}
    assert not any(f.get("errors") for f in fs.values()), fs


def queue_fn(conn=None):
    b = {"type": "queueTrigger", "direction": "in", "name": "m", "queueName": "work"}
    if conn:
        b["connection"] = conn
    return {"bindings": [b], "scriptFile": "hello.so"}


def test_identity_based_connections_map_to_the_emulation(ctx):
    so = ("copy", ctx.path(*HELLO_SO))
    blob = {"bindings": [{"type": "blobTrigger", "direction": "in", "name": "b",
                          "path": "inbox/{name}", "connection": "Files"}], "scriptFile": "hello.so"}
    files = {"q1/function.json": queue_fn(), "q1/hello.so": so,
             "q2/function.json": queue_fn("Orders"), "q2/hello.so": so,
             "b1/function.json": blob, "b1/hello.so": so,
             "local.settings.json": {"Values": {
                 "AzureWebJobsStorage__accountName": "devstoreaccount1",
                 "Orders__queueServiceUri": "https://acct.queue.core.windows.net",
                 "Files__blobServiceUri": "https://acct.blob.core.windows.net"}}}
    h = ctx.start(ctx.make_app(files))
    fs = {f["name"]: f for f in h.get("/admin/functions").json()}
    for name in ("q1", "q2", "b1"):
        assert not fs[name].get("errors"), fs[name]
    for conn, suffix in (("AzureWebJobsStorage", "__accountName"),
                         ("Orders", "__queueServiceUri"), ("Files", "__blobServiceUri")):
        assert h.output.count(f"Connection '{conn}' is identity-based ({conn}{suffix}): fnhost "
                              "maps it to its local storage emulation") == 1, h.output
    assert "is not set" not in h.output
    # the emulation really runs: a blob dropped into the local container fires
    folder = os.path.join(h.app, ".fnhost", "storage", "blobs", "inbox")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "x.txt"), "w") as f:
        f.write("x")
    h.wait_log("Executing 'Functions.b1' (Reason='New blob detected: inbox/x.txt'", timeout=20)
    h.stop()
    # without the identity settings, the same app is refused as before
    files["local.settings.json"] = {"Values": {}}
    h = ctx.start(ctx.make_app(files))
    fs = {f["name"]: f for f in h.get("/admin/functions").json()}
    assert "the app setting 'Orders' is not set" in " ".join(fs["q2"]["errors"])


def test_unknown_binding_type_points_at_the_extension_guide(ctx):
    fj = {"bindings": [{"type": "eventHubTrigger", "direction": "in", "name": "e",
                        "eventHubName": "h"}], "scriptFile": "hello.so"}
    app = hello_app(ctx, extra={"hub/function.json": fj,
                                "hub/hello.so": ("copy", ctx.path(*HELLO_SO))})
    h = ctx.start(app)
    assert "The 'hub' function is in error: hub/function.json: bindings[0].type: " \
           "'eventHubTrigger' is a binding type fnhost does not emulate: no installed " \
           "extension provides it" in h.output
    assert "run 'fnhost help extensions' for the guide" in h.output
    assert h.get("/api/hello").status == 200


def test_help_extensions_prints_the_guide(ctx):
    p = ctx.run("help", "extensions", cwd=ctx.tmpdir())  # needs no source checkout
    assert p.returncode == 0
    with open(ctx.path("docs", "writing-an-extension.md")) as f:
        assert p.stdout == f.read()
    p = ctx.run("help", "nothing")
    assert p.returncode == 2 and "no guide on 'nothing'; the topics are: extensions" in p.stderr
    assert "fnhost help extensions" in ctx.run("help").stdout


def slow_env(ctx):
    d = ctx.tmpdir()
    so = os.path.join(ctx.build, "tests", "ext", "slowinit.so")
    assert os.path.exists(so), f"{so} is not built; run make"
    with open(os.path.join(d, "extensions.json"), "w") as f:
        json.dump({"extensions": [{"name": "slowinit", "file": so, "types": ["slowTrigger"]}]},
                  f)
    return {"FNHOST_EXTENSIONS_PATH": d}


def slow_app(ctx, sleep_ms):
    fj = {"bindings": [{"type": "slowTrigger", "direction": "in", "name": "t"}],
          "scriptFile": "hello.so"}
    return hello_app(ctx, extra={"slow/function.json": fj,
                                 "slow/hello.so": ("copy", ctx.path(*HELLO_SO))},
                     host_json={"version": "2.0",
                                "extensions": {"slowinit": {"initSleepMs": sleep_ms}}})


def test_timeout_bounds_start_up(ctx):
    env = slow_env(ctx)
    # start-up takes 60 s: --timeout 1 ends it with a clear message
    h = ctx.start(slow_app(ctx, 60000), "--timeout", "1", env=env, wait=False)
    rc = h.wait_exit(timeout=30)
    assert rc == 1
    assert "fnhost: the host did not start listening within 1 s (--timeout 1): it was still " \
           "loading the app" in h.output
    assert "Host started" not in h.output
    # a start-up within the bound is not disturbed, and the bound ends once listening
    h = ctx.start(slow_app(ctx, 100), "--timeout", "5", env=env)
    time.sleep(6)
    assert h.proc.poll() is None and h.get("/api/hello").status == 200
    for bad in ("0", "abc", "-5"):
        p = ctx.run("start", "--script-root", ctx.tmpdir(), "--timeout", bad)
        assert p.returncode == 2 and f"--timeout: '{bad}' is not a number of seconds" in p.stderr
