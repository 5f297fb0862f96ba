/* json.c: JSON helpers: a strict syntax check that names the line, column
 * and mistake of the first error (cJSON only says where it gave up), parsing
 * with cJSON once the text is known good, escaping into buffers, and short
 * renderings of values for config error sentences. */
#include "json.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ncrontab.h"

/* cJSON copies a number into a 64-byte buffer before strtod: longer number
 * tokens are cut, so they are refused here with a clear sentence. */
#define MAX_NUMBER_CHARS 63

typedef struct scan {
    const char *text, *end, *p;
    const char *err_at; /* the offending character (or end) */
    char *err;          /* what is wrong there, malloc'd */
    struct {
        const char *at; /* the opening '{' or '[' */
        char kind;      /* '{' or '[' */
    } stack[FNH__JSON_MAX_DEPTH];
    int depth;
} scan;

static void line_col(const char *text, const char *at, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (const char *p = text; p < at; p++) {
        if (*p == '\n') {
            (*line)++;
            *col = 1;
        } else if (((unsigned char)*p & 0xC0) != 0x80) { /* count characters, not bytes */
            (*col)++;
        }
    }
}

static char *where(const scan *s, const char *at)
{
    int line, col;
    line_col(s->text, at, &line, &col);
    return fnh__asprintf("line %d, column %d", line, col);
}

/* Decodes one UTF-8 sequence at p; 0 when it is not valid UTF-8. */
static uint32_t utf8_at(const char *p, const char *end)
{
    const unsigned char *u = (const unsigned char *)p;
    size_t avail = (size_t)(end - p);
    if (avail >= 2 && u[0] >= 0xC2 && u[0] <= 0xDF && (u[1] & 0xC0) == 0x80)
        return (uint32_t)(u[0] & 0x1F) << 6 | (u[1] & 0x3F);
    if (avail >= 3 && (u[0] & 0xF0) == 0xE0 && (u[1] & 0xC0) == 0x80 && (u[2] & 0xC0) == 0x80)
        return (uint32_t)(u[0] & 0x0F) << 12 | (uint32_t)(u[1] & 0x3F) << 6 | (u[2] & 0x3F);
    if (avail >= 4 && (u[0] & 0xF8) == 0xF0 && (u[1] & 0xC0) == 0x80 && (u[2] & 0xC0) == 0x80 &&
        (u[3] & 0xC0) == 0x80)
        return (uint32_t)(u[0] & 0x07) << 18 | (uint32_t)(u[1] & 0x3F) << 12 |
               (uint32_t)(u[2] & 0x3F) << 6 | (u[3] & 0x3F);
    return 0;
}

static int is_word(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == '+' || c == '-';
}

/* What is at p, for "found ...": 'x', 'word', U+201C, the end of the file. */
static char *found(const scan *s, const char *p)
{
    if (p >= s->end)
        return fnh__strdup("the end of the file");
    unsigned char c = (unsigned char)*p;
    if (c == 0)
        return fnh__strdup("a NUL byte (is the file saved as UTF-16? save it as UTF-8)");
    if (c < 0x20 || c == 0x7F)
        return fnh__asprintf("the control character U+%04X", c);
    if (c >= 0x80) {
        uint32_t cp = utf8_at(p, s->end);
        if (!cp)
            return fnh__asprintf("the byte 0x%02X, which is not UTF-8", c);
        const char *hint = (cp >= 0x2018 && cp <= 0x201F) ? " (a typographic quote; JSON needs "
                                                            "straight quotes \")"
                           : cp == 0xA0                    ? " (a no-break space)"
                                                           : "";
        return fnh__asprintf("the character U+%04X%s", (unsigned)cp, hint);
    }
    if (is_word((char)c)) {
        size_t n = 0;
        while (p + n < s->end && n < 24 && is_word(p[n]))
            n++;
        return fnh__asprintf("'%.*s'%s", (int)n, p, p + n < s->end && is_word(p[n]) ? "..." : "");
    }
    if (c == '/')
        return fnh__strdup("'/' (JSON has no comments; remove the comment)");
    if (c == '\'')
        return fnh__strdup("\"'\" (JSON needs double quotes (\") around strings and names)");
    return fnh__asprintf("'%c'", c);
}

static int fail(scan *s, const char *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(scan *s, const char *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s->err_at = at;
    s->err = fnh__vasprintf(fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* Fails with "<prefix>, found <what is at p><suffix>". */
static int fail_found(scan *s, const char *p, const char *prefix, const char *suffix)
{
    char *f = found(s, p);
    int rc = fail(s, p, "%s, found %s%s", prefix, f ? f : "something else", suffix);
    free(f);
    return rc;
}

static void skip_ws(scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static int hex4(const char *p, const char *end, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        if (p + i >= end)
            return -1;
        char c = p[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return -1;
        v = v << 4 | (unsigned)d;
    }
    *out = v;
    return 0;
}

/* A string at s->p (on its opening quote). */
static int scan_string(scan *s)
{
    const char *open = s->p++;
    while (s->p < s->end) {
        unsigned char c = (unsigned char)*s->p;
        if (c == '"') {
            s->p++;
            return 0;
        }
        if (c == '\n' || c == '\r') {
            char *w = where(s, open);
            int rc = fail(s, s->p, "the string that starts at %s is not closed before the end of "
                                   "the line; close it with '\"' (write a line break inside a "
                                   "string as \\n)",
                          w ? w : "its quote");
            free(w);
            return rc;
        }
        if (c == 0)
            return fail(s, s->p, "a NUL byte inside a string; remove it (is the file saved as "
                                 "UTF-16? save it as UTF-8)");
        if (c < 0x20)
            return fail(s, s->p, "the control character U+%04X inside a string; write it as an "
                                 "escape such as %s",
                        c, c == '\t' ? "\\t" : "\\u0001");
        if (c != '\\') {
            s->p++;
            continue;
        }
        const char *esc = s->p;
        char e = s->p + 1 < s->end ? s->p[1] : '\0';
        if (e && strchr("\"\\/bfnrt", e)) {
            s->p += 2;
            continue;
        }
        if (e != 'u') {
            if (s->p + 1 >= s->end)
                break;
            unsigned char ec = (unsigned char)e;
            return fail(s, esc, "'\\%c' is not a JSON escape; write a backslash itself as \\\\ "
                                "(e.g. \"C:\\\\dir\"), or use \\\", \\/, \\b, \\f, \\n, \\r, \\t "
                                "or \\uXXXX",
                        ec > 0x20 && ec < 0x7F ? ec : '?');
        }
        unsigned u, lo;
        if (hex4(s->p + 2, s->end, &u))
            return fail(s, esc, "\\u must be followed by four hex digits, as in \\u00e9");
        if (u == 0)
            return fail(s, esc, "\\u0000 (a NUL character) inside a string is not supported; "
                                "remove it");
        if (u >= 0xDC00 && u <= 0xDFFF)
            return fail(s, esc, "\\u%04x is the second half of a UTF-16 surrogate pair with no "
                                "first half (\\ud800-\\udbff) before it; write the character "
                                "itself or a complete pair",
                        u);
        s->p += 6;
        if (u >= 0xD800 && u <= 0xDBFF) {
            if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u' ||
                hex4(s->p + 2, s->end, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                return fail(s, esc, "\\u%04x is the first half of a UTF-16 surrogate pair but "
                                    "no second half (\\udc00-\\udfff) follows; write the "
                                    "character itself or a complete pair",
                            u);
            s->p += 6;
        }
    }
    char *w = where(s, open);
    int rc = fail(s, s->end, "the file ends inside the string that starts at %s; close it "
                             "with '\"'",
                  w ? w : "its quote");
    free(w);
    return rc;
}

static int digits(scan *s)
{
    const char *b = s->p;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
        s->p++;
    return s->p > b;
}

/* A number at s->p, RFC 8259: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int scan_number(scan *s)
{
    const char *b = s->p;
    int ok = 1;
    if (*s->p == '-')
        s->p++;
    if (s->p < s->end && *s->p == '0') {
        s->p++;
        ok = !(s->p < s->end && *s->p >= '0' && *s->p <= '9');
    } else {
        ok = digits(s);
    }
    if (ok && s->p < s->end && *s->p == '.') {
        s->p++;
        ok = digits(s);
    }
    if (ok && s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
            s->p++;
        ok = digits(s);
    }
    if (ok && s->p < s->end && is_word(*s->p))
        ok = 0;
    if (!ok) {
        const char *e = b;
        while (e < s->end && e - b < 24 && is_word(*e))
            e++;
        return fail(s, b, "'%.*s' is not a JSON number; write numbers like 12, -3.5 or 1e6 "
                          "(no leading zeros, '+', or trailing '.')",
                    (int)(e - b), b);
    }
    if (s->p - b > MAX_NUMBER_CHARS)
        return fail(s, b, "a number of more than %d characters is not supported; shorten it",
                    MAX_NUMBER_CHARS);
    return 0;
}

/* A value at s->p (after whitespace). Returns 0 for a complete value, 1 when
 * it opened an object or array (pushed), or -EINVAL. after is appended to
 * "expected a value" ("" or " after ':'"). */
static int scan_value(scan *s, const char *after)
{
    if (s->p >= s->end) {
        if (!s->depth)
            return fail(s, s->p, "the file is empty; it must hold a JSON value such as {}");
        char kind = s->stack[s->depth - 1].kind;
        char *w = where(s, s->stack[s->depth - 1].at);
        int rc = fail(s, s->p, "the file ends before the %s opened at %s is closed; add '%c'",
                      kind == '{' ? "object" : "array", w ? w : "its start",
                      kind == '{' ? '}' : ']');
        free(w);
        return rc;
    }
    char c = *s->p;
    if (c == '{' || c == '[') {
        if (s->depth >= FNH__JSON_MAX_DEPTH)
            return fail(s, s->p, "objects and arrays are nested more than %d deep; flatten the "
                                 "structure",
                        FNH__JSON_MAX_DEPTH);
        s->stack[s->depth].at = s->p;
        s->stack[s->depth].kind = c;
        s->depth++;
        s->p++;
        return 1;
    }
    if (c == '"')
        return scan_string(s);
    if (c == '-' || (c >= '0' && c <= '9'))
        return scan_number(s);
    static const char *const words[] = {"true", "false", "null"};
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(words[i]);
        if ((size_t)(s->end - s->p) >= n && memcmp(s->p, words[i], n) == 0 &&
            !(s->p + n < s->end && is_word(s->p[n]))) {
            s->p += n;
            return 0;
        }
    }
    char prefix[64];
    snprintf(prefix, sizeof prefix, "expected a value%s", after);
    return fail_found(s, s->p, prefix,
                      is_word(c) ? "; write a \"quoted string\", a number, true, false or null"
                                 : "");
}

/* Checks the whole text; on error fills s->err_at and s->err. */
static int scan_text(scan *s)
{
    skip_ws(s);
    int rc = scan_value(s, "");
    while (rc >= 0) {
        skip_ws(s);
        if (!s->depth) {
            if (s->p < s->end) {
                char *f = found(s, s->p);
                rc = fail(s, s->p, "%s after the end of the JSON value; remove it (a file holds "
                                   "one value: wrap several in an array)",
                          f ? f : "something");
                free(f);
            }
            return rc < 0 ? rc : 0;
        }
        char kind = s->stack[s->depth - 1].kind, close = kind == '{' ? '}' : ']';
        if (s->p < s->end && *s->p == close) { /* an empty container, or after a value */
            s->depth--;
            s->p++;
            rc = 0;
            continue;
        }
        if (rc == 0 && s->p < s->end) { /* after a complete value: a comma must follow */
            if (*s->p == '}' || *s->p == ']') { /* the other kind of closer */
                char *w = where(s, s->stack[s->depth - 1].at);
                rc = fail(s, s->p, "'%c' cannot close the %s opened at %s; close it with '%c' "
                                   "first",
                          *s->p, kind == '{' ? "object" : "array", w ? w : "before it", close);
                free(w);
                return rc;
            }
            if (*s->p != ',')
                return fail_found(s, s->p,
                                  kind == '{' ? "expected ',' or '}' after a property value"
                                              : "expected ',' or ']' after an array element",
                                  strchr("\"{[-0123456789tfn", *s->p) ? "; is a comma missing?"
                                                                      : "");
            const char *comma = s->p++;
            skip_ws(s);
            if (s->p < s->end && *s->p == close) {
                char *w = where(s, comma);
                rc = fail(s, s->p, "'%c' follows a trailing comma; remove the comma at %s",
                          close, w ? w : "before it");
                free(w);
                return rc;
            }
        }
        if (kind == '[' || s->p >= s->end) {
            rc = scan_value(s, "");
            continue;
        }
        if (*s->p != '"')
            return fail_found(s, s->p, "expected a property name in double quotes", "");
        const char *key = s->p;
        if ((rc = scan_string(s)))
            return rc;
        int n = (int)(s->p - key);
        skip_ws(s);
        if (s->p >= s->end || *s->p != ':') {
            char prefix[96];
            snprintf(prefix, sizeof prefix, "expected ':' after the property name %.*s%s",
                     n > 40 ? 40 : n, key, n > 40 ? "...\"" : "");
            return fail_found(s, s->p, prefix, "");
        }
        s->p++;
        skip_ws(s);
        rc = scan_value(s, " after ':'");
    }
    return rc;
}

/* The strict check fnh__json_parse makes before cJSON reads the text. */
static int json_check(const char *text, size_t len, char **err)
{
    *err = NULL;
    scan *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->text = s->p = text;
    s->end = text + len;
    int rc = scan_text(s);
    if (rc) {
        char *w = where(s, s->err_at);
        *err = fnh__asprintf("%s: %s", w ? w : "?", s->err ? s->err : "invalid JSON");
        free(w);
        free(s->err);
    }
    free(s);
    return rc;
}

int fnh__json_parse(const char *text, size_t len, cJSON **out, char **err)
{
    *out = NULL;
    *err = NULL;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) { /* editors on Windows write one */
        text += 3;
        len -= 3;
    }
    if (len >= 2 && (memcmp(text, "\xFF\xFE", 2) == 0 || memcmp(text, "\xFE\xFF", 2) == 0)) {
        *err = fnh__strdup("line 1, column 1: the file is saved as UTF-16; save it as UTF-8");
        return -EINVAL;
    }
    int rc = json_check(text, len, err);
    if (rc)
        return rc;
    *out = cJSON_ParseWithLength(text, len);
    return *out ? 0 : -ENOMEM; /* the text is valid: only memory can fail */
}

int fnh__json_parse_file(const char *path, cJSON **out, char **err)
{
    char *text;
    size_t len;
    *out = NULL;
    *err = NULL;
    int rc = fnh__read_file(path, &text, &len);
    if (rc)
        return rc;
    rc = fnh__json_parse(text, len, out, err);
    free(text);
    return rc;
}

int fnh__json_whole_number(const cJSON *v, uint64_t min, uint64_t max, uint64_t *out)
{
    uint64_t n = 0;
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble; /* NaN fails every comparison */
        if (!(d >= (double)min && d <= (double)max))
            return -EINVAL;
        n = (uint64_t)d;
        if ((double)n != d)
            return -EINVAL;
    } else if (cJSON_IsString(v) && *v->valuestring) {
        for (const char *p = v->valuestring; *p; p++) {
            if (*p < '0' || *p > '9' || (uint64_t)(*p - '0') > max ||
                n > (max - (uint64_t)(*p - '0')) / 10)
                return -EINVAL;
            n = n * 10 + (uint64_t)(*p - '0');
        }
        if (n < min)
            return -EINVAL;
    } else {
        return -EINVAL;
    }
    *out = n;
    return 0;
}

int fnh__json_escape(fnh__buf *b, const char *s, size_t n)
{
    if (fnh__buf_reserve(b, n + 2))
        return -ENOMEM;
    b->data[b->len++] = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char tmp[8];
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        default:
            if (c < 0x20) {
                snprintf(tmp, sizeof tmp, "\\u%04x", c);
                esc = tmp;
            }
        }
        if (esc) {
            if (fnh__buf_puts(b, esc))
                return -ENOMEM;
        } else if (fnh__buf_append(b, &s[i], 1)) {
            return -ENOMEM;
        }
    }
    return fnh__buf_append(b, "\"", 1);
}

int fnh__json_str_or_null(fnh__buf *b, const char *s)
{
    return s ? fnh__json_escape(b, s, strlen(s)) : fnh__buf_puts(b, "null");
}

char *fnh__json_brief(const cJSON *v)
{
    if (!v)
        return fnh__strdup("nothing");
    char *p;
    if (cJSON_IsString(v)) { /* escaped, so a message stays on one line */
        fnh__buf b = {0};
        if (fnh__json_escape(&b, v->valuestring, strlen(v->valuestring))) {
            fnh__buf_free(&b);
            return NULL;
        }
        p = fnh__buf_take(&b);
    } else if (cJSON_IsNumber(v) && !isfinite(v->valuedouble)) {
        p = fnh__strdup("a number out of range"); /* cJSON would print null */
    } else {
        p = cJSON_PrintUnformatted(v);
    }
    if (p && strlen(p) > 60) {
        size_t cut = 57;
        while (cut && ((unsigned char)p[cut] & 0xC0) == 0x80) /* not inside a character */
            cut--;
        strcpy(p + cut, "...");
    }
    return p;
}

const char *fnh__json_type_name(const cJSON *v)
{
    if (!v)
        return "missing";
    if (cJSON_IsString(v))
        return "a string";
    if (cJSON_IsNumber(v))
        return "a number";
    if (cJSON_IsBool(v))
        return "a boolean";
    if (cJSON_IsNull(v))
        return "null";
    if (cJSON_IsArray(v))
        return "an array";
    return "an object";
}

void fnh__json_typo_warnings(fnh__strlist *to, const char *file, const cJSON *obj,
                             const char *at, const char *const *known)
{
    const cJSON *c;
    cJSON_ArrayForEach(c, obj)
    {
        int found = 0;
        for (const char *const *k = known; *k && !found; k++)
            found = strcasecmp(*k, c->string) == 0;
        const char *hint = found ? NULL : fnh__closest_word(c->string, known);
        if (hint)
            fnh__strlist_addf(to, "%s: %s%.60s: not a known setting, so it is ignored; did you "
                                  "mean '%s'?",
                              file, at, c->string, hint);
    }
}



/* A .NET TimeSpan ("00:05:00") in ms, from min_ms to FNH__MAX_SPAN_MS; with
 * unlimited, "-1" gives -1. 0, -EINVAL (not a TimeSpan, or below min_ms) or
 * -ERANGE (a component or the whole out of range). */
int fnh__json_timespan_ms(const cJSON *v, int unlimited, int64_t min_ms, int64_t *ms)
{
    if (!cJSON_IsString(v))
        return -EINVAL;
    if (unlimited && strcmp(v->valuestring, "-1") == 0) {
        *ms = -1;
        return 0;
    }
    int64_t t;
    int rc = fnh__timespan_parse(v->valuestring, &t);
    if (rc)
        return rc;
    if (t > FNH__MAX_SPAN_MS)
        return -ERANGE;
    if (t < min_ms)
        return -EINVAL;
    *ms = t;
    return 0;
}

/* Reads a TimeSpan setting of host.json: with positive, more than zero or
 * "-1" for no limit (UINT64_MAX); else zero or more. Leaves *ms (the
 * default) alone when v is missing or bad. */
void fnh__json_read_timespan(fnh__strlist *errs, const char *file, const cJSON *v,
                             const char *jpath, int positive, uint64_t *ms)
{
    if (!v)
        return;
    int64_t t;
    int rc = fnh__json_timespan_ms(v, positive, positive, &t);
    if (rc == 0) {
        *ms = t < 0 ? UINT64_MAX : (uint64_t)t;
        return;
    }
    char *brief = fnh__json_brief(v);
    if (rc == -ERANGE)
        fnh__strlist_addf(errs, "%s: %s: %s " FNH__SPAN_RANGE_FIX, file, jpath,
                          brief ? brief : "value");
    else
        fnh__strlist_addf(errs, "%s: %s: %s is not a TimeSpan%s; write \"hh:mm:ss\", e.g. %s",
                          file, jpath, brief ? brief : "value", positive ? " of more than zero" : "",
                          positive ? "\"00:05:00\" (or \"-1\" for no limit)" : "\"00:00:05\"");
    free(brief);
}

/* Reads a whole number of host.json from min to max into *out (left alone
 * when v is missing or bad). */
void fnh__json_read_count(fnh__strlist *errs, const char *file, const cJSON *v,
                          const char *jpath, uint64_t min, uint64_t max, const char *example,
                          uint64_t *out)
{
    if (!v || fnh__json_whole_number(v, min, max, out) == 0)
        return;
    char *brief = fnh__json_brief(v);
    fnh__strlist_addf(errs, "%s: %s: %s is not a whole number from %llu to %llu; write e.g. %s",
                      file, jpath, brief ? brief : "value", (unsigned long long)min,
                      (unsigned long long)max, example);
    free(brief);
}

/* An error for a known key whose value has the wrong JSON type. */
