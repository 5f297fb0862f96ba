/* admin_internal.h: what the files of the admin API share: JSON answers
 * (admin_respond.c) and the handlers admin.c routes to (keys, invoke, vfs).
 * Loop thread. */
#ifndef FNH_ADMIN_INTERNAL_H
#define FNH_ADMIN_INTERNAL_H

#include "host.h"
#include "strlist.h"

struct cJSON;

/* Answers status with doc as JSON; takes doc (freed). */
void fnh__admin_respond_json(fnh__http_exchange *x, int status, struct cJSON *doc);
/* Answers status with {"error": msg}. msg is borrowed. */
void fnh__admin_respond_error(fnh__http_exchange *x, int status, const char *msg);
/* A JSON array of the strings of l (caller owns it). */
struct cJSON *fnh__admin_errors_array(const fnh__strlist *l);

/* /admin/host/{keys|functionkeys|systemkeys}[/{name}] (fn NULL, scope the
 * segment) and /admin/functions/{fn}/keys[/{name}] (scope "keys"); name is
 * still percent-encoded, NULL for the list. req is borrowed. */
void fnh__admin_keys(fnh__host *h, fnh__http_exchange *x, fnh__http_req *req, const char *fn,
                     const char *scope, const char *name);
/* POST /admin/functions/{name}: 202 and the run in the background, or with
 * ?wait=true 200 once it ended, with its status, outputs and log lines.
 * req is borrowed. */
void fnh__admin_invoke(fnh__host *h, fnh__http_exchange *x, fnh__function *fn,
                       fnh__http_req *req);
/* GET /admin/vfs/{path}: a file (or a folder's listing) under the app root,
 * read-only. rel is the path after "/admin/vfs/", still percent-encoded. */
void fnh__admin_vfs(fnh__host *h, fnh__http_exchange *x, fnh__http_req *req, const char *rel);

#endif
