/* blobtrig.c: the blob trigger test function. Logs one line
 *   BlobInfo: {"start_ns":N,"payload":"...","meta":{...},"in":...}
 * with the time it started (CLOCK_REALTIME, for latency), the blob's bytes,
 * every trigger metadata entry of "myBlob" and the optional input "inBlob"
 * (null when missing, absent when the function has no such binding). Sets
 * the optional output "outBlob" to "processed:<payload>". Fails (-EIO)
 * when the blob starts with "FAIL"; takes 5 s when it starts with "SLOW". */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <fnhost/function.h>

FNH_FUNCTION_MODULE(0);

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

static void put(sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void puts_(sbuf *b, const char *s)
{
    put(b, s, strlen(s));
}

static void jstr(sbuf *b, const char *s, size_t n)
{
    puts_(b, "\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char tmp[8];
        if (c == '"' || c == '\\') {
            tmp[0] = '\\';
            tmp[1] = (char)c;
            put(b, tmp, 2);
        } else if (c < 0x20) {
            snprintf(tmp, sizeof tmp, "\\u%04x", c);
            puts_(b, tmp);
        } else {
            put(b, (const char *)&c, 1);
        }
    }
    puts_(b, "\"");
}

FNH_EXPORT int run(fnh_ctx *ctx)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    fnh_value v;
    int rc = fnh_input(ctx, "myBlob", &v);
    if (rc)
        return rc;
    sbuf b = {0};
    char num[64];
    snprintf(num, sizeof num, "{\"start_ns\":%lld,\"payload\":",
             (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
    puts_(&b, num);
    jstr(&b, v.data, v.len);
    puts_(&b, ",\"content_type\":");
    jstr(&b, v.content_type ? v.content_type : "", v.content_type ? strlen(v.content_type) : 0);
    puts_(&b, ",\"meta\":{");
    fnh_kv kv;
    for (size_t i = 0; fnh_input_meta_at(ctx, "myBlob", "meta", i, &kv) == 0; i++) {
        if (i)
            puts_(&b, ",");
        jstr(&b, kv.key, strlen(kv.key));
        puts_(&b, ":");
        jstr(&b, kv.value ? kv.value : "", kv.value ? strlen(kv.value) : 0);
    }
    puts_(&b, "}");
    fnh_value in;
    rc = fnh_input(ctx, "inBlob", &in);
    if (rc == 0) {
        puts_(&b, ",\"in\":");
        jstr(&b, in.data, in.len);
    } else if (rc == -ENODATA) {
        puts_(&b, ",\"in\":null");
    }
    puts_(&b, "}");
    fnh_log(ctx, FNH_LOG_INFO, "BlobInfo: %s", b.p ? b.p : "{}");
    free(b.p);
    if (v.len >= 4 && memcmp(v.data, "FAIL", 4) == 0)
        return -EIO;
    if (v.len >= 4 && memcmp(v.data, "SLOW", 4) == 0) {
        struct timespec slow = {5, 0};
        while (nanosleep(&slow, &slow) != 0 && errno == EINTR)
            ;
    }
    size_t n = v.len + 16;
    char *out = malloc(n);
    if (!out)
        return -ENOMEM;
    int len = snprintf(out, n, "processed:%.*s", (int)v.len, (const char *)v.data);
    fnh_value o = {out, (size_t)len, "text/plain"};
    rc = fnh_output(ctx, "outBlob", &o);
    free(out);
    return rc == -ENOENT ? 0 : rc;
}
