"""End-to-end tests of keys and authorization: off by default (every caller
is admin, as Core Tools), --enable-auth (and --enableAuth) applying authLevel
with the x-functions-key header or the code query parameter, the secrets
files (Azure's file shapes, modes 0600/0700), the key API, the admin API's
master key, /admin/vfs and /admin/host/restart."""
import json
import os
import stat

from harness import http_function


def fn(level, route=None, disabled=False):
    f = http_function(route=route, so="echo.so")
    if level is None:
        del f["bindings"][0]["authLevel"]  # Azure's default: function
    else:
        f["bindings"][0]["authLevel"] = level
    if disabled:
        f["disabled"] = True
    return f


def auth_app(ctx):
    files = {}
    for name, level in (("anon", "anonymous"), ("Func", "function"), ("adm", "admin"),
                        ("dflt", None), ("other", "function")):
        files[f"{name}/function.json"] = fn(level)
        files[f"{name}/echo.so"] = ("copy", ctx.so("native", "echo"))
    files["off/function.json"] = fn("function", disabled=True)
    files["off/echo.so"] = ("copy", ctx.so("native", "echo"))
    return ctx.make_app(files)


def secrets(app, name="host.json"):
    with open(os.path.join(app, ".fnhost", "secrets", name)) as f:
        return json.load(f)


def master(app):
    return secrets(app)["masterKey"]["value"]


def host_key(app):
    return secrets(app)["functionKeys"][0]["value"]


def key_hdr(k):
    return {"x-functions-key": k}


def test_auth_is_off_by_default(ctx):
    app = auth_app(ctx)
    h = ctx.start(app)
    for name in ("anon", "Func", "adm", "dflt"):
        assert h.get(f"/api/{name}").status == 200, name
    # disabled, but every local caller is admin (as in Core Tools): it answers
    assert h.get("/api/off").status == 200
    assert h.get("/admin/host/status").status == 200
    # nothing was written: keys are made on first use
    assert not os.path.exists(os.path.join(app, ".fnhost"))


def test_secrets_files_shapes_and_modes(ctx):
    app = auth_app(ctx)
    h = ctx.start(app, "--enable-auth")
    assert "Authorization is on" in h.output
    d = os.path.join(app, ".fnhost", "secrets")
    assert stat.S_IMODE(os.stat(d).st_mode) == 0o700
    hp = os.path.join(d, "host.json")
    assert stat.S_IMODE(os.stat(hp).st_mode) == 0o600
    s = secrets(app)
    assert s["masterKey"]["name"] == "master" and s["masterKey"]["encrypted"] is False
    assert [k["name"] for k in s["functionKeys"]] == ["default"]
    assert s["functionKeys"][0]["encrypted"] is False
    assert s["systemKeys"] == []
    assert s["hostName"] == f"localhost:{h.port}" and len(s["instanceId"]) == 32
    assert s["source"] == "runtime" and s["decryptionKeyId"] == ""
    for v in (s["masterKey"]["value"], s["functionKeys"][0]["value"]):
        assert len(v) == 56 and "+" not in v  # 40 random bytes, Base64, '+' -> 'a'
    assert s["masterKey"]["value"] != s["functionKeys"][0]["value"]
    # a function's file appears when its keys are first needed, named in lower case
    assert h.get("/api/Func", headers=key_hdr("nope")).status == 401
    fp = os.path.join(d, "func.json")
    assert stat.S_IMODE(os.stat(fp).st_mode) == 0o600
    f = secrets(app, "func.json")
    assert [k["name"] for k in f["keys"]] == ["default"] and len(f["keys"][0]["value"]) == 56
    # keys survive a restart: the files are read, not made again
    h.stop()
    h2 = ctx.start(app, "--enableAuth")
    assert secrets(app) == s
    assert h2.get("/api/Func", headers=key_hdr(s["masterKey"]["value"])).status == 200


def test_every_auth_level(ctx):
    app = auth_app(ctx)
    h = ctx.start(app, "--enable-auth")
    m, hk = master(app), host_key(app)
    fk = h.get("/admin/functions/Func/keys/default", headers=key_hdr(m)).json()["value"]
    ok = h.get("/admin/functions/other/keys/default", headers=key_hdr(m)).json()["value"]
    sk = h.post("/admin/host/systemkeys/hook", headers=key_hdr(m)).json()["value"]
    cases = [
        # (function, key, expected)
        ("anon", None, 200), ("anon", "wrong", 200),
        ("Func", None, 401), ("Func", "wrong", 401), ("Func", hk, 200), ("Func", fk, 200),
        ("Func", m, 200), ("Func", ok, 401), ("Func", sk, 401),
        ("dflt", None, 401), ("dflt", hk, 200),
        ("adm", None, 401), ("adm", hk, 401), ("adm", fk, 401), ("adm", sk, 401), ("adm", m, 200),
        # exact matches only: a prefix, a longer key or another case is no key
        ("Func", hk[:-1], 401), ("Func", hk + "x", 401), ("Func", hk[:8], 401),
        ("Func", hk.swapcase(), 401), ("adm", m[:-2], 401), ("adm", m + "a", 401),
    ]
    for name, key, want in cases:
        r = h.get(f"/api/{name}", headers=key_hdr(key) if key else None)
        assert r.status == want, (name, key, r)
        if want == 401:
            assert r.body == b""
        q = h.get(f"/api/{name}" + (f"?code={key}" if key else ""))
        assert q.status == want, ("query", name, key, q)
    # the code parameter is not the function's business, but it does get there
    assert h.get(f"/api/Func?x=1&code={hk}").status == 200
    # a disabled function answers only admin callers (the master key), as on
    # Azure; every other caller gets 404, never 401
    assert h.get("/api/off", headers=key_hdr(m)).status == 200
    assert h.get(f"/api/off?code={m}").status == 200
    for key in (None, hk, "wrong"):
        r = h.get("/api/off", headers=key_hdr(key) if key else None)
        assert r.status == 404, (key, r)


def test_header_wins_over_query(ctx):
    app = auth_app(ctx)
    h = ctx.start(app, "--enable-auth")
    hk = host_key(app)
    assert h.get(f"/api/Func?code={hk}", headers=key_hdr("wrong")).status == 401
    assert h.get("/api/Func?code=wrong", headers=key_hdr(hk)).status == 200
    # an empty header is no header
    assert h.get(f"/api/Func?code={hk}", headers=key_hdr("")).status == 200
    assert h.get("/api/Func", headers=key_hdr("")).status == 401


def test_admin_routes_need_the_master_key(ctx):
    app = auth_app(ctx)
    h = ctx.start(app, "--enable-auth")
    m, hk = master(app), host_key(app)
    assert h.get("/admin/host/ping").status == 200  # anonymous, as Azure
    assert h.post("/admin/host/ping").status == 200
    for method, path, body in (("GET", "/admin/host/status", None),
                               ("GET", "/admin/functions", None),
                               ("GET", "/admin/functions/Func", None),
                               ("GET", "/admin/host/keys", None),
                               ("GET", "/admin/vfs/Func/function.json", None),
                               ("POST", "/admin/functions/Func", b"{}")):
        assert h.request(method, path, body=body).status == 401, path
        assert h.request(method, path, body=body, headers=key_hdr(hk)).status == 401, path
        assert h.request(method, path, body=body, headers=key_hdr("x")).status == 401, path
        r = h.request(method, path, body=body, headers=key_hdr(m))
        assert r.status in (200, 202), (path, r)
    sep = "&" if "?" in "/admin/host/status" else "?"
    assert h.get(f"/admin/host/status{sep}code={m}").status == 200
    # admin invoke with the master key runs the function, synchronously too
    r = h.post("/admin/functions/Func?wait=true", body=b'{"input":"x"}', headers=key_hdr(m))
    assert r.status == 200 and r.json()["status"] == "succeeded"


def test_host_key_api(ctx):
    app = auth_app(ctx)
    h = ctx.start(app)
    base = f"http://localhost:{h.port}/admin/host/keys"
    r = h.get("/admin/host/keys")
    assert r.status == 200
    doc = r.json()
    assert [k["name"] for k in doc["keys"]] == ["default"]
    assert doc["links"] == [{"rel": "self", "href": base}]
    # PUT: 201 created, then 200 replaced; the file follows
    r = h.request("PUT", "/admin/host/keys/mine", body=json.dumps({"name": "mine",
                                                                    "value": "v" * 40}))
    assert r.status == 201, r
    assert r.json() == {"name": "mine", "value": "v" * 40,
                        "links": [{"rel": "self", "href": base + "/mine"}]}
    r = h.request("PUT", "/admin/host/keys/mine", body=json.dumps({"value": "w" * 40}))
    assert r.status == 200 and r.json()["value"] == "w" * 40
    assert {"name": "mine", "value": "w" * 40, "encrypted": False} in \
        secrets(app)["functionKeys"]
    assert h.get("/admin/host/keys/MINE").json()["value"] == "w" * 40
    # a missing or unacceptable value is 400
    for body in ('{"name": "x"}', '{"value": null}', "not json", '{"value": "has space"}',
                 '{"value": ""}'):
        assert h.request("PUT", "/admin/host/keys/bad", body=body).status == 400, body
    assert h.request("PUT", "/admin/host/keys/b%21d", body='{"value":"abc"}').status == 400
    # POST generates
    r = h.post("/admin/host/keys/gen")
    assert r.status == 201 and len(r.json()["value"]) == 56
    r2 = h.post("/admin/host/keys/gen")
    assert r2.status == 200 and r2.json()["value"] != r.json()["value"]
    # DELETE: 204, then 404
    assert h.request("DELETE", "/admin/host/keys/mine").status == 204
    assert h.request("DELETE", "/admin/host/keys/mine").status == 404
    assert h.get("/admin/host/keys/mine").status == 404
    assert "mine" not in [k["name"] for k in secrets(app)["functionKeys"]]
    # functionkeys is the same list; systemkeys its own
    assert h.get("/admin/host/functionkeys").json()["keys"] == h.get("/admin/host/keys").json()["keys"]
    assert h.get("/admin/host/systemkeys").json()["keys"] == []
    assert h.post("/admin/host/systemkeys/eventgrid_extension").status == 201
    assert [k["name"] for k in secrets(app)["systemKeys"]] == ["eventgrid_extension"]
    # the master key: readable, settable, never deletable
    m = h.get("/admin/host/systemkeys/_master").json()
    assert m["name"] == "_master" and m["value"] == secrets(app)["masterKey"]["value"]
    r = h.request("DELETE", "/admin/host/systemkeys/_master")
    assert r.status == 400 and r.json()["error"] == "Cannot delete System Key."
    assert h.request("PUT", "/admin/host/keys/_master",
                     body='{"value": "m' + "1" * 39 + '"}').status == 200
    assert secrets(app)["masterKey"] == {"name": "master", "value": "m" + "1" * 39,
                                         "encrypted": False}
    assert h.request("PATCH", "/admin/host/keys/mine").status == 404
    assert h.request("POST", "/admin/host/keys").status == 404


def test_function_key_api(ctx):
    app = auth_app(ctx)
    h = ctx.start(app, "--enable-auth")
    m = key_hdr(master(app))
    base = f"http://localhost:{h.port}/admin/functions/Func/keys"
    r = h.get("/admin/functions/Func/keys", headers=m)
    assert r.status == 200 and [k["name"] for k in r.json()["keys"]] == ["default"]
    assert r.json()["links"][0]["href"] == base
    assert h.get("/admin/functions/nope/keys", headers=m).status == 404
    assert h.get("/admin/functions/Func/keys/none", headers=m).status == 404
    r = h.request("PUT", "/admin/functions/Func/keys/ci", headers=m,
                  body=json.dumps({"name": "ci", "value": "c" * 32}))
    assert r.status == 201 and r.json()["links"][0]["href"] == base + "/ci"
    assert {"name": "ci", "value": "c" * 32, "encrypted": False} in \
        secrets(app, "func.json")["keys"]
    # a new key works at once, for its function only
    assert h.get("/api/Func", headers=key_hdr("c" * 32)).status == 200
    assert h.get("/api/other", headers=key_hdr("c" * 32)).status == 401
    r = h.post("/admin/functions/Func/keys/ci", headers=m)  # regenerate
    assert r.status == 200 and r.json()["value"] != "c" * 32
    assert h.get("/api/Func", headers=key_hdr("c" * 32)).status == 401
    assert h.get("/api/Func", headers=key_hdr(r.json()["value"])).status == 200
    assert h.request("DELETE", "/admin/functions/Func/keys/ci", headers=m).status == 204
    assert h.get("/api/Func", headers=key_hdr(r.json()["value"])).status == 401
    assert h.request("DELETE", "/admin/functions/Func/keys/ci", headers=m).status == 404
    assert h.request("DELETE", "/admin/functions/Func/keys/_master", headers=m).status == 404
    # deleting a host key takes it away from every function
    hk = host_key(app)
    assert h.get("/api/other", headers=key_hdr(hk)).status == 200
    assert h.request("DELETE", "/admin/host/keys/default", headers=m).status == 204
    assert h.get("/api/other", headers=key_hdr(hk)).status == 401


def test_broken_secrets_file(ctx):
    app = auth_app(ctx)
    d = os.path.join(app, ".fnhost", "secrets")
    os.makedirs(d)
    with open(os.path.join(d, "host.json"), "w") as f:
        f.write('{"masterKey": {"name": "master", "value": 42}}')
    h = ctx.start(app, "--enable-auth")
    h.wait_log("host.json: masterKey: must be an object with string \"name\" and \"value\"; "
               "fix it or delete the file to have new keys generated")
    assert h.get("/api/anon").status == 200
    assert h.get("/api/Func", headers=key_hdr("42")).status == 401
    assert h.get("/admin/host/status", headers=key_hdr("42")).status == 401
    assert h.get("/admin/host/ping").status == 200
    h.stop()
    h = ctx.start(app)  # without auth the key API says what is wrong
    r = h.get("/admin/host/keys")
    assert r.status == 500 and "masterKey" in r.json()["error"]


def test_cli_invoke_uses_the_master_key(ctx):
    app = auth_app(ctx)
    h = ctx.start(app, "--enable-auth")
    p = ctx.run("invoke", "adm", "--port", str(h.port), "--script-root", app)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["status"] == "succeeded"
    p = ctx.run("invoke", "adm", "--port", str(h.port), cwd=app)  # the current folder
    assert p.returncode == 0, p.stderr
    p = ctx.run("invoke", "adm", "--port", str(h.port), "--script-root", ctx.tmpdir())
    assert p.returncode == 3 and "--enable-auth" in p.stderr, p.stderr


def test_vfs_reads_files_under_the_root(ctx):
    app = auth_app(ctx)
    with open(os.path.join(app, "notes.txt"), "w") as f:
        f.write("hello vfs")
    outside = ctx.tmpdir()
    with open(os.path.join(outside, "secret.txt"), "w") as f:
        f.write("not yours")
    os.symlink(outside, os.path.join(app, "escape"))
    os.symlink(os.path.join(app, "notes.txt"), os.path.join(app, "inside"))
    h = ctx.start(app)
    meta = h.get("/admin/functions/Func").json()
    base = f"http://localhost:{h.port}"
    assert meta["config_href"] == base + "/admin/vfs/Func/function.json"
    r = h.get(meta["config_href"][len(base):])
    assert r.status == 200 and json.loads(r.body)["scriptFile"] == "echo.so"
    assert r.headers["content-type"].startswith("application/json")
    r = h.get("/admin/vfs/notes.txt")
    assert r.status == 200 and r.body == b"hello vfs"
    assert h.get("/admin/vfs/inside").body == b"hello vfs"  # a symlink that stays inside
    listing = h.get(meta["script_root_path_href"][len(base):]).json()
    names = {e["name"]: e for e in listing}
    assert set(names) == {"function.json", "echo.so"}
    assert names["function.json"]["href"] == base + "/admin/vfs/Func/function.json"
    root = {e["name"]: e for e in h.get("/admin/vfs/").json()}
    assert root["Func"]["mime"] == "inode/directory" and root["notes.txt"]["size"] == 9
    assert h.get("/admin/vfs/nope.txt").status == 404
    # no way out of the root
    for path in ("/admin/vfs/../x", "/admin/vfs/Func/../../etc/passwd", "/admin/vfs/%2e%2e/x",
                 "/admin/vfs/Func/%2E%2E/%2e%2e/etc/passwd", "/admin/vfs/escape/secret.txt",
                 "/admin/vfs/escape"):
        r = h.get(path)
        assert r.status == 403 and b"not yours" not in r.body, (path, r)
    r = h.raw(b"GET /admin/vfs/../../../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n")[0]
    assert r.status == 403
    # read-only
    r = h.request("PUT", "/admin/vfs/notes.txt", body=b"x")
    assert r.status == 405 and r.headers["allow"] == "GET, HEAD"
    assert h.request("DELETE", "/admin/vfs/notes.txt").status == 405
    with open(os.path.join(app, "notes.txt")) as f:
        assert f.read() == "hello vfs"
