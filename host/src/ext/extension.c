/* extension.c: binding extensions, host side. Reads the manifests that map
 * extension name -> .so -> binding types, loads only the extensions an app
 * uses (dlopen RTLD_NOW | RTLD_LOCAL, descriptor checked before any of the
 * extension's code runs), drives init -> bind -> start -> stop -> unbind ->
 * fini, implements the fnh_api table, the bounded fnh_fire queue (any
 * thread; drained whole by the loop) and extension input/output calls.
 * Each .so loads from its private shadow copy (core/shadow.c): a reload
 * after the file was rebuilt loads the new build beside the old one, which
 * the snapshots still bound to it keep until they are freed. */
#include "extension.h"

#include <cjson/cJSON.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fnhost/extension.h"

#include "crash.h"
#include "dispatch.h"
#include "elf_probe.h"
#include "json.h"
#include "log.h"
#include "settings.h"
#include "shadow.h"
#include "util.h"
#include "unsupported.h"

#define FIRE_QUEUE_MAX 4096

/* One manifest entry. */
typedef struct manifest_ext {
    char *name;
    char *file;     /* as written */
    char *path;     /* resolved .so path, or NULL when not found */
    char *manifest; /* the manifest file, for messages */
    fnh__strlist types;
    fnh__strlist commands;
    struct manifest_ext *next;
} manifest_ext;

/* Every handle starts with the api pointer, then its kind. */
enum { K_EXT = 1, K_BINDING, K_CONFIG, K_CALL };

/* A loaded extension. */
typedef struct loaded_ext {
    const fnh_api *api; /* first: this is the fnh_ext handle */
    int kind;
    manifest_ext *m;
    void *dl;
    char *shadow; /* the private copy dl was loaded from (fnh__shadow_acquire), or NULL */
    int superseded; /* a newer build of its file is loaded: no new snapshot binds it */
    fnh_extension_def def; /* copied, zero-filled past the plugin's size */
    void *global;
    int inited;
    int builtin; /* compiled into the host: no manifest, no file */
    int owns_m;  /* m is this record's copy (the registry is re-read on reload) */
    size_t nbound; /* bindings of any snapshot bound to it: 0 = idle, unloadable */
    struct loaded_ext *next;
} loaded_ext;

struct fnh_ext {
    const fnh_api *api;
};

struct fnh_config {
    const fnh_api *api;
    int kind;
    struct loaded_ext *ext;
    struct fnh_binding *hb;
    cJSON *json;     /* borrowed */
    char *text;      /* cached fnh_config_json */
    const char *where; /* "orders/function.json: bindings[1] (queueTrigger)" or host.json path */
    int dotted;        /* keys join `where` with '.' (a host.json path), else ": " */
    fnh__strlist *errors;
};

struct fnh_binding {
    const fnh_api *api;
    int kind;
    loaded_ext *ext;
    fnh__app *app;      /* the snapshot it binds (borrowed: the app owns the binding) */
    fnh__function *fn;
    fnh__binding *b;
    const fnh_trigger_type *trig; /* copied struct below when a trigger */
    const fnh_binding_type *bt;
    fnh_trigger_type trig_copy;
    fnh_binding_type bt_copy;
    void *state;
    int bound;
    int started;
    int stopped;
    int stopping; /* fnh__ext_stop began (under g.lock: fires read it) */
    struct fnh_binding *next;
};

struct fnh_call {
    const fnh_api *api;
    int kind;
    fnh__invocation *inv;
    struct fnh_binding *hb;
    struct fnh_config cfg;
    char *where;    /* cfg's location, "<file>: bindings[i] (<type>)" */
    fnh__input *in; /* the input slot for read() */
};

typedef struct fire_ev {
    struct fnh_binding *hb;
    fnh__buf payload;
    char *ctype;
    fnh_kv *meta;
    size_t nmeta;
    char *metastore;
    void *token;
    fnh__inv_watch *watch; /* a synchronous admin invoke waits for this run */
    struct fire_ev *next;
} fire_ev;

static const fnh_api g_api;

/* The bindings of the app being loaded, in order (its "bindings" part). */
static struct fnh_binding *bindings_head, **bindings_tail = &bindings_head;


/* Frees e; a watch still on it hears that its run was dropped. */
static void fire_ev_free(fire_ev *e)
{
    if (e->watch)
        e->watch->done(e->watch, NULL);
    fnh__buf_free(&e->payload);
    free(e->ctype);
    free(e->meta);
    free(e->metastore);
    free(e);
}

#define MAX_BUILTINS 8

static struct {
    const fnh_extension_def *builtins[MAX_BUILTINS]; /* HTTP, Timer: listed first */
    size_t nbuiltins;
    manifest_ext *manifests;
    fnh__strlist dup_types; /* types claimed twice */
    fnh__strlist dup_msgs;  /* the matching sentences */
    loaded_ext *loaded;
    uv_loop_t *loop;
    char *root;
    fnh__app *loading;  /* the app fnh__ext_load_for_app binds now */
    int unload_idle;    /* an extension whose last binding goes is unloaded (reloads) */
    /* fire queue */
    pthread_mutex_t lock;
    fire_ev *qhead, *qtail;
    size_t qlen;
    int accepting;
    uv_async_t async;
    int async_open;
    char types_buf[2048];
} g = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* ---- the manifest registry ------------------------------------------- */

static char *exe_dir(void)
{
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0)
        return fnh__strdup(".");
    buf[n] = '\0';
    char *slash = strrchr(buf, '/');
    if (slash)
        *slash = '\0';
    return fnh__strdup(buf);
}

static int file_exists(const char *p)
{
    struct stat st;
    return p && stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static char *resolve_so(const char *manifest_dir, const char *file)
{
    if (file[0] == '/')
        return file_exists(file) ? fnh__strdup(file) : NULL;
    char *exe = exe_dir();
    const char *fmts[] = {"%s/%s", "%s/extensions/%s", "%s/../lib/fnhost/extensions/%s"};
    const char *bases[] = {manifest_dir, exe, exe};
    char *found = NULL;
    for (int i = 0; i < 3 && !found; i++) {
        char *p = fnh__asprintf(fmts[i], bases[i], file);
        if (file_exists(p))
            found = p;
        else
            free(p);
    }
    free(exe);
    return found;
}

static manifest_ext *provider_of(const char *type);

static manifest_ext *find_manifest(const char *name)
{
    for (manifest_ext *m = g.manifests; m; m = m->next)
        if (strcasecmp(m->name, name) == 0)
            return m;
    return NULL;
}

static void read_manifest(const char *path, fnh__strlist *errors)
{
    cJSON *doc = NULL;
    char *err = NULL;
    int rc = fnh__json_parse_file(path, &doc, &err);
    if (rc == -ENOENT)
        return;
    if (rc) {
        fnh__strlist_addf(errors, "%s: %s", path, err ? err : strerror(-rc));
        free(err);
        return;
    }
    char *dir = fnh__strdup(path);
    char *slash = dir ? strrchr(dir, '/') : NULL;
    if (slash)
        *slash = '\0';
    const cJSON *list = cJSON_GetObjectItem(doc, "extensions");
    if (!cJSON_IsArray(list)) {
        fnh__strlist_addf(errors, "%s: extensions: must be an array like [{\"name\": \"queue\", "
                                  "\"file\": \"fnh_queue.so\", \"types\": [\"queueTrigger\"]}]",
                          path);
    }
    int i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, list)
    {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(e, "name"));
        const char *file = cJSON_GetStringValue(cJSON_GetObjectItem(e, "file"));
        const cJSON *types = cJSON_GetObjectItem(e, "types");
        if (!name || !*name || !file || !*file || !cJSON_IsArray(types)) {
            fnh__strlist_addf(errors, "%s: extensions[%d]: needs \"name\", \"file\" and a "
                                      "\"types\" array",
                              path, i);
            i++;
            continue;
        }
        i++;
        if (find_manifest(name))
            continue; /* an earlier folder in the search order wins */
        manifest_ext *m = calloc(1, sizeof *m);
        if (!m)
            break;
        m->name = fnh__strdup(name);
        m->file = fnh__strdup(file);
        m->manifest = fnh__strdup(path);
        m->path = resolve_so(dir ? dir : ".", file);
        const cJSON *t;
        cJSON_ArrayForEach(t, types) if (cJSON_IsString(t)) fnh__strlist_addf(&m->types, "%s",
                                                                               t->valuestring);
        cJSON_ArrayForEach(t, cJSON_GetObjectItem(e, "commands")) if (cJSON_IsString(t))
            fnh__strlist_addf(&m->commands, "%s", t->valuestring);
        for (size_t k = 0; k < m->types.len; k++) {
            manifest_ext *o = provider_of(m->types.items[k]);
            if (o) {
                fnh__strlist_addf(&g.dup_types, "%s", m->types.items[k]);
                fnh__strlist_addf(&g.dup_msgs,
                                  "%s: extension \"%s\" (%s) provides '%s', already provided by "
                                  "extension \"%s\" (%s in %s); remove one of them",
                                  path, m->name, m->file, m->types.items[k], o->name, o->file,
                                  o->manifest);
            }
        }
        manifest_ext **tail = &g.manifests;
        while (*tail)
            tail = &(*tail)->next;
        *tail = m;
    }
    free(dir);
    cJSON_Delete(doc);
}

int fnh__ext_registry_load(const char *root, fnh__strlist *errors)
{
    fnh__ext_registry_free();
    char real[PATH_MAX];
    g.root = fnh__strdup(realpath(root ? root : ".", real) ? real : (root ? root : "."));
    const char *env = getenv("FNHOST_EXTENSIONS_PATH");
    if (env && *env) {
        char *copy = fnh__strdup(env), *save = NULL;
        for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
            char *p = fnh__asprintf("%s/extensions.json", d);
            read_manifest(p, errors);
            free(p);
        }
        free(copy);
    }
    char *p = fnh__asprintf("%s/extensions/extensions.json", g.root);
    read_manifest(p, errors);
    free(p);
    char *exe = exe_dir();
    const char *rel[] = {"%s/../config/extensions.json", "%s/../share/fnhost/config/extensions.json"};
    for (int i = 0; i < 2; i++) {
        p = fnh__asprintf(rel[i], exe);
        char real[PATH_MAX];
        if (p && realpath(p, real))
            read_manifest(real, errors);
        free(p);
    }
    free(exe);
    return 0;
}

static void manifest_free(manifest_ext *m)
{
    if (!m)
        return;
    free(m->name);
    free(m->file);
    free(m->path);
    free(m->manifest);
    fnh__strlist_free(&m->types);
    fnh__strlist_free(&m->commands);
    free(m);
}

/* A loaded extension's own copy of its manifest entry (name, file, path,
 * manifest): the registry is read again by every reload. NULL when out of
 * memory. */
static manifest_ext *manifest_copy(const manifest_ext *m)
{
    manifest_ext *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->name = fnh__strdup(m->name);
    c->file = fnh__strdup(m->file);
    c->path = m->path ? fnh__strdup(m->path) : NULL;
    c->manifest = fnh__strdup(m->manifest);
    if (!c->name || !c->file || !c->manifest || (m->path && !c->path)) {
        manifest_free(c);
        return NULL;
    }
    return c;
}

void fnh__ext_registry_free(void)
{
    while (g.manifests) {
        manifest_ext *m = g.manifests;
        g.manifests = m->next;
        manifest_free(m);
    }
    fnh__strlist_free(&g.dup_types);
    fnh__strlist_free(&g.dup_msgs);
    free(g.root);
    g.root = NULL;
}

static manifest_ext *provider_of(const char *type)
{
    for (manifest_ext *m = g.manifests; m; m = m->next)
        for (size_t i = 0; i < m->types.len; i++)
            if (strcasecmp(m->types.items[i], type) == 0)
                return m;
    return NULL;
}

int fnh__ext_register_builtin(const fnh_extension_def *def)
{
    if (g.nbuiltins == MAX_BUILTINS)
        return -ENOSPC;
    g.builtins[g.nbuiltins++] = def;
    return 0;
}

static int def_provides(const fnh_extension_def *d, const char *type)
{
    for (const fnh_trigger_type *const *t = d->triggers; t && *t; t++)
        if ((*t)->type && strcasecmp((*t)->type, type) == 0)
            return 1;
    for (const fnh_binding_type *const *t = d->bindings; t && *t; t++)
        if ((*t)->type && strcasecmp((*t)->type, type) == 0)
            return 1;
    return 0;
}

static const fnh_extension_def *builtin_of(const char *type)
{
    for (size_t i = 0; i < g.nbuiltins; i++)
        if (def_provides(g.builtins[i], type))
            return g.builtins[i];
    return NULL;
}

/* "httpTrigger, http, timerTrigger, queueTrigger, ...": built-in types
 * first (static buffer). */
static const char *installed_types(void)
{
    fnh__buf b = {0};
    for (size_t i = 0; i < g.nbuiltins; i++) {
        for (const fnh_trigger_type *const *t = g.builtins[i]->triggers; t && *t; t++)
            fnh__buf_printf(&b, "%s%s", b.len ? ", " : "", (*t)->type);
        for (const fnh_binding_type *const *t = g.builtins[i]->bindings; t && *t; t++)
            fnh__buf_printf(&b, "%s%s", b.len ? ", " : "", (*t)->type);
    }
    for (manifest_ext *m = g.manifests; m; m = m->next)
        for (size_t i = 0; i < m->types.len; i++)
            fnh__buf_printf(&b, "%s%s", b.len ? ", " : "", m->types.items[i]);
    snprintf(g.types_buf, sizeof g.types_buf, "%s", b.data ? b.data : "none");
    fnh__buf_free(&b);
    return g.types_buf;
}

/* ---- loading -------------------------------------------------------------- */

/* The smallest descriptor this host accepts: ABI 1.0 without commands. */
#define DESC_MIN offsetof(fnh_extension_def, commands)
#define DESC_FIX "define the descriptor as FNH_EXPORT const fnh_extension_def fnh_extension = " \
                 "{FNH_EXTENSION_HEAD, ...} (#include <fnhost/extension.h>)"

/* The refusal for a descriptor header this host cannot use, or NULL. */
static char *head_refusal(const char *who, const fnh__abi_head *h)
{
    if (h->abi_major != FNH_ABI_MAJOR || h->abi_minor > FNH_ABI_MINOR)
        return fnh__asprintf("%s was built for fnhost ABI %u.%u, this host provides %d.%d; "
                             "rebuild it against this host's include/fnhost headers",
                             who, h->abi_major, h->abi_minor, FNH_ABI_MAJOR, FNH_ABI_MINOR);
    if (h->size < DESC_MIN)
        return fnh__asprintf("%s: its fnh_extension says its size is %u bytes, smaller than "
                             "the ABI %d.0 descriptor (%zu bytes); %s",
                             who, h->size, FNH_ABI_MAJOR, (size_t)DESC_MIN, DESC_FIX);
    return NULL;
}

static int ends_in_trigger(const char *type)
{
    size_t n = strlen(type);
    return n >= 7 && strcasecmp(type + n - 7, "Trigger") == 0;
}

/* The refusal for a loaded descriptor's type tables, or NULL. */
static char *types_refusal(const char *who, const fnh_extension_def *d)
{
    /* every struct the extension hands in must cover the 1.0 layout (1.1 for
     * triggers: 1.1 appended invoke, 1.2 flags, read only when the size
     * covers them) */
    const char *small = NULL;
    for (const fnh_trigger_type *const *t = d->triggers; t && *t && !small; t++)
        if ((*t)->size < offsetof(fnh_trigger_type, flags) || !(*t)->type)
            small = "fnh_trigger_type";
    for (const fnh_binding_type *const *t = d->bindings; t && *t && !small; t++)
        if ((*t)->size < sizeof(fnh_binding_type) || !(*t)->type)
            small = "fnh_binding_type";
    for (const fnh_command *const *c = d->commands; c && *c && !small; c++)
        if ((*c)->size < sizeof(fnh_command) || !(*c)->name)
            small = "fnh_command";
    if (small)
        return fnh__asprintf("%s: one of its %s structs has a size smaller than this host's "
                             "ABI 1.0 layout or no name; set .size = sizeof(%s) and the name",
                             who, small, small);
    /* function.json tells triggers from other bindings by the name alone */
    for (const fnh_trigger_type *const *t = d->triggers; t && *t; t++)
        if (!ends_in_trigger((*t)->type))
            return fnh__asprintf("%s: its trigger type '%s' does not end in \"Trigger\", so "
                                 "function.json would take it for an input or output binding; "
                                 "name it '%sTrigger'",
                                 who, (*t)->type, (*t)->type);
    for (const fnh_binding_type *const *t = d->bindings; t && *t; t++)
        if (ends_in_trigger((*t)->type))
            return fnh__asprintf("%s: its binding type '%s' ends in \"Trigger\", so "
                                 "function.json would take it for a trigger; rename it without "
                                 "the suffix",
                                 who, (*t)->type);
    return NULL;
}

/* The refusal of an extension's descriptor from rc, what the ELF check of
 * the file (before dlopen) or of the loaded symbol (after) returned, with
 * its phrase why and, for 0, the head it read; NULL when it passed or the
 * file could not be probed (then dlopen decides). */
static char *descriptor_refusal(const char *who, int rc, const char *why,
                                const fnh__abi_head *head)
{
    if (rc == -ENOEXEC)
        return fnh__asprintf("%s: cannot load: %s; rebuild it", who, why);
    if (rc == -ENOENT)
        return fnh__asprintf("%s is not an fnhost extension: it exports no fnh_extension; "
                             "define one with FNH_EXTENSION_HEAD (#include <fnhost/extension.h>)",
                             who);
    if (rc == -EINVAL)
        return fnh__asprintf("%s: fnh_extension %s; " DESC_FIX, who, why);
    return rc == 0 ? head_refusal(who, head) : NULL;
}

/* Loads and validates one extension .so; on failure returns NULL with *err
 * (malloc'd sentence). The descriptor is read from the file and checked
 * before dlopen runs the extension's constructors, and checked again once
 * loaded; none of the extension's functions is called here. */
static loaded_ext *load_so(manifest_ext *m, const char *path, char **err)
{
    /* "config/extensions.json: extension \"queue\" (fnh_queue.so)" or just the path */
    char *who = m ? fnh__asprintf("%s: extension \"%s\" (%s)", m->manifest, m->name, path)
                  : fnh__strdup(path);
    void *dl = NULL;
    loaded_ext *x = NULL;
    char why[256];
    fnh__abi_head head;
    char *copy = fnh__shadow_acquire(path); /* probed and loaded: the same bytes */
    const char *load = copy ? copy : path;
    int rc = fnh__elf_descriptor_file(load, "fnh_extension", DESC_MIN,
                                      _Alignof(fnh_extension_def), &head, why, sizeof why);
    if ((*err = descriptor_refusal(who, rc, why, &head)))
        goto fail;
    {
        fnh__crash_scope cs = {.what = "loading extension", .name = m ? m->name : NULL,
                               .detail = path};
        fnh__crash_enter(&cs);
        dlerror();
        dl = dlopen(load, RTLD_NOW | RTLD_LOCAL);
        fnh__crash_leave(&cs);
    }
    if (!dl) {
        const char *e = dlerror();
        *err = fnh__asprintf("%s: cannot load: %s", who, e ? e : "unknown error");
        goto fail;
    }
    const fnh_extension_def *d = dlsym(dl, "fnh_extension");
    size_t dsize = SIZE_MAX;
    rc = d ? fnh__elf_loaded_check(d, DESC_MIN, _Alignof(fnh_extension_def), &dsize, why,
                                   sizeof why)
           : -ENOENT;
    if (!rc)
        memcpy(&head, d, sizeof head); /* again: relocations may have changed it */
    if ((*err = descriptor_refusal(who, rc, why, &head)))
        goto fail;
    x = calloc(1, sizeof *x);
    if (!x)
        goto fail;
    x->api = &g_api;
    x->kind = K_EXT;
    x->m = m;
    x->dl = dl;
    x->shadow = copy;
    size_t n = head.size < dsize ? head.size : dsize;
    memcpy(&x->def, d, n < sizeof x->def ? n : sizeof x->def);
    if (!x->def.name || !*x->def.name)
        *err = fnh__asprintf("%s: its fnh_extension has no name; set the name member", who);
    else
        *err = types_refusal(who, &x->def);
    if (*err)
        goto fail;
    free(who);
    return x;
fail:
    if (!*err)
        *err = fnh__strdup("out of memory");
    free(who);
    free(x);
    if (dl)
        dlclose(dl);
    fnh__shadow_release(copy);
    free(copy);
    return NULL;
}

/* dlcloses x's file and gives back its shadow copy (no fini). */
static void close_file(loaded_ext *x)
{
    if (x->dl)
        dlclose(x->dl);
    x->dl = NULL;
    fnh__shadow_release(x->shadow);
    free(x->shadow);
    x->shadow = NULL;
}

static const fnh_trigger_type *find_trigger(const loaded_ext *x, const char *type)
{
    for (const fnh_trigger_type *const *t = x->def.triggers; t && *t; t++)
        if ((*t)->type && strcasecmp((*t)->type, type) == 0)
            return *t;
    return NULL;
}

static const fnh_binding_type *find_binding(const loaded_ext *x, const char *type)
{
    for (const fnh_binding_type *const *t = x->def.bindings; t && *t; t++)
        if ((*t)->type && strcasecmp((*t)->type, type) == 0)
            return *t;
    return NULL;
}

/* 1 when a callback's result follows the ABI: 0 or a negative errno. */
static int rc_ok(int rc)
{
    return rc <= 0 && rc > -4096;
}

static const char *ext_name(const loaded_ext *x)
{
    return x->m ? x->m->name : x->def.name;
}

/* The crash scope of one call into extension x: "while running <step> of
 * extension '<name>' (<detail>)". */
#define EXT_SCOPE(step, x, d)                                                              \
    {.what = "running " step " of extension", .name = ext_name(x), .detail = (d)}

static void unload(loaded_ext *x)
{
    fnh__log_flush(); /* fini may print on its own */
    if (x->inited && x->def.fini) {
        fnh__crash_scope cs = EXT_SCOPE("fini", x, x->m ? x->m->path : NULL);
        fnh__crash_enter(&cs);
        x->def.fini(x->global);
        fnh__crash_leave(&cs);
    }
    close_file(x);
    if (x->owns_m)
        manifest_free(x->m);
    free(x);
}

/* Adds msg as an error to every healthy function using one of m's types. */
static void fail_users(fnh__app *app, const manifest_ext *m, const char *msg)
{
    for (size_t i = 0; i < app->nfunctions; i++) {
        fnh__function *fn = app->functions[i];
        for (size_t k = 0; k < fn->nbindings; k++)
            if (fn->bindings[k].type && provider_of(fn->bindings[k].type) == m) {
                fnh__strlist_addf(&fn->errors, "%s", msg);
                break;
            }
    }
}

/* host.json extensions.<name>, or extensions.<name>s; *key gets the name
 * found (name when neither is there). */
static const cJSON *host_section(fnh__app *app, const char *name, char key[128])
{
    const cJSON *exts = cJSON_GetObjectItem(app->host_json, "extensions");
    const cJSON *s = cJSON_GetObjectItem(exts, name);
    snprintf(key, 128, "%s", name);
    if (!s) { /* Azure's sections are plural: "queues", "blobs" */
        char plural[128];
        snprintf(plural, sizeof plural, "%ss", name);
        s = cJSON_GetObjectItem(exts, plural);
        if (s)
            snprintf(key, 128, "%s", plural);
    }
    return s;
}

/* Runs x's init with its host.json section (extensions.<name>). Returns 0,
 * or a negative errno with the sentences in *errs. */
static int run_init(fnh__app *app, loaded_ext *x, fnh__strlist *errs)
{
    if (!x->def.init)
        return 0;
    const char *who = x->m ? x->m->manifest : "host.json";
    cJSON *empty = cJSON_CreateObject();
    char key[128];
    const cJSON *sec = host_section(app, x->def.name, key);
    char where[160];
    snprintf(where, sizeof where, "host.json: extensions.%s", key);
    struct fnh_config cfg = {.api = &g_api,
                             .kind = K_CONFIG,
                             .ext = x,
                             .json = (cJSON *)(cJSON_IsObject(sec) ? sec : empty),
                             .where = where,
                             .dotted = 1,
                             .errors = errs};
    fnh__crash_scope cs = EXT_SCOPE("init", x, x->m ? x->m->path : NULL);
    fnh__crash_enter(&cs);
    int rc = x->def.init((fnh_ext *)x, &cfg, &x->global);
    fnh__crash_leave(&cs);
    free(cfg.text);
    cJSON_Delete(empty);
    if (!rc)
        return 0;
    if (!rc_ok(rc))
        fnh__strlist_addf(errs, "%s: extension \"%s\": init returned %d, which is not 0 or a "
                                "negative errno; fix the extension",
                          who, ext_name(x), rc);
    else if (!errs->len)
        fnh__strlist_addf(errs, "%s: extension \"%s\": init failed: %s", who, ext_name(x),
                          strerror(-rc));
    return rc < 0 ? rc : -EIO;
}

/* Sets up the built-in provider d (HTTP, Timer) for app: its record is made
 * once and kept (a later app only runs its init again). It is part of the
 * host, so a problem with its host.json section stops the host. */
static loaded_ext *load_builtin(fnh__app *app, const fnh_extension_def *d)
{
    loaded_ext *x = NULL;
    for (loaded_ext *l = g.loaded; l && !x; l = l->next)
        if (l->builtin && strcmp(l->def.name, d->name) == 0)
            x = l;
    int fresh = !x;
    if (fresh) {
        if (!(x = calloc(1, sizeof *x)))
            return NULL;
        x->api = &g_api;
        x->kind = K_EXT;
        x->builtin = 1;
        memcpy(&x->def, d, d->size < sizeof x->def ? d->size : sizeof x->def);
    }
    fnh__strlist errs = {0};
    if (run_init(app, x, &errs)) {
        for (size_t i = 0; i < errs.len; i++)
            fnh__strlist_addf(&app->host_errors, "%s", errs.items[i]);
        fnh__strlist_free(&errs);
        if (fresh)
            free(x);
        return NULL;
    }
    fnh__strlist_free(&errs);
    if (fresh) {
        x->inited = 1;
        x->next = g.loaded;
        g.loaded = x;
    }
    return x;
}

static loaded_ext *load_one(fnh__app *app, manifest_ext *m)
{
    char *err = NULL;
    if (!m->path) {
        err = fnh__asprintf("%s: extension \"%s\": file '%s' not found (looked beside the "
                            "manifest and in the host's extensions folder); build it (make) or "
                            "fix \"file\"",
                            m->manifest, m->name, m->file);
        fail_users(app, m, err);
        free(err);
        return NULL;
    }
    loaded_ext *x = load_so(m, m->path, &err);
    manifest_ext *own = x ? manifest_copy(m) : NULL;
    if (x && !own) {
        err = fnh__strdup("out of memory");
        close_file(x);
        free(x);
        x = NULL;
    }
    if (!x) {
        fail_users(app, m, err ? err : "out of memory");
        free(err);
        return NULL;
    }
    x->m = own;
    x->owns_m = 1;
    /* every type the manifest claims must be in the descriptor */
    for (size_t i = 0; i < m->types.len; i++)
        if (!find_trigger(x, m->types.items[i]) && !find_binding(x, m->types.items[i])) {
            err = fnh__asprintf("%s: extension \"%s\": the manifest says it provides '%s' but "
                                "%s does not; fix \"types\" or rebuild the extension",
                                m->manifest, m->name, m->types.items[i], m->path);
            fail_users(app, m, err);
            free(err);
            unload(x);
            return NULL;
        }
    /* a type provided twice */
    for (loaded_ext *o = g.loaded; o; o = o->next)
        for (size_t i = 0; i < m->types.len && !o->superseded; i++)
            if (find_trigger(o, m->types.items[i]) || find_binding(o, m->types.items[i])) {
                err = fnh__asprintf("%s: extension \"%s\" (%s) provides '%s', already provided "
                                    "by extension \"%s\" (%s); remove one of them",
                                    m->manifest, m->name, m->path, m->types.items[i],
                                    o->def.name, o->m ? o->m->path : "");
                fail_users(app, m, err);
                free(err);
                unload(x);
                return NULL;
            }
    fnh__strlist errs = {0};
    if (run_init(app, x, &errs)) {
        for (size_t i = 0; i < errs.len; i++)
            fail_users(app, m, errs.items[i]);
        fnh__strlist_free(&errs);
        unload(x);
        return NULL;
    }
    fnh__strlist_free(&errs);
    x->inited = 1; /* fini runs at unload, with or without an init */
    x->next = g.loaded;
    g.loaded = x;
    fnh__log("Host.Extensions", FNH_LOG_INFO, "Loaded extension '%s' %s (%s)", x->def.name,
             x->def.version ? x->def.version : "", m->path);
    return x;
}

static void drain_cb(uv_async_t *h);

/* Creates the handle for binding b of fn and calls the extension's bind.
 * A refusal becomes an error of fn; returns -ENOMEM only. */
/* The provider has b's type in b's role (trigger, input, output); else an
 * error of fn and 0. */
static int kind_fits(fnh__function *fn, const fnh__binding *b, const loaded_ext *x,
                     const fnh_trigger_type *t, const fnh_binding_type *bt, const char *where)
{
    if (b->is_trigger && !t) {
        fnh__strlist_addf(&fn->errors, "%s: '%s' is not a trigger type; use it as an "
                                       "input or output binding",
                          where, b->type);
        return 0;
    }
    unsigned dirs = t ? FNH_IN : bt ? bt->directions : 0;
    if (x->builtin && b->direction && (t || bt) && (b->direction & ~(int)dirs)) {
        fnh__strlist_addf(&fn->errors, "%s: bindings[%d].direction: a '%s' binding must have "
                                       "direction \"%s\"",
                          fn->config_file, b->index, b->type, dirs == FNH_IN ? "in" : "out");
        return 0;
    }
    if (!b->is_trigger && (!bt || !(bt->directions & (unsigned)b->direction))) {
        fnh__strlist_addf(&fn->errors, "%s: direction: extension \"%s\" does not "
                                       "provide '%s' as an %s binding",
                          where, x->def.name, b->type,
                          b->direction == FNH__DIR_IN ? "input" : "output");
        return 0;
    }
    return 1;
}

/* The retry policy of fn, whose trigger is bound to hb: function.json's or
 * host.json's when the trigger type takes them; a function.json policy on
 * any other trigger is warned about (as Azure ignores it there). */
static void apply_retry_policy(fnh__function *fn, const struct fnh_binding *hb)
{
    int takes = (hb->trig->flags & FNH_TRIGGER_RETRIES) != 0;
    const fnh__retry_policy *p =
        fn->retry_declared.strategy ? &fn->retry_declared : &hb->app->retry;
    fn->retry = takes ? *p : (fnh__retry_policy){0};
    if (!takes && fn->retry_declared.strategy)
        fnh__strlist_addf(&hb->app->warnings,
                          "%s: retry: '%s' triggers take no retry policy (as in Azure, retries "
                          "apply to HTTP and timer triggers and to extension triggers that "
                          "support them), so it has no effect here; remove it",
                          fn->config_file, fn->trigger->type);
}

static int bind_one(fnh__function *fn, fnh__binding *b, loaded_ext *x)
{
    struct fnh_binding *hb = calloc(1, sizeof *hb);
    if (!hb)
        return -ENOMEM;
    hb->api = &g_api;
    hb->kind = K_BINDING;
    hb->ext = x;
    hb->app = g.loading;
    hb->fn = fn;
    hb->b = b;
    char where[256];
    snprintf(where, sizeof where, "%s: bindings[%d] (%s)", fn->config_file, b->index,
             b->type);
    const fnh_trigger_type *t = find_trigger(x, b->type);
    const fnh_binding_type *bt = find_binding(x, b->type);
    if (!kind_fits(fn, b, x, t, bt, where)) {
        free(hb);
        return 0;
    }
    if (t) {
        memcpy(&hb->trig_copy, t, t->size < sizeof hb->trig_copy ? t->size
                                                                 : sizeof hb->trig_copy);
        hb->trig = &hb->trig_copy;
    } else {
        memcpy(&hb->bt_copy, bt, bt->size < sizeof hb->bt_copy ? bt->size
                                                               : sizeof hb->bt_copy);
        hb->bt = &hb->bt_copy;
    }
    fnh__strlist errs = {0};
    struct fnh_config cfg = {.api = &g_api, .kind = K_CONFIG, .ext = x, .hb = hb,
                             .json = b->json, .where = where, .errors = &errs};
    int (*bind)(fnh_binding *, const fnh_config *, void **) =
        hb->trig ? hb->trig->bind : hb->bt->bind;
    int rc = 0;
    if (bind) {
        fnh__crash_scope cs = EXT_SCOPE("bind", x, where);
        fnh__crash_enter(&cs);
        rc = bind(hb, &cfg, &hb->state);
        fnh__crash_leave(&cs);
    }
    free(cfg.text);
    if (rc) {
        if (!rc_ok(rc))
            fnh__strlist_addf(&errs, "%s: extension \"%s\": bind returned %d, which is not 0 or "
                                     "a negative errno; fix the extension",
                              where, ext_name(x), rc);
        else if (!errs.len)
            fnh__strlist_addf(&errs, "%s: the extension refused the binding: %s", where,
                              strerror(-rc));
        for (size_t e = 0; e < errs.len; e++)
            fnh__strlist_addf(&fn->errors, "%s", errs.items[e]);
        fnh__strlist_free(&errs);
        free(hb);
        return 0;
    }
    fnh__strlist_free(&errs);
    hb->bound = 1;
    x->nbound++;
    b->ext_handle = hb;
    if (hb->trig && b == fn->trigger)
        apply_retry_policy(fn, hb);
    if (!b->is_trigger && (((b->direction & FNH__DIR_IN) && hb->bt->read) ||
                           ((b->direction & FNH__DIR_OUT) && hb->bt->write)))
        fn->has_ext_io = 1;
    *bindings_tail = hb; /* kept in function.json order */
    bindings_tail = &hb->next;
    return 0;
}

/* Every binding type a function names must be provided by a built-in or
 * an installed extension. */
static void check_types(fnh__app *app)
{
    for (size_t i = 0; i < app->nfunctions; i++) {
        fnh__function *fn = app->functions[i];
        for (size_t k = 0; k < fn->nbindings; k++) {
            const char *type = fn->bindings[k].type;
            if (type && !builtin_of(type) && !provider_of(type))
                fnh__strlist_addf(&fn->errors,
                                  "%s: bindings[%d].type: '%s' is a binding type fnhost does not "
                                  "emulate: no installed extension provides it (the installed "
                                  "types are %s); to add it, write an extension and list it in "
                                  "an extensions.json on FNHOST_EXTENSIONS_PATH: run 'fnhost "
                                  "help extensions' for the guide",
                                  fn->config_file, fn->bindings[k].index, type,
                                  installed_types());
        }
    }
}

/* A type two extensions claim disables the functions that use it. */
static void fail_duplicate_types(fnh__app *app)
{
    for (size_t d = 0; d < g.dup_types.len; d++)
        for (size_t i = 0; i < app->nfunctions; i++) {
            fnh__function *fn = app->functions[i];
            for (size_t k = 0; k < fn->nbindings; k++)
                if (fn->bindings[k].type &&
                    strcasecmp(fn->bindings[k].type, g.dup_types.items[d]) == 0) {
                    fnh__strlist_addf(&fn->errors, "%s", g.dup_msgs.items[d]);
                    break;
                }
        }
}

/* Loads extension m's changed file (moved: m names another than x's) for
 * app, x the build loaded so far: x is superseded, or again the loaded one
 * when the new file does not load. */
static void load_changed(fnh__app *app, loaded_ext *x, manifest_ext *m, int moved)
{
    x->superseded = 1;
    if (moved)
        fnh__log("Host.Extensions", FNH_LOG_INFO, "Extension '%s' is now %s (was %s); loading it",
                 m->name, m->path, x->m->path);
    else
        fnh__log("Host.Extensions", FNH_LOG_INFO, "Extension '%s' was rebuilt (%s); loading "
                                                  "the new build", m->name, m->path);
    if (!load_one(app, m))
        x->superseded = 0;
}

/* A reloaded app uses extension m, loaded as x: when x's file was rebuilt
 * since (its shadow copy now is another than x's: other content), or m now
 * names another file, that file is loaded for app (the snapshots bound to x
 * keep x until they are freed, then it is finied and unloaded). Should it
 * not load, app's functions of m say why and x stays the loaded one. */
static void reload_changed(fnh__app *app, loaded_ext *x, manifest_ext *m)
{
    int moved = x->m->path && m->path && strcmp(x->m->path, m->path) != 0;
    /* held until the new build loaded from it, so it is copied once */
    char *now = !moved && x->shadow && m->path ? fnh__shadow_acquire(m->path) : NULL;
    if (moved || (now && strcmp(now, x->shadow) != 0))
        load_changed(app, x, m, moved);
    fnh__shadow_release(now);
    free(now);
}

/* Loads, once each, the extensions whose types healthy functions use. */
static void load_used_extensions(fnh__app *app)
{
    for (manifest_ext *m = g.manifests; m; m = m->next) {
        int used = 0;
        for (size_t i = 0; i < app->nfunctions && !used; i++) {
            fnh__function *fn = app->functions[i];
            if (!fnh__function_ok(fn))
                continue;
            for (size_t k = 0; k < fn->nbindings; k++)
                used |= fn->bindings[k].type && !builtin_of(fn->bindings[k].type) &&
                        provider_of(fn->bindings[k].type) == m;
        }
        loaded_ext *have = NULL;
        for (loaded_ext *l = g.loaded; l && !have; l = l->next)
            if (l->m && !l->superseded && strcasecmp(l->m->name, m->name) == 0)
                have = l;
        if (used && !have)
            load_one(app, m);
        else if (used)
            reload_changed(app, have, m);
    }
}

/* The loaded provider of type: a built-in first, then an extension. */
static loaded_ext *loaded_provider(const char *type)
{
    const fnh_extension_def *d = builtin_of(type);
    manifest_ext *m = d ? NULL : provider_of(type);
    for (loaded_ext *l = g.loaded; l; l = l->next)
        if (d ? (l->builtin && strcmp(l->def.name, d->name) == 0)
              : (m && l->m && !l->superseded && strcasecmp(l->m->name, m->name) == 0))
            return l;
    return NULL;
}

/* An extension no snapshot binds any more, after a reload: fini and
 * dlclose it now (the app that used it is freed, so no invocation does). */
static void unload_idle(loaded_ext *x)
{
    for (loaded_ext **p = &g.loaded; *p; p = &(*p)->next)
        if (*p == x) {
            *p = x->next;
            /* a newer build no snapshot kept (its reload was refused): the
             * build before it, still bound, is the loaded one again */
            for (loaded_ext *o = x->superseded ? NULL : g.loaded; o; o = o->next)
                if (o->superseded && o->m && x->m && strcasecmp(o->m->name, x->m->name) == 0) {
                    o->superseded = 0;
                    break;
                }
            if (x->superseded)
                fnh__log("Host.Extensions", FNH_LOG_INFO,
                         "Unloaded the previous build of extension '%s'", x->def.name);
            else
                fnh__log("Host.Extensions", FNH_LOG_INFO,
                         "Unloaded extension '%s': no function uses it any more", x->def.name);
            unload(x);
            return;
        }
}

/* Unbinds and frees a snapshot's bindings (its "bindings" part), when the
 * app is freed: after the drain, no invocation uses them. */
static void bindings_free(void *state)
{
    struct fnh_binding *hb = state;
    while (hb) {
        struct fnh_binding *next = hb->next;
        void (*unbind)(void *) = hb->trig ? hb->trig->unbind : hb->bt->unbind;
        if (hb->bound && unbind) {
            fnh__crash_scope cs = EXT_SCOPE("unbind", hb->ext, hb->fn->config_file);
            fnh__crash_enter(&cs);
            unbind(hb->state);
            fnh__crash_leave(&cs);
        }
        if (hb->b)
            hb->b->ext_handle = NULL;
        loaded_ext *x = hb->ext;
        free(hb);
        hb = next;
        if (x && --x->nbound == 0 && !x->builtin && g.unload_idle)
            unload_idle(x);
    }
}

static struct fnh_binding *bindings_of(const fnh__app *app)
{
    return fnh__app_part_get(app, "bindings");
}

int fnh__ext_load_for_app(fnh__app *app, uv_loop_t *loop, int load_files)
{
    g.loop = loop;
    g.loading = app;
    bindings_head = NULL;
    bindings_tail = &bindings_head;
    fnh__dispatch_set_binding_io(fnh__ext_read_inputs, fnh__ext_write_outputs);
    fail_duplicate_types(app);
    check_types(app);
    for (size_t i = g.nbuiltins; i-- > 0;) /* listed first */
        load_builtin(app, g.builtins[i]);
    if (load_files)
        load_used_extensions(app);
    /* bind every binding of healthy functions, in function.json order */
    for (size_t i = 0; i < app->nfunctions; i++) {
        fnh__function *fn = app->functions[i];
        for (size_t k = 0; k < fn->nbindings && fnh__function_ok(fn); k++) {
            fnh__binding *b = &fn->bindings[k];
            loaded_ext *x = b->type ? loaded_provider(b->type) : NULL;
            if (x && bind_one(fn, b, x))
                return -ENOMEM;
        }
    }
    /* a function that went into error above must not keep bound bindings */
    for (struct fnh_binding *hb = bindings_head; hb; hb = hb->next)
        if (!fnh__function_ok(hb->fn))
            hb->stopped = 1;
    /* registered last, so freed first: the built-ins' parts outlive the unbinds */
    int have = bindings_head != NULL;
    if (have && fnh__app_part_set(app, "bindings", bindings_head, bindings_free))
        return -ENOMEM;
    bindings_head = NULL;
    bindings_tail = &bindings_head;
    if (have && loop && !g.async_open) {
        uv_async_init(loop, &g.async, drain_cb);
        uv_unref((uv_handle_t *)&g.async);
        g.async_open = 1;
    }
    return 0;
}

void fnh__ext_start(fnh__app *app)
{
    pthread_mutex_lock(&g.lock);
    g.accepting = 1;
    pthread_mutex_unlock(&g.lock);
    for (struct fnh_binding *hb = bindings_of(app); hb; hb = hb->next) {
        if (!hb->trig || hb->stopped || hb->fn->disabled || !hb->trig->start)
            continue;
        fnh__crash_scope cs = EXT_SCOPE("start", hb->ext, hb->fn->config_file);
        fnh__crash_enter(&cs);
        int rc = hb->trig->start(hb->state);
        fnh__crash_leave(&cs);
        if (!rc_ok(rc))
            fnh__log("Host.Extensions", FNH_LOG_ERROR,
                     "The listener for function 'Functions.%s' was unable to start: extension "
                     "\"%s\": start returned %d, which is not 0 or a negative errno; fix the "
                     "extension",
                     hb->fn->name, ext_name(hb->ext), rc);
        else if (rc)
            fnh__log("Host.Extensions", FNH_LOG_ERROR,
                     "The listener for function 'Functions.%s' was unable to start: %s",
                     hb->fn->name, strerror(-rc));
        else
            hb->started = 1;
    }
}

void fnh__ext_stop(fnh__app *app)
{
    /* fires of this app's bindings fail from now on; another snapshot's
     * (after a reload) go on */
    pthread_mutex_lock(&g.lock);
    for (struct fnh_binding *hb = bindings_of(app); hb; hb = hb->next)
        hb->stopping = 1;
    pthread_mutex_unlock(&g.lock);
    for (struct fnh_binding *hb = bindings_of(app); hb; hb = hb->next) {
        if (hb->started && hb->trig->stop) {
            fnh__crash_scope cs = EXT_SCOPE("stop", hb->ext, hb->fn->config_file);
            fnh__crash_enter(&cs);
            hb->trig->stop(hb->state);
            fnh__crash_leave(&cs);
        }
        hb->started = 0;
        hb->stopped = 1;
    }
    /* events queued before stop still run; drain them now */
    if (g.async_open)
        drain_cb(&g.async);
}

void fnh__ext_unload(int busy)
{
    if (busy) {
        /* invocations still run on abandoned workers and may be inside an
         * extension's read/write: never unbind or unload under them */
        fnh__log("Host.Extensions", FNH_LOG_WARN, "Invocations are still running; extensions "
                                                  "are not unloaded");
        return;
    }
    while (g.loaded) {
        loaded_ext *x = g.loaded;
        g.loaded = x->next;
        unload(x);
    }
    pthread_mutex_lock(&g.lock);
    while (g.qhead) { /* cannot happen after stop + drain, but never leak */
        fire_ev *e = g.qhead;
        g.qhead = e->next;
        fire_ev_free(e);
    }
    g.qtail = NULL;
    g.qlen = 0;
    pthread_mutex_unlock(&g.lock);
    if (g.async_open)
        uv_close((uv_handle_t *)&g.async, NULL); /* nothing to free: the handle is static */
    g.async_open = 0;
}

void fnh__ext_unload_idle(int on)
{
    g.unload_idle = on;
}

void fnh__ext_files(fnh__strlist *out)
{
    for (loaded_ext *x = g.loaded; x; x = x->next)
        if (!x->builtin && !x->superseded && x->m && x->m->path)
            fnh__strlist_addf(out, "%s", x->m->path);
}

void fnh__ext_status_json(fnh__buf *b)
{
    fnh__buf_puts(b, "[");
    int first = 1;
    for (loaded_ext *x = g.loaded; x; x = x->next) {
        if (x->builtin || x->superseded)
            continue;
        fnh__buf_puts(b, first ? "{\"name\":" : ",{\"name\":");
        first = 0;
        fnh__json_str_or_null(b, x->def.name);
        fnh__buf_puts(b, ",\"version\":");
        fnh__json_str_or_null(b, x->def.version);
        fnh__buf_puts(b, ",\"file\":");
        fnh__json_str_or_null(b, x->m ? x->m->path : NULL);
        fnh__buf_puts(b, "}");
    }
    fnh__buf_puts(b, "]");
}

/* ---- for the built-in providers ------------------------------------------- */

fnh__function *fnh__binding_function(const fnh_binding *b)
{
    return b->fn;
}

fnh__binding *fnh__binding_model(const fnh_binding *b)
{
    return b->b;
}

fnh__app *fnh__binding_app(const fnh_binding *b)
{
    return b->app;
}

void *fnh__binding_state(const fnh_binding *b)
{
    return b ? b->state : NULL;
}

const cJSON *fnh__config_cjson(const fnh_config *c)
{
    return c->json;
}

fnh__strlist *fnh__config_errors(const fnh_config *c)
{
    return c->errors;
}

fnh__app *fnh__config_app(const fnh_config *c)
{
    return c->hb ? c->hb->app : g.loading;
}

int fnh__ext_invoke(fnh__function *fn, const fnh_value *input)
{
    struct fnh_binding *hb = fn->trigger ? fn->trigger->ext_handle : NULL;
    if (!hb || !hb->trig || !hb->bound)
        return -ENOENT;
    if (hb->trig->invoke) {
        fnh__crash_scope cs = EXT_SCOPE("invoke", hb->ext, hb->fn->config_file);
        fnh__crash_enter(&cs);
        int rc = hb->trig->invoke(hb->state, input);
        fnh__crash_leave(&cs);
        return rc_ok(rc) ? rc : -EIO;
    }
    fnh__invocation *inv = fnh__invocation_new(hb->app, fn, FNH__REASON_HOST_API);
    if (!inv || fnh__input_set_payload(inv, input->data, input->len, input->content_type)) {
        fnh__invocation_free(inv);
        return -ENOMEM;
    }
    fnh__dispatch(inv);
    return 0;
}

/* ---- firing ------------------------------------------------------------- */

static void call_complete(struct fnh_binding *hb, void *token, int status, const fnh_value *v)
{
    if (!hb->trig->complete)
        return;
    fnh__crash_scope cs = EXT_SCOPE("complete", hb->ext, hb->fn->config_file);
    fnh__crash_enter(&cs);
    hb->trig->complete(hb->state, token, status, v);
    fnh__crash_leave(&cs);
}

static void ext_complete(fnh__invocation *inv)
{
    struct fnh_binding *hb = inv->owner;
    int status = fnh__invocation_status(inv);
    fnh__output *ret = status == 0 ? fnh__invocation_output(inv, "$return") : NULL;
    fnh_value v = {0};
    if (ret && ret->set) {
        v.data = ret->body.data;
        v.len = ret->body.len;
        v.content_type = ret->content_type;
    }
    call_complete(hb, inv->token, status, ret && ret->set ? &v : NULL);
}

static void run_event(fire_ev *e)
{
    struct fnh_binding *hb = e->hb;
    fnh__invocation *inv = fnh__invocation_new(hb->app, hb->fn, "New event detected.");
    if (!inv) { /* cannot run it: fail it so the extension retries */
        call_complete(hb, e->token, -ENOMEM, NULL);
        return;
    }
    if (e->watch)
        fnh__invocation_watch(inv, e->watch);
    e->watch = NULL;
    inv->in.payload = e->payload; /* moved, not copied */
    e->payload = (fnh__buf){0};
    inv->in.data = inv->in.payload.data ? inv->in.payload.data : "";
    inv->in.len = inv->in.payload.len;
    inv->in.ctype = e->ctype;
    inv->in.content_type = e->ctype;
    e->ctype = NULL;
    /* the host's own keys: the Executing line's reason and details */
    for (size_t i = 0; i < e->nmeta; i++) {
        if (strcmp(e->meta[i].key, "$reason") == 0)
            inv->reason = e->meta[i].value;
        else if (strcmp(e->meta[i].key, "$details") == 0 && !inv->trigger_details)
            inv->trigger_details = fnh__strdup(e->meta[i].value);
    }
    fnh__input_set_meta(inv, e->meta, e->nmeta, e->metastore);
    e->meta = NULL;
    e->metastore = NULL;
    inv->token = e->token;
    inv->owner = hb;
    /* the extension hears back once the work has really returned (after a
     * timeout too), so a message is never handed out while it still runs */
    inv->release = ext_complete;
    fnh__dispatch(inv);
}

static void drain_cb(uv_async_t *h)
{
    (void)h;
    pthread_mutex_lock(&g.lock);
    fire_ev *list = g.qhead;
    g.qhead = g.qtail = NULL;
    g.qlen = 0;
    pthread_mutex_unlock(&g.lock);
    while (list) {
        fire_ev *e = list;
        list = e->next;
        run_event(e);
        fire_ev_free(e);
    }
}

static int api_fire(fnh_binding *b, const fnh_value *payload, const fnh_kv *meta, size_t nmeta,
                    void *token)
{
    if (!b || !b->trig || (nmeta && !meta) || (payload && !payload->data && payload->len))
        return -EINVAL;
    fire_ev *e = calloc(1, sizeof *e);
    if (!e)
        return -ENOMEM;
    e->hb = b;
    e->token = token;
    int ok = 1;
    if (payload) {
        ok &= fnh__buf_append(&e->payload, payload->data ? payload->data : "", payload->len) == 0;
        e->ctype = fnh__strdup(payload->content_type);
    } else {
        ok &= fnh__buf_append(&e->payload, "", 0) == 0;
    }
    if (nmeta) {
        size_t total = 0;
        for (size_t i = 0; i < nmeta; i++)
            total += strlen(meta[i].key ? meta[i].key : "") + strlen(meta[i].value ? meta[i].value : "") + 2;
        e->meta = calloc(nmeta, sizeof *e->meta);
        e->metastore = malloc(total);
        ok &= e->meta && e->metastore;
        char *p = e->metastore;
        for (size_t i = 0; ok && i < nmeta; i++) {
            size_t kl = strlen(meta[i].key ? meta[i].key : ""),
                   vl = strlen(meta[i].value ? meta[i].value : "");
            memcpy(p, meta[i].key ? meta[i].key : "", kl + 1);
            e->meta[i].key = p;
            p += kl + 1;
            memcpy(p, meta[i].value ? meta[i].value : "", vl + 1);
            e->meta[i].value = p;
            p += vl + 1;
        }
        e->nmeta = nmeta;
    }
    int rc = 0;
    e->watch = fnh__invocation_watch_take(); /* fired by a manual run that waits for it */
    pthread_mutex_lock(&g.lock);
    if (!ok)
        rc = -ENOMEM;
    else if (!g.accepting || b->stopped || b->stopping)
        rc = -ESHUTDOWN;
    else if (g.qlen >= FIRE_QUEUE_MAX)
        rc = -EAGAIN;
    else {
        if (g.qtail)
            g.qtail->next = e;
        else
            g.qhead = e;
        g.qtail = e;
        g.qlen++;
    }
    pthread_mutex_unlock(&g.lock);
    if (rc) {
        fnh__invocation_watch_arm(e->watch); /* the caller hears of the failure instead */
        e->watch = NULL;
        fire_ev_free(e);
        return rc;
    }
    uv_async_send(&g.async);
    return 0;
}

/* ---- input and output bindings (worker threads) --------------------------- */

/* Deep-copies j with every string's {expressions} resolved. */
static cJSON *resolve_json(fnh__invocation *inv, const cJSON *j, char **missing)
{
    if (cJSON_IsString(j)) {
        char *s = fnh__invocation_expand(inv, j->valuestring, missing);
        if (!s)
            return NULL;
        cJSON *r = cJSON_CreateString(s);
        free(s);
        return r;
    }
    if (cJSON_IsObject(j) || cJSON_IsArray(j)) {
        cJSON *r = cJSON_IsObject(j) ? cJSON_CreateObject() : cJSON_CreateArray();
        const cJSON *c;
        cJSON_ArrayForEach(c, j)
        {
            cJSON *rc = resolve_json(inv, c, missing);
            if (!rc) {
                cJSON_Delete(r);
                return NULL;
            }
            if (cJSON_IsObject(j))
                cJSON_AddItemToObject(r, c->string, rc);
            else
                cJSON_AddItemToArray(r, rc);
        }
        return r;
    }
    return cJSON_Duplicate(j, 1);
}

static int make_call(fnh__invocation *inv, struct fnh_binding *hb, struct fnh_call *call)
{
    memset(call, 0, sizeof *call);
    call->api = &g_api;
    call->kind = K_CALL;
    call->inv = inv;
    call->hb = hb;
    char *missing = NULL;
    cJSON *j = resolve_json(inv, hb->b->json, &missing);
    if (!j) {
        char cat[160];
        snprintf(cat, sizeof cat, "Function.%s", inv->fn->name);
        fnh__log(cat, FNH_LOG_ERROR, "%s: bindings[%d] (%s): '{%s}' does not resolve to a value "
                                     "for this invocation",
                 inv->fn->config_file, hb->b->index, hb->b->type, missing ? missing : "?");
        free(missing);
        return -EINVAL;
    }
    call->cfg.api = &g_api;
    call->cfg.kind = K_CONFIG;
    call->cfg.ext = hb->ext;
    call->cfg.hb = hb;
    call->cfg.json = j;
    call->cfg.text = NULL;
    call->where = fnh__asprintf("%s: bindings[%d] (%s)", inv->fn->config_file, hb->b->index,
                                hb->b->type);
    call->cfg.where = call->where ? call->where : inv->fn->config_file;
    return 0;
}

static void free_call(struct fnh_call *call)
{
    cJSON_Delete(call->cfg.json);
    free(call->cfg.text);
    free(call->where);
}

/* read/write's result, a value outside the ABI logged and made -EIO. */
static int checked_io_rc(const struct fnh_call *call, const char *step, int rc)
{
    if (rc_ok(rc))
        return rc;
    fnh__log("Host.Extensions", FNH_LOG_ERROR, "%s: extension \"%s\": %s returned %d, which is "
                                               "not 0 or a negative errno; fix the extension",
             call->cfg.where, ext_name(call->hb->ext), step, rc);
    return -EIO;
}

int fnh__ext_read_inputs(fnh__invocation *inv)
{
    fnh__function *fn = inv->fn;
    for (size_t k = 0; k < fn->nbindings; k++) {
        fnh__binding *b = &fn->bindings[k];
        struct fnh_binding *hb = b->ext_handle;
        if (!hb || !hb->bt || !(b->direction & FNH__DIR_IN))
            continue;
        fnh__input *ins = realloc(inv->inputs, (inv->ninputs + 1) * sizeof *ins);
        if (!ins)
            return -ENOMEM;
        inv->inputs = ins;
        fnh__input *in = &ins[inv->ninputs++];
        memset(in, 0, sizeof *in);
        in->name = fnh__strdup(b->name);
        if (!hb->bt->read)
            continue;
        struct fnh_call call;
        int rc = make_call(inv, hb, &call);
        if (rc)
            return rc;
        call.in = in;
        fnh__crash_scope cs = EXT_SCOPE("read", hb->ext, call.where);
        fnh__crash_enter(&cs);
        rc = hb->bt->read(hb->state, &call);
        fnh__crash_leave(&cs);
        rc = checked_io_rc(&call, "read", rc);
        free_call(&call);
        if (rc)
            return rc;
    }
    return 0;
}

int fnh__ext_write_outputs(fnh__invocation *inv)
{
    fnh__function *fn = inv->fn;
    for (size_t k = 0; k < fn->nbindings; k++) {
        fnh__binding *b = &fn->bindings[k];
        struct fnh_binding *hb = b->ext_handle;
        if (!hb || !hb->bt || !(b->direction & FNH__DIR_OUT) || !hb->bt->write)
            continue;
        fnh__output *o = fnh__invocation_output(inv, b->name);
        if (!o || !o->set)
            continue;
        struct fnh_call call;
        int rc = make_call(inv, hb, &call);
        if (rc)
            return rc;
        fnh_value v = {o->body.data ? o->body.data : "", o->body.len, o->content_type};
        fnh__crash_scope cs = EXT_SCOPE("write", hb->ext, call.where);
        fnh__crash_enter(&cs);
        rc = hb->bt->write(hb->state, &call, &v);
        fnh__crash_leave(&cs);
        rc = checked_io_rc(&call, "write", rc);
        free_call(&call);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- the fnh_api table ----------------------------------------------- */

static const char *cfg_string(const fnh_config *c, const char *key)
{
    return cJSON_GetStringValue(cJSON_GetObjectItem(c->json, key));
}

static int cfg_int(const fnh_config *c, const char *key, int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItem(c->json, key);
    if (!v)
        return -ENOENT;
    if (cJSON_IsNumber(v) && v->valuedouble == (double)(int64_t)v->valuedouble) {
        *out = (int64_t)v->valuedouble;
        return 0;
    }
    if (cJSON_IsString(v)) {
        char *end;
        long long n = strtoll(v->valuestring, &end, 10);
        if (*v->valuestring && !*end) {
            *out = n;
            return 0;
        }
    }
    return -EINVAL;
}

static int cfg_bool(const fnh_config *c, const char *key, int *out)
{
    const cJSON *v = cJSON_GetObjectItem(c->json, key);
    if (!v)
        return -ENOENT;
    if (cJSON_IsBool(v)) {
        *out = cJSON_IsTrue(v);
        return 0;
    }
    if (cJSON_IsString(v) && (strcasecmp(v->valuestring, "true") == 0 ||
                              strcasecmp(v->valuestring, "false") == 0)) {
        *out = strcasecmp(v->valuestring, "true") == 0;
        return 0;
    }
    return -EINVAL;
}

static const char *cfg_json(const fnh_config *c)
{
    struct fnh_config *m = (struct fnh_config *)c;
    if (!m->text)
        m->text = cJSON_PrintUnformatted(m->json);
    return m->text;
}

static int cfg_fail(const fnh_config *c, const char *key, const char *fmt, va_list ap)
{
    char *msg = fnh__vasprintf(fmt, ap);
    if (c->errors)
        fnh__strlist_addf(c->errors, "%s%s%s: %s", c->where, key ? (c->dotted ? "." : ": ") : "",
                          key ? key : "", msg ? msg : "invalid");
    else
        fnh__log("Host.Extensions", FNH_LOG_ERROR, "%s: %s: %s", c->where, key ? key : "",
                 msg ? msg : "invalid");
    free(msg);
    return -EINVAL;
}

/* The extension and binding a handle belongs to (either may be NULL). */
static loaded_ext *ext_of(const void *h, struct fnh_binding **hb)
{
    struct fnh_binding *b = NULL;
    loaded_ext *x = NULL;
    switch (h ? ((const struct fnh_binding *)h)->kind : 0) {
    case K_EXT:
        x = (loaded_ext *)h;
        break;
    case K_BINDING:
        b = (struct fnh_binding *)h;
        break;
    case K_CONFIG:
        x = ((const struct fnh_config *)h)->ext;
        b = ((const struct fnh_config *)h)->hb;
        break;
    case K_CALL:
        b = ((const struct fnh_call *)h)->hb;
        break;
    }
    if (b && !x)
        x = b->ext;
    if (hb)
        *hb = b;
    return x;
}

static const char *api_setting(const void *h, const char *name)
{
    struct fnh_binding *b = NULL;
    ext_of(h, &b);
    const fnh__app *app = b ? b->app : g.loading;
    const char *v = name ? fnh__app_setting(app, name) : NULL;
    /* <name>__serviceUri and the like: emulated locally, as a storage account */
    if (!v && name && fnh__identity_connection(app ? &app->settings : NULL, name))
        v = FNH__IDENTITY_CONNECTION_VALUE;
    return v;
}

static void *api_global(const void *h)
{
    loaded_ext *x = ext_of(h, NULL);
    return x ? x->global : NULL;
}

static struct uv_loop_s *api_loop(const void *h)
{
    (void)h;
    return g.loop;
}

static const fnh_config *api_call_config(fnh_call *call)
{
    return &call->cfg;
}

static int api_call_set_value(fnh_call *call, const fnh_value *v)
{
    if (!call->in || !v || (!v->data && v->len))
        return -EINVAL;
    call->in->value.len = 0;
    if (fnh__buf_append(&call->in->value, v->data ? v->data : "", v->len))
        return -ENOMEM;
    free(call->in->content_type);
    call->in->content_type = fnh__strdup(v->content_type);
    call->in->set = 1;
    return 0;
}

static const char *api_call_meta(fnh_call *call, const char *key)
{
    return key ? fnh__invocation_meta(call->inv, key) : NULL;
}

static void api_log(const void *h, fnh_log_level level, const char *fmt, va_list ap)
{
    loaded_ext *x = ext_of(h, NULL);
    char cat[160];
    snprintf(cat, sizeof cat, "Host.Extensions.%s", x ? x->def.name : "extension");
    if ((int)level < 0 || level > FNH_LOG_CRITICAL || !fmt)
        return;
    fnh__logv(cat, level, fmt, ap);
}

static const char *api_strerror(int err)
{
    return strerror(err < 0 ? -err : err);
}

static const char *api_app_root(const void *h)
{
    (void)h;
    return g.root;
}

static const char *api_function_name(const void *h)
{
    struct fnh_binding *b = NULL;
    ext_of(h, &b);
    return b ? b->fn->name : NULL;
}

static const fnh_api g_api = {
    .size = sizeof(fnh_api),
    .abi_minor = FNH_ABI_MINOR,
    .config_string = cfg_string,
    .config_int = cfg_int,
    .config_bool = cfg_bool,
    .config_json = cfg_json,
    .setting = api_setting,
    .config_fail = cfg_fail,
    .global = api_global,
    .loop = api_loop,
    .fire = api_fire,
    .call_config = api_call_config,
    .call_set_value = api_call_set_value,
    .log = api_log,
    .strerror = api_strerror,
    .app_root = api_app_root,
    .function_name = api_function_name,
    .call_meta = api_call_meta,
};

/* ---- CLI ----------------------------------------------------------------- */

static void print_ext(const char *name, const char *version, const char *file,
                      const fnh_extension_def *d)
{
    printf("%-10s %-10s ABI %u.%u  %s\n", name, version ? version : "-", d->abi_major,
           d->abi_minor, file);
    printf("  types:");
    for (const fnh_trigger_type *const *t = d->triggers; t && *t; t++)
        printf(" %s (trigger)", (*t)->type);
    for (const fnh_binding_type *const *t = d->bindings; t && *t; t++)
        printf(" %s (%s)", (*t)->type,
               (*t)->directions == (FNH_IN | FNH_OUT) ? "in/out"
               : (*t)->directions == FNH_IN           ? "in"
                                                      : "out");
    printf("\n");
    if (d->size >= sizeof *d && d->commands && d->commands[0]) {
        for (const fnh_command *const *c = d->commands; *c; c++)
            printf("  command: fnhost %s  %s\n", (*c)->name, (*c)->summary ? (*c)->summary : "");
    }
}

static const char *root_from_args(int argc, char **argv)
{
    for (int i = 0; i + 1 < argc; i++)
        if (strcmp(argv[i], "--script-root") == 0)
            return argv[i + 1];
    return ".";
}

int fnh__ext_cli(int argc, char **argv)
{
    fnh__log_init(0, 0);
    fnh__strlist errors = {0};
    fnh__ext_registry_load(root_from_args(argc, argv), &errors);
    for (size_t i = 0; i < errors.len; i++)
        fprintf(stderr, "error: %s\n", errors.items[i]);
    int rc = 0;
    if (argc >= 2 && strcmp(argv[1], "list") == 0) {
        if (!g.manifests)
            printf("no extensions installed (see config/extensions.json and "
                   "FNHOST_EXTENSIONS_PATH)\n");
        for (manifest_ext *m = g.manifests; m; m = m->next) {
            char *err = NULL;
            loaded_ext *x = m->path ? load_so(m, m->path, &err) : NULL;
            if (x) {
                print_ext(m->name, x->def.version, m->path, &x->def);
                close_file(x);
                free(x);
            } else {
                printf("%-10s (unusable) %s\n  %s\n", m->name, m->file,
                       err ? err : "file not found; build it (make)");
                rc = 1;
            }
            free(err);
        }
    } else if (argc == 3 && strcmp(argv[1], "check") == 0) {
        char *err = NULL;
        char *path = strchr(argv[2], '/') ? fnh__strdup(argv[2]) : fnh__asprintf("./%s", argv[2]);
        loaded_ext *x = file_exists(path) ? load_so(NULL, path, &err) : NULL;
        if (!x) {
            if (err)
                fprintf(stderr, "%s\n", err);
            else
                fprintf(stderr, "%s: no such file\n", argv[2]);
            rc = 1;
        } else {
            print_ext(x->def.name, x->def.version, path, &x->def);
            printf("ok: %s is a usable fnhost extension\n", argv[2]);
            close_file(x);
            free(x);
        }
        free(err);
        free(path);
    } else {
        fprintf(stderr, "usage: fnhost extensions list [--script-root DIR]\n"
                        "       fnhost extensions check FILE.so\n");
        rc = 2;
    }
    fnh__strlist_free(&errors);
    fnh__ext_registry_free();
    return rc;
}

int fnh__ext_command(int argc, char **argv)
{
    fnh__log_init(0, 0);
    fnh__strlist errors = {0};
    fnh__ext_registry_load(root_from_args(argc, argv), &errors);
    fnh__strlist_free(&errors);
    manifest_ext *found = NULL;
    for (manifest_ext *m = g.manifests; m && !found; m = m->next)
        for (size_t i = 0; i < m->commands.len; i++)
            if (strcmp(m->commands.items[i], argv[0]) == 0)
                found = m;
    if (!found) {
        fnh__ext_registry_free();
        return -ENOENT;
    }
    char *err = NULL;
    loaded_ext *x = found->path ? load_so(found, found->path, &err) : NULL;
    int rc = 1;
    if (!x) {
        fprintf(stderr, "fnhost %s: %s\n", argv[0],
                err ? err : "the extension's file was not found; build it (make)");
    } else {
        const fnh_command *cmd = NULL;
        for (const fnh_command *const *c = x->def.commands; c && *c; c++)
            if (strcmp((*c)->name, argv[0]) == 0)
                cmd = *c;
        if (!cmd || !cmd->run)
            fprintf(stderr, "fnhost %s: extension \"%s\" lists the command but does not "
                            "provide it\n",
                    argv[0], found->name);
        else {
            char real[PATH_MAX];
            const char *r = root_from_args(argc, argv);
            free(g.root);
            g.root = fnh__strdup(realpath(r, real) ? real : r);
            x->next = g.loaded;
            g.loaded = x;
            fnh__crash_scope cs = EXT_SCOPE("command", x, argv[0]);
            fnh__crash_enter(&cs);
            rc = cmd->run((fnh_ext *)x, argc, argv);
            fnh__crash_leave(&cs);
            g.loaded = x->next;
        }
        close_file(x);
        free(x);
    }
    free(err);
    fnh__log_shutdown();
    fnh__ext_registry_free();
    return rc;
}

void fnh__ext_help(FILE *f)
{
    fnh__strlist errors = {0};
    fnh__ext_registry_load(".", &errors);
    fnh__strlist_free(&errors);
    for (manifest_ext *m = g.manifests; m; m = m->next)
        for (size_t i = 0; i < m->commands.len; i++)
            fprintf(f, "  fnhost %s ...\n      (from extension \"%s\"; run it for its usage)\n",
                    m->commands.items[i], m->name);
    fnh__ext_registry_free();
}
