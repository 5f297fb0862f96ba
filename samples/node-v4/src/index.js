// An @azure/functions v4 app: HTTP with route parameters, a timer, and a
// queue trigger fed by an HTTP function's queue output.
const { app, output } = require('@azure/functions');

app.http('hello', {
    methods: ['GET', 'POST'],
    authLevel: 'anonymous',
    handler: async (request, context) => {
        const name = request.query.get('name') || (await request.text()) || 'world';
        context.log(`Saying hello to ${name}`);
        return { body: `Hello, ${name}!` };
    },
});

app.http('product', {
    methods: ['GET'],
    authLevel: 'anonymous',
    route: 'products/{category:alpha}/{id:int?}',
    handler: async (request, context) => {
        return {
            jsonBody: { category: request.params.category, id: request.params.id || null },
        };
    },
});

const ordersQueue = output.storageQueue({ queueName: 'orders', connection: 'AzureWebJobsStorage' });

app.http('placeOrder', {
    methods: ['POST'],
    authLevel: 'anonymous',
    route: 'orders',
    extraOutputs: [ordersQueue],
    handler: async (request, context) => {
        const order = await request.json();
        context.extraOutputs.set(ordersQueue, order);
        return { status: 202, jsonBody: { queued: order } };
    },
});

app.storageQueue('processOrder', {
    queueName: 'orders',
    connection: 'AzureWebJobsStorage',
    handler: async (message, context) => {
        context.log(`Processing order ${JSON.stringify(message)}`);
    },
});

app.timer('tick', {
    schedule: '0 */5 * * * *',
    handler: async (timer, context) => {
        context.log(`Tick; past due: ${timer.isPastDue}`);
    },
});
