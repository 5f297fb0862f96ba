/* queue_util.c: the queue extension's pure helpers (see queue_util.h): a
 * small validating JSON reader, base64, TimeSpan parsing and connection
 * value classification. No global state; any thread. */
#include "queue_util.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- JSON ---- */

typedef struct jr {
    const char *p, *end;
} jr;

static void ws(jr *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
        r->p++;
}

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Reads a JSON string at r->p ('"'). With out (room for the raw length + 1)
 * writes the unescaped text and its length. Returns 0 or -1. */
static int jstring(jr *r, char *out, size_t *outlen)
{
    if (r->p >= r->end || *r->p != '"')
        return -1;
    r->p++;
    size_t o = 0;
    while (r->p < r->end) {
        unsigned char c = (unsigned char)*r->p++;
        if (c == '"') {
            if (out) {
                out[o] = '\0';
                *outlen = o;
            }
            return 0;
        }
        if (c < 0x20)
            return -1;
        if (c != '\\') {
            if (out)
                out[o] = (char)c;
            o++;
            continue;
        }
        if (r->p >= r->end)
            return -1;
        char e = *r->p++;
        char ch;
        switch (e) {
        case '"': ch = '"'; break;
        case '\\': ch = '\\'; break;
        case '/': ch = '/'; break;
        case 'b': ch = '\b'; break;
        case 'f': ch = '\f'; break;
        case 'n': ch = '\n'; break;
        case 'r': ch = '\r'; break;
        case 't': ch = '\t'; break;
        case 'u': {
            unsigned cp;
            if (r->end - r->p < 4 || hex4(r->p, &cp))
                return -1;
            r->p += 4;
            if (cp >= 0xd800 && cp < 0xdc00 && r->end - r->p >= 6 && r->p[0] == '\\' &&
                r->p[1] == 'u') {
                unsigned lo;
                if (hex4(r->p + 2, &lo) == 0 && lo >= 0xdc00 && lo < 0xe000) {
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    r->p += 6;
                }
            }
            /* \uXXXX (6 raw bytes) never needs more than 4 output bytes;
             * a pair (12 raw) needs 4 */
            if (out)
                o += put_utf8(out + o, cp);
            else
                o += 4;
            continue;
        }
        default: return -1;
        }
        if (out)
            out[o] = ch;
        o++;
    }
    return -1;
}

static int jvalue(jr *r, int depth);

static int jliteral(jr *r, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0)
        return -1;
    r->p += n;
    return 0;
}

/* Skips one or more digits. Returns 0, or -1 when there is none. */
static int jdigits(jr *r)
{
    if (r->p >= r->end || !isdigit((unsigned char)*r->p))
        return -1;
    while (r->p < r->end && isdigit((unsigned char)*r->p))
        r->p++;
    return 0;
}

static int jnumber(jr *r)
{
    if (r->p < r->end && *r->p == '-')
        r->p++;
    if (r->p < r->end && *r->p == '0')
        r->p++; /* no leading zeros */
    else if (jdigits(r))
        return -1;
    if (r->p < r->end && *r->p == '.') {
        r->p++;
        if (jdigits(r))
            return -1;
    }
    if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
        r->p++;
        if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
            r->p++;
        if (jdigits(r))
            return -1;
    }
    return 0;
}

/* Skips one value (validating it). */
static int jvalue(jr *r, int depth)
{
    if (depth > 200)
        return -1;
    ws(r);
    if (r->p >= r->end)
        return -1;
    switch (*r->p) {
    case '"': return jstring(r, NULL, NULL);
    case 't': return jliteral(r, "true");
    case 'f': return jliteral(r, "false");
    case 'n': return jliteral(r, "null");
    case '[':
    case '{': {
        char close = *r->p == '[' ? ']' : '}';
        int obj = close == '}';
        r->p++;
        ws(r);
        if (r->p < r->end && *r->p == close) {
            r->p++;
            return 0;
        }
        for (;;) {
            if (obj) {
                ws(r);
                if (jstring(r, NULL, NULL))
                    return -1;
                ws(r);
                if (r->p >= r->end || *r->p++ != ':')
                    return -1;
            }
            if (jvalue(r, depth + 1))
                return -1;
            ws(r);
            if (r->p >= r->end)
                return -1;
            char c = *r->p++;
            if (c == close)
                return 0;
            if (c != ',')
                return -1;
        }
    }
    default: return jnumber(r);
    }
}

void qjson_items_free(qjson_item *items, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(items[i].text);
    free(items);
}

int qjson_split_array(const char *p, size_t n, qjson_item **items, size_t *count)
{
    *items = NULL;
    *count = 0;
    jr r = {p, p + n};
    ws(&r);
    if (r.p >= r.end || *r.p != '[')
        return 0;
    /* validate the whole text first */
    jr check = r;
    if (jvalue(&check, 0))
        return 0;
    ws(&check);
    if (check.p != check.end)
        return 0;
    qjson_item *out = NULL;
    size_t cnt = 0, cap = 0;
    r.p++;
    ws(&r);
    if (*r.p == ']') {
        *items = NULL;
        return 1;
    }
    for (;;) {
        ws(&r);
        const char *start = r.p;
        if (cnt == cap) {
            cap = cap ? cap * 2 : 8;
            qjson_item *grown = realloc(out, cap * sizeof *out);
            if (!grown) {
                qjson_items_free(out, cnt);
                return -ENOMEM;
            }
            out = grown;
        }
        qjson_item *it = &out[cnt];
        if (*start == '"') {
            /* the body of a string never needs more bytes than its raw text */
            const char *s = start;
            jr tmp = r;
            jstring(&tmp, NULL, NULL);
            size_t raw = (size_t)(tmp.p - s);
            it->text = malloc(raw + 4);
            if (!it->text) {
                qjson_items_free(out, cnt);
                return -ENOMEM;
            }
            jstring(&r, it->text, &it->len);
        } else {
            jvalue(&r, 0);
            it->len = (size_t)(r.p - start);
            it->text = malloc(it->len + 1);
            if (!it->text) {
                qjson_items_free(out, cnt);
                return -ENOMEM;
            }
            memcpy(it->text, start, it->len);
            it->text[it->len] = '\0';
        }
        cnt++;
        ws(&r);
        if (*r.p++ == ']')
            break;
    }
    *items = out;
    *count = cnt;
    return 1;
}

char *qjson_get_string(const char *text, size_t n, const char *const *path, size_t depth)
{
    jr r = {text, text + n};
    /* skip a UTF-8 byte order mark */
    if (n >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        r.p += 3;
    for (size_t level = 0; level < depth; level++) {
        ws(&r);
        if (r.p >= r.end || *r.p != '{')
            return NULL;
        r.p++;
        int found = 0;
        for (;;) {
            ws(&r);
            if (r.p < r.end && *r.p == '}')
                return NULL;
            jr key = r;
            if (jstring(&r, NULL, NULL))
                return NULL;
            size_t raw = (size_t)(r.p - key.p);
            char *k = malloc(raw + 4);
            if (!k)
                return NULL;
            size_t klen;
            jstring(&key, k, &klen);
            int match = strcasecmp(k, path[level]) == 0 && klen == strlen(k);
            free(k);
            ws(&r);
            if (r.p >= r.end || *r.p++ != ':')
                return NULL;
            ws(&r);
            if (match) {
                found = 1;
                break;
            }
            if (jvalue(&r, 0))
                return NULL;
            ws(&r);
            if (r.p >= r.end || *r.p++ != ',')
                return NULL;
        }
        if (!found)
            return NULL;
    }
    ws(&r);
    if (r.p >= r.end || *r.p != '"')
        return NULL;
    jr tmp = r;
    if (jstring(&tmp, NULL, NULL))
        return NULL;
    char *out = malloc((size_t)(tmp.p - r.p) + 4);
    if (!out)
        return NULL;
    size_t len;
    jstring(&r, out, &len);
    return out;
}

/* ---- base64 ---- */

static int b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

char *qbase64_encode(const char *p, size_t n, size_t *outlen)
{
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t len = (n + 2) / 3 * 4;
    char *out = malloc(len + 1);
    if (!out)
        return NULL;
    const unsigned char *u = (const unsigned char *)p;
    size_t o = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)u[i] << 16 | (uint32_t)u[i + 1] << 8 | u[i + 2];
        out[o++] = A[v >> 18];
        out[o++] = A[(v >> 12) & 63];
        out[o++] = A[(v >> 6) & 63];
        out[o++] = A[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)u[i] << 16 | (i + 1 < n ? (uint32_t)u[i + 1] << 8 : 0);
        out[o++] = A[v >> 18];
        out[o++] = A[(v >> 12) & 63];
        out[o++] = i + 1 < n ? A[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
    if (outlen)
        *outlen = o;
    return out;
}

int qbase64_decode(const char *s, size_t n, char **out, size_t *outlen)
{
    *out = NULL;
    *outlen = 0;
    if (n % 4 != 0 || n == 0)
        return -EINVAL;
    size_t pad = 0;
    if (s[n - 1] == '=')
        pad++;
    if (s[n - 2] == '=')
        pad++;
    char *buf = malloc(n / 4 * 3 + 1);
    if (!buf)
        return -ENOMEM;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        for (int j = 0; j < 4; j++) {
            unsigned char c = (unsigned char)s[i + j];
            if (c == '=' && i + 4 == n && (size_t)j >= 4 - pad) {
                v[j] = 0;
                continue;
            }
            v[j] = b64val(c);
            if (v[j] < 0) {
                free(buf);
                return -EINVAL;
            }
        }
        unsigned triple = (unsigned)(v[0] << 18 | v[1] << 12 | v[2] << 6 | v[3]);
        buf[o++] = (char)(triple >> 16);
        buf[o++] = (char)(triple >> 8);
        buf[o++] = (char)triple;
    }
    o -= pad;
    buf[o] = '\0';
    *out = buf;
    *outlen = o;
    return 0;
}

/* ---- TimeSpan ---- */

int qtimespan_ms(const char *s, int64_t *ms)
{
    long long d = 0, h = 0, m = 0, sec = 0;
    double frac = 0;
    const char *p = s;
    char *e;
    if (!*p || !isdigit((unsigned char)*p))
        return -EINVAL;
    long long first = strtoll(p, &e, 10);
    if (*e == '.') { /* days */
        d = first;
        p = e + 1;
        h = strtoll(p, &e, 10);
        if (e == p)
            return -EINVAL;
    } else {
        h = first;
    }
    if (*e != ':')
        return -EINVAL;
    p = e + 1;
    m = strtoll(p, &e, 10);
    if (e == p || *e != ':')
        return -EINVAL;
    p = e + 1;
    sec = strtoll(p, &e, 10);
    if (e == p)
        return -EINVAL;
    if (*e == '.') {
        const char *f = e + 1;
        double scale = 0.1;
        while (isdigit((unsigned char)*f)) {
            frac += (*f - '0') * scale;
            scale /= 10;
            f++;
        }
        if (f == e + 1)
            return -EINVAL;
        e = (char *)f;
    }
    if (*e || h > 23 || m > 59 || sec > 59 || d < 0)
        return -EINVAL;
    *ms = (((d * 24 + h) * 60 + m) * 60 + sec) * 1000 + (int64_t)(frac * 1000 + 0.5);
    return 0;
}

/* ---- connections ---- */

qconn_kind qconn_classify(const char *v)
{
    while (*v == ' ')
        v++;
    if (strncasecmp(v, "UseDevelopmentStorage=true", 26) == 0)
        return QCONN_DEV;
    if (strcasestr(v, "AccountName=") || strcasestr(v, "DefaultEndpointsProtocol=") ||
        strcasestr(v, "AccountKey=") || strcasestr(v, "SharedAccessSignature=") ||
        strcasestr(v, "QueueEndpoint=") || strcasestr(v, "BlobEndpoint="))
        return QCONN_CLOUD;
    if (v[0] == '/' || strncmp(v, "./", 2) == 0 || strncmp(v, "../", 3) == 0)
        return QCONN_PATH;
    return QCONN_OTHER;
}

char *qconn_db_path(const char *v, const char *root)
{
    char *out = NULL;
    switch (qconn_classify(v)) {
    case QCONN_DEV:
        if (asprintf(&out, "%s/.fnhost/storage/queues.db", root) < 0)
            out = NULL;
        return out;
    case QCONN_PATH:
        while (*v == ' ')
            v++;
        if (v[0] == '/')
            return strdup(v);
        if (asprintf(&out, "%s/%s", root, v) < 0)
            out = NULL;
        return out;
    default: return NULL;
    }
}
