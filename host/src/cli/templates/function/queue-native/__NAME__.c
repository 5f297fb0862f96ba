/* __NAME__.c: a queue-triggered function, run once for each message on the
 * queue "myqueue-items" (fnhost emulates Azure Storage queues locally; put
 * a message with `fnhost queue put myqueue-items "hello"`). Returning an
 * error retries the message; after five attempts it moves to
 * "myqueue-items-poison". */
#include <fnhost/function.h>

FNH_FUNCTION_MODULE(0);

FNH_EXPORT int run(fnh_ctx *ctx)
{
    fnh_value item;
    int rc = fnh_input(ctx, "myQueueItem", &item);
    if (rc)
        return rc;
    const char *dequeues = fnh_input_meta(ctx, "myQueueItem", "DequeueCount");
    fnh_log(ctx, FNH_LOG_INFO, "C queue trigger function processed work item: %.*s "
            "(DequeueCount %s)", (int)item.len, (const char *)item.data,
            dequeues ? dequeues : "?");
    return 0;
}
