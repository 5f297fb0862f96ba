"""End-to-end tests of the HTTP front door against hostile or broken clients:
a client that pipelines without reading (memory stays bounded), upgrade and
CONNECT requests, malformed request lines, paths and headers, oversized
chunks, request smuggling, the admin API's path matching and input bytes,
function statuses a response cannot carry, and regex route constraints that
would backtrack for ever."""
import json
import os
import socket
import threading
import time

from harness import expect_reject, http_function, is_closed, read_response

SLOW_REGEX = r"(\w+\s?)+$"  # catastrophic backtracking on "aaaa...a!"


def app(ctx, http=None):
    """echo (worker), inline (echo run on the loop), status and inputlen (the
    robust fixture) and a route with a backtracking regex constraint."""
    robust = ctx.so("native", "robust")
    files = {
        "echo/function.json": http_function(route="echo/{*rest}", so="echo.so", methods=None),
        "echo/echo.so": ("copy", ctx.so("native", "echo")),
        "inline/function.json": http_function(route="inline/{*rest}", so="echo_inline.so",
                                              methods=None),
        "inline/echo_inline.so": ("copy", ctx.so("native", "echo", "echo_inline")),
        "status/function.json": http_function(route="status", so="robust.so", entry="status"),
        "status/robust.so": ("copy", robust),
        "inputlen/function.json": http_function(route="inputlen", so="robust.so",
                                                entry="inputlen"),
        "inputlen/robust.so": ("copy", robust),
        "slow/function.json": http_function(route="slow/{v:regex(" + SLOW_REGEX + ")}",
                                            so="echo_inline.so", methods=None),
        "slow/echo_inline.so": ("copy", ctx.so("native", "echo", "echo_inline")),
    }
    host_json = {"version": "2.0"}
    if http:
        host_json["extensions"] = {"http": http}
    return ctx.make_app(files, host_json)


def start(ctx, http=None):
    # a small ASan quarantine, so freed memory shows in RSS as it would
    # without the sanitizer (the option is ignored by normal builds)
    asan = os.environ.get("ASAN_OPTIONS", "")
    return ctx.start(app(ctx, http), env={"ASAN_OPTIONS": asan + ":quarantine_size_mb=8"})


def req(method, target, headers=(), body=b"", version="HTTP/1.1"):
    lines = [f"{method} {target} {version}".rstrip(), "Host: localhost"]
    names = {k.lower() for k, _ in headers}
    lines += [f"{k}: {v}" for k, v in headers]
    if body and "content-length" not in names and "transfer-encoding" not in names:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


# ---- a client that sends and never reads ------------------------------------

def send_until_refused(h, s, unit, max_seconds=6.0, limit_mb=100):
    """Pipelines copies of `unit` (whole requests) on s without reading a
    byte until the host stops taking them (no progress for a second),
    max_seconds pass or the host grew by limit_mb. Asserts that the host
    stopped reading; returns (bytes sent, the host's growth in MB)."""
    pid = h.proc.pid
    base = rss_kb(pid)
    batch = unit * max(1, 65536 // len(unit))
    sent = 0
    peak = base
    s.settimeout(1.0)
    deadline = time.time() + max_seconds
    i = 0
    stalled = False
    while time.time() < deadline:
        try:
            sent += s.send(batch[sent % len(batch):])
        except socket.timeout:
            stalled = True  # the host stopped reading
            break
        i += 1
        if i % 8 == 0:
            peak = max(peak, rss_kb(pid))
            if peak - base > limit_mb * 1024:
                break
    time.sleep(0.3)  # let the host reach its steady state
    growth = (max(peak, rss_kb(pid)) - base) / 1024
    assert stalled, f"the host read on: {sent >> 20} MB taken, grew by {growth:.0f} MB"
    return sent, growth


def flood_without_reading(h, unit, per_unit):
    """send_until_refused, then reads every answer, sends one more request
    and checks that it is answered. Returns the host's growth in MB."""
    s = h.connect(30)
    sent, growth = send_until_refused(h, s, unit)
    # now read everything: the requests sent so far, the rest of a unit cut
    # in the middle, and a last request that closes the connection
    units = -(-sent // len(unit))
    tail = unit[sent % len(unit):] if sent % len(unit) else b""
    expected = units * per_unit + 1
    got = []
    failure = []

    def reader():
        buf = b""
        try:
            while len(got) < expected:
                r, buf = read_response(s, buf=buf)
                got.append(r.status)
        except Exception as e:  # noqa: BLE001 - reported below
            failure.append(repr(e))

    s.settimeout(60)
    t = threading.Thread(target=reader)
    t.start()
    s.sendall(tail + req("GET", "/admin/host/ping", [("Connection", "close")]))
    t.join(120)
    s.close()
    assert not t.is_alive(), "answers still coming after 120 s"
    assert not failure and len(got) == expected, (failure, len(got), expected, growth)
    assert got[-1] == 200
    return growth


def test_unread_answers_do_not_grow_memory(ctx):
    """404s, the home page, the admin API and inline functions answer on the
    loop; their answers waiting for a client that does not read must stop
    the host from reading that client (it grew by 550 MB in 8 s)."""
    h = start(ctx)
    pad = [("X-Pad", "p" * 200)]
    unit = (req("GET", "/nope", pad) + req("GET", "/", pad) +
            req("GET", "/admin/host/ping", pad) +
            req("POST", "/api/inline/x", pad, body=b"i" * 2000))
    growth = flood_without_reading(h, unit, 4)
    assert growth < 100, f"the host grew by {growth:.0f} MB"
    assert h.get("/api/echo/after").status == 200


def test_unread_worker_answers_do_not_grow_memory(ctx):
    """Answers of functions run on the worker pool, released as they finish,
    must not let the host read on either."""
    h = start(ctx)
    growth = flood_without_reading(h, req("POST", "/api/echo/w", body=b"w" * 16000), 1)
    assert growth < 100, f"the host grew by {growth:.0f} MB"
    assert h.get("/api/echo/after").status == 200


def test_client_that_stops_reading_is_dropped(ctx):
    """Kestrel's minimum response data rate: a client that takes its answers
    slower than the request body's minimum rate after its grace period is
    disconnected instead of holding its unsent answers for ever."""
    h = start(ctx, {"minRequestBodyDataRate": {"bytesPerSecond": 1000,
                                               "gracePeriod": "00:00:00.500"}})
    s = h.connect(30)
    try:
        send_until_refused(h, s, req("POST", "/api/inline/x", body=b"i" * 4000))
        time.sleep(1.5)
        s.settimeout(10)
        while s.recv(1 << 20):
            pass
    except (ConnectionResetError, BrokenPipeError):
        pass
    except socket.timeout:
        raise AssertionError("the host kept the connection of a client that does not read")
    finally:
        s.close()
    assert h.get("/api/echo/after").status == 200


# ---- upgrade and CONNECT ----------------------------------------------------

def test_upgrade_and_connect_get_one_answer_then_close(ctx):
    h = start(ctx)
    upgrade = req("GET", "/api/inline/ws", [("Connection", "Upgrade"), ("Upgrade", "websocket")])
    connect = b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"
    for data, status in ((upgrade, 200), (connect, None)):
        s = h.connect(5)
        s.sendall(data + req("GET", "/api/inline/next"))
        r, rest = read_response(s)
        if status:
            assert r.status == status, r
        else:
            assert 400 <= r.status < 500, r
        assert r.headers.get("connection") == "close", r.headers
        assert is_closed(s, 2), "connection left open"
        s.close()
        assert rest == b"", f"a second answer after {data[:20]!r}: {rest[:80]!r}"
    assert h.get("/api/echo/after").status == 200


# ---- request line, path and headers ---------------------------------------

def test_nul_in_path_is_400(ctx):
    h = start(ctx)
    expect_reject(h, req("GET", "/api/echo/a%00b"), 400)
    expect_reject(h, req("GET", "/api/echo/%00"), 400)
    r = h.get("/api/echo/a%01b")
    assert r.status == 200 and r.json()["path"] == "/api/echo/a\x01b"


def test_nul_in_query_is_400(ctx):
    # a decoded parameter would end at the NUL: refused, not passed on cut
    h = start(ctx)
    expect_reject(h, req("GET", "/api/inline/q?x=a%00b"), 400)
    expect_reject(h, req("GET", "/api/inline/q?y=1&%00=2"), 400)
    r = h.get("/api/inline/q?x=a%01b&y=%0&z=%2500")
    d = r.json()
    assert r.status == 200 and d["query"] == {"x": "a\x01b", "y": "%0", "z": "%00"}, d


def test_request_target_forms(ctx):
    h = start(ctx)
    r = h.raw(req("GET", "http://example.com/api/inline/abs?x=1"))[0]
    d = r.json()
    assert r.status == 200 and d["path"] == "/api/inline/abs" and d["query"] == {"x": "1"}, d
    r = h.raw(req("GET", "HTTP://example.com?x=/api/inline/no"))[0]
    assert r.status == 200 and b"up and running" in r.body, r  # the home page
    expect_reject(h, req("GET", "foo://example.com/api/inline/x"), 400)


def test_header_values_lose_trailing_whitespace(ctx):
    h = start(ctx)
    r = h.raw(b"GET /api/inline/x HTTP/1.1\r\nHost: a\r\nX-T:  a  b \t \r\nX-E: \t\r\n\r\n")[0]
    headers = r.json()["headers"]
    assert headers["X-T"] == "a  b" and headers["X-E"] == "", headers


def test_empty_header_name_is_400(ctx):
    h = start(ctx)
    expect_reject(h, b"GET /api/echo/x HTTP/1.1\r\nHost: a\r\n: value\r\n\r\n", 400)
    expect_reject(h, b"GET /api/echo/x HTTP/1.1\r\n: value\r\nHost: a\r\n\r\n", 400)


def test_unsupported_versions_are_400(ctx):
    h = start(ctx)
    expect_reject(h, req("GET", "/api/echo/x", version="HTTP/2.0"), 400)
    expect_reject(h, req("GET", "/api/echo/x", version="HTTP/0.9"), 400)
    expect_reject(h, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400)  # the HTTP/2 preface
    # an HTTP/0.9 request line has no version and no headers: answered at once
    expect_reject(h, b"GET /api/echo/x\r\n", 400)
    expect_reject(h, b"GET /api/echo/x\r\n\r\n", 400)
    # after a good request on the same connection too
    s = h.connect(5)
    s.sendall(req("GET", "/api/inline/one") + b"GET /api/echo/x\r\n")
    r1, buf = read_response(s)
    r2, buf = read_response(s, buf=buf)
    assert (r1.status, r2.status, buf) == (200, 400, b"")
    assert is_closed(s, 2)
    s.close()


def test_chunk_over_body_limit_is_413_at_once(ctx):
    h = start(ctx, {"maxRequestBodySize": 1000,
                    "minRequestBodyDataRate": {"bytesPerSecond": 240,
                                               "gracePeriod": "00:00:05"}})
    s = h.connect(5)
    t0 = time.time()
    s.sendall(req("POST", "/api/echo/x", [("Transfer-Encoding", "chunked")]) + b"100000\r\nab")
    r, _ = read_response(s)
    assert r.status == 413, r
    assert time.time() - t0 < 2.5, "413 only after the body-rate timeout"
    assert is_closed(s, 2)
    s.close()
    # a huge chunk size does not overflow into a small one
    expect_reject(h, req("POST", "/api/echo/x", [("Transfer-Encoding", "chunked")]) +
                  b"ffffffffffffffff1\r\nab", 400)


def test_request_smuggling_shapes_are_refused(ctx):
    """Ways to make a front proxy and the host disagree on where a request
    ends are refused, never guessed."""
    h = start(ctx)
    te = "Transfer-Encoding"
    cases = [
        req("POST", "/api/echo/x", [("Content-Length", "5"), (te, "chunked")],
            b"0\r\n\r\nGET /api/echo/smuggled HTTP/1.1\r\nHost: a\r\n\r\n"),
        req("POST", "/api/echo/x", [(te, "chunked"), (te, "identity")], b"0\r\n\r\n"),
        req("POST", "/api/echo/x", [(te, "gzip")], b"abc"),
        req("POST", "/api/echo/x", [(te, " chunked, gzip")], b"abc"),
        req("POST", "/api/echo/x", [(te, "xchunked")], b"0\r\n\r\n"),
        req("POST", "/api/echo/x", [("Content-Length", "3, 3")], b"abc"),
        req("POST", "/api/echo/x", [("Content-Length", "+3")], b"abc"),
        b"POST /api/echo/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding\r\n : chunked\r\n\r\n"
        b"0\r\n\r\n",
        b"POST /api/echo/x HTTP/1.1\r\nHost: a\r\nContent-Length : 3\r\n\r\nabc",
        b"GET /api/echo/x HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n",
    ]
    for data in cases:
        s = h.connect(5)
        try:
            s.sendall(data)
            r, rest = read_response(s)
            assert r.status in (400, 501), (r, data)
            assert rest == b"" and is_closed(s, 2), (data, rest)
        finally:
            s.close()
    assert "smuggled" not in h.output


# ---- admin API -----------------------------------------------------------------

def test_admin_matched_on_the_raw_path(ctx):
    """Routes match the path as sent, so the admin API does too: an encoded
    '/%61dmin' is not the admin API (as '/api/%65cho' is not the echo route)."""
    h = start(ctx)
    assert h.get("/admin/host/status").status == 200
    assert h.get("/%61dmin/host/status").status == 404
    assert h.get("/admin/host/%73tatus").status == 404
    assert h.post("/%61dmin/functions/inputlen", "{}").status == 404
    assert h.get("/ADMIN/host/ping").status == 200


def test_admin_invoke_keeps_nul_in_input(ctx):
    h = start(ctx)
    body = json.dumps({"input": "ab\u0000cd\u00e9"})
    assert "\\u0000" in body
    r = h.post("/admin/functions/inputlen", body, headers={"Content-Type": "application/json"})
    assert r.status == 202, r
    h.wait_log("input length 7, first NUL at 2")
    # other escapes, the first "input" key and a non-string input
    r = h.post("/admin/functions/inputlen",
               '{"x": {"input": "no"}, "input": "\\ud83d\\ude00\\n\\u0000", "input": "z"}')
    assert r.status == 202, r
    h.wait_log("input length 6, first NUL at 5")
    r = h.post("/admin/functions/inputlen", '{"input": {"k": "v\\u0000"}}')
    assert r.status == 202, r
    h.wait_log("input length 16, first NUL at -1")


# ---- statuses a function may set -----------------------------------------------

def test_function_cannot_answer_with_1xx(ctx):
    h = start(ctx)
    for st in ("100", "101", "199", "99", "1000", "-200", "20x", ""):
        s = h.connect(5)
        s.sendall(req("GET", f"/api/status?status={st}") + req("GET", "/api/inline/next"))
        r1, buf = read_response(s)
        assert r1.status == 500, (st, r1)
        r2, buf = read_response(s, buf=buf)
        assert r2.status == 200 and buf == b""
        s.close()
        h.wait_log(f"status {st}: output_meta returned -22")
    out = h.wait_log("'status'")
    assert "Function 'status'" in out and "101" in out, out[-2000:]
    for st in ("200", "201", "299", "404", "599", "999"):
        r = h.get(f"/api/status?status={st}")
        assert r.status == int(st), (st, r)
        h.wait_log(f"status {st}: output_meta returned 0")


# ---- regex route constraints ---------------------------------------------------

def test_backtracking_regex_constraint_does_not_stall_the_host(ctx):
    """A regex constraint that backtracks for ever on a crafted value is cut
    off by PCRE2's match limit: the request gets a 500 and a log line naming
    the route and the parameter, and other connections are served on time."""
    h = start(ctx)
    assert h.get("/api/slow/hello").status == 200
    evil = "a" * 1000 + "!"
    s = h.connect(30)
    n = 60
    t0 = time.time()
    s.sendall(req("GET", f"/api/slow/{evil}") * n)
    other = h.get("/api/inline/other", timeout=30)
    t_other = time.time() - t0
    got, buf = [], b""
    for _ in range(n):
        r, buf = read_response(s, buf=buf)
        got.append(r.status)
    t_all = time.time() - t0
    s.close()
    assert other.status == 200
    assert set(got) == {500}, got
    assert t_all < 2.0 and t_other < 2.0, (t_all, t_other)
    out = h.wait_log("regex constraint")
    line = next(x for x in out.splitlines() if "regex constraint" in x)
    assert "'slow'" in line and "{v:regex(" in line and "'v'" in line, line


def test_running_out_of_file_descriptors_is_logged(ctx):
    import os as _os
    import socket as _socket
    wrapper = _os.path.join(ctx.tmpdir(), "fnhost-low-nofile")
    with open(wrapper, "w") as f:
        f.write(f"#!/bin/sh\nulimit -n 64\nexec {ctx.fnhost} \"$@\"\n")
    _os.chmod(wrapper, 0o755)
    real, ctx.fnhost = ctx.fnhost, wrapper
    try:
        h = ctx.start(ctx.make_app({}))
    finally:
        ctx.fnhost = real
    socks = []
    try:
        for _ in range(120):  # bounded: more than the 64 descriptors allowed
            socks.append(_socket.create_connection(("127.0.0.1", h.port), timeout=5))
        h.wait_log("Too many open files")
    finally:
        for s in socks:
            s.close()
    # once the connections close, the host serves again (it may still be
    # shedding the last of the backlog for a moment)
    import time as _time
    for _ in range(50):
        try:
            assert h.get("/admin/host/ping", timeout=5).status == 200
            break
        except (ConnectionError, OSError):
            _time.sleep(0.1)
    else:
        raise AssertionError("the host never served again after the descriptors were freed")


def test_function_cannot_inject_response_headers(ctx):
    files = {"echo/function.json": http_function(route="echo/{*rest}", so="echo.so",
                                                 methods=None),
             "echo/echo.so": ("copy", ctx.so("native", "echo"))}
    app = ctx.make_app(files)
    for args in ((), ("--in-process",)):
        h = ctx.start(app, *args)
        # a content type with CR LF would add a header: the output is refused,
        # also right after the same output slot took a valid one (slots are
        # recycled, and keep the last content type they took)
        for ctype in ("text/plain", "text/plain%0D%0ASet-Cookie:%20a=b", "text/plain",
                      "text/plain%0D%0ASet-Cookie:%20a=b"):
            r = h.get("/api/echo/x?ctype=" + ctype)
            if "%0D" in ctype:
                assert r.status == 500 and "set-cookie" not in r.headers, (args, r.headers)
            else:
                assert r.status == 200 and r.headers["content-type"] == "text/plain", (args, r)
        # a header name that is no HTTP token is refused; the rest of the answer stands
        r = h.get("/api/echo/x?header=Bad/Name:v")
        assert r.status == 200 and "bad/name" not in r.headers, (args, r.headers)
        r = h.get("/api/echo/x?header=X-Ctl:a%01b")
        assert r.status == 200 and "x-ctl" not in r.headers, (args, r.headers)
        h.stop()
