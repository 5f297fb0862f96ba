/* admin_vfs.c: GET /admin/vfs/{path}: read-only access to the files under
 * the app root, as the /admin/functions links (script_href, config_href)
 * point there. A file answers its bytes, a folder a JSON listing in the
 * shape of Azure's VFS API. ".." segments and paths that resolve outside
 * the root (through a symlink) are refused with 403; missing ones are 404. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "admin_internal.h"
#include "util.h"

#define VFS_MAX_FILE (64u << 20) /* larger files: 413 */

/* 1 when the decoded path has a ".." segment (or a NUL byte). */
static int has_dotdot(const char *rel, size_t n)
{
    if (memchr(rel, '\0', n))
        return 1;
    const char *p = rel, *end = rel + n;
    while (p < end) {
        const char *slash = memchr(p, '/', (size_t)(end - p));
        size_t len = slash ? (size_t)(slash - p) : (size_t)(end - p);
        if (len == 2 && p[0] == '.' && p[1] == '.')
            return 1;
        p += len + 1;
    }
    return 0;
}

static const char *mime_of(const char *path)
{
    const char *dot = strrchr(path, '.');
    static const char *const map[][2] = {
        {".json", "application/json"}, {".js", "application/javascript"},
        {".html", "text/html"},        {".htm", "text/html"},
        {".txt", "text/plain"},        {".md", "text/markdown"},
        {".c", "text/plain"},          {".h", "text/plain"},
        {".py", "text/plain"},         {".sh", "text/plain"},
    };
    for (size_t i = 0; dot && i < sizeof map / sizeof *map; i++)
        if (strcasecmp(dot, map[i][0]) == 0)
            return map[i][1];
    return "application/octet-stream";
}

static void iso_time(time_t t, char out[32])
{
    fnh__iso_utc((int64_t)t * 1000, out);
}

/* A folder's listing: [{"name","size","mtime","mime","href","path"}]. */
static void listing(fnh__host *h, fnh__http_exchange *x, const char *real, const char *rel)
{
    DIR *d = opendir(real);
    if (!d) {
        fnh__http_respond_simple(x, 404, NULL, NULL, 0);
        return;
    }
    cJSON *a = cJSON_CreateArray();
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *full = fnh__asprintf("%s/%s", real, e->d_name);
        struct stat st;
        if (!full || lstat(full, &st)) {
            free(full);
            continue;
        }
        int dir = S_ISDIR(st.st_mode);
        char when[32];
        iso_time(st.st_mtime, when);
        char *relp = fnh__asprintf("%s%s%s%s", rel, *rel ? "/" : "", e->d_name, dir ? "/" : "");
        char *href = relp ? fnh__asprintf("%s/admin/vfs/%s", h->base_url, relp) : NULL;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", e->d_name);
        cJSON_AddNumberToObject(o, "size", dir ? 0 : (double)st.st_size);
        cJSON_AddStringToObject(o, "mtime", when);
        cJSON_AddStringToObject(o, "mime", dir ? "inode/directory" : mime_of(e->d_name));
        cJSON_AddStringToObject(o, "href", href ? href : "");
        cJSON_AddStringToObject(o, "path", relp ? relp : "");
        cJSON_AddItemToArray(a, o);
        free(href);
        free(relp);
        free(full);
    }
    closedir(d);
    fnh__admin_respond_json(x, 200, a);
}

static void file(fnh__http_exchange *x, const char *real, const struct stat *st)
{
    if ((uint64_t)st->st_size > VFS_MAX_FILE) {
        fnh__admin_respond_error(x, 413, "the file is larger than 64 MiB");
        return;
    }
    char *data = NULL;
    size_t len = 0;
    int rc = fnh__read_file(real, &data, &len);
    if (rc) {
        fnh__http_respond_simple(x, rc == -ENOENT ? 404 : rc == -EACCES ? 403 : 500, NULL, NULL, 0);
        return;
    }
    fnh__http_respond_simple(x, 200, mime_of(real), data, len);
    free(data);
}

void fnh__admin_vfs(fnh__host *h, fnh__http_exchange *x, fnh__http_req *req, const char *rel_raw)
{
    if (!(req->method & (FNH__M_GET | FNH__M_HEAD))) {
        fnh_kv allow[] = {{"Allow", "GET, HEAD"}};
        fnh__http_response r = {.status = 405, .headers = allow, .nheaders = 1};
        fnh__http_respond(x, &r);
        return;
    }
    size_t n = strlen(rel_raw);
    char *rel = malloc(n + 1);
    char root[PATH_MAX], real[PATH_MAX];
    if (!rel) {
        fnh__http_respond_simple(x, 500, NULL, NULL, 0);
        return;
    }
    n = fnh__url_decode(rel_raw, n, rel, 0);
    if (has_dotdot(rel, n)) {
        fnh__admin_respond_error(x, 403, "'..' is not allowed in a vfs path");
        free(rel);
        return;
    }
    rel[n] = '\0';
    while (n && rel[n - 1] == '/')
        rel[--n] = '\0';
    char *target = NULL;
    if (!realpath(h->app->root, root) || !(target = fnh__asprintf("%s/%s", root, rel))) {
        fnh__http_respond_simple(x, 500, NULL, NULL, 0);
    } else if (!realpath(target, real)) {
        fnh__http_respond_simple(x, errno == EACCES ? 403 : 404, NULL, NULL, 0);
    } else if (strncmp(real, root, strlen(root)) != 0 ||
               (real[strlen(root)] != '\0' && real[strlen(root)] != '/')) {
        fnh__admin_respond_error(x, 403, "the path leads outside the app root");
    } else {
        struct stat st;
        if (stat(real, &st))
            fnh__http_respond_simple(x, 404, NULL, NULL, 0);
        else if (S_ISDIR(st.st_mode))
            listing(h, x, real, rel);
        else if (S_ISREG(st.st_mode))
            file(x, real, &st);
        else
            fnh__admin_respond_error(x, 403, "only files and folders can be read");
    }
    free(target);
    free(rel);
}
