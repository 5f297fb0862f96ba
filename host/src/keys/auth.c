/* auth.c: authorization levels (Azure's AuthorizationLevel and
 * SecretManager.GetAuthorizationLevelAsync order) and constant-time key
 * comparison. */
#include "auth.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

int fnh__auth_parse_level(const char *s)
{
    static const char *const names[] = {"anonymous", "user", "function", "system", "admin"};
    if (!s)
        return FNH__AUTH_FUNCTION;
    for (int i = 0; i < 5; i++)
        if (strcasecmp(s, names[i]) == 0)
            return i;
    return -EINVAL;
}

int fnh__auth_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned diff = la != lb;
    for (size_t i = 0; i < lb; i++) {
        diff |= (unsigned char)((i < la ? a[i] : 0) ^ b[i]);
        /* the compiler may not know diff: no early exit once it is set */
        __asm__ volatile("" : "+r"(diff));
    }
    return diff == 0;
}

/* 1 when key equals any of the n keys. Every one is compared. */
static int any_equal(const char *key, const fnh__key *keys, size_t n)
{
    int found = 0;
    for (size_t i = 0; i < n; i++)
        found |= fnh__auth_equal(key, keys[i].value);
    return found;
}

/* The key req presents: x-functions-key, else the first "code" parameter.
 * Borrowed from req; NULL when none. */
static const char *presented_key(fnh__http_req *req)
{
    const char *h = fnh__http_req_header(req, "x-functions-key");
    if (h && *h) /* an empty header is none (Azure's IsNullOrEmpty) */
        return h;
    fnh__http_req_parse_query(req);
    for (size_t i = 0; i < req->nq; i++)
        if (strcasecmp(req->qparams[i].key, "code") == 0)
            return req->qparams[i].value;
    return NULL;
}

fnh__auth_level fnh__auth_request_level(fnh__secrets *s, const char *fn, fnh__http_req *req)
{
    const char *key = s ? presented_key(req) : NULL;
    if (!key || !*key)
        return FNH__AUTH_ANONYMOUS;
    const char *master;
    if (fnh__secrets_master(s, &master) == 0 && fnh__auth_equal(key, master))
        return FNH__AUTH_ADMIN;
    const fnh__key *keys;
    size_t n;
    if (fnh__secrets_list(s, FNH__KEYS_SYSTEM, NULL, &keys, &n) == 0 && any_equal(key, keys, n))
        return FNH__AUTH_SYSTEM;
    if (fnh__secrets_list(s, FNH__KEYS_HOST, NULL, &keys, &n) == 0 && any_equal(key, keys, n))
        return FNH__AUTH_FUNCTION;
    if (fn && fnh__secrets_list(s, FNH__KEYS_FUNCTION, fn, &keys, &n) == 0 &&
        any_equal(key, keys, n))
        return FNH__AUTH_FUNCTION;
    return FNH__AUTH_ANONYMOUS;
}

int fnh__auth_request_passes(fnh__secrets *s, const char *fn, int required, fnh__http_req *req)
{
    if (required == FNH__AUTH_ANONYMOUS)
        return 1;
    return fnh__auth_passes(fnh__auth_request_level(s, fn, req), (fnh__auth_level)required);
}

int fnh__auth_passes(fnh__auth_level level, fnh__auth_level required)
{
    return required == FNH__AUTH_ANONYMOUS || level == FNH__AUTH_ADMIN || level == required;
}
