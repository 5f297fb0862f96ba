"""End-to-end tests of the blob trigger's edges: files published by a hard
link or O_TMPFILE + linkat, a file written in several sessions (the quiet
period), version identity by content (touch, cp -p, tar, an rsync -t style
replace; changed content with restored mtime and size), several hosts on one
app folder (one in its own pid namespace) with no duplicates, a dead host's
claim taken over, one receipt per blob removed with the blob, and durable
blob output writes (flushed before the rename, the folder after it; a kill -9
mid-burst loses no acknowledged write)."""
import collections
import ctypes
import hashlib
import json
import os
import shutil
import signal
import subprocess
import tarfile
import threading
import time

from harness import child_pids
from test_blob import OK, blob_app, blob_path, drop, infos, io_function, trig_function

CONTAINER = "samples-workitems"


def executed(h):
    return h.output.count("Executing 'Functions.blobtrig'")


def receipts(app, fn="blobtrig"):
    """Receipt files (relative to the function's receipts folder)."""
    root = os.path.join(app, ".fnhost", "blobreceipts", fn)
    found = []
    for d, _, files in os.walk(root):
        found += [os.path.relpath(os.path.join(d, f), root) for f in files
                  if not f.startswith(".fnh-tmp.")]
    return sorted(found)


def receipt(app, rel, fn="blobtrig"):
    """One receipt's JSON ({} while it is absent or being replaced)."""
    try:
        with open(os.path.join(app, ".fnhost", "blobreceipts", fn, rel)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def wrapped_host(ctx, app, prefix, *args, env=None):
    return ctx.start_wrapped(app, prefix, *args, env=env)


def host_in_pid_namespace(ctx, app, on_exit="SIGTERM"):
    """A host in its own pid namespace (as in a second container sharing the
    volume). Killing the unshare process sends on_exit to the host."""
    return wrapped_host(ctx, app, ["unshare", "--pid", "--fork", "--mount-proc",
                                   f"--kill-child={on_exit}"])


def stop_namespaced(h):
    h.proc.kill()  # unshare passes SIGTERM on to the host (--kill-child)
    h.wait_exit()


def wait_until(cond, timeout=20, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


# ---- publishing without a close --------------------------------------------

def test_hard_link_publish_fires(ctx):
    app = blob_app(ctx)
    h = ctx.start(app)
    staged = os.path.join(app, "staged.txt")  # same file system, outside the container
    with open(staged, "w") as f:
        f.write("linked in")
    os.link(staged, blob_path(app, CONTAINER, "linked.txt"))
    out = ctx_wait(h, OK, 1)
    assert infos(out)[0]["payload"] == "linked in"
    assert infos(out)[0]["meta"]["name"] == "linked"


def linkat_fd(fd, path):
    """linkat(AT_FDCWD, "/proc/self/fd/N", AT_FDCWD, path, AT_SYMLINK_FOLLOW):
    gives an O_TMPFILE file its name (os.link would call link(2), which does
    not follow the /proc symlink)."""
    libc = ctypes.CDLL(None, use_errno=True)
    at_fdcwd, at_symlink_follow = -100, 0x400
    if libc.linkat(at_fdcwd, f"/proc/self/fd/{fd}".encode(), at_fdcwd, path.encode(),
                   at_symlink_follow) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), path)


def test_tmpfile_linkat_publish_fires(ctx):
    app = blob_app(ctx)
    h = ctx.start(app)
    d = blob_path(app, CONTAINER)
    # an anonymous file, written, then given its name while still open
    fd = os.open(d, os.O_TMPFILE | os.O_WRONLY, 0o644)
    os.write(fd, b"published ")
    linkat_fd(fd, os.path.join(d, "anon.txt"))
    os.write(fd, b"atomically")  # still open for writing: not complete yet
    time.sleep(0.3)
    assert executed(h) == 0, h.output
    os.close(fd)
    # and one closed before its name is given
    fd = os.open(d, os.O_TMPFILE | os.O_RDWR, 0o644)
    os.write(fd, b"second")
    os.fsync(fd)
    linkat_fd(fd, os.path.join(d, "anon2.txt"))
    os.close(fd)
    out = ctx_wait(h, OK, 2)
    got = {i["meta"]["name"]: i["payload"] for i in infos(out)}
    assert got == {"anon": "published atomically", "anon2": "second"}, got


def ctx_wait(h, needle, n, timeout=20):
    wait_until(lambda: h.output.count(needle) >= n, timeout, f"{n} x {needle!r}:\n"
               f"{h.output[-2000:]}")
    return h.output


# ---- the quiet period ------------------------------------------------------

def test_quiet_period_fires_once_for_a_file_written_in_sessions(ctx):
    app = blob_app(ctx, host_json={"version": "2.0",
                                   "extensions": {"blobs": {"quietPeriodMs": 1500}}})
    h = ctx.start(app)
    p = blob_path(app, CONTAINER, "chunks.txt")
    for part in ("one,", "two,", "three"):
        with open(p, "a") as f:
            f.write(part)
        time.sleep(0.2)  # a close between the parts
    out = ctx_wait(h, OK, 1)
    time.sleep(2)
    assert executed(h) == 1, h.output
    assert infos(out)[0]["payload"] == "one,two,three"
    # a later session is a new version, after its own quiet period
    with open(p, "a") as f:
        f.write(",four")
    out = ctx_wait(h, OK, 2)
    assert infos(out)[-1]["payload"] == "one,two,three,four"


def test_quiet_period_setting_is_checked(ctx):
    app = blob_app(ctx, host_json={"version": "2.0",
                                   "extensions": {"blobs": {"quietPeriodMs": -5}}})
    h = ctx.start(app)
    out = h.wait_log("quietPeriodMs")
    assert "quietPeriodMs: must be a whole number from 0 to 600000" in out


# ---- version identity --------------------------------------------------------

def rsync_t(src_bytes, dst, work, mtime_ns):
    """What rsync -t --temp-dir does: a temp file renamed over the target,
    then the source's mtime set on it. (A temp file inside the container would
    be a blob of its own while it exists.)"""
    tmp = os.path.join(work, "staging-" + os.path.basename(dst))
    with open(tmp, "wb") as f:
        f.write(src_bytes)
    os.rename(tmp, dst)
    os.utime(dst, ns=(mtime_ns, mtime_ns))


def rewrite_same_content(app, work):
    """touch, cp -p, tar and rsync -t on blobs a..d, content unchanged."""
    later = time.time_ns() + 5 * 10**9
    a, b, c, d = (blob_path(app, CONTAINER, n) for n in ("a.txt", "b.txt", "c.txt", "d.txt"))
    os.utime(a, ns=(later, later))                              # touch
    src = os.path.join(work, "b-copy")
    with open(src, "w") as f:
        f.write("content b")
    os.utime(src, ns=(later, later))
    subprocess.run(["cp", "-p", src, b], check=True)             # cp -p
    tar = os.path.join(work, "c.tar")
    with tarfile.open(tar, "w") as t:
        t.add(c, arcname="c.txt")
    subprocess.run(["tar", "-xf", tar, "-C", blob_path(app, CONTAINER)], check=True)  # tar
    rsync_t(b"content d", d, work, later)                        # rsync -t


def test_unchanged_content_is_not_a_new_version(ctx):
    app = blob_app(ctx)
    work = os.path.join(app, "work")  # on the same file system as the blobs
    os.makedirs(work)
    for n in "abcd":
        drop(app, CONTAINER, f"{n}.txt", f"content {n}")
    h = ctx.start(app)
    ctx_wait(h, OK, 4)
    h.stop()
    rewrite_same_content(app, work)  # while no host runs
    h2 = ctx.start(app)
    time.sleep(1.5)
    assert executed(h2) == 0, h2.output
    rewrite_same_content(app, work)  # while the host watches
    time.sleep(1.5)
    assert executed(h2) == 0, h2.output
    drop(app, CONTAINER, "a.txt", "content a, changed")  # a real change still fires
    out = ctx_wait(h2, OK, 1)
    assert infos(out)[0]["payload"] == "content a, changed"


def test_changed_content_with_restored_mtime_and_size_fires(ctx):
    app = blob_app(ctx)
    p = drop(app, CONTAINER, "same.txt", "AAAA")
    h = ctx.start(app)
    ctx_wait(h, OK, 1)
    h.stop()
    st = os.stat(p)
    with open(p, "w") as f:
        f.write("BBBB")  # same size
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))  # and the old mtime
    h2 = ctx.start(app)
    out = ctx_wait(h2, OK, 1)
    assert infos(out)[0]["payload"] == "BBBB"
    assert infos(out)[0]["meta"]["name"] == "same"


# ---- several hosts -----------------------------------------------------------

def test_two_hosts_one_in_a_pid_namespace_run_each_blob_once(ctx):
    app = blob_app(ctx, functions={"blobtrig": trig_function(path=CONTAINER + "/{name}")})
    a = ctx.start(app)
    b = host_in_pid_namespace(ctx, app)
    names = [f"blob-{i:03d}" for i in range(200)]
    for n in names:
        drop(app, CONTAINER, n, n)
    both = lambda: a.output.count(OK) + b.output.count(OK)  # noqa: E731
    wait_until(lambda: both() >= 200, 60, "200 invocations")
    time.sleep(1.5)  # duplicates would show up by now
    ran = collections.Counter(i["meta"]["name"] for h in (a, b) for i in infos(h.output))
    dups = {n: c for n, c in ran.items() if c > 1}
    assert not dups, f"run more than once: {dups}"
    assert sorted(ran) == names
    assert len(receipts(app)) == 200
    stop_namespaced(b)


def test_claim_of_a_dead_host_is_taken_over(ctx):
    app = blob_app(ctx, host_json={"version": "2.0",
                                   "extensions": {"blobs": {"leaseSeconds": 2}}})
    a = host_in_pid_namespace(ctx, app, on_exit="SIGKILL")
    drop(app, CONTAINER, "slow.txt", "SLOW work")  # takes 5 s
    a.wait_log("Executing 'Functions.blobtrig'")
    b = ctx.start(app)
    time.sleep(0.5)
    assert executed(b) == 0, b.output  # a live claim is respected
    a.proc.kill()  # the host dies with SIGKILL, its claim is left behind
    a.crashed()
    assert OK not in a.output
    out = ctx_wait(b, OK, 1, timeout=30)
    assert "New blob detected: samples-workitems/slow.txt" in out
    # the receipt is completed after the Executed line
    wait_until(lambda: receipt(app, "samples-workitems/slow.txt").get("Status") == "Complete", 10,
               f"a complete receipt: {receipts(app)} {receipt(app, 'samples-workitems/slow.txt')}")
    assert receipts(app) == ["samples-workitems/slow.txt"]


# ---- receipts ------------------------------------------------------------------

def test_one_receipt_per_blob_removed_with_the_blob(ctx):
    app = blob_app(ctx, functions={"blobtrig": trig_function(path=CONTAINER + "/{name}")})
    h = ctx.start(app)
    for i in range(30):
        drop(app, CONTAINER, f"r{i:02d}", f"v1 {i}")
    ctx_wait(h, OK, 30)
    for i in range(10):
        drop(app, CONTAINER, f"r{i:02d}", f"v2 {i}")  # new versions replace receipts
    ctx_wait(h, OK, 40)
    wait_until(lambda: len(receipts(app)) == 30, 10, "30 receipts")
    # a run's receipt is written after its "Executed" line, and the 40 lines
    # may include a blob seen twice while written: wait for r00's second version
    v2 = hashlib.sha256(b"v2 0").hexdigest()
    r00 = f"{CONTAINER}/r00"
    wait_until(lambda: receipt(app, r00).get("ContentHash") == v2, 10,
               f"r00's receipt of its second version: {receipt(app, r00)}\n{h.output[-3000:]}")
    rec = receipt(app, r00)
    assert rec["Status"] == "Complete" and rec["BlobName"] == "r00"
    for i in range(20):
        os.remove(blob_path(app, CONTAINER, f"r{i:02d}"))  # deleted while running
    wait_until(lambda: len(receipts(app)) == 10, 15, "10 receipts:\n" + h.output[-1500:])
    h.stop()
    for i in range(20, 25):
        os.remove(blob_path(app, CONTAINER, f"r{i:02d}"))  # deleted while no host ran
    h2 = ctx.start(app)
    wait_until(lambda: len(receipts(app)) == 5, 15, "5 receipts")
    assert receipts(app) == [f"{CONTAINER}/r{i}" for i in range(25, 30)]
    assert executed(h2) == 0


# ---- durable writes ------------------------------------------------------------

def test_output_write_is_flushed_before_rename_and_folder_after(ctx):
    if not shutil.which("strace"):
        raise AssertionError("strace is needed (Debian package strace)")
    app = blob_app(ctx, {"blobhttp": io_function(inp=None, out="uploads/{name}.bin")})
    trace = os.path.join(ctx.tmpdir(), "trace")
    # LeakSanitizer cannot run under ptrace (sanitized builds)
    asan = os.environ.get("ASAN_OPTIONS", "")
    h = wrapped_host(ctx, app, ["strace", "-f", "-qq", "-o", trace, "-e",
                                "trace=openat,fdatasync,fsync,rename,close"],
                     env={"ASAN_OPTIONS": (asan + ":" if asan else "") + "detect_leaks=0"})
    r = h.post("/api/blob?name=durable", body=b"keep me")
    assert r.status == 200, r
    traced = int(child_pids(h.proc.pid)[0])  # strace's child: the host
    os.kill(traced, signal.SIGTERM)
    assert h.wait_exit() == 0
    lines = open(trace).read().splitlines()
    # the temp file: opened, flushed, closed, renamed; then the folder flushed
    tmp = [ln for ln in lines if "openat(" in ln and "/uploads/.fnh-tmp.durable.bin." in ln]
    assert len(tmp) == 1, tmp
    pid = tmp[0].split()[0]
    fd = tmp[0].rsplit("=", 1)[1].strip()
    mine = [ln.split(None, 1)[1] for ln in lines if ln.split()[0] == pid]
    start = next(i for i, ln in enumerate(mine) if "/uploads/.fnh-tmp.durable.bin." in ln)
    seq = mine[start:start + 8]
    assert seq[1].startswith(f"fdatasync({fd})") and seq[2].startswith(f"close({fd})"), seq
    assert seq[3].startswith("rename(") and "/uploads/durable.bin\"" in seq[3], seq
    assert "openat(" in seq[4] and "O_DIRECTORY" in seq[4], seq
    dfd = seq[4].rsplit("=", 1)[1].strip()
    assert seq[5].startswith(f"fsync({dfd})"), seq


def test_kill_9_mid_burst_loses_no_acknowledged_write(ctx):
    app = blob_app(ctx, {"blobhttp": io_function(inp=None, out="uploads/{name}.bin")})
    h = ctx.start(app)
    acked, lock = [], threading.Lock()

    def writer(k):
        for i in range(100):
            name = f"w{k}-{i:03d}"
            try:
                r = h.post(f"/api/blob?name={name}", body=(name * 50).encode(), timeout=5)
            except Exception:  # noqa: BLE001 - the host was killed
                return
            if r.status == 200:
                with lock:
                    acked.append(name)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    wait_until(lambda: len(acked) >= 60, 30, "60 acknowledged writes")
    h.proc.send_signal(signal.SIGKILL)
    h.crashed()
    for t in threads:
        t.join(10)
    assert len(acked) >= 60
    for name in acked:
        with open(blob_path(app, "uploads", name + ".bin"), "rb") as f:
            assert f.read() == (name * 50).encode(), name
    leftovers = [f for f in os.listdir(blob_path(app, "uploads")) if not f.endswith(".bin")]
    assert all(f.startswith(".fnh-tmp.") for f in leftovers), leftovers
