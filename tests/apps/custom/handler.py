"""A custom handler for the end-to-end tests (standard library only): it
answers Azure's custom-handler protocol on FUNCTIONS_CUSTOMHANDLER_PORT and
behaves by function name (the request path), echoing what it received so
the tests can check the payload field by field. In forwarding mode it
echoes the replayed request."""
import http.server
import json
import os
import sys
import threading
import time

PORT = int(os.environ["FUNCTIONS_CUSTOMHANDLER_PORT"])
ROOT = os.environ.get("FUNCTIONS_APP_ROOT_PATH", ".")
LOCK = threading.Lock()
STATE = {"inflight": 0, "max": 0}

with open(os.path.join(ROOT, "handler.pid"), "w") as f:
    f.write(str(os.getpid()))
print("handler listening on", PORT, "args", json.dumps(sys.argv[1:]), flush=True)


def record(name, obj):
    with LOCK, open(os.path.join(ROOT, name), "a") as f:
        f.write(json.dumps(obj) + "\n")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def send(self, status, body, headers=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if not headers or "Content-Type" not in headers:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_GET(self):
        self.handle_any()

    def do_POST(self):
        self.handle_any()

    def do_PUT(self):
        self.handle_any()

    def do_DELETE(self):
        self.handle_any()

    def do_PATCH(self):
        self.handle_any()

    def do_HEAD(self):
        self.handle_any()

    def handle_any(self):
        raw = self.body()
        path = self.path
        name = path.lstrip("/").split("?")[0]
        if path.startswith("/api/"):  # forwarding mode: the request as it came
            return self.forwarded(raw)
        if self.command == "GET" and path == "/":
            return self.send(200, {"ready": True})
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = raw.decode("latin-1")
        echo = {"path": path, "method": self.command, "headers": dict(self.headers.items()),
                "payload": payload, "argv": sys.argv[1:], "cwd": os.getcwd(), "pid": os.getpid(),
                "env": {k: os.environ.get(k) for k in (
                    "FUNCTIONS_CUSTOMHANDLER_PORT", "FUNCTIONS_CUSTOMHANDLER_WORKER_ID",
                    "FUNCTIONS_HTTPWORKER_PORT", "FUNCTIONS_HTTPWORKER_ID",
                    "FUNCTIONS_APP_ROOT_PATH", "MY_SETTING")}}
        if name == "Echo":
            return self.send(200, {
                "Outputs": {"res": {"statusCode": 201, "body": json.dumps(echo),
                                    "headers": {"Content-Type": "application/json",
                                                "X-Custom": "yes"}}},
                "Logs": ["first user log", "second user log"],
                "ReturnValue": None})
        if name == "Ret":
            return self.send(200, {"Outputs": {}, "Logs": None,
                                   "ReturnValue": {"status": "202", "body": {"via": "return"}}})
        if name == "Enqueue":
            return self.send(200, {"Outputs": {
                "res": {"body": "queued"},
                "msg": ["first " + payload["Data"]["req"].get("Body", ""), {"n": 2}]}})
        if name in ("QueueRec", "Tick"):
            record(name + ".jsonl", payload)
            return self.send(200, {"Outputs": {}, "Logs": [name + " ran"]})
        if name == "Slow":
            with LOCK:
                STATE["inflight"] += 1
                STATE["max"] = max(STATE["max"], STATE["inflight"])
            time.sleep(0.4)
            with LOCK:
                STATE["inflight"] -= 1
                peak = STATE["max"]
            return self.send(200, {"Outputs": {"res": {"body": str(peak)}}})
        if name == "Hang":
            time.sleep(30)
            return self.send(200, {})
        if name == "Crash":
            os._exit(3)
        if name == "Fail":
            return self.send(500, "handler failure text", {"Content-Type": "text/plain"})
        if name == "NotJson":
            return self.send(200, "this is not json", {"Content-Type": "text/plain"})
        return self.send(404, {"error": "unknown function " + name})

    def forwarded(self, raw):
        name = self.path.split("?")[0]
        if name == "/api/Redirect":
            return self.send(302, "", {"Location": "/api/elsewhere", "Content-Type": "text/plain"})
        echo = {"method": self.command, "path": self.path,
                "headers": [[k, v] for k, v in self.headers.items()], "body_hex": raw.hex()}
        self.send(207, json.dumps(echo), {"Content-Type": "application/x-echo",
                                          "X-Echo": "relayed", "Set-Cookie": "a=1"})


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


Server(("127.0.0.1", PORT), Handler).serve_forever()
