/* __NAME__.c: a blob-triggered function, run once for each new or changed
 * blob in the container "samples-workitems" (fnhost emulates blob storage
 * in the app's .fnhost/storage/blobs/<container>/ folder: drop a file
 * there). {name} in the path is available as metadata "name". */
#include <fnhost/function.h>

FNH_FUNCTION_MODULE(0);

FNH_EXPORT int run(fnh_ctx *ctx)
{
    fnh_value blob;
    int rc = fnh_input(ctx, "myBlob", &blob);
    if (rc)
        return rc;
    const char *name = fnh_input_meta(ctx, "myBlob", "name");
    fnh_log(ctx, FNH_LOG_INFO, "C blob trigger function processed blob Name: %s Blob Size: %zu "
            "Bytes", name ? name : "?", blob.len);
    return 0;
}
