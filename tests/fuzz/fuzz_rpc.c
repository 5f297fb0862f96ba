/* fuzz_rpc.c: libFuzzer target for the worker protocol's reader
 * (rpc_frame.c, rpc_read.c). Input: one StreamingMessage's bytes, framed
 * here and read as a language worker's or isolated child's message would
 * be: any bytes must give a message or an error, never a crash, leak or
 * read outside the input; a message read must be whole (every string
 * NUL-terminated, every array as long as its count). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rpc_frame.h"

#define PB(x) AzureFunctionsRpcMessages__##x

static size_t g_sink;

static void touch(const char *s)
{
    g_sink += s ? strlen(s) : 0;
}

static void touch_typed(const PB(TypedData) *td)
{
    if (!td)
        return;
    switch (td->data_case) {
    case AZURE_FUNCTIONS_RPC_MESSAGES__TYPED_DATA__DATA_STRING:
    case AZURE_FUNCTIONS_RPC_MESSAGES__TYPED_DATA__DATA_JSON:
        touch(td->string);
        break;
    case AZURE_FUNCTIONS_RPC_MESSAGES__TYPED_DATA__DATA_BYTES:
    case AZURE_FUNCTIONS_RPC_MESSAGES__TYPED_DATA__DATA_STREAM:
        for (size_t i = 0; i < td->bytes.len; i++)
            g_sink += td->bytes.data[i];
        break;
    case AZURE_FUNCTIONS_RPC_MESSAGES__TYPED_DATA__DATA_HTTP: {
        const PB(RpcHttp) *h = td->http;
        touch(h->method), touch(h->url), touch(h->status_code);
        for (size_t i = 0; i < h->n_headers; i++)
            touch(h->headers[i]->key), touch(h->headers[i]->value);
        for (size_t i = 0; i < h->n_nullable_headers; i++) {
            touch(h->nullable_headers[i]->key);
            if (h->nullable_headers[i]->value)
                touch(h->nullable_headers[i]->value->value);
        }
        for (size_t i = 0; i < h->n_nullable_query; i++)
            touch(h->nullable_query[i]->key);
        for (size_t i = 0; i < h->n_nullable_params; i++)
            touch(h->nullable_params[i]->key);
        touch_typed(h->body);
        break;
    }
    default:
        break;
    }
}

static void touch_binding(const PB(ParameterBinding) *pb)
{
    touch(pb->name);
    if (pb->rpc_data_case == AZURE_FUNCTIONS_RPC_MESSAGES__PARAMETER_BINDING__RPC_DATA_DATA)
        touch_typed(pb->data);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fnh__buf b = {0};
    unsigned char h[FNH__RPC_HEADER];
    fnh__rpc_frame_header(h, size);
    fnh__buf_append(&b, h, sizeof h);
    fnh__buf_append(&b, data, size);
    fnh__rpc_reader r;
    fnh__rpc_reader_init(&r, 0);
    char *p;
    size_t room = fnh__rpc_reader_space(&r, &p);
    if (room >= b.len) {
        memcpy(p, b.data, b.len);
        fnh__rpc_reader_commit(&r, b.len);
        fnh__rpc_msg *m = NULL;
        if (fnh__rpc_reader_next(&r, &m) == 1 && m) {
            if (m->content_case ==
                AZURE_FUNCTIONS_RPC_MESSAGES__STREAMING_MESSAGE__CONTENT_INVOCATION_REQUEST) {
                const PB(InvocationRequest) *q = m->invocation_request;
                touch(q->invocation_id), touch(q->function_id);
                for (size_t i = 0; i < q->n_input_data; i++)
                    touch_binding(q->input_data[i]);
                for (size_t i = 0; i < q->n_trigger_metadata; i++)
                    touch(q->trigger_metadata[i]->key), touch_typed(q->trigger_metadata[i]->value);
                if (q->retry_context && q->retry_context->exception)
                    touch(q->retry_context->exception->message);
            } else if (m->content_case ==
                       AZURE_FUNCTIONS_RPC_MESSAGES__STREAMING_MESSAGE__CONTENT_INVOCATION_RESPONSE) {
                const PB(InvocationResponse) *rs = m->invocation_response;
                touch(rs->invocation_id);
                for (size_t i = 0; i < rs->n_output_data; i++)
                    touch_binding(rs->output_data[i]);
                touch_typed(rs->return_value);
                if (rs->result && rs->result->exception)
                    touch(rs->result->exception->message), touch(rs->result->exception->type);
            }
            fnh__rpc_msg_free(m);
        }
    }
    fnh__rpc_reader_free(&r);
    fnh__buf_free(&b);
    return 0;
}
