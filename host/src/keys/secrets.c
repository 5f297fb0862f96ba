/* secrets.c: the app's keys in memory and their files: host.json (master,
 * functionKeys, systemKeys) and <function-lowercase>.json (keys), read or
 * created on first use, rewritten after every change. The files are the
 * truth at load; changes made by hand while the host runs are seen after a
 * restart. */
#include "secrets.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "secret_file.h"
#include "util.h"

typedef struct keyset {
    fnh__key *k;
    size_t n;
} keyset;

typedef struct fn_secrets {
    char *name; /* lower-case: the file's name */
    keyset keys;
    char instance_id[33];
} fn_secrets;

struct fnh__secrets {
    char *dir;
    char *host_name;
    char *error;
    int host_loaded;
    fnh__key master;
    keyset host, system;
    char instance_id[33];
    fn_secrets *fns;
    size_t nfns;
};

static void keyset_clear(keyset *ks)
{
    for (size_t i = 0; i < ks->n; i++) {
        free(ks->k[i].name);
        free(ks->k[i].value);
    }
    free(ks->k);
    ks->k = NULL;
    ks->n = 0;
}

static int keyset_add(keyset *ks, const char *name, const char *value)
{
    fnh__key *k = realloc(ks->k, (ks->n + 1) * sizeof *k);
    if (!k)
        return -ENOMEM;
    ks->k = k;
    k[ks->n].name = fnh__strdup(name);
    k[ks->n].value = fnh__strdup(value);
    if (!k[ks->n].name || !k[ks->n].value) {
        free(k[ks->n].name);
        free(k[ks->n].value);
        return -ENOMEM;
    }
    ks->n++;
    return 0;
}

static fnh__key *keyset_find(keyset *ks, const char *name)
{
    for (size_t i = 0; i < ks->n; i++)
        if (strcasecmp(ks->k[i].name, name) == 0)
            return &ks->k[i];
    return NULL;
}

fnh__secrets *fnh__secrets_new(const char *root, const char *host_name)
{
    fnh__secrets *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->dir = fnh__asprintf("%s/.fnhost/secrets", root);
    s->host_name = fnh__strdup(host_name ? host_name : "localhost");
    if (!s->dir || !s->host_name) {
        fnh__secrets_free(s);
        return NULL;
    }
    return s;
}

void fnh__secrets_free(fnh__secrets *s)
{
    if (!s)
        return;
    free(s->master.name);
    free(s->master.value);
    keyset_clear(&s->host);
    keyset_clear(&s->system);
    for (size_t i = 0; i < s->nfns; i++) {
        free(s->fns[i].name);
        keyset_clear(&s->fns[i].keys);
    }
    free(s->fns);
    free(s->dir);
    free(s->host_name);
    free(s->error);
    free(s);
}

const char *fnh__secrets_dir(const fnh__secrets *s)
{
    return s->dir;
}

const char *fnh__secrets_error(const fnh__secrets *s)
{
    return s->error;
}

/* Records a load failure; logs it when it is news. Takes msg. */
static void set_error(fnh__secrets *s, char *msg)
{
    if (msg && (!s->error || strcmp(s->error, msg) != 0))
        fnh__log("Host.Secrets", FNH_LOG_ERROR, "%s", msg);
    free(s->error);
    s->error = msg;
}

/* ---- JSON <-> keysets ---------------------------------------------------- */

static cJSON *key_json(const fnh__key *k, const char *name)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", name ? name : k->name);
    cJSON_AddStringToObject(o, "value", k->value);
    cJSON_AddBoolToObject(o, "encrypted", 0);
    return o;
}

static cJSON *keys_json(const keyset *ks)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < ks->n; i++)
        cJSON_AddItemToArray(a, key_json(&ks->k[i], NULL));
    return a;
}

static void add_trailer(cJSON *o, const char *host_name, const char *instance_id)
{
    cJSON_AddStringToObject(o, "hostName", host_name);
    cJSON_AddStringToObject(o, "instanceId", instance_id);
    cJSON_AddStringToObject(o, "source", "runtime");
    cJSON_AddStringToObject(o, "decryptionKeyId", "");
}

/* Reads one {"name","value"} entry; an error sentence (malloc'd) or NULL. */
static char *read_key(const char *path, const char *at, const cJSON *e, const char **name,
                      const char **value)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(e, "name");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, "value");
    if (!cJSON_IsObject(e) || !cJSON_IsString(n) || !cJSON_IsString(v))
        return fnh__asprintf("%s: %s: must be an object with string \"name\" and \"value\"; "
                             "fix it or delete the file to have new keys generated",
                             path, at);
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "encrypted")))
        return fnh__asprintf("%s: %s.encrypted: encrypted keys are not supported here; store "
                             "the value in clear with \"encrypted\": false",
                             path, at);
    *name = n->valuestring;
    *value = v->valuestring;
    return NULL;
}

/* Fills ks from the array at doc.member; an error sentence or NULL. */
static char *read_keys(const char *path, const cJSON *doc, const char *member, keyset *ks)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(doc, member);
    if (!a || cJSON_IsNull(a))
        return NULL;
    if (!cJSON_IsArray(a))
        return fnh__asprintf("%s: %s: must be an array of keys; fix it or delete the file to "
                             "have new keys generated",
                             path, member);
    int i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, a)
    {
        char at[64];
        snprintf(at, sizeof at, "%s[%d]", member, i++);
        const char *name, *value;
        char *err = read_key(path, at, e, &name, &value);
        if (err)
            return err;
        if (keyset_add(ks, name, value))
            return fnh__strdup("out of memory");
    }
    return NULL;
}

static void copy_instance_id(const cJSON *doc, char out[33])
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(doc, "instanceId");
    if (cJSON_IsString(id) && strlen(id->valuestring) < 33)
        strcpy(out, id->valuestring);
    else if (fnh__secret_hex(out))
        out[0] = '\0';
}

/* ---- host.json ------------------------------------------------------------- */

static char *host_path(const fnh__secrets *s)
{
    return fnh__asprintf("%s/host.json", s->dir);
}

static cJSON *host_doc(const fnh__secrets *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "masterKey", key_json(&s->master, "master"));
    cJSON_AddItemToObject(o, "functionKeys", keys_json(&s->host));
    cJSON_AddItemToObject(o, "systemKeys", keys_json(&s->system));
    add_trailer(o, s->host_name, s->instance_id);
    return o;
}

static char *host_from_doc(fnh__secrets *s, const char *path, const cJSON *doc)
{
    const char *name, *value;
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(doc, "masterKey");
    char *err = read_key(path, "masterKey", m, &name, &value);
    if (!err) {
        s->master.name = fnh__strdup(FNH__MASTER_KEY_NAME);
        s->master.value = fnh__strdup(value);
        if (!s->master.name || !s->master.value)
            err = fnh__strdup("out of memory");
    }
    if (!err)
        err = read_keys(path, doc, "functionKeys", &s->host);
    if (!err)
        err = read_keys(path, doc, "systemKeys", &s->system);
    copy_instance_id(doc, s->instance_id);
    return err;
}

static void host_clear(fnh__secrets *s)
{
    free(s->master.name);
    free(s->master.value);
    s->master = (fnh__key){0};
    keyset_clear(&s->host);
    keyset_clear(&s->system);
}

/* New host secrets: a master key and a "default" host key. */
static int host_generate(fnh__secrets *s)
{
    char m[57], d[57];
    int rc = fnh__secret_generate(m);
    if (!rc)
        rc = fnh__secret_generate(d);
    if (!rc && fnh__secret_hex(s->instance_id))
        rc = -EIO;
    if (rc)
        return rc;
    s->master.name = fnh__strdup(FNH__MASTER_KEY_NAME);
    s->master.value = fnh__strdup(m);
    if (!s->master.name || !s->master.value)
        return -ENOMEM;
    return keyset_add(&s->host, "default", d);
}

/* Reads host.json, or creates it; 0 or -errno. */
static int load_host(fnh__secrets *s)
{
    if (s->host_loaded)
        return 0;
    char *path = host_path(s);
    if (!path)
        return -ENOMEM;
    int rc = 0;
    for (int attempt = 0; attempt < 3; attempt++) {
        cJSON *doc = NULL;
        char *err = NULL;
        host_clear(s);
        rc = fnh__secret_read(path, &doc, &err);
        if (rc == 0) {
            err = host_from_doc(s, path, doc);
            rc = err ? -EINVAL : 0;
        }
        cJSON_Delete(doc);
        if (rc != -ENOENT) {
            set_error(s, err);
            break;
        }
        /* absent: create it, unless another process just did */
        rc = fnh__secret_mkdir(s->dir);
        if (!rc)
            rc = host_generate(s);
        cJSON *nd = rc ? NULL : host_doc(s);
        if (!rc)
            rc = nd ? fnh__secret_write(path, nd, 1) : -ENOMEM;
        cJSON_Delete(nd);
        if (rc != -EEXIST)
            break;
    }
    if (rc) {
        host_clear(s);
        if (rc != -EINVAL)
            set_error(s, fnh__asprintf("%s: cannot read or create the secrets file: %s", path,
                                       strerror(-rc)));
    } else {
        s->host_loaded = 1;
        set_error(s, NULL);
    }
    free(path);
    return rc;
}

static int save_host(fnh__secrets *s)
{
    char *path = host_path(s);
    cJSON *doc = host_doc(s);
    int rc = path && doc ? fnh__secret_write(path, doc, 0) : -ENOMEM;
    cJSON_Delete(doc);
    free(path);
    return rc;
}

/* ---- <function>.json ---------------------------------------------------------- */

static char *fn_path(const fnh__secrets *s, const char *lname)
{
    return fnh__asprintf("%s/%s.json", s->dir, lname);
}

static cJSON *fn_doc(const fnh__secrets *s, const fn_secrets *f)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "keys", keys_json(&f->keys));
    add_trailer(o, s->host_name, f->instance_id);
    return o;
}

/* The loaded keys of function fn, reading or creating its file; NULL with
 * *rc set on failure. */
static fn_secrets *load_fn(fnh__secrets *s, const char *fn, int *rc)
{
    if (!fn || !*fn || strchr(fn, '/') || fn[0] == '.') {
        *rc = -EINVAL;
        return NULL;
    }
    for (size_t i = 0; i < s->nfns; i++)
        if (strcasecmp(s->fns[i].name, fn) == 0)
            return &s->fns[i];
    fn_secrets f = {.name = fnh__strdup(fn)};
    if (!f.name) {
        *rc = -ENOMEM;
        return NULL;
    }
    for (char *p = f.name; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    char *path = fn_path(s, f.name);
    *rc = path ? 0 : -ENOMEM;
    for (int attempt = 0; !*rc && attempt < 3; attempt++) {
        cJSON *doc = NULL;
        char *err = NULL;
        keyset_clear(&f.keys);
        *rc = fnh__secret_read(path, &doc, &err);
        if (*rc == 0) {
            err = read_keys(path, doc, "keys", &f.keys);
            copy_instance_id(doc, f.instance_id);
            *rc = err ? -EINVAL : 0;
        }
        cJSON_Delete(doc);
        if (*rc != -ENOENT) {
            set_error(s, err);
            break;
        }
        char d[57];
        *rc = fnh__secret_mkdir(s->dir);
        if (!*rc)
            *rc = fnh__secret_generate(d);
        if (!*rc)
            *rc = fnh__secret_hex(f.instance_id);
        if (!*rc)
            *rc = keyset_add(&f.keys, "default", d);
        cJSON *nd = *rc ? NULL : fn_doc(s, &f);
        if (!*rc)
            *rc = nd ? fnh__secret_write(path, nd, 1) : -ENOMEM;
        cJSON_Delete(nd);
        if (*rc != -EEXIST)
            break;
        *rc = 0; /* another process created it first: read that one */
    }
    fn_secrets *grown = NULL;
    if (!*rc) {
        grown = realloc(s->fns, (s->nfns + 1) * sizeof *grown);
        *rc = grown ? 0 : -ENOMEM;
    }
    if (*rc) {
        if (*rc != -EINVAL && path)
            set_error(s, fnh__asprintf("%s: cannot read or create the secrets file: %s", path,
                                       strerror(-*rc)));
        free(path);
        free(f.name);
        keyset_clear(&f.keys);
        return NULL;
    }
    free(path);
    s->fns = grown;
    s->fns[s->nfns] = f;
    return &s->fns[s->nfns++];
}

static int save_fn(fnh__secrets *s, const fn_secrets *f)
{
    char *path = fn_path(s, f->name);
    cJSON *doc = fn_doc(s, f);
    int rc = path && doc ? fnh__secret_write(path, doc, 0) : -ENOMEM;
    cJSON_Delete(doc);
    free(path);
    return rc;
}

/* ---- the key API -------------------------------------------------------------- */

/* The keyset of scope, loaded; NULL with *rc set. */
static keyset *scope_keys(fnh__secrets *s, fnh__key_scope scope, const char *fn,
                          fn_secrets **f, int *rc)
{
    *f = NULL;
    if (scope == FNH__KEYS_FUNCTION) {
        *f = load_fn(s, fn, rc);
        return *f ? &(*f)->keys : NULL;
    }
    *rc = load_host(s);
    if (*rc)
        return NULL;
    return scope == FNH__KEYS_SYSTEM ? &s->system : &s->host;
}

static int is_master(fnh__key_scope scope, const char *name)
{
    return scope != FNH__KEYS_FUNCTION && strcasecmp(name, FNH__MASTER_KEY_NAME) == 0;
}

int fnh__secrets_master(fnh__secrets *s, const char **value)
{
    int rc = load_host(s);
    *value = rc ? NULL : s->master.value;
    return rc;
}

int fnh__secrets_list(fnh__secrets *s, fnh__key_scope scope, const char *fn,
                      const fnh__key **keys, size_t *n)
{
    fn_secrets *f;
    int rc;
    keyset *ks = scope_keys(s, scope, fn, &f, &rc);
    *keys = ks ? ks->k : NULL;
    *n = ks ? ks->n : 0;
    return ks ? 0 : rc;
}

int fnh__secrets_get(fnh__secrets *s, fnh__key_scope scope, const char *fn, const char *name,
                     const char **value)
{
    fn_secrets *f;
    int rc;
    keyset *ks = scope_keys(s, scope, fn, &f, &rc);
    *value = NULL;
    if (!ks)
        return rc;
    fnh__key *k = is_master(scope, name) ? &s->master : keyset_find(ks, name);
    if (!k)
        return -ENOENT;
    *value = k->value;
    return 0;
}

int fnh__secrets_key_ok(const char *name, const char *value)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > 128)
        return 0;
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' && *p != '.')
            return 0;
    if (!value)
        return 1;
    n = strlen(value);
    if (n == 0 || n > 256)
        return 0;
    for (const char *p = value; *p; p++)
        if (*p <= ' ' || *p > '~')
            return 0;
    return 1;
}

int fnh__secrets_set(fnh__secrets *s, fnh__key_scope scope, const char *fn, const char *name,
                     const char *value, const char **stored, int *created)
{
    *stored = NULL;
    *created = 0;
    if (!fnh__secrets_key_ok(name, value))
        return -EINVAL;
    fn_secrets *f;
    int rc;
    keyset *ks = scope_keys(s, scope, fn, &f, &rc);
    if (!ks)
        return rc;
    char fresh[57];
    if (!value) {
        rc = fnh__secret_generate(fresh);
        if (rc)
            return rc;
        value = fresh;
    }
    fnh__key *k = is_master(scope, name) ? &s->master : keyset_find(ks, name);
    if (k) {
        char *v = fnh__strdup(value);
        if (!v)
            return -ENOMEM;
        free(k->value);
        k->value = v;
    } else {
        rc = keyset_add(ks, name, value);
        if (rc)
            return rc;
        k = &ks->k[ks->n - 1];
        *created = 1;
    }
    *stored = k->value;
    return f ? save_fn(s, f) : save_host(s);
}

int fnh__secrets_delete(fnh__secrets *s, fnh__key_scope scope, const char *fn, const char *name)
{
    if (is_master(scope, name))
        return -EPERM;
    fn_secrets *f;
    int rc;
    keyset *ks = scope_keys(s, scope, fn, &f, &rc);
    if (!ks)
        return rc;
    fnh__key *k = keyset_find(ks, name);
    if (!k)
        return -ENOENT;
    free(k->name);
    free(k->value);
    size_t i = (size_t)(k - ks->k);
    memmove(&ks->k[i], &ks->k[i + 1], (ks->n - i - 1) * sizeof *k);
    ks->n--;
    return f ? save_fn(s, f) : save_host(s);
}
