// A custom handler in plain Node.js (the http module, no packages): the host
// POSTs each invocation to /<FunctionName> with {"Data", "Metadata"} and
// reads {"Outputs", "Logs", "ReturnValue"} back.
const http = require('http');

const port = Number(process.env.FUNCTIONS_CUSTOMHANDLER_PORT || 8080);

const functions = {
  // GET /api/hello?name=Ada -> "Hello, Ada"
  hello(data) {
    const name = (data.req.Query && data.req.Query.name) || 'world';
    return {
      Outputs: { res: { statusCode: 200, body: `Hello, ${name}`,
                        headers: { 'Content-Type': 'text/plain' } } },
      Logs: [`said hello to ${name}`],
    };
  },
  // POST /api/orders {"id": 7, ...} -> 202, and the order on the "orders" queue
  orders(data) {
    let order;
    try {
      order = JSON.parse(data.req.Body || '');
    } catch (e) {
      return { Outputs: { res: { statusCode: 400, body: 'the body must be a JSON order' } } };
    }
    return {
      Outputs: {
        res: { statusCode: 202, body: { accepted: order.id } },
        order: order,
      },
      Logs: [`order ${order.id} queued`],
    };
  },
  // the "orders" queue: a JSON message arrives as an object
  ProcessOrder(data, metadata) {
    const order = data.order;
    return { Logs: [`order ${order.id} processed (dequeue count ${metadata.DequeueCount})`] };
  },
  // every five minutes, and once at start-up
  tick(data) {
    return { Logs: [`tick (past due: ${data.timer.IsPastDue})`] };
  },
};

http.createServer((req, res) => {
  const name = req.url.slice(1).split('?')[0];
  if (req.method !== 'POST' || !functions[name]) {
    res.writeHead(req.url === '/' ? 200 : 404).end();
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const { Data, Metadata } = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    const answer = functions[name](Data, Metadata);
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(answer));
  });
}).listen(port, '127.0.0.1', () => console.log(`custom handler listening on ${port}`));
