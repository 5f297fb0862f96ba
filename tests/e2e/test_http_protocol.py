"""End-to-end tests of the HTTP/1.1 server (host/src/http/http_server.c) over raw
sockets: keep-alive, pipelining and response order, chunked and fixed
bodies, Expect: 100-continue, HEAD, Kestrel's limits (414, 431, 413, 400),
the header, keep-alive and body-rate timeouts, concurrency and graceful
shutdown. Timeouts are made small through host.json so every test is fast."""
import json
import signal
import socket
import threading
import time

from harness import expect_reject, http_function, is_closed, read_response

# small timeouts for the timeout tests (Kestrel's are 30 s and 130 s)
FAST_TIMEOUTS = {
    "requestHeadersTimeout": "00:00:00.400",
    "keepAliveTimeout": "00:00:00.600",
    "minRequestBodyDataRate": {"bytesPerSecond": 1000, "gracePeriod": "00:00:00.400"},
}


def app(ctx, http=None):
    """An app with the echo fixture twice: 'echo' (runs on a worker) and
    'inline' (declared non-blocking, runs on the loop thread)."""
    files = {
        "echo/function.json": http_function(route="echo/{*rest}", so="echo.so", methods=None),
        "echo/echo.so": ("copy", ctx.so("native", "echo")),
        "inline/function.json": http_function(route="inline/{*rest}", so="echo_inline.so",
                                              methods=None),
        "inline/echo_inline.so": ("copy", ctx.so("native", "echo", "echo_inline")),
    }
    host_json = {"version": "2.0"}
    if http:
        host_json["extensions"] = {"http": http}
    return ctx.make_app(files, host_json)


def req(method, target, headers=(), body=b"", version="1.1", host=True):
    """Bytes of one request; a Content-Length is added for a body unless a
    header already says how the body is framed."""
    lines = [f"{method} {target} HTTP/{version}"]
    if host:
        lines.append("Host: localhost")
    names = {k.lower() for k, _ in headers}
    lines += [f"{k}: {v}" for k, v in headers]
    if body and "content-length" not in names and "transfer-encoding" not in names:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def echo_json(resp):
    """The echo function's answer; bytes >= 0x80 survive as latin-1."""
    return json.loads(resp.body.decode("latin-1"))


def body_bytes(resp):
    d = echo_json(resp)
    assert d["bodyLength"] == len(d["body"].encode("latin-1")), d
    return d["body"].encode("latin-1")


def read_all(sock, n, buf=b"", head=False):
    out = []
    for _ in range(n):
        r, buf = read_response(sock, head, buf)
        out.append(r)
    return out, buf


def nothing_more(sock, wait=0.3):
    """True when no byte arrives within wait seconds (connection still open)."""
    sock.settimeout(wait)
    try:
        data = sock.recv(1)
        return False
    except socket.timeout:
        return True


# ---- keep-alive and connection close ------------------------------------

def test_keep_alive_many_requests(ctx):
    h = ctx.start(app(ctx))
    s = h.connect()
    buf = b""
    ids = set()
    for i in range(6):
        path = f"/api/{'echo' if i % 2 else 'inline'}/ka{i}?n={i}"
        s.sendall(req("GET", path))
        r, buf = read_response(s, buf=buf)
        assert r.status == 200, r
        assert "connection" not in r.headers, r.headers
        d = echo_json(r)
        assert d["url"] == path and d["query"]["n"] == str(i)
        ids.add(d["id"])
    assert len(ids) == 6 and buf == b""
    assert nothing_more(s, 0.2), "keep-alive connection closed"
    s.close()


def test_http10_closes_unless_keep_alive(ctx):
    h = ctx.start(app(ctx))
    s = h.connect()
    s.sendall(req("GET", "/api/echo/old", version="1.0", host=False))
    r, rest = read_response(s)
    assert r.status == 200 and echo_json(r)["path"] == "/api/echo/old"
    assert rest == b""
    assert is_closed(s, 2), "HTTP/1.0 connection without keep-alive stayed open"
    s.close()
    # HTTP/1.0 asking for keep-alive keeps the connection
    s = h.connect()
    buf = b""
    for i in range(2):
        s.sendall(req("GET", f"/api/echo/k{i}", [("Connection", "keep-alive")], version="1.0"))
        r, buf = read_response(s, buf=buf)
        assert r.status == 200 and echo_json(r)["path"] == f"/api/echo/k{i}"
        assert r.headers.get("connection", "").lower() == "keep-alive", r.headers
    s.close()


def test_connection_close_closes(ctx):
    h = ctx.start(app(ctx))
    s = h.connect()
    # the request after the closing one is never answered
    s.sendall(req("GET", "/api/echo/a", [("Connection", "close")]) + req("GET", "/api/echo/b"))
    r, rest = read_response(s)
    assert r.status == 200 and echo_json(r)["path"] == "/api/echo/a"
    assert r.headers["connection"] == "close"
    assert rest == b""
    assert is_closed(s, 2)
    s.close()


def test_half_close_still_gets_answers(ctx):
    """A client that shuts down its sending side after its requests still
    gets every answer, then the host closes; an unfinished request it left
    behind is dropped without losing the answers before it."""
    h = ctx.start(app(ctx))
    s = h.connect()
    s.sendall(req("GET", "/api/echo/slow?sleep_ms=300&n=0") + req("GET", "/api/inline/x?n=1") +
              req("POST", "/api/echo/y?n=2", body=b"abc"))
    s.shutdown(socket.SHUT_WR)
    got, rest = read_all(s, 3)
    assert [echo_json(r)["query"]["n"] for r in got] == ["0", "1", "2"]
    assert rest == b"" and is_closed(s, 2)
    s.close()
    s = h.connect()
    s.sendall(req("GET", "/api/echo/slow?sleep_ms=300") + b"POST /api/echo/z HTTP/1.1\r\nHo")
    s.shutdown(socket.SHUT_WR)
    r, rest = read_response(s)
    assert r.status == 200 and echo_json(r)["path"] == "/api/echo/slow"
    assert rest == b"" and is_closed(s, 2)
    s.close()


# ---- pipelining -----------------------------------------------------------

def test_pipelining_in_order(ctx):
    h = ctx.start(app(ctx))
    s = h.connect()
    data = b""
    expect = []
    for i in range(20):
        fn = "inline" if i % 3 == 0 else "echo"
        q = f"n={i}"
        if i == 2:
            q += "&sleep_ms=400"  # later requests finish first
        if i == 9:
            data += req("GET", f"/api/nothing/{i}")
            expect.append((404, None))
            continue
        if i == 13:
            data += req("POST", f"/api/{fn}/p{i}?{q}", body=b"x" * i)
        else:
            data += req("GET", f"/api/{fn}/p{i}?{q}")
        expect.append((200, str(i)))
    s.sendall(data)
    t0 = time.time()
    got, rest = read_all(s, 20)
    assert time.time() - t0 >= 0.35
    assert rest == b""
    for i, (r, (status, n)) in enumerate(zip(got, expect)):
        assert r.status == status, (i, r)
        if n is not None:
            d = echo_json(r)
            assert d["query"]["n"] == n, (i, d["url"])
            assert d["path"].endswith(f"/p{n}")
    assert echo_json(got[13])["body"] == "x" * 13
    # the connection still works afterwards
    s.sendall(req("GET", "/api/echo/after"))
    r, _ = read_response(s)
    assert echo_json(r)["path"] == "/api/echo/after"
    s.close()


def test_pipelined_worker_then_inline_order(ctx):
    h = ctx.start(app(ctx))
    s = h.connect()
    s.sendall(req("GET", "/api/echo/slow?sleep_ms=300&n=0") +
              b"".join(req("GET", f"/api/inline/fast?n={i}") for i in range(1, 6)) +
              req("GET", "/api/echo/w?n=6&status=202"))
    got, _ = read_all(s, 7)
    assert [echo_json(r)["query"]["n"] for r in got] == [str(i) for i in range(7)]
    assert [r.status for r in got] == [200] * 6 + [202]
    s.close()


def test_many_pipelined_requests_split_writes(ctx):
    """More requests than the per-connection in-flight cap, fed in odd-sized
    pieces so requests straddle reads."""
    h = ctx.start(app(ctx))
    s = h.connect()
    n = 150
    data = b"".join(req("POST" if i % 2 else "GET", f"/api/{'inline' if i % 4 else 'echo'}/m?n={i}",
                        body=(b"b%d" % i) if i % 2 else b"") for i in range(n))

    def send():
        for off in range(0, len(data), 777):
            s.sendall(data[off:off + 777])
    t = threading.Thread(target=send)
    t.start()
    got, rest = read_all(s, n)
    t.join()
    assert rest == b""
    for i, r in enumerate(got):
        d = echo_json(r)
        assert d["query"]["n"] == str(i), (i, d["url"])
        assert d["body"] == (f"b{i}" if i % 2 else "")
    s.close()


# ---- request bodies -------------------------------------------------------

BINARY = bytes(range(256)) * 3 + b"\0\0end\0"


def test_content_length_body_exact(ctx):
    h = ctx.start(app(ctx))
    s = h.connect()
    data = req("POST", "/api/echo/cl", [("Content-Type", "application/octet-stream")],
               body=BINARY)
    # headers and body in several packets
    for off in range(0, len(data), 100):
        s.sendall(data[off:off + 100])
        time.sleep(0.002)
    r, _ = read_response(s)
    assert r.status == 200
    assert body_bytes(r) == BINARY
    # an empty body and Content-Length: 0
    s.sendall(req("POST", "/api/echo/cl0", [("Content-Length", "0")]))
    r, _ = read_response(s)
    assert echo_json(r)["bodyLength"] == 0
    s.close()


def test_chunked_body_with_extensions_and_trailers(ctx):
    h = ctx.start(app(ctx))
    s = h.connect()
    parts = [BINARY[:1], BINARY[1:300], BINARY[300:]]
    # llhttp 8.1 refuses several name=value extensions on one chunk and
    # quoted values with spaces; one value each, or bare names, it takes
    exts = [b";name=value", b';q="x"', b";a;b"]
    body = b"".join(b"%x%s\r\n" % (len(p), e) + p + b"\r\n" for p, e in zip(parts, exts))
    body += b"0;last=1\r\nX-Trailer: one\r\nX-Other: two\r\n\r\n"
    head = req("POST", "/api/inline/chunked", [("Transfer-Encoding", "chunked")])
    s.sendall(head + body + req("GET", "/api/echo/next?n=2"))
    (r1, r2), _ = read_all(s, 2)
    assert r1.status == 200, r1
    assert body_bytes(r1) == BINARY
    assert echo_json(r1)["headers"].get("Transfer-Encoding") == "chunked"
    assert r2.status == 200 and echo_json(r2)["query"]["n"] == "2"
    # the same byte by byte in small writes, without trailers
    data = req("POST", "/api/echo/chunked2", [("Transfer-Encoding", "chunked")]) + \
        b"5\r\nhello\r\n1\r\n\0\r\nA\r\n0123456789\r\n0\r\n\r\n"
    for off in range(0, len(data), 7):
        s.sendall(data[off:off + 7])
        time.sleep(0.001)
    r, _ = read_response(s)
    assert body_bytes(r) == b"hello\0" + b"0123456789"
    s.close()


# ---- Expect: 100-continue ---------------------------------------------------

def test_expect_100_continue(ctx):
    h = ctx.start(app(ctx, {"maxRequestBodySize": 1000}))
    s = h.connect(3)
    s.sendall(req("POST", "/api/echo/exp", [("Expect", "100-continue"),
                                            ("Content-Length", "10")]))
    r, buf = read_response(s)  # before any body byte was sent
    assert r.status == 100, r
    assert buf == b""
    s.sendall(b"0123456789")
    r, buf = read_response(s, buf=buf)
    assert r.status == 200 and body_bytes(r) == b"0123456789"
    # a second one on the same (now idle) connection also gets its 100
    s.sendall(req("POST", "/api/inline/exp2", [("Expect", "100-continue"),
                                               ("Transfer-Encoding", "chunked")]))
    r, buf = read_response(s, buf=buf)
    assert r.status == 100, r
    s.sendall(b"3\r\nabc\r\n0\r\n\r\n")
    r, buf = read_response(s, buf=buf)
    assert r.status == 200 and body_bytes(r) == b"abc"
    s.close()
    # too large: 413 at once, no 100, no waiting for the body
    s = h.connect(3)
    s.sendall(req("POST", "/api/echo/big", [("Expect", "100-continue"),
                                            ("Content-Length", "5000")]))
    t0 = time.time()
    r, rest = read_response(s)
    assert r.status == 413, r
    assert time.time() - t0 < 1.0
    assert is_closed(s, 2)
    s.close()


def test_expect_100_continue_only_when_a_body_comes(ctx):
    """A request without a body gets its answer and no 100 Continue, whatever
    its Expect header says."""
    h = ctx.start(app(ctx))
    s = h.connect(3)
    s.sendall(req("GET", "/api/echo/a", [("Expect", "100-continue")]) +
              req("POST", "/api/inline/b", [("expect", "100-Continue"), ("Content-Length", "0")]))
    (r1, r2), rest = read_all(s, 2)
    assert (r1.status, r2.status) == (200, 200), (r1, r2)
    assert echo_json(r1)["path"] == "/api/echo/a" and echo_json(r2)["path"] == "/api/inline/b"
    assert rest == b"" and nothing_more(s)
    s.close()


def test_expect_100_continue_behind_in_flight_request(ctx):
    """The 100 Continue of a pipelined request waits for the responses
    before it, then comes (the client needs it to send the body)."""
    h = ctx.start(app(ctx))
    s = h.connect(3)
    s.sendall(req("GET", "/api/echo/slow?sleep_ms=300") +
              req("POST", "/api/echo/exp", [("Expect", "100-continue"),
                                            ("Content-Length", "3")]))
    r, buf = read_response(s)
    assert r.status == 200 and echo_json(r)["path"] == "/api/echo/slow"
    r, buf = read_response(s, buf=buf)
    assert r.status == 100, r
    s.sendall(b"xyz")
    r, buf = read_response(s, buf=buf)
    assert r.status == 200 and body_bytes(r) == b"xyz"
    s.close()


def test_expect_100_continue_body_clock_starts_at_the_100(ctx):
    """A client waiting for its 100 Continue behind a slow request cannot
    send its body; the minimum data rate must not count that wait."""
    h = ctx.start(app(ctx, FAST_TIMEOUTS))  # 1000 B/s after a 0.4 s grace
    s = h.connect(5)
    s.sendall(req("GET", "/api/echo/slow?sleep_ms=900") +
              req("POST", "/api/echo/exp", [("Expect", "100-continue"),
                                            ("Content-Length", "500")]))
    r, buf = read_response(s)
    assert r.status == 200 and echo_json(r)["path"] == "/api/echo/slow"
    r, buf = read_response(s, buf=buf)
    assert r.status == 100, r
    # 250 bytes in 0.25 s is fine from the 100 on, far too slow from the headers
    s.sendall(b"z" * 250)
    time.sleep(0.25)
    s.sendall(b"z" * 250)
    r, buf = read_response(s, buf=buf)
    assert r.status == 200 and echo_json(r)["bodyLength"] == 500
    s.close()


# ---- HEAD -------------------------------------------------------------------

def test_head_has_get_headers_and_no_body(ctx):
    h = ctx.start(app(ctx))
    for path in ("/", "/api/echo/h?setting=NO_SUCH_SETTING&ctype=text/x-test",
                 "/api/inline/h?setting=NO_SUCH_SETTING"):
        s = h.connect()
        s.sendall(req("GET", path))
        g, _ = read_response(s)
        assert g.status == 200 and len(g.body) > 0
        # HEAD then GET pipelined: the HEAD answer must carry no body bytes
        s.sendall(req("HEAD", path) + req("GET", path))
        hd, buf = read_response(s, head=True)
        assert hd.status == 200
        assert hd.headers["content-length"] == str(len(g.body)), (path, hd.headers)
        assert hd.headers.get("content-type") == g.headers.get("content-type")
        g2, buf = read_response(s, buf=buf)
        assert g2.status == 200 and g2.body == g.body, (path, buf[:100])
        assert buf == b""
        # a lone HEAD: nothing after its headers
        s.sendall(req("HEAD", path))
        hd, buf = read_response(s, head=True)
        assert buf == b"" and nothing_more(s, 0.2)
        s.close()
    # HEAD of the echo itself: the body it would have is one byte longer than
    # GET's ("HEAD" vs "GET"), and still none is sent
    s = h.connect()
    s.sendall(req("GET", "/api/echo/x?n=1"))
    g, _ = read_response(s)
    s.sendall(req("HEAD", "/api/echo/x?n=1"))
    hd, buf = read_response(s, head=True)
    assert int(hd.headers["content-length"]) == len(g.body) + 1
    assert buf == b"" and nothing_more(s, 0.2)
    s.close()


# ---- limits -----------------------------------------------------------------

def test_request_line_limit_414(ctx):
    h = ctx.start(app(ctx))
    ok = h.raw(req("GET", "/api/echo/x?q=" + "a" * 8000))[0]
    assert ok.status == 200 and len(echo_json(ok)["query"]["q"]) == 8000
    r = expect_reject(h, req("GET", "/api/echo/x?q=" + "a" * 8200), 414)
    assert r.body == b""
    # also when the line arrives in pieces
    s = h.connect()
    s.sendall(b"GET /api/echo/x?q=")
    for _ in range(10):
        s.sendall(b"b" * 1000)
        time.sleep(0.005)
    r, _ = read_response(s)
    assert r.status == 414
    assert is_closed(s, 2)
    s.close()


def test_header_size_limit_431(ctx):
    h = ctx.start(app(ctx))
    small = [(f"X-H{i}", "v" * 1500) for i in range(18)]  # ~27 KB
    r = h.raw(req("GET", "/api/echo/x", small))[0]
    assert r.status == 200 and echo_json(r)["headers"]["X-H17"] == "v" * 1500
    big = [(f"X-H{i}", "v" * 1500) for i in range(24)]  # ~36 KB
    expect_reject(h, req("GET", "/api/echo/x", big), 431)
    # one huge header value sent slowly
    s = h.connect()
    s.sendall(b"GET /api/echo/x HTTP/1.1\r\nHost: a\r\nX-Big: ")
    for _ in range(40):
        s.sendall(b"z" * 1000)
    r, _ = read_response(s)
    assert r.status == 431
    assert is_closed(s, 2)
    s.close()


def test_header_count_limit_431(ctx):
    h = ctx.start(app(ctx))
    ok = [(f"X-N{i}", str(i)) for i in range(99)]  # + Host = 100
    r = h.raw(req("GET", "/api/echo/x", ok))[0]
    assert r.status == 200 and echo_json(r)["headers"]["X-N98"] == "98"
    expect_reject(h, req("GET", "/api/echo/x", ok + [("X-N99", "99")]), 431)


def test_body_limit_413(ctx):
    h = ctx.start(app(ctx, {"maxRequestBodySize": 1000}))
    r = h.raw(req("POST", "/api/echo/x", body=b"a" * 1000))[0]
    assert r.status == 200 and echo_json(r)["bodyLength"] == 1000
    expect_reject(h, req("POST", "/api/echo/x", body=b"a" * 1001), 413)
    # Content-Length over the limit is refused before the body arrives
    expect_reject(h, req("POST", "/api/echo/x", [("Content-Length", "1001")]), 413)
    chunked = [("Transfer-Encoding", "chunked")]
    r = h.raw(req("POST", "/api/echo/x", chunked) + b"1f4\r\n" + b"c" * 500 +
              b"\r\n1f4\r\n" + b"d" * 500 + b"\r\n0\r\n\r\n")[0]
    assert r.status == 200 and echo_json(r)["bodyLength"] == 1000
    expect_reject(h, req("POST", "/api/echo/x", chunked) + b"1f4\r\n" + b"c" * 500 +
                  b"\r\n1f5\r\n" + b"d" * 501 + b"\r\n0\r\n\r\n", 413)
    # a chunked body that keeps coming past the limit is cut off at once
    s = h.connect()
    s.sendall(req("POST", "/api/echo/x", chunked) + b"800\r\n" + b"e" * 1200)
    r, _ = read_response(s)
    assert r.status == 413
    assert is_closed(s, 2)
    s.close()


def test_malformed_requests_400(ctx):
    h = ctx.start(app(ctx))
    cases = [
        b"HELLO THERE\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\0" * 40,  # a TLS hello
        req("POST", "/api/echo/x", [("Transfer-Encoding", "chunked")]) + b"zz\r\nabc\r\n0\r\n\r\n",
        req("GET", "/api/echo/x", [("Bad Header", "x")]),
        req("GET", "/api/echo/x", [("X(y)", "x")]),
        req("POST", "/api/echo/x", [("Content-Length", "3"), ("Transfer-Encoding", "chunked")],
            b"3\r\nabc\r\n0\r\n\r\n"),
        req("POST", "/api/echo/x", [("Content-Length", "3"), ("Content-Length", "4")], b"abcd"),
        req("POST", "/api/echo/x", [("Content-Length", "-1")]),
        req("GET", "/api/echo/x", version="1.1", host=True).replace(b"HTTP/1.1", b"HTTP/9.9"),
    ]
    for data in cases:
        expect_reject(h, data, 400)
    # a good request before the bad one is still answered, in order
    s = h.connect()
    s.sendall(req("GET", "/api/echo/slowgood?sleep_ms=200") + b"GARBAGE\r\n\r\n")
    (r1, r2), rest = read_all(s, 2)
    assert r1.status == 200 and echo_json(r1)["path"] == "/api/echo/slowgood"
    assert r2.status == 400 and rest == b""
    assert is_closed(s, 2)
    s.close()
    # the host goes on
    assert h.get("/api/echo/fine").status == 200


def test_rejection_survives_unread_input(ctx):
    """A client still sending when the host rejects its request (a 413 for
    an upload, a 400) can finish sending and then read the answer: the host
    half-closes and drains its input for a while instead of closing, which
    would reset the connection (the client's next send fails with EPIPE or
    ECONNRESET and it never sees the status)."""
    h = ctx.start(app(ctx, {"maxRequestBodySize": 1000}))
    for first, status in ((b"GARBAGE\r\n\r\n", 400),
                          (req("POST", "/api/echo/x", [("Content-Length", "300000")]), 413)):
        s = h.connect(5)
        s.sendall(first)
        time.sleep(0.1)  # the host has answered and ended the connection
        for _ in range(30):
            s.sendall(b"y" * 10000)  # must not fail
            time.sleep(0.001)
        r, _ = read_response(s)
        assert r.status == status
        assert is_closed(s, 2)
        s.close()


# ---- timeouts ---------------------------------------------------------------

def test_request_headers_timeout_408(ctx):
    h = ctx.start(app(ctx, FAST_TIMEOUTS))
    s = h.connect(5)
    s.sendall(b"GET /api/echo/x HTTP/1.1\r\nHost: a\r\n")
    t0 = time.time()
    r, _ = read_response(s)
    waited = time.time() - t0
    assert r.status == 408, r
    assert 0.3 <= waited < 2.0, waited
    assert is_closed(s, 2)
    s.close()
    # the timeout restarts with each request on a kept-alive connection
    s = h.connect(5)
    buf = b""
    for i in range(3):
        time.sleep(0.25)
        s.sendall(req("GET", f"/api/echo/k{i}"))
        r, buf = read_response(s, buf=buf)
        assert r.status == 200
    s.close()


def test_keep_alive_timeout_closes_idle(ctx):
    h = ctx.start(app(ctx, FAST_TIMEOUTS))
    s = h.connect(5)
    s.sendall(req("GET", "/api/echo/x"))
    r, _ = read_response(s)
    assert r.status == 200
    t0 = time.time()
    assert nothing_more(s, 0.3), "closed before the keep-alive timeout"
    assert is_closed(s, 2), "idle connection not closed"
    assert 0.5 <= time.time() - t0 < 2.0
    s.close()
    # a request that runs longer than the keep-alive timeout is not cut off
    s = h.connect(5)
    s.sendall(req("GET", "/api/echo/x?sleep_ms=900"))
    r, _ = read_response(s)
    assert r.status == 200
    s.close()


def test_silent_new_connection_closed_after_keep_alive_timeout(ctx):
    h = ctx.start(app(ctx, FAST_TIMEOUTS))
    s = h.connect(5)
    t0 = time.time()
    assert nothing_more(s, 0.3)
    assert is_closed(s, 2), "silent connection not closed"
    assert 0.5 <= time.time() - t0 < 2.0
    s.close()


def test_min_body_data_rate_408(ctx):
    h = ctx.start(app(ctx, FAST_TIMEOUTS))
    # fast enough: 100000 bytes in a few writes
    r = h.raw(req("POST", "/api/echo/x", body=b"f" * 100000))[0]
    assert r.status == 200 and echo_json(r)["bodyLength"] == 100000
    # a trickle of ~100 B/s, far below 1000 B/s
    s = h.connect(5)
    s.sendall(req("POST", "/api/echo/x", [("Content-Length", "100000")]))
    t0 = time.time()
    got = None
    try:
        while time.time() - t0 < 3:
            s.sendall(b"t" * 10)
            s.settimeout(0.1)
            try:
                data = s.recv(65536)
            except socket.timeout:
                continue
            got = data
            break
    except (BrokenPipeError, ConnectionResetError):
        got = b""
    waited = time.time() - t0
    assert got is not None, "slow body not cut off"
    assert got == b"" or got.startswith(b"HTTP/1.1 408 "), got
    assert waited >= 0.35, waited
    s.close()


def test_slow_but_steady_body_within_rate(ctx):
    """A body arriving above the minimum rate is not cut off even though it
    takes longer than the grace period."""
    h = ctx.start(app(ctx, FAST_TIMEOUTS))
    s = h.connect(5)
    s.sendall(req("POST", "/api/echo/x", [("Content-Length", "4000")]))
    for _ in range(10):
        s.sendall(b"s" * 400)  # ~4000 B/s
        time.sleep(0.1)
    r, _ = read_response(s)
    assert r.status == 200 and echo_json(r)["bodyLength"] == 4000
    s.close()


# ---- statuses, concurrency --------------------------------------------------

def test_statuses_and_custom_headers(ctx):
    h = ctx.start(app(ctx))
    for fn in ("echo", "inline"):
        s = h.connect()
        s.sendall(req("GET", f"/api/{fn}/x?noresp=1") + req("GET", f"/api/{fn}/x?fail=1") +
                  req("GET", f"/api/{fn}/x?status=201&header=X-Custom:some%20value") +
                  req("GET", f"/api/{fn}/x?status=418"))
        (r204, r500, r201, r418), rest = read_all(s, 4)
        assert r204.status == 204 and r204.body == b""
        assert "content-length" not in r204.headers
        assert r500.status == 500 and r500.headers["content-length"] == "0"
        assert r201.status == 201 and r201.headers["x-custom"] == "some value"
        assert echo_json(r201)["path"] == f"/api/{fn}/x"
        assert r418.status == 418
        assert rest == b""
        s.close()


def test_server_written_headers_come_once(ctx):
    """Content-Length, Date, Connection and Transfer-Encoding are the
    server's, in whatever case a function names them; a function's
    Content-Type (in any case) is the one sent. Each comes once, with the
    status line the function asked for, also when statuses alternate on one
    connection."""
    h = ctx.start(app(ctx))
    for fn in ("echo", "inline"):
        s = h.connect()
        queries = ["header=content-LENGTH:99", "status=201&header=DATE:yesterday",
                   "header=connection:close", "status=404&header=tRANSFER-eNCODING:chunked",
                   "status=201&header=cONTENT-tYPE:text/x", "header=Content-Typo:y"]
        s.sendall(b"".join(req("GET", f"/api/{fn}/x?{q}") for q in queries))
        buf = b""
        for q in queries:
            while b"\r\n\r\n" not in buf:
                buf += s.recv(65536)
            lines = buf[:buf.index(b"\r\n\r\n")].decode("latin-1").split("\r\n")
            r, buf = read_response(s, buf=buf)
            names = sorted(line.partition(":")[0].lower() for line in lines[1:])
            want = 201 if "status=201" in q else 404 if "status=404" in q else 200
            assert lines[0] == {200: "HTTP/1.1 200 OK", 201: "HTTP/1.1 201 Created",
                                404: "HTTP/1.1 404 Not Found"}[want], (q, lines)
            extra = ["content-typo"] if "Typo" in q else []
            assert names == sorted(["content-length", "content-type", "date"] + extra), (q, lines)
            assert r.headers["content-length"] == str(len(r.body)), (q, lines)
            assert r.headers["date"] != "yesterday", (q, lines)
            ctype = "text/x" if "cONTENT" in q else "application/json"
            assert r.headers["content-type"] == ctype, (q, lines)
        assert buf == b"" and nothing_more(s)
        s.close()


def test_many_concurrent_connections(ctx):
    h = ctx.start(app(ctx))
    errors = []

    def client(t):
        try:
            s = h.connect(20)
            buf = b""
            for i in range(20):
                fn = "inline" if (t + i) % 2 else "echo"
                path = f"/api/{fn}/c{t}?i={i}"
                s.sendall(req("POST", path, body=b"%d-%d" % (t, i)))
                r, buf = read_response(s, buf=buf)
                d = echo_json(r)
                if r.status != 200 or d["url"] != path or d["body"] != f"{t}-{i}":
                    errors.append((t, i, r))
            s.close()
        except Exception as e:  # noqa: BLE001
            errors.append((t, repr(e)))

    threads = [threading.Thread(target=client, args=(t,)) for t in range(50)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert not any(th.is_alive() for th in threads), "clients hung"
    assert not errors, errors[:5]


# ---- graceful shutdown ------------------------------------------------------

def test_graceful_shutdown_finishes_in_flight(ctx):
    h = ctx.start(app(ctx))
    busy = h.connect(10)
    idle = h.connect(10)
    idle.sendall(req("GET", "/api/echo/idle"))
    r, _ = read_response(idle)
    assert r.status == 200
    busy.sendall(req("GET", "/api/echo/slow?sleep_ms=800"))
    deadline = time.time() + 5  # the slow invocation (the second) has started
    while h.output.count("Executing 'Functions.echo'") < 2 and time.time() < deadline:
        time.sleep(0.01)
    assert h.output.count("Executing 'Functions.echo'") == 2, h.output
    t0 = time.time()
    h.proc.send_signal(signal.SIGTERM)
    r, rest = read_response(busy)
    assert r.status == 200 and echo_json(r)["path"] == "/api/echo/slow"
    assert r.headers.get("connection") == "close"
    assert is_closed(busy, 3)
    assert is_closed(idle, 1), "idle connection kept open while stopping"
    assert h.wait_exit(10) == 0, h.output[-2000:]
    assert time.time() - t0 < 5
    busy.close()
    idle.close()
    # the port is free again
    # the port is free again (SO_REUSEADDR as any server sets: the closed
    # connections' TIME_WAIT does not count, a listener still open would)
    b = socket.socket()
    try:
        b.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        b.bind(("127.0.0.1", h.port))
        b.listen(1)
    finally:
        b.close()
