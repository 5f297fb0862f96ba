/* secrets.h: the keys of one app, as Azure keeps file secrets: the master
 * key, host function keys and system keys in <app>/.fnhost/secrets/host.json
 * and each function's keys in <function-lowercase>.json. Each file is read,
 * or created with a new "default" key (and master key), on first use; every
 * change is written back at once. Loop thread (or one thread at a time). */
#ifndef FNH_SECRETS_H
#define FNH_SECRETS_H

#include <stddef.h>

typedef struct fnh__secrets fnh__secrets;

typedef struct fnh__key {
    char *name;
    char *value;
} fnh__key;

typedef enum fnh__key_scope {
    FNH__KEYS_HOST,     /* host function keys ("functionKeys"): every function */
    FNH__KEYS_SYSTEM,   /* system keys ("systemKeys"): extension webhooks */
    FNH__KEYS_FUNCTION, /* one function's keys */
} fnh__key_scope;

/* The master key's name in the key API. */
#define FNH__MASTER_KEY_NAME "_master"

/* Secrets of the app at root (copied); nothing is read yet. host_name
 * (copied, may be NULL) is written as the files' "hostName". NULL when out
 * of memory. */
fnh__secrets *fnh__secrets_new(const char *root, const char *host_name);
void fnh__secrets_free(fnh__secrets *s);
/* The folder holding the files (borrowed; s's). */
const char *fnh__secrets_dir(const fnh__secrets *s);
/* The sentence saying why the last load failed (a broken file), or NULL.
 * Borrowed until the next call on s. */
const char *fnh__secrets_error(const fnh__secrets *s);

/* The master key's value (borrowed until the next change). 0 or -errno. */
int fnh__secrets_master(fnh__secrets *s, const char **value);
/* The keys of scope (fn: the function's name for FNH__KEYS_FUNCTION, else
 * ignored); *keys borrowed until the next change. 0 or -errno (-EINVAL:
 * a broken file, see fnh__secrets_error). */
int fnh__secrets_list(fnh__secrets *s, fnh__key_scope scope, const char *fn,
                      const fnh__key **keys, size_t *n);
/* One key's value by name (case-insensitive); "_master" in a host scope is
 * the master key. -ENOENT when there is none. */
int fnh__secrets_get(fnh__secrets *s, fnh__key_scope scope, const char *fn, const char *name,
                     const char **value);
/* Sets key name to value (copied; NULL: a new random value) and writes the
 * file. *created tells whether the key is new; *stored (borrowed until the
 * next change) is its value. -EINVAL for a name or value that is not
 * acceptable (fnh__secrets_key_ok). */
int fnh__secrets_set(fnh__secrets *s, fnh__key_scope scope, const char *fn, const char *name,
                     const char *value, const char **stored, int *created);
/* Deletes key name and writes the file. -ENOENT when absent, -EPERM for
 * the master key (it cannot be deleted). */
int fnh__secrets_delete(fnh__secrets *s, fnh__key_scope scope, const char *fn, const char *name);
/* 1 when name (1-128 of A-Z a-z 0-9 _ - .) and, when not NULL, value (1-256
 * printable ASCII characters, no spaces) may be stored. */
int fnh__secrets_key_ok(const char *name, const char *value);

#endif
