"""End-to-end tests of scaffolding: fnhost init and fnhost new write a ready
app and functions from the templates compiled into the binary; each C
template builds with the generated Makefile (headers found through
`fnhost --cflags` of the fnhost on PATH) and runs under the real host;
fnhost templates lists them; nothing is ever overwritten."""
import http.client
import json
import os
import shutil
import socket
import subprocess
import time

C_TEMPLATES = (("HTTP trigger", "http"), ("Timer trigger", "timer"),
               ("Azure Queue Storage trigger", "queue"), ("Azure Blob Storage trigger", "blob"))


def read(path):
    with open(path) as f:
        return f.read()


def init(ctx, *args):
    d = os.path.join(ctx.tmpdir(), "app")
    p = ctx.run("init", d, *args)
    assert p.returncode == 0, p.stderr
    return d, p


def new(ctx, app, template, name, *args):
    return ctx.run("new", "--template", template, "--name", name, "--script-root", app, *args)


def build_env(ctx):
    """PATH with the fnhost under test first, as a user's shell would have."""
    return dict(os.environ, PATH=os.path.dirname(os.path.abspath(ctx.fnhost)) + os.pathsep +
                os.environ.get("PATH", ""))


def make(ctx, app):
    p = subprocess.run(["make", "-C", app, "CFLAGS=-O2 -Wall -Wextra -Werror"],
                       capture_output=True, text=True, timeout=120, env=build_env(ctx))
    assert p.returncode == 0, p.stdout + p.stderr
    return p


def test_init_native_writes_a_ready_app(ctx):
    d, p = init(ctx)
    assert sorted(os.listdir(d)) == [".gitignore", "Makefile", "host.json",
                                     "local.settings.json"]
    for f in (".gitignore", "Makefile", "host.json", "local.settings.json"):
        assert f"Writing {f}" in p.stdout
    host = json.loads(read(os.path.join(d, "host.json")))
    assert host["version"] == "2.0"
    assert host["extensionBundle"] == {"id": "Microsoft.Azure.Functions.ExtensionBundle",
                                       "version": "[4.*, 5.0.0)"}
    values = json.loads(read(os.path.join(d, "local.settings.json")))["Values"]
    assert values["FUNCTIONS_WORKER_RUNTIME"] == "native"
    assert values["AzureWebJobsStorage"] == "UseDevelopmentStorage=true"
    assert "--cflags" in read(os.path.join(d, "Makefile"))
    ignore = read(os.path.join(d, ".gitignore")).split()
    assert ".fnhost/" in ignore and "*.so" in ignore and "local.settings.json" in ignore
    # an app without functions starts, and says so as Azure does
    h = ctx.start(d)
    assert "No job functions found." in h.output
    assert "host.json: extensionBundle" not in h.output  # what init writes never warns


def test_init_node_and_custom(ctx):
    d, _ = init(ctx, "--worker-runtime", "node")
    assert sorted(os.listdir(d)) == [".gitignore", "host.json", "local.settings.json",
                                     "package.json"]
    pkg = json.loads(read(os.path.join(d, "package.json")))
    assert pkg["name"] == "app" and pkg["scripts"]["start"] == "fnhost start"
    assert json.loads(read(os.path.join(d, "local.settings.json")))["Values"][
        "FUNCTIONS_WORKER_RUNTIME"] == "node"

    d, _ = init(ctx, "--worker-runtime", "custom")
    assert sorted(os.listdir(d)) == [".gitignore", "handler.py", "host.json",
                                     "local.settings.json"]
    host = json.loads(read(os.path.join(d, "host.json")))
    assert host["customHandler"]["description"]["defaultExecutablePath"] == "python3"
    assert host["customHandler"]["description"]["arguments"] == ["handler.py"]
    assert os.access(os.path.join(d, "handler.py"), os.X_OK)
    assert json.loads(read(os.path.join(d, "local.settings.json")))["Values"][
        "FUNCTIONS_WORKER_RUNTIME"] == "custom"
    p = ctx.run("init", ctx.tmpdir(), "--worker-runtime", "python")
    assert p.returncode == 2 and "'python' is not a runtime fnhost scaffolds" in p.stderr


def test_init_refuses_to_overwrite(ctx):
    d = ctx.tmpdir()
    with open(os.path.join(d, "local.settings.json"), "w") as f:
        f.write("mine")
    p = ctx.run("init", d)
    assert p.returncode == 1
    assert p.stderr == (f"fnhost init: {d}/local.settings.json already exists; fnhost init never "
                        "overwrites files, so nothing was written: remove it or choose another "
                        "folder\n")
    assert os.listdir(d) == ["local.settings.json"]  # nothing else was written
    assert read(os.path.join(d, "local.settings.json")) == "mine"


def test_new_refusals(ctx):
    d, _ = init(ctx)
    assert new(ctx, d, "http", "hello").returncode == 0
    before = read(os.path.join(d, "hello", "hello.c"))
    p = new(ctx, d, "timer", "hello")
    assert p.returncode == 1 and f"{d}/hello already exists" in p.stderr
    assert "never overwrites files" in p.stderr
    assert read(os.path.join(d, "hello", "hello.c")) == before
    assert sorted(os.listdir(os.path.join(d, "hello"))) == ["function.json", "hello.c"]
    p = new(ctx, d, "Cosmos DB trigger", "x")
    assert p.returncode == 2 and "'Cosmos DB trigger' is not a template" in p.stderr
    p = new(ctx, d, "http", "1bad")
    assert p.returncode == 2 and "'1bad' is not a valid function name" in p.stderr
    p = new(ctx, ctx.tmpdir(), "http", "x")
    assert p.returncode == 1 and "has no host.json" in p.stderr
    p = ctx.run("new", "--name", "x", "--script-root", d)
    assert p.returncode == 2 and "both --template and --name are required" in p.stderr
    assert not os.path.exists(os.path.join(d, "x"))


def test_templates_list_table_and_json(ctx):
    p = ctx.run("templates")
    assert p.returncode == 0
    lines = p.stdout.splitlines()
    assert lines[0].split() == ["TEMPLATE", "SHORT", "RUNTIME", "TRIGGER", "FILES"]
    assert "HTTP trigger                   http     native   httpTrigger   <name>.c " \
           "function.json" in lines
    p = ctx.run("templates", "--json")
    rows = json.loads(p.stdout)
    got = {(r["name"], r["runtime"]) for r in rows}
    for name, _ in C_TEMPLATES:
        for rt in ("native", "node", "custom"):
            assert (name, rt) in got
    http_node = [r for r in rows if r["short"] == "http" and r["runtime"] == "node"][0]
    assert http_node == {"name": "HTTP trigger", "short": "http", "alias": "HttpTrigger",
                         "runtime": "node", "trigger": "httpTrigger",
                         "files": ["function.json", "index.js"]}
    assert len(rows) == 12


def test_template_names_as_azure_spells_them(ctx):
    d, _ = init(ctx)
    for i, name in enumerate(("HTTP trigger", "HttpTrigger", "http", "http-trigger")):
        p = new(ctx, d, name, f"f{i}")
        assert p.returncode == 0, p.stderr
        assert 'from the "HTTP trigger" template' in p.stdout
        fj = json.loads(read(os.path.join(d, f"f{i}", "function.json")))
        assert fj["bindings"][0]["type"] == "httpTrigger"
        assert fj["scriptFile"] == f"f{i}.so"


def test_cflags_from_build_tree_and_install(ctx):
    p = ctx.run("--cflags")
    assert p.returncode == 0
    inc = p.stdout.strip()
    assert inc.startswith("-I") and os.path.isfile(os.path.join(inc[2:], "fnhost", "function.h"))
    assert os.path.samefile(inc[2:], ctx.path("host", "include"))
    # an installed layout: PREFIX/bin/fnhost finds PREFIX/include
    prefix = ctx.tmpdir()
    os.makedirs(os.path.join(prefix, "bin"))
    shutil.copy(ctx.fnhost, os.path.join(prefix, "bin", "fnhost"))
    shutil.copytree(ctx.path("host", "include"), os.path.join(prefix, "include"))
    p = subprocess.run([os.path.join(prefix, "bin", "fnhost"), "--cflags"], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 0 and p.stdout == f"-I{os.path.realpath(prefix)}/include\n"
    # without headers anywhere near: a clear refusal, not a wrong path
    shutil.rmtree(os.path.join(prefix, "include"))
    p = subprocess.run([os.path.join(prefix, "bin", "fnhost"), "--cflags"], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 1 and p.stdout == ""
    assert "fnhost/function.h is neither in" in p.stderr and "make install" in p.stderr


def wait_for(h, needle, timeout=20):
    return h.wait_log(needle, timeout)


def test_each_c_template_builds_and_runs(ctx):
    d, _ = init(ctx)
    for template, short in C_TEMPLATES:
        p = new(ctx, d, template, f"my{short}")
        assert p.returncode == 0, p.stderr
        assert f'The function "my{short}" was created successfully from the "{template}" ' \
               'template.' in p.stdout
    make(ctx, d)
    for _, short in C_TEMPLATES:
        assert os.path.isfile(os.path.join(d, f"my{short}", f"my{short}.so"))
    h = ctx.start(d)
    assert "is in error" not in h.output and "No job functions found" not in h.output
    # HTTP: query, then body
    r = h.get("/api/myhttp?name=Ann")
    assert r.status == 200
    assert r.text == "Hello, Ann. This HTTP triggered function executed successfully."
    r = h.post("/api/myhttp", body="Bob")
    assert r.text == "Hello, Bob. This HTTP triggered function executed successfully."
    assert h.get("/api/myhttp").text.startswith("This HTTP triggered function executed")
    wait_for(h, "C HTTP trigger function processed a request.")
    # Timer: run on demand
    r = h.post("/admin/functions/mytimer", body="{}",
               headers={"Content-Type": "application/json"})
    assert r.status == 202
    wait_for(h, "C timer trigger function ran! TimerInfo: {")
    # Queue: a message put with the queue command
    p = ctx.run("queue", "put", "myqueue-items", "work-1", "--script-root", d)
    assert p.returncode == 0, p.stderr
    wait_for(h, "C queue trigger function processed work item: work-1 (DequeueCount 1)")
    # Blob: a file dropped into the emulated container
    folder = os.path.join(d, ".fnhost", "storage", "blobs", "samples-workitems")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "report.txt"), "w") as f:
        f.write("12345")
    wait_for(h, "C blob trigger function processed blob Name: report.txt Blob Size: 5 Bytes")
    for _, short in C_TEMPLATES:
        assert f"Executed 'Functions.my{short}' (Succeeded" in h.output
    assert "Failed" not in h.output


def test_node_and_custom_function_shapes(ctx):
    d, _ = init(ctx, "--worker-runtime", "node")
    assert new(ctx, d, "HTTP trigger", "hello").returncode == 0  # runtime from the app
    assert sorted(os.listdir(os.path.join(d, "hello"))) == ["function.json", "index.js"]
    fj = json.loads(read(os.path.join(d, "hello", "function.json")))
    assert "scriptFile" not in fj  # Azure's default: index.js
    assert [b["type"] for b in fj["bindings"]] == ["httpTrigger", "http"]
    assert "module.exports = async function (context, req)" in \
        read(os.path.join(d, "hello", "index.js"))
    assert new(ctx, d, "queue", "work").returncode == 0
    assert json.loads(read(os.path.join(d, "work", "function.json")))["bindings"][0] == {
        "name": "myQueueItem", "type": "queueTrigger", "direction": "in",
        "queueName": "myqueue-items", "connection": "AzureWebJobsStorage"}

    d, _ = init(ctx, "--worker-runtime", "custom")
    for template, short in C_TEMPLATES:
        assert new(ctx, d, template, short).returncode == 0
        assert os.listdir(os.path.join(d, short)) == ["function.json"]
    # the handler skeleton answers the custom handler protocol
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    proc = subprocess.Popen(["python3", os.path.join(d, "handler.py")],
                            env=dict(os.environ, FUNCTIONS_CUSTOMHANDLER_PORT=str(port)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):  # bounded: up to 20 s for python to listen
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                c.request("GET", "/")
                c.getresponse().read()
                break
            except OSError:
                time.sleep(0.1)
        payload = {"Data": {"req": {"Method": "GET", "Query": {"name": "Ann"}}},
                   "Metadata": {}}
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("POST", "/http", body=json.dumps(payload),
                  headers={"Content-Type": "application/json"})
        out = json.loads(c.getresponse().read())
        assert out["Outputs"]["res"]["statusCode"] == 200
        assert out["Outputs"]["res"]["body"] == \
            "Hello, Ann. This HTTP triggered function executed successfully."
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("POST", "/queue", body=json.dumps({"Data": {"myQueueItem": "\"hi\""}}))
        out = json.loads(c.getresponse().read())
        assert out["Logs"] and "queue" in out["Logs"][0] and out["Outputs"] == {}
    finally:
        proc.kill()
        proc.wait()
    # --worker-runtime overrides the app's runtime
    assert new(ctx, d, "timer", "ctick", "--worker-runtime", "native").returncode == 0
    assert sorted(os.listdir(os.path.join(d, "ctick"))) == ["ctick.c", "function.json"]


def language_templates_run(ctx, runtime):
    d, _ = init(ctx, "--worker-runtime", runtime)
    for template, short in C_TEMPLATES:
        assert new(ctx, d, template, f"my{short}").returncode == 0
    h = ctx.start(d, wait=False)
    h.wait_started(60)  # the worker's or handler's start is part of the host's
    assert "is in error" not in h.output and "No job functions found" not in h.output
    deadline = time.time() + 30  # a custom handler answers once it is ready
    while True:
        r = h.get("/api/myhttp?name=Ann")
        if r.status == 200 or time.time() > deadline:
            break
        time.sleep(0.1)
    assert r.status == 200 and "Hello, Ann" in r.text, r
    r = h.post("/admin/functions/mytimer", body="{}",
               headers={"Content-Type": "application/json"})
    assert r.status == 202
    p = ctx.run("queue", "put", "myqueue-items", "work-1", "--script-root", d)
    assert p.returncode == 0, p.stderr
    folder = os.path.join(d, ".fnhost", "storage", "blobs", "samples-workitems")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "report.txt"), "w") as f:
        f.write("12345")
    for _, short in C_TEMPLATES:
        wait_for(h, f"Executed 'Functions.my{short}' (Succeeded", timeout=30)
    assert "(Failed" not in h.output, h.output
    h.stop()


def test_node_templates_run_with_no_edit(ctx):
    language_templates_run(ctx, "node")


def test_custom_handler_templates_run_with_no_edit(ctx):
    language_templates_run(ctx, "custom")
