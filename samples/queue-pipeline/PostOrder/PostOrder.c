/* PostOrder.c: `POST /api/orders` puts the request body, unchanged, on the
 * storage queue "orders" (queue output binding "order") and answers
 * 202 Accepted. An empty body is refused with 400. Try:
 *   curl -d '{"item":"book","qty":2}' http://localhost:7071/api/orders */
#include <fnhost/function.h>

FNH_FUNCTION_MODULE(0);

FNH_EXPORT int run(fnh_ctx *ctx)
{
    fnh_value body;
    int rc = fnh_input(ctx, "req", &body);
    if (rc)
        return rc;
    fnh_value text = {"", 0, "text/plain"};
    if (body.len == 0) {
        text.data = "POST an order (any text, usually JSON) to queue it.\n";
        text.len = sizeof "POST an order (any text, usually JSON) to queue it.\n" - 1;
        fnh_output_meta(ctx, "res", "status", "400");
        return fnh_output(ctx, "res", &text);
    }
    /* one message with the body as is; a JSON array body would become one
     * message per element (the queue output binding's collector rule) */
    fnh_value msg = {body.data, body.len, "text/plain"};
    rc = fnh_output(ctx, "order", &msg);
    if (rc)
        return rc;
    fnh_log(ctx, FNH_LOG_INFO, "Queued an order of %zu bytes on 'orders'.", body.len);
    text.data = "queued\n";
    text.len = 7;
    fnh_output_meta(ctx, "res", "status", "202");
    return fnh_output(ctx, "res", &text);
}
