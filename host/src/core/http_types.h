/* http_types.h: one parsed HTTP request as the server hands it to the host
 * (and the invocation owns it afterwards), and a response description. */
#ifndef FNH_HTTP_TYPES_H
#define FNH_HTTP_TYPES_H

#include <stddef.h>
#include <strings.h>

#include "fnhost/common.h"
#include "util.h"

/* HTTP methods as bits. FNH__M_ALL = every method (no "methods" given). */
enum {
    FNH__M_GET = 1u << 0,
    FNH__M_POST = 1u << 1,
    FNH__M_PUT = 1u << 2,
    FNH__M_DELETE = 1u << 3,
    FNH__M_HEAD = 1u << 4,
    FNH__M_PATCH = 1u << 5,
    FNH__M_OPTIONS = 1u << 6,
    FNH__M_TRACE = 1u << 7,
    FNH__M_ALL = 0xffu
};

/* Bit for a method name, case-insensitive ("get", "POST"); 0 if unknown. */
unsigned fnh__method_bit(const char *name, size_t len);
/* Upper-case name of a single method bit ("GET"); NULL if not one bit. */
const char *fnh__method_name(unsigned bit);

/* Kestrel's limits and timeouts for the server (host.json extensions.http). */
typedef struct fnh__http_limits {
    size_t max_request_line;       /* 8 KiB -> 414 */
    size_t max_header_bytes;       /* 32 KiB -> 431 */
    size_t max_headers;            /* 100 -> 431 */
    uint64_t max_body;             /* 100 MB -> 413 */
    uint64_t headers_timeout_ms;   /* 30 s */
    uint64_t keepalive_timeout_ms; /* 130 s */
    uint64_t min_body_rate;        /* 240 bytes/s */
    uint64_t body_grace_ms;        /* 5 s */
} fnh__http_limits;

typedef struct fnh__http_req {
    unsigned method;         /* FNH__M_* bit (0 for methods no route can have) */
    const char *method_name; /* "GET" (static, or in the request's block) */
    /* the strings and the header array below live in the request's own
     * allocation (fnh__http_req_new); fnh__http_req_free frees them */
    char *target;            /* request target as received, "/api/x?y=1" */
    char *path_raw;          /* path, still percent-encoded, no query */
    size_t path_raw_len;     /* strlen(path_raw) */
    char *query;             /* raw query string without '?', "" if none */
    char *path;              /* decoded path (path_raw itself when it has no '%') */
    fnh_kv *headers;         /* nheaders name/value pairs */
    size_t nheaders;
    fnh__buf body;           /* NUL-terminated; data is NULL while empty */
    int keep_alive;
    int http_minor;
    /* decoded query parameters, filled by fnh__http_req_parse_query */
    fnh_kv *qparams;
    size_t nq;
    char *qstore;
    int qparsed;
    int small; /* its block has the size the request path keeps for reuse */
} fnh__http_req;

/* Where a request target's path and query are: origin-form "/p?q#f",
 * absolute-form "http://host/p?q" (http or https), "*", or for CONNECT
 * (connect = 1) the authority itself. The query excludes '?' and any
 * fragment. Returns 0, or -EINVAL for a target of another form (Kestrel
 * answers 400). Pointers are into target (borrowed). */
typedef struct fnh__http_target {
    const char *path;
    size_t path_len; /* 0: the path is "/" */
    const char *query;
    size_t query_len;
} fnh__http_target;
int fnh__http_target_split(const char *target, int connect, fnh__http_target *out);

/* A request in one allocation: method (name; its FNH__M_* bit is looked
 * up), target as received, its parts (from fnh__http_target_split, or the
 * caller's own), and nheaders headers given as hbytes, hlen bytes of
 * "name\0value\0" pairs; all of them are copied (borrowed for the call).
 * The path is percent-decoded into path (which is the raw
 * path itself when that has no '%'). The body starts empty. Returns 0 and
 * *out (the caller owns it: free with fnh__http_req_free), -ENOMEM, or
 * -EILSEQ when the decoded path or query would hold a NUL byte ("%00"). */
int fnh__http_req_new(const char *method, const char *target, const fnh__http_target *parts,
                      const char *hbytes, size_t hlen, size_t nheaders, fnh__http_req **out);
/* fnh__http_req_new for a caller that knows more (a parser): the method's
 * FNH__M_* bit (0 when it has none: then its name method is copied, else
 * method is not read), the target's length tlen, and offsets, NULL or where
 * each header name and value starts in hbytes (2 * nheaders of them: then
 * the pairs are not searched for their ends). */
int fnh__http_req_make(unsigned bit, const char *method, const char *target, size_t tlen,
                       const fnh__http_target *parts, const char *hbytes, size_t hlen,
                       const size_t *offsets, size_t nheaders, fnh__http_req **out);

/* Header value by name (case-insensitive), first occurrence; borrowed. */
const char *fnh__http_req_header(const fnh__http_req *r, const char *name);
/* Parses the query string once (thread of the caller; not concurrently). */
void fnh__http_req_parse_query(fnh__http_req *r);
void fnh__http_req_free(fnh__http_req *r);

/* 1 for each byte an HTTP token (RFC 9110 tchar) such as a header name may
 * hold, 0 for the others: index it with the byte as unsigned char. */
extern const unsigned char fnh__http_tchar[256];
/* 1 when s can be a header name: an HTTP token (RFC 9110 tchar). */
int fnh__http_header_name_ok(const char *s);
/* 1 when s can be a header value: no line breaks or other control bytes
 * (tab is fine). */
int fnh__http_header_value_ok(const char *s);

typedef struct fnh__http_response {
    int status;
    const fnh_kv *headers; /* extra headers (borrowed for the call) */
    size_t nheaders;
    const char *content_type; /* NULL: none unless a header sets it */
    const void *body;
    size_t len;
    int close; /* close the connection after this response */
} fnh__http_response;

#endif
