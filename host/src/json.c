/* json.c: JSON helpers: parse with line/column errors, escape into buffers,
 * and short renderings of values for config error sentences. */
#include "json.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int fnh__json_parse(const char *text, size_t len, cJSON **out, char **err)
{
    const char *end = NULL;
    *err = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (j) {
        /* cJSON ignores trailing garbage unless asked; reject it ourselves */
        const char *p = end;
        while (p < text + len && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
            p++;
        if (p >= text + len || *p == '\0') {
            *out = j;
            return 0;
        }
        cJSON_Delete(j);
        end = p;
    }
    if (!end || end < text || end > text + len)
        end = text + len;
    int line = 1, col = 1;
    for (const char *p = text; p < end; p++) {
        if (*p == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    if (end >= text + len)
        *err = fnh__asprintf("line %d, column %d: unexpected end of file; check for a "
                             "missing closing brace, bracket or quote",
                             line, col);
    else
        *err = fnh__asprintf("line %d, column %d: unexpected '%c'; check for a missing comma, "
                             "quote or a trailing comma before it",
                             line, col, *end);
    return -EINVAL;
}

int fnh__json_parse_file(const char *path, cJSON **out, char **err)
{
    char *text;
    size_t len;
    *err = NULL;
    int rc = fnh__read_file(path, &text, &len);
    if (rc)
        return rc;
    /* tolerate a UTF-8 byte order mark, as editors on Windows write one */
    size_t skip = (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) ? 3 : 0;
    rc = fnh__json_parse(text + skip, len - skip, out, err);
    free(text);
    return rc;
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
    if (cJSON_IsString(v))
        return fnh__asprintf("\"%s\"", v->valuestring);
    char *p = cJSON_PrintUnformatted(v);
    if (p && strlen(p) > 60)
        strcpy(p + 57, "...");
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
