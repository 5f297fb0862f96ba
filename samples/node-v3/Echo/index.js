// Returns the request body and its content type, as the $return output.
module.exports = async function (context, req) {
    return {
        status: 200,
        headers: { 'Content-Type': req.headers['content-type'] || 'application/octet-stream' },
        body: req.rawBody,
    };
};
