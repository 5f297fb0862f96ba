"""End-to-end tests of the admin API: ping, host status, function metadata,
function status and the background invoke endpoint."""
import json

from harness import http_function


def app_with_broken(ctx):
    return ctx.make_app({
        "echo/function.json": http_function(route="echo/{*rest}", so="echo.so"),
        "echo/echo.so": ("copy", ctx.so("native", "echo")),
        "broken/function.json": {"bindings": []},
    })


def test_ping(ctx):
    h = ctx.start(ctx.path("samples", "hello"))
    for method in ("GET", "POST"):
        r = h.request(method, "/admin/host/ping")
        assert r.status == 200 and r.body == b""
        assert "no-store" in r.headers["cache-control"]


def test_host_status(ctx):
    h = ctx.start(app_with_broken(ctx))
    s = h.get("/admin/host/status").json()
    assert s["state"] == "Running"
    assert s["version"] and isinstance(s["processUptime"], (int, float))
    assert s["id"]
    assert s["extensions"] == []
    assert any("broken/function.json: bindings: at least one binding" in e for e in s["errors"])


def test_functions_list_and_one(ctx):
    h = ctx.start(app_with_broken(ctx))
    fs = h.get("/admin/functions").json()
    assert [f["name"] for f in fs] == ["broken", "echo"]
    echo = h.get("/admin/functions/ECHO").json()
    assert echo["name"] == "echo"
    assert echo["trigger"] == "httpTrigger"
    assert echo["invoke_url_template"] == f"http://localhost:{h.port}/api/echo/{{*rest}}"
    assert echo["config"]["scriptFile"] == "echo.so"
    assert echo["isDisabled"] is False and echo["errors"] == []
    broken = h.get("/admin/functions/broken").json()
    assert broken["errors"] and broken["invoke_url_template"] is None
    assert h.get("/admin/functions/nope").status == 404


def test_function_status(ctx):
    h = ctx.start(app_with_broken(ctx))
    assert h.get("/admin/functions/echo/status").json() == {}
    assert "errors" in h.get("/admin/functions/broken/status").json()


def test_invoke_runs_in_background(ctx):
    h = ctx.start(app_with_broken(ctx))
    r = h.post("/admin/functions/echo", body=json.dumps({"input": "hi there"}))
    assert r.status == 202 and r.body == b""
    out = h.wait_log("Executed 'Functions.echo' (Succeeded")
    assert "Executing 'Functions.echo' (Reason='This function was programmatically called via " \
           "the host APIs.'" in out


def test_invoke_errors(ctx):
    h = ctx.start(app_with_broken(ctx))
    assert h.post("/admin/functions/echo", body="").status == 400
    assert h.post("/admin/functions/echo", body="not json").status == 400
    assert h.post("/admin/functions/nope", body="{}").status == 404
    assert h.post("/admin/functions/broken", body="{}").status == 409


def test_unknown_admin_path_is_404_and_home_page(ctx):
    h = ctx.start(ctx.path("samples", "hello"))
    assert h.get("/admin/whatever").status == 404
    r = h.get("/")
    assert r.status == 200 and b"up and running" in r.body


def test_home_page_disabled(ctx):
    h = ctx.start(ctx.path("samples", "hello"), env={"AzureWebJobsDisableHomepage": "true"})
    assert h.get("/").status == 204
