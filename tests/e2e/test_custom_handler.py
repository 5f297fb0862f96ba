"""End-to-end tests of custom handlers: a real handler process
(tests/apps/custom/handler.py, Python's standard library) started by the
real host, talked to over real HTTP: the request payload field by field
(Data, Metadata, headers, environment, arguments), Outputs / ReturnValue /
Logs, failures, forwarding (method, path, query, headers, binary body,
status and headers relayed, a redirect not followed), a queue output
feeding a queue trigger, a timer, several invocations in flight, many at
once each answered with its own response (pipelined), a handler
that never becomes ready, a crash mid-invocation, functionTimeout, no
orphan after SIGTERM or kill -9, configuration errors, Azure's own
sample/CustomHandler unmodified, and both shipped samples."""
import base64
import concurrent.futures
import json
import os
import re
import signal
import time

from harness import alive, gone_within

HANDLER = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "apps",
                       "custom", "handler.py")
DEV = {"AzureWebJobsStorage": "UseDevelopmentStorage=true"}


def http_fn(route=None, methods=("get", "post"), out="res", extra=()):
    trig = {"type": "httpTrigger", "direction": "in", "name": "req", "authLevel": "anonymous"}
    if methods is not None:
        trig["methods"] = list(methods)
    if route:
        trig["route"] = route
    return {"bindings": [trig, {"type": "http", "direction": "out", "name": out}] + list(extra)}


def custom_app(ctx, functions, forwarding=None, section="customHandler", values=None,
               host_extra=None, description=None):
    files = {"handler.py": ("copy", HANDLER)}
    for name, fj in functions.items():
        files[f"{name}/function.json"] = fj
    v = {"FUNCTIONS_WORKER_RUNTIME": "custom", "MY_SETTING": "from-settings"}
    v.update(values or {})
    files["local.settings.json"] = {"IsEncrypted": False, "Values": v}
    sec = {"description": description or {"defaultExecutablePath": "python3",
                                          "arguments": ["handler.py", "%MY_SETTING%"]}}
    if forwarding is not None:
        sec["enableForwardingHttpRequest"] = forwarding
    host = {"version": "2.0", section: sec}
    host.update(host_extra or {})
    return ctx.make_app(files, host)


def handler_pid(app, timeout=10):
    p = os.path.join(app, "handler.pid")
    deadline = time.time() + timeout
    while time.time() < deadline:
        if os.path.exists(p):
            with open(p) as f:
                text = f.read().strip()
            if text:
                return int(text)
        time.sleep(0.05)
    raise AssertionError("the handler never wrote its pid")


def read_records(app, name, count, timeout=20):
    p = os.path.join(app, name)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if os.path.exists(p):
            with open(p) as f:
                lines = [json.loads(line) for line in f if line.strip()]
            if len(lines) >= count:
                return lines
        time.sleep(0.05)
    raise AssertionError(f"{name} never had {count} records")


# ---- payloads ------------------------------------------------------------------

def test_custom_payload_fields(ctx):
    app = custom_app(ctx, {"Echo": http_fn(route="echo/{id}")})
    h = ctx.start(app)
    r = h.post("/api/echo/42?x=1&y=two", body=b'{"a":1}',
               headers={"Content-Type": "application/json", "X-Test": "v1"})
    assert r.status == 201, (r, h.output[-2000:])
    assert r.headers["x-custom"] == "yes"
    assert r.headers["content-type"].startswith("application/json")
    echo = r.json()
    # the request line and Azure's headers
    assert echo["method"] == "POST" and echo["path"] == "/Echo"
    hd = echo["headers"]
    assert re.fullmatch(r"[0-9a-f-]{36}", hd["X-Azure-Functions-InvocationId"])
    assert hd["X-Azure-Functions-HostVersion"]
    assert hd["User-Agent"].startswith("Azure-Functions-Host/")
    assert hd["Content-Type"] == "application/json; charset=utf-8"
    # Data.req as GetRequestAsJObject builds it
    req = echo["payload"]["Data"]["req"]
    assert req["Url"] == f"http://127.0.0.1:{h.port}/api/echo/42?x=1&y=two"
    assert req["Method"] == "POST"
    assert req["Query"] == {"x": "1", "y": "two"}
    assert req["Headers"]["X-Test"] == ["v1"]
    assert req["Headers"]["Content-Type"] == ["application/json"]
    assert req["Params"] == {"id": "42"}
    assert req["Body"] == '{"a":1}'
    assert req["Identities"][0]["AuthenticationType"] == "WebJobsAuthLevel"
    # Metadata: query, headers as strings, route values, sys
    md = echo["payload"]["Metadata"]
    assert md["Query"] == {"x": "1", "y": "two"}
    assert md["Headers"]["X-Test"] == "v1"
    assert md["id"] == "42"
    assert md["sys"]["MethodName"] == "Echo"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", md["sys"]["UtcNow"])
    assert re.fullmatch(r"[0-9a-f-]{36}", md["sys"]["RandGuid"])
    # Logs under the function's category, in this invocation
    inv_id = hd["X-Azure-Functions-InvocationId"]
    out = h.wait_log("second user log")
    assert "first user log" in out
    assert f"Executed 'Functions.Echo' (Succeeded, Id={inv_id}" in out
    # the process: environment and arguments (%MY_SETTING% expanded)
    env = echo["env"]
    assert env["FUNCTIONS_CUSTOMHANDLER_PORT"] == env["FUNCTIONS_HTTPWORKER_PORT"]
    assert int(env["FUNCTIONS_CUSTOMHANDLER_PORT"]) > 0
    assert env["FUNCTIONS_CUSTOMHANDLER_WORKER_ID"] == env["FUNCTIONS_HTTPWORKER_ID"]
    assert os.path.realpath(env["FUNCTIONS_APP_ROOT_PATH"]) == os.path.realpath(app)
    assert env["MY_SETTING"] == "from-settings"
    assert echo["argv"] == ["from-settings"]
    assert os.path.realpath(echo["cwd"]) == os.path.realpath(app)
    # a binary body travels as base64; no body, no Body
    blob = bytes(range(256)) * 4
    r = h.post("/api/echo/7", body=blob, headers={"Content-Type": "application/octet-stream"})
    assert r.status == 201
    assert base64.b64decode(r.json()["payload"]["Data"]["req"]["Body"]) == blob
    # text that is not UTF-8 still arrives as JSON (U+FFFD, as .NET decodes it)
    r = h.post("/api/echo/9?q=%FF", body=b"ok \xff\xfe end", headers={"Content-Type": "text/plain"})
    assert r.status == 201
    req = r.json()["payload"]["Data"]["req"]
    assert req["Body"] == "ok \ufffd\ufffd end"
    assert req["Query"] == {"q": "\ufffd"}
    r = h.get("/api/echo/8")
    assert r.status == 201
    assert "Body" not in r.json()["payload"]["Data"]["req"]
    assert r.json()["payload"]["Data"]["req"]["Method"] == "GET"


def test_custom_description_paths_and_arguments(ctx):
    """workingDirectory (relative to the app root), defaultWorkerPath and
    workerArguments after the arguments, %VAR% expanded, unset ones removed."""
    app = custom_app(ctx, {"Echo": http_fn()}, description={
        "defaultExecutablePath": "python3", "arguments": ["-u"],
        "defaultWorkerPath": "handler.py", "workingDirectory": "sub",
        "workerArguments": ["w1", "%MY_SETTING%", "x%NOT_SET_ANYWHERE%y"]})
    os.makedirs(os.path.join(app, "sub"))
    os.rename(os.path.join(app, "handler.py"), os.path.join(app, "sub", "handler.py"))
    h = ctx.start(app)
    r = h.get("/api/Echo")
    assert r.status == 201, (r, h.output[-2000:])
    echo = r.json()
    assert echo["argv"] == ["w1", "from-settings", "xy"]
    assert os.path.realpath(echo["cwd"]) == os.path.realpath(os.path.join(app, "sub"))
    h.wait_log("handler listening on")  # its stdout reaches the host log


def test_custom_return_value_and_failures(ctx):
    ret = {"bindings": [{"type": "httpTrigger", "direction": "in", "name": "req",
                         "authLevel": "anonymous"},
                        {"type": "http", "direction": "out", "name": "$return"}]}
    app = custom_app(ctx, {"Ret": ret, "Fail": http_fn(), "NotJson": http_fn()})
    h = ctx.start(app)
    r = h.get("/api/Ret")
    assert r.status == 202, (r, h.output[-2000:])
    assert r.json() == {"via": "return"}
    assert r.headers["content-type"].startswith("application/json")
    r = h.get("/api/Fail")
    assert r.status == 500
    out = h.wait_log("Response status code does not indicate success: 500")
    assert "handler failure text" in out
    assert "Executed 'Functions.Fail' (Failed" in out
    r = h.get("/api/NotJson")
    assert r.status == 500
    out = h.wait_log("Invalid HttpResponseMessage")
    assert "this is not json" in out
    assert h.get("/api/Ret").status == 202  # the handler is fine


# ---- forwarding -------------------------------------------------------------------

def test_custom_forwarding_replays_and_relays(ctx):
    app = custom_app(ctx, {
        "Fwd": http_fn(route="fwd/{*rest}", methods=None),
        "Redirect": http_fn(),
        "Tick": {"bindings": [{"type": "timerTrigger", "direction": "in", "name": "timer",
                               "schedule": "*/1 * * * * *"}]},
    }, forwarding=True)
    h = ctx.start(app)
    body = bytes(range(256)) + b"\r\n\x00end"
    r = h.request("PUT", "/api/fwd/a/b%20c?q=1&q=2", body=body,
                  headers={"X-One": "1", "Content-Type": "application/x-thing"})
    assert r.status == 207, (r, h.output[-2000:])
    assert r.headers["x-echo"] == "relayed"
    assert r.headers["set-cookie"] == "a=1"
    assert r.headers["content-type"] == "application/x-echo"
    echo = r.json()
    assert echo["method"] == "PUT"
    assert echo["path"] == "/api/fwd/a/b%20c?q=1&q=2"
    headers = {k.lower(): v for k, v in echo["headers"]}
    assert headers["x-one"] == "1"
    assert headers["content-type"] == "application/x-thing"
    assert re.fullmatch(r"[0-9a-f-]{36}", headers["x-azure-functions-invocationid"])
    assert headers["user-agent"].startswith("Azure-Functions-Host/")
    assert bytes.fromhex(echo["body_hex"]) == body
    for method in ("GET", "DELETE", "PATCH"):
        r = h.request(method, "/api/fwd/x")
        assert r.status == 207 and r.json()["method"] == method
    r = h.request("HEAD", "/api/fwd/x")
    assert r.status == 207 and r.body == b""
    # a redirect comes back to the caller, never followed
    r = h.get("/api/Redirect")
    assert r.status == 302
    assert r.headers["location"] == "/api/elsewhere"
    # a function that is not HTTP-only still gets the JSON payload
    rec = read_records(app, "Tick.jsonl", 1)[0]
    assert "timer" in rec["Data"] and rec["Metadata"]["sys"]["MethodName"] == "Tick"


def test_custom_forwarding_many_at_once_each_gets_its_answer(ctx):
    # many invocations at once to a handler that answers quickly, which may
    # share connections (pipelined, answered in order): each caller gets the
    # answer to its own request, HEAD ones (no body) among them
    app = custom_app(ctx, {"Fwd": http_fn(route="fwd/{*rest}", methods=None)}, forwarding=True)
    h = ctx.start(app)
    assert h.get("/api/fwd/warm").status == 207

    def one(i):
        if i % 5 == 0:
            r = h.request("HEAD", f"/api/fwd/h{i}", timeout=60)
            return i, r.status, r.body == b"", None
        body = f"body-{i}".encode() * (1 + i % 7)
        r = h.request("PUT", f"/api/fwd/p{i}?n={i}", body=body, timeout=60)
        echo = r.json()
        ok = echo["path"] == f"/api/fwd/p{i}?n={i}" and bytes.fromhex(echo["body_hex"]) == body
        return i, r.status, ok, echo["path"]

    with concurrent.futures.ThreadPoolExecutor(32) as ex:
        results = list(ex.map(one, range(256)))
    bad = [r for r in results if r[1] != 207 or not r[2]]
    assert not bad, bad[:5]


def test_custom_http_worker_section_forwards(ctx):
    app = custom_app(ctx, {"Fwd": http_fn(route="fwd")}, section="httpWorker")
    h = ctx.start(app)
    r = h.post("/api/fwd?z=9", body=b"raw")
    assert r.status == 207, (r, h.output[-2000:])
    assert r.json()["path"] == "/api/fwd?z=9"
    assert "httpWorker: this section will be deprecated" in h.output


# ---- other triggers and outputs -------------------------------------------------------

def test_custom_queue_output_feeds_queue_trigger(ctx):
    enq = http_fn(route="enqueue", methods=("post",),
                  extra=[{"type": "queue", "direction": "out", "name": "msg",
                          "queueName": "work"}])
    rec = {"bindings": [{"type": "queueTrigger", "direction": "in", "name": "item",
                         "queueName": "work"}]}
    app = custom_app(ctx, {"Enqueue": enq, "QueueRec": rec}, values=DEV)
    h = ctx.start(app)
    r = h.post("/api/enqueue", body=b"hello")
    assert r.status == 200, (r, h.output[-2000:])
    assert r.text == "queued"
    recs = read_records(app, "QueueRec.jsonl", 2)
    items = sorted((json.dumps(x["Data"]["item"]) for x in recs))
    # text arrives JSON-encoded again (Azure's quirk), JSON as an object
    assert items == sorted([json.dumps('"first hello"'), json.dumps({"n": 2})]), items
    md = recs[0]["Metadata"]
    assert md["DequeueCount"] == "1"
    assert md["Id"].startswith('"') and md["Id"].endswith('"')
    assert re.fullmatch(r"\d{4}-.*", md["InsertionTime"])
    assert "QueueTrigger" not in md
    assert md["sys"]["MethodName"] == "QueueRec"
    h.wait_log("QueueRec ran")


def test_custom_timer(ctx):
    app = custom_app(ctx, {"Tick": {"bindings": [{"type": "timerTrigger", "direction": "in",
                                                  "name": "timer",
                                                  "schedule": "*/1 * * * * *"}]}})
    h = ctx.start(app)
    rec = read_records(app, "Tick.jsonl", 1)[0]
    timer = rec["Data"]["timer"]
    assert "Schedule" in timer and "IsPastDue" in timer, timer
    h.wait_log("Tick ran")


def test_custom_several_in_flight(ctx):
    app = custom_app(ctx, {"Slow": http_fn()})
    h = ctx.start(app)
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        rs = list(ex.map(lambda i: h.get("/api/Slow", timeout=60), range(8)))
    assert all(r.status == 200 for r in rs), rs
    peak = max(int(r.text) for r in rs)
    assert peak >= 2, f"the handler never had two invocations at once: {peak}"


# ---- failures of the handler ------------------------------------------------------------

def test_custom_crash_fails_cleanly_then_restarts(ctx):
    app = custom_app(ctx, {"Crash": http_fn(), "Echo": http_fn()})
    h = ctx.start(app)
    assert h.get("/api/Echo").status == 201
    pid1 = handler_pid(app)
    os.unlink(os.path.join(app, "handler.pid"))
    r = h.get("/api/Crash")
    assert r.status == 500
    h.wait_log("Executed 'Functions.Crash' (Failed")
    h.wait_log("ended: exit status 3")  # reported, and restarted
    r = h.get("/api/Echo")
    assert r.status == 201, (r, h.output[-2000:])
    assert r.json()["pid"] != pid1
    assert handler_pid(app) == r.json()["pid"]


def test_custom_never_ready(ctx):
    app = custom_app(ctx, {"Echo": http_fn()}, description={
        "defaultExecutablePath": "python3", "arguments": ["-c", "import time; time.sleep(60)"]},
        host_extra=None)
    with open(os.path.join(app, "host.json")) as f:
        hj = json.load(f)
    hj["customHandler"]["initializationTimeout"] = "00:00:01"
    with open(os.path.join(app, "host.json"), "w") as f:
        json.dump(hj, f)
    h = ctx.start(app)
    r = h.get("/api/Echo", timeout=30)
    assert r.status == 500
    out = h.wait_log("did not answer HTTP")
    assert "'python3'" in out and "00:00:01" in out
    r = h.get("/api/Echo")  # at once now, with the same reason
    assert r.status == 500
    h.wait_log("is not answering HTTP")


def test_custom_repeated_crashes_reported_with_back_off(ctx):
    app = custom_app(ctx, {"Echo": http_fn()}, description={
        "defaultExecutablePath": "python3", "arguments": ["-c", "import sys; sys.exit(2)"]})
    h = ctx.start(app)
    out = h.wait_log("ended 3 times in a row without answering", timeout=20)
    delays = [int(x) for x in re.findall(r"ended: exit status 2; restarting it in (\d+) ms", out)]
    assert len(delays) >= 3 and delays[2] > delays[1] > 0, delays


def test_custom_function_timeout(ctx):
    app = custom_app(ctx, {"Hang": http_fn(), "Echo": http_fn()},
                     host_extra={"functionTimeout": "00:00:01"})
    h = ctx.start(app)
    r = h.get("/api/Hang", timeout=30)
    assert r.status == 500
    h.wait_log("Timeout value of 00:00:01 exceeded by function 'Functions.Hang'")
    assert h.get("/api/Echo").status == 201


def test_custom_no_orphan_after_sigterm_or_kill(ctx):
    app = custom_app(ctx, {"Echo": http_fn()})
    h = ctx.start(app)
    assert h.get("/api/Echo").status == 201
    pid = handler_pid(app)
    assert alive(pid)
    h.stop()
    assert gone_within(pid, 10), "the handler outlived the host"
    os.unlink(os.path.join(app, "handler.pid"))
    h = ctx.start(app)
    assert h.get("/api/Echo").status == 201
    pid = handler_pid(app)
    h.proc.send_signal(signal.SIGKILL)
    h.crashed()
    assert gone_within(pid, 10), "the handler outlived the host killed with SIGKILL"


# ---- configuration -------------------------------------------------------------------

def test_custom_config_errors(ctx):
    cases = [
        ({"description": {}}, "defaultExecutablePath: WorkerDescription DefaultExecutablePath "
                              "cannot be empty"),
        ({"description": {"defaultExecutablePath": "no-such-program-xyz"}},
         "'no-such-program-xyz' is neither a file of the app"),
        ({"description": {"defaultExecutablePath": "node", "arguments": "server.js"}},
         "description.arguments: must be an array of strings"),
        ({}, "customHandler.description: Missing worker Description"),
    ]
    for sec, needle in cases:
        app = ctx.make_app({"Echo/function.json": http_fn()},
                           {"version": "2.0", "customHandler": sec})
        h = ctx.start(app, wait=False)
        rc = h.wait_exit()
        assert rc != 0
        assert "host.json: customHandler." in h.output and needle in h.output, h.output
    app = ctx.make_app({"Echo/function.json": http_fn(),
                        "local.settings.json": {"Values": {"FUNCTIONS_WORKER_RUNTIME": "custom"}}})
    h = ctx.start(app, wait=False)
    assert h.wait_exit() != 0
    assert "host.json: customHandler: missing, but FUNCTIONS_WORKER_RUNTIME is 'custom'" in h.output


# ---- Azure's sample and ours -------------------------------------------------------------

def test_custom_azure_sample_unmodified(ctx):
    app = ctx.copy_app(ctx.path("tests", "apps", "azure-customhandler"))
    h = ctx.start(app)
    r = h.get("/api/HttpTrigger", timeout=30)
    assert r.status == 200, (r, h.output[-2000:])
    assert r.json() == {"functionName": "api/HttpTrigger"}
    r = h.post("/api/HttpTrigger?x=1", body=b"{}")
    assert r.json() == {"functionName": "api/HttpTrigger?x=1"}
    h.wait_log("Request handler random was called.")


def test_custom_azure_retry_sample_unmodified(ctx):
    """Azure's sample/CustomHandlerRetry (express from npm, `make samples-node`):
    host.json's retry policy applies to its HTTP function; the handler fails
    until RetryContext.RetryCount reaches MaxRetryCount, so the caller gets
    the third try's answer, as Azure's own end-to-end test expects."""
    app = ctx.path("tests", "apps", "azure-customhandler-retry")
    assert os.path.isdir(os.path.join(app, "node_modules", "express")), \
        "run make samples-node"
    p = ctx.run("routes", "--script-root", app)
    assert p.returncode == 0, p.stderr
    assert re.search(r"GET,POST\s+api/HttpTrigger\s+HttpTrigger", p.stdout), p.stdout
    h = ctx.start(app)
    r = h.get("/api/HttpTrigger", timeout=30)
    assert (r.status, r.text) == (200, "Retry Count:2 Max Retry Count:2"), (r, h.output[-3000:])
    h.stop()  # every line written
    assert h.output.count("Executing 'Functions.HttpTrigger'") == 3, h.output
    assert "Next attempt: '2'. Max retry count: '2'" in h.output


def sample_check(ctx, name):
    app = ctx.copy_app(ctx.path("samples", name))
    h = ctx.start(app)
    r = h.get("/api/hello?name=Ada", timeout=30)
    assert r.status == 200, (r, h.output[-2000:])
    assert "Hello, Ada" in r.text
    r = h.post("/api/orders", body=b'{"id": 7, "item": "tea"}',
               headers={"Content-Type": "application/json"})
    assert r.status == 202, (r, h.output[-2000:])
    h.wait_log("order 7 processed", timeout=20)
    h.wait_log("tick", timeout=20)


def test_custom_sample_node(ctx):
    sample_check(ctx, "custom-handler-node")


def test_custom_sample_python(ctx):
    sample_check(ctx, "custom-handler-python")


def test_custom_handler_script_change_reloads(ctx):
    import shutil
    app = os.path.join(ctx.tmpdir(), "app")
    shutil.copytree(ctx.path("samples", "custom-handler-python"), app)
    h = ctx.start(app)
    assert h.get("/api/hello?name=Ada").body == b"Hello, Ada"
    src = os.path.join(app, "handler.py")
    with open(src) as f:
        text = f.read()
    with open(src, "w") as f:
        f.write(text.replace('f"Hello, {name}"', 'f"Howdy, {name}"'))
    h.wait_log("Host reloaded (", timeout=30)
    deadline = time.time() + 30  # the new handler answers once it is ready
    while time.time() < deadline:
        r = h.get("/api/hello?name=Ada")
        if r.body == b"Howdy, Ada":
            break
        time.sleep(0.1)
    assert (r.status, r.body) == (200, b"Howdy, Ada"), r
    h.stop()
