/* json.h: JSON helpers on top of cJSON: a strict syntax check whose error
 * names line, column and the mistake, parsing files and buffers with it,
 * escaping strings into a buffer, and short renderings of values for config
 * error messages. Any thread. */
#ifndef FNH_JSON_H
#define FNH_JSON_H

#include "strlist.h"

#include <stddef.h>
#include <stdint.h>
#include "util.h"

struct cJSON;

/* Objects and arrays nest at most this deep (config files need a handful;
 * the bound keeps cJSON's recursive walks shallow). */
#define FNH__JSON_MAX_DEPTH 100

/* Checks that text (len bytes, any bytes, no NUL terminator needed; a UTF-8
 * byte order mark is skipped) is one strict RFC 8259 JSON value, nested at
 * most FNH__JSON_MAX_DEPTH deep, with no \u0000 in any string, and parses it.
 * On success returns 0 and *out (caller frees with cJSON_Delete); else
 * *out = NULL and -ENOMEM, or -EINVAL with *err = malloc'd one-line
 * "line L, column C: <what is wrong there and the fix>" (caller frees), the
 * position being that of the offending character. */
int fnh__json_parse(const char *text, size_t len, struct cJSON **out, char **err);
/* Reads and parses a file; errors as above, -ENOENT for a missing file
 * (then *err is NULL). */
int fnh__json_parse_file(const char *path, struct cJSON **out, char **err);
/* The largest whole number a JSON number holds exactly: 2^53 - 1. */
#define FNH__JSON_MAX_WHOLE 9007199254740991ull

/* Reads a whole number from min to max (max <= FNH__JSON_MAX_WHOLE) from a
 * JSON number, or from a string of decimal digits (environment overrides of
 * host.json give strings). Fractions, exponents that leave a fraction, signs,
 * NaN and infinities are refused. 0, or -EINVAL (*out untouched). */
int fnh__json_whole_number(const struct cJSON *v, uint64_t min, uint64_t max, uint64_t *out);
/* Appends s (n bytes) as a quoted, escaped JSON string. 0 or -ENOMEM. */
int fnh__json_escape(fnh__buf *b, const char *s, size_t n);
/* Appends a JSON string or null when s is NULL. */
int fnh__json_str_or_null(fnh__buf *b, const char *s);
/* A short, printable rendering of a JSON value for messages ("gett", 42,
 * an object...), malloc'd. */
char *fnh__json_brief(const struct cJSON *v);
/* Name of a JSON value's type for messages: "a string", "a number", ... */
const char *fnh__json_type_name(const struct cJSON *v);

/* Warns (one sentence each, into to) about keys of obj that look like
 * typos of known ones (NULL-terminated): "<file>: <at><key>: not a known
 * setting, so it is ignored; did you mean '<known>'?". Keys that are far
 * from every known one are left alone (Azure ignores unknown keys). */
void fnh__json_typo_warnings(fnh__strlist *to, const char *file, const struct cJSON *obj,
                             const char *at, const char *const *known);

/* The longest TimeSpan accepted for a timeout or limit: 10,000 days. Longer
 * spans would overflow the host's nanosecond deadlines. */
#define FNH__MAX_SPAN_MS 864000000000LL
/* Why a TimeSpan setting is refused, after "<file>: <path>: <value> ". */
#define FNH__SPAN_RANGE_FIX                                                                  \
    "is out of range; hours go up to 23 and minutes and seconds up to 59 (write days as "      \
    "d.hh:mm:ss), and the longest span accepted is 10000.00:00:00"

/* A .NET TimeSpan string ("00:05:00") in ms, from min_ms to
 * FNH__MAX_SPAN_MS; with unlimited, "-1" gives -1. 0, -EINVAL (not a
 * TimeSpan, or below min_ms) or -ERANGE (a component or the whole out of
 * range). */
int fnh__json_timespan_ms(const struct cJSON *v, int unlimited, int64_t min_ms, int64_t *ms);
/* Config value readers: v (NULL: absent, *out untouched) into *out, or one
 * sentence "<file>: <jpath>: ..." with the fix into errs. A count is a whole
 * number from min to max (example shows a good one); a TimeSpan with
 * positive must be more than zero ("-1": no limit, UINT64_MAX). */
void fnh__json_read_count(fnh__strlist *errs, const char *file, const struct cJSON *v,
                          const char *jpath, uint64_t min, uint64_t max, const char *example,
                          uint64_t *out);
void fnh__json_read_timespan(fnh__strlist *errs, const char *file, const struct cJSON *v,
                             const char *jpath, int positive, uint64_t *ms);

#endif
