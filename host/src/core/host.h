/* host.h: the running host: the loaded app, the loop, the HTTP server and
 * what the admin API reports. One per process; loop thread only. */
#ifndef FNH_HOST_H
#define FNH_HOST_H

#include <stdint.h>
#include <uv.h>

#include "app.h"
#include "http_server.h"

/* The Executing line's reason for HTTP and admin-API invocations (Azure's). */
#define FNH__REASON_HOST_API "This function was programmatically called via the host APIs."

typedef struct fnh__host {
    fnh__app *app;
    uv_loop_t *loop;
    fnh__http_server *http;
    int port;
    char base_url[96]; /* "http://localhost:7071" */
    uint64_t start_ns;
    const char *state; /* "Running", "Stopping" */
} fnh__host;

/* Handles one HTTP request: admin API, home page, CORS, then the function
 * routes. Matches fnh__http_handler; arg is the fnh__host. */
void fnh__http_trigger_handle(void *arg, fnh__http_exchange *x, fnh__http_req *req);
/* Handles /admin/...; returns 1 when the path belongs to the admin API (and
 * a response was or will be sent), 0 otherwise. Takes req when it returns 1. */
int fnh__admin_handle(fnh__host *h, fnh__http_exchange *x, fnh__http_req *req);
/* Sends a response with a JSON or text body (copied). */
void fnh__respond_simple(fnh__http_exchange *x, int status, const char *content_type,
                         const char *body, size_t len);
/* Invokes fn with a payload (copied) for the admin API; the HTTP trigger
 * gets a synthetic POST with the payload as its body. */
int fnh__invoke_with_payload(fnh__host *h, fnh__function *fn, const char *payload, size_t len,
                             const char *content_type, const char *reason);

#endif
