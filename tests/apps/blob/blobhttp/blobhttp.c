/* blobhttp.c: an HTTP-triggered test function for the blob input and output
 * bindings. Answers "in=<blob>" from the input "inBlob" ("in=null" when the
 * blob is missing, "in=none" without such a binding); a POST also stores its
 * body in the output "outBlob". */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fnhost/function.h>

FNH_FUNCTION_MODULE(0);

FNH_EXPORT int run(fnh_ctx *ctx)
{
    fnh_value in;
    int rc = fnh_input(ctx, "inBlob", &in);
    const char *method = fnh_input_meta(ctx, "req", "method");
    if (method && strcmp(method, "POST") == 0) {
        fnh_value body;
        if (fnh_input(ctx, "req", &body) == 0) {
            fnh_value o = {body.data, body.len, "application/octet-stream"};
            int orc = fnh_output(ctx, "outBlob", &o);
            if (orc)
                return orc;
        }
    }
    size_t n = (rc == 0 ? in.len : 0) + 16;
    char *text = malloc(n);
    if (!text)
        return -ENOMEM;
    int len;
    if (rc == 0)
        len = snprintf(text, n, "in=%.*s", (int)in.len, (const char *)in.data);
    else
        len = snprintf(text, n, "in=%s", rc == -ENODATA ? "null" : "none");
    fnh_value r = {text, (size_t)len, "text/plain"};
    rc = fnh_output(ctx, "res", &r);
    free(text);
    return rc;
}
