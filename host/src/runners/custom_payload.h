/* custom_payload.h: the bytes of Azure's custom-handler protocol: an
 * invocation as "POST /<function>" with {"Data", "Metadata"}, the answer
 * {"Outputs", "Logs", "ReturnValue"} applied to the invocation, and the
 * forwarding mode's replay of an HTTP request and relay of the response.
 * Any thread owning the invocation. May call: invocation, http_types,
 * json, log, util, http_client (its response type). */
#ifndef FNH_CUSTOM_PAYLOAD_H
#define FNH_CUSTOM_PAYLOAD_H

#include "http_client.h"
#include "invocation.h"

/* 1 when fn's bindings are exactly one httpTrigger input and one http
 * output: the functions forwarding mode replays as they came. */
int fnh__chp_forwardable(const fnh__function *fn);

/* Appends to out the complete request of inv in the default mode: POST
 * /<function name> to 127.0.0.1:port, JSON {"Data", "Metadata"}, and the
 * headers Azure sends (X-Azure-Functions-InvocationId,
 * X-Azure-Functions-HostVersion, User-Agent). 0 or -ENOMEM. */
int fnh__chp_request(fnh__invocation *inv, int port, fnh__buf *out);

/* Appends to out inv's HTTP request replayed as it came (method, target,
 * headers without hop-by-hop ones, body) plus Azure's headers. 0 or
 * -ENOMEM. */
int fnh__chp_forward_request(fnh__invocation *inv, fnh__buf *out);

/* Applies the handler's answer to a default-mode request: a non-2xx status
 * or a body that is not the JSON answer fails the invocation (inv->rc =
 * -EIO); else "Logs" go to the log under "Function.<name>.User" and
 * "Outputs" / "ReturnValue" become the outputs (an "http" output parsed as
 * {statusCode|status, body, headers}). *error receives a malloc'd message
 * to log when the invocation failed or an output was refused, else NULL. */
void fnh__chp_apply(fnh__invocation *inv, const fnh__hc_response *res, char **error);

/* Applies a forwarded request's response: status, headers (hop-by-hop
 * ones dropped) and body become fn's http output as they are. *error as
 * above. */
void fnh__chp_apply_forwarded(fnh__invocation *inv, const fnh__hc_response *res, char **error);

#endif
