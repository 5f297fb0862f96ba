/* fnhost/common.h: what every fnhost ABI shares: version numbers, export macro,
 * values (bytes + length + content type), key/value pairs, log levels and the
 * error convention. Self-contained; includes only the C standard library.
 *
 * Errors: every int-returning ABI call returns 0 on success or a negative errno
 * value (-EINVAL, -ENOENT, ...). fnh_strerror() turns one into text.
 * Ownership: pointers crossing the ABI are borrowed for the call (or until the
 * end a call's comment states); whoever wants to keep data copies it. Nothing
 * is ever freed on the other side of the boundary. */
#ifndef FNHOST_COMMON_H
#define FNHOST_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* ABI versions. Major changes on any breaking change: the host refuses a
 * module built for another major. Minor grows when members are appended to a
 * struct or table: the host accepts modules whose minor is <= its own.
 * Rule for maintainers: add new members at the end only, never reorder. */
#define FNH_ABI_MAJOR 1
#define FNH_ABI_MINOR 2

#define FNH_EXPORT __attribute__((visibility("default")))

/* A value: bytes, their length and a MIME content type (may be NULL when
 * unknown). JSON crosses as text with content type "application/json". */
typedef struct fnh_value {
    const void *data;
    size_t len;
    const char *content_type;
} fnh_value;

/* One key/value pair of NUL-terminated strings. */
typedef struct fnh_kv {
    const char *key;
    const char *value;
} fnh_kv;

typedef enum fnh_log_level {
    FNH_LOG_TRACE = 0,
    FNH_LOG_DEBUG = 1,
    FNH_LOG_INFO = 2,
    FNH_LOG_WARN = 3,
    FNH_LOG_ERROR = 4,
    FNH_LOG_CRITICAL = 5
} fnh_log_level;

#endif
