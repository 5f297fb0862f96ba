"""End-to-end tests of the plugin loader's robustness: descriptors that are
not descriptors (a function, 3 bytes, a misaligned object) refused with a
sentence before anything reads them, truncated files refused before dlopen,
callback results outside "0 or a negative errno" reported as such, trigger
type names checked, crashes inside plugin code (constructors, init, bind)
reported with one line naming the plugin while the process still dies of
the signal, and the open-file limit raised at start-up."""
import http.client
import json
import os
import re
import resource
import shutil
import signal
import subprocess

from harness import http_function

_SANITIZED = {}


def sanitizer_build(ctx):
    """True when fnhost is built with AddressSanitizer or ThreadSanitizer,
    whose own SIGSEGV handler ends the process (with its own exit status)
    after fnhost's line."""
    if ctx.fnhost not in _SANITIZED:
        with open(ctx.fnhost, "rb") as f:
            data = f.read()
        _SANITIZED[ctx.fnhost] = b"__asan_init" in data or b"__tsan_init" in data
    return _SANITIZED[ctx.fnhost]


def ext_so(ctx, name):
    p = os.path.join(ctx.build, "tests", "ext", name + ".so")
    assert os.path.exists(p), f"{p} is not built; run make"
    return p


def manifest(ctx, name, so, types):
    d = ctx.tmpdir()
    with open(os.path.join(d, "extensions.json"), "w") as f:
        json.dump({"extensions": [{"name": name, "file": so, "types": list(types)}]}, f)
    return {"FNHOST_EXTENSIONS_PATH": d}


def ext_app(ctx, functions, host_json=None):
    """An app with the HTTP function "echo" plus functions (name -> list of
    bindings), each running a copy of the echo module."""
    files = {"echo/function.json": http_function(route="echo/{*rest}", so="echo.so"),
             "echo/echo.so": ("copy", ctx.so("native", "echo"))}
    for name, bindings in functions.items():
        files[f"{name}/function.json"] = {"bindings": bindings, "scriptFile": "fn.so"}
        files[f"{name}/fn.so"] = ("copy", ctx.so("native", "echo"))
    return ctx.make_app(files, host_json)


def robust_env(ctx):
    return manifest(ctx, "robust", ext_so(ctx, "robust"), ["robustTrigger", "robustIn"])


def robust_trigger(**props):
    return [dict({"type": "robustTrigger", "direction": "in", "name": "t"}, **props)]


def start_and_check(ctx, app, env, fn="ticker"):
    """Starts the app; the rest of it serves; returns the output and fn's errors."""
    h = ctx.start(app, env=env)
    assert h.get("/api/echo/x").status == 200
    fs = {f["name"]: f for f in h.get("/admin/functions").json()}
    assert fs["echo"]["errors"] == []
    return h.output, fs[fn]["errors"]


def run_until_exit(ctx, args, env=None):
    """Runs fnhost with args until it exits; returns (status, stdout+stderr)."""
    full = dict(os.environ)
    full.update(env or {})
    try:
        p = subprocess.run([ctx.fnhost] + args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           env=full, timeout=60, cwd=ctx.tmpdir())
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"fnhost {args} did not exit within 60 s:\n{e.output}") from None
    return p.returncode, p.stdout.decode("utf-8", "replace")


def assert_died_of(ctx, status, out, sig, line):
    """The process printed line and died of sig (under a sanitizer, whose
    handler runs after fnhost's line, of its report unless the signal is
    SIGABRT, which the sanitizers leave alone)."""
    assert line in out, f"no {line!r} in:\n{out[-3000:]}"
    assert "runtime error:" not in out, out[-3000:]
    if sanitizer_build(ctx) and sig != signal.SIGABRT:
        assert status != 0 and "Sanitizer" in out, (status, out[-3000:])
    else:
        assert status == -sig, f"exit status {status}, want -{sig}:\n{out[-3000:]}"


# ---- descriptors that are not descriptors -----------------------------------

DESC_FIX = ("define the descriptor as FNH_EXPORT const fnh_extension_def fnh_extension = "
            "{FNH_EXTENSION_HEAD, ...} (#include <fnhost/extension.h>)")


def refused_descriptor(ctx, so_name):
    so = ext_so(ctx, so_name)
    env = manifest(ctx, "robust", so, ["robustTrigger"])
    out, errors = start_and_check(ctx, ext_app(ctx, {"ticker": robust_trigger()}), env)
    assert len(errors) == 1, errors
    p = ctx.run("extensions", "check", so)
    assert p.returncode == 1 and p.stdout == "", (p.stdout, p.stderr)
    return so, errors[0], p.stderr.strip()


def test_descriptor_that_is_a_function_is_refused(ctx):
    so, err, check = refused_descriptor(ctx, "fnsym")
    assert err.endswith(f"extension \"robust\" ({so}): fnh_extension is a function, not a data "
                        f"object; {DESC_FIX}"), err
    assert check == f"{so}: fnh_extension is a function, not a data object; {DESC_FIX}", check


def test_descriptor_of_three_bytes_is_refused(ctx):
    so, err, check = refused_descriptor(ctx, "tinysym")
    assert (f"({so}): fnh_extension is 3 bytes, smaller than the descriptor (at least "
            in err), err
    assert check.startswith(f"{so}: fnh_extension is 3 bytes, smaller than the descriptor"), check


def test_misaligned_descriptor_is_refused(ctx):
    so, err, check = refused_descriptor(ctx, "oddsym")
    assert f"({so}): fnh_extension is not aligned to 8 bytes as the descriptor must be; " \
           f"{DESC_FIX}" in err, err
    assert check.startswith(f"{so}: fnh_extension is not aligned to 8 bytes"), check


def test_function_module_descriptor_that_is_a_function_is_refused(ctx):
    a = ctx.make_app({"good/function.json": http_function(so="good.so"),
                      "good/good.so": ("copy", ctx.so("native", "echo")),
                      "bad/function.json": http_function(so="fn.so"),
                      "bad/fn.so": ("copy", ctx.so("robust", "fnsym"))})
    h = ctx.start(a)
    assert "The 'bad' function is in error: bad/function.json: scriptFile: 'fn.so': " \
           "fnh_function_abi is a function, not a data object; declare it only with the line " \
           "FNH_FUNCTION_MODULE(0); (#include <fnhost/function.h>)" in h.output
    assert h.get("/api/good").status == 200


# ---- truncated files -------------------------------------------------------------


def truncated_copy(ctx, src, name):
    dst = os.path.join(ctx.tmpdir(), name)
    with open(src, "rb") as f:
        data = f.read()
    with open(dst, "wb") as f:
        f.write(data[:len(data) // 3])  # headers intact, segments cut off
    return dst


TRUNCATED = "it is truncated: a loadable segment ends past the end of the file; rebuild it"


def test_truncated_extension_is_refused_before_dlopen(ctx):
    so = truncated_copy(ctx, ext_so(ctx, "robust"), "robust.so")
    env = manifest(ctx, "robust", so, ["robustTrigger"])
    out, errors = start_and_check(ctx, ext_app(ctx, {"ticker": robust_trigger()}), env)
    assert errors == [f"{env['FNHOST_EXTENSIONS_PATH']}/extensions.json: extension \"robust\" "
                      f"({so}): cannot load: {TRUNCATED}"], errors
    p = ctx.run("extensions", "check", so)
    assert (p.returncode, p.stderr) == (1, f"{so}: cannot load: {TRUNCATED}\n"), p


def test_truncated_function_module_is_refused_before_dlopen(ctx):
    so = truncated_copy(ctx, ctx.so("native", "echo"), "fn.so")
    a = ctx.make_app({"good/function.json": http_function(so="good.so"),
                      "good/good.so": ("copy", ctx.so("native", "echo")),
                      "bad/function.json": http_function(so="fn.so"),
                      "bad/fn.so": ("copy", so)})
    h = ctx.start(a)
    assert "The 'bad' function is in error: bad/function.json: scriptFile: cannot load 'fn.so': " \
           + TRUNCATED in h.output
    assert h.get("/api/good").status == 200


# ---- callback results --------------------------------------------------------------

NOT_ERRNO = "which is not 0 or a negative errno; fix the extension"


def test_bind_returning_a_positive_number_is_named(ctx):
    a = ext_app(ctx, {"ticker": robust_trigger(bindRc=5),
                      "minint": robust_trigger(bindRc=-2147483648)})
    out, errors = start_and_check(ctx, a, robust_env(ctx))
    assert errors == ["ticker/function.json: bindings[0] (robustTrigger): extension \"robust\": "
                      f"bind returned 5, {NOT_ERRNO}"], errors
    assert "The 'minint' function is in error: minint/function.json: bindings[0] " \
           f"(robustTrigger): extension \"robust\": bind returned -2147483648, {NOT_ERRNO}" in out
    assert "Input/output error" not in out


def test_init_returning_a_positive_number_is_named(ctx):
    env = robust_env(ctx)
    a = ext_app(ctx, {"ticker": robust_trigger()},
                host_json={"version": "2.0", "extensions": {"robust": {"initRc": 7}}})
    out, errors = start_and_check(ctx, a, env)
    assert errors == [f"{env['FNHOST_EXTENSIONS_PATH']}/extensions.json: extension \"robust\": "
                      f"init returned 7, {NOT_ERRNO}"], errors


def test_start_returning_a_positive_number_is_named(ctx):
    out, errors = start_and_check(ctx, ext_app(ctx, {"ticker": robust_trigger(startRc=3)}),
                                  robust_env(ctx))
    assert errors == []
    assert "The listener for function 'Functions.ticker' was unable to start: extension " \
           f"\"robust\": start returned 3, {NOT_ERRNO}" in out


def test_read_returning_a_positive_number_is_named(ctx):
    fj = http_function(route="reader", so="fn.so")
    fj["bindings"].append({"type": "robustIn", "direction": "in", "name": "v", "readRc": 2})
    a = ctx.make_app({"reader/function.json": fj,
                      "reader/fn.so": ("copy", ctx.so("native", "echo"))})
    h = ctx.start(a, env=robust_env(ctx))
    assert h.get("/api/reader").status == 500
    out = h.wait_log("Executed 'Functions.reader' (Failed")
    assert "reader/function.json: bindings[2] (robustIn): extension \"robust\": read returned 2, " \
           f"{NOT_ERRNO}" in out


# ---- trigger type names ------------------------------------------------------------


def test_trigger_type_must_end_in_trigger(ctx):
    so = ext_so(ctx, "tocktrig")
    p = ctx.run("extensions", "check", so)
    assert (p.returncode, p.stderr) == (
        1, f"{so}: its trigger type 'tock' does not end in \"Trigger\", so function.json would "
           "take it for an input or output binding; name it 'tockTrigger'\n"), p
    p = ctx.run("extensions", "list", env=manifest(ctx, "tock", so, ["tock"]))
    assert p.returncode == 1 and "tock       (unusable)" in p.stdout, p.stdout
    assert "its trigger type 'tock' does not end in \"Trigger\"" in p.stdout


def test_binding_type_must_not_end_in_trigger(ctx):
    so = ext_so(ctx, "trigbind")
    p = ctx.run("extensions", "check", so)
    assert (p.returncode, p.stderr) == (
        1, f"{so}: its binding type 'lookupTrigger' ends in \"Trigger\", so function.json would "
           "take it for a trigger; rename it without the suffix\n"), p


def test_extensions_check_of_a_missing_file_says_it_once(ctx):
    missing = os.path.join(ctx.tmpdir(), "nothere.so")
    p = ctx.run("extensions", "check", missing)
    assert (p.returncode, p.stdout, p.stderr) == (1, "", f"{missing}: no such file\n"), p


# ---- crashes inside plugin code ----------------------------------------------------


def crash_app(ctx, **props):
    return ext_app(ctx, {"ticker": robust_trigger(**props)},
                   host_json={"version": "2.0", "extensions": {"robust": props}})


def test_constructor_abort_names_the_extension(ctx):
    env = robust_env(ctx)
    env["FNH_TEST_CTOR"] = "abort"
    so = ext_so(ctx, "robust")
    status, out = run_until_exit(ctx, ["start", "--script-root", crash_app(ctx), "--port", "0"],
                                 env)
    assert_died_of(ctx, status, out, signal.SIGABRT, "fnhost: fatal signal SIGABRT (Aborted) "
                   f"while loading extension 'robust' ({so})\n")


def test_constructor_crash_in_extensions_check_names_the_file(ctx):
    so = ext_so(ctx, "robust")
    status, out = run_until_exit(ctx, ["extensions", "check", so], {"FNH_TEST_CTOR": "segv"})
    assert_died_of(ctx, status, out, signal.SIGSEGV, "fnhost: fatal signal SIGSEGV "
                   f"(Segmentation fault) while loading extension ({so})\n")


def test_init_crash_names_the_extension(ctx):
    so = ext_so(ctx, "robust")
    status, out = run_until_exit(
        ctx, ["start", "--script-root", crash_app(ctx, crash="init"), "--port", "0"],
        robust_env(ctx))
    assert_died_of(ctx, status, out, signal.SIGSEGV, "fnhost: fatal signal SIGSEGV "
                   f"(Segmentation fault) while running init of extension 'robust' ({so})\n")


def test_bind_crash_names_the_extension_and_binding(ctx):
    a = ext_app(ctx, {"ticker": robust_trigger(crash="bind")})
    status, out = run_until_exit(ctx, ["start", "--script-root", a, "--port", "0"],
                                 robust_env(ctx))
    assert_died_of(ctx, status, out, signal.SIGSEGV, "fnhost: fatal signal SIGSEGV "
                   "(Segmentation fault) while running bind of extension 'robust' "
                   "(ticker/function.json: bindings[0] (robustTrigger))\n")


def test_function_constructor_crash_names_the_function(ctx):
    a = ctx.make_app({"crashy/function.json": http_function(so="crashy.so"),
                      "crashy/crashy.so": ("copy", ctx.so("robust", "ctorcrash"))})
    status, out = run_until_exit(ctx, ["start", "--script-root", a, "--port", "0",
                                       "--in-process"], {"FNH_TEST_CTOR": "segv"})
    m = re.search(r"^fnhost: fatal signal SIGSEGV \(Segmentation fault\) while loading function "
                  r"'crashy' \((\S+)\)$", out, re.M)
    assert m and m.group(1).endswith("/crashy/crashy.so"), out[-3000:]
    assert_died_of(ctx, status, out, signal.SIGSEGV, m.group(0))


# ---- the open-file limit -----------------------------------------------------------


def test_open_file_limit_is_raised_to_the_hard_limit(ctx):
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    low = 256 if hard == resource.RLIM_INFINITY else min(256, hard // 2)
    a = ext_app(ctx, {})
    sh = shutil.which("sh")
    p = subprocess.Popen([sh, "-c", f"ulimit -Sn {low} && exec \"$0\" start --script-root \"$1\" "
                          "--port 0", ctx.fnhost, a], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, cwd=ctx.tmpdir())
    try:
        lines = []
        for line in iter(p.stdout.readline, b""):
            lines.append(line.decode("utf-8", "replace"))
            if "listening on" in lines[-1]:
                break
        m = re.search(r"listening on [^\s]+:(\d+)", "".join(lines))
        assert m, "".join(lines)
        # answered once the loop runs, i.e. after SIGTERM is handled
        c = http.client.HTTPConnection("127.0.0.1", int(m.group(1)), timeout=15)
        c.request("GET", "/admin/host/status")
        assert c.getresponse().status == 200
        c.close()
        with open(f"/proc/{p.pid}/limits") as f:
            row = next(r for r in f if r.startswith("Max open files"))
        soft_now, hard_now = row.split()[3:5]
        assert soft_now == hard_now and soft_now != str(low), row
    finally:
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=30)
    assert p.returncode == 0


def test_trigger_type_without_the_suffix_is_explained_in_the_app(ctx):
    app = ctx.make_app({"tock/function.json": {"bindings": [
        {"type": "tock", "direction": "in", "name": "t"}], "scriptFile": "x.so"}})
    h = ctx.start(app)
    assert "no trigger binding found (a trigger's type ends in \"Trigger\"; the types here " \
           "are \"tock\")" in h.output, h.output


def test_isolated_function_constructor_crash_fails_the_call_not_the_host(ctx):
    a = ctx.make_app({"crashy/function.json": http_function(so="crashy.so"),
                      "crashy/crashy.so": ("copy", ctx.so("robust", "ctorcrash"))})
    h = ctx.start(a, env={"FNH_TEST_CTOR": "segv"})
    r = h.get("/api/crashy")
    assert r.status == 500, r
    out = h.wait_log("signal 11 (SIGSEGV)")
    assert "while loading function 'crashy'" in out, out[-2000:]
    assert h.proc.poll() is None
