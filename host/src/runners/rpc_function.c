/* rpc_function.c: fnh__function <-> FunctionLoadRequest, and the
 * FunctionLoadResponse a child answers with. */
#include "rpc_function.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "arena.h"
#include "function_native.h"

#define PB(x) AzureFunctionsRpcMessages__##x
#define DIR_(d) AZURE_FUNCTIONS_RPC_MESSAGES__BINDING_INFO__DIRECTION__##d
#define S(s) ((char *)(s))

int fnh__rpc_encode_load(const fnh__function *fn, const char *function_id, fnh__buf *out)
{
    /* absolute, so the worker needs neither our folder nor our cwd */
    const fnh__native_code *code = fn->runner_state;
    char abs[PATH_MAX];
    const char *script = !code                                  ? ""
                         : realpath(code->script_path, abs) ? abs
                                                             : code->script_path;
    return fnh__rpc_encode_load_as(fn, function_id, script, code ? code->entry_name : "run",
                                   "native", out);
}

int fnh__rpc_encode_load_as(const fnh__function *fn, const char *function_id,
                            const char *script_file, const char *entry_point,
                            const char *language, fnh__buf *out)
{
    fnh__arena a = {0};
    PB(FunctionLoadRequest) rq = AZURE_FUNCTIONS_RPC_MESSAGES__FUNCTION_LOAD_REQUEST__INIT;
    PB(RpcFunctionMetadata) md = AZURE_FUNCTIONS_RPC_MESSAGES__RPC_FUNCTION_METADATA__INIT;
    rq.function_id = S(function_id);
    rq.metadata = &md;
    md.name = fn->name;
    md.function_id = S(function_id);
    md.directory = fn->dir ? fn->dir : S("");
    md.script_file = S(script_file ? script_file : "");
    md.entry_point = S(entry_point ? entry_point : "");
    md.language = S(language);
    size_t n = fn->nbindings;
    md.bindings = fnh__arena_alloc(&a, (n + 1) * sizeof *md.bindings);
    md.raw_bindings = fnh__arena_alloc(&a, (n + 1) * sizeof *md.raw_bindings);
    PB(RpcFunctionMetadata__BindingsEntry) *entries = fnh__arena_alloc(&a, (n + 1) * sizeof *entries);
    PB(BindingInfo) *infos = fnh__arena_alloc(&a, (n + 1) * sizeof *infos);
    char **raw = calloc(n + 1, sizeof *raw); /* cJSON's strings, freed below */
    for (size_t i = 0; !a.failed && raw && i < n; i++) {
        const fnh__binding *b = &fn->bindings[i];
        azure_functions_rpc_messages__rpc_function_metadata__bindings_entry__init(&entries[i]);
        azure_functions_rpc_messages__binding_info__init(&infos[i]);
        infos[i].type = b->type ? b->type : S("");
        infos[i].direction = b->direction == (FNH__DIR_IN | FNH__DIR_OUT) ? DIR_(inout)
                             : b->direction & FNH__DIR_OUT                ? DIR_(out)
                                                                          : DIR_(in);
        entries[i].key = b->name ? b->name : S("");
        entries[i].value = &infos[i];
        md.bindings[md.n_bindings++] = &entries[i];
        if (b->json && (raw[i] = cJSON_PrintUnformatted(b->json)))
            md.raw_bindings[md.n_raw_bindings++] = raw[i];
    }
    int rc = -ENOMEM;
    if (!a.failed && raw) {
        fnh__rpc_msg m = AZURE_FUNCTIONS_RPC_MESSAGES__STREAMING_MESSAGE__INIT;
        m.content_case = AZURE_FUNCTIONS_RPC_MESSAGES__STREAMING_MESSAGE__CONTENT_FUNCTION_LOAD_REQUEST;
        m.function_load_request = &rq;
        rc = fnh__rpc_frame_append(out, &m);
    }
    for (size_t i = 0; raw && i < n; i++)
        cJSON_free(raw[i]);
    free(raw);
    fnh__arena_free(&a);
    return rc;
}

static int ends_with_ci(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

fnh__function *fnh__rpc_function_new(const fnh__rpc_load_request *rq)
{
    const PB(RpcFunctionMetadata) *md = rq->metadata;
    fnh__function *fn = calloc(1, sizeof *fn);
    if (!fn)
        return NULL;
    const char *name = md && *md->name ? md->name : rq->function_id;
    fn->name = fnh__strdup(name);
    fn->dir = fnh__strdup(md ? md->directory : "");
    fn->config_file = fnh__asprintf("%s/function.json", name);
    fn->log_category = fnh__asprintf("Function.%s", name);
    fn->config = cJSON_CreateObject();
    int ok = fn->name && fn->dir && fn->config_file && fn->log_category && fn->config;
    fn->name_len = fn->name ? strlen(fn->name) : 0;
    if (ok && md && *md->script_file)
        ok = cJSON_AddStringToObject(fn->config, "scriptFile", md->script_file) != NULL;
    if (ok && md && *md->entry_point)
        ok = cJSON_AddStringToObject(fn->config, "entryPoint", md->entry_point) != NULL;
    size_t n = md ? md->n_bindings : 0;
    fn->bindings = calloc(n + 1, sizeof *fn->bindings);
    ok = ok && fn->bindings;
    for (size_t i = 0; ok && i < n; i++) {
        const PB(RpcFunctionMetadata__BindingsEntry) *e = md->bindings[i];
        fnh__binding *b = &fn->bindings[fn->nbindings++];
        b->index = (int)i;
        b->name = fnh__strdup(e->key);
        b->type = fnh__strdup(e->value ? e->value->type : "");
        int d = e->value ? (int)e->value->direction : DIR_(in);
        b->direction = d == DIR_(inout) ? FNH__DIR_IN | FNH__DIR_OUT
                       : d == DIR_(out) ? FNH__DIR_OUT
                                        : FNH__DIR_IN;
        ok = b->name && b->type;
        if (!ok)
            break;
        b->is_trigger = (b->direction & FNH__DIR_IN) && ends_with_ci(b->type, "Trigger");
        if (b->is_trigger && !fn->trigger)
            fn->trigger = b;
    }
    if (!ok) {
        fnh__rpc_function_free(fn);
        return NULL;
    }
    return fn;
}

void fnh__rpc_function_free(fnh__function *fn)
{
    if (fn)
        fnh__function_free(fn); /* runner_release unloads its .so, when loaded */
}

int fnh__rpc_encode_load_response(const char *function_id, const char *error, fnh__buf *out)
{
    PB(FunctionLoadResponse) rs = AZURE_FUNCTIONS_RPC_MESSAGES__FUNCTION_LOAD_RESPONSE__INIT;
    PB(StatusResult) res = AZURE_FUNCTIONS_RPC_MESSAGES__STATUS_RESULT__INIT;
    PB(RpcException) ex = AZURE_FUNCTIONS_RPC_MESSAGES__RPC_EXCEPTION__INIT;
    rs.function_id = S(function_id);
    rs.result = &res;
    res.status = error ? AZURE_FUNCTIONS_RPC_MESSAGES__STATUS_RESULT__STATUS__Failure
                       : AZURE_FUNCTIONS_RPC_MESSAGES__STATUS_RESULT__STATUS__Success;
    if (error) {
        ex.message = S(error);
        res.exception = &ex;
    }
    fnh__rpc_msg m = AZURE_FUNCTIONS_RPC_MESSAGES__STREAMING_MESSAGE__INIT;
    m.content_case = AZURE_FUNCTIONS_RPC_MESSAGES__STREAMING_MESSAGE__CONTENT_FUNCTION_LOAD_RESPONSE;
    m.function_load_response = &rs;
    return fnh__rpc_frame_append(out, &m);
}
