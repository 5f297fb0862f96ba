"""End-to-end tests of the queue store's durability and sharing: acknowledged
enqueues survive kill -9 (none lost, none stored twice) and wait for a flush
of the WAL shared by concurrent ones (group commit), the durability setting
and its validation, the idle trigger woken at once by a put of this host and
within 200 ms by another process's, two hosts on one store (one in its own
pid namespace) without duplicates, leases of a dead host retried once they
expire, purge of expired messages, and base64 as the default
messageEncoding."""
import base64
import http.client
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import threading
import time

from test_queue import DEV, cli, depths, enqueuer, iso, peek, put, queue_app, recs, stamp, \
    trigger, wait_until


def db_file(app):
    return os.path.join(app, ".fnhost", "storage", "queues.db")


def stored_bodies(path, queue="work"):
    con = sqlite3.connect(path, timeout=30)
    try:
        return [bytes(b) if isinstance(b, (bytes, memoryview)) else b.encode()
                for (b,) in con.execute("SELECT body FROM messages WHERE queue = ?", (queue,))]
    finally:
        con.close()


def post_many(port, bodies, clients):
    """POSTs bodies to /api/enq/work from `clients` threads; returns the
    bodies whose request got a 204 before the connection broke."""
    acked, lock = [], threading.Lock()
    chunks = [bodies[k::clients] for k in range(clients)]

    def run(chunk):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for b in chunk:
            try:
                conn.request("POST", "/api/enq/work", body=b,
                             headers={"Content-Type": "text/plain"})
                r = conn.getresponse()
                r.read()
            except (OSError, http.client.HTTPException):
                return
            if r.status == 204:
                with lock:
                    acked.append(b)

    threads = [threading.Thread(target=run, args=(c,)) for c in chunks]
    for t in threads:
        t.start()
    return threads, acked


def test_acked_enqueues_survive_kill_9(ctx):
    # 16 clients enqueue flat out; the host dies mid-stream, three times: every
    # acknowledged message is in the store once, none twice
    app = queue_app(ctx, enq=enqueuer())
    total_acked = 0
    for run in range(3):
        h = ctx.start(app)
        bodies = [f"r{run}-m{i}" for i in range(20000)]  # bounded: more than 1 s of load
        threads, acked = post_many(h.port, bodies, 16)
        wait_until(lambda: len(acked) >= 300, timeout=20, what="300 acknowledged puts")
        h.proc.send_signal(signal.SIGKILL)
        h.wait_exit()
        for t in threads:
            t.join(15)
        stored = [base64.b64decode(b).decode() for b in stored_bodies(db_file(app))]
        mine = [s for s in stored if s.startswith(f"r{run}-")]
        assert len(mine) == len(set(mine)), "a message was stored twice"
        lost = set(acked) - set(mine)
        assert not lost, f"{len(lost)} acknowledged messages lost: {sorted(lost)[:5]}"
        total_acked += len(acked)
    assert total_acked >= 900


def stop_wrapped(h):
    """Stops a host started through a wrapper that does not pass SIGTERM on
    (strace, unshare): the signal goes to the host itself."""
    with open(f"/proc/{h.proc.pid}/task/{h.proc.pid}/children") as f:
        kids = [int(p) for p in f.read().split()]
    for pid in kids:
        os.kill(pid, signal.SIGTERM)
    return h.stop()


def strace_flushes(ctx, app, nclients, count, env=None):
    """Runs the host under strace and enqueues count messages from nclients
    clients; returns the fdatasync calls made on the queue database's WAL."""
    trace = os.path.join(ctx.tmpdir(), "trace.txt")
    wrapper = os.path.join(ctx.tmpdir(), "traced-fnhost")
    with open(wrapper, "w") as f:
        f.write(f"#!/bin/sh\nexec strace -f -qq -y -e trace=fdatasync,fsync -o {trace} "
                f"{ctx.fnhost} \"$@\"\n")
    os.chmod(wrapper, 0o755)
    real, ctx.fnhost = ctx.fnhost, wrapper
    # LeakSanitizer cannot run under ptrace (an ASan build would exit 1)
    asan = os.environ.get("ASAN_OPTIONS", "")
    env = dict(env or {}, ASAN_OPTIONS=(asan + ":" if asan else "") + "detect_leaks=0")
    try:
        h = ctx.start(app, "--functions", "enq", env=env)
    finally:
        ctx.fnhost = real
    threads, acked = post_many(h.port, [f"m{i}" for i in range(count)], nclients)
    for t in threads:
        t.join(60)
    assert len(acked) == count
    with open(trace) as f:
        before = sum(1 for line in f if "queues.db-wal" in line)
    stop_wrapped(h)
    return before


def test_acks_wait_for_a_shared_flush(ctx):
    # survives-power-loss (the default): an acknowledged put is flushed to
    # disk; one at a time, each needs its own flush ...
    app = queue_app(ctx, enq=enqueuer())
    one_by_one = strace_flushes(ctx, app, 1, 40)
    assert one_by_one >= 40, one_by_one
    # ... concurrent ones share flushes (group commit)
    shared = strace_flushes(ctx, app, 16, 400)
    assert 1 <= shared < 400 * 0.9, shared
    # survives-process-crash: acknowledged once committed, not flushed for it
    # (SQLite flushes a new WAL's header once)
    fast = queue_app(ctx, enq=enqueuer(), queues={"durability": "survives-process-crash"})
    n = strace_flushes(ctx, fast, 1, 40)
    assert n <= 2, n


def test_durability_setting_validation(ctx):
    for value, needle in [
        ('"fast"', "extensions.queues.durability: 'fast' is not a durability; use "
                   "\"survives-power-loss\" (the default: a message is acknowledged once it "
                   "is on disk) or \"survives-process-crash\""),
        ("true", "extensions.queues.durability: must be \"survives-power-loss\" (the default) "
                 "or \"survives-process-crash\""),
        ('"00:00:00.5"', None),
    ]:
        if needle is None:  # leaseDuration below a second
            queues = {"leaseDuration": json.loads(value)}
            needle = "extensions.queues.leaseDuration: must be at least one second"
        else:
            queues = {"durability": json.loads(value)}
        h = ctx.start(queue_app(ctx, rec=trigger(), queues=queues))
        out = h.wait_log(needle, timeout=5)
        assert "host.json" in out
        h.stop()


def idle_switches(pid, seconds):
    """Context switches of the queue extension's threads (named queue-*)."""
    def total():
        n = 0
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/comm") as f:
                    if not f.read().startswith("queue-"):
                        continue
                with open(f"/proc/{pid}/task/{tid}/status") as f:
                    for line in f:
                        if line.startswith(("voluntary_ctxt", "nonvoluntary_ctxt")):
                            n += int(line.split()[1])
            except OSError:
                pass
        return n
    a = total()
    time.sleep(seconds)
    return total() - a


def test_idle_trigger_sleeps_and_a_local_put_wakes_it_at_once(ctx):
    app = queue_app(ctx, rec=trigger("work"), enq=enqueuer())
    h = ctx.start(app)
    time.sleep(1.5)  # idle: the poller's back-off has grown past a second
    # nearly no wake-ups while idle (a 100 ms poll made 10 a second per queue)
    assert idle_switches(h.proc.pid, 3) < 10
    t0 = time.time()
    assert h.post("/api/enq/work", body="wake up", headers={"Content-Type": "text/plain"}) \
        .status == 204
    h.wait_log("QREC wake up ", timeout=5)
    # woken by the put, not by a poll (an idle poller sleeps up to a minute);
    # the latency itself is measured by bench/queue.py
    assert time.time() - t0 < 2.0, time.time() - t0


def test_another_process_put_is_picked_up_without_a_poll(ctx):
    app = queue_app(ctx, rec=trigger())
    h = ctx.start(app)
    latencies = []
    for i in range(3):
        time.sleep(1.2)  # idle long enough for a back-off beyond a second
        put(ctx, app, "items", f"other process {i}")
        out = h.wait_log(f"QREC other process {i} ", timeout=5)
        line = next(l for l in out.splitlines() if f"QREC other process {i} " in l)
        latencies.append((stamp(line) - iso(recs(line)[0][1]["InsertionTime"]))
                         .total_seconds())
    # woken through the file watch, not by a poll that sleeps up to a minute;
    # the < 200 ms figure is measured by bench/queue.py
    assert max(latencies) < 2.0, latencies


def pidns_host(ctx, app, *args, env=None):
    """Starts a host in its own pid namespace (and /proc): it is pid 1 there,
    and its pids mean nothing to hosts outside. Killing it kills the
    namespace."""
    return ctx.start_wrapped(app, ["unshare", "--pid", "--fork", "--mount-proc",
                                   "--kill-child=SIGKILL"], *args, env=env)


def done_lines(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return f.read().splitlines()


def test_two_hosts_one_in_a_pid_namespace_share_a_store_without_duplicates(ctx):
    done = os.path.join(ctx.tmpdir(), "done.txt")
    app = queue_app(ctx, rec=trigger("work"), enq=enqueuer(),
                    values=dict(DEV, QREC_FILE=done, QREC_QUIET="1"),
                    queues={"leaseDuration": "00:00:02", "batchSize": 4})
    long_ones = [f"sleep:3000 L{i}" for i in range(3)]  # outlive the lease: renewed
    short = [f"sleep:10 s{i}" for i in range(240)]
    for b in long_ones:
        put(ctx, app, "work", b)
    b_host = pidns_host(ctx, app)
    b_host.wait_log("QSTART sleep:3000", timeout=10)
    # the second host looks at the leases at once: B's pids are not its own
    a_host = ctx.start(app)
    assert a_host.post("/api/enq/work", body=json.dumps(short),
                       headers={"Content-Type": "application/json"}).status == 204
    wait_until(lambda: len(done_lines(done)) >= len(long_ones) + len(short), timeout=60,
               what="every message done")
    time.sleep(0.5)  # a duplicate would show up now
    got = done_lines(done)
    assert sorted(got) == sorted(long_ones + short), \
        [b for b in set(got) if got.count(b) > 1][:10]
    assert "visible again" not in a_host.output
    ran_a = a_host.output.count("Executed 'Functions.rec' (Succeeded")
    ran_b = b_host.output.count("Executed 'Functions.rec' (Succeeded")
    assert ran_a > 0 and ran_b > 0 and ran_a + ran_b == len(got), (ran_a, ran_b)
    wait_until(lambda: depths(ctx, app).get("work") == (0, 0), what="an empty queue")
    a_host.stop()
    stop_wrapped(b_host)


def test_leases_of_a_dead_host_in_another_namespace_are_retried_after_they_expire(ctx):
    done = os.path.join(ctx.tmpdir(), "done.txt")
    app = queue_app(ctx, rec=trigger("work"), values=dict(DEV, QREC_FILE=done),
                    queues={"leaseDuration": "00:00:02"})
    bodies = [f"sleep:4000 d{i}" for i in range(3)]
    for b in bodies:
        put(ctx, app, "work", b)
    b_host = pidns_host(ctx, app)
    out = b_host.wait_log("QSTART sleep:4000", timeout=10)
    wait_until(lambda: b_host.output.count("QSTART sleep:4000") == 3, what="three claims")
    time.sleep(1.5)  # B renewed its leases at least once
    b_host.proc.send_signal(signal.SIGKILL)
    b_host.wait_exit()
    killed = time.time()
    a_host = ctx.start(app)
    wait_until(lambda: sorted(done_lines(done)) == sorted(bodies), timeout=20,
               what="the dead host's messages done")
    took = time.time() - killed
    # not before the renewed lease ran out, and not by the pid check
    assert took >= 0.3, took
    assert "visible again" not in a_host.output
    assert sorted(m["DequeueCount"] for b, m in recs(a_host.output)) == [2, 2, 2]
    assert out  # B really ran them first
    a_host.stop()


def test_expired_messages_are_purged_in_chunks(ctx):
    app = queue_app(ctx, rec=trigger("work"))
    p = cli(ctx, app, "list")  # creates the store
    assert p.returncode == 0, p.stderr
    con = sqlite3.connect(db_file(app))
    past = int(time.time() * 1000) - 1000
    con.executemany("INSERT INTO messages(queue, id, body, inserted, expires, visible, "
                    "dequeue_count) VALUES('work', ?, 'b2xk', ?, ?, ?, 0)",
                    ((f"id{i}", past - 10, past, past - 10) for i in range(1234)))
    con.commit()
    con.close()
    h = ctx.start(app)
    out = h.wait_log("expired message(s)", timeout=10)
    assert re.search(r"queue store '.*queues\.db': deleted 1234 expired message\(s\); the "
                     r"write lock was held at most [\d.]+ ms at a time \([\d.]+ ms on "
                     r"average\)\.", out), out
    assert "QREC old" not in h.output
    assert depths(ctx, app).get("work", (0, 0)) == (0, 0)


def test_base64_is_the_default_message_encoding(ctx):
    app = queue_app(ctx, rec=trigger("work"), enq=enqueuer())
    h = ctx.start(app)
    assert h.post("/api/enq/work", body="héllo ✓", headers={"Content-Type": "text/plain"}) \
        .status == 204
    out = h.wait_log("QREC héllo ✓ ", timeout=5)
    assert recs(out)[0][1]["QueueTrigger"] == "héllo ✓"
    # as Azure stores it: base64 of the UTF-8 text
    wait_until(lambda: depths(ctx, app).get("work") == (0, 0), what="the delete")
    h.stop()
    h = ctx.start(app, "--functions", "enq")
    h.post("/api/enq/work", body="kept", headers={"Content-Type": "text/plain"})
    assert stored_bodies(db_file(app)) == [base64.b64encode(b"kept")]
    assert [m[2] for m in peek(ctx, app, "work")] == ["kept"]  # the CLI decodes
    put(ctx, app, "work", "from the cli")  # and encodes
    assert stored_bodies(db_file(app))[1] == base64.b64encode(b"from the cli")
    h.stop()
    # a message that is not base64 (put by another tool) is delivered as it is
    con = sqlite3.connect(db_file(app))
    con.execute("INSERT INTO messages(queue, id, body, inserted, expires, visible, "
                "dequeue_count) VALUES('work', 'x', 'not base64!', 0, 9e15, 0, 0)")
    con.commit()
    con.close()
    h = ctx.start(app)
    for text in ("kept", "from the cli", "not base64!"):
        h.wait_log(f"QREC {text} ", timeout=5)
    h.stop()


def test_message_encoding_none_stores_text_as_it_is(ctx):
    app = queue_app(ctx, rec=trigger("work"), enq=enqueuer(),
                    queues={"messageEncoding": "none"})
    h = ctx.start(app, "--functions", "enq")
    h.post("/api/enq/work", body="plain", headers={"Content-Type": "text/plain"})
    put(ctx, app, "work", "cli plain")
    assert stored_bodies(db_file(app)) == [b"plain", b"cli plain"]
    assert [m[2] for m in peek(ctx, app, "work", 5)] == ["plain", "cli plain"]
    h.stop()
    h = ctx.start(app)
    for text in ("plain", "cli plain"):  # both run at once: either may come first
        h.wait_log(f"QREC {text} ", timeout=5)
    h.stop()


def test_a_function_that_outlives_the_lease_keeps_it(ctx):
    # one message running 2.5 lease durations, alone (the trigger is otherwise idle):
    # its lease is renewed, so it is not delivered again meanwhile
    app = queue_app(ctx, rec=trigger("work"), queues={"leaseDuration": "00:00:02"})
    h = ctx.start(app)
    put(ctx, app, "work", "sleep:5000 long")
    h.wait_log("QEND sleep:5000 long", timeout=15)
    wait_until(lambda: depths(ctx, app).get("work") == (0, 0), what="the delete")
    assert h.output.count("QSTART sleep:5000 long") == 1, h.output
    nv = iso(recs(h.output)[0][1]["NextVisibleTime"]) - iso(recs(h.output)[0][1]["InsertionTime"])
    assert nv.total_seconds() < 3, nv  # the lease is leaseDuration long
    h.stop()


def test_a_store_of_the_previous_version_is_migrated(ctx):
    # the schema fnhost 0.1 created (user_version 1), with one message in it
    app = queue_app(ctx, rec=trigger("work"), queues={"messageEncoding": "none"})
    os.makedirs(os.path.dirname(db_file(app)))
    con = sqlite3.connect(db_file(app))
    con.executescript(
        "PRAGMA journal_mode=WAL;"
        "CREATE TABLE queues(name TEXT PRIMARY KEY, created INTEGER NOT NULL);"
        "CREATE TABLE messages(seq INTEGER PRIMARY KEY AUTOINCREMENT, queue TEXT NOT NULL,"
        " id TEXT NOT NULL, body BLOB NOT NULL, inserted INTEGER NOT NULL,"
        " expires INTEGER NOT NULL, visible INTEGER NOT NULL,"
        " dequeue_count INTEGER NOT NULL DEFAULT 0, receipt TEXT, owner INTEGER,"
        " owner_start INTEGER);"
        "CREATE INDEX messages_by_visible ON messages(queue, visible, seq);"
        "INSERT INTO messages(queue, id, body, inserted, expires, visible) "
        "VALUES('work', 'old-id', 'from before', 0, 9e15, 0);"
        "PRAGMA user_version = 1;")
    con.close()
    h = ctx.start(app)
    out = h.wait_log("QREC from before ", timeout=5)
    assert recs(out)[0][1]["Id"] == "old-id"
    wait_until(lambda: depths(ctx, app).get("work", (0, 0)) == (0, 0), what="the delete")
    h.stop()
    con = sqlite3.connect(db_file(app))
    assert con.execute("PRAGMA user_version").fetchone()[0] == 2
    cols = [r[1] for r in con.execute("PRAGMA table_info(messages)")]
    assert "owner_host" in cols and "owner_ns" in cols
    con.close()
