"""harness.py: what every end-to-end test uses: start the real fnhost on a
free loopback port, talk real HTTP to it (http.client or raw sockets), run
its CLI, build throwaway function apps, and check on stop that the host
exited cleanly and no sanitizer reported anything."""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "WARNING: ThreadSanitizer", "SUMMARY: UndefinedBehaviorSanitizer")


def sanitizer_report(text):
    """The sanitizer part of a process's output, or '' when clean."""
    for m in SANITIZER_MARKERS:
        i = text.find(m)
        if i >= 0:
            return text[max(0, i - 200):i + 3000]
    return ""


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # dict, lower-case names
        self.body = body        # bytes

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<Response {self.status} {self.body[:80]!r}>"


def read_response(sock, head=False, buf=b""):
    """Reads one HTTP/1.1 response from sock. Returns (Response, leftover)."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"connection closed before a full response: {buf!r}")
        buf += chunk
    head_end = buf.index(b"\r\n\r\n")
    lines = buf[:head_end].decode("latin-1").split("\r\n")
    buf = buf[head_end + 4:]
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if status < 200:
        return Response(status, headers, b""), buf
    length = 0 if head or status in (204, 304) else int(headers.get("content-length", "0"))
    while len(buf) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed inside a body")
        buf += chunk
    return Response(status, headers, buf[:length]), buf[length:]


def is_closed(sock, timeout=2.0):
    """True when the peer closed sock (EOF or reset) within timeout."""
    sock.settimeout(timeout)
    try:
        data = sock.recv(65536)
        while data:
            data = sock.recv(65536)
        return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def expect_reject(h, data, status):
    """Sends data on a new connection to host h: exactly one response with
    status, Connection: close, then the connection closes. Returns it."""
    s = h.connect(5)
    try:
        s.sendall(data)
        r, rest = read_response(s)
        assert r.status == status, (r, data[:120])
        assert r.headers.get("connection") == "close", r.headers
        assert rest == b"", rest
        assert is_closed(s, 2), f"connection left open after {status}"
        return r
    finally:
        s.close()


def alive(pid):
    """True while process pid runs (a zombie counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[-1][0] != "Z"
    except OSError:
        return False


def gone_within(pid, seconds):
    """True once process pid is dead, False if it still runs after seconds."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


def child_pids(pid):
    """The pids of process pid's children, as strings."""
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return f.read().split()


class Host:
    """A running fnhost process."""

    def __init__(self, ctx, app, args, env, wait=True):
        self.ctx = ctx
        self.app = app
        cmd = [ctx.fnhost, "start", "--script-root", app, "--port", "0"] + list(args)
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     env=full_env, cwd=ctx.tmpdir())
        self._out = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.port = None
        self.returncode = None
        if wait:
            self.wait_started()

    def _read(self):
        for line in iter(self.proc.stdout.readline, b""):
            with self._lock:
                self._out.append(line.decode("utf-8", "replace"))

    @property
    def output(self):
        with self._lock:
            return "".join(self._out)

    def wait_started(self, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            m = re.search(r"listening on [^\s]+:(\d+)", self.output)
            if m:
                self.port = int(m.group(1))
                return self
            if self.proc.poll() is not None:
                self._reader.join(2)
                raise AssertionError(f"fnhost exited with {self.proc.returncode} before "
                                     f"listening:\n{self.output}")
            time.sleep(0.01)
        raise AssertionError(f"fnhost did not start within {timeout} s:\n{self.output}")

    def wait_exit(self, timeout=15):
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self._reader.join(5)
            raise AssertionError(f"fnhost did not exit within {timeout} s (killed); its output "
                                 f"ended:\n{self.output[-3000:]}")
        self._reader.join(5)
        return self.returncode

    def wait_log(self, needle, timeout=10):
        """The output once it holds needle and the rest of needle's line
        (the reader may have read part of a line so far)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            out = self.output
            at = out.find(needle)
            if at >= 0 and (out.find("\n", at + len(needle)) >= 0 or needle.endswith("\n")):
                return out
            time.sleep(0.02)
        raise AssertionError(f"log never contained {needle!r}:\n{self.output[-3000:]}")

    def stop(self, sig=signal.SIGTERM, check=True):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        rc = self.wait_exit()
        if check:
            bad = sanitizer_report(self.output)
            assert not bad, f"sanitizer report:\n{bad}"
            assert rc == 0, f"fnhost exited with {rc} after signal {sig}:\n{self.output[-3000:]}"
        return rc

    def crashed(self, timeout=15):
        """Waits for a host that is meant to die of a crash and returns its
        exit status; its sanitizer report (of that crash) is not a failure."""
        rc = self.wait_exit(timeout)
        self.expected_crash = True
        return rc

    def connect(self, timeout=10):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    def request(self, method, path, body=None, headers=None, timeout=15):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            if isinstance(body, str):
                body = body.encode()
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            data = r.read()
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
        finally:
            c.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=b"", **kw):
        return self.request("POST", path, body=body, **kw)

    def raw(self, data, count=1, head=False, timeout=10):
        """Sends raw bytes on a new connection; returns count responses."""
        s = self.connect(timeout)
        try:
            s.sendall(data)
            out, buf = [], b""
            for _ in range(count):
                r, buf = read_response(s, head, buf)
                out.append(r)
            return out
        finally:
            s.close()


class Context:
    """One test's world: temp folders, hosts, and helpers. Closed by the runner."""

    def __init__(self, build):
        self.build = build
        self.fnhost = os.path.join(build, "fnhost")
        self.root = ROOT
        self._tmp = []
        self._hosts = []

    def tmpdir(self):
        d = tempfile.mkdtemp(prefix="fnhost-test-")
        self._tmp.append(d)
        return d

    def path(self, *parts):
        return os.path.join(ROOT, *parts)

    def so(self, app, function, name=None):
        """Path of a built fixture function .so under tests/apps."""
        p = self.path("tests", "apps", app, function, (name or function) + ".so")
        assert os.path.exists(p), f"{p} is not built; run make"
        return p

    def make_app(self, files, host_json=None):
        """Builds an app in a temp folder. files maps relative paths to str
        (written), dict/list (written as JSON) or ('copy', src path)."""
        d = self.tmpdir()
        if host_json is not False:
            with open(os.path.join(d, "host.json"), "w") as f:
                json.dump(host_json or {"version": "2.0"}, f)
        for rel, content in files.items():
            p = os.path.join(d, rel)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            if isinstance(content, tuple) and content[0] == "copy":
                shutil.copy(content[1], p)
            elif isinstance(content, (dict, list)):
                with open(p, "w") as f:
                    json.dump(content, f)
            else:
                with open(p, "w") as f:
                    f.write(content)
        return d

    def copy_app(self, src):
        d = os.path.join(self.tmpdir(), "app")
        shutil.copytree(src, d)
        return d

    def start(self, app, *args, env=None, wait=True):
        h = Host(self, app, args, env, wait)
        self._hosts.append(h)
        return h

    def start_wrapped(self, app, prefix, *args, env=None):
        """Starts fnhost under a command prefix (unshare, strace) through a
        small script standing in for the binary."""
        script = os.path.join(self.tmpdir(), "fnhost")
        with open(script, "w") as f:
            f.write("#!/bin/sh\nexec " + " ".join(prefix) + f" {self.fnhost} \"$@\"\n")
        os.chmod(script, 0o755)
        real, self.fnhost = self.fnhost, script
        try:
            return self.start(app, *args, env=env)
        finally:
            self.fnhost = real

    def run(self, *args, env=None, timeout=30, cwd=None):
        full_env = dict(os.environ)
        full_env.update(env or {})
        p = subprocess.run([self.fnhost] + list(args), capture_output=True, text=True,
                           timeout=timeout, env=full_env, cwd=cwd)
        bad = sanitizer_report(p.stderr)
        assert not bad, f"sanitizer report from {args}:\n{bad}"
        return p

    def host_logs(self):
        return "\n".join(h.output for h in self._hosts)

    def close(self, check=True):
        errors = []
        for h in self._hosts:
            if h.returncode is None:
                try:
                    h.stop(check=check)
                except AssertionError as e:
                    errors.append(str(e))
            elif check and not getattr(h, "expected_crash", False):
                bad = sanitizer_report(h.output)
                if bad:
                    errors.append(f"sanitizer report:\n{bad}")
        for d in self._tmp:
            shutil.rmtree(d, ignore_errors=True)
        self._tmp = []
        if errors and check:
            raise AssertionError("\n".join(errors))


def http_function(route=None, methods=("get", "post"), so="fn.so", entry=None, out="res",
                  extra=None):
    """A function.json dict for an HTTP-triggered native function."""
    trig = {"type": "httpTrigger", "direction": "in", "name": "req", "authLevel": "anonymous"}
    if methods is not None:
        trig["methods"] = list(methods)
    if route is not None:
        trig["route"] = route
    fj = {"bindings": [trig, {"type": "http", "direction": "out", "name": out}],
          "scriptFile": so}
    if entry:
        fj["entryPoint"] = entry
    if extra:
        fj.update(extra)
    return fj
