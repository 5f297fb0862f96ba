/* test-config.c: unit tests of the function app loader (host/src/core/app.c,
 * settings.c, json.c): every config problem gives its exact sentence, good
 * config loads into the expected model, and no content of the three config
 * files (broken JSON, wrong types, huge numbers, NUL characters) crashes the
 * loader or leaves a field unset. Apps are written to temp folders. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app.h"
#include "app_loader.h"
#include "extension.h"
#include "http_binding.h"
#include "http_router.h"
#include "json.h"
#include "ncrontab.h"
#include "retry.h"
#include "settings.h"
#include "unit.h"

static char g_root[256];

static void write_file(const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", g_root, rel);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    mkdir(path, 0755);
    *slash = '/';
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void new_app(const char *host_json)
{
    snprintf(g_root, sizeof g_root, "/tmp/fnhost-unit-XXXXXX");
    if (!mkdtemp(g_root))
        abort();
    if (host_json)
        write_file("host.json", host_json);
}

/* Loads and binds the app as `fnhost routes` does (no code loaded). */
static fnh__app *load(void)
{
    fnh__app_options o = {.root = g_root};
    fnh__app *app = NULL;
    CHECK(fnh__app_load_bound(&o, 0, NULL, &app) == 0);
    return app;
}

/* The route as mapped (with the prefix) of HTTP function name, or NULL. */
static const char *route_full(fnh__app *app, const char *name)
{
    const fnh__http_fn *hf = fnh__http_fn_of(fnh__app_find(app, name));
    return hf ? hf->route_full : NULL;
}

/* Binds an app read from memory (fnh__app_new and the readers) as the
 * loader does; free it with unbind_mem. */
static void bind_mem(fnh__app *app)
{
    fnh__builtins_register();
    fnh__ext_load_for_app(app, NULL, 0);
    fnh__http_router(app);
    fnh__app_finish(app);
}

static void unbind_mem(fnh__app *app)
{
    fnh__app_free(app); /* unbinds its bindings */
    fnh__ext_unload(0);
}

static void cleanup(fnh__app *app)
{
    fnh__app_unload(app);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_root);
    if (system(cmd) != 0)
        printf("cleanup failed\n");
}

static const char *first_error(fnh__app *app, const char *fn_name)
{
    if (!fn_name)
        return app->host_errors.len ? app->host_errors.items[0] : NULL;
    fnh__function *fn = fnh__app_find(app, fn_name);
    return fn && fn->errors.len ? fn->errors.items[0] : NULL;
}

#define HTTP_FN(extra)                                                                      \
    "{\"bindings\":[{\"type\":\"httpTrigger\",\"direction\":\"in\",\"name\":\"req\"" extra \
    "},{\"type\":\"http\",\"direction\":\"out\",\"name\":\"res\"}],\"scriptFile\":\"f.so\"}"

static void test_version_missing(void)
{
    new_app("{}");
    fnh__app *app = load();
    CHECK_STR(first_error(app, NULL),
              "host.json: version: the required 'version' property is missing; add \"version\": "
              "\"2.0\"");
    cleanup(app);
}

static void test_version_wrong(void)
{
    new_app("{\"version\": \"3.0\"}");
    fnh__app *app = load();
    CHECK_STR(first_error(app, NULL),
              "host.json: version: \"3.0\" is not a valid host.json version; set \"version\": "
              "\"2.0\" (it is the schema version of host.json, not the Functions runtime version)");
    cleanup(app);
    new_app("{\"version\": 2}");
    app = load();
    CHECK_STR(first_error(app, NULL), "host.json: version: 2 is not a valid host.json version; "
                                      "set \"version\": \"2.0\"");
    cleanup(app);
}

static void test_host_json_syntax_error(void)
{
    new_app("{\n  \"version\": \"2.0\",\n  \"x\": tru\n}");
    fnh__app *app = load();
    const char *e = first_error(app, NULL);
    CHECK(e && strncmp(e, "host.json: line 3, column ", 26) == 0);
    cleanup(app);
}

static void test_missing_host_json_defaults(void)
{
    new_app(NULL);
    fnh__app *app = load();
    CHECK(app->host_errors.len == 0);
    CHECK_STR(fnh__http_route_prefix(app), "api");
    CHECK(app->function_timeout_ms == 30 * 60 * 1000);
    cleanup(app);
}

static void test_function_timeout(void)
{
    new_app("{\"version\": \"2.0\", \"functionTimeout\": \"00:05:00\"}");
    fnh__app *app = load();
    CHECK(app->host_errors.len == 0);
    CHECK(app->function_timeout_ms == 5 * 60 * 1000);
    cleanup(app);
    new_app("{\"version\": \"2.0\", \"functionTimeout\": \"5 minutes\"}");
    app = load();
    CHECK_STR(first_error(app, NULL),
              "host.json: functionTimeout: \"5 minutes\" is not a valid timeout; write a TimeSpan "
              "of at least one second such as \"00:05:00\", or \"-1\" for no limit");
    cleanup(app);
}

static void test_route_prefix_and_routes(void)
{
    new_app("{\"version\": \"2.0\", \"extensions\": {\"http\": {\"routePrefix\": \"\"}}}");
    write_file("items/function.json", HTTP_FN(",\"route\":\"items/{id:int}\""));
    write_file("plain/function.json", HTTP_FN(""));
    fnh__app *app = load();
    CHECK(app->host_errors.len == 0);
    fnh__function *items = fnh__app_find(app, "items");
    CHECK(items && items->errors.len == 0);
    CHECK_STR(route_full(app, "items"), "items/{id:int}");
    CHECK(fnh__http_fn_of(items)->methods == FNH__M_ALL);
    CHECK_STR(route_full(app, "plain"), "plain");
    fnh__route_match m = {0};
    CHECK(fnh__router_match(fnh__http_router(app), FNH__M_GET, "/items/42", 9, &m) == 1);
    CHECK(((fnh__http_fn *)m.target)->fn == items);
    fnh__route_match_clear(&m);
    cleanup(app);
}

static void test_bad_method(void)
{
    new_app("{\"version\": \"2.0\"}");
    write_file("hello/function.json", HTTP_FN(",\"methods\":[\"get\",\"gett\"]"));
    fnh__app *app = load();
    CHECK_STR(first_error(app, "hello"),
              "hello/function.json: bindings[0].methods[1]: \"gett\" is not an HTTP method; use "
              "one of get, post, put, delete, head, patch, options, trace");
    cleanup(app);
}

static void test_no_bindings_and_bad_name(void)
{
    new_app("{\"version\": \"2.0\"}");
    write_file("empty/function.json", "{\"bindings\": []}");
    write_file("1bad/function.json", HTTP_FN(""));
    fnh__app *app = load();
    CHECK_STR(first_error(app, "empty"),
              "empty/function.json: bindings: at least one binding must be declared; add a "
              "trigger such as {\"type\": \"httpTrigger\", \"direction\": \"in\", \"name\": "
              "\"req\"}");
    CHECK_STR(first_error(app, "1bad"),
              "1bad/function.json: '1bad' is not a valid function name; rename the folder to "
              "start with a letter and use only letters, digits, '-' and '_' (and not 'host')");
    cleanup(app);
}

static void test_unknown_type_direction_two_triggers(void)
{
    new_app("{\"version\": \"2.0\"}");
    write_file("q/function.json",
               "{\"bindings\":[{\"type\":\"queueTriger\",\"direction\":\"in\",\"name\":\"m\"}],"
               "\"scriptFile\":\"f.so\"}");
    write_file("d/function.json",
               "{\"bindings\":[{\"type\":\"httpTrigger\",\"direction\":\"sideways\",\"name\":"
               "\"req\"}],\"scriptFile\":\"f.so\"}");
    write_file("t/function.json",
               "{\"bindings\":[{\"type\":\"httpTrigger\",\"direction\":\"in\",\"name\":\"a\"},"
               "{\"type\":\"timerTrigger\",\"direction\":\"in\",\"name\":\"b\",\"schedule\":"
               "\"0 * * * * *\"}],\"scriptFile\":\"f.so\"}");
    fnh__app *app = load();
    /* no trigger (its type does not end in "Trigger"), and an unknown type */
    fnh__function *q = fnh__app_find(app, "q");
    CHECK(q && q->errors.len == 2);
    CHECK_STR(q->errors.len == 2 ? q->errors.items[1] : NULL,
              "q/function.json: bindings[0].type: 'queueTriger' is a binding type fnhost does "
              "not emulate: no installed extension provides it (the installed types are "
              "httpTrigger, http, timerTrigger); to add it, write an extension and list it in an "
              "extensions.json on FNHOST_EXTENSIONS_PATH: run 'fnhost help extensions' for the "
              "guide");
    CHECK_STR(first_error(app, "d"),
              "d/function.json: bindings[0].direction: \"sideways\" is not a direction; use "
              "\"in\", \"out\" or \"inout\"");
    CHECK_STR(first_error(app, "t"),
              "t/function.json: bindings[1]: a function has exactly one trigger, and "
              "'httpTrigger' already is one; remove one of them");
    cleanup(app);
}

static void test_duplicate_binding_name(void)
{
    new_app("{\"version\": \"2.0\"}");
    write_file("f/function.json",
               "{\"bindings\":[{\"type\":\"httpTrigger\",\"direction\":\"in\",\"name\":\"req\"},"
               "{\"type\":\"http\",\"direction\":\"out\",\"name\":\"REQ\"}],\"scriptFile\":"
               "\"f.so\"}");
    fnh__app *app = load();
    CHECK_STR(first_error(app, "f"),
              "f/function.json: bindings[1].name: 'REQ' is already used by bindings[0]; give "
              "every binding its own name");
    cleanup(app);
}

static void test_reserved_and_duplicate_routes(void)
{
    new_app("{\"version\": \"2.0\"}");
    write_file("adm/function.json", HTTP_FN(",\"route\":\"Admin/x\""));
    write_file("a1/function.json", HTTP_FN(",\"route\":\"items\",\"methods\":[\"get\"]"));
    write_file("a2/function.json", HTTP_FN(",\"route\":\"ITEMS/\",\"methods\":[\"get\",\"put\"]"));
    write_file("a3/function.json", HTTP_FN(",\"route\":\"items\",\"methods\":[\"post\"]"));
    /* a2, in error, is not routed: its put is free */
    write_file("a4/function.json", HTTP_FN(",\"route\":\"Items\",\"methods\":[\"put\"]"));
    fnh__app *app = load();
    CHECK_STR(first_error(app, "adm"),
              "adm/function.json: bindings[0].route: 'Admin/x' conflicts with the host's "
              "built-in routes (admin/..., runtime/...); choose a route that does not start "
              "with 'admin' or 'runtime'");
    CHECK(first_error(app, "a1") == NULL);
    CHECK_STR(first_error(app, "a2"),
              "a2/function.json: bindings[0].route: 'ITEMS' conflicts with the route of function "
              "'a1' for the same methods; change one route or split the methods");
    CHECK(first_error(app, "a3") == NULL);
    CHECK(first_error(app, "a4") == NULL);
    cleanup(app);
}

static void test_setting_references(void)
{
    new_app("{\"version\": \"2.0\"}");
    write_file("local.settings.json",
               "{\"Values\": {\"UNIT_ROUTE\": \"from-settings\", \"UNIT_NUM\": 5}}");
    write_file("ok/function.json", HTTP_FN(",\"route\":\"%UNIT_ROUTE%/{id}\""));
    write_file("miss/function.json", HTTP_FN(",\"route\":\"%UNIT_NOPE%\""));
    fnh__app *app = load();
    CHECK_STR(fnh__http_fn_of(fnh__app_find(app, "ok"))->route, "from-settings/{id}");
    CHECK_STR(first_error(app, "miss"),
              "miss/function.json: bindings[0].route: '%UNIT_NOPE%' does not resolve to a value; "
              "add \"UNIT_NOPE\" to the Values of local.settings.json or set it in the "
              "environment");
    CHECK(app->host_errors.len == 0);
    CHECK(app->errors.len == 1);
    CHECK_STR(app->errors.items[0], "local.settings.json: Values.UNIT_NUM: must be a string, not "
                                    "a number; write it in quotes: \"UNIT_NUM\": \"5\"");
    cleanup(app);
}

static void test_env_wins_over_settings(void)
{
    setenv("UNIT_ENV_WINS", "env", 1);
    new_app("{\"version\": \"2.0\"}");
    write_file("local.settings.json", "{\"Values\": {\"UNIT_ENV_WINS\": \"file\"}}");
    fnh__app *app = load();
    CHECK_STR(getenv("UNIT_ENV_WINS"), "env");
    CHECK(app->notes.len == 1);
    cleanup(app);
}

static void test_disabled_by_setting(void)
{
    new_app("{\"version\": \"2.0\"}");
    write_file("local.settings.json",
               "{\"Values\": {\"AzureWebJobs.offOne.Disabled\": \"true\", "
               "\"AzureWebJobs_offTwo_Disabled\": \"1\"}}");
    write_file("offOne/function.json", HTTP_FN(""));
    write_file("offTwo/function.json", HTTP_FN(""));
    write_file("onThree/function.json", HTTP_FN(""));
    fnh__app *app = load();
    CHECK(fnh__app_find(app, "offOne")->disabled);
    CHECK(fnh__app_find(app, "offTwo")->disabled);
    CHECK(!fnh__app_find(app, "onThree")->disabled);
    /* still routed: the front door answers admin callers and 404 to others */
    fnh__route_match m = {0};
    CHECK(fnh__router_match(fnh__http_router(app), FNH__M_GET, "/api/offOne", 11, &m) == 1);
    CHECK(fnh__http_fn_disabled(m.target));
    fnh__route_match_clear(&m);
    CHECK(fnh__router_match(fnh__http_router(app), FNH__M_GET, "/api/onThree", 12, &m) == 1);
    CHECK(!fnh__http_fn_disabled(m.target));
    fnh__route_match_clear(&m);
    cleanup(app);
}

static void test_functions_allow_list(void)
{
    new_app("{\"version\": \"2.0\", \"functions\": [\"keep\"]}");
    write_file("keep/function.json", HTTP_FN(""));
    write_file("skip/function.json", HTTP_FN(""));
    fnh__app *app = load();
    CHECK(app->nfunctions == 1);
    CHECK(fnh__app_find(app, "keep") != NULL);
    cleanup(app);
}

static void test_log_level_error(void)
{
    new_app("{\"version\": \"2.0\", \"logging\": {\"logLevel\": {\"Function\": \"Loud\"}}}");
    fnh__app *app = load();
    CHECK_STR(first_error(app, NULL),
              "host.json: logging.logLevel.Function: \"Loud\" is not a log level; use one of "
              "Trace, Debug, Information, Warning, Error, Critical, None");
    cleanup(app);
}

static void test_host_overrides_from_env(void)
{
    setenv("AzureFunctionsJobHost__extensions__http__routePrefix", "v1", 1);
    new_app("{\"version\": \"2.0\"}");
    fnh__app *app = load();
    CHECK_STR(fnh__http_route_prefix(app), "v1");
    cleanup(app);
    unsetenv("AzureFunctionsJobHost__extensions__http__routePrefix");
}

static void test_missing_script_file(void)
{
    new_app("{\"version\": \"2.0\"}");
    write_file("f/function.json",
               "{\"bindings\":[{\"type\":\"httpTrigger\",\"direction\":\"in\",\"name\":\"req\"}]}");
    fnh__app *app = load();
    CHECK_STR(first_error(app, "f"),
              "f/function.json: scriptFile: missing; name the function's shared object beside "
              "function.json, e.g. \"scriptFile\": \"f.so\"");
    cleanup(app);
}


/* ---- robustness ------------------------------------------------------ */

/* Every field the host reads later holds a usable value. */
static void check_defaults_usable(fnh__app *app)
{
    CHECK(fnh__http_route_prefix(app) != NULL);
    CHECK(app->host_json != NULL);
    CHECK(fnh__http_router(app) != NULL);
    CHECK(fnh__http_limits_of(app)->max_body == 104857600);
    CHECK(fnh__http_limits_of(app)->headers_timeout_ms == 30000);
    CHECK(fnh__http_limits_of(app)->keepalive_timeout_ms == 130000);
    CHECK(fnh__http_limits_of(app)->min_body_rate == 240);
    CHECK(fnh__http_limits_of(app)->body_grace_ms == 5000);
    CHECK(app->function_timeout_ms == 30 * 60 * 1000);
    for (size_t i = 0; i < app->host_errors.len; i++)
        CHECK(strchr(app->host_errors.items[i], '\n') == NULL);
}

static void test_broken_host_json_keeps_defaults(void)
{
    static const struct {
        const char *text, *error;
    } cases[] = {
        {"", "host.json: line 1, column 1: the file is empty; it must hold a JSON value such as "
             "{}"},
        {"{", "host.json: line 1, column 2: the file ends before the object opened at line 1, "
              "column 1 is closed; add '}'"},
        {"[]", "host.json: the file must hold a JSON object like {\"version\": \"2.0\"}, not an "
               "array"},
        {"\"x\"", "host.json: the file must hold a JSON object like {\"version\": \"2.0\"}, not "
                  "a string"},
        {"{\"version\":\"2.0\",}", "host.json: line 1, column 18: '}' follows a trailing comma; "
                                   "remove the comma at line 1, column 17"},
        {"\"\\ud800\"", "host.json: line 1, column 2: \\ud800 is the first half of a UTF-16 "
                        "surrogate pair but no second half (\\udc00-\\udfff) follows; write the "
                        "character itself or a complete pair"},
        {"{\"version\":\"2.0\",\"extensions\":5}",
         "host.json: extensions: must be an object of per-binding settings such as {\"http\": "
         "{\"routePrefix\": \"api\"}}, not a number"},
        {"{\"version\":\"2.0\",\"logging\":[]}",
         "host.json: logging: must be an object like {\"logLevel\": {\"default\": "
         "\"Information\"}}, not an array"},
        {"{\"version\":\"2.0\",\"functionTimeout\":5}",
         "host.json: functionTimeout: 5 is not a valid timeout; write a TimeSpan of at least one "
         "second such as \"00:05:00\", or \"-1\" for no limit"},
        {"{\"version\":\"2.0\",\"functions\":[\"f\",7]}",
         "host.json: functions[1]: must be a function name (a string), not a number"},
        {"{\"version\":\"2.0\",\"id\":{}}",
         "host.json: id: must be a string (or leave it out to derive one), not an object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        new_app(cases[i].text);
        write_file("f/function.json", HTTP_FN(""));
        fnh__app *app = load();
        CHECK_STR(first_error(app, NULL), cases[i].error);
        check_defaults_usable(app);
        CHECK_STR(fnh__http_route_prefix(app), "api");
        fnh__function *f = fnh__app_find(app, "f");
        CHECK(f && f->errors.len == 0 && route_full(app, "f") &&
              strcmp(route_full(app, "f"), "api/f") == 0);
        cleanup(app);
    }
}

/* Valid JSON of the wrong type at every key the host reads. */
static void test_wrong_types_at_known_keys(void)
{
    static const char *const values[] = {"5", "-1", "1e400", "\"\"", "\"x\"", "true", "null",
                                         "[]", "[1,{}]", "{}", "{\"a\":[]}"};
    static const char *const paths[] = {
        "{\"version\":%s}",
        "{\"version\":\"2.0\",\"functionTimeout\":%s}",
        "{\"version\":\"2.0\",\"logging\":%s}",
        "{\"version\":\"2.0\",\"logging\":{\"logLevel\":%s}}",
        "{\"version\":\"2.0\",\"functions\":%s}",
        "{\"version\":\"2.0\",\"id\":%s}",
        "{\"version\":\"2.0\",\"extensions\":%s}",
        "{\"version\":\"2.0\",\"extensions\":{\"http\":%s}}",
        "{\"version\":\"2.0\",\"extensions\":{\"http\":{\"routePrefix\":%s}}}",
        "{\"version\":\"2.0\",\"extensions\":{\"http\":{\"customHeaders\":%s}}}",
        "{\"version\":\"2.0\",\"extensions\":{\"http\":{\"customHeaders\":{\"X-A\":%s}}}}",
        "{\"version\":\"2.0\",\"extensions\":{\"http\":{\"maxRequestBodySize\":%s}}}",
        "{\"version\":\"2.0\",\"extensions\":{\"http\":{\"requestHeadersTimeout\":%s}}}",
        "{\"version\":\"2.0\",\"extensions\":{\"http\":{\"keepAliveTimeout\":%s}}}",
        "{\"version\":\"2.0\",\"extensions\":{\"http\":{\"minRequestBodyDataRate\":%s}}}",
        "{\"version\":\"2.0\",\"extensions\":{\"http\":{\"minRequestBodyDataRate\":"
        "{\"bytesPerSecond\":%s}}}}",
        "{\"version\":\"2.0\",\"extensions\":{\"http\":{\"minRequestBodyDataRate\":"
        "{\"gracePeriod\":%s}}}}",
    };
    for (size_t p = 0; p < sizeof paths / sizeof *paths; p++)
        for (size_t v = 0; v < sizeof values / sizeof *values; v++) {
            char text[512];
            snprintf(text, sizeof text, paths[p], values[v]);
            fnh__app *app = fnh__app_new("/nonexistent");
            CHECK(app != NULL);
            fnh__app_read_host_json(app, text, strlen(text));
            CHECK(fnh__app_read_function_json(app, "f", HTTP_FN(""), strlen(HTTP_FN(""))));
            bind_mem(app);
            CHECK(fnh__http_route_prefix(app) && fnh__http_router(app) && app->host_json);
            CHECK(fnh__http_limits_of(app)->max_body >= 1 && app->function_timeout_ms != 0);
            CHECK(app->host_errors.len || route_full(app, "f") != NULL);
            unbind_mem(app);
        }
}

static void test_function_json_odd_values(void)
{
    static const char *const values[] = {"5", "1e400", "-1e400", "\"\"", "true", "null", "[]",
                                         "[null,5,{}]", "{}", "{\"a\":{\"b\":[]}}"};
#define ONE(binding) "{\"bindings\":[{" binding "}],\"scriptFile\":\"f.so\"}"
#define HTTP_IN "\"type\":\"httpTrigger\",\"direction\":\"in\","
    static const char *const shapes[] = {
        "%s",
        "{\"bindings\":%s}",
        "{\"bindings\":[%s]}",
        ONE("\"type\":%s,\"direction\":\"in\",\"name\":\"req\""),
        ONE("\"type\":\"httpTrigger\",\"direction\":%s,\"name\":\"req\""),
        ONE(HTTP_IN "\"name\":%s"),
        ONE(HTTP_IN "\"name\":\"r\",\"methods\":%s"),
        ONE(HTTP_IN "\"name\":\"r\",\"route\":%s"),
        ONE(HTTP_IN "\"name\":\"r\",\"authLevel\":%s"),
        ONE("\"type\":\"timerTrigger\",\"direction\":\"in\",\"name\":\"t\",\"schedule\":%s,"
            "\"runOnStartup\":%s"),
        "{\"bindings\":[{" HTTP_IN "\"name\":\"r\"}],\"scriptFile\":%s,\"entryPoint\":%s,"
        "\"disabled\":%s}",
    };
#undef ONE
#undef HTTP_IN
    for (size_t p = 0; p < sizeof shapes / sizeof *shapes; p++)
        for (size_t v = 0; v < sizeof values / sizeof *values; v++) {
            char text[512];
            snprintf(text, sizeof text, shapes[p], values[v], values[v], values[v]);
            fnh__app *app = fnh__app_new("/nonexistent");
            fnh__function *fn = fnh__app_read_function_json(app, "f", text, strlen(text));
            bind_mem(app);
            CHECK(fn != NULL);
            for (size_t i = 0; fn && i < fn->errors.len; i++)
                CHECK(strchr(fn->errors.items[i], '\n') == NULL);
            unbind_mem(app);
        }
}

static void test_trailing_comma_one_line_everywhere(void)
{
    new_app("{\n  \"version\": \"2.0\",\n}\n");
    write_file("local.settings.json", "{\n  \"Values\": {\n    \"A\": \"b\",\n  }\n}\n");
    write_file("f/function.json", "{\n  \"bindings\": [\n    {\"type\": \"http\"},\n  ]\n}\n");
    fnh__app *app = load();
    CHECK(app->host_errors.len == 2);
    CHECK_STR(app->host_errors.items[0],
              "local.settings.json: line 4, column 3: '}' follows a trailing comma; remove the "
              "comma at line 3, column 13");
    CHECK_STR(app->host_errors.len > 1 ? app->host_errors.items[1] : NULL,
              "host.json: line 3, column 1: '}' follows a trailing comma; remove the comma at "
              "line 2, column 19");
    CHECK_STR(first_error(app, "f"),
              "f/function.json: line 4, column 3: ']' follows a trailing comma; remove the comma "
              "at line 3, column 21");
    cleanup(app);
}

static void test_json_error_positions(void)
{
    static const struct {
        const char *text, *error;
    } cases[] = {
        {"{\"a\":1 \"b\":2}", "line 1, column 8: expected ',' or '}' after a property value, "
                             "found '\"'; is a comma missing?"},
        {"{\"a\" 1}", "line 1, column 6: expected ':' after the property name \"a\", found '1'"},
        {"{\"a\":tru}", "line 1, column 6: expected a value after ':', found 'tru'; write a "
                        "\"quoted string\", a number, true, false or null"},
        {"{\"a\":[1,2}", "line 1, column 10: '}' cannot close the array opened at line 1, "
                         "column 6; close it with ']' first"},
        {"{\"p\":\"C:\\dir\"}", "line 1, column 9: '\\d' is not a JSON escape; write a backslash "
                                "itself as \\\\ (e.g. \"C:\\\\dir\"), or use \\\", \\/, \\b, \\f, "
                                "\\n, \\r, \\t or \\uXXXX"},
        {"{\"a\":\"x\n\"}", "line 1, column 8: the string that starts at line 1, column 6 is not "
                            "closed before the end of the line; close it with '\"' (write a line "
                            "break inside a string as \\n)"},
        {"{\"a\":1}}", "line 1, column 8: '}' after the end of the JSON value; remove it (a file "
                       "holds one value: wrap several in an array)"},
        {"{\"a\":01}", "line 1, column 6: '01' is not a JSON number; write numbers like 12, -3.5 "
                       "or 1e6 (no leading zeros, '+', or trailing '.')"},
        {"{\"a\":1} // note", "line 1, column 9: '/' (JSON has no comments; remove the comment) "
                              "after the end of the JSON value; remove it (a file holds one "
                              "value: wrap several in an array)"},
        {"{\"\xc3\xa9\":\xe2\x80\x9cx\xe2\x80\x9d}",
         "line 1, column 6: expected a value after ':', found the character U+201C (a "
         "typographic quote; JSON needs straight quotes \")"},
        {"\xff\xfe{", "line 1, column 1: the file is saved as UTF-16; save it as UTF-8"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cJSON *j = NULL;
        char *err = NULL;
        CHECK(fnh__json_parse(cases[i].text, strlen(cases[i].text), &j, &err) == -EINVAL);
        CHECK_STR(err, cases[i].error);
        CHECK(j == NULL);
        free(err);
    }
    /* a UTF-8 byte order mark is fine */
    cJSON *j = NULL;
    char *err = NULL;
    CHECK(fnh__json_parse("\xEF\xBB\xBF{}", 5, &j, &err) == 0 && j && !err);
    cJSON_Delete(j);
}

static void test_json_depth_and_long_numbers(void)
{
    char deep[512];
    size_t n = 0;
    for (int i = 0; i < FNH__JSON_MAX_DEPTH + 1; i++)
        deep[n++] = '[';
    for (int i = 0; i < FNH__JSON_MAX_DEPTH + 1; i++)
        deep[n++] = ']';
    cJSON *j = NULL;
    char *err = NULL;
    CHECK(fnh__json_parse(deep, n, &j, &err) == -EINVAL);
    CHECK_STR(err, "line 1, column 101: objects and arrays are nested more than 100 deep; "
                   "flatten the structure");
    free(err);
    CHECK(fnh__json_parse(deep + 1, n - 2, &j, &err) == 0);
    cJSON_Delete(j);
    char num[80];
    memset(num, '1', 70);
    CHECK(fnh__json_parse(num, 70, &j, &err) == -EINVAL);
    CHECK_STR(err, "line 1, column 1: a number of more than 63 characters is not supported; "
                   "shorten it");
    free(err);
}

static void test_nul_in_strings_refused(void)
{
    new_app("{\"version\": \"2.0\"}");
    write_file("local.settings.json", "{\"Values\": {\"UNIT_NUL\": \"a\\u0000b\"}}");
    write_file("f/function.json", HTTP_FN(",\"route\":\"a\\u0000b\""));
    fnh__app *app = load();
    CHECK_STR(first_error(app, NULL),
              "local.settings.json: line 1, column 27: \\u0000 (a NUL character) inside a string "
              "is not supported; remove it");
    CHECK(getenv("UNIT_NUL") == NULL);
    CHECK_STR(first_error(app, "f"),
              "f/function.json: line 1, column 76: \\u0000 (a NUL character) inside a string is "
              "not supported; remove it");
    fnh__route_match m = {0};
    CHECK(fnh__router_match(fnh__http_router(app), FNH__M_GET, "/api/a", 6, &m) == 0);
    cleanup(app);
}

static void test_local_settings_unusable_is_fatal(void)
{
    new_app("{\"version\": \"2.0\"}");
    write_file("local.settings.json", "[\"Values\"]");
    fnh__app *app = load();
    CHECK_STR(first_error(app, NULL),
              "local.settings.json: the file must hold a JSON object like {\"IsEncrypted\": "
              "false, \"Values\": {}}, not an array");
    cleanup(app);
    new_app("{\"version\": \"2.0\"}");
    write_file("local.settings.json", "{\"Host\": {\"LocalHttpPort\": 7071.5}}");
    app = load();
    CHECK_STR(first_error(app, NULL),
              "local.settings.json: Host.LocalHttpPort: 7071.5 is not a port number; use a whole "
              "number from 1 to 65535, e.g. 7071");
    cleanup(app);
}

static void test_local_settings_keys_case_insensitive(void)
{
    new_app("{\"version\": \"2.0\"}");
    write_file("local.settings.json",
               "{\"values\": {\"UNIT_CI\": \"yes\"}, \"host\": {\"localHttpPort\": 7099, "
               "\"cors\": \"*\", \"CORSCredentials\": \"yes\"}, \"Valeus\": {}}");
    fnh__app *app = load();
    CHECK_STR(fnh__app_setting(app, "UNIT_CI"), "yes");
    CHECK(getenv("UNIT_CI") == NULL); /* loading writes nothing global */
    CHECK(app->local_port == 7099);
    CHECK_STR(app->cors, "*");
    CHECK(app->host_errors.len == 0);
    CHECK_STR(app->errors.len ? app->errors.items[0] : NULL,
              "local.settings.json: Host.CORSCredentials: must be true or false, not a string");
    CHECK_STR(app->warnings.len ? app->warnings.items[0] : NULL,
              "local.settings.json: Valeus: not a known setting, so it is ignored; did you mean "
              "'Values'?");
    cleanup(app);
}

static void test_settings_parse_from_memory(void)
{
    static const char text[] = "{\"Values\": {\"A\": \"1\", \"B\": 2, \"C\": null}, "
                               "\"Host\": {\"LocalHttpPort\": \"8080\"}}";
    fnh__local_settings s = {0};
    CHECK(fnh__settings_parse(text, sizeof text - 1, &s) == 0);
    CHECK(s.values.len == 1 && strcmp(s.values.items[0], "A=1") == 0);
    CHECK(s.local_port == 8080);
    CHECK(s.fatal.len == 0 && s.errors.len == 1 && s.notes.len == 1);
    CHECK(getenv("A") == NULL || strcmp(getenv("A"), "1") != 0); /* nothing exported */
    fnh__settings_free(&s);
}

static void test_timespan_overflow(void)
{
    int64_t ms = 0;
    /* TimeSpan.MaxValue + 1 tick overflowed a signed 64-bit sum */
    CHECK(fnh__timespan_parse("10675199.02:48:05.4775808", &ms) == -ERANGE);
    CHECK(fnh__timespan_parse("10675199.02:48:05.4775807", &ms) == 0 && ms == 922337203685477LL);
    CHECK(fnh__timespan_parse("-10675199.02:48:05.4775808", &ms) == 0 &&
          ms == -922337203685477LL); /* TimeSpan.MinValue */
    CHECK(fnh__timespan_parse("-10675199.02:48:05.4775809", &ms) == -ERANGE);
    /* more digits than an int holds */
    CHECK(fnh__timespan_parse("2200000000", &ms) == -ERANGE);
    CHECK(fnh__timespan_parse("2684354559", &ms) == -ERANGE);
    CHECK(fnh__timespan_parse("99999999999999999999999", &ms) == -ERANGE);
    CHECK(fnh__timespan_parse("1.00:00:00.99999999999999", &ms) == -ERANGE);
    CHECK(fnh__timespan_parse("00:00:00.0000000000000000001", &ms) == 0 && ms == 0);
    CHECK(fnh__timespan_parse("00:00:01.000000099", &ms) == 0 && ms == 1000);
    CHECK(fnh__timespan_parse("10675200", &ms) == -ERANGE);
    CHECK(fnh__timespan_parse("10675199", &ms) == 0 && ms == 10675199LL * 86400000);
}

static void test_timeouts_out_of_range(void)
{
    static const char *const too_long[] = {"10675199.02:48:05.4775808", "10675199.02:48:05.4775807",
                                          "10001.00:00:00", "2200000000"};
    for (size_t i = 0; i < sizeof too_long / sizeof *too_long; i++) {
        char text[256], want[512];
        snprintf(text, sizeof text, "{\"version\": \"2.0\", \"functionTimeout\": \"%s\"}",
                 too_long[i]);
        new_app(text);
        fnh__app *app = load();
        snprintf(want, sizeof want,
                 "host.json: functionTimeout: \"%s\" is out of range; hours go up to 23 and "
                 "minutes and seconds up to 59 (write days as d.hh:mm:ss), and the longest span "
                 "accepted is 10000.00:00:00; write \"-1\" for no limit",
                 too_long[i]);
        CHECK_STR(first_error(app, NULL), want);
        CHECK(app->function_timeout_ms == 30 * 60 * 1000);
        cleanup(app);
    }
    new_app("{\"version\": \"2.0\", \"functionTimeout\": \"10000.00:00:00\"}");
    fnh__app *app = load();
    CHECK(app->host_errors.len == 0 && app->function_timeout_ms == 864000000000LL);
    cleanup(app);
    new_app("{\"version\": \"2.0\", \"extensions\": {\"http\": {\"keepAliveTimeout\": "
            "\"00:00:00\", \"requestHeadersTimeout\": \"99999999.00:00:00\"}}}");
    app = load();
    CHECK_STR(first_error(app, NULL),
              "host.json: extensions.http.requestHeadersTimeout: \"99999999.00:00:00\" is out of "
              "range; hours go up to 23 and minutes and seconds up to 59 (write days as "
              "d.hh:mm:ss), and the longest span accepted is 10000.00:00:00");
    CHECK_STR(app->host_errors.len > 1 ? app->host_errors.items[1] : NULL,
              "host.json: extensions.http.keepAliveTimeout: \"00:00:00\" is not a TimeSpan of "
              "more than zero; write \"hh:mm:ss\", e.g. \"00:05:00\" (or \"-1\" for no limit)");
    CHECK(fnh__http_limits_of(app)->keepalive_timeout_ms == 130000 && fnh__http_limits_of(app)->headers_timeout_ms == 30000);
    cleanup(app);
}

static void test_kestrel_numbers_validated(void)
{
    static const struct {
        const char *value, *shown;
    } bad[] = {{"\"nan\"", "\"nan\""},
               {"\"inf\"", "\"inf\""},
               {"1e400", "a number out of range"},
               {"-1e400", "a number out of range"},
               {"-5", "-5"},
               {"0", "0"},
               {"1.5", "1.5"},
               {"\"1e3\"", "\"1e3\""},
               {"\"-1\"", "\"-1\""},
               {"\"\"", "\"\""},
               {"1e16", "1e+16"},
               {"true", "true"},
               {"\"99999999999999999999999\"", "\"99999999999999999999999\""}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char text[256], want[512];
        snprintf(text, sizeof text,
                 "{\"version\": \"2.0\", \"extensions\": {\"http\": {\"maxRequestBodySize\": %s, "
                 "\"minRequestBodyDataRate\": {\"bytesPerSecond\": %s}}}}",
                 bad[i].value, bad[i].value);
        new_app(text);
        fnh__app *app = load();
        snprintf(want, sizeof want,
                 "host.json: extensions.http.maxRequestBodySize: %s is not a whole number from 1 "
                 "to 9007199254740991; write e.g. 104857600 (100 MB)",
                 bad[i].shown);
        CHECK_STR(first_error(app, NULL), want);
        CHECK(fnh__http_limits_of(app)->max_body == 104857600);
        if (strcmp(bad[i].value, "0") != 0) {
            snprintf(want, sizeof want,
                     "host.json: extensions.http.minRequestBodyDataRate.bytesPerSecond: %s is not "
                     "a whole number from 0 to 9007199254740991; write e.g. 240 (0 turns the "
                     "check off)",
                     bad[i].shown);
            CHECK_STR(app->host_errors.len > 1 ? app->host_errors.items[1] : NULL, want);
            CHECK(fnh__http_limits_of(app)->min_body_rate == 240);
        }
        cleanup(app);
    }
    /* good values, also as strings from AzureFunctionsJobHost__ overrides */
    setenv("AzureFunctionsJobHost__extensions__http__maxRequestBodySize", "2048", 1);
    new_app("{\"version\": \"2.0\", \"extensions\": {\"http\": {\"minRequestBodyDataRate\": "
            "{\"bytesPerSecond\": 1e3, \"gracePeriod\": \"00:00:00.400\"}}}}");
    fnh__app *app = load();
    unsetenv("AzureFunctionsJobHost__extensions__http__maxRequestBodySize");
    CHECK(app->host_errors.len == 0);
    CHECK(fnh__http_limits_of(app)->max_body == 2048 && fnh__http_limits_of(app)->min_body_rate == 1000);
    CHECK(fnh__http_limits_of(app)->body_grace_ms == 400);
    cleanup(app);
    setenv("FUNCTIONS_REQUEST_BODY_SIZE_LIMIT", "-1", 1);
    new_app("{\"version\": \"2.0\"}");
    app = load();
    unsetenv("FUNCTIONS_REQUEST_BODY_SIZE_LIMIT");
    CHECK_STR(first_error(app, NULL),
              "FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: '-1' is not a whole number of bytes from 1 to "
              "9007199254740991; fix the app setting (local.settings.json or the environment), "
              "e.g. 104857600");
    CHECK(fnh__http_limits_of(app)->max_body == 104857600);
    cleanup(app);
}

static void test_custom_headers_validated(void)
{
    new_app("{\"version\": \"2.0\", \"extensions\": {\"http\": {\"customHeaders\": "
            "{\"X-Ok\": \"1\", \"X-Split\": \"a\\r\\nSet-Cookie: x=1\", \"Bad Name\": \"v\"}}}}");
    fnh__app *app = load();
    CHECK(app->host_errors.len == 2);
    CHECK_STR(first_error(app, NULL),
              "host.json: extensions.http.customHeaders.X-Split: a header value cannot hold line "
              "breaks or other control characters; remove them");
    CHECK_STR(app->host_errors.len > 1 ? app->host_errors.items[1] : NULL,
              "host.json: extensions.http.customHeaders: 'Bad Name' is not a valid header name; "
              "use letters, digits and !#$%&'*+-.^_`|~");
    CHECK(fnh__http_custom_headers(app) == NULL);
    cleanup(app);
}

static void test_messages_stay_on_one_line(void)
{
    new_app("{\"version\": \"2.0\", \"logging\": {\"logLevel\": {\"a\\nb\": \"x\\ty\\u0001\"}}}");
    fnh__app *app = load();
    CHECK_STR(first_error(app, NULL),
              "host.json: logging.logLevel.a\\nb: \"x\\ty\\u0001\" is not a log level; use one of "
              "Trace, Debug, Information, Warning, Error, Critical, None");
    cleanup(app);
}

static void test_function_json_typos_warn(void)
{
    new_app("{\"version\": \"2.0\"}");
    write_file("f/function.json",
               "{\"bindings\":[{\"type\":\"httpTrigger\",\"direction\":\"in\",\"name\":\"req\","
               "\"methds\":[\"get\"],\"rout\":\"x\",\"AUTHLEVL\":\"anonymous\",\"Route\":\"y\","
               "\"route\":\"z\",\"zzz\":1},{\"type\":\"http\",\"direction\":\"out\",\"name\":"
               "\"res\",\"DataType\":\"string\"}],\"scriptFile\":\"f.so\",\"entryPiont\":\"go\"}");
    write_file("t/function.json",
               "{\"bindings\":[{\"type\":\"timerTrigger\",\"direction\":\"in\",\"name\":\"t\","
               "\"schedul\":\"0 * * * * *\",\"schedule\":\"0 * * * * *\",\"runOnStrtup\":true}],"
               "\"scriptFile\":\"t.so\"}");
    fnh__app *app = load();
    fnh__function *f = fnh__app_find(app, "f");
    CHECK(f->errors.len == 0);
    CHECK(fnh__http_fn_of(f)->methods == FNH__M_ALL);
    CHECK_STR(fnh__http_fn_of(f)->route, "y");
    CHECK(fnh__app_find(app, "t")->errors.len == 0);
    static const char *const want[] = {
        "f/function.json: entryPiont: not a property of function.json, so it is ignored; did you "
        "mean 'entryPoint'?",
        "f/function.json: bindings[1].DataType: not implemented by fnhost for a 'http' binding, "
        "so this setting has no effect here (a native function always receives the bytes and "
        "their content type)",
        "f/function.json: bindings[0].methds: not a property of a 'httpTrigger' binding, so it is "
        "ignored; did you mean 'methods'?",
        "f/function.json: bindings[0].rout: not a property of a 'httpTrigger' binding, so it is "
        "ignored; did you mean 'route'?",
        "f/function.json: bindings[0].AUTHLEVL: not a property of a 'httpTrigger' binding, so it "
        "is ignored; did you mean 'authLevel'?",
        "f/function.json: bindings[0].route: repeats 'Route' (property names are "
        "case-insensitive), so it is ignored; keep only one",
        "f/function.json: bindings[0].zzz: not a property of a 'httpTrigger' binding, so it is "
        "ignored; its properties are type, direction, name, dataType, authLevel, methods, route "
        "and webHookType",
        "t/function.json: bindings[0].schedul: not a property of a 'timerTrigger' binding, so it "
        "is ignored; did you mean 'schedule'?",
        "t/function.json: bindings[0].runOnStrtup: not a property of a 'timerTrigger' binding, so "
        "it is ignored; did you mean 'runOnStartup'?",
    };
    CHECK(app->warnings.len == sizeof want / sizeof *want);
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        CHECK_STR(i < app->warnings.len ? app->warnings.items[i] : NULL, want[i]);
    cleanup(app);
}

static void test_host_json_typos_warn(void)
{
    new_app("{\"version\": \"2.0\", \"functionTimout\": \"00:01:00\", \"extensions\": {\"http\": "
            "{\"routPrefix\": \"x\", \"hsts\": {}}}, \"someToolSetting\": 1}");
    fnh__app *app = load();
    CHECK(app->host_errors.len == 0);
    CHECK(app->warnings.len == 2);
    CHECK_STR(app->warnings.len ? app->warnings.items[0] : NULL,
              "host.json: functionTimout: not a known setting, so it is ignored; did you mean "
              "'functionTimeout'?");
    CHECK_STR(app->warnings.len > 1 ? app->warnings.items[1] : NULL,
              "host.json: extensions.http.routPrefix: not a known setting, so it is ignored; did "
              "you mean 'routePrefix'?");
    cleanup(app);
}

/* Reads a "retry" object from JSON text; the first error or "OK". */
static const char *retry_err(const char *json, fnh__retry_policy *p)
{
    static char out[512];
    cJSON *v = cJSON_Parse(json);
    fnh__strlist errs = {0}, warns = {0};
    *p = (fnh__retry_policy){0};
    int rc = fnh__retry_read(v, "host.json", "retry", &errs, &warns, p);
    snprintf(out, sizeof out, "%s", rc ? (errs.len ? errs.items[0] : "?") : "OK");
    fnh__strlist_free(&errs);
    fnh__strlist_free(&warns);
    cJSON_Delete(v);
    return out;
}

static void test_retry_policies(void)
{
    fnh__retry_policy p;
    CHECK_STR(retry_err("{\"strategy\":\"FixedDelay\",\"maxRetryCount\":3,"
                        "\"delayInterval\":\"00:00:05\"}", &p), "OK");
    CHECK(p.strategy == FNH__RETRY_FIXED && p.max_retry_count == 3 && p.delay_ms == 5000);
    CHECK_STR(retry_err("{\"strategy\":\"exponentialBackoff\",\"maxRetryCount\":\"-1\","
                        "\"minimumInterval\":\"00:00:00.5\",\"maximumInterval\":\"1.00:00:00\"}",
                        &p), "OK");
    CHECK(p.strategy == FNH__RETRY_EXPONENTIAL && p.max_retry_count == -1 && p.min_ms == 500 &&
          p.max_ms == 86400000);
    CHECK_STR(retry_err("{\"strategy\":\"fixedDelay\",\"maxRetryCount\":0,"
                        "\"delayInterval\":\"00:00:00\"}", &p), "OK");
    CHECK(p.max_retry_count == 0 && p.delay_ms == 0);
    CHECK_STR(retry_err("{\"maxRetryCount\":1}", &p),
              "host.json: retry.strategy: missing is not a retry strategy; write \"fixedDelay\" "
              "or \"exponentialBackoff\"");
    CHECK(p.strategy == FNH__RETRY_NONE); /* an error leaves no policy */
    CHECK_STR(retry_err("{\"strategy\":\"fixedDelay\",\"maxRetryCount\":1.5,"
                        "\"delayInterval\":\"00:00:01\"}", &p),
              "host.json: retry.maxRetryCount: 1.5 is not a retry count; write a whole number "
              "from 0 to 2147483647, or -1 to retry until the function succeeds");
    CHECK_STR(retry_err("{\"strategy\":\"fixedDelay\",\"maxRetryCount\":1,"
                        "\"delayInterval\":\"-00:00:01\"}", &p),
              "host.json: retry.delayInterval: \"-00:00:01\" is not a TimeSpan of zero or more; "
              "write \"hh:mm:ss\", e.g. \"00:00:05\"");
    CHECK_STR(retry_err("{\"strategy\":\"fixedDelay\",\"maxRetryCount\":1,"
                        "\"delayInterval\":\"00:61:00\"}", &p),
              "host.json: retry.delayInterval: \"00:61:00\" " FNH__SPAN_RANGE_FIX);
    CHECK_STR(retry_err("[]", &p),
              "host.json: retry: must be an object like {\"strategy\": \"fixedDelay\", "
              "\"maxRetryCount\": 3, \"delayInterval\": \"00:00:05\"}, not an array");
}

static void test_retry_delays(void)
{
    fnh__retry_policy fixed = {FNH__RETRY_FIXED, 3, 1500, 0, 0};
    CHECK(fnh__retry_delay_ms(&fixed, 1) == 1500 && fnh__retry_delay_ms(&fixed, 9) == 1500);
    fnh__retry_policy exp = {FNH__RETRY_EXPONENTIAL, -1, 0, 1000, 60000};
    for (int round = 0; round < 50; round++) {
        CHECK(fnh__retry_delay_ms(&exp, 1) == 1000);
        int64_t d2 = fnh__retry_delay_ms(&exp, 2), d4 = fnh__retry_delay_ms(&exp, 4);
        CHECK(d2 >= 1800 && d2 <= 2200);
        CHECK(d4 >= 1000 + 3200 && d4 <= 1000 + 4800);
        CHECK(fnh__retry_delay_ms(&exp, 40) == 60000);      /* capped */
        CHECK(fnh__retry_delay_ms(&exp, 1000000) == 60000); /* no overflow */
    }
    char s[40];
    fnh__retry_span_fmt(5000, s);
    CHECK_STR(s, "00:00:05");
    fnh__retry_span_fmt(250, s);
    CHECK_STR(s, "00:00:00.2500000");
    fnh__retry_span_fmt(93784005, s);
    CHECK_STR(s, "1.02:03:04.0050000");
}

int main(void)
{
    UNIT_RUN(test_version_missing);
    UNIT_RUN(test_version_wrong);
    UNIT_RUN(test_host_json_syntax_error);
    UNIT_RUN(test_missing_host_json_defaults);
    UNIT_RUN(test_function_timeout);
    UNIT_RUN(test_route_prefix_and_routes);
    UNIT_RUN(test_bad_method);
    UNIT_RUN(test_no_bindings_and_bad_name);
    UNIT_RUN(test_unknown_type_direction_two_triggers);
    UNIT_RUN(test_duplicate_binding_name);
    UNIT_RUN(test_reserved_and_duplicate_routes);
    UNIT_RUN(test_setting_references);
    UNIT_RUN(test_env_wins_over_settings);
    UNIT_RUN(test_disabled_by_setting);
    UNIT_RUN(test_functions_allow_list);
    UNIT_RUN(test_log_level_error);
    UNIT_RUN(test_host_overrides_from_env);
    UNIT_RUN(test_missing_script_file);
    UNIT_RUN(test_broken_host_json_keeps_defaults);
    UNIT_RUN(test_wrong_types_at_known_keys);
    UNIT_RUN(test_function_json_odd_values);
    UNIT_RUN(test_trailing_comma_one_line_everywhere);
    UNIT_RUN(test_json_error_positions);
    UNIT_RUN(test_json_depth_and_long_numbers);
    UNIT_RUN(test_nul_in_strings_refused);
    UNIT_RUN(test_local_settings_unusable_is_fatal);
    UNIT_RUN(test_local_settings_keys_case_insensitive);
    UNIT_RUN(test_settings_parse_from_memory);
    UNIT_RUN(test_timespan_overflow);
    UNIT_RUN(test_timeouts_out_of_range);
    UNIT_RUN(test_kestrel_numbers_validated);
    UNIT_RUN(test_custom_headers_validated);
    UNIT_RUN(test_messages_stay_on_one_line);
    UNIT_RUN(test_function_json_typos_warn);
    UNIT_RUN(test_host_json_typos_warn);
    UNIT_RUN(test_retry_policies);
    UNIT_RUN(test_retry_delays);
    UNIT_END();
}
