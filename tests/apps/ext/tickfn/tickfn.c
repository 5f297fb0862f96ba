/* tickfn.c: the function the extension tests bind to the fixture extension
 * (tests/ext/ticktrig.c). Reads its trigger "tick" (payload and metadata
 * "n"), the optional input "const", writes output "memo" and $return; fails
 * for the tick number named by the app setting TICK_FAIL_N. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fnhost/function.h>

FNH_FUNCTION_MODULE(0);

FNH_EXPORT int run(fnh_ctx *ctx)
{
    fnh_value in;
    if (fnh_input(ctx, "tick", &in))
        return -EINVAL;
    const char *n = fnh_input_meta(ctx, "tick", "n");
    const char *fail = fnh_setting(ctx, "TICK_FAIL_N");
    if (n && fail && strcmp(n, fail) == 0)
        return -EIO;
    fnh_value c;
    int crc = fnh_input(ctx, "const", &c);
    char memo[256];
    int len = snprintf(memo, sizeof memo, "got %.*s n=%s const=%s", (int)in.len,
                       (const char *)in.data, n ? n : "?",
                       crc == 0 ? (const char *)c.data : crc == -ENODATA ? "null" : "none");
    fnh_value m = {memo, (size_t)len, "text/plain"};
    fnh_output(ctx, "memo", &m);
    char ret[64];
    len = snprintf(ret, sizeof ret, "ret %s", n ? n : "?");
    fnh_value r = {ret, (size_t)len, "text/plain"};
    fnh_output(ctx, "$return", &r);
    return 0;
}
