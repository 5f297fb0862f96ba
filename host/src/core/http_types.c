/* http_types.c: accessors of a parsed request: headers by name, lazily
 * decoded query parameters, freeing; and HTTP method names as bits. */
#include "http_types.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *fnh__http_req_header(const fnh__http_req *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (strcasecmp(r->headers[i].key, name) == 0)
            return r->headers[i].value;
    return NULL;
}

void fnh__http_req_parse_query(fnh__http_req *r)
{
    if (r->qparsed)
        return;
    r->qparsed = 1;
    const char *q = r->query ? r->query : "";
    size_t len = strlen(q);
    if (!len)
        return;
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

void fnh__http_req_free(fnh__http_req *r)
{
    if (!r)
        return;
    free(r->target);
    free(r->path_raw);
    free(r->query);
    free(r->path);
    free(r->headers);
    free(r->hstore);
    fnh__buf_free(&r->body);
    free(r->qparams);
    free(r->qstore);
    free(r);
}

static const char *const method_names[8] = {"GET",  "POST",  "PUT",     "DELETE",
                                            "HEAD", "PATCH", "OPTIONS", "TRACE"};

unsigned fnh__method_bit(const char *name, size_t len)
{
    if (!name)
        return 0;
    for (unsigned i = 0; i < 8; i++)
        if (strlen(method_names[i]) == len && strncasecmp(method_names[i], name, len) == 0)
            return 1u << i;
    return 0;
}

const char *fnh__method_name(unsigned bit)
{
    if (bit == 0 || (bit & (bit - 1)) != 0 || bit > FNH__M_TRACE)
        return NULL;
    return method_names[__builtin_ctz(bit)];
}

int fnh__http_header_name_ok(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("!#$%&'*+-.^_`|~", *s))
            return 0;
    return 1;
}

int fnh__http_header_value_ok(const char *s)
{
    for (; *s; s++)
        if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7F)
            return 0;
    return 1;
}
