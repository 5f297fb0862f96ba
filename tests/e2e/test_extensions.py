"""End-to-end tests of binding extensions: on-demand loading (checked against
the process's mapped files), the lifetime order, fnh_fire/complete through a
real trigger thread, input and output bindings with binding expressions,
and every refusal with its sentence while the other functions keep serving."""
import json
import os
import re
import shutil

from harness import http_function


def manifest_dir(ctx, entries):
    d = ctx.tmpdir()
    with open(os.path.join(d, "extensions.json"), "w") as f:
        json.dump({"extensions": entries}, f)
    return d


def ext_so(ctx, name):
    p = os.path.join(ctx.build, "tests", "ext", name + ".so")
    assert os.path.exists(p), f"{p} is not built; run make"
    return p


def tick_entry(ctx, name="tick", so="ticktrig", types=("tickTrigger", "constant", "memo")):
    return {"name": name, "file": ext_so(ctx, so), "types": list(types)}


def tick_function(count=3, const=None, memo_label="{n}", extra_bindings=()):
    b = [{"type": "tickTrigger", "direction": "in", "name": "tick", "count": count},
         {"type": "memo", "direction": "out", "name": "memo", "label": memo_label}]
    if const is not None:
        b.append({"type": "constant", "direction": "in", "name": "const", "value": const})
    b.extend(extra_bindings)
    return {"bindings": b, "scriptFile": "tickfn.so"}


def app(ctx, tick_fj=None, values=None, host_json=None):
    files = {"echo/function.json": http_function(route="echo/{*rest}", so="echo.so"),
             "echo/echo.so": ("copy", ctx.so("native", "echo"))}
    if tick_fj:
        files["ticker/function.json"] = tick_fj
        files["ticker/tickfn.so"] = ("copy", ctx.so("ext", "tickfn"))
    if values:
        files["local.settings.json"] = {"Values": values}
    return ctx.make_app(files, host_json)


def mapped(h):
    with open(f"/proc/{h.proc.pid}/maps") as f:
        return f.read()


def test_http_only_app_loads_no_extension(ctx):
    d = manifest_dir(ctx, [tick_entry(ctx)])
    h = ctx.start(app(ctx), env={"FNHOST_EXTENSIONS_PATH": d})
    assert h.get("/api/echo/x").status == 200
    maps = mapped(h)
    assert "ticktrig.so" not in maps and "fnh_queue.so" not in maps and "fnh_blob.so" not in maps
    assert h.get("/admin/host/status").json()["extensions"] == []


def test_used_extension_is_loaded_and_fires(ctx):
    d = manifest_dir(ctx, [tick_entry(ctx)])
    h = ctx.start(app(ctx, tick_function(count=3, const="c-{n}")),
                  env={"FNHOST_EXTENSIONS_PATH": d})
    for n in range(3):  # the three run side by side: they complete in any order
        out = h.wait_log(f"complete token={n + 1} ")
    assert "ticktrig.so" in mapped(h)
    st = h.get("/admin/host/status").json()
    assert [e["name"] for e in st["extensions"]] == ["tick"]
    assert st["extensions"][0]["version"] == "1.2.3"
    for n in range(3):
        assert f"complete token={n + 1} status=0 result=ret {n}" in out
        # output binding got the function's value; its label expression resolved from metadata
        assert f"memo {n}: got tick {n} n={n} const=c-{n}" in out
    assert "Executing 'Functions.ticker' (Reason='A tick happened.'" in out
    assert "Trigger Details: Tick: 0" in out
    assert h.get("/api/echo/x").status == 200


def test_failed_invocation_completes_with_error(ctx):
    d = manifest_dir(ctx, [tick_entry(ctx)])
    h = ctx.start(app(ctx, tick_function(count=2), values={"TICK_FAIL_N": "1"}),
                  env={"FNHOST_EXTENSIONS_PATH": d})
    h.wait_log("complete token=2 ")
    out = h.wait_log("complete token=1 ")  # the two run side by side: either may end first
    assert "complete token=1 status=0" in out
    assert "complete token=2 status=-5 result=null" in out  # -EIO


def test_null_input_binding(ctx):
    d = manifest_dir(ctx, [tick_entry(ctx)])
    h = ctx.start(app(ctx, tick_function(count=1, const="null")),
                  env={"FNHOST_EXTENSIONS_PATH": d})
    out = h.wait_log("complete token=1 ")
    assert "const=null" in out


def test_lifecycle_order_on_sigterm(ctx):
    d = manifest_dir(ctx, [tick_entry(ctx)])
    h = ctx.start(app(ctx, tick_function(count=2)), env={"FNHOST_EXTENSIONS_PATH": d})
    h.wait_log("complete token=2 ")
    h.stop()
    steps = re.findall(r"lifecycle: (\w+)", h.output)
    assert steps == ["init", "bind", "start", "stop", "unbind", "fini"], steps
    assert "fire after stop: ESHUTDOWN" in h.output


def test_unknown_binding_type_lists_installed(ctx):
    d = manifest_dir(ctx, [tick_entry(ctx)])
    fj = {"bindings": [{"type": "redisTrigger", "direction": "in", "name": "m"}],
          "scriptFile": "tickfn.so"}
    h = ctx.start(app(ctx, fj), env={"FNHOST_EXTENSIONS_PATH": d})
    assert "The 'ticker' function is in error: ticker/function.json: bindings[0].type: " \
           "'redisTrigger' is a binding type fnhost does not emulate: no installed extension " \
           "provides it (the installed types are httpTrigger, http, timerTrigger, tickTrigger, " \
           "constant, memo" in h.output
    assert "to add it, write an extension" in h.output
    assert h.get("/api/echo/x").status == 200


def refusal(ctx, entries, fj=None):
    d = manifest_dir(ctx, entries)
    h = ctx.start(app(ctx, fj or tick_function(count=1)), env={"FNHOST_EXTENSIONS_PATH": d})
    assert h.get("/api/echo/x").status == 200  # the rest of the app runs
    fs = {f["name"]: f for f in h.get("/admin/functions").json()}
    assert fs["ticker"]["errors"], fs["ticker"]
    assert fs["echo"]["errors"] == []
    return d, h.output


def test_refuses_missing_file(ctx):
    d, out = refusal(ctx, [{"name": "tick", "file": "nothere.so",
                            "types": ["tickTrigger", "memo"]}])
    assert f"{d}/extensions.json: extension \"tick\": file 'nothere.so' not found (looked " \
           "beside the manifest and in the host's extensions folder); build it (make) or fix " \
           "\"file\"" in out


def test_refuses_unloadable_file(ctx):
    d0 = ctx.tmpdir()
    junk = os.path.join(d0, "junk.so")
    with open(junk, "w") as f:
        f.write("not an ELF")
    d, out = refusal(ctx, [{"name": "tick", "file": junk, "types": ["tickTrigger", "memo"]}])
    assert f"extension \"tick\" ({junk}): cannot load: " in out


def test_refuses_no_descriptor(ctx):
    so = ext_so(ctx, "noext")
    d, out = refusal(ctx, [{"name": "tick", "file": so, "types": ["tickTrigger", "memo"]}])
    assert f"extension \"tick\" ({so}) is not an fnhost extension: it exports no fnh_extension; " \
           "define one with FNH_EXTENSION_HEAD" in out


def test_refuses_newer_abi(ctx):
    so = ext_so(ctx, "newabi")
    d, out = refusal(ctx, [{"name": "tick", "file": so, "types": ["tickTrigger", "memo"]}])
    assert f"extension \"tick\" ({so}) was built for fnhost ABI 2.0, this host provides 1.2; " \
           "rebuild it against this host's include/fnhost headers" in out


def test_refuses_manifest_type_not_in_descriptor(ctx):
    d, out = refusal(ctx, [tick_entry(ctx, types=("tickTrigger", "memo", "ghost"))])
    assert "the manifest says it provides 'ghost' but" in out


def test_refuses_duplicate_provider(ctx):
    d0 = ctx.tmpdir()
    copy = os.path.join(d0, "ticktrig2.so")
    shutil.copy(ext_so(ctx, "ticktrig"), copy)
    d, out = refusal(ctx, [tick_entry(ctx),
                           {"name": "tick2", "file": copy, "types": ["memo"]}],
                     fj=tick_function(count=1))
    assert "extension \"tick2\" (" in out and "provides 'memo', already provided by extension \"tick\"" in out


def test_refuses_init_failure_with_host_json_path(ctx):
    d = manifest_dir(ctx, [tick_entry(ctx)])
    a = app(ctx, tick_function(count=1),
            host_json={"version": "2.0", "extensions": {"tick": {"mode": "fail"}}})
    h = ctx.start(a, env={"FNHOST_EXTENSIONS_PATH": d})
    assert "The 'ticker' function is in error: host.json: extensions.tick.mode: 'fail' makes " \
           "init fail; use \"normal\"" in h.output
    assert h.get("/api/echo/x").status == 200


def test_refuses_bind_failure_with_function_json_path(ctx):
    d, out = refusal(ctx, [tick_entry(ctx)], fj=tick_function(count=-1))
    assert "The 'ticker' function is in error: ticker/function.json: bindings[0] (tickTrigger): " \
           "count: must be a number of events, 0 or more" in out


def test_extensions_cli(ctx):
    d = manifest_dir(ctx, [tick_entry(ctx)])
    p = ctx.run("extensions", "list", env={"FNHOST_EXTENSIONS_PATH": d})
    assert re.search(r"^tick\s+1\.2\.3\s+ABI 1\.2\s+\S*ticktrig\.so$", p.stdout, re.M), p.stdout
    assert "types: tickTrigger (trigger) constant (in) memo (out)" in p.stdout
    p = ctx.run("extensions", "check", ext_so(ctx, "ticktrig"))
    assert p.returncode == 0 and "is a usable fnhost extension" in p.stdout
    p = ctx.run("extensions", "check", ext_so(ctx, "newabi"))
    assert p.returncode == 1 and "was built for fnhost ABI 2.0" in p.stderr
    p = ctx.run("extensions", "check", ext_so(ctx, "noext"))
    assert p.returncode == 1 and "is not an fnhost extension" in p.stderr


def test_admin_invoke_goes_through_the_triggers_invoke_hook(ctx):
    d = manifest_dir(ctx, [tick_entry(ctx)])
    h = ctx.start(app(ctx, tick_function(count=0)), env={"FNHOST_EXTENSIONS_PATH": d})
    r = h.post("/admin/functions/ticker", body='{"input": "hello"}',
               headers={"Content-Type": "application/json"})
    assert r.status == 202, r
    out = h.wait_log("complete token=1000 ")
    assert "got manual hello" in out, out
    # the hook refused: the caller is told, nothing runs
    r = h.post("/admin/functions/ticker", body='{"input": "busy"}',
               headers={"Content-Type": "application/json"})
    assert r.status == 500 and "Device or resource busy" in r.json()["error"], r


def test_admin_invoke_of_builtin_triggers_uses_their_hooks(ctx):
    files = {"echo/function.json": http_function(route="echo/{*rest}", so="echo.so"),
             "echo/echo.so": ("copy", ctx.so("native", "echo")),
             "tick/function.json": {"bindings": [{"type": "timerTrigger", "direction": "in",
                                                  "name": "myTimer",
                                                  "schedule": "0 0 0 1 1 *"}],
                                    "scriptFile": "ticker.so"},
             "tick/ticker.so": ("copy", ctx.so("native", "ticker"))}
    h = ctx.start(ctx.make_app(files))
    assert h.post("/admin/functions/tick", body="{}").status == 202
    out = h.wait_log("TimerInfo: ")
    assert '"IsPastDue":false' in out
    assert h.post("/admin/functions/echo", body='{"input": "abc"}').status == 202
    h.wait_log("Executed 'Functions.echo' (Succeeded")
