/* blob_path.c: the string side of blob storage: blobTrigger path patterns
 * ("container/{name}.{ext}", "{{"/"}}" escapes, greedy captures so the last
 * '.' splits), Azure container-name rules, splitting and checking resolved
 * input/output paths, content types by extension, file:// URIs, and a small
 * growable string with JSON escaping. Pure functions, any thread. */
#include "blob.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- growable string -------------------------------------------------- */

void blob_buf_add(blob_buf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void blob_buf_puts(blob_buf *b, const char *s)
{
    blob_buf_add(b, s, strlen(s));
}

void blob_buf_printf(blob_buf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        blob_buf_add(b, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        b->oom = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    blob_buf_add(b, big, (size_t)n);
    free(big);
}

void blob_buf_json_str(blob_buf *b, const char *s)
{
    blob_buf_add(b, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\') {
            char e[2] = {'\\', (char)*c};
            blob_buf_add(b, e, 2);
        } else if (*c < 0x20) {
            blob_buf_printf(b, "\\u%04x", *c);
        } else {
            blob_buf_add(b, (const char *)c, 1);
        }
    }
    blob_buf_add(b, "\"", 1);
}

char *blob_buf_take(blob_buf *b)
{
    if (b->oom) {
        free(b->p);
        b->p = NULL;
        return NULL;
    }
    if (!b->p)
        blob_buf_add(b, "", 0);
    char *p = b->p;
    b->p = NULL;
    b->len = b->cap = 0;
    return p;
}

/* ---- container names -------------------------------------------------- */

int blob_container_check(const char *name, char *err, size_t errlen)
{
    size_t n = strlen(name);
    const char *why = NULL;
    if (n < 3 || n > 63)
        why = "it must be 3-63 characters long";
    for (size_t i = 0; !why && i < n; i++) {
        char c = name[i];
        if (c >= 'A' && c <= 'Z')
            why = "it must be lower-case";
        else if (c == '-') {
            if (i == 0 || i == n - 1)
                why = "it must start and end with a letter or digit";
            else if (name[i + 1] == '-')
                why = "it must not contain consecutive '-'";
        } else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
            why = "only lower-case letters, digits and '-' are allowed";
    }
    if (!why)
        return 0;
    snprintf(err, errlen,
             "'%s' is not a valid container name: %s (container names are 3-63 lower-case "
             "letters, digits and single '-' between them)",
             name, why);
    return -EINVAL;
}

/* ---- patterns --------------------------------------------------------- */

void blob_pattern_free(blob_pattern *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nparts; i++)
        free(p->parts[i].text);
    free(p->parts);
    free(p->container);
    memset(p, 0, sizeof *p);
}

static int valid_param_name(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(isalnum(c) || c == '_' || c == '-' || c == '.'))
            return 0;
    }
    return 1;
}

static int add_part(blob_pattern *p, int is_param, const char *text, size_t n)
{
    blob_part *parts = realloc(p->parts, (p->nparts + 1) * sizeof *parts);
    if (!parts)
        return -ENOMEM;
    p->parts = parts;
    char *t = strndup(text, n);
    if (!t)
        return -ENOMEM;
    parts[p->nparts].is_param = is_param;
    parts[p->nparts].text = t;
    p->nparts++;
    if (is_param)
        p->nparams++;
    return 0;
}

/* Parses the blob-name part of a trigger path into literal and parameter
 * parts; "{{" and "}}" are literal braces. */
static int parse_blob_pattern(blob_pattern *p, const char *s, char *err, size_t errlen)
{
    blob_buf lit = {0};
    int rc = 0;
    for (size_t i = 0; s[i] && !rc;) {
        if (s[i] == '{' && s[i + 1] == '{') {
            blob_buf_add(&lit, "{", 1);
            i += 2;
        } else if (s[i] == '}' && s[i + 1] == '}') {
            blob_buf_add(&lit, "}", 1);
            i += 2;
        } else if (s[i] == '}') {
            snprintf(err, errlen, "unmatched '}' at offset %zu of '%s' (write '}}' for a "
                     "literal brace)", i, s);
            rc = -EINVAL;
        } else if (s[i] == '{') {
            const char *end = strchr(s + i + 1, '}');
            if (!end) {
                snprintf(err, errlen, "unmatched '{' in '%s' (write '{{' for a literal brace)",
                         s);
                rc = -EINVAL;
                break;
            }
            size_t n = (size_t)(end - (s + i + 1));
            if (!valid_param_name(s + i + 1, n)) {
                snprintf(err, errlen, "'{%.*s}' in '%s' is not a valid parameter name "
                         "(letters, digits, '_', '-', '.')", (int)n, s + i + 1, s);
                rc = -EINVAL;
                break;
            }
            for (size_t k = 0; k < p->nparts; k++) {
                if (p->parts[k].is_param && strlen(p->parts[k].text) == n &&
                    strncasecmp(p->parts[k].text, s + i + 1, n) == 0) {
                    snprintf(err, errlen, "parameter '{%.*s}' appears twice in '%s'", (int)n,
                             s + i + 1, s);
                    rc = -EINVAL;
                }
            }
            if (!rc && lit.len) {
                rc = add_part(p, 0, lit.p, lit.len);
                lit.len = 0;
            }
            if (!rc)
                rc = add_part(p, 1, s + i + 1, n);
            i += n + 2;
        } else {
            blob_buf_add(&lit, s + i, 1);
            i++;
        }
    }
    if (!rc && lit.oom)
        rc = -ENOMEM;
    if (!rc && p->nparams > 16) {
        snprintf(err, errlen, "'%s' has more than 16 {parameters}", s);
        rc = -EINVAL;
    }
    if (!rc && lit.len)
        rc = add_part(p, 0, lit.p, lit.len);
    free(lit.p);
    return rc;
}

int blob_pattern_parse(const char *path, blob_pattern *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!path || !*path) {
        snprintf(err, errlen, "is required: the container and blob name pattern to watch, "
                 "e.g. \"samples-workitems/{name}\"");
        return -EINVAL;
    }
    const char *slash = strchr(path, '/');
    size_t clen = slash ? (size_t)(slash - path) : strlen(path);
    out->container = strndup(path, clen);
    if (!out->container)
        return -ENOMEM;
    if (strpbrk(out->container, "{}")) {
        snprintf(err, errlen, "the container part of '%s' cannot hold {parameters}; use a "
                 "fixed container name (or a %%setting%%)", path);
        blob_pattern_free(out);
        return -EINVAL;
    }
    int rc = blob_container_check(out->container, err, errlen);
    if (!rc && slash && slash[1])
        rc = parse_blob_pattern(out, slash + 1, err, errlen);
    if (rc)
        blob_pattern_free(out);
    return rc;
}

void blob_captures_free(blob_capture *caps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(caps[i].value);
        caps[i].value = NULL;
    }
}

/* Backtracking matcher over parts[k..] and name[pos..]. Parameters try the
 * longest capture first, so earlier parameters are greedy. Records capture
 * spans in start/len (indexed by parameter ordinal). */
static int match_from(const blob_pattern *p, size_t k, const char *name, size_t pos,
                      size_t namelen, size_t ordinal, size_t *start, size_t *len, int depth)
{
    if (depth > 64)
        return 0;
    if (k == p->nparts)
        return pos == namelen;
    const blob_part *part = &p->parts[k];
    if (!part->is_param) {
        size_t n = strlen(part->text);
        if (namelen - pos < n || memcmp(name + pos, part->text, n) != 0)
            return 0;
        return match_from(p, k + 1, name, pos + n, namelen, ordinal, start, len, depth + 1);
    }
    if (pos >= namelen)
        return 0;
    for (size_t n = namelen - pos; n >= 1; n--) {
        /* quick filter: the next literal must occur right after the capture */
        if (k + 1 < p->nparts && !p->parts[k + 1].is_param) {
            const char *lit = p->parts[k + 1].text;
            size_t ln = strlen(lit);
            if (namelen - pos - n < ln || memcmp(name + pos + n, lit, ln) != 0)
                continue;
        }
        start[ordinal] = pos;
        len[ordinal] = n;
        if (match_from(p, k + 1, name, pos + n, namelen, ordinal + 1, start, len, depth + 1))
            return 1;
    }
    return 0;
}

int blob_pattern_match(const blob_pattern *p, const char *name, blob_capture *caps)
{
    size_t namelen = strlen(name);
    if (p->nparts == 0)
        return namelen > 0;
    size_t start[64], len[64];
    if (p->nparams > 64)
        return 0;
    if (!match_from(p, 0, name, 0, namelen, 0, start, len, 0))
        return 0;
    size_t ord = 0;
    for (size_t k = 0; k < p->nparts; k++) {
        if (!p->parts[k].is_param)
            continue;
        caps[ord].name = p->parts[k].text;
        caps[ord].value = strndup(name + start[ord], len[ord]);
        if (!caps[ord].value) {
            blob_captures_free(caps, ord);
            return -ENOMEM;
        }
        ord++;
    }
    return 1;
}

/* ---- resolved paths --------------------------------------------------- */

int blob_split_path(const char *path, char **container, char **name, char *err, size_t errlen)
{
    *container = *name = NULL;
    if (!path || !*path) {
        snprintf(err, errlen, "the blob path is empty");
        return -EINVAL;
    }
    if (path[0] == '/' || path[0] == '\\') {
        snprintf(err, errlen, "'%s' is an absolute path; blob paths are "
                 "\"container/blob-name\"", path);
        return -EACCES;
    }
    char *copy = strdup(path);
    if (!copy)
        return -ENOMEM;
    for (char *c = copy; *c; c++)
        if (*c == '\\')
            *c = '/';
    int rc = 0;
    char *slash = strchr(copy, '/');
    if (!slash || !slash[1]) {
        snprintf(err, errlen, "'%s' names no blob; blob paths are \"container/blob-name\"",
                 path);
        rc = -EINVAL;
        goto out;
    }
    *slash = '\0';
    const char *blob = slash + 1;
    if (strcmp(copy, "..") == 0 || strcmp(copy, ".") == 0) {
        snprintf(err, errlen, "'%s' tries to leave the storage root", path);
        rc = -EACCES;
        goto out;
    }
    rc = blob_container_check(copy, err, errlen);
    if (rc)
        goto out;
    /* segments: no "", ".", ".." */
    for (const char *seg = blob;;) {
        const char *e = strchr(seg, '/');
        size_t n = e ? (size_t)(e - seg) : strlen(seg);
        if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.')) {
            snprintf(err, errlen, "'%s' has a '%.*s' segment: blob paths may not leave their "
                     "container", path, (int)n, seg);
            rc = -EACCES;
            goto out;
        }
        if (n == 0) {
            snprintf(err, errlen, "'%s' has an empty segment ('//' or a trailing '/')", path);
            rc = -EINVAL;
            goto out;
        }
        if (n > 255) {
            snprintf(err, errlen, "a segment of '%s' is longer than 255 bytes", path);
            rc = -ENAMETOOLONG;
            goto out;
        }
        if (!e)
            break;
        seg = e + 1;
    }
    *container = strdup(copy);
    *name = strdup(blob);
    if (!*container || !*name) {
        free(*container);
        free(*name);
        *container = *name = NULL;
        rc = -ENOMEM;
    }
out:
    free(copy);
    return rc;
}

/* ---- content types and URIs ------------------------------------------ */

const char *blob_content_type(const char *name)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {"txt", "text/plain"},       {"log", "text/plain"},
        {"md", "text/markdown"},     {"csv", "text/csv"},
        {"tsv", "text/tab-separated-values"},
        {"json", "application/json"}, {"xml", "application/xml"},
        {"html", "text/html"},       {"htm", "text/html"},
        {"yaml", "application/yaml"}, {"yml", "application/yaml"},
        {"png", "image/png"},        {"jpg", "image/jpeg"},
        {"jpeg", "image/jpeg"},      {"gif", "image/gif"},
        {"svg", "image/svg+xml"},    {"pdf", "application/pdf"},
    };
    const char *slash = strrchr(name, '/');
    const char *dot = strrchr(slash ? slash : name, '.');
    if (dot && dot[1])
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (strcasecmp(dot + 1, types[i].ext) == 0)
                return types[i].type;
    return "application/octet-stream";
}

char *blob_file_uri(const char *abs_path)
{
    blob_buf b = {0};
    blob_buf_puts(&b, "file://");
    for (const unsigned char *c = (const unsigned char *)abs_path; *c; c++) {
        if (isalnum(*c) || strchr("/-._~", *c))
            blob_buf_add(&b, (const char *)c, 1);
        else
            blob_buf_printf(&b, "%%%02X", *c);
    }
    return blob_buf_take(&b);
}
