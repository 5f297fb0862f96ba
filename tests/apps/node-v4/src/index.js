// Fixture functions for tests/e2e/test_node_worker.py.
const { app } = require('@azure/functions');

// A file named "broken" beside src/ makes every later start of the worker fail.
if (require('fs').existsSync(require('path').join(__dirname, '..', 'broken'))) {
    console.error('the app is broken: exiting');
    process.exit(3);
}

// Echoes the body with its content type; ?status= sets the status, the
// x-in request header comes back as x-echo.
app.http('echo', {
    methods: ['POST', 'PUT'],
    authLevel: 'anonymous',
    handler: async (request) => {
        const body = Buffer.from(await request.arrayBuffer());
        const headers = { 'content-type': request.headers.get('content-type') || 'application/octet-stream' };
        if (request.headers.get('x-in')) headers['x-echo'] = request.headers.get('x-in');
        return { status: Number(request.query.get('status') || 200), headers, body };
    },
});

app.http('big', {
    methods: ['GET'],
    authLevel: 'anonymous',
    handler: async (request) => {
        const n = Number(request.query.get('bytes') || 1024);
        const body = Buffer.alloc(n);
        for (let i = 0; i < n; i++) body[i] = i % 251;
        return { headers: { 'content-type': 'application/octet-stream' }, body };
    },
});

app.http('logs', {
    methods: ['GET'],
    authLevel: 'anonymous',
    handler: async (request, context) => {
        context.trace('log at trace');
        context.debug('log at debug');
        context.info('log at information');
        context.warn('log at warning');
        context.error('log at error');
        return { body: 'logged' };
    },
});

app.http('fail', {
    methods: ['GET'],
    authLevel: 'anonymous',
    handler: async () => {
        throw new Error('boom from node');
    },
});

app.http('slow', {
    methods: ['GET'],
    authLevel: 'anonymous',
    handler: async (request) => {
        const ms = Number(request.query.get('ms') || 1000);
        await new Promise((resolve) => setTimeout(resolve, ms));
        return { body: `slept ${ms}` };
    },
});

app.http('pid', {
    methods: ['GET'],
    authLevel: 'anonymous',
    handler: async () => ({ body: String(process.pid) }),
});

app.http('setting', {
    methods: ['GET'],
    authLevel: 'anonymous',
    handler: async () => ({ jsonBody: { greeting: process.env.GREETING || null, cwd: process.cwd() } }),
});

app.http('item', {
    methods: ['PUT', 'DELETE'],
    authLevel: 'anonymous',
    route: 'items/{id:int}',
    handler: async (request) => ({ jsonBody: { method: request.method, id: request.params.id } }),
});

app.http('console', {
    methods: ['GET'],
    authLevel: 'anonymous',
    handler: async () => {
        console.log('console says hi');
        return { body: 'ok' };
    },
});
