/* admin.h: the admin API under /admin, served through the front door's
 * admin hook (host.h). Loop thread. */
#ifndef FNH_ADMIN_H
#define FNH_ADMIN_H

#include "host.h"

/* Handles /admin/...; returns 1 when the path belongs to the admin API (and
 * a response was or will be sent), 0 otherwise. Takes req when it returns 1.
 * Matches fnh__admin_fn. */
int fnh__admin_handle(fnh__host *h, fnh__http_exchange *x, fnh__http_req *req);

/* Installs the hook POST /admin/host/restart calls (after answering) to
 * reload the app; NULL (the default) answers 501. Start-up, loop thread. */
void fnh__admin_set_restart(void (*hook)(void));

#endif
