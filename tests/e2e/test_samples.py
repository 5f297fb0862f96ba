"""End-to-end tests of the samples: samples/hello answers as documented."""


def test_hello_get_default(ctx):
    h = ctx.start(ctx.path("samples", "hello"))
    r = h.get("/api/hello")
    assert r.status == 200, r
    assert r.body == b"Hello, world"
    assert r.headers["content-type"] == "text/plain; charset=utf-8"


def test_hello_query_and_json_body(ctx):
    h = ctx.start(ctx.path("samples", "hello"))
    assert h.get("/api/hello?name=Ann").body == b"Hello, Ann"
    assert h.get("/api/hello?name=J%C3%BCrgen%20K").text == "Hello, J\u00fcrgen K"
    r = h.post("/api/hello", body='{"name": "Bob"}', headers={"Content-Type": "application/json"})
    assert (r.status, r.body) == (200, b"Hello, Bob")


def test_hello_logs_invocations(ctx):
    h = ctx.start(ctx.path("samples", "hello"))
    h.get("/api/hello")
    out = h.wait_log("Executed 'Functions.hello' (Succeeded")
    assert "Executing 'Functions.hello' (Reason='This function was programmatically called " \
           "via the host APIs.', Id=" in out
    assert "\thello: [GET,POST] http://localhost:" in out


def test_hello_wrong_method_is_404(ctx):
    h = ctx.start(ctx.path("samples", "hello"))
    assert h.request("PUT", "/api/hello").status == 404
    assert h.request("DELETE", "/api/hello").status == 404
