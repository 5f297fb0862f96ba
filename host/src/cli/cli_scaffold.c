/* cli_scaffold.c: fnhost init (a new function app), fnhost new (a function
 * from a template) and fnhost templates (the list), writing the templates
 * compiled into the binary (templates/README.md). Owns the table of template
 * names; never overwrites a file. */
#include "cli_scaffold.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app.h"
#include "embedded.h"
#include "json.h"
#include "settings.h"
#include "util.h"

/* One trigger's templates; the files of each runtime are the embedded
 * files under function/<id>-<runtime>/. */
typedef struct tmpl {
    const char *name;    /* Azure's template name */
    const char *id;      /* short name, also the folder prefix */
    const char *alias;   /* the name newer Core Tools accept */
    const char *trigger; /* the trigger binding type */
} tmpl;

static const tmpl g_templates[] = {
    {"HTTP trigger", "http", "HttpTrigger", "httpTrigger"},
    {"Timer trigger", "timer", "TimerTrigger", "timerTrigger"},
    {"Azure Queue Storage trigger", "queue", "QueueTrigger", "queueTrigger"},
    {"Azure Blob Storage trigger", "blob", "BlobTrigger", "blobTrigger"},
};
#define NTEMPLATES (sizeof g_templates / sizeof g_templates[0])

static const char *const g_runtimes[] = {"native", "node", "custom", NULL};

static const char *runtime_of(const char *s)
{
    for (size_t i = 0; g_runtimes[i]; i++)
        if (strcasecmp(s, g_runtimes[i]) == 0)
            return g_runtimes[i];
    return NULL;
}

/* s lower-cased without spaces, '-' and '_' into out[64]. */
static const char *norm(const char *s, char out[64])
{
    size_t n = 0;
    for (; *s && n < 63; s++)
        if (*s != ' ' && *s != '-' && *s != '_')
            out[n++] = (char)(*s >= 'A' && *s <= 'Z' ? *s + 32 : *s);
    out[n] = '\0';
    return out;
}

static const tmpl *find_template(const char *name)
{
    char a[64], b[64];
    norm(name, a);
    for (size_t i = 0; i < NTEMPLATES; i++) {
        const tmpl *t = &g_templates[i];
        if (strcmp(a, norm(t->name, b)) == 0 || strcmp(a, t->id) == 0 ||
            strcmp(a, norm(t->alias, b)) == 0)
            return t;
    }
    return NULL;
}

/* The embedded files under prefix, in table order; at most max. */
static size_t files_under(const char *prefix, const fnh__embedded_file **out, size_t max)
{
    size_t n = 0, plen = strlen(prefix);
    for (const fnh__embedded_file *f = fnh__embedded_files; f->path && n < max; f++)
        if (strncmp(f->path, prefix, plen) == 0)
            out[n++] = f;
    return n;
}

/* text with every __NAME__ replaced by name and __APP_NAME__ by app;
 * malloc'd (caller frees), NULL when out of memory. */
static char *render(const char *text, size_t len, const char *name, const char *app,
                    size_t *out_len)
{
    fnh__buf b = {0};
    for (size_t i = 0; i < len;) {
        if (app && strncmp(text + i, "__APP_NAME__", 12) == 0) {
            fnh__buf_puts(&b, app);
            i += 12;
        } else if (name && strncmp(text + i, "__NAME__", 8) == 0) {
            fnh__buf_puts(&b, name);
            i += 8;
        } else {
            fnh__buf_append(&b, text + i, 1);
            i++;
        }
    }
    fnh__buf_append(&b, "", 0);
    *out_len = b.len;
    return b.data ? fnh__buf_take(&b) : fnh__strdup("");
}

/* Creates dir and its missing parents. 0 or a negative errno. */
static int mkdirs(const char *dir)
{
    char *p = fnh__strdup(dir);
    if (!p)
        return -ENOMEM;
    int rc = 0;
    for (char *s = p + 1;; s++) {
        char c = *s;
        if (c == '/' || c == '\0') {
            *s = '\0';
            if (mkdir(p, 0755) != 0 && errno != EEXIST)
                rc = -errno;
            *s = c;
        }
        if (!c || rc)
            break;
    }
    free(p);
    return rc;
}

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* Writes a new file (never replacing one: O_EXCL). 0 or a negative errno. */
static int write_new(const char *path, const char *data, size_t len, int mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return -errno;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            int e = -errno;
            close(fd);
            return e;
        }
        off += (size_t)w;
    }
    return close(fd) ? -errno : 0;
}

/* A file to write: where, and its rendered text. */
typedef struct out_file {
    char *path;  /* full path */
    char *shown; /* relative name for messages */
    char *data;
    size_t len;
    int mode;
} out_file;

static void out_files_free(out_file *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(f[i].path);
        free(f[i].shown);
        free(f[i].data);
    }
}

/* Refuses (one line on stderr, 1) when any target exists; else writes
 * them all, printing "Writing <name>" for each. 0, or 1 after saying why. */
static int write_all(const char *cmd, out_file *f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (exists(f[i].path)) {
            fprintf(stderr,
                    "fnhost %s: %s already exists; fnhost %s never overwrites files, so "
                    "nothing was written: remove it or choose another %s\n",
                    cmd, f[i].path, cmd, strcmp(cmd, "init") == 0 ? "folder" : "--name");
            return 1;
        }
    for (size_t i = 0; i < n; i++) {
        char *slash = strrchr(f[i].path, '/');
        int rc = 0;
        if (slash) {
            *slash = '\0';
            rc = mkdirs(f[i].path);
            *slash = '/';
        }
        if (!rc)
            rc = write_new(f[i].path, f[i].data, f[i].len, f[i].mode);
        if (rc) {
            fprintf(stderr, "fnhost %s: cannot write %s: %s\n", cmd, f[i].path, strerror(-rc));
            return 1;
        }
        printf("Writing %s\n", f[i].shown);
    }
    return 0;
}

static int add_file(out_file *f, size_t *n, const char *dir, const char *rel,
                    const fnh__embedded_file *src, const char *name, const char *app)
{
    for (size_t i = 0; i < *n; i++) /* a runtime's file replaces the common one */
        if (strcmp(f[i].shown, rel) == 0) {
            free(f[i].data);
            f[i].data = render(src->data, src->len, name, app, &f[i].len);
            return f[i].data ? 0 : -ENOMEM;
        }
    out_file *o = &f[(*n)++];
    o->shown = fnh__strdup(rel);
    o->path = fnh__asprintf("%s/%s", dir, rel);
    o->data = render(src->data, src->len, name, app, &o->len);
    size_t rl = strlen(rel);
    o->mode = (rl > 3 && strcmp(rel + rl - 3, ".py") == 0) ? 0755 : 0644;
    return o->shown && o->path && o->data ? 0 : -ENOMEM;
}

/* The app folder's name, usable as a package name (lower case, [a-z0-9-]). */
static char *app_name_of(const char *dir)
{
    char real[4096];
    const char *p = realpath(dir, real) ? real : dir;
    const char *base = strrchr(p, '/');
    base = base && base[1] ? base + 1 : p;
    char *s = fnh__strdup(*base && strcmp(base, "/") ? base : "app");
    for (char *c = s; c && *c; c++) {
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c + 32);
        else if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-'))
            *c = '-';
    }
    return s;
}

#define MAX_FILES 32

int fnh__cli_init(int argc, char **argv)
{
    const char *dir = NULL, *runtime = "native";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--worker-runtime") == 0 && i + 1 < argc) {
            runtime = runtime_of(argv[++i]);
            if (!runtime) {
                fprintf(stderr, "fnhost init: --worker-runtime: '%s' is not a runtime fnhost "
                                "scaffolds; use native, node or custom\n",
                        argv[i]);
                return 2;
            }
        } else if (argv[i][0] != '-' && !dir) {
            dir = argv[i];
        } else {
            fprintf(stderr, "fnhost init: unknown or incomplete option '%s'\n"
                            "usage: fnhost init [DIR] [--worker-runtime native|node|custom]\n",
                    argv[i]);
            return 2;
        }
    }
    if (!dir)
        dir = ".";
    const fnh__embedded_file *all[MAX_FILES], *own[MAX_FILES];
    size_t nall = files_under("app/all/", all, MAX_FILES);
    char prefix[64];
    snprintf(prefix, sizeof prefix, "app/%s/", runtime);
    size_t nown = files_under(prefix, own, MAX_FILES);
    int rc = mkdirs(dir);
    if (rc) {
        fprintf(stderr, "fnhost init: cannot create the folder %s: %s\n", dir, strerror(-rc));
        return 1;
    }
    char *app = app_name_of(dir);
    out_file files[2 * MAX_FILES] = {{0}};
    size_t n = 0;
    for (size_t i = 0; i < nall + nown && !rc; i++) {
        const fnh__embedded_file *src = i < nall ? all[i] : own[i - nall];
        const char *rel = src->path + (i < nall ? strlen("app/all/") : strlen(prefix));
        if (strcmp(rel, "gitignore") == 0)
            rel = ".gitignore";
        rc = add_file(files, &n, dir, rel, src, NULL, app);
    }
    if (rc) {
        fprintf(stderr, "fnhost init: out of memory\n");
        out_files_free(files, n);
        free(app);
        return 1;
    }
    rc = write_all("init", files, n);
    out_files_free(files, n);
    free(app);
    if (rc)
        return rc;
    printf("\nThe function app in %s is ready (worker runtime %s). Add a function with\n"
           "  fnhost new --template \"HTTP trigger\" --name hello%s%s\n"
           "(fnhost templates lists the templates)%s\n",
           dir, runtime, strcmp(dir, ".") ? " --script-root " : "", strcmp(dir, ".") ? dir : "",
           strcmp(runtime, "native") == 0 ? ", build it with make and run fnhost start" : "");
    return 0;
}

/* FUNCTIONS_WORKER_RUNTIME of root's local.settings.json, malloc'd, or
 * NULL when the file or the value is absent. */
static char *app_runtime(const char *root)
{
    fnh__local_settings ls = {0};
    char *out = NULL;
    if (fnh__settings_load(root, &ls) == 0) {
        static const char key[] = "FUNCTIONS_WORKER_RUNTIME=";
        for (size_t i = 0; i < ls.values.len && !out; i++)
            if (strncasecmp(ls.values.items[i], key, sizeof key - 1) == 0)
                out = fnh__strdup(ls.values.items[i] + sizeof key - 1);
    }
    fnh__settings_free(&ls);
    return out;
}

static void new_usage(void)
{
    fputs("usage: fnhost new --template NAME --name FUNCTION [--script-root DIR]\n"
          "                  [--worker-runtime native|node|custom]\n"
          "  (fnhost templates lists the template names)\n",
          stderr);
}

/* fnhost new's options; borrowed from argv. */
typedef struct new_args {
    const char *tname, *name, *root, *rt_arg;
} new_args;

/* Reads fnhost new's options into a; 0, or 2 (the exit status) after
 * saying what is wrong. */
static int parse_new_args(int argc, char **argv, new_args *a)
{
    *a = (new_args){.root = "."};
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        int has = i + 1 < argc;
        if ((strcmp(o, "--template") == 0 || strcmp(o, "-t") == 0) && has)
            a->tname = argv[++i];
        else if ((strcmp(o, "--name") == 0 || strcmp(o, "-n") == 0) && has)
            a->name = argv[++i];
        else if (strcmp(o, "--script-root") == 0 && has)
            a->root = argv[++i];
        else if (strcmp(o, "--worker-runtime") == 0 && has)
            a->rt_arg = argv[++i];
        else {
            fprintf(stderr, "fnhost new: unknown or incomplete option '%s'\n", o);
            new_usage();
            return 2;
        }
    }
    if (!a->tname || !a->name) {
        fprintf(stderr, "fnhost new: both --template and --name are required\n");
        new_usage();
        return 2;
    }
    return 0;
}

/* The runtime the new function is for: --worker-runtime, else the app's
 * FUNCTIONS_WORKER_RUNTIME, else native. NULL (static strings otherwise)
 * after saying why there is none. */
static const char *new_runtime(const new_args *a)
{
    char *from_app = a->rt_arg ? NULL : app_runtime(a->root);
    const char *runtime = runtime_of(a->rt_arg ? a->rt_arg : from_app ? from_app : "native");
    if (!runtime && a->rt_arg)
        fprintf(stderr, "fnhost new: --worker-runtime: '%s' is not a runtime fnhost "
                        "scaffolds; use native, node or custom\n",
                a->rt_arg);
    else if (!runtime)
        fprintf(stderr, "fnhost new: %s/local.settings.json: Values.FUNCTIONS_WORKER_RUNTIME "
                        "is '%s', for which fnhost has no templates; set it to native, node "
                        "or custom, or pass --worker-runtime\n",
                a->root, from_app);
    free(from_app);
    return runtime;
}

/* Writes the function folder root/name from the template files under
 * prefix; never overwrites. 0, or 1 (the exit status) after saying why. */
static int write_function(const char *root, const char *name, const char *prefix)
{
    const fnh__embedded_file *src[MAX_FILES];
    size_t nsrc = files_under(prefix, src, MAX_FILES);
    char *dir = fnh__asprintf("%s/%s", root, name);
    if (!dir)
        return 1;
    if (exists(dir)) {
        fprintf(stderr, "fnhost new: %s already exists; fnhost new never overwrites files, so "
                        "nothing was written: choose another --name or remove the folder\n",
                dir);
        free(dir);
        return 1;
    }
    out_file files[MAX_FILES] = {{0}};
    size_t n = 0;
    int rc = 0;
    for (size_t i = 0; i < nsrc && !rc; i++) {
        size_t len;
        char *rel = render(src[i]->path + strlen(prefix), strlen(src[i]->path + strlen(prefix)),
                           name, NULL, &len);
        char *shown = rel ? fnh__asprintf("%s/%s", name, rel) : NULL;
        rc = shown ? add_file(files, &n, root, shown, src[i], name, NULL) : -ENOMEM;
        free(rel);
        free(shown);
    }
    if (!rc)
        rc = write_all("new", files, n);
    else
        fprintf(stderr, "fnhost new: out of memory\n");
    out_files_free(files, n);
    free(dir);
    return rc ? 1 : 0;
}

int fnh__cli_new(int argc, char **argv)
{
    new_args a;
    int rc = parse_new_args(argc, argv, &a);
    if (rc)
        return rc;
    const tmpl *t = find_template(a.tname);
    if (!t) {
        fprintf(stderr, "fnhost new: --template: '%s' is not a template; use one of \"HTTP "
                        "trigger\", \"Timer trigger\", \"Azure Queue Storage trigger\", "
                        "\"Azure Blob Storage trigger\" (or http, timer, queue, blob)\n",
                a.tname);
        return 2;
    }
    if (!fnh__function_name_valid(a.name)) {
        fprintf(stderr, "fnhost new: --name: '%s' is not a valid function name; start with a "
                        "letter and use only letters, digits, '-' and '_' (and not 'host')\n",
                a.name);
        return 2;
    }
    char *hj = fnh__asprintf("%s/host.json", a.root);
    int have_app = hj && exists(hj);
    free(hj);
    if (!have_app) {
        fprintf(stderr, "fnhost new: %s has no host.json, so it is not a function app; create "
                        "one with fnhost init %s, or pass the app's folder with --script-root\n",
                a.root, a.root);
        return 1;
    }
    const char *runtime = new_runtime(&a);
    if (!runtime)
        return 2;
    char prefix[64];
    snprintf(prefix, sizeof prefix, "function/%s-%s/", t->id, runtime);
    if (write_function(a.root, a.name, prefix))
        return 1;
    printf("The function \"%s\" was created successfully from the \"%s\" template.\n", a.name,
           t->name);
    if (strcmp(runtime, "native") == 0)
        printf("Build it with make in %s (the app's Makefile), then run fnhost start.\n", a.root);
    return 0;
}

int fnh__cli_templates(int argc, char **argv)
{
    int json = argc == 2 && strcmp(argv[1], "--json") == 0;
    if (argc > 1 && !json) {
        fprintf(stderr, "usage: fnhost templates [--json]\n");
        return 2;
    }
    fnh__buf b = {0};
    if (json)
        fnh__buf_puts(&b, "[");
    else
        fnh__buf_printf(&b, "%-30s %-8s %-8s %-13s %s\n", "TEMPLATE", "SHORT", "RUNTIME",
                        "TRIGGER", "FILES");
    int first = 1;
    for (size_t r = 0; g_runtimes[r]; r++)
        for (size_t i = 0; i < NTEMPLATES; i++) {
            const tmpl *t = &g_templates[i];
            char prefix[64];
            snprintf(prefix, sizeof prefix, "function/%s-%s/", t->id, g_runtimes[r]);
            const fnh__embedded_file *src[MAX_FILES];
            size_t n = files_under(prefix, src, MAX_FILES);
            if (!n)
                continue;
            if (json) {
                fnh__buf_puts(&b, first ? "\n  {\"name\": " : ",\n  {\"name\": ");
                fnh__json_str_or_null(&b, t->name);
                fnh__buf_printf(&b, ", \"short\": \"%s\", \"alias\": \"%s\", \"runtime\": \"%s\","
                                    " \"trigger\": \"%s\", \"files\": [",
                                t->id, t->alias, g_runtimes[r], t->trigger);
            } else {
                fnh__buf_printf(&b, "%-30s %-8s %-8s %-13s ", t->name, t->id, g_runtimes[r],
                                t->trigger);
            }
            for (size_t k = 0; k < n; k++) {
                const char *p = src[k]->path + strlen(prefix);
                size_t len;
                char *rel = render(p, strlen(p), "<name>", NULL, &len);
                if (json) {
                    fnh__buf_puts(&b, k ? ", " : "");
                    fnh__json_str_or_null(&b, rel ? rel : "");
                } else {
                    fnh__buf_printf(&b, "%s%s", k ? " " : "", rel ? rel : "");
                }
                free(rel);
            }
            fnh__buf_puts(&b, json ? "]}" : "\n");
            first = 0;
        }
    if (json)
        fnh__buf_puts(&b, "\n]\n");
    fputs(b.data ? b.data : "", stdout);
    fnh__buf_free(&b);
    return 0;
}
