/* host.h: the running host as the HTTP front door sees it: the loaded app,
 * the loop, the HTTP server, the admin API's handler and what it reports.
 * One per process; loop thread only. */
#ifndef FNH_HOST_H
#define FNH_HOST_H

#include <stdint.h>
#include <uv.h>

#include "app.h"
#include "http_server.h"
#include "secrets.h"

typedef struct fnh__host fnh__host;

/* Handles /admin/...; returns 1 when the path belongs to the admin API (and
 * a response was or will be sent), 0 otherwise. Takes req when it returns 1. */
typedef int (*fnh__admin_fn)(fnh__host *h, fnh__http_exchange *x, fnh__http_req *req);

struct fnh__host {
    fnh__app *app;
    fnh__admin_fn admin; /* set by whoever serves the admin API */
    uv_loop_t *loop;
    fnh__http_server *http;
    int port;
    char base_url[96]; /* "http://localhost:7071" */
    uint64_t start_ns;
    fnh__secrets *secrets; /* the app's keys (the key API; authorization) */
    int auth;              /* --enable-auth: authLevel and the admin API's master key apply */
    const char *state; /* "Running", "Offline", "Stopping" */
    /* app_offline.htm's content while the file is in the app root (owned by
     * the reload part, cli/reload.c), else NULL: every request but the
     * admin API's gets 503 with it */
    const char *offline_html;
    size_t offline_len;
};

/* Handles one HTTP request: admin API, home page, CORS, then the function
 * routes. Matches fnh__http_handler; arg is the fnh__host. */
void fnh__http_trigger_handle(void *arg, fnh__http_exchange *x, fnh__http_req *req);

#endif
