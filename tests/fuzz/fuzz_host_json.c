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

/* Known bugs (README.md), skipped only with FUZZ_SKIP_KNOWN=1. */
static int known_bug(const uint8_t *data, size_t size)
{
    size_t bom = size >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    cJSON *doc = NULL;
    char *err = NULL;
    int rc = fnh__json_parse((const char *)data + bom, size - bom, &doc, &err);
    free(err);
    /* findings/host_json-not-object: a host.json that is not a JSON object
     * leaves route_prefix NULL and build_routes reads it */
    int bad = rc != 0 || !cJSON_IsObject(doc);
    if (!bad) {
        /* findings/host_json-limit-cast: maxRequestBodySize and
         * bytesPerSecond beyond 2^64 (or NaN) are cast to uint64_t */
        const cJSON *http = cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "extensions"), "http");
        const cJSON *body = cJSON_GetObjectItem(http, "maxRequestBodySize");
        const cJSON *rate = cJSON_GetObjectItem(http, "minRequestBodyDataRate");
        const cJSON *bps = cJSON_GetObjectItem(rate, "bytesPerSecond");
        double d = cJSON_IsNumber(body)   ? body->valuedouble
                   : cJSON_IsString(body) ? strtod(body->valuestring, NULL)
                                          : 0;
        bad = !(d < 1.8e19) || (cJSON_IsNumber(bps) && !(bps->valuedouble < 1.8e19));
        /* findings/ncrontab-timespan-digits: the TimeSpans of host.json */
        const cJSON *spans[] = {cJSON_GetObjectItem(doc, "functionTimeout"),
                                cJSON_GetObjectItem(http, "requestHeadersTimeout"),
                                cJSON_GetObjectItem(http, "keepAliveTimeout"),
                                cJSON_GetObjectItem(rate, "gracePeriod")};
        for (size_t i = 0; i < sizeof spans / sizeof *spans; i++)
            if (cJSON_IsString(spans[i]))
                bad |= fuzz_has_long_number((const uint8_t *)spans[i]->valuestring,
                                            strlen(spans[i]->valuestring), 8);
    }
    cJSON_Delete(doc);
    return bad;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fuzz_skip_known() && known_bug(data, size))
        return -1;
    fuzz_write("app/host.json", data, size);
    fuzz_app_load(g_root);
    return 0;
}
