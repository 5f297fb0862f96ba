"""End-to-end tests of configuration robustness: whatever host.json,
local.settings.json or function.json hold, `fnhost start` and `routes` run or
exit 1 with one sentence per problem naming file and line and column (or JSON
path); function.json typos are warned about; samples/http-routes answers JSON;
`make install` leaves runtime state behind."""
import json
import os
import shutil
import subprocess

from harness import http_function


def echo_app(ctx, files=None, host_json=None, function=None):
    """An app with one healthy HTTP function 'f' (GET/POST api/f)."""
    all_files = {"f/function.json": function or http_function(so="echo.so"),
                 "f/echo.so": ("copy", ctx.so("native", "echo"))}
    all_files.update(files or {})
    return ctx.make_app(all_files, host_json=host_json)


def write(app, rel, text):
    with open(os.path.join(app, rel), "w") as f:
        f.write(text)


def start_fails(ctx, app):
    """Starts the host, which must refuse: returns its output."""
    h = ctx.start(app, wait=False)
    rc = h.wait_exit(timeout=30)
    assert rc == 1, f"exit status {rc}:\n{h.output}"
    assert "listening on" not in h.output
    return h.output


BROKEN_HOST_JSON = [
    ("", "host.json: line 1, column 1: the file is empty"),
    ("{", "host.json: line 1, column 2: the file ends before the object opened at line 1, "
          "column 1 is closed; add '}'"),
    ("[]", "host.json: the file must hold a JSON object like {\"version\": \"2.0\"}, not an "
           "array"),
    ('"x"', "host.json: the file must hold a JSON object like {\"version\": \"2.0\"}, not a "
            "string"),
    ('{"version":"2.0",}', "host.json: line 1, column 18: '}' follows a trailing comma; "
                           "remove the comma at line 1, column 17"),
    ('"\\ud800"', "host.json: line 1, column 2: \\ud800 is the first half of a UTF-16 "
                  "surrogate pair"),
    ('{"version":"2.0","extensions":5}', "host.json: extensions: must be an object"),
    ('{"version":"2.0","extensions":{"http":[]}}', "host.json: extensions.http: must be an "
                                                   "object"),
    ('{"version":"2.0","logging":[]}', "host.json: logging: must be an object"),
    ('{"version":"2.0","functionTimeout":5}', "host.json: functionTimeout: 5 is not a valid "
                                              "timeout"),
    ('{"version":"2.0","extensions":{"http":{"routePrefix":null}}}',
     "host.json: extensions.http.routePrefix: must be a string"),
]


def test_broken_host_json_exits_1_with_one_sentence(ctx):
    app = echo_app(ctx)
    for text, sentence in BROKEN_HOST_JSON:
        write(app, "host.json", text)
        p = ctx.run("routes", "--script-root", app)
        assert p.returncode == 1, (text, p.returncode, p.stderr)
        errors = [line for line in p.stderr.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and errors[0].startswith("error: " + sentence), (text, p.stderr)
        out = start_fails(ctx, app)
        assert sentence in out, (text, out)
        assert "The host cannot start until the errors above are fixed." in out


def test_local_settings_syntax_error_refuses_to_start(ctx):
    app = echo_app(ctx, files={"local.settings.json":
                               '{\n  "Values": {\n    "A": "b",\n  }\n}\n'})
    out = start_fails(ctx, app)
    assert "local.settings.json: line 4, column 3: '}' follows a trailing comma; remove the " \
           "comma at line 3, column 13" in out
    p = ctx.run("routes", "--script-root", app)
    assert p.returncode == 1 and "local.settings.json: line 4, column 3" in p.stderr


def test_trailing_comma_is_one_line_with_its_position(ctx):
    # each file on its own: the error is one log line, naming file, line and column
    cases = [
        ("host.json", '{\n  "version": "2.0",\n}\n',
         "host.json: line 3, column 1: '}' follows a trailing comma; remove the comma at line "
         "2, column 19"),
        ("local.settings.json", '{"Values": {"A": "b",}\n}\n',
         "local.settings.json: line 1, column 22: '}' follows a trailing comma; remove the "
         "comma at line 1, column 21"),
    ]
    for rel, text, sentence in cases:
        app = echo_app(ctx, files={rel: text})
        out = start_fails(ctx, app)
        line = next(x for x in out.splitlines() if sentence in x)
        assert line.endswith(sentence), line
    # a broken function.json disables that function only
    app = echo_app(ctx, files={"g/function.json": '{\n  "bindings": [\n    {"type": "http"},\n'
                                                  '  ]\n}\n'})
    h = ctx.start(app)
    sentence = ("The 'g' function is in error: g/function.json: line 4, column 3: ']' follows "
                "a trailing comma; remove the comma at line 3, column 21")
    assert any(x.endswith(sentence) for x in h.output.splitlines()), h.output
    assert h.get("/api/f").status == 200


def test_function_timeout_overflow_is_refused(ctx):
    for value in ("10675199.02:48:05.4775808", "10675199.02:48:05.4775807", "2200000000"):
        app = echo_app(ctx, host_json={"version": "2.0", "functionTimeout": value})
        out = start_fails(ctx, app)
        assert f'host.json: functionTimeout: "{value}" is out of range; ' in out, out


def test_kestrel_limits_with_bad_numbers_are_refused(ctx):
    for value, shown in (("nan", '"nan"'), ("inf", '"inf"'), (-5, "-5"), (1.5, "1.5"),
                         ("1e400", None)):
        app = echo_app(ctx)
        body = f'{{"version": "2.0", "extensions": {{"http": {{"maxRequestBodySize": ' \
               f'{value if shown is None else json.dumps(value)}}}}}}}'
        write(app, "host.json", body)
        out = start_fails(ctx, app)
        assert f"host.json: extensions.http.maxRequestBodySize: " \
               f"{shown or 'a number out of range'} is not a whole number from 1 to " \
               f"9007199254740991; write e.g. 104857600 (100 MB)" in out, out


def test_nul_in_route_or_setting_is_refused(ctx):
    app = echo_app(ctx, files={"local.settings.json": '{"Values": {"X": "a\\u0000b"}}'})
    out = start_fails(ctx, app)
    assert "local.settings.json: line 1, column 20: \\u0000 (a NUL character) inside a string " \
           "is not supported; remove it" in out
    fj = json.dumps(http_function(route="a", so="echo.so")).replace('"a"', '"a\\u0000b"')
    app = echo_app(ctx, files={"f/function.json": fj, "g/function.json":
                               http_function(route="g", so="../f/echo.so")})
    h = ctx.start(app)
    assert "The 'f' function is in error: f/function.json: line 1, column " in h.output
    assert h.get("/api/a").status == 404
    assert h.get("/api/g").status == 200


def test_function_json_typos_warn_and_the_function_loads(ctx):
    fj = http_function(so="echo.so", methods=None, route="typo")
    fj["bindings"][0]["methds"] = ["get"]
    fj["bindings"][0]["authlevl"] = "anonymous"
    h = ctx.start(echo_app(ctx, function=fj))
    out = h.output
    assert "f/function.json: bindings[0].methds: not a property of a 'httpTrigger' binding, so " \
           "it is ignored; did you mean 'methods'?" in out
    assert "f/function.json: bindings[0].authlevl: not a property of a 'httpTrigger' binding, " \
           "so it is ignored; did you mean 'authLevel'?" in out
    assert h.get("/api/typo").status == 200


def test_http_routes_sample_answers_json(ctx):
    h = ctx.start(ctx.path("samples", "http-routes"))
    r = h.get("/api/products/shoes")
    assert r.status == 200 and r.headers["content-type"].startswith("application/json"), r
    assert r.json() == {"path": "/api/products/shoes",
                        "params": {"category": "shoes", "page": "1"}}
    r = h.get("/api/files/report.tar.gz")
    assert r.json()["params"] == {"name": "report.tar", "ext": "gz"}
    # values with quotes, backslashes and control characters stay valid JSON
    r = h.get("/api/files/a%22b%5Cc%01.txt")
    assert r.status == 200, r
    assert r.json()["params"] == {"name": 'a"b\\c\x01', "ext": "txt"}
    r = h.get("/api/docs/" + "x" * 3000)
    assert r.json()["params"]["path"] == "x" * 3000


def make_env():
    env = dict(os.environ)
    # a make that runs these tests must not pass its flags down
    for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"):
        env.pop(k, None)
    return env


def test_make_install_leaves_runtime_state_behind(ctx):
    # a copy of the source tree whose queue sample has run (and left its
    # database in .fnhost/), installed with the repository's Makefile
    tree = ctx.tmpdir()
    for d in ("host", "config", "extensions"):
        os.symlink(ctx.path(d), os.path.join(tree, d))
    shutil.copy(ctx.path("Makefile"), tree)
    shutil.copytree(ctx.path("samples"), os.path.join(tree, "samples"),
                    ignore=shutil.ignore_patterns(".fnhost"))
    sample = os.path.join(tree, "samples", "queue-pipeline")
    h = ctx.start(sample)
    h.stop()
    assert os.path.exists(os.path.join(sample, ".fnhost", "storage", "queues.db"))
    dest = ctx.tmpdir()
    build = os.path.abspath(ctx.build)
    p = subprocess.run(["make", "-s", "-o", "all", "install", f"BUILD={build}",
                        f"DESTDIR={dest}", "PREFIX=/usr"],
                       cwd=tree, env=make_env(), capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    share = os.path.join(dest, "usr", "share", "fnhost")
    found = [os.path.join(d, n) for d, dirs, _ in os.walk(share) for n in dirs if n == ".fnhost"]
    assert found == [], found
    assert os.path.exists(os.path.join(share, "samples", "queue-pipeline", "PostOrder",
                                       "PostOrder.so"))
    assert os.path.exists(os.path.join(share, "samples", "queue-pipeline", "host.json"))
    assert os.path.exists(os.path.join(dest, "usr", "bin", "fnhost"))
