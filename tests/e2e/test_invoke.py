"""End-to-end tests of invoking a function on demand: POST /admin/functions/
{name} (202 in the background, Azure's way), ?wait=true (200 with the status,
duration, every output binding's value, the HTTP response and the log lines
of that invocation) and `fnhost invoke`, which wraps it."""
import json
import os

from harness import http_function

DEV = {"AzureWebJobsStorage": "UseDevelopmentStorage=true"}


def say_app(ctx, queue=False, extra=None):
    fj = http_function(route="say", so="say.so")
    if queue:
        fj["bindings"].append({"type": "queue", "direction": "out", "name": "out",
                               "queueName": "said"})
    files = {"say/function.json": fj, "say/say.so": ("copy", ctx.so("invoke", "say"))}
    if queue:
        files["local.settings.json"] = {"Values": DEV}
    files.update(extra or {})
    return ctx.make_app(files)


def invoke(h, name, body, wait=True, headers=None):
    path = f"/admin/functions/{name}" + ("?wait=true" if wait else "")
    return h.post(path, body=json.dumps(body) if not isinstance(body, bytes) else body,
                  headers=headers)


def test_wait_returns_http_response_outputs_and_logs(ctx):
    h = ctx.start(say_app(ctx))
    r = invoke(h, "say", {"input": "hello"})
    assert r.status == 200, r
    assert r.headers["content-type"].startswith("application/json")
    res = r.json()
    assert res["status"] == "succeeded" and res["functionName"] == "say"
    assert isinstance(res["duration"], (int, float)) and res["duration"] >= 0
    assert len(res["id"]) == 36
    # the HTTP function's response, as a caller of its route would get it
    assert res["response"]["statusCode"] == 201
    assert res["response"]["headers"]["X-Say"] == "yes"
    assert res["response"]["body"] == "said: hello"
    assert res["outputs"]["res"]["body"] == "said: hello"
    # the invocation's own log lines, in order, and only its lines
    messages = [line["message"] for line in res["logs"]]
    assert messages[0].startswith("Executing 'Functions.say' (Reason='This function was "
                                  "programmatically called via the host APIs.', Id=" + res["id"])
    assert "say got: hello" in messages
    assert messages[-1].startswith("Executed 'Functions.say' (Succeeded, Id=" + res["id"])
    user = [line for line in res["logs"] if line["message"] == "say got: hello"][0]
    assert user["level"] == "Information" and user["category"] == "Function.say.User"
    assert user["timestamp"].endswith("Z")
    # a second run has its own lines only
    again = invoke(h, "say", {"input": "again"}).json()
    msgs = [line["message"] for line in again["logs"]]
    assert "say got: again" in msgs and "say got: hello" not in msgs


def test_wait_with_json_input_and_in_process(ctx):
    h = ctx.start(say_app(ctx), "--in-process")
    res = invoke(h, "say", {"input": {"a": 1}}).json()
    assert res["status"] == "succeeded"
    # a JSON input reaches the function as the JSON text sent
    assert res["response"]["body"] == 'said: {"a": 1}'
    assert any(line["message"] == 'say got: {"a": 1}' for line in res["logs"])


def test_wait_shows_queue_output(ctx):
    app = say_app(ctx, queue=True)
    h = ctx.start(app)
    res = invoke(h, "say", {"input": {"order": 7}}).json()
    assert res["status"] == "succeeded", res
    assert res["outputs"]["out"] == {"order": 7}
    assert res["response"]["statusCode"] == 201
    # and the message really is on the queue
    p = ctx.run("queue", "peek", "said", "--script-root", app)
    assert p.returncode == 0 and '{"order": 7}' in p.stdout, p.stdout + p.stderr


def test_wait_failing_function(ctx):
    h = ctx.start(say_app(ctx))
    res = invoke(h, "say", {"input": "fail"}).json()
    assert res["status"] == "failed"
    assert res["error"]
    assert res["response"]["statusCode"] == 500
    msgs = [(line["level"], line["message"]) for line in res["logs"]]
    assert ("Error", "say is failing on purpose") in msgs
    assert any(lvl == "Error" and m.startswith("Executed 'Functions.say' (Failed") for lvl, m in msgs)


def test_wait_timed_out_function(ctx):
    app = say_app(ctx)
    with open(os.path.join(app, "host.json"), "w") as f:
        json.dump({"version": "2.0", "functionTimeout": "00:00:01"}, f)
    for mode in ((), ("--in-process",)):
        h = ctx.start(app, *mode)
        res = invoke(h, "say", {"input": "sleep:3000"}).json()
        assert res["status"] == "failed" and res["error"] == "The function timed out.", res
        assert res["outputs"] == {} and res["response"]["statusCode"] == 500
        msgs = [line["message"] for line in res["logs"]]
        assert any(m.startswith("Timeout value of 00:00:01 exceeded by function 'Functions.say'")
                   for m in msgs), msgs
        assert "say got: sleep:3000" in msgs
        h.stop()


def test_wait_timer_function(ctx):
    app = ctx.make_app({
        "tick/function.json": {"bindings": [{"type": "timerTrigger", "direction": "in",
                                             "name": "myTimer", "schedule": "0 0 0 1 1 *"}],
                               "scriptFile": "ticker.so"},
        "tick/ticker.so": ("copy", ctx.so("native", "ticker")),
    })
    h = ctx.start(app)
    res = invoke(h, "tick", {}).json()
    # the timer's manual run goes through its trigger (fnh_fire) and is still watched
    assert res["functionName"] == "tick" and res["status"] == "succeeded", res
    assert "response" not in res
    assert any(line["message"].startswith('TimerInfo: {"Schedule"') for line in res["logs"]), res
    assert res["logs"][0]["message"].startswith("Executing 'Functions.tick' (Reason='This "
                                                "function was programmatically called")


def test_background_invoke_stays_202(ctx):
    h = ctx.start(say_app(ctx))
    for wait in ("", "?wait=false"):
        r = h.post("/admin/functions/say" + wait, body=json.dumps({"input": "bg"}))
        assert r.status == 202 and r.body == b""
    h.wait_log("say got: bg")
    assert h.post("/admin/functions/say?wait=true", body=b"not json").status == 400
    assert h.post("/admin/functions/nope?wait=true", body=b"{}").status == 404


def test_cli_invoke(ctx):
    app = say_app(ctx)
    h = ctx.start(app)
    port = str(h.port)
    p = ctx.run("invoke", "say", "--data", "from cli", "--port", port)
    assert p.returncode == 0, p.stderr
    res = json.loads(p.stdout)
    assert res["status"] == "succeeded" and res["response"]["body"] == "said: from cli"
    # JSON data goes as JSON; @file reads a file
    p = ctx.run("invoke", "say", "--data", '{"k": [1, 2]}', "--port", port)
    assert json.loads(p.stdout)["response"]["body"] == 'said: {"k":[1,2]}'
    f = os.path.join(ctx.tmpdir(), "in.txt")
    with open(f, "w") as fh:
        fh.write("from a file")
    p = ctx.run("invoke", "say", "--data", "@" + f, "--port", port)
    assert json.loads(p.stdout)["response"]["body"] == "said: from a file"


def test_cli_invoke_finds_the_apps_local_http_port(ctx):
    app = say_app(ctx)
    h = ctx.start(app, "--no-watch")
    with open(os.path.join(app, "local.settings.json"), "w") as f:
        json.dump({"IsEncrypted": False, "Values": {}, "Host": {"LocalHttpPort": h.port}}, f)
    p = ctx.run("invoke", "say", "--data", "port from the app", "--script-root", app)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["response"]["body"] == "said: port from the app"


def test_cli_invoke_failures(ctx):
    h = ctx.start(say_app(ctx))
    port = str(h.port)
    p = ctx.run("invoke", "say", "--data", "fail", "--port", port)
    assert p.returncode == 1
    assert json.loads(p.stdout)["status"] == "failed"
    assert "function 'say' failed" in p.stderr
    p = ctx.run("invoke", "nope", "--port", port)
    assert p.returncode == 3 and "no function named 'nope'" in p.stderr
    h.stop()
    p = ctx.run("invoke", "say", "--port", port)
    assert p.returncode == 3 and "cannot reach the host" in p.stderr, p.stderr
    p = ctx.run("invoke")
    assert p.returncode == 2 and "usage" in p.stderr
