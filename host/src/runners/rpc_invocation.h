/* rpc_invocation.h: the codec between an invocation (fnh__invocation) and
 * the worker protocol's InvocationRequest / InvocationResponse. The host
 * side turns an invocation into a request and applies a response to it;
 * the child side rebuilds an invocation the function API can serve from a
 * request and reports its outputs as a response. Language workers get the
 * same mapping: the HTTP trigger as TypedData.http = RpcHttp{method,
 * absolute url, nullable_headers, nullable_query, nullable_params, body as
 * bytes}, other values as TypedData string/json/bytes by content type, an
 * HTTP output as RpcHttp{status_code, headers, body}. Any thread owning the
 * invocation. May call: rpc_frame, rpc_write, invocation (the function API table),
 * http_types, http_router, util. */
#ifndef FNH_RPC_INVOCATION_H
#define FNH_RPC_INVOCATION_H

#include "invocation.h"
#include "rpc_frame.h"

typedef AzureFunctionsRpcMessages__InvocationRequest fnh__rpc_invocation_request;
typedef AzureFunctionsRpcMessages__InvocationResponse fnh__rpc_invocation_response;

/* ---- host side ---------------------------------------------------------- */

/* Appends the framed InvocationRequest for inv to out: invocation_id,
 * function_id, the trigger (named by its binding) and one ParameterBinding
 * per extension input (no data when the input has no value), trigger
 * metadata from inv->meta (the host's own "$" keys left out). A content
 * type that TypedData cannot express travels as trigger metadata
 * "$ContentType" (trigger) or "$ContentType.<input name>". Parses inv's
 * query string. Returns 0, -ENOMEM or -EMSGSIZE. */
int fnh__rpc_encode_invocation(fnh__invocation *inv, const char *function_id, fnh__buf *out);
/* The same; for_worker: as Azure sends it to a language worker, HTTP header
 * names in lower case and each route value also as trigger metadata (a
 * Node v3 function's bindingData). */
int fnh__rpc_encode_invocation_for(fnh__invocation *inv, const char *function_id,
                                   int for_worker, fnh__buf *out);

/* Applies an InvocationResponse to inv: sets inv->rc (0; -N when the
 * exception's type is "errno:N"; -ECANCELED when cancelled; else -EIO) and,
 * on success, the outputs through the function API (so names, statuses and
 * headers are checked as for an in-process function). *error receives a
 * malloc'd message to log when the response carries more than an errno's
 * text (an exception message and stack trace, or an output the function
 * cannot set), else NULL. Returns 0 or -ENOMEM. */
int fnh__rpc_apply_response(fnh__invocation *inv, const fnh__rpc_invocation_response *rs,
                            char **error);

/* ---- child side --------------------------------------------------------- */

/* The invocation rq describes, for fn (as loaded in the child): id, the
 * HTTP request (target, path, query, headers, body) or payload, route
 * values, trigger metadata and extension input values. Caller owns *out
 * (fnh__invocation_free). Returns 0, -ENOMEM, or -EPROTO when the trigger
 * value is missing or malformed. */
int fnh__rpc_decode_invocation(const fnh__rpc_invocation_request *rq, fnh__function *fn,
                               fnh__invocation **out);

/* Appends the framed InvocationResponse for inv after its entry point
 * returned rc (0 or a negative errno): Success with every output set
 * (HTTP outputs as RpcHttp, "$return" as return_value), or Failure with
 * exception {message: strerror, type: "errno:N"}. Returns 0, -ENOMEM or
 * -EMSGSIZE. */
int fnh__rpc_encode_response(const fnh__invocation *inv, int rc, fnh__buf *out);

/* Appends a framed Failure InvocationResponse for an invocation that could
 * not run (rc < 0, message: why, e.g. the load error). */
int fnh__rpc_encode_failure(const char *invocation_id, int rc, const char *message,
                            fnh__buf *out);

#endif
