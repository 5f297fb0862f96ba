#!/usr/bin/env python3
"""handler.py: the custom handler of this function app (any language can be
one; this one needs only Python 3). The host starts it with
FUNCTIONS_CUSTOMHANDLER_PORT set and POSTs every invocation to
/<FunctionName> as {"Data": {...}, "Metadata": {...}}; the answer is
{"Outputs": {...}, "Logs": [...], "ReturnValue": ...}. Add your own code per
function to HANDLERS; a function without an entry gets default()."""
import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def http_hello(name, data, metadata):
    """An HTTP-triggered function: answers through its "res" output."""
    req = data.get("req") or {}
    who = (req.get("Query") or {}).get("name") or req.get("Body") or ""
    if who:
        body = f"Hello, {who}. This HTTP triggered function executed successfully."
    else:
        body = ("This HTTP triggered function executed successfully. Pass a name in the query "
                "string or in the request body for a personalized response.")
    return {"Outputs": {"res": {"statusCode": 200, "body": body,
                                "headers": {"Content-Type": "text/plain; charset=utf-8"}}},
            "Logs": [f"Custom handler HTTP trigger function '{name}' processed a request."],
            "ReturnValue": None}


def default(name, data, metadata):
    """Any other trigger: logs what it received."""
    if any(isinstance(v, dict) and "Method" in v for v in data.values()):
        return http_hello(name, data, metadata)
    return {"Outputs": {},
            "Logs": [f"Custom handler function '{name}' ran with {json.dumps(data)}"],
            "ReturnValue": None}


HANDLERS = {}  # "FunctionName": handler(name, data, metadata)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # the host's readiness probe
        self.answer(200, {})

    def do_POST(self):
        name = self.path.strip("/").split("?")[0]
        size = int(self.headers.get("Content-Length") or 0)
        payload = json.loads(self.rfile.read(size) or b"{}")
        run = HANDLERS.get(name, default)
        self.answer(200, run(name, payload.get("Data") or {}, payload.get("Metadata") or {}))

    def answer(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass


if __name__ == "__main__":
    port = int(os.environ.get("FUNCTIONS_CUSTOMHANDLER_PORT", "8080"))
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
