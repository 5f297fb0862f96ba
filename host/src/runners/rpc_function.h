/* rpc_function.h: a function as the worker protocol describes it: the host
 * turns an fnh__function into a FunctionLoadRequest (RpcFunctionMetadata:
 * name, folder, script file, entry point, bindings, raw function.json
 * bindings); the child rebuilds an fnh__function from it and answers a
 * FunctionLoadResponse. Any thread. May call: rpc_frame, app, util. */
#ifndef FNH_RPC_FUNCTION_H
#define FNH_RPC_FUNCTION_H

#include "app.h"
#include "rpc_frame.h"

typedef AzureFunctionsRpcMessages__FunctionLoadRequest fnh__rpc_load_request;

/* Appends the framed FunctionLoadRequest for fn, known to the worker as
 * function_id, to out. Returns 0, -ENOMEM or -EMSGSIZE. */
int fnh__rpc_encode_load(const fnh__function *fn, const char *function_id, fnh__buf *out);
/* The same for a function run by another runner (a language worker): its
 * script file, entry point and language as given (borrowed). */
int fnh__rpc_encode_load_as(const fnh__function *fn, const char *function_id,
                            const char *script_file, const char *entry_point,
                            const char *language, fnh__buf *out);

/* The function rq describes (child side): name, folder, "<name>/function.json"
 * for messages, a config holding scriptFile and entryPoint, bindings with
 * trigger and HTTP output found. Its code is not loaded: the caller runs
 * fnh__native_resolve(fn, 1). NULL when out of memory. Free with
 * fnh__rpc_function_free. */
fnh__function *fnh__rpc_function_new(const fnh__rpc_load_request *rq);
void fnh__rpc_function_free(fnh__function *fn);

/* Appends the framed FunctionLoadResponse: Success when error is NULL, else
 * Failure with error as the exception message. */
int fnh__rpc_encode_load_response(const char *function_id, const char *error, fnh__buf *out);

#endif
