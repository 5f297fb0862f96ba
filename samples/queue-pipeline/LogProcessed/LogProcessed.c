/* LogProcessed.c: triggered by each new blob processed/{name}.json (written
 * by ProcessOrder); logs its name, size and content. */
#include <fnhost/function.h>

FNH_FUNCTION_MODULE(0);

FNH_EXPORT int run(fnh_ctx *ctx)
{
    fnh_value blob;
    int rc = fnh_input(ctx, "blob", &blob);
    if (rc)
        return rc;
    const char *name = fnh_input_meta(ctx, "blob", "name");
    fnh_log(ctx, FNH_LOG_INFO, "Processed order blob %s.json (%zu bytes): %.*s",
            name ? name : "?", blob.len, (int)blob.len, (const char *)blob.data);
    return 0;
}
