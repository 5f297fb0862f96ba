/* fuzz_host_json.c: libFuzzer target for the host.json loader (app.c): the
 * input is written as host.json of a temp app that also holds an HTTP, a
 * timer and an extension-typed function, and the whole app is loaded as
 * `fnhost start` loads it (without loading code). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <stdlib.h>

#include "fuzz_common.h"
#include "json.h"

static const char *g_root;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fuzz_write_str("app/local.settings.json",
                   "{\"IsEncrypted\": false, \"Values\": {\"FUNCTIONS_WORKER_RUNTIME\": \"native\"}}");
    fuzz_write_str("app/items/function.json",
                   "{\"bindings\": [{\"type\": \"httpTrigger\", \"direction\": \"in\", \"name\": "
                   "\"req\", \"methods\": [\"get\", \"post\"], \"route\": \"items/{id:int}\"}, "
                   "{\"type\": \"http\", \"direction\": \"out\", \"name\": \"res\"}], "
                   "\"scriptFile\": \"items.so\"}");
    fuzz_write_str("app/fn/function.json",
                   "{\"bindings\": [{\"type\": \"httpTrigger\", \"direction\": \"in\", \"name\": "
                   "\"req\"}], \"scriptFile\": \"fn.so\"}");
    fuzz_write_str("app/tick/function.json",
                   "{\"bindings\": [{\"type\": \"timerTrigger\", \"direction\": \"in\", \"name\": "
                   "\"t\", \"schedule\": \"0 */5 * * * *\"}], \"scriptFile\": \"tick.so\"}");
    fuzz_write_str("app/orders/function.json",
                   "{\"bindings\": [{\"type\": \"queueTrigger\", \"direction\": \"in\", \"name\": "
                   "\"msg\", \"queueName\": \"orders\"}], \"scriptFile\": \"orders.so\"}");
    size_t n = strlen(fuzz_path("app"));
    g_root = fuzz_cstr((const uint8_t *)fuzz_path("app"), n);
    fuzz_env_snapshot();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_write("app/host.json", data, size);
    fuzz_app_load(g_root);
    return 0;
}
