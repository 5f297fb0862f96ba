"""End-to-end tests of the blob extension (fnh_blob.so): the blob trigger on
files dropped into .fnhost/storage/blobs/<container>/ with path captures,
exactly once per blob version (also across a restart), changed blobs, files
still being written, poison blobs, the blob input and output bindings with
binding expressions, path traversal refusals, connection settings, and the
latency from a file's close to the function's start."""
import json
import os
import re
import statistics
import time

from harness import http_function

DEV = {"AzureWebJobsStorage": "UseDevelopmentStorage=true"}


def trig_function(path="samples-workitems/{name}.{ext}", out=None, inp=None, connection=None):
    b = [{"type": "blobTrigger", "direction": "in", "name": "myBlob", "path": path}]
    if connection:
        b[0]["connection"] = connection
    if out:
        b.append({"type": "blob", "direction": "out", "name": "outBlob", "path": out})
    if inp:
        b.append({"type": "blob", "direction": "in", "name": "inBlob", "path": inp})
    return {"bindings": b, "scriptFile": "blobtrig.so"}


def blob_app(ctx, functions=None, values=DEV, host_json=None):
    """functions maps a function name to its function.json (default: one
    blobtrig on samples-workitems/{name}.{ext})."""
    functions = functions or {"blobtrig": trig_function()}
    files = {}
    for name, fj in functions.items():
        files[f"{name}/function.json"] = fj
        so = fj["scriptFile"]
        files[f"{name}/{so}"] = ("copy", ctx.so("blob", so[:-3]))
    if values is not None:
        files["local.settings.json"] = {"Values": values}
    return ctx.make_app(files, host_json)


def blob_path(app, container, name=""):
    return os.path.join(app, ".fnhost", "storage", "blobs", container, name)


def drop(app, container, name, data, mode="w"):
    p = blob_path(app, container, name)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, mode) as f:
        f.write(data)
    return p


def infos(output):
    return [json.loads(m) for m in re.findall(r"BlobInfo: (\{.*\})$", output, re.M)]


def wait_count(h, needle, n, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if h.output.count(needle) >= n:
            return h.output
        time.sleep(0.01)
    raise AssertionError(f"expected {n} x {needle!r}, got {h.output.count(needle)}:\n"
                         f"{h.output[-3000:]}")


OK = "Executed 'Functions.blobtrig' (Succeeded"
FAILED = "Executed 'Functions.blobtrig' (Failed"


def test_trigger_on_drop_in_with_captures(ctx):
    app = blob_app(ctx)
    h = ctx.start(app)
    assert os.path.isdir(blob_path(app, "samples-workitems"))  # created for the user
    drop(app, "samples-workitems", "foo.txt", "hello blob")
    drop(app, "samples-workitems", "nested/dir/report.v2.json", '{"a": 1}')
    drop(app, "samples-workitems", "noextension", "ignored: the pattern needs a '.'")
    out = wait_count(h, OK, 2)
    assert "Executing 'Functions.blobtrig' (Reason='New blob detected: " \
           "samples-workitems/foo.txt'" in out
    assert "Trigger Details: BlobName: foo.txt, ETag: 0x" in out
    by_name = {i["meta"]["name"]: i for i in infos(out)}
    assert set(by_name) == {"foo", "nested/dir/report.v2"}
    foo = by_name["foo"]
    assert foo["payload"] == "hello blob" and foo["content_type"] == "text/plain"
    m = foo["meta"]
    assert m["ext"] == "txt" and m["BlobTrigger"] == "samples-workitems/foo.txt"
    assert m["Uri"] == "file://" + blob_path(os.path.realpath(app), "samples-workitems", "foo.txt")
    props = json.loads(m["Properties"])
    assert props["Length"] == 10 and props["ETag"].startswith('"0x') and props["LastModified"]
    deep = by_name["nested/dir/report.v2"]
    assert deep["meta"]["ext"] == "json" and deep["content_type"] == "application/json"
    time.sleep(0.3)
    assert h.output.count("Executing 'Functions.blobtrig'") == 2


def test_exactly_once_across_restart(ctx):
    app = blob_app(ctx)
    h = ctx.start(app)
    drop(app, "samples-workitems", "once.txt", "one")
    wait_count(h, OK, 1)
    h.stop()
    receipts = os.path.join(app, ".fnhost", "blobreceipts", "blobtrig")
    found = [os.path.join(d, f) for d, _, fs in os.walk(receipts) for f in fs]
    assert len(found) == 1 and found[0].endswith("/samples-workitems/once.txt"), found
    with open(found[0]) as f:
        rec = json.load(f)
    assert rec["Status"] == "Complete" and rec["BlobName"] == "once.txt"
    # a blob dropped while the host is down is found by the start-up scan
    drop(app, "samples-workitems", "while-down.txt", "two")
    time.sleep(0.25)  # older than the scan's settle time
    h2 = ctx.start(app)
    out = wait_count(h2, OK, 1)
    time.sleep(0.5)
    out = h2.output
    assert out.count("Executing 'Functions.blobtrig'") == 1, out
    assert "samples-workitems/while-down.txt" in out and "once.txt" not in out
    # deleting the receipt reprocesses the blob
    h2.stop()
    os.remove(found[0])
    h3 = ctx.start(app)
    out = wait_count(h3, OK, 1)
    assert "New blob detected: samples-workitems/once.txt" in out


def test_changed_blob_triggers_again(ctx):
    app = blob_app(ctx)
    h = ctx.start(app)
    drop(app, "samples-workitems", "doc.txt", "version 1")
    wait_count(h, OK, 1)
    time.sleep(0.02)
    drop(app, "samples-workitems", "doc.txt", "version 2, longer")
    out = wait_count(h, OK, 2)
    assert [i["payload"] for i in infos(out)] == ["version 1", "version 2, longer"]
    # an atomic replace (rename over it) is a new version too
    tmp = drop(app, "samples-workitems", "staging", "version 3")  # no '.': no match
    os.rename(tmp, blob_path(app, "samples-workitems", "doc.txt"))
    out = wait_count(h, OK, 3)
    assert infos(out)[-1]["payload"] == "version 3"
    time.sleep(0.3)
    assert h.output.count("Executing 'Functions.blobtrig'") == 3


def test_partial_write_triggers_once_with_full_content(ctx):
    app = blob_app(ctx)
    h = ctx.start(app)
    p = blob_path(app, "samples-workitems", "big.txt")
    with open(p, "w") as f:
        f.write("first half, ")
        f.flush()
        time.sleep(0.6)  # longer than any settle time
        assert "Executing 'Functions.blobtrig'" not in h.output
        f.write("second half")
    out = wait_count(h, OK, 1)
    time.sleep(0.4)
    assert h.output.count("Executing 'Functions.blobtrig'") == 1
    assert infos(out)[0]["payload"] == "first half, second half"


def leases_work(path):
    """True when the file system grants read leases (F_SETLEASE), which is how
    the trigger tells a file still open for writing at start-up; elsewhere it
    falls back on a 200 ms quiet time, which a slower writer defeats."""
    import fcntl
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.fcntl(fd, getattr(fcntl, "F_SETLEASE", 1024), fcntl.F_RDLCK)
        fcntl.fcntl(fd, getattr(fcntl, "F_SETLEASE", 1024), fcntl.F_UNLCK)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def test_partial_write_at_startup_waits_for_close(ctx):
    app = blob_app(ctx)
    os.makedirs(blob_path(app, "samples-workitems"))
    p = blob_path(app, "samples-workitems", "slow.txt")
    if not leases_work(drop(app, "probe", "lease", "x")):
        return  # see leases_work
    with open(p, "w") as f:
        f.write("begun before the host, ")
        f.flush()
        h = ctx.start(app)  # its start-up scan sees a file still open for writing
        time.sleep(0.5)
        assert "Executing 'Functions.blobtrig'" not in h.output
        f.write("finished after")
    out = wait_count(h, OK, 1)
    assert infos(out)[0]["payload"] == "begun before the host, finished after"


def test_poison_after_five_failures(ctx):
    app = blob_app(ctx)
    h = ctx.start(app)
    drop(app, "samples-workitems", "bad.txt", "FAIL always")
    out = wait_count(h, FAILED, 5)
    out = h.wait_log("it is poison and will not be retried")
    counts = re.findall(r"Trigger Details: .*DequeueCount: (\d)", out)
    assert counts == ["1", "2", "3", "4", "5"], counts
    assert "Blob 'samples-workitems/bad.txt' (ETag 0x" in out and "failed 5 times" in out
    poison_dir = os.path.join(app, ".fnhost", "blobtrigger-poison")
    files = os.listdir(poison_dir)
    assert len(files) == 1
    with open(os.path.join(poison_dir, files[0])) as f:
        rec = json.load(f)
    assert rec["FunctionId"] == "Host.Functions.blobtrig" and rec["BlobType"] == "BlockBlob"
    assert rec["ContainerName"] == "samples-workitems" and rec["BlobName"] == "bad.txt"
    assert rec["ETag"].startswith("0x")
    time.sleep(0.8)
    assert h.output.count("Executing 'Functions.blobtrig'") == 5
    # poison survives a restart: no sixth attempt
    h.stop()
    h2 = ctx.start(app)
    time.sleep(0.5)
    assert "Executing 'Functions.blobtrig'" not in h2.output


def io_function(inp="inputs/{name}", out=None, route="blob", methods=("get", "post")):
    fj = http_function(route=route, methods=methods, so="blobhttp.so")
    if inp:
        fj["bindings"].append({"type": "blob", "direction": "in", "name": "inBlob", "path": inp})
    if out:
        fj["bindings"].append({"type": "blob", "direction": "out", "name": "outBlob",
                               "path": out})
    return fj


def test_input_binding_present_and_missing(ctx):
    app = blob_app(ctx, {"blobhttp": io_function(inp="inputs/{name}.txt")})
    drop(app, "inputs", "present.txt", "stored text")
    drop(app, "inputs", "deep/er.txt", "nested")
    h = ctx.start(app)
    assert h.get("/api/blob?name=present").text == "in=stored text"
    assert h.get("/api/blob?name=deep/er").text == "in=nested"
    assert h.get("/api/blob?name=missing").text == "in=null"
    r = h.get("/api/blob?name=other-folder/missing")
    assert (r.status, r.text) == (200, "in=null")


def test_input_binding_in_a_blob_triggered_function(ctx):
    fj = trig_function(path="samples-workitems/{name}", inp="refdata/{name}.ref")
    app = blob_app(ctx, {"blobtrig": fj})
    drop(app, "refdata", "a.ref", "reference for a")
    h = ctx.start(app)
    drop(app, "samples-workitems", "a", "A")
    drop(app, "samples-workitems", "b", "B")
    out = wait_count(h, OK, 2)
    got = {i["meta"]["name"]: i.get("in", "absent") for i in infos(out)}
    assert got == {"a": "reference for a", "b": None}


def test_output_binding_with_rand_guid_and_name_feeds_another_trigger(ctx):
    chained = trig_function(path="processed/{stem}-{tail}.txt")
    chained["scriptFile"] = "blobtrig.so"
    app = blob_app(ctx, {
        "blobtrig": trig_function(out="processed/{name}-{rand-guid}.txt"),
        "chained": chained,
    })
    h = ctx.start(app)
    drop(app, "samples-workitems", "report.csv", "a,b")
    out = h.wait_log("Executed 'Functions.chained' (Succeeded")
    files = os.listdir(blob_path(app, "processed"))
    assert len(files) == 1, files  # no temp files left behind
    m = re.fullmatch(r"report-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
                     r"\.txt", files[0])
    assert m, files
    with open(blob_path(app, "processed", files[0])) as f:
        assert f.read() == "processed:a,b"
    chained_info = [i for i in infos(out) if i["meta"]["BlobTrigger"].startswith("processed/")]
    # parameters are greedy: the last '-' splits
    assert chained_info[0]["meta"]["stem"] == "report-" + m.group(1).rpartition("-")[0]
    assert chained_info[0]["meta"]["tail"] == m.group(1).rpartition("-")[2]
    assert chained_info[0]["payload"] == "processed:a,b"


def test_output_binding_from_http_creates_container_and_folders(ctx):
    app = blob_app(ctx, {"blobhttp": io_function(inp=None, out="uploads/{folder}/{name}.bin")})
    h = ctx.start(app)
    r = h.post("/api/blob?folder=x/y&name=data", body=b"\x00\x01binary\xff")
    assert r.status == 200, r
    with open(blob_path(app, "uploads", "x/y/data.bin"), "rb") as f:
        assert f.read() == b"\x00\x01binary\xff"
    # overwrite is atomic and complete
    r = h.post("/api/blob?folder=x/y&name=data", body=b"v2")
    with open(blob_path(app, "uploads", "x/y/data.bin"), "rb") as f:
        assert f.read() == b"v2"
    assert os.listdir(blob_path(app, "uploads", "x/y")) == ["data.bin"]


def test_path_traversal_refused(ctx):
    fj = io_function(inp="inputs/{name}", out="uploads/{target}")
    app = blob_app(ctx, {"blobhttp": fj})
    secret = os.path.join(app, "secret.txt")
    with open(secret, "w") as f:
        f.write("do not read me")
    drop(app, "inputs", "ok.txt", "fine")
    os.makedirs(blob_path(app, "uploads"))
    # symlinks leading out of the storage root
    os.symlink(secret, blob_path(app, "inputs", "link-out"))
    os.symlink(app, blob_path(app, "uploads", "dir-out"))
    # a symlink that stays inside is fine
    os.symlink(blob_path(app, "inputs", "ok.txt"), blob_path(app, "inputs", "link-in"))
    h = ctx.start(app)
    assert h.get("/api/blob?name=ok.txt").text == "in=fine"
    assert h.get("/api/blob?name=link-in").text == "in=fine"
    for name in ("../../../secret.txt", "..%2F..%2F..%2Fsecret.txt", "a/../../x", "link-out"):
        r = h.get(f"/api/blob?name={name}")
        assert r.status == 500 and "do not read me" not in r.text, (name, r)
    h.wait_log("refused blob path 'inputs/../../../secret.txt'")
    h.wait_log("refused blob path 'inputs/link-out': a symlink leads outside the storage root")
    for target in ("../../escaped.txt", "dir-out/escaped.txt", "x/../../../escaped.txt"):
        r = h.post(f"/api/blob?name=ok.txt&target={target}", body="evil")
        assert r.status == 500, (target, r)
    h.wait_log("refused blob path 'uploads/dir-out/escaped.txt'")
    assert not os.path.exists(os.path.join(app, "escaped.txt"))
    assert not os.path.exists(os.path.join(app, ".fnhost", "storage", "escaped.txt"))


def test_cloud_connection_string_refused(ctx):
    cloud = ("DefaultEndpointsProtocol=https;AccountName=myacct;AccountKey=bm90IGEga2V5;"
             "EndpointSuffix=core.windows.net")
    app = blob_app(ctx, {"blobtrig": trig_function(), "blobhttp": io_function()},
                   values={"AzureWebJobsStorage": cloud})
    h = ctx.start(app)
    out = h.wait_log("The 'blobtrig' function is in error")
    assert "blobtrig/function.json: bindings[0] (blobTrigger): connection: the app setting " \
           "'AzureWebJobsStorage' holds an Azure Storage connection string, but fnhost never " \
           "talks to Azure: it emulates blob storage in .fnhost/storage/blobs under the app " \
           "folder. Set \"AzureWebJobsStorage\": \"UseDevelopmentStorage=true\" in " \
           "local.settings.json Values" in out
    assert "The 'blobhttp' function is in error" in out
    assert "AccountKey" not in out  # the secret is never printed


def test_bad_trigger_paths_are_function_errors(ctx):
    app = blob_app(ctx, {"blobtrig": trig_function(path="Bad_Container/{name}"),
                         "other": trig_function(path="okay/{name")})
    h = ctx.start(app)
    out = h.wait_log("The 'other' function is in error")
    assert "bindings[0] (blobTrigger): path: 'Bad_Container' is not a valid container name" in out
    assert "path: unmatched '{' in '{name' (write '{{' for a literal brace)" in out


def test_local_folder_connection_and_literal_braces(ctx):
    fj = trig_function(path="inbox/{{raw}}-{name}", connection="MyBlobs")
    app = blob_app(ctx, {"blobtrig": fj}, values={"MyBlobs": "./blobdata"})
    h = ctx.start(app)
    os.makedirs(os.path.join(app, "blobdata", "inbox"), exist_ok=True)
    with open(os.path.join(app, "blobdata", "inbox", "plain-1"), "w") as f:
        f.write("no")
    with open(os.path.join(app, "blobdata", "inbox", "{raw}-2"), "w") as f:
        f.write("yes")
    out = wait_count(h, OK, 1)
    time.sleep(0.3)
    assert h.output.count("Executing 'Functions.blobtrig'") == 1
    assert infos(out)[0]["meta"]["name"] == "2"
    assert not os.path.exists(os.path.join(app, ".fnhost", "storage"))


def test_trigger_latency_from_close_to_start(ctx):
    app = blob_app(ctx)
    h = ctx.start(app)
    closed = {}
    for i in range(20):
        f = open(blob_path(app, "samples-workitems", f"lat{i}.txt"), "w")
        f.write(str(i))
        f.flush()
        closed[f"lat{i}"] = time.time_ns()  # just before close(2): an upper bound
        f.close()
        time.sleep(0.02)
    out = wait_count(h, OK, 20)
    lat = sorted((i["start_ns"] - closed[i["meta"]["name"]]) / 1e6 for i in infos(out))
    med, worst = statistics.median(lat), lat[-1]
    print(f"blob trigger latency close->start: median {med:.2f} ms, max {worst:.2f} ms")
    assert med < 100 and worst < 500, lat
