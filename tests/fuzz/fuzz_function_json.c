/* fuzz_function_json.c: libFuzzer target for the function.json loader (app.c:
 * bindings, triggers, methods, routes, schedules, %Setting% references,
 * scriptFile). The input is one function's function.json in a temp app beside
 * a fixed HTTP function, with queue and blob types installed by a manifest. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "extension.h"
#include "fuzz_common.h"

static const char *g_root;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fuzz_write_str("app/host.json",
                   "{\"version\": \"2.0\", \"extensions\": {\"http\": {\"routePrefix\": \"api\"}}}");
    fuzz_write_str("app/local.settings.json",
                   "{\"IsEncrypted\": false, \"Values\": {\"ROUTE\": \"r/{x}\", \"SCHEDULE\": "
                   "\"0 * * * * *\", \"QUEUE\": \"orders\", \"OFF\": \"true\", \"EMPTY\": \"\"}}");
    fuzz_write_str("app/items/function.json",
                   "{\"bindings\": [{\"type\": \"httpTrigger\", \"direction\": \"in\", \"name\": "
                   "\"req\", \"methods\": [\"get\"], \"route\": \"items/{id:int}\"}], "
                   "\"scriptFile\": \"items.so\"}");
    fuzz_write_str("app/extensions/extensions.json",
                   "{\"extensions\": [{\"name\": \"queue\", \"file\": \"fnh_queue.so\", \"types\": "
                   "[\"queueTrigger\", \"queue\"]}, {\"name\": \"blob\", \"file\": \"fnh_blob.so\", "
                   "\"types\": [\"blobTrigger\", \"blob\"]}]}");
    size_t n = strlen(fuzz_path("app"));
    g_root = fuzz_cstr((const uint8_t *)fuzz_path("app"), n);
    fnh__strlist errors = {0};
    fnh__ext_registry_load(g_root, &errors); /* read-only from here on */
    fnh__strlist_free(&errors);
    fuzz_env_snapshot();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_write("app/Fuzz/function.json", data, size);
    fuzz_app_load(g_root);
    return 0;
}
