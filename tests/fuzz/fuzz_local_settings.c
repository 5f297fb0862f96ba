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

/* Known bugs (README.md), skipped only with FUZZ_SKIP_KNOWN=1: settings
 * reach host.json (AzureFunctionsJobHost__ overrides) and the timer schedule
 * (%SCHEDULE%), so a value reaches findings/host_json-limit-cast or
 * findings/ncrontab-timespan-digits. */
static int known_bug(const uint8_t *data, size_t size)
{
    size_t bom = size >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    cJSON *doc = NULL;
    char *err = NULL;
    int bad = 0;
    if (fnh__json_parse((const char *)data + bom, size - bom, &doc, &err) == 0) {
        const cJSON *v;
        cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(doc, "Values"))
        {
            if (!cJSON_IsString(v) || !v->string)
                continue;
            const char *s = v->valuestring;
            bad |= fuzz_has_long_number((const uint8_t *)s, strlen(s), 8);
            if (strncasecmp(v->string, "AzureFunctionsJobHost__", 23) == 0)
                bad |= !(strtod(s, NULL) < 1.8e19);
        }
    }
    cJSON_Delete(doc);
    free(err);
    return bad;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fuzz_skip_known() && known_bug(data, size))
        return -1;
    fuzz_write("app/local.settings.json", data, size);
    fuzz_app_load(g_root);
    return 0;
}
