"""A custom handler in Python (standard library only): the host POSTs each
invocation to /<FunctionName> with {"Data", "Metadata"} and reads
{"Outputs", "Logs", "ReturnValue"} back."""
import http.server
import json
import os

PORT = int(os.environ.get("FUNCTIONS_CUSTOMHANDLER_PORT", "8080"))


def hello(data, metadata):
    """GET /api/hello?name=Ada -> "Hello, Ada"."""
    name = (data["req"].get("Query") or {}).get("name", "world")
    return {"Outputs": {"res": {"statusCode": 200, "body": f"Hello, {name}",
                                "headers": {"Content-Type": "text/plain"}}},
            "Logs": [f"said hello to {name}"]}


def orders(data, metadata):
    """POST /api/orders {"id": 7, ...} -> 202, and the order on the "orders" queue."""
    try:
        order = json.loads(data["req"].get("Body") or "")
    except ValueError:
        return {"Outputs": {"res": {"statusCode": 400, "body": "the body must be a JSON order"}}}
    return {"Outputs": {"res": {"statusCode": 202, "body": {"accepted": order["id"]}},
                        "order": order},
            "Logs": [f"order {order['id']} queued"]}


def ProcessOrder(data, metadata):
    """The "orders" queue: a JSON message arrives as an object."""
    order = data["order"]
    return {"Logs": [f"order {order['id']} processed (dequeue count {metadata['DequeueCount']})"]}


def tick(data, metadata):
    """Every five minutes, and once at start-up."""
    return {"Logs": [f"tick (past due: {data['timer']['IsPastDue']})"]}


FUNCTIONS = {f.__name__: f for f in (hello, orders, ProcessOrder, tick)}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # kept-alive connections

    def log_message(self, fmt, *args):
        pass

    def answer(self, status, body=b""):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.answer(200 if self.path == "/" else 404)

    def do_POST(self):
        fn = FUNCTIONS.get(self.path.lstrip("/").split("?")[0])
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if not fn:
            return self.answer(404)
        request = json.loads(body)
        self.answer(200, json.dumps(fn(request["Data"], request["Metadata"])).encode())


print(f"custom handler listening on {PORT}", flush=True)
http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
