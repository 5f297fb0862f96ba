// The custom-handler benchmark's Node.js server (http module, no packages):
// "Hello, world" for GET /api/hello (a forwarded request, or a client that
// hits the server directly) and for POST /hello (the JSON protocol).
const http = require('http');

const port = Number(process.env.FUNCTIONS_CUSTOMHANDLER_PORT);
const json = JSON.stringify({ Outputs: { res: { statusCode: 200, body: 'Hello, world',
                                                headers: { 'Content-Type': 'text/plain' } } } });

http.createServer((req, res) => {
  if (req.method === 'POST') {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(json);
    });
    return;
  }
  res.writeHead(200, { 'Content-Type': 'text/plain' });
  res.end('Hello, world');
}).listen(port, '127.0.0.1');
