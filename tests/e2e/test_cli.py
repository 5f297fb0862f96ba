"""End-to-end tests of the command line: version, help, routes listing and
--match (a contract scripts rely on), port in use, signals, JSON logs."""
import json
import signal
import socket
import time


def test_version_and_help(ctx):
    p = ctx.run("--version")
    assert p.returncode == 0 and p.stdout.startswith("fnhost ")
    p = ctx.run("help")
    assert p.returncode == 0 and "fnhost start" in p.stdout and "fnhost routes" in p.stdout
    p = ctx.run("bogus")
    assert p.returncode == 2 and "unknown command 'bogus'" in p.stderr
    p = ctx.run("start", "--nope")
    assert p.returncode == 2 and "unknown or incomplete option '--nope'" in p.stderr


def test_routes_list_most_specific_first(ctx):
    p = ctx.run("routes", "--script-root", ctx.path("samples", "http-routes"))
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].split() == ["METHODS", "ROUTE", "FUNCTION"]
    rows = [line.split() for line in lines[1:]]
    names = [r[-1] for r in rows]
    assert names.index("product-by-id") < names.index("products")
    assert names[-1] == "docs"  # the catch-all comes last
    assert ["GET,DELETE", "api/products/{id:guid}", "product-by-id"] in rows


def match(ctx, method, path, root=None):
    return ctx.run("routes", "--script-root", root or ctx.path("samples", "http-routes"),
                   "--match", method, path)


def test_routes_match_json_line(ctx):
    p = match(ctx, "GET", "/api/products/Shoes")
    assert p.returncode == 0
    assert p.stdout == '{"function":"products","params":{"category":"Shoes","page":"1"}}\n'
    p = match(ctx, "get", "api/products/3fa85f64-5717-4562-b3fc-2c963f66afa6?x=1")
    assert json.loads(p.stdout) == {"function": "product-by-id",
                                    "params": {"id": "3fa85f64-5717-4562-b3fc-2c963f66afa6"}}
    p = match(ctx, "GET", "/api/files/report.tar.gz")
    assert json.loads(p.stdout)["params"] == {"name": "report.tar", "ext": "gz"}
    p = match(ctx, "GET", "/API/HELLO/en-GB/")
    assert json.loads(p.stdout) == {"function": "locale", "params": {"lang": "en", "region": "GB"}}


def test_routes_no_match(ctx):
    for method, path in (("POST", "/api/files/a.b"), ("GET", "/api/products/Shoes/0"),
                         ("GET", "/api/hello/eng-GB"), ("GET", "/nothing")):
        p = match(ctx, method, path)
        assert (p.returncode, p.stdout) == (1, "no match\n"), (method, path, p.stdout)


def test_routes_optional_is_null(ctx):
    app = ctx.make_app({"f/function.json": {"bindings": [
        {"type": "httpTrigger", "direction": "in", "name": "req", "route": "items/{id:int?}"}],
        "scriptFile": "f.so"}})
    p = match(ctx, "GET", "/api/items", root=app)
    assert p.stdout == '{"function":"f","params":{"id":null}}\n'


def test_routes_overlap_warning(ctx):
    app = ctx.make_app({
        "details/function.json": {"bindings": [{"type": "httpTrigger", "direction": "in",
                                                "name": "req", "route": "products/{id}"}],
                                  "scriptFile": "f.so"},
        "list/function.json": {"bindings": [{"type": "httpTrigger", "direction": "in",
                                             "name": "req", "route": "products/list"}],
                               "scriptFile": "f.so"}})
    p = match(ctx, "GET", "/api/products/list", root=app)
    # Azure would pick 'details' (alphabetical); the most specific route wins here
    assert json.loads(p.stdout)["function"] == "list"
    assert "warning: Routes 'api/products/{id}' (function 'details') and 'api/products/list' " \
           "(function 'list') can match the same path" in p.stderr or \
           "warning: Routes 'api/products/list' (function 'list') and 'api/products/{id}' " \
           "(function 'details') can match the same path" in p.stderr


def test_port_in_use(ctx):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    port = s.getsockname()[1]
    try:
        p = ctx.run("start", "--script-root", ctx.path("samples", "hello"), "--port", str(port))
        assert p.returncode == 1
        assert f"Port {port} is unavailable. Close the process using that port, or specify " \
               "another port using --port." in p.stdout
    finally:
        s.close()


def test_sigint_exits_zero_and_releases_port(ctx):
    h = ctx.start(ctx.path("samples", "hello"))
    assert h.get("/api/hello").status == 200
    assert h.stop(signal.SIGINT) == 0
    s = socket.socket()
    s.bind(("127.0.0.1", h.port))
    s.close()


def test_sigterm_finishes_in_flight_invocation(ctx):
    from harness import http_function
    app = ctx.make_app({"echo/function.json": http_function(route="e", so="echo.so"),
                        "echo/echo.so": ("copy", ctx.so("native", "echo"))})
    h = ctx.start(app)
    c = h.connect()
    c.sendall(b"GET /api/e?sleep_ms=700 HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.2)
    h.proc.send_signal(signal.SIGTERM)
    from harness import read_response
    r, _ = read_response(c)
    assert r.status == 200
    c.close()
    assert h.wait_exit() == 0


def test_json_logs(ctx):
    h = ctx.start(ctx.path("samples", "hello"), "--json-logs")
    h.get("/api/hello")
    h.wait_log("Executed 'Functions.hello'")
    lines = [json.loads(line) for line in h.output.splitlines() if line.startswith("{")]
    executed = [x for x in lines if x["message"].startswith("Executed 'Functions.hello'")]
    assert executed and executed[0]["level"] == "Information"
    assert executed[0]["category"] == "Function.hello"


def test_verbose_shows_route_mapping(ctx):
    h = ctx.start(ctx.path("samples", "hello"), "--verbose")
    assert "Mapped function route 'api/hello' [get,post] to 'hello'" in h.output
