/* http_types.c: a parsed request, built in one block (blocks are reused),
 * and its accessors: headers by name, lazily decoded query parameters,
 * freeing; and HTTP method names as bits. */
#include "http_types.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

const char *fnh__http_req_header(const fnh__http_req *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (fnh__name_eq(r->headers[i].key, name))
            return r->headers[i].value;
    return NULL;
}

void fnh__http_req_parse_query(fnh__http_req *r)
{
    if (r->qparsed)
        return;
    r->qparsed = 1;
    const char *q = r->query;
    if (!q || !*q)
        return;
    size_t len = strlen(q);
    size_t n = 1;
    for (const char *p = q; *p; p++)
        n += *p == '&';
    r->qparams = calloc(n, sizeof *r->qparams);
    r->qstore = malloc(len + n * 2 + 2);
    if (!r->qparams || !r->qstore)
        return;
    char *o = r->qstore;
    const char *p = q;
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t plen = amp ? (size_t)(amp - p) : strlen(p);
        if (plen) {
            const char *eq = memchr(p, '=', plen);
            size_t klen = eq ? (size_t)(eq - p) : plen;
            r->qparams[r->nq].key = o;
            o += fnh__url_decode(p, klen, o, 1) + 1;
            r->qparams[r->nq].value = o;
            if (eq)
                o += fnh__url_decode(eq + 1, plen - klen - 1, o, 1) + 1;
            else
                *o++ = '\0';
            r->nq++;
        }
        if (!amp)
            break;
        p = amp + 1;
    }
}

/* Request blocks each thread keeps for its next requests (the server makes
 * one per request and the invocation frees it, both on the loop): up to
 * SPARE_MAX blocks of SMALL_BYTES, the size of every request that fits; a
 * larger one gets a block of its own size. The main thread's are released
 * at exit. */
#define SMALL_BYTES 1024
#define SPARE_MAX 64
static _Thread_local fnh__spares spares;
static pthread_once_t spares_at_exit = PTHREAD_ONCE_INIT;

static void spares_release(void)
{
    void *block;
    while ((block = fnh__spares_take(&spares, SMALL_BYTES)))
        free(block);
}

static void spares_release_at_exit(void)
{
    atexit(spares_release);
}

/* A block for a request of size bytes (the caller owns it), or NULL. */
static fnh__http_req *block_new(size_t size)
{
    if (size > SMALL_BYTES)
        return malloc(size);
    fnh__http_req *r = fnh__spares_take(&spares, SMALL_BYTES);
    return r ? r : malloc(SMALL_BYTES);
}

void fnh__http_req_free(fnh__http_req *r)
{
    if (!r)
        return;
    if (r->body.data)
        fnh__buf_free(&r->body);
    if (r->qparams) /* rarely there: a test is cheaper than the calls */
        free(r->qparams);
    if (r->qstore)
        free(r->qstore);
    /* the strings and headers go with the block */
    if (!r->small || !fnh__spares_keep(&spares, r, SMALL_BYTES, SPARE_MAX))
        free(r);
    else
        pthread_once(&spares_at_exit, spares_release_at_exit);
}

int fnh__http_target_split(const char *target, int connect, fnh__http_target *out)
{
    const char *path = target;
    if (*target != '/' && strcmp(target, "*") != 0 && !connect) {
        size_t scheme = strncasecmp(target, "http://", 7) == 0    ? 7
                        : strncasecmp(target, "https://", 8) == 0 ? 8
                                                                  : 0;
        if (!scheme)
            return -EINVAL;
        path = target + scheme + strcspn(target + scheme, "/?#");
    }
    size_t plen = strcspn(path, "?#");
    out->path = path;
    out->path_len = plen;
    out->query = path[plen] == '?' ? path + plen + 1 : path + plen;
    out->query_len = *out->query ? strcspn(out->query, "#") : 0;
    return 0;
}

/* Copies n bytes and a NUL at *at; returns the copy. */
static char *put(char **at, const char *s, size_t n)
{
    char *p = *at;
    memcpy(p, s, n);
    p[n] = '\0';
    *at += n + 1;
    return p;
}

/* Whether s (n bytes) holds "%00", the escape of a NUL byte. */
static int has_escaped_nul(const char *s, size_t n)
{
    const char *end = s + n;
    /* a '%' in the last two bytes starts no escape: not looked for */
    for (const char *p = s; end - p >= 3 && (p = memchr(p, '%', (size_t)(end - p - 2))); p++)
        if (p[1] == '0' && p[2] == '0')
            return 1;
    return 0;
}

int fnh__http_req_new(const char *method, const char *target, const fnh__http_target *parts,
                      const char *hbytes, size_t hlen, size_t nheaders, fnh__http_req **out)
{
    return fnh__http_req_make(fnh__method_bit(method, strlen(method)), method, target,
                              strlen(target), parts, hbytes, hlen, NULL, nheaders, out);
}

int fnh__http_req_make(unsigned bit, const char *method, const char *target, size_t tlen,
                       const fnh__http_target *parts, const char *hbytes, size_t hlen,
                       const size_t *offsets, size_t nheaders, fnh__http_req **out)
{
    *out = NULL;
    /* a decoded value ends at its first NUL: rather than cut a query
     * parameter there unseen, the request is refused */
    if (has_escaped_nul(parts->query, parts->query_len))
        return -EILSEQ;
    size_t mlen = bit ? 0 : strlen(method); /* the name is copied only without a bit */
    size_t plen = parts->path_len ? parts->path_len : 1;
    const char *path = parts->path_len ? parts->path : "/";
    /* only a path with a '%' is decoded into a copy of its own */
    int escaped = memchr(path, '%', plen) != NULL;
    size_t size = sizeof(fnh__http_req) + nheaders * sizeof(fnh_kv) + tlen + 1 +
                  (plen + 1) * (escaped ? 2 : 1) + parts->query_len + 1 + hlen +
                  (bit ? 0 : mlen + 1);
    fnh__http_req *r = block_new(size); /* every byte past the struct is written below */
    if (!r)
        return -ENOMEM;
    *r = (fnh__http_req){.method = bit,
                         .headers = (fnh_kv *)(r + 1),
                         .nheaders = nheaders,
                         .path_raw_len = plen,
                         .small = size <= SMALL_BYTES};
    char *at = (char *)(r->headers + nheaders);
    r->method_name = bit ? fnh__method_name(bit) : put(&at, method, mlen);
    r->target = put(&at, target, tlen);
    r->path_raw = put(&at, path, plen);
    r->query = put(&at, parts->query, parts->query_len);
    r->path = r->path_raw;
    if (escaped) {
        r->path = at;
        at += plen + 1;
        if (memchr(r->path, '\0', fnh__url_decode(r->path_raw, plen, r->path, 0))) {
            fnh__http_req_free(r);
            return -EILSEQ;
        }
    }
    if (hlen)
        memcpy(at, hbytes, hlen);
    for (size_t i = 0; i < nheaders; i++) {
        if (offsets) {
            r->headers[i].key = at + offsets[2 * i];
            r->headers[i].value = at + offsets[2 * i + 1];
            continue;
        }
        r->headers[i].key = at;
        at += strlen(at) + 1;
        r->headers[i].value = at;
        at += strlen(at) + 1;
    }
    *out = r;
    return 0;
}

static const struct {
    char name[8];
    size_t len;
} methods[8] = {{"GET", 3},  {"POST", 4},  {"PUT", 3},     {"DELETE", 6},
                {"HEAD", 4}, {"PATCH", 5}, {"OPTIONS", 7}, {"TRACE", 5}};

unsigned fnh__method_bit(const char *name, size_t len)
{
    if (!name)
        return 0;
    for (unsigned i = 0; i < 8; i++) {
        if (methods[i].len != len)
            continue;
        /* the names are upper-case letters: clearing a byte's 0x20 bit
         * gives one of them only from that letter in either case */
        size_t k = 0;
        while (k < len && ((unsigned char)name[k] & ~0x20u) == (unsigned char)methods[i].name[k])
            k++;
        if (k == len)
            return 1u << i;
    }
    return 0;
}

const char *fnh__method_name(unsigned bit)
{
    if (bit == 0 || (bit & (bit - 1)) != 0 || bit > FNH__M_TRACE)
        return NULL;
    return methods[__builtin_ctz(bit)].name;
}

/* letters, digits and !#$%&'*+-.^_`|~; nothing below 0x20 or from 0x7F */
const unsigned char fnh__http_tchar[256] = {
    [0x20] = 0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 1, 1, 0, /* 0x20 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0,          /* 0x30 */
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,          /* 0x40 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1,          /* 0x50 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,          /* 0x60 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1, 0,          /* 0x70 */
};

int fnh__http_header_name_ok(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!fnh__http_tchar[(unsigned char)*s])
            return 0;
    return 1;
}

/* 1 when the n bytes at s (borrowed) may be in a header value: no control
 * bytes but tab. */
static int value_bytes_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 ? c != '\t' : c == 0x7F)
            return 0;
    }
    return 1;
}

/* 1 when the 8 bytes of w are all 0x20..0x7E. A byte below 0x20 borrows
 * into its top bit, 0x7F carries into it, 0x80 and up have it; a borrow or
 * carry reaches other bytes only above such a byte, so the test is exact. */
static int printable8(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101u;
    return (((w - 0x20 * ones) | (w + ones) | w) & (0x80 * ones)) == 0;
}

int fnh__http_header_value_ok(const char *s)
{
    /* every response's content type comes here: 8 bytes a test, bytewise
     * only for a word with tab or bytes 0x80 and up in it */
    size_t n = strlen(s);
    if (n < 8)
        return value_bytes_ok(s, n);
    for (size_t i = 0;; i += 8) {
        if (i + 8 > n)
            i = n - 8; /* the last 8 bytes, overlapping the word before */
        uint64_t w;
        memcpy(&w, s + i, 8);
        if (!printable8(w) && !value_bytes_ok(s + i, 8))
            return 0;
        if (i + 8 == n)
            return 1;
    }
}
