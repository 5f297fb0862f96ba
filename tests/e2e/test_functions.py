"""End-to-end tests of native functions: loading and refusing .so files,
inputs and outputs through the function API, failures, functionTimeout,
disabled functions and app settings."""
import json
import time

from harness import http_function


def echo_app(ctx, extra_files=None, host_json=None, so="echo.so", fn_extra=None):
    files = {
        "echo/function.json": http_function(route="echo/{*rest}", so="echo.so",
                                            methods=None, extra=fn_extra),
        "echo/echo.so": ("copy", ctx.so("native", "echo", so.replace(".so", ""))),
    }
    files.update(extra_files or {})
    return ctx.make_app(files, host_json)


def test_request_data_reaches_function(ctx):
    h = ctx.start(echo_app(ctx))
    r = h.post("/api/echo/a%20b/c?x=1&y=two%20words&x=3", body=b"payload",
               headers={"Content-Type": "text/plain", "X-Custom": "Value"})
    assert r.status == 200, r
    d = r.json()
    assert d["method"] == "POST"
    assert d["path"] == "/api/echo/a b/c"
    assert d["url"] == "/api/echo/a%20b/c?x=1&y=two%20words&x=3"
    assert d["query"]["y"] == "two words"
    assert d["headers"]["X-Custom"] == "Value"
    assert d["params"] == {"rest": "a b/c"}
    assert d["body"] == "payload" and d["bodyLength"] == 7
    assert d["contentType"] == "text/plain"
    assert len(d["id"]) == 36


def test_status_headers_and_no_response(ctx):
    h = ctx.start(echo_app(ctx))
    r = h.get("/api/echo/x?status=201&header=X-Made:yes")
    assert r.status == 201 and r.headers["x-made"] == "yes"
    r = h.get("/api/echo/x?noresp=1")
    assert r.status == 204 and r.body == b""


def test_failing_function_is_500_and_logged(ctx):
    h = ctx.start(echo_app(ctx))
    r = h.get("/api/echo/x?fail=1")
    assert r.status == 500
    out = h.wait_log("Executed 'Functions.echo' (Failed, Id=")
    assert "Exception while executing function: Functions.echo." in out
    # the host goes on
    assert h.get("/api/echo/ok").status == 200


def test_user_log_lines(ctx):
    h = ctx.start(echo_app(ctx))
    h.get("/api/echo/x?log=hello-from-function")
    h.wait_log("hello-from-function")


def test_function_timeout_gives_500(ctx):
    app = echo_app(ctx, host_json={"version": "2.0", "functionTimeout": "00:00:01"})
    h = ctx.start(app)
    t = time.time()
    r = h.get("/api/echo/slow?sleep_ms=2500")
    took = time.time() - t
    assert r.status == 500, r
    assert took < 2.4, took
    out = h.wait_log("Timeout value of 00:00:01 exceeded by function 'Functions.echo'")
    assert "Initiating cancellation." in out
    # other requests still work while the timed-out one's thread finishes
    assert h.get("/api/echo/fast").status == 200
    time.sleep(1.2)
    assert h.get("/api/echo/after").status == 200


def test_slow_function_does_not_block_others(ctx):
    h = ctx.start(echo_app(ctx))
    import threading
    res = {}

    def slow():
        res["slow"] = h.get("/api/echo/s?sleep_ms=1500").status
    th = threading.Thread(target=slow)
    th.start()
    time.sleep(0.2)
    t = time.time()
    assert h.get("/api/echo/f").status == 200
    assert time.time() - t < 1.0
    th.join()
    assert res["slow"] == 200


def test_inline_function(ctx):
    app = echo_app(ctx, so="echo_inline.so")
    h = ctx.start(app)
    r = h.get("/api/echo/in?x=1")
    assert r.status == 200 and r.json()["query"] == {"x": "1"}


def broken_app(ctx, so_path, entry=None, script="fn.so"):
    return ctx.make_app({
        "good/function.json": http_function(route="good", so="echo.so"),
        "good/echo.so": ("copy", ctx.so("native", "echo")),
        "bad/function.json": http_function(route="bad", so=script, entry=entry),
        **({f"bad/{script}": ("copy", so_path)} if so_path else {}),
    })


def test_so_without_module_descriptor(ctx):
    h = ctx.start(broken_app(ctx, ctx.so("native", "broken", "nomodule")))
    assert ("The 'bad' function is in error: bad/function.json: scriptFile: 'fn.so' is not an "
            "fnhost function module: it exports no fnh_function_abi; add the line "
            "FNH_FUNCTION_MODULE(0); to its source (#include <fnhost/function.h>)") in h.output
    assert h.get("/api/good").status == 200
    assert h.get("/api/bad").status == 404


def test_so_missing_entry_point(ctx):
    h = ctx.start(broken_app(ctx, ctx.so("native", "broken", "noentry")))
    assert ("The 'bad' function is in error: bad/function.json: entryPoint: 'run' not found in "
            "'fn.so' (") in h.output
    assert "undefined symbol: run" in h.output
    assert h.get("/api/good").status == 200


def test_so_custom_entry_point(ctx):
    h = ctx.start(broken_app(ctx, ctx.so("native", "broken", "noentry"), entry="handle"))
    r = h.get("/api/bad")
    assert (r.status, r.body) == (200, b"handled")


def test_so_newer_abi(ctx):
    h = ctx.start(broken_app(ctx, ctx.so("native", "broken", "newabi")))
    assert ("bad/function.json: scriptFile: 'fn.so' was built for fnhost function ABI 2.0, this "
            "host provides 1.2; rebuild it against this host's include/fnhost headers") in h.output


def test_so_that_cannot_load(ctx):
    d = ctx.tmpdir()
    junk = d + "/junk.so"
    with open(junk, "w") as f:
        f.write("this is not an ELF file\n")
    h = ctx.start(broken_app(ctx, junk))
    assert "The 'bad' function is in error: bad/function.json: scriptFile: cannot load " \
           "'fn.so': " in h.output
    assert "invalid ELF header" in h.output or "file too short" in h.output
    assert h.get("/api/good").status == 200


def test_so_missing_file(ctx):
    h = ctx.start(broken_app(ctx, None, script="nothere.so"))
    assert "bad/function.json: scriptFile: 'nothere.so' does not exist" in h.output
    st = h.get("/admin/functions/bad/status").json()
    assert "does not exist" in st["errors"][0]


def test_disabled_function(ctx):
    app = echo_app(ctx, {"local.settings.json": {"Values": {"AzureWebJobs.echo.Disabled": "true"}}})
    h = ctx.start(app)
    assert "Function echo is disabled." in h.output
    # authorization off: every caller is admin, and admin callers reach a
    # disabled function, as with Core Tools (with --enable-auth others get
    # 404: test_auth)
    assert h.get("/api/echo/x").status == 200
    meta = h.get("/admin/functions/echo").json()
    assert meta["isDisabled"] is True
    # the admin API can still invoke it
    assert h.post("/admin/functions/echo", body="{}").status == 202
    h.wait_log("Executed 'Functions.echo' (Succeeded")


def test_disabled_by_env_underscore_form(ctx):
    h = ctx.start(echo_app(ctx), env={"AzureWebJobs_echo_Disabled": "1"})
    assert "Function echo is disabled." in h.output
    assert h.get("/admin/functions/echo").json()["isDisabled"] is True


def test_settings_reach_functions_and_env_wins(ctx):
    app = echo_app(ctx, {"local.settings.json": {"Values": {"MY_SETTING": "from-file",
                                                            "OTHER": "file2"}}})
    h = ctx.start(app, env={"OTHER": "from-env"})
    assert h.get("/api/echo/x?setting=MY_SETTING").text == "from-file"
    assert h.get("/api/echo/x?setting=OTHER").text == "from-env"
    assert "Skipping 'OTHER' from local settings as it's already defined in current " \
           "environment variables." in h.output


def test_bad_local_settings_value_names_key_and_host_runs(ctx):
    app = echo_app(ctx, {"local.settings.json": '{"Values": {"GOOD": "yes", "BAD": {"a": 1}}}'})
    h = ctx.start(app)
    assert "local.settings.json: Values.BAD: must be a string, not an object" in h.output
    assert h.get("/api/echo/x?setting=GOOD").text == "yes"


def test_function_json_syntax_error_names_line_and_column(ctx):
    app = echo_app(ctx, {"broken/function.json": '{\n  "bindings": [\n    {"type": "httpTrigger",}\n  ]\n}'})
    h = ctx.start(app)
    assert "The 'broken' function is in error: broken/function.json: line 3, column " in h.output
    assert h.get("/api/echo/x").status == 200


def test_host_json_version_error_stops_start(ctx):
    app = echo_app(ctx, host_json={"version": "1.0"})
    p = ctx.run("start", "--script-root", app, "--port", "0", timeout=10)
    assert p.returncode == 1
    assert "host.json: version: \"1.0\" is not a valid host.json version; set \"version\": " \
           "\"2.0\"" in p.stdout


def test_functions_flag_limits_loaded_functions(ctx):
    app = echo_app(ctx, {"other/function.json": http_function(route="other", so="../echo/echo.so")})
    h = ctx.start(app, "--functions", "other")
    assert h.get("/api/other").status == 200
    assert h.get("/api/echo/x").status == 404
    names = [f["name"] for f in h.get("/admin/functions").json()]
    assert names == ["other"]


def test_return_binding_and_custom_headers(ctx):
    fj = http_function(route="r/{*rest}", so="echo.so", out="$return")
    app = ctx.make_app({"r/function.json": fj, "r/echo.so": ("copy", ctx.so("native", "echo"))},
                       host_json={"version": "2.0", "extensions": {"http": {
                           "customHeaders": {"X-Content-Type-Options": "nosniff"}}}})
    h = ctx.start(app)
    r = h.get("/api/r/x")
    # echo writes to "res", which this function does not declare: fnh_output fails
    # with -ENOENT, the function returns it, and the caller gets a 500
    assert r.status == 500
    assert r.headers["x-content-type-options"] == "nosniff"


def test_cors_from_local_settings(ctx):
    app = echo_app(ctx, {"local.settings.json": {"Values": {},
                                                 "Host": {"CORS": "http://a.example,http://b.example"}}})
    h = ctx.start(app)
    r = h.get("/api/echo/x", headers={"Origin": "http://b.example"})
    assert r.headers["access-control-allow-origin"] == "http://b.example"
    r = h.get("/api/echo/x", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in r.headers
    r = h.request("OPTIONS", "/api/echo/x", headers={
        "Origin": "http://a.example", "Access-Control-Request-Method": "PUT"})
    assert r.status == 204
    assert r.headers["access-control-allow-methods"] == "PUT"
    assert r.headers["access-control-allow-origin"] == "http://a.example"


def test_no_cors_headers_when_not_configured(ctx):
    h = ctx.start(echo_app(ctx))
    r = h.get("/api/echo/x", headers={"Origin": "http://a.example"})
    assert "access-control-allow-origin" not in r.headers
