/* auth.h: Azure's authorization levels and what the key a request presents
 * is worth: header x-functions-key (it wins) or query parameter code;
 * master key -> admin, a system key -> system, a host function key or one of
 * the function's own keys -> function, otherwise anonymous. Loop thread. */
#ifndef FNH_AUTH_H
#define FNH_AUTH_H

#include "http_types.h"
#include "secrets.h"

typedef enum fnh__auth_level {
    FNH__AUTH_ANONYMOUS = 0,
    FNH__AUTH_USER = 1,
    FNH__AUTH_FUNCTION = 2,
    FNH__AUTH_SYSTEM = 3,
    FNH__AUTH_ADMIN = 4,
} fnh__auth_level;

/* An authLevel value (case-insensitive): the level, or -EINVAL. NULL (not
 * given) is Azure's default, function. */
int fnh__auth_parse_level(const char *s);
/* The level the key presented by req gives for function fn (NULL: host-wide
 * routes such as /admin). Keys are compared in constant time. May parse
 * req's query. A secrets file that cannot be read gives anonymous. */
fnh__auth_level fnh__auth_request_level(fnh__secrets *s, const char *fn, fnh__http_req *req);
/* 1 when a caller at level may call something that requires required:
 * anonymous passes everyone, admin passes everything, otherwise the levels
 * must be equal (a system key does not pass "function"). */
int fnh__auth_passes(fnh__auth_level level, fnh__auth_level required);
/* 1 when the key req presents passes required for function fn: the two
 * calls above in one. */
int fnh__auth_request_passes(fnh__secrets *s, const char *fn, int required, fnh__http_req *req);
/* 1 when a and b are equal, in time that depends only on their lengths. */
int fnh__auth_equal(const char *a, const char *b);

#endif
