/* test-config.c: unit tests of the function app loader (host/src/app.c,
 * settings.c): every config problem gives its exact sentence, and good
 * config loads into the expected model. Apps are written to temp folders. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app.h"
#include "http_router.h"
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

static fnh__app *load(void)
{
    fnh__app_options o = {.root = g_root, .load_code = 0};
    fnh__app *app = NULL;
    CHECK(fnh__app_load(&o, &app) == 0);
    return app;
}

static void cleanup(fnh__app *app)
{
    fnh__app_free(app);
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
    CHECK_STR(app->route_prefix, "api");
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
    CHECK_STR(items->route_full, "items/{id:int}");
    CHECK(items->methods == FNH__M_ALL);
    CHECK_STR(fnh__app_find(app, "plain")->route_full, "plain");
    fnh__route_match m = {0};
    CHECK(fnh__router_match(app->router, FNH__M_GET, "/items/42", 9, &m) == 1);
    CHECK(m.target == items);
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
    CHECK_STR(first_error(app, "q"),
              "q/function.json: bindings[0].type: 'queueTriger' is not an installed binding "
              "type; installed types are httpTrigger, http, timerTrigger. Install an extension "
              "that provides it (see docs/extension-abi.md)");
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
    CHECK_STR(fnh__app_find(app, "ok")->route, "from-settings/{id}");
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
    fnh__route_match m = {0};
    CHECK(fnh__router_match(app->router, FNH__M_GET, "/api/offOne", 11, &m) == 0);
    CHECK(fnh__router_match(app->router, FNH__M_GET, "/api/onThree", 12, &m) == 1);
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
    CHECK_STR(app->route_prefix, "v1");
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
    UNIT_END();
}
