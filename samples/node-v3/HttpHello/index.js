// v3 model: module.exports receives the context and the trigger's value.
module.exports = async function (context, req) {
    const name = context.bindingData.name || (req.query && req.query.name) || 'world';
    context.log(`Saying hello to ${name}`);
    context.res = { status: 200, body: `Hello, ${name}!` };
};
