/* ProcessOrder.c: triggered by each message on queue "orders"; writes the
 * message, unchanged, to a new blob processed/<guid>.json (blob output
 * binding "processed"). A failure here would be retried and, after five
 * attempts, the message would move to queue "orders-poison". */
#include <fnhost/function.h>

FNH_FUNCTION_MODULE(0);

FNH_EXPORT int run(fnh_ctx *ctx)
{
    fnh_value order;
    int rc = fnh_input(ctx, "order", &order);
    if (rc)
        return rc;
    const char *id = fnh_input_meta(ctx, "order", "Id");
    const char *dq = fnh_input_meta(ctx, "order", "DequeueCount");
    fnh_log(ctx, FNH_LOG_INFO, "Processing order message %s (attempt %s): %.*s",
            id ? id : "?", dq ? dq : "?", (int)order.len, (const char *)order.data);
    fnh_value blob = {order.data, order.len, "application/json"};
    return fnh_output(ctx, "processed", &blob);
}
