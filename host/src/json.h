/* json.h: JSON helpers on top of cJSON: parsing a file with an error that
 * names line and column, escaping strings into a buffer, and JSON-path
 * strings for config error messages. Any thread. */
#ifndef FNH_JSON_H
#define FNH_JSON_H

#include <stddef.h>
#include "util.h"

struct cJSON;

/* Parses text (len bytes). On success returns 0 and *out (caller frees with
 * cJSON_Delete). On a syntax error returns -EINVAL and *err = malloc'd
 * "line L, column C: <what>" (caller frees). */
int fnh__json_parse(const char *text, size_t len, struct cJSON **out, char **err);
/* Reads and parses a file; errors as above, -ENOENT for a missing file
 * (then *err is NULL). */
int fnh__json_parse_file(const char *path, struct cJSON **out, char **err);
/* Appends s (n bytes) as a quoted, escaped JSON string. 0 or -ENOMEM. */
int fnh__json_escape(fnh__buf *b, const char *s, size_t n);
/* Appends a JSON string or null when s is NULL. */
int fnh__json_str_or_null(fnh__buf *b, const char *s);
/* A short, printable rendering of a JSON value for messages ("gett", 42,
 * an object...), malloc'd. */
char *fnh__json_brief(const struct cJSON *v);
/* Name of a JSON value's type for messages: "a string", "a number", ... */
const char *fnh__json_type_name(const struct cJSON *v);

#endif
