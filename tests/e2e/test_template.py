"""End-to-end tests of extensions/template, the extension a third-party author
copies: it builds out of the tree against fnhost's installed headers
(`make install` + pkg-config) and inside the repository (fallback include
path), loads into a real host with its example app, fires, writes through its
output binding, refuses bad configuration with one sentence, contributes a
CLI command, and passes `fnhost extensions check`."""
import os
import re
import shutil
import subprocess

from harness import http_function

TEMPLATE = "extensions/template"
IGNORE = shutil.ignore_patterns("*.so", "out", ".fnhost")  # in-repo build leftovers


def make(args, cwd, env=None, timeout=60):
    full = dict(os.environ)
    full.pop("FNHOST_CFLAGS", None)
    # a make that runs these tests (make -s check-asan) must not pass its
    # flags and variables (silence, BUILD, SAN) down to the template's make
    for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"):
        full.pop(k, None)
    full.update(env or {})
    p = subprocess.run(["make"] + args, cwd=cwd, env=full, capture_output=True, text=True,
                       timeout=timeout)
    assert p.returncode == 0, f"make {' '.join(args)} failed in {cwd}:\n{p.stdout}\n{p.stderr}"
    return p.stdout + p.stderr


def install_prefix(ctx):
    """fnhost's own `make install-headers` (the part `make install` does for
    plugin authors: headers and fnhost.pc) into a temporary PREFIX."""
    prefix = os.path.join(ctx.tmpdir(), "prefix")
    make(["-s", "install-headers", f"PREFIX={prefix}", f"BUILD={ctx.build}"], ctx.root)
    assert os.path.exists(os.path.join(prefix, "include", "fnhost", "extension.h"))
    assert os.path.exists(os.path.join(prefix, "lib", "pkgconfig", "fnhost.pc"))
    return prefix


def build_out_of_tree(ctx):
    """cp -r extensions/template <tmp>/myext, then make with pkg-config
    finding only the temporary prefix. Returns (folder, make output)."""
    prefix = install_prefix(ctx)
    d = os.path.join(ctx.tmpdir(), "myext")
    shutil.copytree(ctx.path(TEMPLATE), d, ignore=IGNORE)
    pc = os.path.join(prefix, "lib", "pkgconfig")
    out = make([], d, env={"PKG_CONFIG_PATH": pc, "PKG_CONFIG_LIBDIR": pc})
    assert f"-I{prefix}/include" in out, out
    for f in ("fnh_template.so", "example/onevent/onevent.so"):
        assert os.path.exists(os.path.join(d, f)), f"{f} not built:\n{out}"
    return d, out


def test_template_builds_out_of_tree_with_pkg_config(ctx):
    d, out = build_out_of_tree(ctx)
    for flag in ("-std=c11", "-Wall", "-Wextra", "-Werror", "-fPIC", "-fvisibility=hidden",
                 "-shared", "-Wl,-z,defs"):
        assert flag in out, f"{flag} missing from the build:\n{out}"
    assert "warning" not in out, out


def test_template_builds_in_repository_layout_without_pkg_config(ctx):
    # <tmp>/fnhost/{host -> repo host, extensions/template}: the fallback to
    # ../../host/include, as `make -C extensions/template` uses in the repo
    top = os.path.join(ctx.tmpdir(), "fnhost")
    os.makedirs(os.path.join(top, "extensions"))
    os.symlink(ctx.path("host"), os.path.join(top, "host"))
    d = os.path.join(top, "extensions", "template")
    shutil.copytree(ctx.path(TEMPLATE), d, ignore=IGNORE)
    empty = ctx.tmpdir()
    out = make([], d, env={"PKG_CONFIG_PATH": "", "PKG_CONFIG_LIBDIR": empty})
    assert "/../../host/include" in out, out
    assert os.path.exists(os.path.join(d, "fnh_template.so"))


def test_template_loads_fires_and_writes(ctx):
    d, _ = build_out_of_tree(ctx)
    app = os.path.join(d, "example")
    h = ctx.start(app, env={"FNHOST_EXTENSIONS_PATH": d})
    out = h.wait_log("templateTrigger: event 2 of onevent completed: ok, returned done 2")
    assert "Loaded extension 'template' 0.1.0 (" in out
    with open(f"/proc/{h.proc.pid}/maps") as f:  # loaded from its private shadow copy
        maps = f.read()
    copy = rf"/fnhost-shadow-{h.proc.pid}-\w+/[0-9a-f]{{16}}-fnh_template\.so\n"
    assert re.search(copy, maps), maps
    for n in range(3):
        assert f"Executing 'Functions.onevent' (Reason='Template event {n}.'" in out
        assert f'onevent got event {n}: {{"n":{n},"message":"hello"}}' in out
        assert f"templateTrigger: event {n} of onevent completed: ok, returned done {n}" in out
        # the output binding resolved {n} per invocation and wrote below the app root
        with open(os.path.join(app, "out", f"event-{n}.txt")) as f:
            assert f.read() == f'event {n}: {{"n":{n},"message":"hello"}}\n'
    st = h.get("/admin/host/status").json()
    assert [e["name"] for e in st["extensions"]] == ["template"]
    h.stop()  # exit 0: stop joins the thread, unbind and fini run, no sanitizer report


def test_template_refuses_bad_config_with_a_sentence(ctx):
    d, _ = build_out_of_tree(ctx)
    so = os.path.join(d, "example", "onevent", "onevent.so")
    fj = {"bindings": [{"type": "templateTrigger", "direction": "in", "name": "event",
                        "count": 500},
                       {"type": "templateOut", "direction": "out", "name": "out"}],
          "scriptFile": "onevent.so"}
    files = {"onevent/function.json": fj, "onevent/onevent.so": ("copy", so),
             "echo/function.json": http_function(route="echo", so="echo.so"),
             "echo/echo.so": ("copy", ctx.so("native", "echo"))}
    app = ctx.make_app(files, {"version": "2.0", "extensions": {"template": {"maxCount": 100}}})
    h = ctx.start(app, env={"FNHOST_EXTENSIONS_PATH": d})
    assert "The 'onevent' function is in error: onevent/function.json: bindings[0] " \
           "(templateTrigger): count: must be a whole number from 0 to 100 (host.json " \
           "extensions.template.maxCount)" in h.output
    assert h.get("/api/echo").status == 200  # the rest of the app runs
    h.stop()

    app2 = ctx.make_app(files, {"version": "2.0", "extensions": {"template": {"maxCount": 0}}})
    h2 = ctx.start(app2, env={"FNHOST_EXTENSIONS_PATH": d})
    assert "The 'onevent' function is in error: host.json: extensions.template.maxCount: " \
           "must be a whole number of 1 or more" in h2.output
    assert h2.get("/api/echo").status == 200


def test_template_passes_extensions_check_and_adds_a_command(ctx):
    d, _ = build_out_of_tree(ctx)
    so = os.path.join(d, "fnh_template.so")
    p = ctx.run("extensions", "check", so)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "types: templateTrigger (trigger) templateOut (out)" in p.stdout
    assert "command: fnhost template" in p.stdout
    assert f"ok: {so} is a usable fnhost extension" in p.stdout
    env = {"FNHOST_EXTENSIONS_PATH": d}
    p = ctx.run("extensions", "list", env=env)
    assert any(line.startswith("template ") and "0.1.0" in line and "ABI 1.2" in line
               for line in p.stdout.splitlines()), p.stdout
    p = ctx.run("template", "--script-root", os.path.join(d, "example"), env=env)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout == f"template extension 0.1.0 (app root {d}/example)\n", p.stdout


def test_template_own_test_script_passes(ctx):
    d, _ = build_out_of_tree(ctx)
    # everything is built, so `make test` needs no headers: only ./test.sh runs
    out = make(["-s", "test", f"FNHOST={ctx.fnhost}"], d, timeout=30)
    assert "PASS: templateTrigger fired 3 events and templateOut wrote them" in out, out
