/* fuzz_local_settings.c: libFuzzer target for local.settings.json (settings.c)
 * and what the app loader does with it: Values exported to the environment
 * (removed again after each input), %Setting% references, AzureFunctionsJobHost__
 * overrides, the Host section and AzureWebJobs.<name>.Disabled. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <strings.h>

#include "fuzz_common.h"
#include "json.h"

static const char *g_root;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fuzz_write_str("app/host.json",
                   "{\"version\": \"2.0\", \"extensions\": {\"http\": {\"routePrefix\": \"api\"}}}");
    /* every string of a binding may name settings */
    fuzz_write_str("app/items/function.json",
                   "{\"bindings\": [{\"type\": \"httpTrigger\", \"direction\": \"in\", \"name\": "
                   "\"req\", \"methods\": [\"get\"], \"route\": \"%ROUTE%/{id}\"}, {\"type\": "
                   "\"http\", \"direction\": \"out\", \"name\": \"res\"}], \"scriptFile\": "
                   "\"items.so\"}");
    fuzz_write_str("app/tick/function.json",
                   "{\"bindings\": [{\"type\": \"timerTrigger\", \"direction\": \"in\", \"name\": "
                   "\"t\", \"schedule\": \"%SCHEDULE%\"}], \"disabled\": \"TICK_OFF\", "
                   "\"scriptFile\": \"tick.so\"}");
    fuzz_write_str("app/fn/function.json",
                   "{\"bindings\": [{\"type\": \"httpTrigger\", \"direction\": \"in\", \"name\": "
                   "\"req\", \"route\": \"x/%%/%A%%B%\"}], \"scriptFile\": \"fn.so\"}");
    size_t n = strlen(fuzz_path("app"));
    g_root = fuzz_cstr((const uint8_t *)fuzz_path("app"), n);
    fuzz_env_snapshot();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_write("app/local.settings.json", data, size);
    fuzz_app_load(g_root);
    return 0;
}
