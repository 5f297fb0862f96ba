"""End-to-end tests of the queue extension: delivery with its metadata,
poison after maxDequeueCount failures, visibilityTimeout, batch
concurrency, the output binding (one message and JSON arrays), the
`fnhost queue` CLI against a running host, nothing lost across kill -9, and
the refusals (bad queue names, missing or cloud connection settings)."""
import datetime
import json
import os
import re
import shutil
import signal
import time

DEV = {"AzureWebJobsStorage": "UseDevelopmentStorage=true"}


def trigger(queue="items", **extra):
    b = {"type": "queueTrigger", "direction": "in", "name": "msg", "queueName": queue}
    b.update(extra)
    return {"bindings": [b], "scriptFile": "qrec.so"}


def enqueuer(queue_name="{name}"):
    return {"bindings": [
        {"type": "httpTrigger", "direction": "in", "name": "req", "authLevel": "anonymous",
         "methods": ["post"], "route": "enq/{name}"},
        {"type": "http", "direction": "out", "name": "res"},
        {"type": "queue", "direction": "out", "name": "out", "queueName": queue_name}],
        "scriptFile": "qout.so"}


def queue_app(ctx, rec=None, enq=None, values=None, queues=None):
    files = {}
    if rec is not None:
        files["rec/function.json"] = rec
        files["rec/qrec.so"] = ("copy", ctx.so("queue", "qrec"))
    if enq is not None:
        files["enq/function.json"] = enq
        files["enq/qout.so"] = ("copy", ctx.so("queue", "qout"))
    files["local.settings.json"] = {"Values": DEV if values is None else values}
    host = {"version": "2.0"}
    if queues:
        host["extensions"] = {"queues": queues}
    return ctx.make_app(files, host)


def cli(ctx, app, *args):
    return ctx.run("queue", *args, "--script-root", app)


def put(ctx, app, queue, text):
    p = cli(ctx, app, "put", queue, text)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


def peek(ctx, app, queue, count=32):
    p = cli(ctx, app, "peek", queue, "--count", str(count))
    assert p.returncode == 0, p.stderr
    return [line.split("\t", 2) for line in p.stdout.splitlines()]


def depths(ctx, app):
    p = cli(ctx, app, "list")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].split() == ["QUEUE", "MESSAGES", "POISON"], p.stdout
    return {q: (int(d), int(pd)) for q, d, pd in (line.split() for line in lines[1:])}


def recs(output):
    """[(body, {meta})] of every QREC line."""
    out = []
    for m in re.finditer(r"QREC (.*?) id=(\S+) dq=(\d+) ct=(\S+) ins=(\S+) exp=(\S+) nv=(\S+) "
                         r"pr=(\S+) qt=(.*)$", output, re.M):
        out.append((m.group(1), {"Id": m.group(2), "DequeueCount": int(m.group(3)),
                                 "ct": m.group(4), "InsertionTime": m.group(5),
                                 "ExpirationTime": m.group(6), "NextVisibleTime": m.group(7),
                                 "PopReceipt": m.group(8), "QueueTrigger": m.group(9)}))
    return out


def iso(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ")


def stamp(line):
    return datetime.datetime.strptime(line[1:24], "%Y-%m-%dT%H:%M:%S.%f")


def wait_until(fn, timeout=5, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def test_delivery_with_metadata(ctx):
    app = queue_app(ctx, rec=trigger())
    h = ctx.start(app)
    assert "rec: queueTrigger" in h.output
    msg_id = put(ctx, app, "items", "hello world")
    out = h.wait_log("Executed 'Functions.rec' (Succeeded")
    assert "Executing 'Functions.rec' (Reason='New queue message detected on 'items'.'" in out
    body, meta = recs(out)[0]
    assert body == "hello world" and meta["QueueTrigger"] == "hello world"
    assert meta["Id"] == msg_id and meta["DequeueCount"] == 1
    assert meta["ct"] == "text/plain"
    ins, exp, nv = (iso(meta[k]) for k in ("InsertionTime", "ExpirationTime", "NextVisibleTime"))
    assert exp - ins == datetime.timedelta(days=7)
    # the lease: invisible for 10 minutes while the function runs
    assert datetime.timedelta(minutes=9) < nv - ins < datetime.timedelta(minutes=11)
    assert re.fullmatch(r"[0-9a-f-]{36}", meta["PopReceipt"])
    assert f"Trigger Details: MessageId: {msg_id}, DequeueCount: 1, InsertionTime: " \
           f"{meta['InsertionTime']}" in out
    wait_until(lambda: depths(ctx, app).get("items") == (0, 0), what="the message's delete")
    put(ctx, app, "items", '{"a": 1}')
    out = h.wait_log("QREC {\"a\": 1}")
    assert recs(out)[1][1]["ct"] == "application/json"


def test_poison_after_max_dequeue_count(ctx):
    app = queue_app(ctx, rec=trigger())
    h = ctx.start(app)
    put(ctx, app, "items", "please fail")
    out = h.wait_log("Moving message to queue")
    assert "Message has reached MaxDequeueCount of 5. Moving message to queue " \
           "'items-poison'." in out
    tries = [m["DequeueCount"] for b, m in recs(out) if b == "please fail"]
    assert tries == [1, 2, 3, 4, 5], tries
    assert out.count("Executed 'Functions.rec' (Failed") == 5
    poisoned = peek(ctx, app, "items-poison")
    assert [p[2] for p in poisoned] == ["please fail"]
    assert depths(ctx, app) == {"items": (0, 1)}
    time.sleep(0.3)  # the poison queue is not listened to
    assert h.output.count("QREC please fail") == 5


def test_visibility_timeout_and_max_dequeue_count(ctx):
    app = queue_app(ctx, rec=trigger(),
                    queues={"visibilityTimeout": "00:00:01", "maxDequeueCount": 2})
    h = ctx.start(app)
    put(ctx, app, "items", "fail slowly")
    out = h.wait_log("Moving message to queue", timeout=5)
    assert "Message has reached MaxDequeueCount of 2. Moving message to queue " \
           "'items-poison'." in out
    lines = [l for l in out.splitlines() if "QREC fail slowly" in l]
    assert len(lines) == 2, lines
    gap = (stamp(lines[1]) - stamp(lines[0])).total_seconds()
    assert 0.95 <= gap < 1.6, gap


def test_batch_concurrency(ctx):
    # 2 per batch, next batch when 1 is left: at most 3 run at once
    app = queue_app(ctx, rec=trigger(), queues={"batchSize": 2, "newBatchThreshold": 1})
    for i in range(7):  # uneven durations, so the next batch starts while one runs
        put(ctx, app, "items", f"sleep:{200 if i % 2 == 0 else 450} #{i}")
    h = ctx.start(app)
    wait_until(lambda: h.output.count("QEND ") == 7, timeout=5, what="7 messages")
    running = peak = 0
    for line in h.output.splitlines():
        if "QSTART " in line:
            running += 1
            peak = max(peak, running)
        elif "QEND " in line:
            running -= 1
    assert peak == 3, h.output


def test_output_binding_single_and_array(ctx):
    app = queue_app(ctx, enq=enqueuer("out-{name}"))
    h = ctx.start(app)
    r = h.post("/api/enq/one", body="just text", headers={"Content-Type": "text/plain"})
    assert r.status == 204, r
    assert [m[2] for m in peek(ctx, app, "out-one")] == ["just text"]
    r = h.post("/api/enq/many", body='["a", {"b": [1, 2]}, 3, "line\\nbreak", null]',
               headers={"Content-Type": "application/json"})
    assert r.status == 204, r
    many = peek(ctx, app, "out-many")
    assert [m[2] for m in many] == ["a", '{"b": [1, 2]}', "3", "line\\nbreak", "null"]
    assert all(m[1] == "0" for m in many)
    # text that looks like an array but is not one stays one message
    h.post("/api/enq/raw", body="[not json", headers={"Content-Type": "text/plain"})
    assert [m[2] for m in peek(ctx, app, "out-raw")] == ["[not json"]
    h.post("/api/enq/empty", body="[]", headers={"Content-Type": "application/json"})
    h.post("/api/enq/none?skip=1", body="x")
    d = depths(ctx, app)
    assert d["out-one"] == (1, 0) and d["out-many"] == (5, 0) and d["out-raw"] == (1, 0)
    assert "out-empty" not in d and "out-none" not in d
    # a queue name resolved at run time is still checked
    r = h.post("/api/enq/Bad_Name", body="x")
    assert r.status == 500, r
    h.wait_log("queue output: 'out-Bad_Name' is not a valid queue name: a queue name has only "
               "lower-case letters", timeout=3)


def test_output_feeds_trigger_in_same_host(ctx):
    app = queue_app(ctx, rec=trigger("work"), enq=enqueuer())
    h = ctx.start(app)
    time.sleep(0.3)  # let the poller back off to its longest wait
    t0 = time.time()
    assert h.post("/api/enq/work", body='["x1", "x2", "x3"]',
                  headers={"Content-Type": "application/json"}).status == 204
    wait_until(lambda: h.output.count("Executed 'Functions.rec' (Succeeded") == 3,
               what="three deliveries")
    assert time.time() - t0 < 1.0
    assert sorted(b for b, _ in recs(h.output)) == ["x1", "x2", "x3"]


def test_cli_put_while_running_is_picked_up_fast(ctx):
    app = queue_app(ctx, rec=trigger())
    h = ctx.start(app)
    latencies = []
    for i in range(4):
        time.sleep(0.35)  # idle long enough for the longest back-off
        put(ctx, app, "items", f"fast {i}")
        out = h.wait_log(f"QREC fast {i} ", timeout=3)
        line = next(l for l in out.splitlines() if f"QREC fast {i} " in l)
        meta = dict(recs(line)[0][1])
        latencies.append((stamp(line) - iso(meta["InsertionTime"])).total_seconds())
    # woken by the write, not by a poll (an idle poller now sleeps up to a
    # minute); the < 200 ms figure itself is measured by bench/queue.py
    assert max(latencies) < 2.0, latencies


def test_nothing_lost_across_kill_9(ctx):
    n = 500
    done_file = os.path.join(ctx.tmpdir(), "done.txt")
    values = dict(DEV, QREC_FILE=done_file, QREC_QUIET="1")
    app = queue_app(ctx, rec=trigger("work"), enq=enqueuer(), values=values)
    bodies = [f"sleep:4 m{i}" for i in range(n)]
    h = ctx.start(app, "--functions", "enq")  # fill the queue with nobody listening
    assert h.post("/api/enq/work", body=json.dumps(bodies),
                  headers={"Content-Type": "application/json"}).status == 204
    h.stop()
    assert depths(ctx, app)["work"] == (n, 0)

    def done():
        if not os.path.exists(done_file):
            return []
        with open(done_file) as f:
            return f.read().splitlines()

    h = ctx.start(app)
    wait_until(lambda: len(done()) >= 60, what="some messages done")
    h.proc.send_signal(signal.SIGKILL)
    h.wait_exit()
    first = len(done())
    assert first < n, "all done before the kill; slow the function down"
    h = ctx.start(app)
    assert "visible again" in h.wait_log("visible again", timeout=3)
    wait_until(lambda: set(done()) >= set(bodies), timeout=10, what="every message done")
    wait_until(lambda: depths(ctx, app)["work"] == (0, 0), what="an empty queue")
    got = done()
    assert set(got) == set(bodies)
    # at-least-once: duplicates only from invocations the kill interrupted
    assert len(got) - n <= 40, len(got) - n
    h.stop()


def test_local_path_connection_shared_with_cli(ctx):
    app = queue_app(ctx, rec=trigger(), values={"AzureWebJobsStorage": "./data/q.db"})
    h = ctx.start(app)
    put(ctx, app, "items", "via path")
    h.wait_log("QREC via path")
    assert os.path.exists(os.path.join(app, "data", "q.db"))
    assert not os.path.exists(os.path.join(app, ".fnhost", "storage", "queues.db"))


def test_queue_name_validation(ctx):
    cases = {"My_Queue": "lower-case", "ab": "3 to 63", "a--b": "consecutive",
             "-abc": "starts and ends"}
    for name, why in cases.items():
        h = ctx.start(queue_app(ctx, rec=trigger(name)))
        out = h.wait_log(f"The 'rec' function is in error: rec/function.json: bindings[0] "
                         f"(queueTrigger): queueName: '{name}' is not a valid queue name: ",
                         timeout=3)
        assert why in out
        h.stop()


def test_connection_refusals(ctx):
    h = ctx.start(queue_app(ctx, rec=trigger(), values={}))
    h.wait_log("connection: the app setting 'AzureWebJobsStorage' is not set. fnhost emulates "
               "Azure Storage queues locally in .fnhost/storage: add \"AzureWebJobsStorage\": "
               "\"UseDevelopmentStorage=true\"", timeout=3)
    h.stop()
    cloud = "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5;EndpointSuffix=" \
            "core.windows.net"
    h = ctx.start(queue_app(ctx, rec=trigger(connection="MyStorage"),
                            values={"MyStorage": cloud}))
    out = h.wait_log("connection: the app setting 'MyStorage' is an Azure Storage connection "
                     "string, but fnhost does not connect to Azure: it emulates Azure Storage "
                     "queues locally in .fnhost/storage. Set \"MyStorage\": "
                     "\"UseDevelopmentStorage=true\"", timeout=3)
    assert "The 'rec' function is in error" in out
    h.stop()


def test_cli_errors(ctx):
    app = queue_app(ctx)
    p = cli(ctx, app, "put", "Bad_Name", "x")
    assert p.returncode == 2 and "'Bad_Name' is not a valid queue name" in p.stderr
    p = ctx.run("queue")
    assert p.returncode == 2 and "missing subcommand" in p.stderr
    p = cli(ctx, app, "peek")
    assert p.returncode == 2 and "wrong number of arguments for 'peek'" in p.stderr
    p = cli(ctx, app, "put", "items", "@/nonexistent/file")
    assert p.returncode == 1 and p.stderr.startswith("fnhost queue: cannot read")
    p = cli(ctx, app, "frob")
    assert p.returncode == 2 and "unknown subcommand 'frob'" in p.stderr
    # @file and peek without dequeuing
    f = os.path.join(app, "msg.txt")
    with open(f, "w") as fh:
        fh.write("from a file")
    mid = put(ctx, app, "items", "@" + f)
    assert peek(ctx, app, "items") == [[mid, "0", "from a file"]]
    assert peek(ctx, app, "items") == [[mid, "0", "from a file"]]
    assert depths(ctx, app) == {"items": (1, 0)}


def test_queue_pipeline_sample(ctx):
    app = ctx.copy_app(ctx.path("samples", "queue-pipeline"))
    shutil.rmtree(os.path.join(app, ".fnhost"), ignore_errors=True)
    h = ctx.start(app)
    r = h.post("/api/orders", body='{"item": "book", "qty": 2}')
    assert r.status == 202 and r.text == "queued\n", r
    out = h.wait_log("Executed 'Functions.LogProcessed' (Succeeded", timeout=5)
    assert "Executing 'Functions.ProcessOrder' (Reason='New queue message detected on " \
           "'orders'.'" in out
    m = re.search(r"Processed order blob ([0-9a-f-]{36})\.json \(26 bytes\): "
                  r"\{\"item\": \"book\", \"qty\": 2\}", out)
    assert m, out
    blob = os.path.join(app, ".fnhost", "storage", "blobs", "processed", m.group(1) + ".json")
    with open(blob) as f:
        assert f.read() == '{"item": "book", "qty": 2}'
    assert depths(ctx, app)["orders"] == (0, 0)
    assert h.post("/api/orders").status == 400
